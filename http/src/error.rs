//! The crate's error type.

use http::StatusCode;
use std::fmt;
use std::io;

/// What went wrong in an HTTP exchange.
///
/// Protocol errors carry the status a server answers them with
/// ([`Error::status`]); I/O errors keep the `io::Error`.
#[derive(Debug)]
pub enum Error {
    /// The socket failed (reset, broken pipe, ...).
    Io(io::Error),
    /// A timeout expired; the string says which one.
    Timeout(&'static str),
    /// The peer closed the connection before the message was complete.
    ConnectionClosed,
    /// A message head or body broke the protocol; the status is the one a
    /// server answers with (400, 413, 414, 431, 501 ...) and the string
    /// says why.
    Protocol(StatusCode, &'static str),
    /// A body was larger than the configured limit.
    BodyTooLarge,
    /// A URI, header or request could not be built or parsed.
    Invalid(String),
    /// The client could not resolve the host name (the resolver's typed
    /// error: [`NxDomain`](runtime_dns::Error::NxDomain), a timeout ...).
    Resolve(runtime_dns::Error),
}

impl Error {
    /// The status a server answers this error with.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::Protocol(s, _) => *s,
            Error::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            Error::Invalid(_) => StatusCode::BAD_REQUEST,
            Error::Io(_) | Error::ConnectionClosed => StatusCode::BAD_REQUEST,
            // A proxy that cannot resolve its upstream answers 502.
            Error::Resolve(_) => StatusCode::BAD_GATEWAY,
        }
    }

    pub(crate) fn bad(why: &'static str) -> Error {
        Error::Protocol(StatusCode::BAD_REQUEST, why)
    }

    /// Turns an I/O error from a timed stream into `Timeout` when it is one.
    pub(crate) fn from_io(e: io::Error, what: &'static str) -> Error {
        match e.kind() {
            io::ErrorKind::TimedOut => Error::Timeout(what),
            io::ErrorKind::UnexpectedEof => Error::ConnectionClosed,
            _ => Error::Io(e),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::Timeout(what) => write!(f, "{what} timed out"),
            Error::ConnectionClosed => {
                f.write_str("connection closed before the message was complete")
            }
            Error::Protocol(s, why) => write!(f, "{why} ({s})"),
            Error::BodyTooLarge => f.write_str("body larger than the limit"),
            Error::Invalid(why) => write!(f, "invalid: {why}"),
            Error::Resolve(e) => write!(f, "cannot resolve the host: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Resolve(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::from_io(e, "I/O")
    }
}

impl From<runtime_io::BufferError> for Error {
    fn from(e: runtime_io::BufferError) -> Error {
        Error::Io(e.into())
    }
}

impl From<http::Error> for Error {
    fn from(e: http::Error) -> Error {
        Error::Invalid(e.to_string())
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        match e {
            Error::Io(e) => e,
            Error::Timeout(_) => io::Error::new(io::ErrorKind::TimedOut, e.to_string()),
            Error::ConnectionClosed => io::Error::new(io::ErrorKind::UnexpectedEof, e.to_string()),
            Error::Resolve(e) => e.into(),
            other => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
        }
    }
}

/// Results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
