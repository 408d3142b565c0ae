//! The write side of a [`BufferedStream`]: buffering writes, flushing the
//! output to the inner stream (vectored writes, `sendfile`, the write
//! low watermark, the rate limit and the write timeout) and finishing.

use std::future::poll_fn;
use std::io;
use std::task::{ready, Context, Poll};

use super::ratelimit::Dir;
use super::timeouts::timed_out;
use super::{BufferedStream, FlushMode, Transport, WriteState, OUTPUT_SOFT_LIMIT};
use crate::Segment;

/// Most bytes of a file segment written through memory to wait for a
/// socket that `sendfile` found full.
const SENDFILE_PROBE: usize = 512;

impl<S: Transport> BufferedStream<S> {
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
    pub(super) fn poll_make_room(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
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
            // if the socket is full, the ordinary write below waits for it
            // — with a probe of a few bytes, not a block of the file read
            // into memory for a write the full socket most likely refuses.
            if let Some(send) = self.sendfile {
                if matches!(self.output.segments().next(), Some(Segment::File { .. })) {
                    match send(&mut self.output, &self.inner, max) {
                        Ok(n) => {
                            self.wrote(n);
                            must_call = false;
                            continue;
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            max = max.min(SENDFILE_PROBE);
                        }
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
