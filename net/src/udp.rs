//! [`UdpSocket`]: datagrams over IPv4 and IPv6.

use crate::batch::RecvBatch;
use crate::options::ListenOptions;
use crate::resolve::resolve;
use crate::resolve::ToSocketAddrs;
use crate::socket::Socket;
use crate::stream::impl_as_fd;
use crate::sys::{self, RawAddr};
use runtime_reactor::Direction;
use std::fmt;
use std::io::{self, IoSlice};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::task::{Context, Poll};

/// A UDP socket: non-blocking, registered with the current thread's reactor
/// (so `!Send`).
///
/// ```
/// use runtime::net::UdpSocket;
/// runtime::block_on(async {
///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
///     a.send_to(b"ping", b.local_addr().unwrap()).await.unwrap();
///     let mut buf = [0u8; 16];
///     let (n, from) = b.recv_from(&mut buf).await.unwrap();
///     assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr().unwrap()));
/// });
/// ```
pub struct UdpSocket {
    sock: Socket,
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("fd", &self.sock.fd())
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

impl UdpSocket {
    /// Binds to `addr` (literal addresses as is, host names resolved off
    /// the loop thread; each tried in turn, the last error returned).
    pub async fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        let mut last = None;
        for a in resolve(addr).await? {
            match UdpSocket::bind_addr(a) {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("resolve returns at least one address"))
    }

    /// Binds to `addr` with the socket options of [`ListenOptions`] that
    /// apply to datagrams (`SO_REUSEADDR`, `SO_REUSEPORT`, `IPV6_V6ONLY`;
    /// the backlog is ignored): with `reuse_port`, one socket per thread
    /// can share a port and the kernel spreads datagrams over them.
    pub fn bind_with(addr: SocketAddr, options: &ListenOptions) -> io::Result<UdpSocket> {
        let fd = sys::socket(RawAddr::domain_of(&addr), libc::SOCK_DGRAM)?;
        options.apply_inet(fd.as_raw_fd(), addr.is_ipv6())?;
        sys::bind(fd.as_raw_fd(), &RawAddr::from_inet(&addr))?;
        Ok(UdpSocket {
            sock: Socket::new(fd)?,
        })
    }

    /// A socket connected to `peer` at once (no resolution, nothing to
    /// await): bound to `local` first if given, else the kernel picks the
    /// source address and a random ephemeral port as `connect` binds it
    /// (one system call fewer). A connected socket receives only what
    /// `peer`'s address and port send; use [`send`](Self::send) and
    /// [`recv`](Self::recv) or [`recv_batch`](Self::recv_batch).
    ///
    /// ```
    /// use runtime::net::UdpSocket;
    /// runtime::block_on(async {
    ///     let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let c = UdpSocket::connected_to(server.local_addr().unwrap(), None).unwrap();
    ///     assert_ne!(c.local_addr().unwrap().port(), 0);
    ///     c.send(b"hi").await.unwrap();
    ///     let mut buf = [0u8; 8];
    ///     let (n, from) = server.recv_from(&mut buf).await.unwrap();
    ///     assert_eq!((&buf[..n], from), (&b"hi"[..], c.local_addr().unwrap()));
    /// });
    /// ```
    pub fn connected_to(peer: SocketAddr, local: Option<SocketAddr>) -> io::Result<UdpSocket> {
        let fd = sys::socket(RawAddr::domain_of(&peer), libc::SOCK_DGRAM)?;
        if let Some(local) = local {
            sys::bind(fd.as_raw_fd(), &RawAddr::from_inet(&local))?;
        }
        sys::connect(fd.as_raw_fd(), &RawAddr::from_inet(&peer))?;
        Ok(UdpSocket {
            sock: Socket::new(fd)?,
        })
    }

    fn bind_addr(addr: SocketAddr) -> io::Result<UdpSocket> {
        let fd = sys::socket(RawAddr::domain_of(&addr), libc::SOCK_DGRAM)?;
        sys::bind(fd.as_raw_fd(), &RawAddr::from_inet(&addr))?;
        Ok(UdpSocket {
            sock: Socket::new(fd)?,
        })
    }

    /// Sets the default destination for [`send`](Self::send) and the only
    /// source [`recv`](Self::recv) accepts.
    pub async fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        let mut last = None;
        for a in resolve(addr).await? {
            match sys::connect(self.sock.fd(), &RawAddr::from_inet(&a)) {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("resolve returns at least one address"))
    }

    /// Sends one datagram to `target`; returns the bytes sent.
    pub async fn send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        let addr = RawAddr::from_inet(&target);
        self.sock.send_to(buf, &addr).await
    }

    /// Polls for [`send_to`](Self::send_to).
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        self.sock
            .poll_send_to(None, cx, buf, &RawAddr::from_inet(&target))
    }

    /// Receives one datagram and its source. A datagram longer than `buf`
    /// is truncated.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a datagram is taken only by the poll that returns it.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (n, a) = self.sock.recv_from(buf, 0).await?;
        Ok((n, a.to_inet()?))
    }

    /// Polls for [`recv_from`](Self::recv_from).
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        match self.sock.poll_recv_from(None, cx, buf, 0) {
            Poll::Ready(Ok((n, a))) => Poll::Ready(a.to_inet().map(|a| (n, a))),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Sends each buffer of `bufs` as one datagram to the connected peer
    /// with one `sendmmsg` call (at most 64 per call); returns how many
    /// were sent, fewer when the socket's buffer filled up (send the rest
    /// again). Several tasks may wait at once.
    ///
    /// ```
    /// use runtime::net::UdpSocket;
    /// use std::io::IoSlice;
    /// runtime::block_on(async {
    ///     let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let c = UdpSocket::connected_to(server.local_addr().unwrap(), None).unwrap();
    ///     let bufs = [IoSlice::new(b"one"), IoSlice::new(b"two")];
    ///     assert_eq!(c.send_batch(&bufs).await.unwrap(), 2);
    ///     let mut buf = [0u8; 8];
    ///     for want in [&b"one"[..], b"two"] {
    ///         let (n, _) = server.recv_from(&mut buf).await.unwrap();
    ///         assert_eq!(&buf[..n], want);
    ///     }
    /// });
    /// ```
    pub async fn send_batch(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut w = self.sock.waiter(Direction::Write);
        std::future::poll_fn(|cx| self.sock.poll_send_mmsg(Some(&mut w), cx, bufs, None)).await
    }

    /// Polls for [`send_batch`](Self::send_batch) (the waker is kept in
    /// the socket's shared slot: the most recent caller wins).
    pub fn poll_send_batch(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.sock.poll_send_mmsg(None, cx, bufs, None)
    }

    /// Sends `bufs[i]` to `targets[i]`, one datagram each, with one
    /// `sendmmsg` call (at most 64 per call, and no more than the shorter
    /// of the two slices); returns how many were sent, fewer when the
    /// socket's buffer filled up or a datagram could not be sent (the next
    /// call reports why). A server answering a batch of queries at once.
    ///
    /// ```
    /// use runtime::net::UdpSocket;
    /// use std::io::IoSlice;
    /// runtime::block_on(async {
    ///     let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let to = [a.local_addr().unwrap(), b.local_addr().unwrap()];
    ///     let n = s.send_batch_to(&[IoSlice::new(b"to a"), IoSlice::new(b"to b")], &to).await.unwrap();
    ///     assert_eq!(n, 2);
    ///     let mut buf = [0u8; 8];
    ///     let (n, _) = b.recv_from(&mut buf).await.unwrap();
    ///     assert_eq!(&buf[..n], b"to b");
    /// });
    /// ```
    pub async fn send_batch_to(
        &self,
        bufs: &[IoSlice<'_>],
        targets: &[SocketAddr],
    ) -> io::Result<usize> {
        let mut w = self.sock.waiter(Direction::Write);
        let addrs = raw_addrs(targets);
        std::future::poll_fn(|cx| {
            self.sock
                .poll_send_mmsg(Some(&mut w), cx, bufs, Some(&addrs))
        })
        .await
    }

    /// Polls for [`send_batch_to`](Self::send_batch_to) (the waker is
    /// kept in the socket's shared slot: the most recent caller wins).
    pub fn poll_send_batch_to(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
        targets: &[SocketAddr],
    ) -> Poll<io::Result<usize>> {
        let addrs = raw_addrs(targets);
        self.sock.poll_send_mmsg(None, cx, bufs, Some(&addrs))
    }

    /// Receives as many datagrams as are queued, up to
    /// [`batch.capacity()`](RecvBatch::capacity), with one `recvmmsg`
    /// call; returns how many (at least one). Read them from `batch`.
    /// Several tasks may wait at once.
    pub async fn recv_batch(&self, batch: &mut RecvBatch) -> io::Result<usize> {
        let mut w = self.sock.waiter(Direction::Read);
        std::future::poll_fn(|cx| {
            let (buf, slot, out) = batch.parts();
            self.sock.poll_recv_mmsg(Some(&mut w), cx, buf, slot, out)
        })
        .await
    }

    /// Polls for [`recv_batch`](Self::recv_batch) (the waker is kept in
    /// the socket's shared slot: the most recent caller wins).
    pub fn poll_recv_batch(
        &self,
        cx: &mut Context<'_>,
        batch: &mut RecvBatch,
    ) -> Poll<io::Result<usize>> {
        let (buf, slot, out) = batch.parts();
        self.sock.poll_recv_mmsg(None, cx, buf, slot, out)
    }

    /// Like [`recv_from`](Self::recv_from) without removing the datagram.
    pub async fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (n, a) = self.sock.recv_from(buf, libc::MSG_PEEK).await?;
        Ok((n, a.to_inet()?))
    }

    /// Sends one datagram to the connected peer.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.sock.send(buf).await
    }

    /// Polls for [`send`](Self::send).
    pub fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.sock.poll_send(None, cx, buf)
    }

    /// Receives one datagram from the connected peer.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a datagram is taken only by the poll that returns it.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.sock.recv(buf, 0).await
    }

    /// Polls for [`recv`](Self::recv).
    pub fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.sock.poll_recv(None, cx, buf, 0)
    }

    /// Like [`recv`](Self::recv) without removing the datagram.
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.sock.recv(buf, libc::MSG_PEEK).await
    }

    /// Waits until a datagram can be read.
    pub async fn readable(&self) -> io::Result<()> {
        self.sock.ready(Direction::Read).await
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_raw()?.to_inet()
    }

    /// The connected peer's address (`NotConnected` if none).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock.peer_raw()?.to_inet()
    }

    /// `SO_BROADCAST`: whether datagrams may go to a broadcast address.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        sys::set_bool(self.sock.fd(), libc::SOL_SOCKET, libc::SO_BROADCAST, on)
    }

    /// `SO_BROADCAST`.
    pub fn broadcast(&self) -> io::Result<bool> {
        sys::get_bool(self.sock.fd(), libc::SOL_SOCKET, libc::SO_BROADCAST)
    }

    /// Joins the IPv4 multicast group `multiaddr` on the interface with
    /// address `interface` (`UNSPECIFIED` lets the kernel choose).
    ///
    /// ```
    /// use runtime::net::UdpSocket;
    /// use std::net::Ipv4Addr;
    /// runtime::block_on(async {
    ///     let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let group = Ipv4Addr::new(239, 255, 0, 1);
    ///     // Loopback may or may not do multicast: either way, a typed result.
    ///     if s.join_multicast_v4(&group, &Ipv4Addr::LOCALHOST).is_ok() {
    ///         s.leave_multicast_v4(&group, &Ipv4Addr::LOCALHOST).unwrap();
    ///     }
    /// });
    /// ```
    pub fn join_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        sys::setsockopt(
            self.sock.fd(),
            libc::IPPROTO_IP,
            libc::IP_ADD_MEMBERSHIP,
            mreq_v4(multiaddr, interface),
        )
    }

    /// Leaves an IPv4 multicast group.
    pub fn leave_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        sys::setsockopt(
            self.sock.fd(),
            libc::IPPROTO_IP,
            libc::IP_DROP_MEMBERSHIP,
            mreq_v4(multiaddr, interface),
        )
    }

    /// Joins the IPv6 multicast group `multiaddr` on interface index
    /// `interface` (0 lets the kernel choose).
    pub fn join_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        sys::setsockopt(
            self.sock.fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_ADD_MEMBERSHIP,
            mreq_v6(multiaddr, interface),
        )
    }

    /// Leaves an IPv6 multicast group.
    pub fn leave_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        sys::setsockopt(
            self.sock.fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_DROP_MEMBERSHIP,
            mreq_v6(multiaddr, interface),
        )
    }

    /// `IP_MULTICAST_LOOP`: whether our own IPv4 multicast comes back to us.
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        sys::set_bool(
            self.sock.fd(),
            libc::IPPROTO_IP,
            libc::IP_MULTICAST_LOOP,
            on,
        )
    }

    /// `IP_MULTICAST_LOOP`.
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        sys::get_bool(self.sock.fd(), libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP)
    }

    /// `IPV6_MULTICAST_LOOP`.
    pub fn set_multicast_loop_v6(&self, on: bool) -> io::Result<()> {
        sys::set_bool(
            self.sock.fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_MULTICAST_LOOP,
            on,
        )
    }

    /// `IPV6_MULTICAST_LOOP`.
    pub fn multicast_loop_v6(&self) -> io::Result<bool> {
        sys::get_bool(
            self.sock.fd(),
            libc::IPPROTO_IPV6,
            libc::IPV6_MULTICAST_LOOP,
        )
    }

    /// `IP_MULTICAST_TTL`: how far IPv4 multicast travels (1 = this subnet).
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        sys::setsockopt(
            self.sock.fd(),
            libc::IPPROTO_IP,
            libc::IP_MULTICAST_TTL,
            ttl as libc::c_int,
        )
    }

    /// `IP_MULTICAST_TTL`.
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        Ok(
            sys::getsockopt::<libc::c_int>(
                self.sock.fd(),
                libc::IPPROTO_IP,
                libc::IP_MULTICAST_TTL,
            )? as u32,
        )
    }

    /// `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        sys::set_ttl(self.sock.fd(), ttl)
    }

    /// `IP_TTL`.
    pub fn ttl(&self) -> io::Result<u32> {
        sys::ttl(self.sock.fd())
    }

    /// Reads and clears the pending socket error (`SO_ERROR`), such as a
    /// `ConnectionRefused` from an ICMP port-unreachable.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.sock.take_error()
    }

    /// Takes over a std socket (made non-blocking here).
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            sock: Socket::from_std(socket)?,
        })
    }

    /// Deregisters and returns the std socket, still non-blocking.
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        Ok(self.sock.into_fd().into())
    }
}

impl_as_fd!([] UdpSocket, sock);

fn mreq_v4(multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> libc::ip_mreq {
    libc::ip_mreq {
        imr_multiaddr: libc::in_addr {
            s_addr: u32::from_ne_bytes(multiaddr.octets()),
        },
        imr_interface: libc::in_addr {
            s_addr: u32::from_ne_bytes(interface.octets()),
        },
    }
}

fn mreq_v6(multiaddr: &Ipv6Addr, interface: u32) -> libc::ipv6_mreq {
    libc::ipv6_mreq {
        ipv6mr_multiaddr: libc::in6_addr {
            s6_addr: multiaddr.octets(),
        },
        ipv6mr_interface: interface,
    }
}

/// The kernel form of at most one `sendmmsg` call's worth of addresses.
fn raw_addrs(targets: &[SocketAddr]) -> Vec<RawAddr> {
    targets
        .iter()
        .take(sys::MAX_BATCH)
        .map(RawAddr::from_inet)
        .collect()
}
