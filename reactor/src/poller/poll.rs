//! The poll(2) backend: level-triggered, every descriptor kind, peer close
//! detected with `POLLRDHUP`. Timeouts use `ppoll` (nanoseconds).
//!
//! The interest table lives behind a mutex and is kept directly as the
//! `pollfd` array handed to the kernel (slot 0 is the notify descriptor), so
//! each wait copies it under the lock and blocks without the lock. When
//! another thread adds, modifies or deletes interest while a wait is blocked,
//! it interrupts the wait through the notify descriptor; the waiting thread
//! rebuilds its array and waits again for the rest of its timeout, as smol's
//! `polling` does.
//!
//! [`WakeState`] (the waiting counter, the user-notify flag and the notify
//! descriptor) is shared with the select backend.

use super::{check_fd_open, duration_to_timespec, Event, Interest};
use crate::notify::NotifyFd;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The wake-up machinery shared by the level-triggered backends.
///
/// Protocol: a waiter calls [`enter`](Self::enter) while holding its table
/// lock (before building its snapshot) and [`leave`](Self::leave) once the
/// system call returned. A thread changing interest reads
/// [`waiting`](Self::waiting) while holding the same lock, after the change,
/// and calls [`interrupt`](Self::interrupt) after unlocking if it was
/// non-zero. Both sides are serialised by the lock, so either the waiter's
/// snapshot contains the change or the changer sees the waiter and wakes it.
pub(super) struct WakeState {
    notify: NotifyFd,
    /// Threads currently between snapshot and the end of their system call.
    waiting: AtomicUsize,
    /// Set by [`notify`](Self::notify) before it writes; tells a woken waiter
    /// to return to its caller rather than re-wait.
    user_notified: AtomicBool,
    /// Bumped (under the table lock) on every interest change, so a waiter
    /// knows whether its snapshot went stale while it slept.
    generation: AtomicU64,
}

impl WakeState {
    pub(super) fn new() -> io::Result<WakeState> {
        Ok(WakeState {
            notify: NotifyFd::new()?,
            waiting: AtomicUsize::new(0),
            user_notified: AtomicBool::new(false),
            generation: AtomicU64::new(0),
        })
    }

    pub(super) fn read_fd(&self) -> RawFd {
        self.notify.read_fd()
    }

    /// Marks the calling thread as waiting; call with the table lock held.
    /// Returns the table generation of the snapshot about to be taken.
    pub(super) fn enter(&self) -> u64 {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        self.generation.load(Ordering::Acquire)
    }

    pub(super) fn leave(&self) {
        self.waiting.fetch_sub(1, Ordering::SeqCst);
    }

    /// Records an interest change; call with the table lock held, after the
    /// change. Returns whether a waiter must be interrupted.
    pub(super) fn changed(&self) -> bool {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.waiting.load(Ordering::SeqCst) > 0
    }

    /// Whether the table changed since `snapshot` was taken.
    pub(super) fn is_stale(&self, snapshot: u64) -> bool {
        self.generation.load(Ordering::Acquire) != snapshot
    }

    /// Wakes a blocked waiter so it rebuilds its snapshot (not coalesced with
    /// user notifications: the waiter must see a byte even if one of those
    /// is pending but already consumed).
    pub(super) fn interrupt(&self) -> io::Result<()> {
        self.notify.write_byte()
    }

    /// The user-facing notify: the next (or current) wait returns.
    pub(super) fn notify(&self) -> io::Result<()> {
        // The flag goes first: a waiter woken by this byte must see it, or it
        // would take the byte for an interrupt and block again.
        self.user_notified.store(true, Ordering::Release);
        self.notify.notify()
    }

    /// Called when the notify descriptor was readable: empties it and
    /// returns whether a user notification asked the wait to return.
    pub(super) fn consume(&self) -> bool {
        self.notify.drain();
        self.user_notified.swap(false, Ordering::AcqRel)
    }
}

/// Remaining time until `deadline`, or `None` once it has passed.
/// `Some(None)` means no deadline (wait forever).
pub(super) fn remaining(deadline: Option<Instant>) -> Option<Option<Duration>> {
    match deadline {
        None => Some(None),
        Some(d) => {
            let now = Instant::now();
            if now >= d {
                None
            } else {
                Some(Some(d - now))
            }
        }
    }
}

/// The absolute deadline of a wait, or `None` for forever (also when the
/// timeout is too large to represent).
pub(super) fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|t| Instant::now().checked_add(t))
}

#[derive(Clone, Copy)]
struct Entry {
    fd: RawFd,
    token: u64,
    interest: Interest,
}

struct Table {
    /// What the kernel sees; slot 0 is the notify descriptor, slot `i + 1`
    /// belongs to `entries[i]`. Entries without interest have fd -1, which
    /// poll ignores.
    pollfds: Vec<libc::pollfd>,
    entries: Vec<Entry>,
    index: HashMap<RawFd, usize>,
    /// Buffers lent to a waiter, kept to avoid allocating on every wait.
    spare: Option<(Vec<libc::pollfd>, Vec<u64>)>,
}

fn poll_events(interest: Interest) -> libc::c_short {
    let mut ev = 0;
    if interest.read {
        ev |= libc::POLLIN | libc::POLLRDHUP;
    }
    if interest.write {
        ev |= libc::POLLOUT;
    }
    if interest.closed {
        ev |= libc::POLLRDHUP;
    }
    ev
}

fn to_pollfd(fd: RawFd, interest: Interest) -> libc::pollfd {
    let events = poll_events(interest);
    libc::pollfd {
        fd: if events == 0 { -1 } else { fd },
        events,
        revents: 0,
    }
}

fn not_found(fd: RawFd) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("descriptor {fd} is not registered"),
    )
}

fn to_event(token: u64, r: libc::c_short) -> Event {
    let mut e = Event::new(token);
    e.readable = r & (libc::POLLIN | libc::POLLPRI) != 0;
    e.writable = r & libc::POLLOUT != 0;
    e.read_closed = r & (libc::POLLRDHUP | libc::POLLHUP) != 0;
    e.hup = r & libc::POLLHUP != 0;
    e.error = r & (libc::POLLERR | libc::POLLNVAL) != 0;
    if r & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
        // Let waiters in both directions retry and see the error.
        e.readable = true;
        e.writable = true;
    }
    e
}

pub(crate) struct PollBackend {
    table: Mutex<Table>,
    wake: WakeState,
}

impl PollBackend {
    pub(crate) fn new() -> io::Result<PollBackend> {
        let wake = WakeState::new()?;
        let notify = libc::pollfd {
            fd: wake.read_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let table = Table {
            pollfds: vec![notify],
            entries: Vec::new(),
            index: HashMap::new(),
            spare: None,
        };
        Ok(PollBackend {
            table: Mutex::new(table),
            wake,
        })
    }

    pub(crate) fn add(&self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
        check_fd_open(fd)?;
        let interrupt = {
            let mut t = self.table.lock();
            if t.index.contains_key(&fd) {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("descriptor {fd} is already registered"),
                ));
            }
            let i = t.entries.len();
            t.entries.push(Entry {
                fd,
                token,
                interest,
            });
            t.pollfds.push(to_pollfd(fd, interest));
            t.index.insert(fd, i);
            self.wake.changed()
        };
        if interrupt {
            self.wake.interrupt()?;
        }
        Ok(())
    }

    pub(crate) fn modify(&self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
        let interrupt = {
            let mut t = self.table.lock();
            let i = *t.index.get(&fd).ok_or_else(|| not_found(fd))?;
            t.entries[i] = Entry {
                fd,
                token,
                interest,
            };
            t.pollfds[i + 1] = to_pollfd(fd, interest);
            self.wake.changed()
        };
        if interrupt {
            self.wake.interrupt()?;
        }
        Ok(())
    }

    pub(crate) fn delete(&self, fd: RawFd) -> io::Result<()> {
        let interrupt = {
            let mut t = self.table.lock();
            let i = t.index.remove(&fd).ok_or_else(|| not_found(fd))?;
            t.entries.swap_remove(i);
            t.pollfds.swap_remove(i + 1);
            if let Some(moved) = t.entries.get(i).map(|e| e.fd) {
                t.index.insert(moved, i);
            }
            self.wake.changed()
        };
        if interrupt {
            self.wake.interrupt()?;
        }
        Ok(())
    }

    pub(crate) fn notify(&self) -> io::Result<()> {
        self.wake.notify()
    }

    pub(crate) fn wait(
        &self,
        events: &mut Vec<Event>,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        let deadline = deadline(timeout);
        let mut timeout = timeout;
        loop {
            let (mut fds, tokens, generation) = {
                let mut t = self.table.lock();
                let (mut fds, mut tokens) = t.spare.take().unwrap_or_default();
                let generation = self.wake.enter();
                fds.clear();
                fds.extend_from_slice(&t.pollfds);
                tokens.clear();
                tokens.extend(t.entries.iter().map(|e| e.token));
                (fds, tokens, generation)
            };
            let ts = timeout.map(duration_to_timespec);
            let tsp = ts
                .as_ref()
                .map_or(std::ptr::null(), |t| t as *const libc::timespec);
            // SAFETY: `fds` is a live, initialised array of `fds.len()` pollfds;
            // `tsp` is null or points to a live timespec; no signal mask.
            let n = unsafe {
                libc::ppoll(
                    fds.as_mut_ptr(),
                    fds.len() as libc::nfds_t,
                    tsp,
                    std::ptr::null(),
                )
            };
            self.wake.leave();
            let result = if n < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(n)
            };
            let mut user_notified = false;
            if let Ok(n) = result {
                if n > 0 {
                    if fds[0].revents != 0 {
                        user_notified = self.wake.consume();
                    }
                    for (pfd, &token) in fds[1..].iter().zip(&tokens) {
                        if pfd.revents != 0 {
                            events.push(to_event(token, pfd.revents));
                        }
                    }
                    if !events.is_empty() && self.wake.is_stale(generation) {
                        self.drop_stale(events, &fds[1..]);
                    }
                }
            }
            // Lend the buffers back for the next wait.
            self.table.lock().spare.get_or_insert((fds, tokens));
            match result {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
                Err(e) => return Err(e),
                Ok(0) => return Ok(()), // timed out
                Ok(_) => {}
            }
            if user_notified || !events.is_empty() {
                return Ok(());
            }
            // Woken only to pick up an interest change: wait again for the rest.
            match remaining(deadline) {
                None => return Ok(()),
                Some(rest) => timeout = rest,
            }
        }
    }

    /// Drops events for descriptors deleted (or re-registered under another
    /// token, or with their interest removed) while the wait was blocked.
    fn drop_stale(&self, events: &mut Vec<Event>, fds: &[libc::pollfd]) {
        let t = self.table.lock();
        let mut ready = fds.iter().filter(|p| p.revents != 0);
        events.retain(|e| {
            let fd = ready.next().map_or(-1, |p| p.fd);
            t.index.get(&fd).is_some_and(|&i| {
                t.entries[i].token == e.token && t.entries[i].interest != Interest::NONE
            })
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn is_send_sync() {
        assert_send_sync::<PollBackend>();
    }

    #[test]
    fn table_bookkeeping() {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors socketpair returns.
        assert_eq!(
            unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) },
            0
        );
        let p = PollBackend::new().unwrap();
        p.add(fds[0], 1, Interest::READ).unwrap();
        p.add(fds[1], 2, Interest::WRITE).unwrap();
        assert_eq!(
            p.add(fds[0], 3, Interest::READ).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        p.delete(fds[0]).unwrap();
        assert_eq!(
            p.delete(fds[0]).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert_eq!(
            p.modify(fds[0], 1, Interest::READ).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        let mut ev = Vec::new();
        p.wait(&mut ev, Some(Duration::from_millis(50))).unwrap();
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].token, 2);
        assert!(ev[0].writable);
        p.modify(fds[1], 2, Interest::NONE).unwrap();
        ev.clear();
        p.wait(&mut ev, Some(Duration::from_millis(10))).unwrap();
        assert!(ev.is_empty());
        // SAFETY: both descriptors were created above and are closed once.
        unsafe {
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
    }
}
