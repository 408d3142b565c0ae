//! [`TcpConnecting`]: a TCP connect started without waiting, for callers
//! that drive it from their own poll loop (libevent's
//! `bufferevent_socket_connect`): the socket exists at once, the outcome
//! comes later.

use crate::socket::Socket;
use crate::sys::{self, RawAddr};
use crate::tcp::TcpStream;
use runtime_reactor::Direction;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::task::{Context, Poll};

enum State {
    /// `connect` returned `EINPROGRESS`: registered, waiting for the
    /// socket to become writable.
    InProgress(Socket),
    /// Connected at once (or the outcome was already polled as a success).
    Connected(Socket),
    /// Refused at once (a loopback peer answers within `connect`): the
    /// unregistered socket and the error, reported by the first poll.
    Failed(OwnedFd, io::Error),
    /// The outcome was returned.
    Done,
}

/// A non-blocking TCP connect in progress: made by
/// [`TcpStream::connect_nonblocking`], completed by
/// [`poll_connect`](TcpConnecting::poll_connect), which gives the connected
/// [`TcpStream`] or the error.
///
/// ```
/// use runtime::net::{TcpListener, TcpStream};
/// use std::future::poll_fn;
/// runtime::block_on(async {
///     let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let mut c = TcpStream::connect_nonblocking(l.local_addr().unwrap()).unwrap();
///     assert!(c.fd() >= 0); // the socket exists before the outcome is known
///     let stream = poll_fn(|cx| c.poll_connect(cx)).await.unwrap();
///     assert_eq!(stream.peer_addr().unwrap(), l.local_addr().unwrap());
///
///     // A refused connect is an error of the poll, never of the start.
///     let port = l.local_addr().unwrap().port();
///     drop(l);
///     let mut c = TcpStream::connect_nonblocking(([127, 0, 0, 1], port).into()).unwrap();
///     let err = poll_fn(|cx| c.poll_connect(cx)).await.unwrap_err();
///     assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
/// });
/// ```
pub struct TcpConnecting {
    state: State,
}

impl fmt::Debug for TcpConnecting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::InProgress(_) => "in progress",
            State::Connected(_) => "connected",
            State::Failed(..) => "failed",
            State::Done => "done",
        };
        f.debug_struct("TcpConnecting")
            .field("fd", &self.fd())
            .field("state", &state)
            .finish()
    }
}

impl TcpStream {
    /// Starts connecting to `addr` and returns at once (libevent's
    /// `bufferevent_socket_connect`): a non-blocking, close-on-exec socket
    /// registered with the current thread's reactor. The outcome — the
    /// stream, or the error (`ConnectionRefused`, `TimedOut` from the
    /// kernel …) — comes from [`TcpConnecting::poll_connect`]; a refusal
    /// reported at once (as a loopback peer does) waits for that poll too.
    ///
    /// Errors here: port 0, no socket left, an address the kernel rejects
    /// outright (`ENETUNREACH` …), outside a runtime.
    pub fn connect_nonblocking(addr: SocketAddr) -> io::Result<TcpConnecting> {
        if addr.port() == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cannot connect to port 0 ({addr})"),
            ));
        }
        let fd = sys::socket(RawAddr::domain_of(&addr), libc::SOCK_STREAM)?;
        // Registered only after connect started: an unconnected socket
        // reports a hang-up that would stick.
        let state = match sys::connect(fd.as_raw_fd(), &RawAddr::from_inet(&addr)) {
            Ok(()) => State::Connected(Socket::new(fd)?),
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {
                let sock = Socket::new(fd)?;
                sock.forget_write_readiness()?;
                State::InProgress(sock)
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => State::Failed(fd, e),
            Err(e) => return Err(e),
        };
        Ok(TcpConnecting { state })
    }
}

impl TcpConnecting {
    /// The socket's descriptor; -1 once the outcome was returned.
    pub fn fd(&self) -> RawFd {
        match &self.state {
            State::InProgress(s) | State::Connected(s) => s.fd(),
            State::Failed(fd, _) => fd.as_raw_fd(),
            State::Done => -1,
        }
    }

    /// Polls for the outcome: the connected stream, or the error (the
    /// socket is closed then). Polling again after the outcome is an
    /// error.
    pub fn poll_connect(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<TcpStream>> {
        if let State::InProgress(sock) = &self.state {
            // Writable (or an error/hang-up, which also wakes a writer)
            // means the outcome is known; the op itself does nothing.
            match sock.poll_io(None, Direction::Write, cx, || Ok(())) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => {
                    self.state = State::Done;
                    return Poll::Ready(Err(e));
                }
                Poll::Ready(Ok(())) => {}
            }
        }
        match std::mem::replace(&mut self.state, State::Done) {
            State::InProgress(sock) => Poll::Ready(match sys::take_error(sock.fd()) {
                Ok(None) => Ok(TcpStream::from_socket(sock)),
                Ok(Some(e)) | Err(e) => Err(e),
            }),
            State::Connected(sock) => Poll::Ready(Ok(TcpStream::from_socket(sock))),
            State::Failed(_fd, e) => Poll::Ready(Err(e)),
            State::Done => Poll::Ready(Err(io::Error::other(
                "TcpConnecting polled after its outcome was returned",
            ))),
        }
    }

    /// Gives up: deregisters and returns the descriptor (still connecting,
    /// or failed), to keep it open; `None` once the outcome was returned.
    pub fn into_fd(self) -> Option<OwnedFd> {
        match self.state {
            State::InProgress(s) | State::Connected(s) => Some(s.into_fd()),
            State::Failed(fd, _) => Some(fd),
            State::Done => None,
        }
    }
}
