//! The errors this crate adds to rustls' own.

use std::fmt;
use std::io;

/// The peer closed the connection without a TLS `close_notify`: the data
/// read so far may have been cut by an attacker. Carried inside an
/// [`io::Error`] of kind `UnexpectedEof`; test with [`Truncated::is`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncated;

impl fmt::Display for Truncated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TLS stream truncated: peer closed the connection without close_notify")
    }
}

impl std::error::Error for Truncated {}

impl Truncated {
    /// Whether `err` reports a truncated TLS stream.
    pub fn is(err: &io::Error) -> bool {
        err.get_ref()
            .is_some_and(|inner| inner.downcast_ref::<Truncated>().is_some())
    }

    pub(crate) fn into_io(self) -> io::Error {
        io::Error::new(io::ErrorKind::UnexpectedEof, self)
    }
}

/// A configuration error: a file that does not hold what it should, or a
/// combination rustls refuses. Carried inside an [`io::Error`] of kind
/// `InvalidInput` by the builders.
#[derive(Debug)]
pub enum TlsError {
    /// A PEM file could not be read or parsed.
    Pem {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The PEM file holds no item of the kind wanted.
    Empty {
        /// The file.
        path: String,
        /// What was looked for ("certificate", "private key").
        what: &'static str,
    },
    /// rustls refused the configuration (bad key, no usable roots …).
    Rustls(futures_rustls::rustls::Error),
    /// A name that is not a valid DNS name or IP address.
    InvalidName(String),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Pem { path, reason } => write!(f, "{path}: {reason}"),
            TlsError::Empty { path, what } => write!(f, "{path}: no {what} found"),
            TlsError::Rustls(e) => write!(f, "TLS configuration: {e}"),
            TlsError::InvalidName(n) => write!(f, "invalid server name {n:?}"),
        }
    }
}

impl std::error::Error for TlsError {}

impl From<TlsError> for io::Error {
    fn from(e: TlsError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidInput, e)
    }
}

impl From<futures_rustls::rustls::Error> for TlsError {
    fn from(e: futures_rustls::rustls::Error) -> TlsError {
        TlsError::Rustls(e)
    }
}
