//! The server side's configuration: certificates (one default, others by
//! SNI), ALPN, optional client certificates.

use crate::error::TlsError;
use crate::pem::{load_certs, load_private_key};
use futures_rustls::rustls;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::sync::Arc;

/// A server's TLS configuration, cheap to clone (an `Arc` of rustls').
#[derive(Clone, Debug)]
pub struct ServerConfig {
    inner: Arc<rustls::ServerConfig>,
}

impl ServerConfig {
    /// A builder: give at least one certificate, then [`ServerConfigBuilder::build`].
    pub fn builder() -> ServerConfigBuilder {
        ServerConfigBuilder::default()
    }

    /// A configuration from a certificate chain and key in PEM files, no ALPN.
    pub fn from_pem_files(cert: impl AsRef<Path>, key: impl AsRef<Path>) -> io::Result<Self> {
        Self::builder().cert_pem_files(cert, key)?.build()
    }

    /// Wraps a rustls configuration built by hand.
    pub fn from_rustls(inner: Arc<rustls::ServerConfig>) -> Self {
        ServerConfig { inner }
    }

    /// The rustls configuration.
    pub fn rustls(&self) -> &Arc<rustls::ServerConfig> {
        &self.inner
    }

    /// The ALPN protocols offered, most preferred first.
    pub fn alpn_protocols(&self) -> &[Vec<u8>] {
        &self.inner.alpn_protocols
    }
}

/// Builds a [`ServerConfig`].
#[derive(Default)]
pub struct ServerConfigBuilder {
    default_cert: Option<Arc<CertifiedKey>>,
    by_name: HashMap<String, Arc<CertifiedKey>>,
    alpn: Vec<Vec<u8>>,
    client_roots: Option<(rustls::RootCertStore, bool)>,
}

fn certified_key(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> io::Result<Arc<CertifiedKey>> {
    let signing = crate::provider()
        .key_provider
        .load_private_key(key)
        .map_err(TlsError::from)?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(TlsError::from)?;
    Ok(Arc::new(certified))
}

impl ServerConfigBuilder {
    /// The certificate chain (leaf first) and private key served by default
    /// (when no SNI name matches one given to [`Self::sni_cert`]).
    pub fn cert(
        mut self,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> io::Result<Self> {
        self.default_cert = Some(certified_key(chain, key)?);
        Ok(self)
    }

    /// [`Self::cert`] from PEM files.
    pub fn cert_pem_files(self, cert: impl AsRef<Path>, key: impl AsRef<Path>) -> io::Result<Self> {
        let chain = load_certs(cert)?;
        let key = load_private_key(key)?;
        self.cert(chain, key)
    }

    /// A certificate served to clients that ask for `name` by SNI
    /// (exact match, case-insensitive).
    pub fn sni_cert(
        mut self,
        name: &str,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> io::Result<Self> {
        self.by_name
            .insert(name.to_ascii_lowercase(), certified_key(chain, key)?);
        Ok(self)
    }

    /// [`Self::sni_cert`] from PEM files.
    pub fn sni_cert_pem_files(
        self,
        name: &str,
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> io::Result<Self> {
        let chain = load_certs(cert)?;
        let key = load_private_key(key)?;
        self.sni_cert(name, chain, key)
    }

    /// The ALPN protocols offered, most preferred first (e.g. `b"http/1.1"`).
    pub fn alpn(mut self, protocols: &[&[u8]]) -> Self {
        self.alpn = protocols.iter().map(|p| p.to_vec()).collect();
        self
    }

    /// Ask clients for a certificate signed by one of the CAs in `ca_file`
    /// (PEM); `required` refuses clients without one.
    pub fn client_auth_pem_file(
        mut self,
        ca_file: impl AsRef<Path>,
        required: bool,
    ) -> io::Result<Self> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in load_certs(ca_file)? {
            roots.add(cert).map_err(TlsError::from)?;
        }
        self.client_roots = Some((roots, required));
        Ok(self)
    }

    /// The configuration. An error without any certificate.
    pub fn build(self) -> io::Result<ServerConfig> {
        if self.default_cert.is_none() && self.by_name.is_empty() {
            return Err(TlsError::Empty {
                path: "ServerConfig".into(),
                what: "certificate",
            }
            .into());
        }
        let builder = rustls::ServerConfig::builder_with_provider(crate::provider())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::from)?;
        let builder = match self.client_roots {
            None => builder.with_no_client_auth(),
            Some((roots, required)) => {
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), crate::provider());
                let verifier = if required {
                    verifier
                } else {
                    verifier.allow_unauthenticated()
                };
                let verifier = verifier.build().map_err(|e| {
                    TlsError::Rustls(rustls::Error::General(format!("client verifier: {e}")))
                })?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder.with_cert_resolver(Arc::new(Resolver {
            default: self.default_cert,
            by_name: self.by_name,
        }));
        config.alpn_protocols = self.alpn;
        Ok(ServerConfig {
            inner: Arc::new(config),
        })
    }
}

/// Picks the certificate by SNI name, else the default.
#[derive(Debug)]
struct Resolver {
    default: Option<Arc<CertifiedKey>>,
    by_name: HashMap<String, Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        hello
            .server_name()
            .and_then(|name| self.by_name.get(&name.to_ascii_lowercase()))
            .or(self.default.as_ref())
            .cloned()
    }
}
