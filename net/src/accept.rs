//! The accept loop shared by `TcpListener` and `UnixListener`, behaving
//! like libevent's `evconnlistener`:
//!
//! - it can be [disabled](Acceptor::disable): a disabled listener accepts
//!   nothing (connections wait in the kernel backlog) until re-enabled;
//! - `EINTR` and `ECONNABORTED` (a client gave up before being accepted)
//!   are retried silently;
//! - running out of descriptors (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`)
//!   is reported once, then the listener backs off on a timer (1 ms
//!   doubling to 100 ms) instead of spinning on a connection it cannot
//!   take, and keeps retrying until descriptors free up; a success resets
//!   the back-off;
//! - any other error is returned, and the listener keeps working.

use crate::socket::Socket;
use crate::sys::{self, RawAddr};
use runtime_reactor::time::{sleep, Sleep};
use runtime_reactor::Direction;
use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::OwnedFd;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// The first back-off after running out of descriptors.
pub const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(1);
/// The longest back-off after running out of descriptors.
pub const ACCEPT_BACKOFF_MAX: Duration = Duration::from_millis(100);

#[derive(Default)]
struct Backoff {
    /// The timer to wait for before the next `accept4`.
    sleep: Option<Sleep>,
    /// The last delay used; zero outside an episode.
    delay: Duration,
}

/// A listening socket with the accept-loop state.
pub(crate) struct Acceptor {
    pub(crate) sock: Socket,
    enabled: Cell<bool>,
    enable_waker: Cell<Option<Waker>>,
    backoff: RefCell<Backoff>,
}

impl std::fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acceptor")
            .field("fd", &self.sock.fd())
            .field("enabled", &self.enabled.get())
            .finish()
    }
}

/// Errors that mean "no descriptor or memory for the new connection".
fn is_resource_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

impl Acceptor {
    pub(crate) fn new(sock: Socket) -> Acceptor {
        Acceptor {
            sock,
            enabled: Cell::new(true),
            enable_waker: Cell::new(None),
            backoff: RefCell::new(Backoff::default()),
        }
    }

    pub(crate) fn enable(&self) {
        self.enabled.set(true);
        if let Some(w) = self.enable_waker.take() {
            w.wake();
        }
    }

    pub(crate) fn disable(&self) {
        self.enabled.set(false);
    }

    pub(crate) fn is_enabled(&self) -> bool {
        self.enabled.get()
    }

    /// Accepts one connection (see the module docs for the loop's rules).
    pub(crate) fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(OwnedFd, RawAddr)>> {
        if !self.enabled.get() {
            self.enable_waker.set(Some(cx.waker().clone()));
            return Poll::Pending;
        }
        let mut backoff = self.backoff.borrow_mut();
        if let Some(s) = backoff.sleep.as_mut() {
            if s.poll_sleep(cx).is_pending() {
                return Poll::Pending;
            }
            backoff.sleep = None;
        }
        loop {
            let res =
                self.sock
                    .poll_io(Direction::Read, cx, || match sys::accept(self.sock.fd()) {
                        // Retried silently (`poll_io` retries EINTR itself).
                        Err(e) if e.raw_os_error() == Some(libc::ECONNABORTED) => {
                            Err(io::ErrorKind::Interrupted.into())
                        }
                        r => r,
                    });
            match res {
                Poll::Ready(Err(e)) if is_resource_exhaustion(&e) => {
                    // Readiness stays set: the connection is still queued,
                    // and edge-triggered epoll will not say so again.
                    let first = backoff.delay.is_zero();
                    backoff.delay = if first {
                        ACCEPT_BACKOFF_MIN
                    } else {
                        (backoff.delay * 2).min(ACCEPT_BACKOFF_MAX)
                    };
                    let mut s = sleep(backoff.delay);
                    if first {
                        // Report once per episode; the next poll waits.
                        backoff.sleep = Some(s);
                        return Poll::Ready(Err(e));
                    }
                    if s.poll_sleep(cx).is_pending() {
                        backoff.sleep = Some(s);
                        return Poll::Pending;
                    }
                }
                Poll::Ready(Ok(r)) => {
                    backoff.delay = Duration::ZERO;
                    return Poll::Ready(Ok(r));
                }
                other => return other,
            }
        }
    }
}
