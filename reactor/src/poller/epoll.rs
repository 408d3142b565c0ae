//! The epoll backend: every descriptor registered once, edge-triggered, for
//! both directions and peer close; or, for level-triggered registrations
//! (libevent's model), level-triggered with the interest their owner sets.
//! Timeouts use `epoll_pwait2` (nanoseconds); on kernels without it, a
//! timerfd armed to the deadline.

use super::{duration_to_timespec, Event, Interest};
use crate::notify::NotifyFd;
use crate::token::Token;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const MAX_EVENTS: usize = 1024;

/// Owns its descriptors (the epoll instance, the notify descriptor, the
/// timerfd if any): they close when it drops, also on every error path of
/// [`Epoll::new`].
pub(crate) struct Epoll {
    epfd: OwnedFd,
    notify: NotifyFd,
    /// A timerfd, created only when `epoll_pwait2` is missing.
    timerfd: Option<OwnedFd>,
    has_pwait2: AtomicBool,
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

impl Epoll {
    pub(crate) fn new() -> io::Result<Epoll> {
        // SAFETY: plain system call with valid flags.
        let epfd = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: `epfd` was just created and nothing else owns it.
        let epfd = unsafe { OwnedFd::from_raw_fd(epfd) };
        let notify = NotifyFd::new()?;
        let mut ep = Epoll {
            epfd,
            notify,
            timerfd: None,
            has_pwait2: AtomicBool::new(true),
        };
        ep.ctl(
            libc::EPOLL_CTL_ADD,
            ep.notify.read_fd(),
            Token::NOTIFY.raw(),
            (libc::EPOLLIN | libc::EPOLLET) as u32,
        )?;
        if cfg!(miri) {
            // Miri emulates epoll_wait but neither epoll_pwait2 nor timerfd:
            // under Miri timeouts are whole milliseconds (rounded up), which
            // is all the executor tests run there need.
            ep.has_pwait2.store(false, Ordering::Relaxed);
        } else if !ep.probe_pwait2() {
            ep.has_pwait2.store(false, Ordering::Relaxed);
            // SAFETY: plain system call with valid flags.
            let tfd = cvt(unsafe {
                libc::timerfd_create(
                    libc::CLOCK_MONOTONIC,
                    libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
                )
            })?;
            // SAFETY: `tfd` was just created and nothing else owns it.
            ep.timerfd = Some(unsafe { OwnedFd::from_raw_fd(tfd) });
            ep.ctl(
                libc::EPOLL_CTL_ADD,
                tfd,
                Token::TIMER.raw(),
                (libc::EPOLLIN | libc::EPOLLET) as u32,
            )?;
        }
        Ok(ep)
    }

    fn probe_pwait2(&self) -> bool {
        let mut ev = [libc::epoll_event { events: 0, u64: 0 }; 1];
        let ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: valid epoll fd, a one-element event array, a live timespec, no sigmask.
        let r = unsafe {
            libc::syscall(
                libc::SYS_epoll_pwait2,
                self.epfd.as_raw_fd(),
                ev.as_mut_ptr(),
                1 as libc::c_int,
                &ts as *const libc::timespec,
                std::ptr::null::<libc::sigset_t>(),
                0usize,
            )
        };
        !(r < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS))
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, token: u64, events: u32) -> io::Result<()> {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: `ev` is a live epoll_event; epoll_ctl validates the descriptors.
        cvt(unsafe { libc::epoll_ctl(self.epfd.as_raw_fd(), op, fd, &mut ev) })?;
        Ok(())
    }

    /// A closed or invalid descriptor fails in `epoll_ctl` itself
    /// (`EBADF`): no separate check, one system call per registration.
    pub(crate) fn add(&self, fd: RawFd, token: u64) -> io::Result<()> {
        let flags = libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET;
        self.ctl(libc::EPOLL_CTL_ADD, fd, token, flags as u32)
    }

    /// Re-arms an edge-triggered entry: `EPOLL_CTL_MOD` with the same flags
    /// makes the kernel look at the descriptor again and queue an event if
    /// it is ready now, so readiness forgotten in user space is reported
    /// again instead of waiting for the next edge.
    pub(crate) fn rearm(&self, fd: RawFd, token: u64) -> io::Result<()> {
        let flags = libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET;
        self.ctl(libc::EPOLL_CTL_MOD, fd, token, flags as u32)
    }

    /// Level-triggered flags for `interest`. With no interest the entry
    /// stays edge-triggered: epoll always reports hang-ups and errors, and
    /// level-triggered they would be reported at every wait.
    fn level_flags(interest: Interest) -> u32 {
        let mut flags = 0;
        if interest.read {
            flags |= libc::EPOLLIN | libc::EPOLLRDHUP;
        }
        if interest.write {
            flags |= libc::EPOLLOUT;
        }
        if interest.closed {
            flags |= libc::EPOLLRDHUP;
        }
        if flags == 0 {
            flags = libc::EPOLLET;
        }
        flags as u32
    }

    pub(crate) fn add_level(&self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, token, Self::level_flags(interest))
    }

    pub(crate) fn modify_level(&self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd, token, Self::level_flags(interest))
    }

    pub(crate) fn delete(&self, fd: RawFd) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0)
    }

    pub(crate) fn notify(&self) -> io::Result<()> {
        self.notify.notify()
    }

    pub(crate) fn wait(
        &self,
        events: &mut Vec<Event>,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        // Uninitialised on purpose: zeroing 12 KiB per wait would cost more
        // than the system call; only the first `n` entries are read.
        let mut raw: [MaybeUninit<libc::epoll_event>; MAX_EVENTS] =
            [MaybeUninit::uninit(); MAX_EVENTS];
        let n = if self.has_pwait2.load(Ordering::Relaxed) {
            let ts = timeout.map(duration_to_timespec);
            let tsp = ts
                .as_ref()
                .map_or(std::ptr::null(), |t| t as *const libc::timespec);
            // SAFETY: valid epoll fd, `raw` holds MAX_EVENTS entries, `tsp` is null or live.
            unsafe {
                libc::syscall(
                    libc::SYS_epoll_pwait2,
                    self.epfd.as_raw_fd(),
                    raw.as_mut_ptr() as *mut libc::epoll_event,
                    MAX_EVENTS as libc::c_int,
                    tsp,
                    std::ptr::null::<libc::sigset_t>(),
                    0usize,
                ) as libc::c_int
            }
        } else {
            let ms = match (timeout, self.timerfd.as_ref().map(AsRawFd::as_raw_fd)) {
                (None, _) => -1,
                (Some(d), _) if d.is_zero() => 0,
                (Some(d), Some(tfd)) => {
                    let spec = libc::itimerspec {
                        it_interval: libc::timespec {
                            tv_sec: 0,
                            tv_nsec: 0,
                        },
                        it_value: duration_to_timespec(d),
                    };
                    // SAFETY: valid timerfd and a live itimerspec; old value not wanted.
                    cvt(unsafe { libc::timerfd_settime(tfd, 0, &spec, std::ptr::null_mut()) })?;
                    -1
                }
                (Some(d), None) => {
                    d.as_millis().saturating_add(1).min(i32::MAX as u128) as libc::c_int
                }
            };
            // SAFETY: valid epoll fd and an event array of MAX_EVENTS entries.
            unsafe {
                libc::epoll_wait(
                    self.epfd.as_raw_fd(),
                    raw.as_mut_ptr() as *mut libc::epoll_event,
                    MAX_EVENTS as libc::c_int,
                    ms,
                )
            }
        };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                return Ok(());
            }
            return Err(err);
        }
        for slot in &raw[..n as usize] {
            // SAFETY: the kernel initialised the first `n` entries.
            let ev = unsafe { slot.assume_init() };
            let token = ev.u64;
            if token == Token::NOTIFY.raw() {
                self.notify.drain();
                continue;
            }
            if token == Token::TIMER.raw() {
                let mut buf = 0u64;
                if let Some(tfd) = self.timerfd.as_ref().map(AsRawFd::as_raw_fd) {
                    // SAFETY: reads 8 bytes into a live u64 from our own timerfd.
                    unsafe { libc::read(tfd, &mut buf as *mut u64 as *mut libc::c_void, 8) };
                }
                continue;
            }
            let bits = ev.events as libc::c_int;
            let mut e = Event::new(token);
            e.readable = bits & (libc::EPOLLIN | libc::EPOLLPRI) != 0;
            e.writable = bits & libc::EPOLLOUT != 0;
            e.read_closed = bits & (libc::EPOLLRDHUP | libc::EPOLLHUP) != 0;
            e.hup = bits & libc::EPOLLHUP != 0;
            e.error = bits & libc::EPOLLERR != 0;
            events.push(e);
        }
        Ok(())
    }
}
