//! The select(2) backend: level-triggered, every descriptor kind, but only
//! descriptors below `FD_SETSIZE` (1024); larger ones are refused at `add`
//! with `InvalidInput` rather than overflowing an `fd_set`. There is no
//! peer-close detection: a closed peer shows up as readable (EOF).
//! Timeouts use `pselect` (nanoseconds).
//!
//! Like the poll backend, each wait copies the interest table under a mutex
//! and blocks without it; an interest change from another thread interrupts
//! the wait, which rebuilds its sets and waits again for the rest of its
//! timeout.

use super::poll::{deadline, remaining, WakeState};
use super::{check_fd_open, duration_to_timespec, Event, Interest};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::RawFd;
use std::time::Duration;

#[derive(Clone, Copy)]
struct Entry {
    fd: RawFd,
    token: u64,
    interest: Interest,
}

struct Table {
    entries: Vec<Entry>,
    index: HashMap<RawFd, usize>,
    /// A buffer lent to a waiter, kept to avoid allocating on every wait.
    spare: Option<Vec<Entry>>,
}

fn check_setsize(fd: RawFd) -> io::Result<()> {
    if fd as usize >= libc::FD_SETSIZE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "descriptor {fd} is too large for select (FD_SETSIZE is {}); use the poll or epoll method",
                libc::FD_SETSIZE
            ),
        ));
    }
    Ok(())
}

fn not_found(fd: RawFd) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("descriptor {fd} is not registered"),
    )
}

fn empty_set() -> libc::fd_set {
    let mut set = MaybeUninit::<libc::fd_set>::uninit();
    // SAFETY: FD_ZERO initialises every word of the set.
    unsafe {
        libc::FD_ZERO(set.as_mut_ptr());
        set.assume_init()
    }
}

pub(crate) struct SelectBackend {
    table: Mutex<Table>,
    wake: WakeState,
}

impl SelectBackend {
    pub(crate) fn new() -> io::Result<SelectBackend> {
        let wake = WakeState::new()?;
        check_setsize(wake.read_fd())?;
        let table = Table {
            entries: Vec::new(),
            index: HashMap::new(),
            spare: None,
        };
        Ok(SelectBackend {
            table: Mutex::new(table),
            wake,
        })
    }

    pub(crate) fn add(&self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
        check_fd_open(fd)?;
        check_setsize(fd)?;
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
        let notify_fd = self.wake.read_fd();
        loop {
            let mut rset = empty_set();
            let mut wset = empty_set();
            let mut max_fd = notify_fd;
            // SAFETY: notify_fd < FD_SETSIZE (checked in `new`); `rset` is initialised.
            unsafe { libc::FD_SET(notify_fd, &mut rset) };
            let (snapshot, generation) = {
                let mut t = self.table.lock();
                let mut snapshot = t.spare.take().unwrap_or_default();
                let generation = self.wake.enter();
                snapshot.clear();
                for e in t.entries.iter().filter(|e| e.interest != Interest::NONE) {
                    // SAFETY: every registered fd is < FD_SETSIZE (checked in
                    // `add`); the sets are initialised.
                    unsafe {
                        if e.interest.read {
                            libc::FD_SET(e.fd, &mut rset);
                        }
                        if e.interest.write {
                            libc::FD_SET(e.fd, &mut wset);
                        }
                    }
                    max_fd = max_fd.max(e.fd);
                    snapshot.push(*e);
                }
                (snapshot, generation)
            };
            let mut ts = timeout.map(duration_to_timespec);
            let tsp = ts
                .as_mut()
                .map_or(std::ptr::null_mut(), |t| t as *mut libc::timespec);
            // SAFETY: the sets are live and initialised and cover descriptors
            // below `max_fd + 1 <= FD_SETSIZE`; `tsp` is null or points to a
            // live timespec; no except set, no signal mask.
            let n = unsafe {
                libc::pselect(
                    max_fd + 1,
                    &mut rset,
                    &mut wset,
                    std::ptr::null_mut(),
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
                    // SAFETY: the kernel filled `rset`; notify_fd < FD_SETSIZE.
                    if unsafe { libc::FD_ISSET(notify_fd, &rset) } {
                        user_notified = self.wake.consume();
                    }
                    for e in &snapshot {
                        // SAFETY: e.fd < FD_SETSIZE; the sets are initialised.
                        let (r, w) =
                            unsafe { (libc::FD_ISSET(e.fd, &rset), libc::FD_ISSET(e.fd, &wset)) };
                        if r || w {
                            let mut ev = Event::new(e.token);
                            ev.readable = r;
                            ev.writable = w;
                            events.push(ev);
                        }
                    }
                }
            }
            let t = &mut *self.table.lock();
            if !events.is_empty() && self.wake.is_stale(generation) {
                // Drop events for descriptors deleted or re-registered meanwhile.
                // Events were pushed in snapshot order, one per ready entry.
                let mut ready = snapshot.iter().filter(|e| {
                    // SAFETY: e.fd < FD_SETSIZE; the sets are initialised.
                    unsafe { libc::FD_ISSET(e.fd, &rset) || libc::FD_ISSET(e.fd, &wset) }
                });
                events.retain(|_| {
                    ready.next().is_some_and(|e| {
                        t.index.get(&e.fd).is_some_and(|&i| {
                            t.entries[i].token == e.token && t.entries[i].interest != Interest::NONE
                        })
                    })
                });
            }
            t.spare.get_or_insert(snapshot);
            match result {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::EBADF) => {
                    // A registered descriptor was closed without being deleted
                    // (or one was closed and deleted while we slept). Report the
                    // closed ones still registered as errors; otherwise re-wait.
                    for e in t.entries.iter().filter(|e| e.interest != Interest::NONE) {
                        if check_fd_open(e.fd).is_err() {
                            let mut ev = Event::new(e.token);
                            ev.readable = true;
                            ev.writable = true;
                            ev.error = true;
                            events.push(ev);
                        }
                    }
                    if !events.is_empty() {
                        return Ok(());
                    }
                }
                Err(e) => return Err(e),
                Ok(0) => return Ok(()), // timed out
                Ok(_) => {
                    if user_notified || !events.is_empty() {
                        return Ok(());
                    }
                }
            }
            // Woken only to pick up an interest change: wait again for the rest.
            match remaining(deadline) {
                None => return Ok(()),
                Some(rest) => timeout = rest,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn is_send_sync() {
        assert_send_sync::<SelectBackend>();
    }
}
