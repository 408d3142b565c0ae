//! [`TcpListener`]: a listening TCP socket and its accept loop.

use crate::accept::Acceptor;
use crate::options::ListenOptions;
use crate::resolve::resolve;
use crate::resolve::ToSocketAddrs;
use crate::socket::Socket;
use crate::stream::impl_as_fd;
use crate::sys::{self, RawAddr};
use crate::tcp::TcpStream;
use futures_core::Stream;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::pin::Pin;
use std::task::{Context, Poll};

/// A listening TCP socket, registered with the current thread's reactor.
///
/// Accepting follows libevent's `evconnlistener`: the listener can be
/// [disabled](TcpListener::disable) and re-enabled; `EINTR` and
/// `ECONNABORTED` are retried silently; when descriptors run out
/// (`EMFILE`/`ENFILE`) the error is reported once and the listener backs
/// off on a timer (1 ms doubling to 100 ms) instead of spinning, and
/// accepts again once descriptors free up. Errors are items of
/// [`incoming`](TcpListener::incoming); the stream keeps going after them.
///
/// It is `!Send`: it belongs to the thread whose reactor it is registered
/// with (shard across threads with [`ListenOptions::reuse_port`]).
///
/// ```
/// use runtime::net::{TcpListener, TcpStream};
/// runtime::block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let addr = listener.local_addr().unwrap();
///     let client = runtime::spawn(async move {
///         let mut s = TcpStream::connect(addr).await.unwrap();
///         s.write_all(b"ping").await.unwrap();
///     });
///     let (mut conn, peer) = listener.accept().await.unwrap();
///     assert_eq!(peer.ip(), addr.ip());
///     let mut buf = [0u8; 4];
///     conn.read_exact(&mut buf).await.unwrap();
///     assert_eq!(&buf, b"ping");
///     client.await.unwrap();
/// });
/// ```
pub struct TcpListener {
    acc: Acceptor,
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("fd", &self.acc.sock.fd())
            .field("local_addr", &self.local_addr().ok())
            .field("enabled", &self.is_enabled())
            .finish()
    }
}

impl TcpListener {
    /// Binds and listens with the default [`ListenOptions`]. `addr` is
    /// any [`ToSocketAddrs`], borrowed or owned: a literal one is used as is, a
    /// host name is resolved on the blocking pool; each address is tried in
    /// turn and the last error returned.
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        TcpListener::bind_with(addr, ListenOptions::default()).await
    }

    /// Binds and listens with the given options.
    ///
    /// ```
    /// use runtime::net::{ListenOptions, TcpListener};
    /// runtime::block_on(async {
    ///     let l = TcpListener::bind_with("127.0.0.1:0", ListenOptions::new().backlog(8))
    ///         .await
    ///         .unwrap();
    ///     // The port is taken now: without SO_REUSEPORT a second bind fails.
    ///     let err = TcpListener::bind(l.local_addr().unwrap()).await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    /// });
    /// ```
    pub async fn bind_with<A: ToSocketAddrs>(
        addr: A,
        options: ListenOptions,
    ) -> io::Result<TcpListener> {
        let mut last = None;
        for a in resolve(addr).await? {
            match TcpListener::bind_addr(a, &options) {
                Ok(l) => return Ok(l),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("resolve returns at least one address"))
    }

    fn bind_addr(addr: SocketAddr, options: &ListenOptions) -> io::Result<TcpListener> {
        let fd = sys::socket(RawAddr::domain_of(&addr), libc::SOCK_STREAM)?;
        options.apply_inet(fd.as_raw_fd(), addr.is_ipv6())?;
        sys::bind(fd.as_raw_fd(), &RawAddr::from_inet(&addr))?;
        sys::listen(fd.as_raw_fd(), options.listen_backlog())?;
        options.apply_listening(fd.as_raw_fd())?;
        // Registered only once listening: an unconnected, non-listening
        // socket reports a hang-up that would stick.
        Ok(TcpListener {
            acc: Acceptor::new(Socket::new(fd)?),
        })
    }

    /// Binds and listens on one literal address right away, without
    /// resolving or awaiting — for code that is not async, such as
    /// libevent's `evconnlistener_new_bind`. Registered with the current
    /// thread's reactor.
    ///
    /// ```
    /// use runtime::net::{ListenOptions, TcpListener};
    /// let rt = runtime::Runtime::new().unwrap();
    /// let _in = rt.reactor().enter();
    /// let opts = ListenOptions::new().reuse_address(false).backlog(16).defer_accept(true);
    /// let l = TcpListener::bind_now("127.0.0.1:0".parse().unwrap(), &opts).unwrap();
    /// let taken = TcpListener::bind_now(l.local_addr().unwrap(), &opts).unwrap_err();
    /// assert_eq!(taken.kind(), std::io::ErrorKind::AddrInUse);
    /// ```
    pub fn bind_now(addr: SocketAddr, options: &ListenOptions) -> io::Result<TcpListener> {
        TcpListener::bind_addr(addr, options)
    }

    /// Takes over a std listener as [`from_std`](Self::from_std) does,
    /// after calling `listen(backlog)` on it (which only changes the
    /// backlog of a socket that listens already; negative means the
    /// maximum) — libevent's `evconnlistener_new` with a backlog.
    pub fn from_std_with_backlog(
        listener: std::net::TcpListener,
        backlog: i32,
    ) -> io::Result<TcpListener> {
        let backlog = if backlog < 0 { i32::MAX } else { backlog };
        sys::listen(listener.as_raw_fd(), backlog)?;
        TcpListener::from_std(listener)
    }

    /// Accepts a connection: the new stream (non-blocking, close-on-exec,
    /// registered) and the peer's address.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a connection is taken from the kernel only by the poll
    /// that returns it, so one that loses a `select!` stays queued.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let mut w = self.acc.waiter();
        let (fd, addr) = poll_fn(|cx| self.acc.poll_accept_with(cx, &mut w)).await?;
        Self::accepted(fd, addr)
    }

    /// Polls for one connection (see [`accept`](Self::accept)). Only the
    /// most recent caller's waker is kept: tasks that accept at the same
    /// time use `accept`.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        self.acc
            .poll_accept(cx)
            .map(|r| r.and_then(|(fd, addr)| Self::accepted(fd, addr)))
    }

    /// Registers an accepted descriptor.
    fn accepted(fd: OwnedFd, addr: RawAddr) -> io::Result<(TcpStream, SocketAddr)> {
        Ok((TcpStream::from_socket(Socket::new(fd)?), addr.to_inet()?))
    }

    /// The accepted connections as a [`Stream`]. An accept error is an
    /// `Err` item; the stream goes on after it. It never ends.
    ///
    /// ```
    /// use futures_core::Stream;
    /// use runtime::net::{TcpListener, TcpStream};
    /// use std::pin::pin;
    /// runtime::block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     let _c = TcpStream::connect(addr).await.unwrap();
    ///     let mut incoming = pin!(listener.incoming());
    ///     let first = std::future::poll_fn(|cx| incoming.as_mut().poll_next(cx)).await;
    ///     assert!(first.unwrap().is_ok());
    /// });
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// Resumes accepting (libevent's `evconnlistener_enable`).
    pub fn enable(&self) {
        self.acc.enable();
    }

    /// Stops accepting: `accept` and `incoming` wait (connections queue up
    /// in the kernel backlog) until [`enable`](Self::enable)
    /// (`evconnlistener_disable`).
    pub fn disable(&self) {
        self.acc.disable();
    }

    /// Whether the listener accepts.
    pub fn is_enabled(&self) -> bool {
        self.acc.is_enabled()
    }

    /// The bound address (with the port the kernel chose for port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.acc.sock.local_raw()?.to_inet()
    }

    /// Sets `IP_TTL` (inherited by accepted sockets).
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        sys::set_ttl(self.acc.sock.fd(), ttl)
    }

    /// `IP_TTL`.
    pub fn ttl(&self) -> io::Result<u32> {
        sys::ttl(self.acc.sock.fd())
    }

    /// Reads and clears the pending socket error (`SO_ERROR`).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.acc.sock.take_error()
    }

    /// Takes over a std listener (made non-blocking here).
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            acc: Acceptor::new(Socket::from_std(listener)?),
        })
    }

    /// Deregisters and returns the std listener, still non-blocking (use
    /// `set_nonblocking(false)` for blocking use).
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        Ok(self.acc.sock.into_fd().into())
    }
}

impl_as_fd!([] TcpListener, acc.sock);

/// The stream of connections of a [`TcpListener`]; see
/// [`TcpListener::incoming`].
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Stream for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.listener
            .poll_accept(cx)
            .map(|r| Some(r.map(|(s, _)| s)))
    }
}
