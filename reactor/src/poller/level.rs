//! What the level-triggered backends (poll and select) share: the
//! interest table behind a mutex, its bookkeeping, and the wait loop that
//! lets another thread change interest while a wait is blocked.
//!
//! Each wait builds what it hands to the kernel (a [`Kernel::Snapshot`])
//! under the lock and blocks without it. A thread that adds, modifies or
//! deletes interest meanwhile interrupts the wait through the notify
//! descriptor; the waiting thread drops events of entries that changed,
//! rebuilds its snapshot and waits again for the rest of its timeout, as
//! smol's `polling` does. What differs between the backends — the form of
//! the snapshot, the system call, how its result reads — is a [`Kernel`].

use super::{check_fd_open, Event, Interest};
use crate::notify::NotifyFd;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The wake-up machinery of a level-triggered backend.
///
/// Protocol: a waiter calls [`enter`](Self::enter) while holding its table
/// lock (before building its snapshot) and [`leave`](Self::leave) once the
/// system call returned. A thread changing interest calls
/// [`changed`](Self::changed) while holding the same lock, after the
/// change, and [`interrupt`](Self::interrupt) after unlocking if it said
/// so. Both sides are serialised by the lock, so either the waiter's
/// snapshot contains the change or the changer sees the waiter and wakes
/// it.
struct WakeState {
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
    fn new() -> io::Result<WakeState> {
        Ok(WakeState {
            notify: NotifyFd::new()?,
            waiting: AtomicUsize::new(0),
            user_notified: AtomicBool::new(false),
            generation: AtomicU64::new(0),
        })
    }

    /// Marks the calling thread as waiting; call with the table lock held.
    /// Returns the table generation of the snapshot about to be taken.
    fn enter(&self) -> u64 {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        self.generation.load(Ordering::Acquire)
    }

    fn leave(&self) {
        self.waiting.fetch_sub(1, Ordering::SeqCst);
    }

    /// Records an interest change; call with the table lock held, after the
    /// change. Returns whether a waiter must be interrupted.
    fn changed(&self) -> bool {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.waiting.load(Ordering::SeqCst) > 0
    }

    /// Whether the table changed since `snapshot` was taken.
    fn is_stale(&self, snapshot: u64) -> bool {
        self.generation.load(Ordering::Acquire) != snapshot
    }

    /// Wakes a blocked waiter so it rebuilds its snapshot (not coalesced with
    /// user notifications: the waiter must see a byte even if one of those
    /// is pending but already consumed).
    fn interrupt(&self) -> io::Result<()> {
        self.notify.write_byte()
    }

    /// The user-facing notify: the next (or current) wait returns.
    fn notify(&self) -> io::Result<()> {
        // The flag goes first: a waiter woken by this byte must see it, or it
        // would take the byte for an interrupt and block again.
        self.user_notified.store(true, Ordering::Release);
        self.notify.notify()
    }

    /// Called when the notify descriptor was readable: empties it and
    /// returns whether a user notification asked the wait to return.
    fn consume(&self) -> bool {
        self.notify.drain();
        self.user_notified.swap(false, Ordering::AcqRel)
    }
}

/// One watched descriptor.
#[derive(Clone, Copy, Debug)]
pub(super) struct Entry {
    pub(super) fd: RawFd,
    pub(super) token: u64,
    pub(super) interest: Interest,
}

/// How one level-triggered backend talks to the kernel.
pub(super) trait Kernel: Sized + Send {
    /// What one wait hands to the kernel: built under the table lock,
    /// used without it, kept for reuse between waits.
    type Snapshot: Default + Send;

    /// The backend's own state for a table whose notify descriptor is
    /// `notify`; refuses a notify descriptor it cannot watch.
    fn new(notify: RawFd) -> io::Result<Self>;

    /// Refuses a descriptor the backend cannot watch.
    fn check(_fd: RawFd) -> io::Result<()> {
        Ok(())
    }

    /// `entry` was appended to the table.
    fn pushed(&mut self, _entry: &Entry) {}

    /// The entry at `i` was replaced by `entry`.
    fn replaced(&mut self, _i: usize, _entry: &Entry) {}

    /// The entry at `i` was removed, the last one moved into its place.
    fn swap_removed(&mut self, _i: usize) {}

    /// Fills `snap` for a wait on `entries` and the notify descriptor.
    fn snapshot(&self, entries: &[Entry], notify: RawFd, snap: &mut Self::Snapshot);

    /// The system call; returns the kernel's count of ready descriptors.
    fn wait(snap: &mut Self::Snapshot, timeout: Option<Duration>) -> io::Result<usize>;

    /// After a wait that found descriptors ready: pushes one event per
    /// ready entry, in snapshot order, and its descriptor to `fds`.
    /// Returns whether the notify descriptor was ready.
    fn collect(
        snap: &Self::Snapshot,
        notify: RawFd,
        events: &mut Vec<Event>,
        fds: &mut Vec<RawFd>,
    ) -> bool;

    /// A failed wait (not `EINTR`): `Ok` to go on with the events it
    /// pushed (none: wait again), or the error for the caller.
    fn recover(err: io::Error, _entries: &[Entry], _events: &mut Vec<Event>) -> io::Result<()> {
        Err(err)
    }
}

struct Table<K: Kernel> {
    entries: Vec<Entry>,
    index: HashMap<RawFd, usize>,
    kernel: K,
    /// Buffers lent to a waiter, kept to avoid allocating on every wait.
    spare: Option<(K::Snapshot, Vec<RawFd>)>,
}

fn not_found(fd: RawFd) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("descriptor {fd} is not registered"),
    )
}

/// The absolute deadline of a wait, or `None` for forever (also when the
/// timeout is too large to represent).
fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|t| Instant::now().checked_add(t))
}

/// Remaining time until `deadline`, or `None` once it has passed.
/// `Some(None)` means no deadline (wait forever).
fn remaining(deadline: Option<Instant>) -> Option<Option<Duration>> {
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

/// A level-triggered backend: the table, the wake-up machinery and the
/// kernel's part.
pub(super) struct Level<K: Kernel> {
    table: Mutex<Table<K>>,
    wake: WakeState,
}

impl<K: Kernel> Level<K> {
    pub(super) fn new() -> io::Result<Level<K>> {
        let wake = WakeState::new()?;
        let kernel = K::new(wake.notify.read_fd())?;
        Ok(Level {
            table: Mutex::new(Table {
                entries: Vec::new(),
                index: HashMap::new(),
                kernel,
                spare: None,
            }),
            wake,
        })
    }

    /// Applies `change` under the lock and interrupts a blocked waiter.
    fn change(&self, change: impl FnOnce(&mut Table<K>) -> io::Result<()>) -> io::Result<()> {
        let interrupt = {
            let mut t = self.table.lock();
            change(&mut t)?;
            self.wake.changed()
        };
        if interrupt {
            self.wake.interrupt()?;
        }
        Ok(())
    }

    pub(super) fn add(&self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
        check_fd_open(fd)?;
        K::check(fd)?;
        self.change(|t| {
            if t.index.contains_key(&fd) {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("descriptor {fd} is already registered"),
                ));
            }
            let entry = Entry {
                fd,
                token,
                interest,
            };
            t.index.insert(fd, t.entries.len());
            t.entries.push(entry);
            t.kernel.pushed(&entry);
            Ok(())
        })
    }

    pub(super) fn modify(&self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
        self.change(|t| {
            let i = *t.index.get(&fd).ok_or_else(|| not_found(fd))?;
            let entry = Entry {
                fd,
                token,
                interest,
            };
            t.entries[i] = entry;
            t.kernel.replaced(i, &entry);
            Ok(())
        })
    }

    pub(super) fn delete(&self, fd: RawFd) -> io::Result<()> {
        self.change(|t| {
            let i = t.index.remove(&fd).ok_or_else(|| not_found(fd))?;
            t.entries.swap_remove(i);
            t.kernel.swap_removed(i);
            if let Some(moved) = t.entries.get(i).map(|e| e.fd) {
                t.index.insert(moved, i);
            }
            Ok(())
        })
    }

    pub(super) fn notify(&self) -> io::Result<()> {
        self.wake.notify()
    }

    /// Waits for readiness, a user notification or the timeout; an
    /// interest change from another thread makes it wait again for the
    /// rest of the timeout.
    pub(super) fn wait(
        &self,
        events: &mut Vec<Event>,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        let deadline = deadline(timeout);
        let mut timeout = timeout;
        let notify = self.wake.notify.read_fd();
        loop {
            let (mut snap, mut fds, generation) = {
                let mut t = self.table.lock();
                let (mut snap, fds) = t.spare.take().unwrap_or_default();
                let generation = self.wake.enter();
                t.kernel.snapshot(&t.entries, notify, &mut snap);
                (snap, fds, generation)
            };
            let result = K::wait(&mut snap, timeout);
            self.wake.leave();
            fds.clear();
            let mut user_notified = false;
            if let Ok(n) = result {
                if n > 0 && K::collect(&snap, notify, events, &mut fds) {
                    user_notified = self.wake.consume();
                }
            }
            let mut t = self.table.lock();
            if !events.is_empty() && self.wake.is_stale(generation) {
                drop_stale(&t, events, &fds);
            }
            let result = match result {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(Some(0)),
                Err(e) => K::recover(e, &t.entries, events).map(|()| None),
                Ok(n) => Ok(Some(n)),
            };
            // Lend the buffers back for the next wait.
            t.spare.get_or_insert((snap, fds));
            drop(t);
            match result? {
                Some(0) => return Ok(()), // timed out, or EINTR
                _ if user_notified || !events.is_empty() => return Ok(()),
                _ => {}
            }
            // Woken only to pick up an interest change: wait again for the rest.
            match remaining(deadline) {
                None => return Ok(()),
                Some(rest) => timeout = rest,
            }
        }
    }
}

/// Drops events for descriptors deleted (or re-registered under another
/// token, or with their interest removed) while the wait was blocked.
/// `fds[i]` is the descriptor of `events[i]`.
fn drop_stale<K: Kernel>(t: &Table<K>, events: &mut Vec<Event>, fds: &[RawFd]) {
    let mut fds = fds.iter();
    events.retain(|e| {
        let fd = fds.next().copied().unwrap_or(-1);
        t.index.get(&fd).is_some_and(|&i| {
            t.entries[i].token == e.token && t.entries[i].interest != Interest::NONE
        })
    });
}

#[cfg(test)]
mod tests {
    use super::super::{poll::PollKernel, select::SelectKernel};
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn is_send_sync() {
        assert_send_sync::<Level<PollKernel>>();
        assert_send_sync::<Level<SelectKernel>>();
    }

    fn table_bookkeeping<K: Kernel>() {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors socketpair returns.
        assert_eq!(
            unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) },
            0
        );
        let p = Level::<K>::new().unwrap();
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
        // Entries moved by a swap-remove keep answering for their token.
        p.add(fds[0], 7, Interest::WRITE).unwrap();
        p.delete(fds[1]).unwrap();
        ev.clear();
        p.wait(&mut ev, Some(Duration::from_millis(50))).unwrap();
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].token, 7);
        // SAFETY: both descriptors were created above and are closed once.
        unsafe {
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
    }

    #[test]
    fn poll_table_bookkeeping() {
        table_bookkeeping::<PollKernel>();
    }

    #[test]
    fn select_table_bookkeeping() {
        table_bookkeeping::<SelectKernel>();
    }
}
