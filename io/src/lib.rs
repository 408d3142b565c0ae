//! Buffered I/O for `runtime`: [`Buffer`], a chain of chunks that does what
//! libevent's `evbuffer` does — appends without reallocating, zero-copy moves
//! between buffers, data added by reference, file segments sent with
//! `sendfile(2)`, line reading in every libevent end-of-line style, searches
//! across chunk boundaries, and socket I/O with one `writev`/`readv` per call.
//!
//! ```
//! use runtime::io::{Buffer, Eol};
//! use std::fmt::Write as _;
//!
//! let mut buf = Buffer::new();
//! buf.add(b"GET / HTTP/1.1\r\n")?;
//! write!(buf, "Host: {}\r\n\r\n", "example.org").unwrap();
//! assert_eq!(buf.readln(Eol::CrlfStrict)?.as_deref(), Some(&b"GET / HTTP/1.1"[..]));
//! assert_eq!(buf.readln(Eol::CrlfStrict)?.as_deref(), Some(&b"Host: example.org"[..]));
//! assert_eq!(buf.readln(Eol::CrlfStrict)?.as_deref(), Some(&b""[..]));
//! assert!(buf.is_empty());
//! # Ok::<(), runtime::io::BufferError>(())
//! ```

//!
//! # For stream implementations
//!
//! - Reading in: [`Buffer::reserve`] hands out writable space at the tail
//!   (zeroed once, reused while not committed) for an `AsyncRead`'s
//!   `poll_read`, then [`Buffer::commit`] appends what was read — no copy.
//!   On a raw descriptor, [`Buffer::read_from`] does one `readv` into the
//!   tail's free space plus a new chunk.
//! - Writing out: [`Buffer::fill_io_slices`] / [`Buffer::io_slices`] give the
//!   in-memory chunks for `poll_write_vectored`, then [`Buffer::drain`]; on a
//!   raw descriptor [`Buffer::write_to`] does one `writev` over up to 1024
//!   chunks, or `sendfile` for a file segment at the front.
//! - Framing: [`Buffer::search_eol`], [`Buffer::readln_max`] (typed
//!   [`BufferError::LineTooLong`]), [`Buffer::search_range`] all work across
//!   chunk boundaries; [`Buffer::pullup`] makes a header contiguous.
//! - Watermarks and wake-ups: [`Buffer::on_change`] callbacks and
//!   [`Buffer::counters`]; [`Buffer::freeze`] to fence one end while I/O is
//!   in flight.

#![warn(missing_docs)]

pub mod buffer;
pub mod stdio;
pub mod stream;

pub use buffer::{
    Buffer, BufferChange, BufferError, CallbackId, Eol, FileSegment, Peek, Segment, Shared, Side,
};
/// The I/O traits [`BufferedStream`] implements (re-exported from
/// `futures-io`).
pub use futures_io::{AsyncBufRead, AsyncRead, AsyncWrite};
pub use stdio::{stderr, stdin, stdout, Stderr, Stdin, Stdout};
pub use stream::{
    pair, pair_with_capacity, BufferedReader, BufferedStream, BufferedWriter, DeadlineTimer,
    Filter, FilterResult, Filtered, FlushMode, IdleTimer, Lines, PairEnd, Passthrough, RateLimit,
    RateLimitGroup, ReadOnly, Transport, Watermarks, WriteOnly,
};
