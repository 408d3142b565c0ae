//! What a bufferevent runs over ([`Conn`]: a TCP or Unix socket, one end
//! of an in-memory pair, or a TLS session over a socket or over another
//! bufferevent), how a `bufferevent_socket_connect` completes
//! ([`Connecting`], [`BevInner::poll_connect`]) and how a TLS handshake
//! completes ([`BevInner::poll_handshake`]).

use super::filter::Underlying;
use super::*;
use runtime_io::{AsyncRead, AsyncWrite};
use runtime_tls::TlsStream;

/// What a bufferevent's stream runs over.
pub(super) enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
    Pair(PairEnd),
    /// A socket or another bufferevent under TLS
    /// (`bufferevent_openssl_socket_new`, `_filter_new`).
    Tls(Box<TlsConn>),
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Conn::Tcp(s) => s.fmt(f),
            Conn::Unix(s) => s.fmt(f),
            Conn::Pair(p) => p.fmt(f),
            Conn::Tls(t) => match &t.state {
                TlsState::Handshake(_) => f.write_str("Tls(handshaking)"),
                TlsState::Ready(s) => s.fmt(f),
                TlsState::Failed(..) => f.write_str("Tls(failed)"),
            },
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
            // Without close-on-free the socket stays open for its owner
            // (the TLS session is dropped without close_notify); during a
            // handshake the socket is inside the handshake and closes
            // with it.
            // A filter's underlying bufferevent is released by the
            // filter's free (`BevInner::underlying`), not here.
            Conn::Tls(t) => match t.state {
                TlsState::Ready(s) => match s.into_inner() {
                    Sock::Tcp(s) => s.into_std().ok().map(OwnedFd::from),
                    Sock::Unix(s) => s.into_std().ok().map(OwnedFd::from),
                    Sock::Bev(_) => None,
                },
                _ => None,
            },
        };
        if let Some(fd) = fd {
            let _ = fd.into_raw_fd();
        }
    }

    /// Whether a TLS handshake has yet to finish.
    pub(super) fn is_handshaking(&self) -> bool {
        matches!(self, Conn::Tls(t) if matches!(t.state, TlsState::Handshake(_)))
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
            Conn::Tls(t) => match t.poll_ready(cx) {
                Poll::Ready(Ok(s)) => Transport::poll_read_buf(s, cx, dst, max),
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            },
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
            Conn::Tls(t) => match t.poll_ready(cx) {
                Poll::Ready(Ok(s)) => Transport::poll_write_buf(s, cx, src, max, mode),
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Conn::Tcp(s) => Transport::poll_flush(s, cx),
            Conn::Unix(s) => Transport::poll_flush(s, cx),
            Conn::Pair(p) => p.poll_flush(cx),
            Conn::Tls(t) => match &mut t.state {
                TlsState::Ready(s) => Transport::poll_flush(s, cx),
                _ => Poll::Ready(Ok(())),
            },
        }
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Conn::Tcp(s) => Transport::poll_close(s, cx),
            Conn::Unix(s) => Transport::poll_close(s, cx),
            Conn::Pair(p) => p.poll_close(cx),
            // close_notify, then the socket's close.
            Conn::Tls(t) => match &mut t.state {
                TlsState::Ready(s) => Transport::poll_close(s, cx),
                _ => Poll::Ready(Ok(())),
            },
        }
    }
}

/// What a TLS bufferevent's session runs over: a socket, or the
/// underlying bufferevent of a filter.
#[derive(Debug)]
pub(super) enum Sock {
    Tcp(TcpStream),
    Unix(UnixStream),
    Bev(Underlying),
}

impl AsyncRead for Sock {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Sock::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Sock::Unix(s) => Pin::new(s).poll_read(cx, buf),
            Sock::Bev(u) => Pin::new(u).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Sock {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Sock::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Sock::Unix(s) => Pin::new(s).poll_write(cx, buf),
            Sock::Bev(u) => Pin::new(u).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Sock::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Sock::Unix(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Sock::Bev(u) => Pin::new(u).poll_write_vectored(cx, bufs),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Sock::Tcp(s) => Pin::new(s).poll_flush(cx),
            Sock::Unix(s) => Pin::new(s).poll_flush(cx),
            Sock::Bev(u) => Pin::new(u).poll_flush(cx),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Sock::Tcp(s) => Pin::new(s).poll_close(cx),
            Sock::Unix(s) => Pin::new(s).poll_close(cx),
            Sock::Bev(u) => Pin::new(u).poll_close(cx),
        }
    }
}

type Handshake = Pin<Box<dyn Future<Output = io::Result<TlsStream<Sock>>>>>;

// The whole state lives in the `Box<TlsConn>` of `Conn::Tls`: the
// variants' sizes differ, but only one is ever allocated per connection.
#[allow(clippy::large_enum_variant)]
pub(super) enum TlsState {
    /// The handshake, driven by the bufferevent's first read or write.
    Handshake(Handshake),
    Ready(TlsStream<Sock>),
    /// The handshake's error, repeated to both directions.
    Failed(io::ErrorKind, String),
}

/// A TLS session over a socket: the handshake first, then the stream.
pub(super) struct TlsConn {
    pub(super) state: TlsState,
}

impl TlsConn {
    /// Starts the handshake of `role` over a stream socket or an
    /// underlying bufferevent (it makes progress when polled).
    pub(super) fn new(sock: Sock, role: TlsRole) -> TlsConn {
        let handshake: Handshake = match role {
            TlsRole::Accepting(acceptor) => Box::pin(async move { acceptor.accept(sock).await }),
            TlsRole::Connecting {
                connector,
                server_name,
            } => Box::pin(async move { connector.connect(&server_name, sock).await }),
        };
        TlsConn {
            state: TlsState::Handshake(handshake),
        }
    }

    /// The stream once the handshake is done, or the handshake's error
    /// (the same to every later call).
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<&mut TlsStream<Sock>>> {
        if let TlsState::Handshake(h) = &mut self.state {
            match h.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(s)) => self.state = TlsState::Ready(s),
                Poll::Ready(Err(e)) => {
                    self.state = TlsState::Failed(e.kind(), e.to_string());
                    return Poll::Ready(Err(e));
                }
            }
        }
        match &mut self.state {
            TlsState::Ready(s) => Poll::Ready(Ok(s)),
            TlsState::Failed(kind, msg) => Poll::Ready(Err(io::Error::new(
                *kind,
                format!("TLS handshake failed: {msg}"),
            ))),
            TlsState::Handshake(_) => unreachable!("replaced above"),
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
    /// Drives a TLS handshake (`HANDSHAKING`): ready once it is done or
    /// has failed, when the bit is cleared.
    pub(super) fn poll_handshake(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Ok(mut guard) = self.stream.try_borrow_mut() else {
            // Borrowed by a call in progress: look again next iteration.
            cx.waker().wake_by_ref();
            return Poll::Pending;
        };
        let r = match guard.as_mut().map(|s| s.get_mut()) {
            Some(Conn::Tls(t)) => match t.poll_ready(cx) {
                Poll::Ready(r) => Poll::Ready(r.map(|_| ())),
                Poll::Pending => Poll::Pending,
            },
            _ => Poll::Ready(Ok(())),
        };
        if r.is_ready() {
            self.status.set(bev_state::HANDSHAKING, false);
        }
        r
    }

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
