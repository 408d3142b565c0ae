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
//! - any other error is returned, and the listener keeps working;
//! - any number of tasks may `accept` on one listener at once (each waits
//!   with its own entries, all are woken), while `poll_accept` keeps the
//!   most recent caller's waker, as `poll_*` methods do.

use crate::socket::Socket;
use crate::sys::{self, RawAddr};
use runtime_reactor::time::{sleep_until, Sleep};
use runtime_reactor::{Direction, WaitKey, WaitList, Waiter};
use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::OwnedFd;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The first back-off after running out of descriptors.
pub const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(1);
/// The longest back-off after running out of descriptors.
pub const ACCEPT_BACKOFF_MAX: Duration = Duration::from_millis(100);

#[derive(Default)]
struct Backoff {
    /// No `accept4` before this instant (an episode is on).
    until: Option<Instant>,
    /// The last delay used; zero outside an episode.
    delay: Duration,
}

/// A listening socket with the accept-loop state.
pub(crate) struct Acceptor {
    pub(crate) sock: Socket,
    enabled: Cell<bool>,
    /// Tasks waiting for [`enable`](Self::enable).
    enable_waiters: RefCell<WaitList>,
    backoff: RefCell<Backoff>,
    /// The back-off timer of `poll_accept` callers (futures have their own).
    shared_sleep: RefCell<Option<Sleep>>,
}

impl std::fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acceptor")
            .field("fd", &self.sock.fd())
            .field("enabled", &self.enabled.get())
            .finish()
    }
}

/// One `accept` future's wait state: its readiness waiter, its place among
/// the tasks waiting for the listener to be enabled, its back-off timer.
/// Dropping it removes the future from both lists.
pub(crate) struct AcceptWait<'a> {
    acc: &'a Acceptor,
    read: Waiter<'a>,
    enable: WaitKey,
    sleep: Option<Sleep>,
}

impl Drop for AcceptWait<'_> {
    fn drop(&mut self) {
        if self.enable.is_registered() {
            self.acc
                .enable_waiters
                .borrow_mut()
                .remove(&mut self.enable);
        }
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
            enable_waiters: RefCell::new(WaitList::new()),
            backoff: RefCell::new(Backoff::default()),
            shared_sleep: RefCell::new(None),
        }
    }

    pub(crate) fn enable(&self) {
        self.enabled.set(true);
        // Woken outside the borrow: a waker may run code that accepts.
        let mut wakers = Vec::new();
        self.enable_waiters.borrow_mut().take_wakers(&mut wakers);
        for w in wakers {
            w.wake();
        }
    }

    pub(crate) fn disable(&self) {
        self.enabled.set(false);
    }

    pub(crate) fn is_enabled(&self) -> bool {
        self.enabled.get()
    }

    /// A wait state for one `accept` future.
    pub(crate) fn waiter(&self) -> AcceptWait<'_> {
        AcceptWait {
            acc: self,
            read: self.sock.waiter(Direction::Read),
            enable: WaitKey::new(),
            sleep: None,
        }
    }

    /// Accepts one connection for a `poll_accept` caller (the most recent
    /// caller's waker is kept).
    pub(crate) fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(OwnedFd, RawAddr)>> {
        let mut sleep = self.shared_sleep.borrow_mut();
        self.poll_accept_in(cx, None, &mut sleep)
    }

    /// Accepts one connection for the future owning `w`.
    pub(crate) fn poll_accept_with(
        &self,
        cx: &mut Context<'_>,
        w: &mut AcceptWait<'_>,
    ) -> Poll<io::Result<(OwnedFd, RawAddr)>> {
        self.poll_accept_in(cx, Some((&mut w.read, &mut w.enable)), &mut w.sleep)
    }

    /// Accepts one connection (see the module docs for the loop's rules).
    /// `own` is the caller's readiness waiter and enable key; `None` uses
    /// the shared `poll_*` slots.
    fn poll_accept_in(
        &self,
        cx: &mut Context<'_>,
        mut own: Option<(&mut Waiter<'_>, &mut WaitKey)>,
        sleep: &mut Option<Sleep>,
    ) -> Poll<io::Result<(OwnedFd, RawAddr)>> {
        if !self.enabled.get() {
            let mut list = self.enable_waiters.borrow_mut();
            match own {
                None => list.set_shared(cx.waker()),
                Some((_, key)) => list.register(key, cx.waker()),
            }
            return Poll::Pending;
        }
        if let Some((_, key)) = own.as_mut() {
            if key.is_registered() {
                self.enable_waiters.borrow_mut().remove(key);
            }
        }
        loop {
            let until = self.backoff.borrow().until;
            if let Some(until) = until {
                let s = sleep.get_or_insert_with(|| sleep_until(until));
                if s.deadline() != until {
                    s.reset(until);
                }
                if s.poll_sleep(cx).is_pending() {
                    return Poll::Pending;
                }
                *sleep = None;
            }
            let read = own.as_mut().map(|(w, _)| &mut **w);
            let res = self.sock.poll_io(read, Direction::Read, cx, || {
                match sys::accept(self.sock.fd()) {
                    // Retried silently (`poll_io` retries EINTR itself).
                    Err(e) if e.raw_os_error() == Some(libc::ECONNABORTED) => {
                        Err(io::ErrorKind::Interrupted.into())
                    }
                    r => r,
                }
            });
            match res {
                Poll::Ready(Err(e)) if is_resource_exhaustion(&e) => {
                    // Readiness stays set: the connection is still queued,
                    // and edge-triggered epoll will not say so again.
                    let mut backoff = self.backoff.borrow_mut();
                    let first = backoff.delay.is_zero();
                    backoff.delay = if first {
                        ACCEPT_BACKOFF_MIN
                    } else {
                        (backoff.delay * 2).min(ACCEPT_BACKOFF_MAX)
                    };
                    backoff.until = Some(Instant::now() + backoff.delay);
                    if first {
                        // Report once per episode; the next poll waits.
                        return Poll::Ready(Err(e));
                    }
                }
                Poll::Ready(Ok(r)) => {
                    let mut backoff = self.backoff.borrow_mut();
                    backoff.delay = Duration::ZERO;
                    backoff.until = None;
                    return Poll::Ready(Ok(r));
                }
                other => return other,
            }
        }
    }
}
