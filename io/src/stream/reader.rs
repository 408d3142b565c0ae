//! [`BufferedReader`] and [`BufferedWriter`]: a [`BufferedStream`] over a
//! stream that only reads (the read half of a split socket, standard
//! input, a pipe) or only writes (a write half, standard output), and
//! [`Lines`], a stream's lines as `String`s.

use super::transport::{read_buf, write_buf};
use super::{BufferedStream, FlushMode, Transport};
use crate::{Buffer, Eol};
use futures_io::{AsyncRead, AsyncWrite};
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// Makes a read-only stream a [`Transport`]: reads go straight into the
/// input buffer; writing is an `Unsupported` error.
#[derive(Debug)]
pub struct ReadOnly<R>(pub R);

/// A buffered reader: everything a [`BufferedStream`] does for reading
/// (line reading with a bounded length, `AsyncBufRead`, watermarks, read
/// timeouts) over a stream that only reads.
///
/// ```
/// use runtime::io::{BufferedReader, BufferedStream, Eol};
/// use runtime::net::{TcpListener, TcpStream};
///
/// #[runtime::main]
/// async fn main() -> std::io::Result<()> {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let mut client = BufferedStream::new(TcpStream::connect(listener.local_addr()?).await?);
///     client.write_all(b"one\ntwo\n").await?;
///     client.flush().await?;
///     drop(client);
///     let (conn, _) = listener.accept().await?;
///     let (read_half, _write_half) = conn.into_split();
///     let mut lines = BufferedReader::from_reader(read_half).lines(Eol::Lf);
///     assert_eq!(lines.next_line().await?.as_deref(), Some("one"));
///     assert_eq!(lines.next_line().await?.as_deref(), Some("two"));
///     assert_eq!(lines.next_line().await?, None);
///     Ok(())
/// }
/// ```
pub type BufferedReader<R> = BufferedStream<ReadOnly<R>>;

impl<R: AsyncRead + Unpin> BufferedStream<ReadOnly<R>> {
    /// A buffered reader over `reader`.
    pub fn from_reader(reader: R) -> BufferedReader<R> {
        BufferedStream::new(ReadOnly(reader))
    }

    /// The reader beneath.
    pub fn into_reader(self) -> R {
        self.into_inner().0
    }
}

impl<R: AsyncRead + Unpin> Transport for ReadOnly<R> {
    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        dst: &mut Buffer,
        max: usize,
    ) -> Poll<io::Result<usize>> {
        read_buf(&mut self.0, cx, dst, max)
    }

    fn poll_write_buf(
        &mut self,
        _: &mut Context<'_>,
        src: &mut Buffer,
        _: usize,
        _: FlushMode,
    ) -> Poll<io::Result<usize>> {
        if src.is_empty() {
            return Poll::Ready(Ok(0));
        }
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this buffered stream is read-only",
        )))
    }

    fn poll_flush(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Makes a write-only stream a [`Transport`]: writes are vectored over
/// the output buffer's chunks; reading is an `Unsupported` error.
#[derive(Debug)]
pub struct WriteOnly<W>(pub W);

/// A buffered writer: a [`BufferedStream`]'s output side (writes gathered
/// in the output buffer, flushed with one vectored write per system call,
/// watermarks, write timeouts) over a stream that only writes, such as
/// the write half of a split socket.
pub type BufferedWriter<W> = BufferedStream<WriteOnly<W>>;

impl<W: AsyncWrite + Unpin> BufferedStream<WriteOnly<W>> {
    /// A buffered writer over `writer`.
    pub fn from_writer(writer: W) -> BufferedWriter<W> {
        BufferedStream::new(WriteOnly(writer))
    }

    /// The writer beneath (flush first: buffered bytes are dropped).
    pub fn into_writer(self) -> W {
        self.into_inner().0
    }
}

impl<W: AsyncWrite + Unpin> Transport for WriteOnly<W> {
    fn poll_read_buf(
        &mut self,
        _: &mut Context<'_>,
        _: &mut Buffer,
        _: usize,
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this buffered stream is write-only",
        )))
    }

    fn poll_write_buf(
        &mut self,
        cx: &mut Context<'_>,
        src: &mut Buffer,
        max: usize,
        _: FlushMode,
    ) -> Poll<io::Result<usize>> {
        write_buf(&mut self.0, cx, src, max)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}

/// The lines of a buffered stream as `String`s; see
/// [`BufferedStream::lines`]. Also a `futures_core::Stream` of
/// `io::Result<String>`.
#[derive(Debug)]
pub struct Lines<S> {
    stream: BufferedStream<S>,
    eol: Eol,
}

impl<S> BufferedStream<S> {
    /// Turns the stream into its lines, each without its end of line.
    /// Lines longer than [`max_line`](BufferedStream::max_line) are a
    /// `LineTooLong` error, as for `read_line`; so is a line that is not
    /// UTF-8 (`InvalidData`).
    pub fn lines(self, eol: Eol) -> Lines<S> {
        Lines { stream: self, eol }
    }
}

impl<S: Transport> Lines<S> {
    /// The next line; `None` at end of stream.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: bytes read before a cancelled call stay in the input
    /// buffer and the next call returns the line they start.
    pub async fn next_line(&mut self) -> io::Result<Option<String>> {
        poll_fn(|cx| self.poll_next_line(cx)).await
    }

    /// Polls for [`next_line`](Self::next_line).
    pub fn poll_next_line(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<String>>> {
        match ready!(self.stream.poll_read_line(cx, self.eol))? {
            None => Poll::Ready(Ok(None)),
            Some(line) => Poll::Ready(
                String::from_utf8(line)
                    .map(Some)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
            ),
        }
    }

    /// The buffered stream back (with any bytes read past the last line).
    pub fn into_inner(self) -> BufferedStream<S> {
        self.stream
    }
}

impl<S: Transport> futures_core::Stream for Lines<S> {
    type Item = io::Result<String>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_line(cx).map(Result::transpose)
    }
}
