//! The read side of a [`BufferedStream`]: reading from the inner stream
//! into the input within the high watermark, the per-read cap, the rate
//! limit and the read timeout; plain reads out of the input.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_io::AsyncRead;

use super::ratelimit::Dir;
use super::timeouts::timed_out;
use super::{BufferedStream, Fill, Transport};
use crate::BufferError;

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
    pub(super) fn poll_fill_to(
        &mut self,
        cx: &mut Context<'_>,
        want: usize,
    ) -> Poll<io::Result<()>> {
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
    /// runtime::block_on(async {
    ///     let (mut a, mut b) = runtime::io::pair();
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
    /// [`max_size`](crate::Buffer::max_size): a length announced by the peer
    /// cannot make the input grow past its bounds.
    ///
    /// ```
    /// runtime::block_on(async {
    ///     let (mut a, mut b) = runtime::io::pair();
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
}
