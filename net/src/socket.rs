//! The core every socket type wraps: a descriptor registered with the
//! thread's reactor, and the I/O loops over it.
//!
//! Each loop tries the system call first and waits for readiness only after
//! `WouldBlock`, which is also the only moment readiness is cleared, except
//! for stream sockets where a short read (or write) already proves the
//! kernel buffer empty (or full): edge-triggered epoll reports the next
//! change, so clearing then saves the `EAGAIN` call.

use crate::sys::{self, RawAddr};
use runtime_reactor::{Direction, Readiness, ReadyEvent, Registration, Waiter};
use std::future::poll_fn;
use std::io::{self, IoSlice, IoSliceMut};
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::task::{Context, Poll};

/// A registered, non-blocking socket: the registration owns the
/// descriptor (it deregisters, then closes it).
pub(crate) struct Socket {
    reg: Registration,
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket").field("fd", &self.fd()).finish()
    }
}

/// What a successful call says about the kernel buffer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Drained {
    /// Nothing: the buffer may have more (or more room).
    Unknown,
    /// A short transfer on a stream: the buffer is empty (or full).
    Yes,
}

impl Socket {
    /// Registers a non-blocking descriptor with the current thread's reactor.
    pub(crate) fn new(fd: OwnedFd) -> io::Result<Socket> {
        Ok(Socket {
            reg: Registration::new(fd)?,
        })
    }

    /// Takes over a std socket: makes it non-blocking and registers it.
    pub(crate) fn from_std<S: Into<OwnedFd>>(s: S) -> io::Result<Socket> {
        Socket::new(sys::from_std(s)?)
    }

    pub(crate) fn fd(&self) -> RawFd {
        self.reg.fd()
    }

    pub(crate) fn as_fd(&self) -> BorrowedFd<'_> {
        self.reg.as_fd()
    }

    /// Deregisters and hands back the (still non-blocking) descriptor.
    pub(crate) fn into_fd(self) -> OwnedFd {
        self.reg
            .into_fd()
            .expect("a socket's registration owns its descriptor")
    }

    /// Forgets the optimistic write readiness a fresh registration starts
    /// with: after `connect` returned `EINPROGRESS` the socket is known not
    /// to be writable yet. Done right after registering, before the reactor
    /// can deliver an event, so no real event is lost.
    pub(crate) fn forget_write_readiness(&self) -> io::Result<()> {
        self.reg.clear(Direction::Write)
    }

    /// A waiter of its own for `dir`, for the `&self` async methods that
    /// several tasks may run at once (`recv_from`, `accept`, ...).
    pub(crate) fn waiter(&self, dir: Direction) -> Waiter<'_> {
        self.reg.waiter(dir)
    }

    /// Runs `op` once `dir` is ready; clears readiness on `WouldBlock` (and
    /// waits again) or when `op` reports the buffer drained; retries `EINTR`.
    /// The waker is kept in `w` (a future's own waiter) or, with `None`, in
    /// the registration's shared `poll_*` slot (most recent caller wins).
    fn poll_op<R>(
        &self,
        mut w: Option<&mut Waiter<'_>>,
        dir: Direction,
        cx: &mut Context<'_>,
        mut op: impl FnMut() -> io::Result<(R, Drained)>,
    ) -> Poll<io::Result<R>> {
        loop {
            let ready = match w.as_deref_mut() {
                Some(w) => {
                    debug_assert_eq!(w.direction(), dir);
                    w.poll_ready(cx)
                }
                None => self.reg.poll_ready(dir, cx),
            };
            let ev: ReadyEvent = match ready {
                Poll::Ready(Ok(ev)) => ev,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            match op() {
                Ok((r, drained)) => {
                    if drained == Drained::Yes {
                        self.reg.clear_readiness(ev);
                    }
                    return Poll::Ready(Ok(r));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.reg.clear_readiness(ev);
                    if self.only_sticky_readiness(dir) {
                        // The reactor keeps peer-close bits (they are
                        // final), so waiting on the registration would
                        // return at once, forever. Yield to the loop
                        // instead of spinning here.
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Whether the cached readiness for `dir` holds only error or hang-up
    /// bits: no fresh readable/writable event, yet `poll_ready` would say
    /// ready.
    fn only_sticky_readiness(&self, dir: Direction) -> bool {
        let r = self.reg.readiness();
        let (fresh, sticky) = match dir {
            Direction::Read => (
                Readiness::READABLE,
                Readiness::READ_CLOSED | Readiness::ERROR,
            ),
            Direction::Write => (
                Readiness::WRITABLE,
                Readiness::WRITE_CLOSED | Readiness::ERROR,
            ),
        };
        !r.intersects(fresh) && r.intersects(sticky)
    }

    /// Like [`poll_op`](Self::poll_op) for calls that never prove a drain.
    pub(crate) fn poll_io<R>(
        &self,
        w: Option<&mut Waiter<'_>>,
        dir: Direction,
        cx: &mut Context<'_>,
        mut op: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_op(w, dir, cx, || op().map(|r| (r, Drained::Unknown)))
    }

    /// Waits until `dir` is (believed) ready; any number of tasks may wait.
    pub(crate) async fn ready(&self, dir: Direction) -> io::Result<()> {
        self.reg.ready(dir).await.map(drop)
    }

    /// Stream read: 0 is end of file; a short read clears read readiness.
    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let len = buf.len();
        self.poll_op(None, Direction::Read, cx, || {
            let n = sys::recv(self.fd(), buf, 0)?;
            Ok((n, drained_if(n > 0 && n < len)))
        })
    }

    /// Stream `readv`: a short read clears read readiness.
    pub(crate) fn poll_read_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        if bufs.iter().all(|b| b.is_empty()) {
            return Poll::Ready(Ok(0));
        }
        self.poll_op(None, Direction::Read, cx, || {
            let (n, cap) = sys::readv(self.fd(), bufs)?;
            Ok((n, drained_if(n > 0 && n < cap)))
        })
    }

    /// Stream write: a short write clears write readiness.
    pub(crate) fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.poll_op(None, Direction::Write, cx, || {
            let n = sys::send(self.fd(), buf)?;
            Ok((n, drained_if(n < buf.len())))
        })
    }

    /// Stream gathering write (one `sendmsg`): a short write clears write
    /// readiness.
    pub(crate) fn poll_write_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if bufs.iter().all(|b| b.is_empty()) {
            return Poll::Ready(Ok(0));
        }
        self.poll_op(None, Direction::Write, cx, || {
            let (n, total) = sys::writev(self.fd(), bufs)?;
            Ok((n, drained_if(n < total)))
        })
    }

    /// Reads without consuming (`MSG_PEEK`).
    pub(crate) fn poll_peek(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_io(None, Direction::Read, cx, || {
            sys::recv(self.fd(), buf, libc::MSG_PEEK)
        })
    }

    /// Datagram receive (`flags` may hold `MSG_PEEK`).
    pub(crate) fn poll_recv_from(
        &self,
        w: Option<&mut Waiter<'_>>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        flags: libc::c_int,
    ) -> Poll<io::Result<(usize, RawAddr)>> {
        self.poll_io(w, Direction::Read, cx, || {
            sys::recv_from(self.fd(), buf, flags)
        })
    }

    /// Datagram receive on a connected socket.
    pub(crate) fn poll_recv(
        &self,
        w: Option<&mut Waiter<'_>>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        flags: libc::c_int,
    ) -> Poll<io::Result<usize>> {
        self.poll_io(w, Direction::Read, cx, || sys::recv(self.fd(), buf, flags))
    }

    /// Several datagrams with one `recvmmsg` into `buf` (`slot` bytes
    /// each); a batch shorter than asked proves the queue empty, so read
    /// readiness is cleared then without an extra `EAGAIN` call
    /// (edge-triggered epoll reports the next datagram).
    pub(crate) fn poll_recv_mmsg(
        &self,
        w: Option<&mut Waiter<'_>>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
        slot: usize,
        out: &mut Vec<sys::Received>,
    ) -> Poll<io::Result<usize>> {
        self.poll_op(w, Direction::Read, cx, || {
            let (n, asked) = sys::recv_mmsg(self.fd(), buf, slot, out)?;
            Ok((n, drained_if(n < asked)))
        })
    }

    /// Several datagrams with one `sendmmsg`: to the connected peer, or
    /// each to its address of `addrs`.
    pub(crate) fn poll_send_mmsg(
        &self,
        w: Option<&mut Waiter<'_>>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
        addrs: Option<&[RawAddr]>,
    ) -> Poll<io::Result<usize>> {
        self.poll_io(w, Direction::Write, cx, || {
            sys::send_mmsg(self.fd(), bufs, addrs)
        })
    }

    /// Datagram send to `addr`.
    pub(crate) fn poll_send_to(
        &self,
        w: Option<&mut Waiter<'_>>,
        cx: &mut Context<'_>,
        buf: &[u8],
        addr: &RawAddr,
    ) -> Poll<io::Result<usize>> {
        self.poll_io(w, Direction::Write, cx, || {
            sys::send_to(self.fd(), buf, addr)
        })
    }

    /// Datagram send on a connected socket.
    pub(crate) fn poll_send(
        &self,
        w: Option<&mut Waiter<'_>>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_io(w, Direction::Write, cx, || sys::send(self.fd(), buf))
    }

    // Datagram async helpers: each call waits with a waiter of its own, so
    // several tasks sharing one socket all get their datagrams.

    pub(crate) async fn recv_from(
        &self,
        buf: &mut [u8],
        flags: libc::c_int,
    ) -> io::Result<(usize, RawAddr)> {
        let mut w = self.waiter(Direction::Read);
        poll_fn(|cx| self.poll_recv_from(Some(&mut w), cx, buf, flags)).await
    }

    pub(crate) async fn recv(&self, buf: &mut [u8], flags: libc::c_int) -> io::Result<usize> {
        let mut w = self.waiter(Direction::Read);
        poll_fn(|cx| self.poll_recv(Some(&mut w), cx, buf, flags)).await
    }

    pub(crate) async fn send_to(&self, buf: &[u8], addr: &RawAddr) -> io::Result<usize> {
        let mut w = self.waiter(Direction::Write);
        poll_fn(|cx| self.poll_send_to(Some(&mut w), cx, buf, addr)).await
    }

    pub(crate) async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        let mut w = self.waiter(Direction::Write);
        poll_fn(|cx| self.poll_send(Some(&mut w), cx, buf)).await
    }

    /// Completes a non-blocking connect: waits for writability, then reads
    /// `SO_ERROR` (the kernel reports success as writable, failure as an
    /// error or hang-up, which also wake the writer).
    pub(crate) async fn finish_connect(&self) -> io::Result<()> {
        self.ready(Direction::Write).await?;
        match sys::take_error(self.fd())? {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Starts a connect to `addr` on an unregistered socket, then registers
    /// it (registering first would let the unconnected socket's `EPOLLHUP`
    /// stick) and waits for the result.
    pub(crate) async fn connect(fd: OwnedFd, addr: &RawAddr) -> io::Result<Socket> {
        let in_progress = match sys::connect(fd.as_raw_fd(), addr) {
            Ok(()) => false,
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => true,
            Err(e) => return Err(e),
        };
        let sock = Socket::new(fd)?;
        if in_progress {
            sock.forget_write_readiness()?;
            sock.finish_connect().await?;
        }
        Ok(sock)
    }

    pub(crate) fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        sys::shutdown(self.fd(), how)
    }

    /// `AsyncWrite::poll_close`: shuts the write half down; already shut
    /// (or never connected any more) is fine.
    pub(crate) fn close_write(&self) -> io::Result<()> {
        match self.shutdown(Shutdown::Write) {
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            r => r,
        }
    }

    pub(crate) fn take_error(&self) -> io::Result<Option<io::Error>> {
        sys::take_error(self.fd())
    }

    pub(crate) fn local_raw(&self) -> io::Result<RawAddr> {
        sys::local_addr(self.fd())
    }

    pub(crate) fn peer_raw(&self) -> io::Result<RawAddr> {
        sys::peer_addr(self.fd())
    }

    // Async helpers shared by the stream types and their halves.

    pub(crate) async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_read(cx, buf)).await
    }

    pub(crate) async fn read_exact(&self, mut buf: &mut [u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read(buf).await? {
                0 => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "end of stream before the buffer was filled",
                    ))
                }
                n => buf = &mut buf[n..],
            }
        }
        Ok(())
    }

    pub(crate) async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_peek(cx, buf)).await
    }

    pub(crate) async fn write(&self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_write(cx, buf)).await
    }

    pub(crate) async fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            match self.write(buf).await? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => buf = &buf[n..],
            }
        }
        Ok(())
    }

    pub(crate) async fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        poll_fn(|cx| self.poll_write_vectored(cx, bufs)).await
    }
}

fn drained_if(yes: bool) -> Drained {
    if yes {
        Drained::Yes
    } else {
        Drained::Unknown
    }
}
