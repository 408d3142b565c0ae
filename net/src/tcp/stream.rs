//! [`TcpStream`]: a connected TCP socket.

use crate::resolve::resolve;
use crate::resolve::ToSocketAddrs;
use crate::socket::Socket;
use crate::split::{self, ReadHalf, ReuniteError, WriteHalf};
use crate::stream::{impl_as_fd, impl_stream_read, impl_stream_write};
use crate::sys::{self, RawAddr};
use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::Duration;

/// A connected TCP socket: non-blocking, registered with the current
/// thread's reactor (so `!Send`), implementing `futures_io::AsyncRead` and
/// `AsyncWrite` (vectored I/O with `readv`/`sendmsg`), with inherent async
/// `read`, `write`, `write_all`, `read_exact`, `write_vectored` and `peek`.
///
/// Reads and writes try the system call first and wait only after
/// `WouldBlock`; a short read or write clears the cached readiness (the
/// kernel buffer is known empty or full), which spares the `EAGAIN` call.
/// Writes never raise `SIGPIPE`: writing after
/// [`shutdown(Write)`](TcpStream::shutdown) or to a reset peer is an error.
///
/// ```
/// use runtime::net::{TcpListener, TcpStream};
/// use std::net::Shutdown;
/// runtime::block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let mut client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
///     let (mut server, _) = listener.accept().await.unwrap();
///     client.set_nodelay(true).unwrap();
///     client.write_all(b"hi").await.unwrap();
///     client.shutdown(Shutdown::Write).unwrap();
///     let mut got = Vec::new();
///     let mut buf = [0u8; 16];
///     loop {
///         match server.read(&mut buf).await.unwrap() {
///             0 => break, // end of stream
///             n => got.extend_from_slice(&buf[..n]),
///         }
///     }
///     assert_eq!(got, b"hi");
///     assert!(client.write(b"more").await.is_err()); // BrokenPipe
/// });
/// ```
pub struct TcpStream {
    sock: Socket,
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("fd", &self.sock.fd())
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}

impl TcpStream {
    pub(crate) fn from_socket(sock: Socket) -> TcpStream {
        TcpStream { sock }
    }

    /// Connects to `addr` (a literal address is used as is, a host name is
    /// resolved on the blocking pool; each address is tried in turn and the
    /// last error returned). Port 0 is an `InvalidInput` error; a closed
    /// port is `ConnectionRefused`.
    pub async fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        let mut last = None;
        for a in resolve(addr).await? {
            match TcpStream::connect_addr(a).await {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("resolve returns at least one address"))
    }

    /// Like [`connect`](Self::connect), failing with `TimedOut` if the
    /// connection (resolution included) is not made within `timeout`. A
    /// zero timeout is an `InvalidInput` error.
    ///
    /// ```
    /// use runtime::net::{TcpListener, TcpStream};
    /// use std::time::Duration;
    /// runtime::block_on(async {
    ///     let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let s = TcpStream::connect_timeout(l.local_addr().unwrap(), Duration::from_secs(5)).await;
    ///     assert!(s.is_ok());
    /// });
    /// ```
    pub async fn connect_timeout<A: ToSocketAddrs>(
        addr: A,
        timeout: Duration,
    ) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot connect with a zero timeout",
            ));
        }
        match runtime_reactor::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("connection not made within {timeout:?}"),
            )),
        }
    }

    /// Connects to `peer` from `local`: the socket is bound to `local`
    /// first (port 0: a kernel-chosen port), so the connection leaves
    /// from that address, as a resolver's bind-to address or a multi-homed
    /// client needs. Port 0 as `peer` is an `InvalidInput` error.
    ///
    /// ```
    /// use runtime::net::{TcpListener, TcpStream};
    /// runtime::block_on(async {
    ///     let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let local = "127.0.0.1:0".parse().unwrap();
    ///     let s = TcpStream::connect_from(local, l.local_addr().unwrap()).await.unwrap();
    ///     let (_, from) = l.accept().await.unwrap();
    ///     assert_eq!(from, s.local_addr().unwrap());
    /// });
    /// ```
    pub async fn connect_from(local: SocketAddr, peer: SocketAddr) -> io::Result<TcpStream> {
        if peer.port() == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cannot connect to port 0 ({peer})"),
            ));
        }
        let fd = sys::socket(RawAddr::domain_of(&peer), libc::SOCK_STREAM)?;
        sys::bind(fd.as_raw_fd(), &RawAddr::from_inet(&local))?;
        let sock = Socket::connect(fd, &RawAddr::from_inet(&peer)).await?;
        Ok(TcpStream { sock })
    }

    async fn connect_addr(addr: SocketAddr) -> io::Result<TcpStream> {
        if addr.port() == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cannot connect to port 0 ({addr})"),
            ));
        }
        let fd = sys::socket(RawAddr::domain_of(&addr), libc::SOCK_STREAM)?;
        let sock = Socket::connect(fd, &RawAddr::from_inet(&addr)).await?;
        Ok(TcpStream { sock })
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_raw()?.to_inet()
    }

    /// The peer's address (`NotConnected` once the connection is gone).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock.peer_raw()?.to_inet()
    }

    /// Shuts down the read half, the write half or both. After
    /// `Shutdown::Write` the peer reads end of stream and writes here fail
    /// with `BrokenPipe`; after `Shutdown::Read` reads return 0.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.sock.shutdown(how)
    }

    /// `TCP_NODELAY`: send small segments at once instead of coalescing
    /// (Nagle's algorithm off).
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        sys::set_bool(self.sock.fd(), libc::IPPROTO_TCP, libc::TCP_NODELAY, on)
    }

    /// `TCP_NODELAY`.
    pub fn nodelay(&self) -> io::Result<bool> {
        sys::get_bool(self.sock.fd(), libc::IPPROTO_TCP, libc::TCP_NODELAY)
    }

    /// `Some(idle)` turns `SO_KEEPALIVE` on with probes after `idle`
    /// without traffic (`TCP_KEEPIDLE`, whole seconds, at least 1); `None`
    /// turns it off.
    pub fn set_keepalive(&self, idle: Option<Duration>) -> io::Result<()> {
        let fd = self.sock.fd();
        match idle {
            None => sys::set_bool(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE, false),
            Some(d) => {
                let secs = d.as_secs_f64().ceil().clamp(1.0, i32::MAX as f64) as libc::c_int;
                sys::setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, secs)?;
                sys::set_bool(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE, true)
            }
        }
    }

    /// The keep-alive idle time if `SO_KEEPALIVE` is on.
    pub fn keepalive(&self) -> io::Result<Option<Duration>> {
        let fd = self.sock.fd();
        if !sys::get_bool(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE)? {
            return Ok(None);
        }
        let secs: libc::c_int = sys::getsockopt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE)?;
        Ok(Some(Duration::from_secs(secs.max(0) as u64)))
    }

    /// `SO_LINGER`: `Some(d)` makes close wait up to `d` (whole seconds)
    /// for unsent data; `Some(Duration::ZERO)` makes close reset the
    /// connection (the peer gets `ConnectionReset`); `None` is the default
    /// graceful close in the background.
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        let l = libc::linger {
            l_onoff: linger.is_some() as libc::c_int,
            l_linger: linger.map_or(0, |d| d.as_secs().min(i32::MAX as u64) as libc::c_int),
        };
        sys::setsockopt(self.sock.fd(), libc::SOL_SOCKET, libc::SO_LINGER, l)
    }

    /// `SO_LINGER`.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        let l: libc::linger = sys::getsockopt(self.sock.fd(), libc::SOL_SOCKET, libc::SO_LINGER)?;
        Ok((l.l_onoff != 0).then(|| Duration::from_secs(l.l_linger.max(0) as u64)))
    }

    /// `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        sys::set_ttl(self.sock.fd(), ttl)
    }

    /// `IP_TTL`.
    pub fn ttl(&self) -> io::Result<u32> {
        sys::ttl(self.sock.fd())
    }

    /// `SO_RCVBUF` (the kernel doubles the value asked for).
    pub fn set_recv_buffer_size(&self, size: usize) -> io::Result<()> {
        let size = size.min(i32::MAX as usize) as libc::c_int;
        sys::setsockopt(self.sock.fd(), libc::SOL_SOCKET, libc::SO_RCVBUF, size)
    }

    /// `SO_RCVBUF`.
    pub fn recv_buffer_size(&self) -> io::Result<usize> {
        let n: libc::c_int = sys::getsockopt(self.sock.fd(), libc::SOL_SOCKET, libc::SO_RCVBUF)?;
        Ok(n.max(0) as usize)
    }

    /// `SO_SNDBUF` (the kernel doubles the value asked for).
    pub fn set_send_buffer_size(&self, size: usize) -> io::Result<()> {
        let size = size.min(i32::MAX as usize) as libc::c_int;
        sys::setsockopt(self.sock.fd(), libc::SOL_SOCKET, libc::SO_SNDBUF, size)
    }

    /// `SO_SNDBUF`.
    pub fn send_buffer_size(&self) -> io::Result<usize> {
        let n: libc::c_int = sys::getsockopt(self.sock.fd(), libc::SOL_SOCKET, libc::SO_SNDBUF)?;
        Ok(n.max(0) as usize)
    }

    /// Reads and clears the pending socket error (`SO_ERROR`).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock.take_error()
    }

    /// Splits into a read half and a write half that share the socket and
    /// may live in different tasks on this thread.
    ///
    /// ```
    /// use runtime::net::{TcpListener, TcpStream};
    /// runtime::block_on(async {
    ///     let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
    ///     let (s, _) = l.accept().await.unwrap();
    ///     // An echo server in two tasks: one reads, one writes.
    ///     let (mut r, mut w) = s.split();
    ///     let echo = runtime::spawn(async move {
    ///         let mut buf = [0u8; 64];
    ///         let n = r.read(&mut buf).await.unwrap();
    ///         w.write_all(&buf[..n]).await.unwrap();
    ///     });
    ///     let (mut cr, mut cw) = c.split();
    ///     cw.write_all(b"echo").await.unwrap();
    ///     let mut buf = [0u8; 4];
    ///     cr.read_exact(&mut buf).await.unwrap();
    ///     assert_eq!(&buf, b"echo");
    ///     echo.await.unwrap();
    ///     assert!(cr.reunite(cw).is_ok());
    /// });
    /// ```
    pub fn split(self) -> (ReadHalf<TcpStream>, WriteHalf<TcpStream>) {
        split::split(self.sock)
    }

    /// The same as [`split`](Self::split) (tokio's name for owned halves).
    pub fn into_split(self) -> (ReadHalf<TcpStream>, WriteHalf<TcpStream>) {
        self.split()
    }

    /// Takes over a std stream (made non-blocking here).
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            sock: Socket::from_std(stream)?,
        })
    }

    /// Deregisters and returns the std stream, still non-blocking (use
    /// `set_nonblocking(false)` for blocking use).
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        Ok(self.sock.into_fd().into())
    }
}

impl ReadHalf<TcpStream> {
    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_raw()?.to_inet()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock.peer_raw()?.to_inet()
    }

    /// Joins the halves back into the stream; halves of different streams
    /// are an error that hands them back.
    pub fn reunite(
        self,
        other: WriteHalf<TcpStream>,
    ) -> Result<TcpStream, ReuniteError<TcpStream>> {
        self.reunite_socket(other).map(TcpStream::from_socket)
    }
}

impl WriteHalf<TcpStream> {
    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_raw()?.to_inet()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock.peer_raw()?.to_inet()
    }
}

impl_stream_read!([] TcpStream);
impl_stream_write!([] TcpStream);
impl_as_fd!([] TcpStream, sock);
