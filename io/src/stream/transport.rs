//! [`Transport`]: how a [`BufferedStream`](super::BufferedStream) moves
//! bytes between its buffers and the stream beneath, and its
//! implementation for every `AsyncRead + AsyncWrite + Unpin` stream.

use crate::{Buffer, Segment};
use futures_io::{AsyncRead, AsyncWrite};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use super::FlushMode;

/// Most chunks handed to one vectored write.
const MAX_IOVECS: usize = 64;

/// Most bytes of a file segment read into memory for one write when
/// `sendfile` is not available.
const FILE_BLOCK: usize = 64 * 1024;

/// How a [`BufferedStream`](super::BufferedStream) moves bytes between its buffers and what lies
/// beneath: implemented for every `AsyncRead + AsyncWrite + Unpin` stream
/// (reads go into the buffer's free space, writes are vectored over its
/// chunks), for [`PairEnd`](super::PairEnd) and for
/// [`Filtered`](super::Filtered) (which move chunks between
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
        read_buf(self, cx, dst, max)
    }

    fn poll_write_buf(
        &mut self,
        cx: &mut Context<'_>,
        src: &mut Buffer,
        max: usize,
        _mode: FlushMode,
    ) -> Poll<io::Result<usize>> {
        write_buf(self, cx, src, max)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(self).poll_flush(cx)
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(self).poll_close(cx)
    }
}

/// [`Transport::poll_read_buf`] over an `AsyncRead`.
pub(super) fn read_buf<R: AsyncRead + Unpin>(
    reader: &mut R,
    cx: &mut Context<'_>,
    dst: &mut Buffer,
    max: usize,
) -> Poll<io::Result<usize>> {
    // The tail's free space if it has at least half of what we may
    // read, else a fresh chunk: no copy beyond the kernel's.
    let space = dst.reserve_some(max, max.div_ceil(2))?;
    let n = ready!(Pin::new(reader).poll_read(cx, space))?;
    dst.commit(n)?;
    Poll::Ready(Ok(n))
}

/// [`Transport::poll_write_buf`] over an `AsyncWrite`: vectored over the
/// in-memory chunks, a file segment at the front through one block.
pub(super) fn write_buf<W: AsyncWrite + Unpin>(
    writer: &mut W,
    cx: &mut Context<'_>,
    src: &mut Buffer,
    max: usize,
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
        let n = ready!(Pin::new(&mut *writer).poll_write(cx, &block[..got]))?;
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
    let n = ready!(Pin::new(&mut *writer).poll_write_vectored(cx, &slices[..used]))?;
    Poll::Ready(drained(src, n))
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
