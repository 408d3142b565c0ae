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
//! use runtime_io::{pair, BufferedStream, Eol};
//!
//! runtime_executor::block_on(async {
//!     let (mut client, mut server) = pair();
//!     // A line server: answers every line with its length.
//!     let task = runtime_executor::spawn(async move {
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

mod filter;
mod pair;
mod ratelimit;
mod timeouts;
mod watermarks;

pub use filter::{Filter, FilterResult, Filtered, FlushMode, Passthrough};
pub use pair::{pair, pair_with_capacity, PairEnd, PAIR_CAPACITY};
pub use ratelimit::{RateLimit, RateLimitGroup};
pub use watermarks::Watermarks;

use crate::{Buffer, BufferError, Eol, Segment};
use futures_io::{AsyncBufRead, AsyncRead, AsyncWrite};
use ratelimit::{Dir, Limiter};
use std::fmt;
use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::os::fd::AsFd;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use timeouts::{timed_out, IdleTimer};

/// Default most bytes read from the inner stream per read: 16 KiB, like
/// libevent's bufferevents (`MAX_SINGLE_READ_DEFAULT`).
pub const DEFAULT_MAX_SINGLE_READ: usize = 16 * 1024;

/// Default maximum line length for
/// [`read_line`](BufferedStream::read_line) and
/// [`read_until`](BufferedStream::read_until): 16 KiB, the `MAX_LINE` of
/// libevent's ROT13 example.
pub const DEFAULT_MAX_LINE: usize = 16 * 1024;

/// Output size at which [`AsyncWrite::poll_write`] flushes before it
/// buffers more, so writing through the trait cannot grow the output
/// without bound.
pub const OUTPUT_SOFT_LIMIT: usize = 64 * 1024;

/// Most chunks handed to one vectored write.
const MAX_IOVECS: usize = 64;

/// Most bytes of a file segment read into memory for one write when
/// `sendfile` is not available.
const FILE_BLOCK: usize = 64 * 1024;

/// How a [`BufferedStream`] moves bytes between its buffers and what lies
/// beneath: implemented for every `AsyncRead + AsyncWrite + Unpin` stream
/// (reads go into the buffer's free space, writes are vectored over its
/// chunks), for [`PairEnd`] and for [`Filtered`] (which move chunks between
/// buffers without copying).
///
/// Implement it for a transport that can do better than `AsyncRead` /
/// `AsyncWrite` with whole buffers.
pub trait Transport: Unpin {
    /// Reads at most `max` bytes (at least 1) into the end of `dst`; returns
    /// how many, 0 meaning end of stream.
    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        dst: &mut Buffer,
        max: usize,
    ) -> Poll<io::Result<usize>>;

    /// Writes at most `max` bytes from the front of `src`, draining what
    /// was written; returns how many. `Ok(0)` means the transport takes
    /// nothing more for now (a filter waiting for a complete unit in
    /// [`FlushMode::Normal`]). With [`FlushMode::Flush`] or
    /// [`FlushMode::Finished`] this may be called with `src` empty, so a
    /// filter can push out what it holds (or its trailer).
    fn poll_write_buf(
        &mut self,
        cx: &mut Context<'_>,
        src: &mut Buffer,
        max: usize,
        mode: FlushMode,
    ) -> Poll<io::Result<usize>>;

    /// Flushes whatever the transport itself buffers.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Shuts the write direction down: the peer reads end of stream.
    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
}

impl<T: AsyncRead + AsyncWrite + Unpin> Transport for T {
    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        dst: &mut Buffer,
        max: usize,
    ) -> Poll<io::Result<usize>> {
        // The tail's free space if it has at least half of what we may
        // read, else a fresh chunk: no copy beyond the kernel's.
        let space = dst.reserve_some(max, max.div_ceil(2))?;
        let n = ready!(Pin::new(self).poll_read(cx, space))?;
        dst.commit(n)?;
        Poll::Ready(Ok(n))
    }

    fn poll_write_buf(
        &mut self,
        cx: &mut Context<'_>,
        src: &mut Buffer,
        max: usize,
        _mode: FlushMode,
    ) -> Poll<io::Result<usize>> {
        let front_file = match src.segments().next() {
            Some(Segment::File { len, .. }) => Some(len),
            _ => None,
        };
        if let Some(len) = front_file {
            // A file segment at the front, sent without sendfile: one block
            // through memory.
            let mut block = vec![0u8; len.min(max).min(FILE_BLOCK)];
            let got = src.copyout(&mut block)?;
            let n = ready!(Pin::new(&mut *self).poll_write(cx, &block[..got]))?;
            return Poll::Ready(drained(src, n));
        }
        let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
        let mut used = 0;
        for (slot, bytes) in slices.iter_mut().zip(src.peek(max)) {
            *slot = IoSlice::new(bytes);
            used += 1;
        }
        if used == 0 {
            return Poll::Ready(Ok(0));
        }
        let n = ready!(Pin::new(&mut *self).poll_write_vectored(cx, &slices[..used]))?;
        Poll::Ready(drained(src, n))
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(self).poll_flush(cx)
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(self).poll_close(cx)
    }
}

/// Drains the `n` bytes a write took; a write of nothing is `WriteZero`.
fn drained(src: &mut Buffer, n: usize) -> io::Result<usize> {
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "the stream accepted no bytes",
        ));
    }
    src.drain(n)?;
    Ok(n)
}

/// Position of the first `b` in `hay` (`memchr(3)`: glibc's is
/// vectorised).
fn memchr(b: u8, hay: &[u8]) -> Option<usize> {
    if hay.is_empty() {
        return None;
    }
    // SAFETY: the pointer and length describe `hay`, a live slice that
    // memchr only reads; a non-null result points into it.
    let p = unsafe { libc::memchr(hay.as_ptr().cast(), i32::from(b), hay.len()) };
    if p.is_null() {
        None
    } else {
        Some(p as usize - hay.as_ptr() as usize)
    }
}

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

fn sendfile_to<S: AsFd>(buf: &mut Buffer, inner: &S, max: usize) -> io::Result<usize> {
    buf.write_atmost(inner, max)
}

/// A buffered stream: libevent's bufferevent as a `futures-io` stream.
///
/// Wraps an inner stream `S` (any `AsyncRead + AsyncWrite + Unpin` — for
/// example a `runtime::net::TcpStream` — or a [`pair`] end, or a
/// [`Filtered`] stream) with an input and an output [`Buffer`]. It
/// implements [`AsyncRead`], [`AsyncBufRead`] and [`AsyncWrite`], and has
/// the bufferevent features as methods: watermarks, read and write
/// timeouts, line reading with a length limit, rate limits, flush and
/// finish. See the [module documentation](self) for an overview.
///
/// ```
/// use runtime_io::{BufferedStream, Eol, Watermarks};
/// use std::time::Duration;
///
/// runtime_executor::block_on(async {
///     let (mut a, b) = runtime_io::pair();
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
pub struct BufferedStream<S> {
    inner: S,
    input: Buffer,
    output: Buffer,
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
    /// let (mut a, _b) = runtime_io::pair();
    /// write!(a.output_mut(), "HTTP/1.1 {} {}\r\n", 200, "OK").unwrap();
    /// a.output_mut().add_reference(&b"static body"[..])?;
    /// assert_eq!(a.output().len(), 28);
    /// # Ok::<(), runtime_io::BufferError>(())
    /// ```
    pub fn output_mut(&mut self) -> &mut Buffer {
        &mut self.output
    }

    /// Both buffers at once: `(input, output)` — for moving data from one
    /// to the other without copying (an echo with
    /// `output.add_buffer(input)`).
    ///
    /// ```
    /// let (mut a, _b) = runtime_io::pair();
    /// a.input_mut().add(b"echo me")?;
    /// let (input, output) = a.buffers_mut();
    /// output.add_buffer(input)?;
    /// assert_eq!(a.output().len(), 7);
    /// # Ok::<(), runtime_io::BufferError>(())
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

    /// The watermarks.
    pub fn watermarks(&self) -> Watermarks {
        self.marks
    }

    /// Sets all watermarks (`bufferevent_setwatermark`); `read_low` is
    /// clamped to `read_high` when that is set.
    pub fn set_watermarks(&mut self, marks: Watermarks) {
        self.marks = marks.normalized();
    }

    /// Sets the read watermarks only (`bufferevent_setwatermark(bev,
    /// EV_READ, low, high)`).
    pub fn set_read_watermarks(&mut self, low: usize, high: usize) {
        self.set_watermarks(Watermarks {
            read_low: low,
            read_high: high,
            ..self.marks
        });
    }

    /// Sets the write low watermark only.
    pub fn set_write_watermark(&mut self, low: usize) {
        self.marks.write_low = low;
    }

    /// Sets the read and write idle timeouts (`bufferevent_set_timeouts`;
    /// `None` = no timeout). A timeout counts only while the stream waits
    /// for its inner stream (to have data, or to take data) and restarts on
    /// progress; when it expires, the read or flush that was waiting fails
    /// with [`io::ErrorKind::TimedOut`] (libevent's `BEV_EVENT_TIMEOUT`).
    /// The stream stays usable: the next read or flush starts a new period.
    ///
    /// Timeouts use the reactor's timers, so the stream must then be polled
    /// inside the runtime.
    pub fn set_timeouts(&mut self, read: Option<Duration>, write: Option<Duration>) {
        self.read_timer.set(read);
        self.write_timer.set(write);
    }

    /// The read and write timeouts.
    pub fn timeouts(&self) -> (Option<Duration>, Option<Duration>) {
        (self.read_timer.duration(), self.write_timer.duration())
    }

    /// Sets the maximum line length (end of line excluded) of
    /// [`read_line`](BufferedStream::read_line) and
    /// [`read_until`](BufferedStream::read_until) (default
    /// [`DEFAULT_MAX_LINE`], at least 1).
    pub fn set_max_line(&mut self, max: usize) {
        self.max_line = max.max(1);
    }

    /// The maximum line length.
    pub fn max_line(&self) -> usize {
        self.max_line
    }

    /// Sets the most bytes read per read call
    /// (`bufferevent_set_max_single_read`; 0 = the default
    /// [`DEFAULT_MAX_SINGLE_READ`]).
    pub fn set_max_single_read(&mut self, max: usize) {
        self.max_read = if max == 0 {
            DEFAULT_MAX_SINGLE_READ
        } else {
            max
        };
    }

    /// The most bytes read per read call.
    pub fn max_single_read(&self) -> usize {
        self.max_read
    }

    /// Sets the most bytes written per write call
    /// (`bufferevent_set_max_single_write`; 0 = no limit, the default: one
    /// vectored write takes as much as the kernel accepts — libevent's
    /// default is 16 KiB).
    pub fn set_max_single_write(&mut self, max: usize) {
        self.max_write = if max == 0 { usize::MAX } else { max };
    }

    /// The most bytes written per write call (`usize::MAX`: no limit).
    pub fn max_single_write(&self) -> usize {
        self.max_write
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

    fn limiter(&mut self) -> &mut Limiter {
        self.limiter.get_or_insert_with(Box::default)
    }

    fn prune_limiter(&mut self) {
        if self.limiter.as_ref().is_some_and(|l| l.is_empty()) {
            self.limiter = None;
        }
    }

    /// Limits reading to a token bucket (`bufferevent_set_rate_limit`;
    /// `None` removes the limit). The bucket starts with one tick's worth
    /// of tokens.
    ///
    /// ```
    /// use runtime_io::RateLimit;
    /// use std::time::Duration;
    ///
    /// let (mut a, _b) = runtime_io::pair();
    /// // 10 kB per 100 ms = 100 kB/s, bursts of 20 kB.
    /// a.set_read_limit(Some(RateLimit::new(10_000, 20_000, Duration::from_millis(100))));
    /// assert_eq!(a.read_tokens(), Some(10_000));
    /// ```
    pub fn set_read_limit(&mut self, limit: Option<RateLimit>) {
        self.limiter().set(Dir::Read, limit);
        self.prune_limiter();
    }

    /// Limits writing to a token bucket; `None` removes the limit.
    pub fn set_write_limit(&mut self, limit: Option<RateLimit>) {
        self.limiter().set(Dir::Write, limit);
        self.prune_limiter();
    }

    /// The read and write limits.
    pub fn rate_limits(&self) -> (Option<RateLimit>, Option<RateLimit>) {
        match &self.limiter {
            Some(l) => (l.get(Dir::Read), l.get(Dir::Write)),
            None => (None, None),
        }
    }

    /// Tokens left in the stream's own read bucket
    /// (`bufferevent_get_read_limit`; `None`: no limit).
    pub fn read_tokens(&mut self) -> Option<usize> {
        self.limiter.as_mut()?.tokens(Dir::Read)
    }

    /// Tokens left in the stream's own write bucket (`None`: no limit).
    pub fn write_tokens(&mut self) -> Option<usize> {
        self.limiter.as_mut()?.tokens(Dir::Write)
    }

    /// Makes the stream a member of `group` (leaving its previous group),
    /// or of none (`bufferevent_add_to_rate_limit_group` /
    /// `bufferevent_remove_from_rate_limit_group`). Dropping the stream
    /// leaves the group.
    pub fn set_rate_limit_group(&mut self, group: Option<&RateLimitGroup>) {
        self.limiter().set_group(group);
        self.prune_limiter();
    }

    /// The group the stream belongs to.
    pub fn rate_limit_group(&self) -> Option<&RateLimitGroup> {
        self.limiter.as_ref()?.group()
    }

    /// Sends file segments at the front of the output with `sendfile(2)`
    /// straight to the inner stream's descriptor (`on = true`), or through
    /// memory with ordinary writes (`false`, the default). When the socket
    /// is full, the stream falls back to one ordinary write, which waits
    /// for it. Byte-exact either way.
    ///
    /// ```no_run
    /// # async fn f(tcp: runtime_net::TcpStream) -> std::io::Result<()> {
    /// use runtime_io::BufferedStream;
    ///
    /// let mut conn = BufferedStream::new(tcp);
    /// conn.set_sendfile(true);
    /// conn.output_mut().add(b"HTTP/1.0 200 OK\r\n\r\n")?;
    /// conn.output_mut().add_file(std::fs::File::open("index.html")?, 0, None)?;
    /// conn.finish().await?;
    /// # Ok(()) }
    /// ```
    pub fn set_sendfile(&mut self, on: bool)
    where
        S: AsFd,
    {
        self.sendfile = if on {
            Some(sendfile_to::<S> as SendfileFn<S>)
        } else {
            None
        };
    }
}

impl<S: Transport> BufferedStream<S> {
    /// One read attempt from the inner stream into the input, within the
    /// high watermark, the per-read cap and the rate limits.
    pub(crate) fn poll_fill_once(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Fill>> {
        if self.eof {
            return Poll::Ready(Ok(Fill::Eof));
        }
        let len = self.input.len();
        let mut max = self.max_read.min(self.input.max_size().saturating_sub(len));
        if self.marks.read_high > 0 {
            max = max.min(self.marks.read_high.saturating_sub(len));
        }
        if max == 0 {
            return Poll::Ready(Ok(Fill::Full));
        }
        if let Some(l) = self.limiter.as_deref_mut() {
            max = max.min(ready!(l.poll_allowance(Dir::Read, cx)));
        }
        match self.inner.poll_read_buf(cx, &mut self.input, max) {
            Poll::Ready(Ok(0)) => {
                self.eof = true;
                self.read_timer.progress();
                Poll::Ready(Ok(Fill::Eof))
            }
            Poll::Ready(Ok(n)) => {
                self.read_timer.progress();
                if let Some(l) = self.limiter.as_deref_mut() {
                    l.consume(Dir::Read, n);
                }
                Poll::Ready(Ok(Fill::Read(n)))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                if let Some(l) = self.limiter.as_deref_mut() {
                    l.waited(Dir::Read);
                }
                if self.read_timer.poll_expired(cx) {
                    Poll::Ready(Err(timed_out("read timed out")))
                } else {
                    Poll::Pending
                }
            }
        }
    }

    /// Reads from the inner stream until the input holds `want` bytes, the
    /// stream ends or the input is full.
    fn poll_fill_to(&mut self, cx: &mut Context<'_>, want: usize) -> Poll<io::Result<()>> {
        while self.input.len() < want {
            match ready!(self.poll_fill_once(cx))? {
                Fill::Read(_) => {}
                Fill::Eof | Fill::Full => break,
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Polls for one read from the inner stream into the input: the number
    /// of bytes added, or 0 at end of stream or when the input is at its
    /// high watermark (see [`is_eof`](BufferedStream::is_eof)).
    pub fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(match ready!(self.poll_fill_once(cx))? {
            Fill::Read(n) => n,
            Fill::Eof | Fill::Full => 0,
        }))
    }

    /// Reads once from the inner stream into the input (at most the
    /// per-read cap, never past the high watermark); returns the number of
    /// bytes added: 0 at end of stream or when the input is at its high
    /// watermark (see [`is_eof`](BufferedStream::is_eof)).
    ///
    /// ```
    /// runtime_executor::block_on(async {
    ///     let (mut a, mut b) = runtime_io::pair();
    ///     b.set_read_watermarks(0, 4);
    ///     a.write_all(b"0123456789").await?;
    ///     a.flush().await?;
    ///     assert_eq!(b.fill().await?, 4); // stops at the high watermark
    ///     assert_eq!(b.fill().await?, 0);
    ///     assert!(!b.is_eof());
    ///     assert_eq!(b.input().len(), 4);
    ///     Ok::<(), std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn fill(&mut self) -> io::Result<usize> {
        poll_fn(|cx| self.poll_fill(cx)).await
    }

    /// Waits until the input holds at least `n` bytes. Fails with
    /// `UnexpectedEof` if the stream ends first, and — without reading
    /// anything — with `OutOfMemory` ([`BufferError::TooLarge`] inside) if
    /// `n` exceeds the read high watermark or the input's
    /// [`max_size`](Buffer::max_size): a length announced by the peer
    /// cannot make the input grow past its bounds.
    ///
    /// ```
    /// runtime_executor::block_on(async {
    ///     let (mut a, mut b) = runtime_io::pair();
    ///     b.set_read_watermarks(0, 1024);
    ///     a.write_all(&[0, 0, 0, 5, b'h', b'e', b'l', b'l', b'o']).await?;
    ///     a.flush().await?;
    ///     b.fill_to(4).await?;
    ///     let mut len = [0u8; 4];
    ///     b.input_mut().remove(&mut len)?;
    ///     b.fill_to(u32::from_be_bytes(len) as usize).await?;
    ///     assert_eq!(b.input().to_vec()?, b"hello");
    ///     // A peer announcing 4 GB is refused, not buffered.
    ///     assert!(b.fill_to(u32::MAX as usize).await.is_err());
    ///     Ok::<(), std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn fill_to(&mut self, n: usize) -> io::Result<()> {
        let too_big =
            (self.marks.read_high > 0 && n > self.marks.read_high) || n > self.input.max_size();
        if too_big {
            return Err(BufferError::TooLarge.into());
        }
        poll_fn(|cx| self.poll_fill_to(cx, n)).await?;
        if self.input.len() < n {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "stream ended before the wanted bytes",
            ));
        }
        Ok(())
    }

    /// The fast path of line reading: a line that ends within the input's
    /// first chunk is appended to `line` with one `memchr` and one copy;
    /// returns its length. `None` (and `line` unchanged) when that is not
    /// the case (the general path then decides, with the same result).
    fn take_line_fast_into(&mut self, eol: Eol, line: &mut Vec<u8>) -> Option<usize> {
        let delim = match eol {
            Eol::Lf | Eol::Crlf | Eol::CrlfStrict => b'\n',
            Eol::Nul => 0,
            Eol::Any => return None,
        };
        let first = self.input.peek(usize::MAX).next()?;
        let scan = &first[..first.len().min(self.max_line.saturating_add(2))];
        let p = memchr(delim, scan)?;
        let cr_before = p > 0 && scan[p - 1] == b'\r';
        let (line_len, eol_len) = match eol {
            Eol::Crlf if cr_before => (p - 1, 2),
            Eol::CrlfStrict if cr_before => (p - 1, 2),
            // A bare LF is data: the end of line may come later.
            Eol::CrlfStrict => return None,
            _ => (p, 1),
        };
        if line_len > self.max_line {
            return None;
        }
        // An allocation failure is left to the general path to report.
        line.try_reserve(line_len).ok()?;
        let orig = line.len();
        line.extend_from_slice(&first[..line_len]);
        if self.input.drain(line_len + eol_len).is_err() {
            line.truncate(orig);
            return None;
        }
        Some(line_len)
    }

    /// The next line from the input if a complete one is buffered, without
    /// any I/O: `Ok(None)` when no complete line is there yet; a
    /// [`LineTooLong`](BufferError::LineTooLong) error (kind
    /// `InvalidData`) when the line is longer than
    /// [`max_line`](BufferedStream::max_line) or cannot complete because
    /// the input is at its high watermark. To reuse one vector for many
    /// lines, see [`try_read_line_into`](BufferedStream::try_read_line_into).
    ///
    /// ```
    /// use runtime_io::Eol;
    ///
    /// runtime_executor::block_on(async {
    ///     let (mut a, mut b) = runtime_io::pair();
    ///     a.write_all(b"one\ntw").await?;
    ///     a.flush().await?;
    ///     assert_eq!(b.try_read_line(Eol::Lf)?, None); // nothing read yet
    ///     b.fill().await?;
    ///     assert_eq!(b.try_read_line(Eol::Lf)?.unwrap(), b"one");
    ///     assert_eq!(b.try_read_line(Eol::Lf)?, None); // "tw" is unfinished
    ///     Ok::<(), std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn try_read_line(&mut self, eol: Eol) -> io::Result<Option<Vec<u8>>> {
        let mut line = Vec::new();
        Ok(self.try_read_line_into(eol, &mut line)?.map(|_| line))
    }

    /// [`try_read_line`](BufferedStream::try_read_line) into a vector the
    /// caller keeps, so that a loop over lines allocates nothing once the
    /// vector is large enough: `line` is cleared, then receives the line
    /// without its end of line. `Ok(Some(n))`: a line of `n` bytes (`n ==
    /// line.len()`); `Ok(None)`: no complete line is buffered yet (`line`
    /// is left empty). Errors as `try_read_line`, with `line` left empty.
    ///
    /// ```
    /// use runtime_io::Eol;
    ///
    /// runtime_executor::block_on(async {
    ///     let (mut a, mut b) = runtime_io::pair();
    ///     a.write_all(b"hello\r\nyo\r\n").await?;
    ///     a.flush().await?;
    ///     b.fill().await?;
    ///     let mut line = Vec::new();
    ///     assert_eq!(b.try_read_line_into(Eol::CrlfStrict, &mut line)?, Some(5));
    ///     assert_eq!(line, b"hello");
    ///     assert_eq!(b.try_read_line_into(Eol::CrlfStrict, &mut line)?, Some(2));
    ///     assert_eq!(line, b"yo"); // cleared first: nothing left of "hello"
    ///     assert_eq!(b.try_read_line_into(Eol::CrlfStrict, &mut line)?, None);
    ///     assert!(line.is_empty());
    ///     Ok::<(), std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn try_read_line_into(
        &mut self,
        eol: Eol,
        line: &mut Vec<u8>,
    ) -> io::Result<Option<usize>> {
        line.clear();
        if let Some(n) = self.take_line_fast_into(eol, line) {
            return Ok(Some(n));
        }
        match self.input.readln_max_into(eol, self.max_line, line)? {
            Some(n) => Ok(Some(n)),
            None if self.at_high_watermark() => Err(BufferError::LineTooLong.into()),
            None => Ok(None),
        }
    }

    fn at_high_watermark(&self) -> bool {
        self.marks.read_high > 0 && self.input.len() >= self.marks.read_high
    }

    /// Polls for [`read_line`](BufferedStream::read_line).
    pub fn poll_read_line(
        &mut self,
        cx: &mut Context<'_>,
        eol: Eol,
    ) -> Poll<io::Result<Option<Vec<u8>>>> {
        let mut line = Vec::new();
        self.poll_read_line_into(cx, eol, &mut line)
            .map_ok(|found| found.map(|_| line))
    }

    /// Polls for [`read_line_into`](BufferedStream::read_line_into): `line`
    /// is cleared on every call and holds the line once this is ready with
    /// `Ok(Some(n))`.
    ///
    /// ```
    /// use runtime_io::Eol;
    /// use std::future::poll_fn;
    ///
    /// runtime_executor::block_on(async {
    ///     let (mut a, mut b) = runtime_io::pair();
    ///     a.write_all(b"ping\n").await?;
    ///     a.finish().await?;
    ///     let mut line = Vec::new();
    ///     let n = poll_fn(|cx| b.poll_read_line_into(cx, Eol::Lf, &mut line)).await?;
    ///     assert_eq!((n, &line[..]), (Some(4), &b"ping"[..]));
    ///     let n = poll_fn(|cx| b.poll_read_line_into(cx, Eol::Lf, &mut line)).await?;
    ///     assert_eq!(n, None);
    ///     Ok::<(), std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn poll_read_line_into(
        &mut self,
        cx: &mut Context<'_>,
        eol: Eol,
        line: &mut Vec<u8>,
    ) -> Poll<io::Result<Option<usize>>> {
        line.clear();
        loop {
            if let Some(n) = self.take_line_fast_into(eol, line) {
                return Poll::Ready(Ok(Some(n)));
            }
            if let Some(n) = self.input.readln_max_into(eol, self.max_line, line)? {
                return Poll::Ready(Ok(Some(n)));
            }
            match ready!(self.poll_fill_once(cx))? {
                Fill::Read(_) => {}
                Fill::Full => return Poll::Ready(Err(BufferError::LineTooLong.into())),
                Fill::Eof => return Poll::Ready(self.end_of_lines()),
            }
        }
    }

    fn end_of_lines<T>(&self) -> io::Result<Option<T>> {
        if self.input.is_empty() {
            Ok(None)
        } else {
            Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "stream ended in the middle of a line (the partial line stays in the input)",
            ))
        }
    }

    /// Reads the next line, without its end of line (`evbuffer_readln` on
    /// the input, reading more as needed): `Ok(None)` at end of stream
    /// after the last complete line. Each line is a new vector; to reuse
    /// one, see [`read_line_into`](BufferedStream::read_line_into).
    ///
    /// Memory stays bounded: a line longer than
    /// [`max_line`](BufferedStream::max_line) (default 16 KiB) — or one
    /// that cannot complete because the input is at its high watermark — is
    /// a [`BufferError::LineTooLong`] error (kind `InvalidData`), reported
    /// as soon as it is certain, with the bytes left in the input (drain
    /// them, or close). End of stream in the middle of a line is an
    /// `UnexpectedEof` error, the partial line again left in the input.
    ///
    /// Every [`Eol`] style works, across chunk and read boundaries (with
    /// [`Eol::Any`], a CR and an LF that arrive in separate reads end two
    /// lines).
    ///
    /// ```
    /// use runtime_io::{BufferError, Eol};
    ///
    /// runtime_executor::block_on(async {
    ///     let (mut a, mut b) = runtime_io::pair();
    ///     b.set_max_line(8);
    ///     a.write_all(b"short\r\nmuch too long\r\n").await?;
    ///     a.finish().await?;
    ///     assert_eq!(b.read_line(Eol::CrlfStrict).await?.unwrap(), b"short");
    ///     let err = b.read_line(Eol::CrlfStrict).await.unwrap_err();
    ///     assert!(matches!(
    ///         err.get_ref().and_then(|e| e.downcast_ref()),
    ///         Some(BufferError::LineTooLong)
    ///     ));
    ///     Ok::<(), std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn read_line(&mut self, eol: Eol) -> io::Result<Option<Vec<u8>>> {
        poll_fn(|cx| self.poll_read_line(cx, eol)).await
    }

    /// [`read_line`](BufferedStream::read_line) into a vector the caller
    /// keeps (like `BufRead::read_line` into a `String`, except that the
    /// vector is cleared first): a loop over lines allocates nothing once
    /// the vector is large enough. `line` is cleared, then receives the
    /// line without its end of line. `Ok(Some(n))`: a line of `n` bytes
    /// (`n == line.len()`, possibly 0 for an empty line); `Ok(None)`: end
    /// of stream after the last complete line (`line` left empty). The
    /// bounds and errors are exactly `read_line`'s — a line over
    /// [`max_line`](BufferedStream::max_line) is
    /// [`BufferError::LineTooLong`], end of stream in the middle of a line
    /// `UnexpectedEof`, the bytes left in the input — with `line` left
    /// empty.
    ///
    /// ```
    /// use runtime_io::Eol;
    ///
    /// runtime_executor::block_on(async {
    ///     let (mut a, mut b) = runtime_io::pair();
    ///     a.write_all(b"a longer line\nshort\n").await?;
    ///     a.finish().await?;
    ///     let mut line = Vec::new();
    ///     let mut lens = Vec::new();
    ///     while let Some(n) = b.read_line_into(Eol::Lf, &mut line).await? {
    ///         lens.push(n);
    ///     }
    ///     assert_eq!(lens, [13, 5]);
    ///     assert!(line.is_empty());
    ///     Ok::<(), std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn read_line_into(
        &mut self,
        eol: Eol,
        line: &mut Vec<u8>,
    ) -> io::Result<Option<usize>> {
        poll_fn(|cx| self.poll_read_line_into(cx, eol, line)).await
    }

    /// The next field up to `byte` from the input if a complete one is
    /// buffered, without any I/O, into `line` (cleared first; the delimiter
    /// is removed): `Ok(Some(n))` for a field of `n` bytes, `Ok(None)` when
    /// none is complete yet. More than [`max_line`](BufferedStream::max_line)
    /// bytes without the delimiter, or an input at its high watermark
    /// without it, is a [`BufferError::LineTooLong`] error (kind
    /// `InvalidData`).
    ///
    /// ```
    /// runtime_executor::block_on(async {
    ///     let (mut a, mut b) = runtime_io::pair();
    ///     a.write_all(b"k=v;rest").await?;
    ///     a.flush().await?;
    ///     b.fill().await?;
    ///     let mut field = Vec::new();
    ///     assert_eq!(b.try_read_until_into(b'=', &mut field)?, Some(1));
    ///     assert_eq!(field, b"k");
    ///     assert_eq!(b.try_read_until_into(b';', &mut field)?, Some(1));
    ///     assert_eq!(field, b"v");
    ///     assert_eq!(b.try_read_until_into(b';', &mut field)?, None);
    ///     Ok::<(), std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn try_read_until_into(
        &mut self,
        byte: u8,
        line: &mut Vec<u8>,
    ) -> io::Result<Option<usize>> {
        line.clear();
        match self.take_until_into(byte, line)? {
            Some(n) => Ok(Some(n)),
            None if self.at_high_watermark() => Err(BufferError::LineTooLong.into()),
            None => Ok(None),
        }
    }

    /// Moves the bytes before the first `byte` of the input to `line`
    /// (appending) and drains them with the delimiter; `None` when the
    /// delimiter is not there yet. More than `max_line` bytes without it
    /// is `LineTooLong`.
    fn take_until_into(&mut self, byte: u8, line: &mut Vec<u8>) -> io::Result<Option<usize>> {
        let scan = self.input.len().min(self.max_line.saturating_add(1));
        if let Some(p) = self.input.search_range(&[byte], 0, scan)? {
            let orig = line.len();
            self.input.copy_range_into(0, p, line)?;
            if let Err(e) = self.input.drain(p + 1) {
                line.truncate(orig);
                return Err(e.into());
            }
            return Ok(Some(p));
        }
        if self.input.len() > self.max_line {
            return Err(BufferError::LineTooLong.into());
        }
        Ok(None)
    }

    /// Polls for [`read_until`](BufferedStream::read_until).
    pub fn poll_read_until(
        &mut self,
        cx: &mut Context<'_>,
        byte: u8,
    ) -> Poll<io::Result<Option<Vec<u8>>>> {
        let mut line = Vec::new();
        self.poll_read_until_into(cx, byte, &mut line)
            .map_ok(|found| found.map(|_| line))
    }

    /// Polls for [`read_until_into`](BufferedStream::read_until_into):
    /// `line` is cleared on every call and holds the field once this is
    /// ready with `Ok(Some(n))`.
    ///
    /// ```
    /// use std::future::poll_fn;
    ///
    /// runtime_executor::block_on(async {
    ///     let (mut a, mut b) = runtime_io::pair();
    ///     a.write_all(b"abc,").await?;
    ///     a.finish().await?;
    ///     let mut field = Vec::new();
    ///     let n = poll_fn(|cx| b.poll_read_until_into(cx, b',', &mut field)).await?;
    ///     assert_eq!((n, &field[..]), (Some(3), &b"abc"[..]));
    ///     let n = poll_fn(|cx| b.poll_read_until_into(cx, b',', &mut field)).await?;
    ///     assert_eq!(n, None);
    ///     Ok::<(), std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn poll_read_until_into(
        &mut self,
        cx: &mut Context<'_>,
        byte: u8,
        line: &mut Vec<u8>,
    ) -> Poll<io::Result<Option<usize>>> {
        line.clear();
        loop {
            if let Some(n) = self.take_until_into(byte, line)? {
                return Poll::Ready(Ok(Some(n)));
            }
            match ready!(self.poll_fill_once(cx))? {
                Fill::Read(_) => {}
                Fill::Full => return Poll::Ready(Err(BufferError::LineTooLong.into())),
                Fill::Eof => return Poll::Ready(self.end_of_lines()),
            }
        }
    }

    /// Reads up to the next `byte` and returns what came before it (the
    /// delimiter is removed, unlike `BufRead::read_until`); `Ok(None)` at
    /// end of stream. Bounded like [`read_line`](BufferedStream::read_line):
    /// more than [`max_line`](BufferedStream::max_line) bytes without the
    /// delimiter is a [`BufferError::LineTooLong`] error. To reuse one
    /// vector, see [`read_until_into`](BufferedStream::read_until_into).
    ///
    /// ```
    /// runtime_executor::block_on(async {
    ///     let (mut a, mut b) = runtime_io::pair();
    ///     a.write_all(b"key=value;next").await?;
    ///     a.finish().await?;
    ///     assert_eq!(b.read_until(b'=').await?.unwrap(), b"key");
    ///     assert_eq!(b.read_until(b';').await?.unwrap(), b"value");
    ///     assert!(b.read_until(b';').await.is_err()); // "next" never ends
    ///     Ok::<(), std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn read_until(&mut self, byte: u8) -> io::Result<Option<Vec<u8>>> {
        poll_fn(|cx| self.poll_read_until(cx, byte)).await
    }

    /// [`read_until`](BufferedStream::read_until) into a vector the caller
    /// keeps: `line` is cleared, then receives what came before the next
    /// `byte` (the delimiter is removed). `Ok(Some(n))`: `n` bytes;
    /// `Ok(None)`: end of stream (`line` left empty). Bounds and errors
    /// are exactly `read_until`'s, with `line` left empty.
    ///
    /// ```
    /// runtime_executor::block_on(async {
    ///     let (mut a, mut b) = runtime_io::pair();
    ///     a.write_all(b"x=1&yy=22&").await?;
    ///     a.finish().await?;
    ///     let mut field = Vec::new();
    ///     let mut fields = Vec::new();
    ///     while b.read_until_into(b'&', &mut field).await?.is_some() {
    ///         fields.push(String::from_utf8(field.clone()).unwrap());
    ///     }
    ///     assert_eq!(fields, ["x=1", "yy=22"]);
    ///     Ok::<(), std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn read_until_into(
        &mut self,
        byte: u8,
        line: &mut Vec<u8>,
    ) -> io::Result<Option<usize>> {
        poll_fn(|cx| self.poll_read_until_into(cx, byte, line)).await
    }

    /// Reads some bytes into `buf` (at least the read low watermark's worth
    /// unless the stream ends); 0 at end of stream.
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| Pin::new(&mut *self).poll_read(cx, buf)).await
    }

    /// Fills `buf` completely; end of stream first is `UnexpectedEof`.
    pub async fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        let mut done = 0;
        while done < buf.len() {
            match self.read(&mut buf[done..]).await? {
                0 => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "stream ended before the buffer was filled",
                    ))
                }
                n => done += n,
            }
        }
        Ok(())
    }

    /// Appends `data` to the output (`bufferevent_write`). It is sent by
    /// the next [`flush`](BufferedStream::flush) — or earlier, when the
    /// output already holds [`OUTPUT_SOFT_LIMIT`] bytes: then this first
    /// flushes, waiting for the inner stream.
    pub async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        poll_fn(|cx| self.poll_make_room(cx)).await?;
        self.output.add(data)?;
        Ok(())
    }

    /// Flushes until the output is at or below the write low watermark
    /// (0 by default: until it is empty), then flushes the inner stream.
    /// Data goes out in as few system calls as the kernel allows: one
    /// vectored write over the output's chunks per call (`sendfile` for
    /// file segments, see [`set_sendfile`](BufferedStream::set_sendfile)).
    /// Fails with `TimedOut` when the write timeout expires while the inner
    /// stream takes nothing.
    ///
    /// The flush runs output filters with [`FlushMode::Flush`]; a filter
    /// that cannot process some bytes yet (an unfinished line) may keep
    /// them in the output, where the next flush — or
    /// [`finish`](BufferedStream::finish), [`FlushMode::Finished`] — finds
    /// them.
    pub async fn flush(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.poll_flush_watermark(cx)).await
    }

    /// Polls for [`flush`](BufferedStream::flush).
    pub fn poll_flush_watermark(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_flush_to(cx, self.marks.write_low, FlushMode::Flush))?;
        self.inner.poll_flush(cx)
    }

    /// Flushes everything, then shuts down the write half of the inner
    /// stream, so the peer reads end of stream after the data
    /// (`bufferevent_flush(bev, EV_WRITE, BEV_FINISHED)`, then a shutdown).
    /// Reading goes on. The same as `AsyncWrite::poll_close`.
    pub async fn finish(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.poll_finish(cx)).await
    }

    /// Polls for [`finish`](BufferedStream::finish).
    pub fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.write_state == WriteState::Open {
            ready!(self.poll_flush_to(cx, 0, FlushMode::Finished))?;
            if !self.output.is_empty() {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the output filter left data unprocessed at finish",
                )));
            }
            self.write_state = WriteState::Finishing;
        }
        if self.write_state == WriteState::Finishing {
            ready!(self.inner.poll_flush(cx))?;
            ready!(self.inner.poll_close(cx))?;
            self.write_state = WriteState::Closed;
        }
        Poll::Ready(Ok(()))
    }

    /// Flushes everything (the `AsyncWrite::poll_flush` contract).
    pub(crate) fn poll_flush_all(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_flush_to(cx, 0, FlushMode::Flush))?;
        self.inner.poll_flush(cx)
    }

    /// Before buffering more through `write_all`/`poll_write`: flushes
    /// while the output is at its soft limit.
    fn poll_make_room(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.write_state != WriteState::Open {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the stream was shut down for writing",
            )));
        }
        if self.output.len() >= OUTPUT_SOFT_LIMIT {
            ready!(self.poll_flush_to(cx, OUTPUT_SOFT_LIMIT / 2, FlushMode::Normal))?;
        }
        Poll::Ready(Ok(()))
    }

    /// Writes from the output until it holds at most `low` bytes (or the
    /// transport takes nothing more for now). With `Flush` and `Finished`
    /// the transport is called at least once, even with nothing to write.
    pub(crate) fn poll_flush_to(
        &mut self,
        cx: &mut Context<'_>,
        low: usize,
        mode: FlushMode,
    ) -> Poll<io::Result<()>> {
        let mut must_call = mode != FlushMode::Normal;
        while self.output.len() > low || must_call {
            let mut max = self.max_write;
            if !self.output.is_empty() {
                if let Some(l) = self.limiter.as_deref_mut() {
                    max = max.min(ready!(l.poll_allowance(Dir::Write, cx)));
                }
            }
            // A file segment at the front goes out with sendfile if enabled;
            // if the socket is full, the ordinary write below waits for it.
            if let Some(send) = self.sendfile {
                if matches!(self.output.segments().next(), Some(Segment::File { .. })) {
                    match send(&mut self.output, &self.inner, max) {
                        Ok(n) => {
                            self.wrote(n);
                            must_call = false;
                            continue;
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => return Poll::Ready(Err(e)),
                    }
                }
            }
            let last = self.output.len() <= max;
            let call_mode = if last { mode } else { FlushMode::Normal };
            match self
                .inner
                .poll_write_buf(cx, &mut self.output, max, call_mode)
            {
                Poll::Ready(Ok(0)) => {
                    // Nothing more is taken for now.
                    self.write_timer.progress();
                    break;
                }
                Poll::Ready(Ok(n)) => {
                    self.wrote(n);
                    must_call = must_call && !last;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    if let Some(l) = self.limiter.as_deref_mut() {
                        l.waited(Dir::Write);
                    }
                    return if self.write_timer.poll_expired(cx) {
                        Poll::Ready(Err(timed_out("write timed out")))
                    } else {
                        Poll::Pending
                    };
                }
            }
        }
        self.write_timer.progress();
        Poll::Ready(Ok(()))
    }

    fn wrote(&mut self, n: usize) {
        self.write_timer.progress();
        if let Some(l) = self.limiter.as_deref_mut() {
            l.consume(Dir::Write, n);
        }
    }
}

/// Reads come from the input buffer, refilled from the inner stream when
/// it holds less than the read low watermark.
impl<S: Transport> AsyncRead for BufferedStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let want = this.marks.read_want();
        ready!(this.poll_fill_to(cx, want))?;
        Poll::Ready(Ok(this.input.remove(buf)?))
    }
}

/// `poll_fill_buf` returns the input's first chunk (after reading up to the
/// low watermark); `consume` drains the input.
impl<S: Transport> AsyncBufRead for BufferedStream<S> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        let want = this.marks.read_want();
        ready!(this.poll_fill_to(cx, want))?;
        Poll::Ready(io::BufRead::fill_buf(&mut this.input))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let _ = self.get_mut().input.drain(amt);
    }
}

/// Writes append to the output buffer (flushing first only when it holds
/// [`OUTPUT_SOFT_LIMIT`] bytes); `poll_flush` sends all of it (ignoring the
/// write low watermark, as the trait requires); `poll_close` is
/// [`finish`](BufferedStream::finish).
impl<S: Transport> AsyncWrite for BufferedStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_make_room(cx))?;
        this.output.add(buf)?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_make_room(cx))?;
        Poll::Ready(io::Write::write_vectored(&mut this.output, bufs))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush_all(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_finish(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    fn cx() -> Context<'static> {
        Context::from_waker(Waker::noop())
    }

    #[test]
    fn pair_moves_chunks_and_reports_eof() {
        let (mut a, mut b) = pair();
        let mut cx = cx();
        a.output_mut().add(b"hello\nworld").unwrap();
        assert!(a.poll_flush_all(&mut cx).is_ready());
        assert_eq!(a.output().len(), 0);
        assert_eq!(a.get_ref().in_flight(), 11);
        match b.poll_read_line(&mut cx, Eol::Lf) {
            Poll::Ready(Ok(Some(l))) => assert_eq!(l, b"hello"),
            other => panic!("{other:?}"),
        }
        assert!(b.poll_read_line(&mut cx, Eol::Lf).is_pending());
        assert!(a.poll_finish(&mut cx).is_ready());
        assert!(a.is_write_closed());
        match b.poll_read_line(&mut cx, Eol::Lf) {
            Poll::Ready(Err(e)) => assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof),
            other => panic!("{other:?}"),
        }
        assert_eq!(b.input().to_vec().unwrap(), b"world");
        assert!(b.is_eof());
    }

    #[test]
    fn high_watermark_bounds_the_input() {
        let (mut a, mut b) = pair();
        let mut cx = cx();
        b.set_read_watermarks(0, 10);
        a.output_mut().add(&[b'x'; 100]).unwrap();
        assert!(a.poll_flush_all(&mut cx).is_ready());
        while let Poll::Ready(Ok(n @ 1..)) = b.poll_fill(&mut cx) {
            assert!(n <= 10);
        }
        assert_eq!(b.input().len(), 10);
        // No line can complete: the line is too long for the input.
        match b.poll_read_line(&mut cx, Eol::Lf) {
            Poll::Ready(Err(e)) => assert_eq!(e.kind(), io::ErrorKind::InvalidData),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn pair_capacity_applies_backpressure() {
        let (mut a, b) = pair_with_capacity(8);
        let mut cx = cx();
        a.output_mut().add(&[1u8; 20]).unwrap();
        assert!(a.poll_flush_all(&mut cx).is_pending());
        assert_eq!(a.output().len(), 12);
        drop(b);
        match a.poll_flush_all(&mut cx) {
            Poll::Ready(Err(e)) => assert_eq!(e.kind(), io::ErrorKind::BrokenPipe),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn write_after_finish_is_broken_pipe() {
        let (mut a, _b) = pair();
        let mut cx = cx();
        assert!(a.poll_finish(&mut cx).is_ready());
        match Pin::new(&mut a).poll_write(&mut cx, b"x") {
            Poll::Ready(Err(e)) => assert_eq!(e.kind(), io::ErrorKind::BrokenPipe),
            other => panic!("{other:?}"),
        }
    }
}
