//! [`AsyncRead`], [`AsyncBufRead`] and [`AsyncWrite`] for
//! [`BufferedStream`], on top of its read and write sides.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_io::{AsyncBufRead, AsyncRead, AsyncWrite};

use super::{BufferedStream, Transport};

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
/// [`OUTPUT_SOFT_LIMIT`](super::OUTPUT_SOFT_LIMIT) bytes); `poll_flush` sends all of it (ignoring the
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
