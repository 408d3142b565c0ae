//! One HTTP/1 connection's buffered stream and the state of the body
//! arriving on it, shared (on one thread) between the task that runs the
//! connection and the [`Body`](crate::Body) handed to the application.

use super::chunked::{ChunkedDecoder, Decoded};
use super::head::Framing;
use super::spare::Spare;
use crate::body::{BodySource, READ_CHUNK};
use crate::error::Error;
use http::HeaderMap;
use runtime_io::{AsyncRead, AsyncWrite, Buffer, BufferError, BufferedStream, IdleTimer};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

/// Where the arriving body is.
#[derive(Debug)]
pub(crate) enum BodyState {
    /// No body in progress (or it was fully read).
    Done,
    /// `remaining` bytes of a `Content-Length` body.
    Length(u64),
    Chunked(Box<ChunkedDecoder>),
    /// Until the peer closes (responses).
    UntilClose,
    /// Reading failed; the connection must close.
    Failed,
}

/// Smallest free space a read is given in the input buffer.
const READ_MIN: usize = 4096;
/// Most bytes one read takes.
const READ_MAX: usize = 64 * 1024;

/// A connection: the stream, its input (one contiguous buffer, parsed in
/// place), its output, and the body being read.
///
/// The output is two pieces, in order: `tx`, plain bytes (response heads
/// and small bodies, written straight to the stream with one write), then
/// the stream's own output [`Buffer`] for what needs it (references, file
/// segments for `sendfile`, streamed bodies) and for waiting on a full
/// socket with the write timeout. While that buffer holds anything, `tx`
/// stays empty and new output goes behind it.
///
/// Laid out in declaration order (`repr(C)`): the fields every request
/// reads come first and then the stream, whose socket and output buffer
/// lead its own layout, so that a request touches few cache lines of its
/// connection (a server goes through many connections between two requests
/// on one).
#[repr(C)]
pub(crate) struct ConnIo<S> {
    /// The input: unread bytes are `rx[start..end]`.
    rx: Vec<u8>,
    start: usize,
    end: usize,
    tx: Vec<u8>,
    pub(crate) body: BodyState,
    /// The generation of the current body; bodies of older exchanges read
    /// nothing.
    pub(crate) gen: u64,
    eof: bool,
    /// `100 Continue` still to be sent before the first body read.
    pub(crate) continue_pending: bool,
    /// `100 Continue` is in the output, not yet flushed.
    continue_queued: bool,
    /// The last body error, for the server's answer.
    pub(crate) error: Option<Error>,
    io: BufferedStream<S>,
    read_timer: IdleTimer,
    /// Bytes of the current body read so far and the most allowed.
    pub(crate) received: u64,
    pub(crate) max_body: u64,
    pub(crate) trailers: Option<HeaderMap>,
}

impl<S> ConnIo<S> {
    /// A connection over `io`; its read timeout is
    /// [`set_read_timeout`](ConnIo::set_read_timeout)'s, the stream's own
    /// is not used (its input buffer stays empty).
    pub(crate) fn new(io: BufferedStream<S>) -> ConnIo<S> {
        ConnIo {
            io,
            rx: Vec::new(),
            start: 0,
            end: 0,
            eof: false,
            read_timer: IdleTimer::default(),
            tx: Vec::new(),
            body: BodyState::Done,
            gen: 0,
            received: 0,
            max_body: u64::MAX,
            continue_pending: false,
            continue_queued: false,
            error: None,
            trailers: None,
        }
    }

    /// The bytes read and not consumed yet.
    #[inline]
    pub(crate) fn input(&self) -> &[u8] {
        &self.rx[self.start..self.end]
    }

    /// Consumes `n` bytes of the input (at most its length).
    #[inline]
    pub(crate) fn consume(&mut self, n: usize) {
        self.start += n.min(self.end - self.start);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Whether the peer has closed its side.
    pub(crate) fn is_eof(&self) -> bool {
        self.eof
    }

    /// The idle timeout for reads (`None`: none).
    pub(crate) fn set_read_timeout(&mut self, d: Option<Duration>) {
        self.read_timer.set(d);
    }

    /// Bytes waiting to be written.
    pub(crate) fn out_len(&self) -> usize {
        self.tx.len() + self.io.output().len()
    }

    /// Appends plain bytes to the output.
    pub(crate) fn out_add(&mut self, bytes: &[u8]) -> Result<(), BufferError> {
        if self.io.output().is_empty() {
            Spare::Out.take_into(&mut self.tx);
            self.tx.extend_from_slice(bytes);
            Ok(())
        } else {
            self.io.output_mut().add(bytes)
        }
    }

    /// The output's plain-bytes vector, when new output may go there (the
    /// output buffer is empty).
    pub(crate) fn out_vec(&mut self) -> Option<&mut Vec<u8>> {
        if !self.io.output().is_empty() {
            return None;
        }
        Spare::Out.take_into(&mut self.tx);
        Some(&mut self.tx)
    }

    /// The output buffer, behind everything queued so far.
    pub(crate) fn out_buffer(&mut self) -> Result<&mut Buffer, BufferError> {
        if !self.tx.is_empty() {
            self.io.output_mut().add(&self.tx)?;
            self.tx.clear();
        }
        Ok(self.io.output_mut())
    }

    /// Starts a new body with `framing`; returns its generation.
    pub(crate) fn start_body(
        &mut self,
        framing: Framing,
        max_body: u64,
        max_trailer: usize,
    ) -> u64 {
        self.gen += 1;
        self.received = 0;
        self.max_body = max_body;
        self.error = None;
        self.trailers = None;
        self.continue_pending = false;
        self.body = match framing {
            Framing::Empty | Framing::Length(0) => BodyState::Done,
            Framing::Length(n) => BodyState::Length(n),
            Framing::Chunked => {
                BodyState::Chunked(Box::new(ChunkedDecoder::with_max_trailer(max_trailer)))
            }
            Framing::UntilClose => BodyState::UntilClose,
        };
        self.gen
    }

    /// Whether the current body has been read to its end.
    pub(crate) fn body_done(&self) -> bool {
        matches!(self.body, BodyState::Done)
    }

    /// Ends the current exchange: later reads through its body get
    /// nothing.
    pub(crate) fn retire(&mut self) {
        self.gen += 1;
    }

    fn fail(&mut self, e: Error) -> Poll<Option<Result<Vec<u8>, Error>>> {
        self.body = BodyState::Failed;
        let copy = match &e {
            Error::Io(io) => Error::Io(std::io::Error::new(io.kind(), io.to_string())),
            Error::Timeout(w) => Error::Timeout(w),
            Error::ConnectionClosed => Error::ConnectionClosed,
            Error::Protocol(s, w) => Error::Protocol(*s, w),
            Error::BodyTooLarge => Error::BodyTooLarge,
            Error::Invalid(s) => Error::Invalid(s.clone()),
            Error::Resolve(e) => Error::Invalid(e.to_string()),
        };
        self.error = Some(copy);
        Poll::Ready(Some(Err(e)))
    }

    fn count(&mut self, n: usize) -> Result<(), Error> {
        self.received += n as u64;
        if self.received > self.max_body {
            return Err(Error::BodyTooLarge);
        }
        Ok(())
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> ConnIo<S> {
    /// Reads once from the stream into the input: the number of bytes
    /// added, 0 at end of stream. Fails with `TimedOut` when the read
    /// timeout passes with nothing read.
    pub(crate) fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.eof {
            return Poll::Ready(Ok(0));
        }
        if self.end == 0 {
            // Nothing buffered: read into the thread's spare input vector
            // (see `spare`), the one most recently read into.
            Spare::In.take_into(&mut self.rx);
        }
        if self.rx.len() - self.end < READ_MIN {
            self.make_room();
        }
        let room = (self.rx.len() - self.end).min(READ_MAX);
        let dst = &mut self.rx[self.end..self.end + room];
        match Pin::new(self.io.get_mut()).poll_read(cx, dst) {
            Poll::Ready(Ok(n)) => {
                self.read_timer.progress();
                if n == 0 {
                    self.eof = true;
                }
                self.end += n;
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                if self.end == 0 {
                    // Waiting with nothing buffered: the vector goes back.
                    Spare::In.give_back(&mut self.rx);
                }
                if self.read_timer.poll_expired(cx) {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "read timed out",
                    )));
                }
                Poll::Pending
            }
        }
    }

    /// Gives the input at least [`READ_MIN`] bytes of free space at its
    /// end: unread bytes move to the front, the buffer grows if they fill
    /// it.
    #[cold]
    fn make_room(&mut self) {
        if self.start > 0 {
            self.rx.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.rx.len() - self.end < READ_MIN {
            let len = (self.rx.len() * 2).max(self.end + READ_MIN);
            self.rx.resize(len, 0);
        }
    }

    /// Writes the output: the plain bytes straight to the stream with one
    /// write when nothing else waits; what the stream does not take at once
    /// (and everything behind it) goes through the buffered stream, which
    /// waits for the socket under the write timeout.
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.tx.is_empty() && self.io.output().is_empty() {
            match Pin::new(self.io.get_mut()).poll_write(cx, &self.tx) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        "the stream accepted no bytes",
                    )))
                }
                Poll::Ready(Ok(n)) if n == self.tx.len() => {
                    self.tx.clear();
                    // All written: the vector goes back (see `spare`).
                    Spare::Out.give_back(&mut self.tx);
                    return Pin::new(self.io.get_mut()).poll_flush(cx);
                }
                Poll::Ready(Ok(n)) => {
                    self.tx.drain(..n);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {}
            }
        }
        if !self.tx.is_empty() {
            self.io.output_mut().add(&self.tx)?;
            self.tx.clear();
        }
        self.io.poll_flush_watermark(cx)
    }

    /// Writes everything, then shuts the write direction down.
    pub(crate) fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.tx.is_empty() {
            self.io.output_mut().add(&self.tx)?;
            self.tx.clear();
        }
        self.io.poll_finish(cx)
    }

    /// Reads once more from the socket: `false` at end of stream. What
    /// waits in the output starts going out first: a pipelining client
    /// may hold back the rest of this body until it has the answers to
    /// the requests before it.
    fn poll_more(&mut self, cx: &mut Context<'_>) -> Poll<Result<bool, Error>> {
        if self.out_len() > 0 {
            // Pending is fine: the socket's write readiness wakes this
            // task, which flushes on its next read of the body.
            if let Poll::Ready(Err(e)) = self.poll_flush(cx) {
                return Poll::Ready(Err(Error::from_io(e, "write")));
            }
        }
        match ready!(self.poll_fill(cx)) {
            Ok(0) => Poll::Ready(Ok(false)),
            Ok(_) => Poll::Ready(Ok(true)),
            Err(e) => Poll::Ready(Err(Error::from_io(e, "body read"))),
        }
    }

    /// The next piece of the current body.
    pub(crate) fn poll_body(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Vec<u8>, Error>>> {
        if self.continue_pending {
            if !self.continue_queued {
                if let Err(e) = self.out_add(b"HTTP/1.1 100 Continue\r\n\r\n") {
                    return self.fail(e.into());
                }
                self.continue_queued = true;
            }
            if let Err(e) = ready!(self.poll_flush(cx)) {
                return self.fail(Error::from_io(e, "write"));
            }
            self.continue_pending = false;
            self.continue_queued = false;
        }
        loop {
            match &mut self.body {
                BodyState::Done => return Poll::Ready(None),
                BodyState::Failed => {
                    return Poll::Ready(Some(Err(Error::ConnectionClosed)));
                }
                BodyState::Length(rem) => {
                    let avail = self.end - self.start;
                    if avail > 0 {
                        let n = (*rem).min(avail as u64).min(READ_CHUNK as u64) as usize;
                        *rem -= n as u64;
                        if *rem == 0 {
                            self.body = BodyState::Done;
                        }
                        let out = self.input()[..n].to_vec();
                        self.consume(n);
                        if let Err(e) = self.count(n) {
                            return self.fail(e);
                        }
                        return Poll::Ready(Some(Ok(out)));
                    }
                }
                BodyState::UntilClose => {
                    let avail = self.end - self.start;
                    if avail > 0 {
                        let n = avail.min(READ_CHUNK);
                        let out = self.input()[..n].to_vec();
                        self.consume(n);
                        if let Err(e) = self.count(n) {
                            return self.fail(e);
                        }
                        return Poll::Ready(Some(Ok(out)));
                    }
                }
                BodyState::Chunked(dec) => {
                    let mut data = None;
                    let mut finished = false;
                    let mut used_total = 0;
                    let seg = &self.rx[self.start..self.end];
                    if !seg.is_empty() {
                        match dec.decode(seg) {
                            Ok((used, Decoded::Data(d))) => {
                                data = Some(d.to_vec());
                                used_total = used;
                            }
                            Ok((used, Decoded::NeedMore)) => used_total = used,
                            Ok((used, Decoded::Done)) => {
                                used_total = used;
                                finished = true;
                            }
                            Err(e) => return self.fail(e),
                        }
                    }
                    self.consume(used_total);
                    if finished {
                        if let BodyState::Chunked(dec) = &mut self.body {
                            self.trailers = Some(dec.take_trailers());
                        }
                        self.body = BodyState::Done;
                        return Poll::Ready(None);
                    }
                    if let Some(d) = data {
                        if let Err(e) = self.count(d.len()) {
                            return self.fail(e);
                        }
                        return Poll::Ready(Some(Ok(d)));
                    }
                    if self.start != self.end {
                        continue;
                    }
                }
            }
            match ready!(self.poll_more(cx)) {
                Ok(true) => {}
                Ok(false) => {
                    if matches!(self.body, BodyState::UntilClose) {
                        self.body = BodyState::Done;
                        return Poll::Ready(None);
                    }
                    return self.fail(Error::ConnectionClosed);
                }
                Err(e) => return self.fail(e),
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> BodySource for ConnIo<S> {
    fn poll_chunk(
        &mut self,
        gen: u64,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Vec<u8>, Error>>> {
        if gen != self.gen {
            return Poll::Ready(Some(Err(Error::ConnectionClosed)));
        }
        self.poll_body(cx)
    }

    fn trailers(&self, gen: u64) -> Option<HeaderMap> {
        if gen != self.gen {
            return None;
        }
        self.trailers.clone()
    }
}
