//! [`UnixStream`]: a connected Unix stream socket.

use crate::socket::Socket;
use crate::split::{self, ReadHalf, ReuniteError, WriteHalf};
use crate::stream::{impl_as_fd, impl_stream_read, impl_stream_write};
use crate::sys::{self, RawAddr};
use std::fmt;
use std::io;
use std::net::Shutdown;
use std::os::unix::net::SocketAddr;
use std::path::Path;

/// A connected Unix stream socket: the same I/O as
/// [`TcpStream`](crate::TcpStream) (`AsyncRead`/`AsyncWrite`, vectored,
/// split halves), over a path, an abstract name or a socket pair.
///
/// ```
/// use runtime::net::UnixStream;
/// use std::net::Shutdown;
/// runtime::block_on(async {
///     let (mut a, mut b) = UnixStream::pair().unwrap();
///     a.write_all(b"x").await.unwrap();
///     a.shutdown(Shutdown::Write).unwrap();
///     let mut buf = [0u8; 4];
///     assert_eq!(b.read(&mut buf).await.unwrap(), 1);
///     assert_eq!(b.read(&mut buf).await.unwrap(), 0); // end of stream
/// });
/// ```
pub struct UnixStream {
    sock: Socket,
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("fd", &self.sock.fd())
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}

impl UnixStream {
    pub(crate) fn from_socket(sock: Socket) -> UnixStream {
        UnixStream { sock }
    }

    /// Connects to the socket at `path`. A full backlog is a `WouldBlock`
    /// error (Unix sockets do not queue connects), a missing socket
    /// `NotFound`, a socket nobody listens on `ConnectionRefused`.
    pub async fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        UnixStream::connect_raw(&RawAddr::from_path(path.as_ref())?).await
    }

    /// Connects to `name` in Linux's abstract namespace.
    pub async fn connect_abstract(name: &[u8]) -> io::Result<UnixStream> {
        UnixStream::connect_raw(&RawAddr::from_abstract(name)?).await
    }

    /// Connects to a std address (a path or an abstract name).
    pub async fn connect_addr(addr: &SocketAddr) -> io::Result<UnixStream> {
        UnixStream::connect_raw(&RawAddr::from_unix(addr)?).await
    }

    async fn connect_raw(addr: &RawAddr) -> io::Result<UnixStream> {
        let fd = sys::socket(libc::AF_UNIX, libc::SOCK_STREAM)?;
        Ok(UnixStream {
            sock: Socket::connect(fd, addr).await?,
        })
    }

    /// A connected pair of streams.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = sys::socketpair(libc::SOCK_STREAM)?;
        Ok((
            UnixStream {
                sock: Socket::new(a)?,
            },
            UnixStream {
                sock: Socket::new(b)?,
            },
        ))
    }

    /// The local address (unnamed for a connecting or paired socket).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_raw()?.to_unix()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock.peer_raw()?.to_unix()
    }

    /// Shuts down the read half, the write half or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.sock.shutdown(how)
    }

    /// Reads and clears the pending socket error (`SO_ERROR`).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock.take_error()
    }

    /// Splits into halves that may live in different tasks on this thread.
    pub fn split(self) -> (ReadHalf<UnixStream>, WriteHalf<UnixStream>) {
        split::split(self.sock)
    }

    /// The same as [`split`](Self::split).
    pub fn into_split(self) -> (ReadHalf<UnixStream>, WriteHalf<UnixStream>) {
        self.split()
    }

    /// Takes over a std stream (made non-blocking here).
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            sock: Socket::from_std(stream)?,
        })
    }

    /// Deregisters and returns the std stream, still non-blocking.
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixStream> {
        Ok(self.sock.into_fd().into())
    }
}

impl ReadHalf<UnixStream> {
    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_raw()?.to_unix()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock.peer_raw()?.to_unix()
    }

    /// Joins the halves back into the stream.
    pub fn reunite(
        self,
        other: WriteHalf<UnixStream>,
    ) -> Result<UnixStream, ReuniteError<UnixStream>> {
        self.reunite_socket(other).map(UnixStream::from_socket)
    }
}

impl WriteHalf<UnixStream> {
    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_raw()?.to_unix()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock.peer_raw()?.to_unix()
    }
}

impl_stream_read!([] UnixStream);
impl_stream_write!([] UnixStream);
impl_as_fd!([] UnixStream, sock);
