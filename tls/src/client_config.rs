//! The client side's configuration: trusted roots, ALPN, a client certificate.

use crate::error::TlsError;
use crate::pem::{load_certs, load_private_key};
use futures_rustls::rustls;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::io;
use std::path::Path;
use std::sync::Arc;

/// A client's TLS configuration, cheap to clone (an `Arc` of rustls').
#[derive(Clone, Debug)]
pub struct ClientConfig {
    inner: Arc<rustls::ClientConfig>,
}

impl ClientConfig {
    /// A builder. Without any root given, the system's roots are trusted.
    pub fn builder() -> ClientConfigBuilder {
        ClientConfigBuilder::default()
    }

    /// A configuration trusting the system's roots (the files under
    /// `/etc/ssl`, as `openssl` finds them), no ALPN.
    pub fn with_system_roots() -> io::Result<Self> {
        Self::builder().system_roots()?.build()
    }

    /// Wraps a rustls configuration built by hand.
    pub fn from_rustls(inner: Arc<rustls::ClientConfig>) -> Self {
        ClientConfig { inner }
    }

    /// The rustls configuration.
    pub fn rustls(&self) -> &Arc<rustls::ClientConfig> {
        &self.inner
    }
}

/// Builds a [`ClientConfig`].
pub struct ClientConfigBuilder {
    roots: rustls::RootCertStore,
    any_root: bool,
    alpn: Vec<Vec<u8>>,
    client_cert: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
}

impl Default for ClientConfigBuilder {
    fn default() -> Self {
        ClientConfigBuilder {
            roots: rustls::RootCertStore::empty(),
            any_root: false,
            alpn: Vec::new(),
            client_cert: None,
        }
    }
}

impl ClientConfigBuilder {
    /// Trust the CA certificates in a PEM file.
    pub fn ca_file(mut self, path: impl AsRef<Path>) -> io::Result<Self> {
        for cert in load_certs(path)? {
            self.roots.add(cert).map_err(TlsError::from)?;
        }
        self.any_root = true;
        Ok(self)
    }

    /// Trust one CA certificate.
    pub fn ca_cert(mut self, cert: CertificateDer<'static>) -> io::Result<Self> {
        self.roots.add(cert).map_err(TlsError::from)?;
        self.any_root = true;
        Ok(self)
    }

    /// Trust the system's roots. Certificates that fail to parse are
    /// skipped; an error if none loads.
    pub fn system_roots(mut self) -> io::Result<Self> {
        let found = rustls_native_certs::load_native_certs();
        let (added, _ignored) = self.roots.add_parsable_certificates(found.certs);
        if added == 0 {
            return Err(TlsError::Empty {
                path: "system trust store".into(),
                what: "certificate",
            }
            .into());
        }
        self.any_root = true;
        Ok(self)
    }

    /// The ALPN protocols offered, most preferred first.
    pub fn alpn(mut self, protocols: &[&[u8]]) -> Self {
        self.alpn = protocols.iter().map(|p| p.to_vec()).collect();
        self
    }

    /// A client certificate chain and key, sent when the server asks.
    pub fn client_cert(
        mut self,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Self {
        self.client_cert = Some((chain, key));
        self
    }

    /// [`Self::client_cert`] from PEM files.
    pub fn client_cert_pem_files(
        self,
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> io::Result<Self> {
        let chain = load_certs(cert)?;
        let key = load_private_key(key)?;
        Ok(self.client_cert(chain, key))
    }

    /// The configuration.
    pub fn build(mut self) -> io::Result<ClientConfig> {
        if !self.any_root {
            self = self.system_roots()?;
        }
        let builder = rustls::ClientConfig::builder_with_provider(crate::provider())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::from)?
            .with_root_certificates(self.roots);
        let mut config = match self.client_cert {
            None => builder.with_no_client_auth(),
            Some((chain, key)) => builder
                .with_client_auth_cert(chain, key)
                .map_err(TlsError::from)?,
        };
        config.alpn_protocols = self.alpn;
        Ok(ClientConfig {
            inner: Arc::new(config),
        })
    }
}
