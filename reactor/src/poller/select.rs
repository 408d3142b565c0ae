//! The select(2) backend: level-triggered, every descriptor kind, but only
//! descriptors below `FD_SETSIZE` (1024); larger ones are refused at `add`
//! with `InvalidInput` rather than overflowing an `fd_set`. There is no
//! peer-close detection: a closed peer shows up as readable (EOF).
//! Timeouts use `pselect` (nanoseconds). The table and the wait loop are
//! the level-triggered backends' common part
//! ([`Level`](super::level::Level)); this is the `fd_set` side of it.

use super::level::{Entry, Kernel};
use super::{check_fd_open, duration_to_timespec, Event, Interest};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::RawFd;
use std::time::Duration;

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

fn empty_set() -> libc::fd_set {
    let mut set = MaybeUninit::<libc::fd_set>::uninit();
    // SAFETY: FD_ZERO initialises every word of the set.
    unsafe {
        libc::FD_ZERO(set.as_mut_ptr());
        set.assume_init()
    }
}

/// select keeps nothing beside the table: the sets are built per wait.
pub(super) struct SelectKernel;

/// What one `pselect` gets: the sets, and the entries they were built
/// from (every descriptor in them is below `FD_SETSIZE`, checked at add).
pub(super) struct SelectSnapshot {
    read: libc::fd_set,
    write: libc::fd_set,
    max_fd: RawFd,
    entries: Vec<Entry>,
}

impl Default for SelectSnapshot {
    fn default() -> Self {
        SelectSnapshot {
            read: empty_set(),
            write: empty_set(),
            max_fd: -1,
            entries: Vec::new(),
        }
    }
}

impl SelectSnapshot {
    fn is_set(&self, fd: RawFd) -> (bool, bool) {
        // SAFETY: fd < FD_SETSIZE (every descriptor here was checked); the
        // sets are initialised.
        unsafe {
            (
                libc::FD_ISSET(fd, &self.read),
                libc::FD_ISSET(fd, &self.write),
            )
        }
    }
}

impl Kernel for SelectKernel {
    type Snapshot = SelectSnapshot;

    fn new(notify: RawFd) -> io::Result<SelectKernel> {
        check_setsize(notify)?;
        Ok(SelectKernel)
    }

    fn check(fd: RawFd) -> io::Result<()> {
        check_setsize(fd)
    }

    fn snapshot(&self, entries: &[Entry], notify: RawFd, snap: &mut SelectSnapshot) {
        snap.read = empty_set();
        snap.write = empty_set();
        snap.max_fd = notify;
        snap.entries.clear();
        // SAFETY: notify < FD_SETSIZE (checked in `new`); the set is initialised.
        unsafe { libc::FD_SET(notify, &mut snap.read) };
        for e in entries.iter().filter(|e| e.interest != Interest::NONE) {
            // SAFETY: every registered fd is < FD_SETSIZE (checked in `add`);
            // the sets are initialised.
            unsafe {
                if e.interest.read {
                    libc::FD_SET(e.fd, &mut snap.read);
                }
                if e.interest.write {
                    libc::FD_SET(e.fd, &mut snap.write);
                }
            }
            snap.max_fd = snap.max_fd.max(e.fd);
            snap.entries.push(*e);
        }
    }

    fn wait(snap: &mut SelectSnapshot, timeout: Option<Duration>) -> io::Result<usize> {
        let mut ts = timeout.map(duration_to_timespec);
        let tsp = ts
            .as_mut()
            .map_or(std::ptr::null_mut(), |t| t as *mut libc::timespec);
        // SAFETY: the sets are live and initialised and cover descriptors
        // below `max_fd + 1 <= FD_SETSIZE`; `tsp` is null or points to a
        // live timespec; no except set, no signal mask.
        let n = unsafe {
            libc::pselect(
                snap.max_fd + 1,
                &mut snap.read,
                &mut snap.write,
                std::ptr::null_mut(),
                tsp,
                std::ptr::null(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }

    fn collect(
        snap: &SelectSnapshot,
        notify: RawFd,
        events: &mut Vec<Event>,
        fds: &mut Vec<RawFd>,
    ) -> bool {
        for e in &snap.entries {
            let (r, w) = snap.is_set(e.fd);
            if r || w {
                let mut ev = Event::new(e.token);
                ev.readable = r;
                ev.writable = w;
                events.push(ev);
                fds.push(e.fd);
            }
        }
        snap.is_set(notify).0
    }

    /// `EBADF`: a registered descriptor was closed without being deleted
    /// (or one was closed and deleted while the wait slept). The closed
    /// ones still registered are reported as errors; with none, the wait
    /// goes on.
    fn recover(err: io::Error, entries: &[Entry], events: &mut Vec<Event>) -> io::Result<()> {
        if err.raw_os_error() != Some(libc::EBADF) {
            return Err(err);
        }
        for e in entries.iter().filter(|e| e.interest != Interest::NONE) {
            if check_fd_open(e.fd).is_err() {
                let mut ev = Event::new(e.token);
                ev.readable = true;
                ev.writable = true;
                ev.error = true;
                events.push(ev);
            }
        }
        Ok(())
    }
}
