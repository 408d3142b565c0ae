//! One reactor registration per descriptor, shared by every event added on
//! it (epoll accepts a descriptor only once), with a fan-out of wakers when
//! several events wait for the same direction. Level-triggered events use a
//! level registration watching what the inserted events want; `EV_ET`
//! events an edge one, checked once when added with a zero-timeout
//! `poll(2)` probe.

use runtime_reactor::{Direction, Interest, ReadyEvent, Registration};
use std::cell::{Cell, RefCell};
use std::io;
use std::os::fd::RawFd;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

/// Wakes every task that waits for one direction of a shared descriptor.
#[derive(Default)]
struct FanOut {
    wakers: Mutex<Vec<Waker>>,
}

impl FanOut {
    fn register(&self, waker: &Waker) {
        let mut list = self.wakers.lock().unwrap_or_else(|e| e.into_inner());
        if !list.iter().any(|w| w.will_wake(waker)) {
            list.push(waker.clone());
        }
    }
}

impl Wake for FanOut {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        let list = std::mem::take(&mut *self.wakers.lock().unwrap_or_else(|e| e.into_inner()));
        for w in list {
            w.wake();
        }
    }
}

/// The waiters of one direction (read, write, peer close).
struct Waiters {
    /// Inserted events waiting for this direction.
    count: Cell<u32>,
    /// The task that waits alone (the registration holds its waker); woken
    /// when a second one arrives, so both move to the fan-out.
    direct: RefCell<Option<Waker>>,
    fan: Arc<FanOut>,
    fan_waker: Waker,
}

impl Waiters {
    fn new() -> Waiters {
        let fan = Arc::new(FanOut::default());
        Waiters {
            count: Cell::new(0),
            direct: RefCell::new(None),
            fan_waker: Waker::from(fan.clone()),
            fan,
        }
    }

    fn remember_direct(&self, waker: &Waker) {
        let mut d = self.direct.borrow_mut();
        match d.as_ref() {
            Some(w) if w.will_wake(waker) => {}
            _ => *d = Some(waker.clone()),
        }
    }

    fn retain(&self) {
        let n = self.count.get() + 1;
        self.count.set(n);
        if n == 2 {
            // The lone waiter's waker sits in the registration and is about
            // to be replaced by the fan-out's: wake it so it re-registers.
            let w = self.direct.borrow_mut().take();
            if let Some(w) = w {
                w.wake();
            }
        }
    }

    fn release(&self) {
        self.count.set(self.count.get().saturating_sub(1));
    }
}

/// Index of the peer-close waiters.
const CLOSED: usize = 2;

fn dir_index(dir: Direction) -> usize {
    match dir {
        Direction::Read => 0,
        Direction::Write => 1,
    }
}

/// A descriptor registered with the base's reactor, shared by the events
/// inserted on it.
pub(crate) struct FdEntry {
    pub(crate) reg: Registration,
    /// Whether the events on it are edge-triggered (they must all agree,
    /// as in libevent).
    pub(crate) et: bool,
    /// Inserted events using the entry.
    pub(crate) users: Cell<u32>,
    waiters: [Waiters; 3],
}

impl FdEntry {
    pub(crate) fn new(reg: Registration, et: bool) -> FdEntry {
        FdEntry {
            reg,
            et,
            users: Cell::new(0),
            waiters: [Waiters::new(), Waiters::new(), Waiters::new()],
        }
    }

    /// An event waiting for `read`/`write`/`closed` starts using the entry.
    /// Fails when a level registration cannot watch the new interest (the
    /// caller then releases).
    pub(crate) fn retain(&self, read: bool, write: bool, closed: bool) -> io::Result<()> {
        self.users.set(self.users.get() + 1);
        for (i, on) in [read, write, closed].into_iter().enumerate() {
            if on {
                self.waiters[i].retain();
            }
        }
        self.update_interest()
    }

    /// The reverse of [`retain`](Self::retain); returns the users left.
    pub(crate) fn release(&self, read: bool, write: bool, closed: bool) -> u32 {
        for (i, on) in [read, write, closed].into_iter().enumerate() {
            if on {
                self.waiters[i].release();
            }
        }
        let n = self.users.get().saturating_sub(1);
        self.users.set(n);
        if n > 0 {
            // The descriptor may be closed already; it then watches
            // nothing. (The last user's release drops the registration.)
            let _ = self.update_interest();
        }
        n
    }

    /// A level registration watches exactly the directions some inserted
    /// event waits for (libevent's `epoll_ctl` on add/del); the edge one
    /// watches everything.
    fn update_interest(&self) -> io::Result<()> {
        if !self.reg.is_level() {
            return Ok(());
        }
        self.reg.set_interest(Interest {
            read: self.waiters[0].count.get() > 0,
            write: self.waiters[1].count.get() > 0,
            closed: self.waiters[CLOSED].count.get() > 0,
        })
    }

    /// [`Registration::poll_ready`], with the waker fanned out when more
    /// than one event waits for the direction.
    pub(crate) fn poll_ready(
        &self,
        dir: Direction,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<ReadyEvent>> {
        let w = &self.waiters[dir_index(dir)];
        if w.count.get() <= 1 {
            let r = self.reg.poll_ready(dir, cx);
            if r.is_pending() {
                w.remember_direct(cx.waker());
            }
            r
        } else {
            w.fan.register(cx.waker());
            self.reg
                .poll_ready(dir, &mut Context::from_waker(&w.fan_waker))
        }
    }

    /// [`Registration::poll_closed`], fanned out like
    /// [`poll_ready`](Self::poll_ready).
    pub(crate) fn poll_closed(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let w = &self.waiters[CLOSED];
        if w.count.get() <= 1 {
            let r = self.reg.poll_closed(cx);
            if r.is_pending() {
                w.remember_direct(cx.waker());
            }
            r
        } else {
            w.fan.register(cx.waker());
            self.reg.poll_closed(&mut Context::from_waker(&w.fan_waker))
        }
    }
}

/// What a zero-timeout probe saw.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Probe {
    pub(crate) read: bool,
    pub(crate) write: bool,
    /// The descriptor is not open (`POLLNVAL`): it was closed while an
    /// event on it was pending.
    pub(crate) invalid: bool,
}

/// Asks the kernel, without waiting, whether `fd` is readable and/or
/// writable right now: one `poll(2)` with a zero timeout. An interrupted
/// or failed probe answers "ready" for what was asked, so the callback
/// runs and finds out (an event is never lost, at worst it fires once
/// for nothing).
pub(crate) fn probe(fd: RawFd, read: bool, write: bool) -> Probe {
    let mut events: libc::c_short = 0;
    if read {
        events |= libc::POLLIN | libc::POLLRDHUP;
    }
    if write {
        events |= libc::POLLOUT;
    }
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: one live pollfd, count 1, zero timeout: never blocks.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    if n < 0 {
        return Probe {
            read,
            write,
            invalid: false,
        };
    }
    let r = p.revents;
    if r & libc::POLLNVAL != 0 {
        return Probe {
            read: false,
            write: false,
            invalid: true,
        };
    }
    let any = libc::POLLHUP | libc::POLLERR;
    Probe {
        read: read && r & (libc::POLLIN | libc::POLLRDHUP | any) != 0,
        write: write && r & (libc::POLLOUT | any) != 0,
        invalid: false,
    }
}

/// `EBADF` unless `fd` is an open descriptor.
pub(crate) fn check_open(fd: RawFd) -> io::Result<()> {
    if fd < 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid descriptor {fd}"),
        ));
    }
    // SAFETY: F_GETFD only reads the descriptor's flags.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
