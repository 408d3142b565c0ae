//! [`BufferError`] and the [`Side`] of a buffer.

use std::fmt;
use std::io;

/// One end of a [`Buffer`](super::Buffer): where data is removed (`Front`)
/// or where it is added (`Back`). Used by [`Buffer::freeze`](super::Buffer::freeze).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The start of the buffer: drain, remove, readln, prepend, write out.
    Front,
    /// The end of the buffer: add, add_buffer, reserve/commit, read in.
    Back,
}

/// Why a [`Buffer`](super::Buffer) operation was refused.
///
/// A refused operation leaves the buffer exactly as it was (except where a
/// method's documentation says otherwise). Converts into [`io::Error`]
/// (the original error stays reachable through
/// [`io::Error::get_ref`]), so `?` works in functions returning
/// `io::Result`.
///
/// ```
/// use runtime::io::{Buffer, BufferError, Side};
///
/// let mut buf = Buffer::new();
/// buf.freeze(Side::Back, true);
/// assert!(matches!(buf.add(b"x"), Err(BufferError::Frozen(Side::Back))));
/// let e: std::io::Error = buf.add(b"x").unwrap_err().into();
/// assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied);
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum BufferError {
    /// That end of the buffer is frozen ([`Buffer::freeze`](super::Buffer::freeze)).
    Frozen(Side),
    /// The result would exceed the buffer's
    /// [`max_size`](super::Buffer::max_size) (at most `isize::MAX`), overflow
    /// `usize`, or the memory could not be allocated.
    TooLarge,
    /// [`readln_max`](super::Buffer::readln_max): no end of line within the
    /// allowed line length.
    LineTooLong,
    /// A position or length beyond the data in the buffer (or in a file
    /// segment).
    OutOfRange,
    /// [`commit`](super::Buffer::commit) of more bytes than the last
    /// [`reserve`](super::Buffer::reserve) handed out, or after the
    /// reservation was cancelled by another change to the buffer.
    InvalidCommit,
    /// Reading a file segment failed (or the file is shorter than the
    /// segment).
    Io(io::Error),
}

impl fmt::Display for BufferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BufferError::Frozen(Side::Front) => f.write_str("buffer front is frozen"),
            BufferError::Frozen(Side::Back) => f.write_str("buffer back is frozen"),
            BufferError::TooLarge => f.write_str("buffer size limit exceeded"),
            BufferError::LineTooLong => f.write_str("line too long"),
            BufferError::OutOfRange => f.write_str("position out of range"),
            BufferError::InvalidCommit => f.write_str("commit exceeds the reserved space"),
            BufferError::Io(e) => write!(f, "file segment I/O error: {e}"),
        }
    }
}

impl std::error::Error for BufferError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BufferError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for BufferError {
    fn from(e: io::Error) -> Self {
        BufferError::Io(e)
    }
}

impl From<BufferError> for io::Error {
    fn from(e: BufferError) -> Self {
        let kind = match e {
            BufferError::Io(inner) => return inner,
            BufferError::Frozen(_) => io::ErrorKind::PermissionDenied,
            BufferError::TooLarge => io::ErrorKind::OutOfMemory,
            BufferError::LineTooLong => io::ErrorKind::InvalidData,
            BufferError::OutOfRange | BufferError::InvalidCommit => io::ErrorKind::InvalidInput,
        };
        io::Error::new(kind, e)
    }
}
