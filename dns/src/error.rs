//! [`Error`]: why a lookup failed.

use crate::wire::{Rcode, WireError};
use std::fmt;
use std::io;

/// Why a DNS lookup failed. The variants tell apart what callers act on
/// differently: the name does not exist ([`Error::NxDomain`]), it exists
/// without records of that type ([`Error::NoData`]), the server failed or
/// refused, nobody answered in time, or the answer was malformed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The name does not exist (NXDOMAIN).
    NxDomain,
    /// The name exists but has no records of the type asked for.
    NoData,
    /// The server failed (SERVFAIL).
    ServerFailure,
    /// The server refused to answer (REFUSED).
    Refused,
    /// Another response code (FORMERR, NOTIMP, …).
    Rcode(Rcode),
    /// No nameserver answered within timeout × attempts.
    Timeout,
    /// A reply from the queried server, with the query's id, could not be
    /// read.
    Malformed(WireError),
    /// The request was cancelled ([`Resolver::shutdown`](crate::Resolver::shutdown)).
    Cancelled,
    /// The name given is not a valid domain name.
    InvalidName(WireError),
    /// The resolver has no nameserver configured.
    NoNameservers,
    /// A socket error.
    Io(io::Error),
}

impl Error {
    /// Whether the error says the name or its data does not exist (as
    /// opposed to a failure to find out).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NxDomain | Error::NoData)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NxDomain => f.write_str("name does not exist (NXDOMAIN)"),
            Error::NoData => f.write_str("no records of the requested type"),
            Error::ServerFailure => f.write_str("server failure (SERVFAIL)"),
            Error::Refused => f.write_str("query refused (REFUSED)"),
            Error::Rcode(r) => write!(f, "server answered with response code {}", r.0),
            Error::Timeout => f.write_str("no answer from any nameserver (timed out)"),
            Error::Malformed(e) => write!(f, "malformed reply: {e}"),
            Error::Cancelled => f.write_str("request cancelled"),
            Error::InvalidName(e) => write!(f, "invalid name: {e}"),
            Error::NoNameservers => f.write_str("no nameservers configured"),
            Error::Io(e) => write!(f, "I/O error: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Malformed(e) | Error::InvalidName(e) => Some(e),
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        let kind = match &e {
            Error::NxDomain | Error::NoData => io::ErrorKind::NotFound,
            Error::Timeout => io::ErrorKind::TimedOut,
            Error::InvalidName(_) => io::ErrorKind::InvalidInput,
            Error::Io(e) => e.kind(),
            _ => io::ErrorKind::Other,
        };
        match e {
            Error::Io(e) => e,
            e => io::Error::new(kind, e),
        }
    }
}
