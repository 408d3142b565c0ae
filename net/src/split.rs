//! Owned read and write halves of a stream, sharing the socket through an
//! `Rc`: each half can move into its own task on the same thread. The
//! reader waits on the registration's read waker and the writer on its
//! write waker, so the two never steal each other's wake-ups.

use crate::socket::Socket;
use crate::stream::{impl_as_fd, impl_stream_read, impl_stream_write};
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::net::Shutdown;
use std::rc::Rc;

/// The reading half of a stream `S` ([`TcpStream`](crate::TcpStream) or
/// [`UnixStream`](crate::UnixStream)), made by `split`/`into_split`.
///
/// ```
/// use runtime::net::UnixStream;
/// runtime::block_on(async {
///     let (a, b) = UnixStream::pair().unwrap();
///     let (mut r, _w) = a.into_split();
///     let (_r2, mut w2) = b.into_split();
///     let reader = runtime::spawn(async move {
///         let mut buf = [0u8; 5];
///         r.read_exact(&mut buf).await.map(|_| buf)
///     });
///     w2.write_all(b"hello").await.unwrap();
///     assert_eq!(&reader.await.unwrap().unwrap(), b"hello");
/// });
/// ```
pub struct ReadHalf<S> {
    pub(crate) sock: Rc<Socket>,
    _stream: PhantomData<fn() -> S>,
}

/// The writing half of a stream `S`, made by `split`/`into_split`.
/// Dropping it does not shut the write direction down; call
/// [`shutdown`](WriteHalf::shutdown) (or `AsyncWrite::poll_close`) for that.
pub struct WriteHalf<S> {
    pub(crate) sock: Rc<Socket>,
    _stream: PhantomData<fn() -> S>,
}

/// The halves given to `reunite` came from different streams; here they
/// are back.
pub struct ReuniteError<S>(pub ReadHalf<S>, pub WriteHalf<S>);

impl<S> fmt::Debug for ReuniteError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReuniteError(..)")
    }
}

impl<S> fmt::Display for ReuniteError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves that are not from the same stream")
    }
}

impl<S> std::error::Error for ReuniteError<S> {}

impl<S> fmt::Debug for ReadHalf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadHalf")
            .field("fd", &self.sock.fd())
            .finish()
    }
}

impl<S> fmt::Debug for WriteHalf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteHalf")
            .field("fd", &self.sock.fd())
            .finish()
    }
}

/// Splits a stream's socket into two halves.
pub(crate) fn split<S>(sock: Socket) -> (ReadHalf<S>, WriteHalf<S>) {
    let sock = Rc::new(sock);
    (
        ReadHalf {
            sock: sock.clone(),
            _stream: PhantomData,
        },
        WriteHalf {
            sock,
            _stream: PhantomData,
        },
    )
}

impl<S> ReadHalf<S> {
    /// Whether `other` is the write half of the same stream.
    pub fn is_pair_of(&self, other: &WriteHalf<S>) -> bool {
        Rc::ptr_eq(&self.sock, &other.sock)
    }

    /// Joins the halves back into the socket, or hands them back.
    pub(crate) fn reunite_socket(self, other: WriteHalf<S>) -> Result<Socket, ReuniteError<S>> {
        if !self.is_pair_of(&other) {
            return Err(ReuniteError(self, other));
        }
        drop(other);
        match Rc::try_unwrap(self.sock) {
            Ok(sock) => Ok(sock),
            Err(_) => unreachable!("a split socket is shared by exactly its two halves"),
        }
    }
}

impl<S> WriteHalf<S> {
    /// Shuts the write direction down: the peer reads end of stream, and
    /// later writes here fail with `BrokenPipe`.
    pub fn shutdown(&self) -> io::Result<()> {
        self.sock.shutdown(Shutdown::Write)
    }

    /// Whether `other` is the read half of the same stream.
    pub fn is_pair_of(&self, other: &ReadHalf<S>) -> bool {
        Rc::ptr_eq(&self.sock, &other.sock)
    }
}

impl_stream_read!([S] ReadHalf<S>);
impl_stream_write!([S] WriteHalf<S>);
impl_as_fd!([S] ReadHalf<S>, sock);
impl_as_fd!([S] WriteHalf<S>, sock);
