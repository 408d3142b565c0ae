//! [`BufferedStream`]: libevent's bufferevent as a `futures-io` stream.
//!
//! A buffered stream owns an inner stream (a [`Transport`]: any
//! `AsyncRead + AsyncWrite + Unpin`, one end of a [`pair`], or a
//! [`Filtered`] stream) and two [`Buffer`]s:
//!
//! - reading fills the **input** buffer, one read of at most 16 KiB at a
//!   time, straight into the buffer's free space (no extra copy), and stops
//!   at the read high watermark;
//! - writing appends to the **output** buffer, and flushing sends it with
//!   one vectored write (`writev`) over the buffer's chunks per system call
//!   — or `sendfile(2)` for file segments when enabled.
//!
//! On top: watermarks ([`Watermarks`]), idle timeouts per direction
//! ([`set_timeouts`](BufferedStream::set_timeouts)), line reading with a
//! bounded line length ([`read_line`](BufferedStream::read_line), or
//! [`read_line_into`](BufferedStream::read_line_into) to reuse one vector
//! for every line), token
//! bucket rate limits per stream and per group ([`RateLimit`],
//! [`RateLimitGroup`]), filters ([`Filter`]) and in-memory pairs
//! ([`pair`]).
//!
//! The stream does nothing on its own: bytes move while one of its
//! futures or poll methods runs (a read fills the input, a
//! [`flush`](BufferedStream::flush) drains the output). That is the
//! difference from a callback bufferevent, which the event loop drives.
//!
//! ```
//! use runtime::io::{pair, BufferedStream, Eol};
//!
//! runtime::block_on(async {
//!     let (mut client, mut server) = pair();
//!     // A line server: answers every line with its length.
//!     let task = runtime::spawn(async move {
//!         while let Some(line) = server.read_line(Eol::CrlfStrict).await? {
//!             server.write_all(format!("{}\r\n", line.len()).as_bytes()).await?;
//!             server.flush().await?;
//!         }
//!         server.finish().await
//!     });
//!     client.write_all(b"hello\r\nworld!\r\n").await?;
//!     client.finish().await?;
//!     assert_eq!(client.read_line(Eol::CrlfStrict).await?.unwrap(), b"5");
//!     assert_eq!(client.read_line(Eol::CrlfStrict).await?.unwrap(), b"6");
//!     assert_eq!(client.read_line(Eol::CrlfStrict).await?, None);
//!     task.await.unwrap()
//! })
//! .unwrap();
//! ```
//!
//! # The `_into` rule
//!
//! Every `_into` method of this crate
//! ([`Buffer::readln_into`](crate::Buffer::readln_into),
//! [`Buffer::readln_max_into`](crate::Buffer::readln_max_into) and the
//! `*_into` line readers of [`BufferedStream`])
//! **appends** the line to the vector, as std's `BufRead::read_line` and
//! `BufRead::read_until` do, and never clears it: clear it yourself
//! between lines (the capacity stays, so a loop allocates nothing once it
//! is large enough). `Some(n)` means `n` bytes were appended; on `None`,
//! on `Pending` and on every error the vector is left exactly as it was.
//!
//! # Parts
//!
//! - this file: the [`BufferedStream`] type, its construction and access
//!   to its buffers and inner stream;
//! - `transport`: the [`Transport`] trait (how bytes move between the
//!   buffers and the stream beneath) and its implementation for every
//!   `AsyncRead + AsyncWrite`;
//! - `config`: settings — watermarks, timeouts, line bound, per-call caps,
//!   rate limits, `sendfile`;
//! - `fill`: the read side (filling the input from the inner stream);
//! - `lines`: the line readers — one core reader under every `read_line*`
//!   and `read_until*` variant, and the rule for their `_into` forms;
//! - `flush`: the write side (buffering, flushing, finishing);
//! - `io_traits`: `AsyncRead`, `AsyncBufRead` and `AsyncWrite`;
//! - `watermarks`, `timeouts`, `ratelimit`, `filter`, `pair`: the
//!   bufferevent features, each in its own file.
//!
//! # Invariants
//!
//! - A read from the inner stream never takes the input past the read high
//!   watermark (when set) or the input's `max_size`: each read asks for at
//!   most the room left, and none is attempted when there is none.
//! - End of stream is sticky: once the inner stream reported it, no read
//!   is attempted again.
//! - The write half goes `Open` → `Finishing` → `Closed` and never back;
//!   writes are refused once it has left `Open`.
//! - The line readers take complete lines only, of at most
//!   [`max_line`](BufferedStream::max_line) bytes; on every error
//!   (line too long, end of stream mid-line, timeout) the bytes stay in
//!   the input.

mod config;
mod fill;
mod filter;
mod flush;
mod io_traits;
mod lines;
mod pair;
mod ratelimit;
mod reader;
mod timeouts;
mod transport;
mod watermarks;

pub use filter::{Filter, FilterResult, Filtered, FlushMode, Passthrough};
pub use pair::{pair, pair_with_capacity, PairEnd, PAIR_CAPACITY};
pub use ratelimit::{RateLimit, RateLimitGroup};
pub use reader::{BufferedReader, BufferedWriter, Lines, ReadOnly, WriteOnly};
pub use timeouts::{DeadlineTimer, IdleTimer};
pub use transport::Transport;
pub use watermarks::Watermarks;

use crate::Buffer;
use ratelimit::Limiter;
use std::fmt;
use std::io;

/// Default most bytes read from the inner stream per read: 16 KiB, like
/// libevent's bufferevents (`MAX_SINGLE_READ_DEFAULT`).
pub const DEFAULT_MAX_SINGLE_READ: usize = 16 * 1024;

/// Default maximum line length for
/// [`read_line`](BufferedStream::read_line) and
/// [`read_until`](BufferedStream::read_until): 16 KiB, the `MAX_LINE` of
/// libevent's ROT13 example.
pub const DEFAULT_MAX_LINE: usize = 16 * 1024;

/// Output size at which
/// [`AsyncWrite::poll_write`](futures_io::AsyncWrite::poll_write) flushes before it
/// buffers more, so writing through the trait cannot grow the output
/// without bound.
pub const OUTPUT_SOFT_LIMIT: usize = 64 * 1024;

/// What one read attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fill {
    /// Bytes were added to the input.
    Read(usize),
    /// The inner stream is at its end.
    Eof,
    /// The input is at its high watermark (or its size limit): nothing was
    /// read.
    Full,
}

/// Where the write half is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteState {
    Open,
    /// The final flush ran; the inner stream is being shut down.
    Finishing,
    Closed,
}

/// `sendfile(2)` for file segments at the front of the output: writes from
/// the buffer straight to the inner stream's descriptor.
type SendfileFn<S> = fn(&mut Buffer, &S, usize) -> io::Result<usize>;

/// A buffered stream: libevent's bufferevent as a `futures-io` stream.
///
/// Wraps an inner stream `S` (any `AsyncRead + AsyncWrite + Unpin` — for
/// example a `runtime::net::TcpStream` — or a [`pair`] end, or a
/// [`Filtered`] stream) with an input and an output [`Buffer`]. It
/// implements [`AsyncRead`](futures_io::AsyncRead),
/// [`AsyncBufRead`](futures_io::AsyncBufRead) and
/// [`AsyncWrite`](futures_io::AsyncWrite), and has
/// the bufferevent features as methods: watermarks, read and write
/// timeouts, line reading with a length limit, rate limits, flush and
/// finish. See the [module documentation](self) for an overview.
///
/// ```
/// use runtime::io::{BufferedStream, Eol, Watermarks};
/// use std::time::Duration;
///
/// runtime::block_on(async {
///     let (mut a, b) = runtime::io::pair();
///     let mut b: BufferedStream<_> = b; // any transport works the same way
///     b.set_watermarks(Watermarks { read_high: 64 * 1024, ..Watermarks::default() });
///     b.set_timeouts(Some(Duration::from_secs(30)), Some(Duration::from_secs(30)));
///     a.output_mut().add(b"GET / HTTP/1.0\r\n\r\n")?; // like bufferevent_write
///     a.flush().await?;
///     assert_eq!(b.read_line(Eol::CrlfStrict).await?.unwrap(), b"GET / HTTP/1.0");
///     assert_eq!(b.read_line(Eol::CrlfStrict).await?.unwrap(), b"");
///     Ok::<(), std::io::Error>(())
/// })
/// .unwrap();
/// ```
// In declaration order (`repr(C)`): the stream and the output buffer, which
// every write path reads, first (see `http`'s connection for why).
#[repr(C)]
pub struct BufferedStream<S> {
    inner: S,
    output: Buffer,
    input: Buffer,
    marks: Watermarks,
    max_read: usize,
    max_write: usize,
    max_line: usize,
    eof: bool,
    write_state: WriteState,
    read_timer: IdleTimer,
    write_timer: IdleTimer,
    limiter: Option<Box<Limiter>>,
    sendfile: Option<SendfileFn<S>>,
}

impl<S: fmt::Debug> fmt::Debug for BufferedStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufferedStream")
            .field("inner", &self.inner)
            .field("input", &self.input.len())
            .field("output", &self.output.len())
            .field("watermarks", &self.marks)
            .field("eof", &self.eof)
            .finish_non_exhaustive()
    }
}

impl<S> BufferedStream<S> {
    /// A buffered stream over `inner`, with empty buffers, no watermarks,
    /// no timeouts, no rate limits, reads of up to 16 KiB and lines of up
    /// to 16 KiB (`bufferevent_socket_new`).
    pub fn new(inner: S) -> BufferedStream<S> {
        BufferedStream {
            inner,
            input: Buffer::new(),
            output: Buffer::new(),
            marks: Watermarks::default(),
            max_read: DEFAULT_MAX_SINGLE_READ,
            max_write: usize::MAX,
            max_line: DEFAULT_MAX_LINE,
            eof: false,
            write_state: WriteState::Open,
            read_timer: IdleTimer::default(),
            write_timer: IdleTimer::default(),
            limiter: None,
            sendfile: None,
        }
    }

    /// The input buffer: bytes read and not yet consumed
    /// (`bufferevent_get_input`).
    pub fn input(&self) -> &Buffer {
        &self.input
    }

    /// The input buffer, mutably: take bytes with its own methods
    /// (`readln`, `remove`, `remove_buffer`, `drain` …).
    pub fn input_mut(&mut self) -> &mut Buffer {
        &mut self.input
    }

    /// The output buffer: bytes written and not yet flushed
    /// (`bufferevent_get_output`).
    pub fn output(&self) -> &Buffer {
        &self.output
    }

    /// The output buffer, mutably: add bytes with its own methods (`add`,
    /// `add_reference`, `add_file`, `add_buffer`, `write!` …), then
    /// [`flush`](BufferedStream::flush).
    ///
    /// ```
    /// use std::fmt::Write as _;
    ///
    /// let (mut a, _b) = runtime::io::pair();
    /// write!(a.output_mut(), "HTTP/1.1 {} {}\r\n", 200, "OK").unwrap();
    /// a.output_mut().add_reference(&b"static body"[..])?;
    /// assert_eq!(a.output().len(), 28);
    /// # Ok::<(), runtime::io::BufferError>(())
    /// ```
    pub fn output_mut(&mut self) -> &mut Buffer {
        &mut self.output
    }

    /// Both buffers at once: `(input, output)` — for moving data from one
    /// to the other without copying (an echo with
    /// `output.add_buffer(input)`).
    ///
    /// ```
    /// let (mut a, _b) = runtime::io::pair();
    /// a.input_mut().add(b"echo me")?;
    /// let (input, output) = a.buffers_mut();
    /// output.add_buffer(input)?;
    /// assert_eq!(a.output().len(), 7);
    /// # Ok::<(), runtime::io::BufferError>(())
    /// ```
    pub fn buffers_mut(&mut self) -> (&mut Buffer, &mut Buffer) {
        (&mut self.input, &mut self.output)
    }

    /// The inner stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner stream, mutably. Reading or writing it directly bypasses
    /// the buffers.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner stream; bytes still in the buffers are dropped (see
    /// [`into_parts`](BufferedStream::into_parts) to keep them).
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// The inner stream, the input buffer and the output buffer.
    pub fn into_parts(self) -> (S, Buffer, Buffer) {
        (self.inner, self.input, self.output)
    }

    /// Whether the inner stream has reported end of stream (bytes may still
    /// be in the input).
    pub fn is_eof(&self) -> bool {
        self.eof
    }

    /// Whether the write half was shut down by
    /// [`finish`](BufferedStream::finish) or `poll_close`.
    pub fn is_write_closed(&self) -> bool {
        self.write_state == WriteState::Closed
    }
}

#[cfg(test)]
mod tests;
