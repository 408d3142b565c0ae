//! What a bufferevent runs over ([`Conn`]: a TCP or Unix socket, or one
//! end of an in-memory pair) and how a `bufferevent_socket_connect`
//! completes ([`Connecting`], [`BevInner::poll_connect`]).

use super::*;

/// What a bufferevent's stream runs over.
pub(super) enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
    Pair(PairEnd),
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Conn::Tcp(s) => s.fmt(f),
            Conn::Unix(s) => s.fmt(f),
            Conn::Pair(p) => p.fmt(f),
        }
    }
}

impl Conn {
    /// Wraps a stream socket (TCP or Unix), registering it with the
    /// current reactor.
    pub(super) fn from_fd(fd: OwnedFd) -> io::Result<Conn> {
        Ok(match StreamSocket::from_fd(fd)? {
            StreamSocket::Tcp(s) => Conn::Tcp(s),
            StreamSocket::Unix(s) => Conn::Unix(s),
        })
    }

    /// Releases the connection: closes it, or (without close-on-free)
    /// deregisters it and leaves the descriptor open for its owner.
    pub(super) fn release(self, close: bool) {
        if close {
            return;
        }
        let fd: Option<OwnedFd> = match self {
            Conn::Tcp(s) => s.into_std().ok().map(OwnedFd::from),
            Conn::Unix(s) => s.into_std().ok().map(OwnedFd::from),
            Conn::Pair(_) => None,
        };
        if let Some(fd) = fd {
            let _ = fd.into_raw_fd();
        }
    }
}

impl Transport for Conn {
    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        dst: &mut Buffer,
        max: usize,
    ) -> Poll<io::Result<usize>> {
        match self {
            Conn::Tcp(s) => Transport::poll_read_buf(s, cx, dst, max),
            Conn::Unix(s) => Transport::poll_read_buf(s, cx, dst, max),
            Conn::Pair(p) => p.poll_read_buf(cx, dst, max),
        }
    }

    fn poll_write_buf(
        &mut self,
        cx: &mut Context<'_>,
        src: &mut Buffer,
        max: usize,
        mode: FlushMode,
    ) -> Poll<io::Result<usize>> {
        match self {
            Conn::Tcp(s) => Transport::poll_write_buf(s, cx, src, max, mode),
            Conn::Unix(s) => Transport::poll_write_buf(s, cx, src, max, mode),
            Conn::Pair(p) => p.poll_write_buf(cx, src, max, mode),
        }
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Conn::Tcp(s) => Transport::poll_flush(s, cx),
            Conn::Unix(s) => Transport::poll_flush(s, cx),
            Conn::Pair(p) => p.poll_flush(cx),
        }
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Conn::Tcp(s) => Transport::poll_close(s, cx),
            Conn::Unix(s) => Transport::poll_close(s, cx),
            Conn::Pair(p) => p.poll_close(cx),
        }
    }
}

/// A connect in progress (`bufferevent_socket_connect`).
pub(super) struct Connecting {
    pub(super) conn: TcpConnecting,
    /// The write timeout, which covers the connect as in libevent.
    pub(super) timer: Option<Sleep>,
}

pub(super) enum ConnectFail {
    Timeout,
    Error(io::Error),
}

impl BevInner {
    pub(super) fn poll_connect(&self, cx: &mut Context<'_>) -> Poll<Result<(), ConnectFail>> {
        let mut guard = self.connecting.borrow_mut();
        let Some(st) = guard.as_mut() else {
            return Poll::Pending;
        };
        let outcome = match st.conn.poll_connect(cx) {
            Poll::Ready(r) => r.map_err(ConnectFail::Error),
            Poll::Pending => {
                let Some(d) = self.timeouts.get().1 else {
                    return Poll::Pending;
                };
                if st.timer.is_none() {
                    match Instant::now().checked_add(d) {
                        Some(at) => st.timer = Some(sleep_until(at)),
                        None => return Poll::Pending,
                    }
                }
                match st.timer.as_mut().map(|t| t.poll_sleep(cx)) {
                    Some(Poll::Ready(())) => Err(ConnectFail::Timeout),
                    _ => return Poll::Pending,
                }
            }
        };
        // Done: dropping the state closes a socket that failed or timed out.
        let st = guard.take();
        drop(guard);
        drop(st);
        match outcome {
            Ok(stream) => {
                self.install(Conn::Tcp(stream));
                Poll::Ready(Ok(()))
            }
            Err(f) => {
                self.fd.set(-1);
                Poll::Ready(Err(f))
            }
        }
    }
}
