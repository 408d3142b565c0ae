//! Loading certificate chains and private keys from PEM files.

use crate::error::TlsError;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::io;
use std::path::Path;

fn pem_error(path: &Path, e: impl std::fmt::Display) -> io::Error {
    TlsError::Pem {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
    .into()
}

/// Every certificate in a PEM file, in file order (leaf first for a chain).
/// An error if the file cannot be read, is malformed or holds none.
pub fn load_certs(path: impl AsRef<Path>) -> io::Result<Vec<CertificateDer<'static>>> {
    let path = path.as_ref();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, e))?;
    if certs.is_empty() {
        return Err(TlsError::Empty {
            path: path.display().to_string(),
            what: "certificate",
        }
        .into());
    }
    Ok(certs)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) in a PEM file.
pub fn load_private_key(path: impl AsRef<Path>) -> io::Result<PrivateKeyDer<'static>> {
    let path = path.as_ref();
    PrivateKeyDer::from_pem_file(path).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => TlsError::Empty {
            path: path.display().to_string(),
            what: "private key",
        }
        .into(),
        e => pem_error(path, e),
    })
}
