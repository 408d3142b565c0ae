//! [`UnixDatagram`]: Unix datagram sockets.

use crate::socket::Socket;
use crate::stream::impl_as_fd;
use crate::sys::{self, RawAddr};
use runtime_reactor::Direction;
use std::fmt;
use std::io;
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::task::{Context, Poll};

/// A Unix datagram socket: bound to a path or an abstract name, unbound,
/// or one of a pair.
///
/// ```
/// use runtime::net::UnixDatagram;
/// runtime::block_on(async {
///     let (a, b) = UnixDatagram::pair().unwrap();
///     a.send(b"one").await.unwrap();
///     let mut buf = [0u8; 8];
///     assert_eq!(b.recv(&mut buf).await.unwrap(), 3);
///     assert_eq!(&buf[..3], b"one");
/// });
/// ```
pub struct UnixDatagram {
    sock: Socket,
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixDatagram")
            .field("fd", &self.sock.fd())
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

impl UnixDatagram {
    fn new() -> io::Result<(UnixDatagram, std::os::fd::RawFd)> {
        let fd = sys::socket(libc::AF_UNIX, libc::SOCK_DGRAM)?;
        let raw = fd.as_raw_fd();
        Ok((
            UnixDatagram {
                sock: Socket::new(fd)?,
            },
            raw,
        ))
    }

    /// A socket bound to a file-system path (which must not exist yet).
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        let addr = RawAddr::from_path(path.as_ref())?;
        let (s, fd) = UnixDatagram::new()?;
        sys::bind(fd, &addr)?;
        Ok(s)
    }

    /// A socket bound to `name` in Linux's abstract namespace.
    ///
    /// ```
    /// use runtime::net::UnixDatagram;
    /// runtime::block_on(async {
    ///     let name = format!("runtime-net-dgram-doc-{}", std::process::id());
    ///     let server = UnixDatagram::bind_abstract(name.as_bytes()).unwrap();
    ///     let client = UnixDatagram::unbound().unwrap();
    ///     client.send_to_abstract(b"hi", name.as_bytes()).await.unwrap();
    ///     let mut buf = [0u8; 8];
    ///     let (n, _from) = server.recv_from(&mut buf).await.unwrap();
    ///     assert_eq!(&buf[..n], b"hi");
    /// });
    /// ```
    pub fn bind_abstract(name: &[u8]) -> io::Result<UnixDatagram> {
        let addr = RawAddr::from_abstract(name)?;
        let (s, fd) = UnixDatagram::new()?;
        sys::bind(fd, &addr)?;
        Ok(s)
    }

    /// A socket bound to no name (it can send, and receive replies only
    /// once connected or autobound).
    pub fn unbound() -> io::Result<UnixDatagram> {
        Ok(UnixDatagram::new()?.0)
    }

    /// A connected pair.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = sys::socketpair(libc::SOCK_DGRAM)?;
        Ok((
            UnixDatagram {
                sock: Socket::new(a)?,
            },
            UnixDatagram {
                sock: Socket::new(b)?,
            },
        ))
    }

    /// Sets the default destination for [`send`](Self::send) (and the only
    /// source [`recv`](Self::recv) accepts).
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        sys::connect(self.sock.fd(), &RawAddr::from_path(path.as_ref())?)
    }

    /// [`connect`](Self::connect) to an abstract name.
    pub fn connect_abstract(&self, name: &[u8]) -> io::Result<()> {
        sys::connect(self.sock.fd(), &RawAddr::from_abstract(name)?)
    }

    /// Sends one datagram to the socket at `path`.
    pub async fn send_to<P: AsRef<Path>>(&self, buf: &[u8], path: P) -> io::Result<usize> {
        let addr = RawAddr::from_path(path.as_ref())?;
        self.sock.send_to(buf, &addr).await
    }

    /// Sends one datagram to an abstract name.
    pub async fn send_to_abstract(&self, buf: &[u8], name: &[u8]) -> io::Result<usize> {
        let addr = RawAddr::from_abstract(name)?;
        self.sock.send_to(buf, &addr).await
    }

    /// Sends one datagram to a std address (as returned by
    /// [`recv_from`](Self::recv_from)); an unnamed address is an
    /// `InvalidInput` error.
    pub async fn send_to_addr(&self, buf: &[u8], addr: &SocketAddr) -> io::Result<usize> {
        let addr = RawAddr::from_unix(addr)?;
        self.sock.send_to(buf, &addr).await
    }

    /// Receives one datagram and its source address.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (n, a) = self.sock.recv_from(buf, 0).await?;
        Ok((n, a.to_unix()?))
    }

    /// Sends one datagram to the connected peer.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.sock.send(buf).await
    }

    /// Polls for [`send`](Self::send).
    pub fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.sock.poll_send(None, cx, buf)
    }

    /// Receives one datagram.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.sock.recv(buf, 0).await
    }

    /// Polls for [`recv`](Self::recv).
    pub fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.sock.poll_recv(None, cx, buf, 0)
    }

    /// Waits until a datagram can be read.
    pub async fn readable(&self) -> io::Result<()> {
        self.sock.ready(Direction::Read).await
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_raw()?.to_unix()
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock.peer_raw()?.to_unix()
    }

    /// Shuts down reading, writing or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.sock.shutdown(how)
    }

    /// Reads and clears the pending socket error (`SO_ERROR`).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock.take_error()
    }

    /// Takes over a std socket (made non-blocking here).
    pub fn from_std(socket: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            sock: Socket::from_std(socket)?,
        })
    }

    /// Deregisters and returns the std socket, still non-blocking.
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixDatagram> {
        Ok(self.sock.into_fd().into())
    }
}

impl_as_fd!([] UnixDatagram, sock);
