//! The poll(2) backend: level-triggered, every descriptor kind, peer close
//! detected with `POLLRDHUP`. Timeouts use `ppoll` (nanoseconds). The
//! table and the wait loop are the level-triggered backends' common part
//! ([`Level`](super::level::Level)); this is the `pollfd` side of it.
//!
//! The `pollfd` array handed to the kernel is kept in table order next to
//! the table (slot 0 is the notify descriptor), so a wait copies it in one
//! go under the lock.

use super::level::{Entry, Kernel};
use super::{duration_to_timespec, Event, Interest};
use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

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

/// Entries without interest get fd -1, which poll ignores.
fn to_pollfd(entry: &Entry) -> libc::pollfd {
    let events = poll_events(entry.interest);
    libc::pollfd {
        fd: if events == 0 { -1 } else { entry.fd },
        events,
        revents: 0,
    }
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

/// The `pollfd` array mirroring the table: `pollfds[i + 1]` belongs to
/// entry `i`.
pub(super) struct PollKernel {
    pollfds: Vec<libc::pollfd>,
}

/// What one `ppoll` gets: the array, and the token of each entry.
#[derive(Default)]
pub(super) struct PollSnapshot {
    fds: Vec<libc::pollfd>,
    tokens: Vec<u64>,
}

impl Kernel for PollKernel {
    type Snapshot = PollSnapshot;

    fn new(notify: RawFd) -> io::Result<PollKernel> {
        Ok(PollKernel {
            pollfds: vec![libc::pollfd {
                fd: notify,
                events: libc::POLLIN,
                revents: 0,
            }],
        })
    }

    fn pushed(&mut self, entry: &Entry) {
        self.pollfds.push(to_pollfd(entry));
    }

    fn replaced(&mut self, i: usize, entry: &Entry) {
        self.pollfds[i + 1] = to_pollfd(entry);
    }

    fn swap_removed(&mut self, i: usize) {
        self.pollfds.swap_remove(i + 1);
    }

    fn snapshot(&self, entries: &[Entry], _notify: RawFd, snap: &mut PollSnapshot) {
        snap.fds.clear();
        snap.fds.extend_from_slice(&self.pollfds);
        snap.tokens.clear();
        snap.tokens.extend(entries.iter().map(|e| e.token));
    }

    fn wait(snap: &mut PollSnapshot, timeout: Option<Duration>) -> io::Result<usize> {
        let ts = timeout.map(duration_to_timespec);
        let tsp = ts
            .as_ref()
            .map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: `fds` is a live, initialised array of `fds.len()` pollfds;
        // `tsp` is null or points to a live timespec; no signal mask.
        let n = unsafe {
            libc::ppoll(
                snap.fds.as_mut_ptr(),
                snap.fds.len() as libc::nfds_t,
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
        snap: &PollSnapshot,
        _notify: RawFd,
        events: &mut Vec<Event>,
        fds: &mut Vec<RawFd>,
    ) -> bool {
        for (pfd, &token) in snap.fds[1..].iter().zip(&snap.tokens) {
            if pfd.revents != 0 {
                events.push(to_event(token, pfd.revents));
                fds.push(pfd.fd);
            }
        }
        snap.fds[0].revents != 0
    }
}
