//! One reactor registration per descriptor, shared by every event added on
//! it (epoll accepts a descriptor only once). Each event waits in the
//! registration's own waiter lists with a key of its own per direction
//! ([`Registration::poll_ready_keyed`]), so several events waiting for the
//! same direction are all woken. Level-triggered events use a level
//! registration watching what the inserted events want; `EV_ET` events an
//! edge one, checked once when added with a zero-timeout `poll(2)` probe.

use runtime_reactor::{Direction, Interest, ReadyEvent, Registration, WaitKey};
use std::cell::Cell;
use std::io;
use std::os::fd::RawFd;
use std::task::{Context, Poll};

/// Index of the peer-close waiters in [`EventWaits`] and the counts.
const CLOSED: usize = 2;

fn dir_index(dir: Direction) -> usize {
    match dir {
        Direction::Read => 0,
        Direction::Write => 1,
    }
}

/// An event's places in its descriptor's waiter lists: read, write, peer
/// close.
pub(crate) type EventWaits = [WaitKey; 3];

/// A descriptor registered with the base's reactor, shared by the events
/// inserted on it.
pub(crate) struct FdEntry {
    pub(crate) reg: Registration,
    /// Whether the events on it are edge-triggered (they must all agree,
    /// as in libevent).
    pub(crate) et: bool,
    /// Inserted events using the entry.
    pub(crate) users: Cell<u32>,
    /// Inserted events waiting for reading, writing, peer close.
    counts: [Cell<u32>; 3],
}

impl FdEntry {
    pub(crate) fn new(reg: Registration, et: bool) -> FdEntry {
        FdEntry {
            reg,
            et,
            users: Cell::new(0),
            counts: [Cell::new(0), Cell::new(0), Cell::new(0)],
        }
    }

    /// An event waiting for `read`/`write`/`closed` starts using the entry.
    /// Fails when a level registration cannot watch the new interest (the
    /// caller then releases).
    pub(crate) fn retain(&self, read: bool, write: bool, closed: bool) -> io::Result<()> {
        self.users.set(self.users.get() + 1);
        for (i, on) in [read, write, closed].into_iter().enumerate() {
            if on {
                self.counts[i].set(self.counts[i].get() + 1);
            }
        }
        self.update_interest()
    }

    /// The reverse of [`retain`](Self::retain), taking the event's waiter
    /// entries out of the lists; returns the users left.
    pub(crate) fn release(
        &self,
        read: bool,
        write: bool,
        closed: bool,
        waits: &mut EventWaits,
    ) -> u32 {
        self.reg.remove_waiter(Direction::Read, &mut waits[0]);
        self.reg.remove_waiter(Direction::Write, &mut waits[1]);
        self.reg.remove_closed_waiter(&mut waits[CLOSED]);
        for (i, on) in [read, write, closed].into_iter().enumerate() {
            if on {
                self.counts[i].set(self.counts[i].get().saturating_sub(1));
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
            read: self.counts[0].get() > 0,
            write: self.counts[1].get() > 0,
            closed: self.counts[CLOSED].get() > 0,
        })
    }

    /// [`Registration::poll_ready_keyed`] with the event's entry for `dir`.
    pub(crate) fn poll_ready(
        &self,
        dir: Direction,
        cx: &mut Context<'_>,
        waits: &mut EventWaits,
    ) -> Poll<io::Result<ReadyEvent>> {
        self.reg
            .poll_ready_keyed(dir, cx, &mut waits[dir_index(dir)])
    }

    /// [`Registration::poll_closed_keyed`] with the event's entry.
    pub(crate) fn poll_closed(
        &self,
        cx: &mut Context<'_>,
        waits: &mut EventWaits,
    ) -> Poll<io::Result<()>> {
        self.reg.poll_closed_keyed(cx, &mut waits[CLOSED])
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
