//! Buffered I/O for `runtime`: [`Buffer`], a chain of chunks that does what
//! libevent's `evbuffer` does — appends without reallocating, zero-copy moves
//! between buffers, data added by reference, file segments sent with
//! `sendfile(2)`, line reading in every libevent end-of-line style, searches
//! across chunk boundaries, and socket I/O with one `writev`/`readv` per call.
//!
//! ```
//! use runtime_io::{Buffer, Eol};
//! use std::fmt::Write as _;
//!
//! let mut buf = Buffer::new();
//! buf.add(b"GET / HTTP/1.1\r\n")?;
//! write!(buf, "Host: {}\r\n\r\n", "example.org").unwrap();
//! assert_eq!(buf.readln(Eol::CrlfStrict)?.as_deref(), Some(&b"GET / HTTP/1.1"[..]));
//! assert_eq!(buf.readln(Eol::CrlfStrict)?.as_deref(), Some(&b"Host: example.org"[..]));
//! assert_eq!(buf.readln(Eol::CrlfStrict)?.as_deref(), Some(&b""[..]));
//! assert!(buf.is_empty());
//! # Ok::<(), runtime_io::BufferError>(())
//! ```

#![warn(missing_docs)]

pub mod buffer;

pub use buffer::{
    Buffer, BufferChange, BufferError, CallbackId, Eol, FileSegment, Peek, Segment, Shared, Side,
};
