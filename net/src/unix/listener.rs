//! [`UnixListener`]: a listening Unix stream socket and its accept loop.

use crate::accept::Acceptor;
use crate::options::ListenOptions;
use crate::socket::Socket;
use crate::stream::impl_as_fd;
use crate::sys::{self, RawAddr};
use crate::unix::UnixStream;
use futures_core::Stream;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A listening Unix stream socket, with the same accept loop as
/// [`TcpListener`](crate::TcpListener): enable/disable, silent retry of
/// `EINTR`/`ECONNABORTED`, back-off on `EMFILE`/`ENFILE`, errors as items
/// of [`incoming`](UnixListener::incoming).
///
/// Dropping it does not remove the socket file.
///
/// ```
/// use runtime::net::{UnixListener, UnixStream};
/// runtime::block_on(async {
///     let path = std::env::temp_dir().join(format!("runtime-net-doc-{}.sock", std::process::id()));
///     let _ = std::fs::remove_file(&path);
///     let listener = UnixListener::bind(&path).unwrap();
///     let mut client = UnixStream::connect(&path).await.unwrap();
///     let (mut server, _addr) = listener.accept().await.unwrap();
///     client.write_all(b"hi").await.unwrap();
///     let mut buf = [0u8; 2];
///     server.read_exact(&mut buf).await.unwrap();
///     assert_eq!(&buf, b"hi");
///     std::fs::remove_file(&path).unwrap();
/// });
/// ```
pub struct UnixListener {
    acc: Acceptor,
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("fd", &self.acc.sock.fd())
            .field("local_addr", &self.local_addr().ok())
            .field("enabled", &self.is_enabled())
            .finish()
    }
}

impl UnixListener {
    /// Binds to a file-system path (which must not exist yet) and listens
    /// with the default backlog.
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        UnixListener::bind_with(path, ListenOptions::default())
    }

    /// Like [`bind`](Self::bind), with the options' backlog (the other
    /// options concern IP sockets only).
    pub fn bind_with<P: AsRef<Path>>(path: P, options: ListenOptions) -> io::Result<UnixListener> {
        UnixListener::bind_raw(&RawAddr::from_path(path.as_ref())?, &options)
    }

    /// Binds to `name` in Linux's abstract namespace (no file; the name
    /// vanishes with the socket).
    ///
    /// ```
    /// use runtime::net::{UnixListener, UnixStream};
    /// runtime::block_on(async {
    ///     let name = format!("runtime-net-doc-{}", std::process::id());
    ///     let l = UnixListener::bind_abstract(name.as_bytes()).unwrap();
    ///     let _c = UnixStream::connect_abstract(name.as_bytes()).await.unwrap();
    ///     assert!(l.accept().await.is_ok());
    /// });
    /// ```
    pub fn bind_abstract(name: &[u8]) -> io::Result<UnixListener> {
        UnixListener::bind_raw(&RawAddr::from_abstract(name)?, &ListenOptions::default())
    }

    fn bind_raw(addr: &RawAddr, options: &ListenOptions) -> io::Result<UnixListener> {
        let fd = sys::socket(libc::AF_UNIX, libc::SOCK_STREAM)?;
        sys::bind(fd.as_raw_fd(), addr)?;
        sys::listen(fd.as_raw_fd(), options.listen_backlog())?;
        Ok(UnixListener {
            acc: Acceptor::new(Socket::new(fd)?),
        })
    }

    /// Accepts a connection and the peer's address (usually unnamed).
    pub async fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let mut w = self.acc.waiter();
        let (fd, addr) = poll_fn(|cx| self.acc.poll_accept_with(cx, &mut w)).await?;
        Self::accepted(fd, addr)
    }

    /// Polls for one connection. Only the most recent caller's waker is
    /// kept: tasks that accept at the same time use `accept`.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(UnixStream, SocketAddr)>> {
        self.acc
            .poll_accept(cx)
            .map(|r| r.and_then(|(fd, addr)| Self::accepted(fd, addr)))
    }

    /// Registers an accepted descriptor.
    fn accepted(fd: OwnedFd, addr: RawAddr) -> io::Result<(UnixStream, SocketAddr)> {
        Ok((UnixStream::from_socket(Socket::new(fd)?), addr.to_unix()?))
    }

    /// The accepted connections as a [`Stream`]; errors are items and the
    /// stream goes on after them.
    pub fn incoming(&self) -> UnixIncoming<'_> {
        UnixIncoming { listener: self }
    }

    /// Resumes accepting.
    pub fn enable(&self) {
        self.acc.enable();
    }

    /// Stops accepting until [`enable`](Self::enable).
    pub fn disable(&self) {
        self.acc.disable();
    }

    /// Whether the listener accepts.
    pub fn is_enabled(&self) -> bool {
        self.acc.is_enabled()
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.acc.sock.local_raw()?.to_unix()
    }

    /// Reads and clears the pending socket error (`SO_ERROR`).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.acc.sock.take_error()
    }

    /// Takes over a std listener (made non-blocking here).
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        Ok(UnixListener {
            acc: Acceptor::new(Socket::from_std(listener)?),
        })
    }

    /// Deregisters and returns the std listener, still non-blocking.
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixListener> {
        Ok(self.acc.sock.into_fd().into())
    }
}

impl_as_fd!([] UnixListener, acc.sock);

/// The stream of connections of a [`UnixListener`].
#[derive(Debug)]
pub struct UnixIncoming<'a> {
    listener: &'a UnixListener,
}

impl Stream for UnixIncoming<'_> {
    type Item = io::Result<UnixStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.listener
            .poll_accept(cx)
            .map(|r| Some(r.map(|(s, _)| s)))
    }
}
