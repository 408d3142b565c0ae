//! Registrations own their descriptors (issue 9, item 5), and the
//! reactor's own descriptors close on every path.
//!
//! The bug the ownership removes: with a raw-number registration, a user
//! who closed the descriptor first let a new socket reuse the number, and
//! dropping the old registration then deregistered the new socket (its
//! waits never ended). With `Registration::new(OwnedFd)` the number stays
//! open as long as the registration lives, so it cannot be reused under
//! it; releasing it goes through dropping the registration or `into_fd`,
//! both of which deregister first. Only the `unsafe` raw constructors can
//! still express the old sequence.
//!
//! One test per file section, run serially: they watch descriptor numbers
//! and the count of open descriptors, which other threads creating
//! descriptors would disturb.

use runtime::reactor::{Direction, PollerConfig, Reactor, ReactorConfig, Registration};
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

static SERIAL: Mutex<()> = Mutex::new(());

fn reactor(method: &str) -> Reactor {
    let poller = PollerConfig::new().ignore_env(true).method(method).unwrap();
    Reactor::with_config(ReactorConfig::new().poller(poller)).unwrap()
}

fn pair() -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    (a, b)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Waits (a few bounded turns) until `reg` is readable; the registration
/// must be watched by the backend for this to happen.
fn becomes_readable(r: &Reactor, reg: &Registration) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..20 {
        if let Poll::Ready(Ok(_)) = reg.poll_ready(Direction::Read, &mut cx) {
            return true;
        }
        r.turn(Some(Duration::from_millis(10))).unwrap();
    }
    false
}

/// The old failure sequence, written with the safe API: releasing the
/// first socket's descriptor deregisters it first, so the new socket that
/// takes the same number stays watched, on every backend.
#[test]
fn a_reused_number_keeps_the_new_socket_working() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for method in ["epoll", "poll", "select"] {
        let r = reactor(method);
        for release in ["drop", "into_fd"] {
            let (a, _peer_a) = pair();
            let reg_a = Registration::with_reactor(&r, a).unwrap();
            let n = reg_a.fd();
            // While the registration lives, its number cannot go to
            // another socket.
            let (other, _) = pair();
            assert_ne!(other.as_raw_fd(), n, "{method}");
            drop(other);
            // Now release it: that deregisters, then the number is free.
            match release {
                "drop" => drop(reg_a),
                _ => {
                    let fd: OwnedFd = reg_a.into_fd().expect("owned");
                    assert_eq!(fd.as_raw_fd(), n);
                    drop(fd);
                }
            }
            let (b, mut peer_b) = pair();
            assert_eq!(b.as_raw_fd(), n, "{method}: the number is reused");
            let reg_b = Registration::with_reactor(&r, b).unwrap();
            reg_b.clear(Direction::Read).unwrap();
            peer_b.write_all(b"x").unwrap();
            assert!(
                becomes_readable(&r, &reg_b),
                "{method}/{release}: the new socket on the reused number is watched"
            );
            assert_eq!(r.registrations(), 1);
        }
    }
}

fn nofile() -> libc::rlimit {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes a live rlimit.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    lim
}

fn set_nofile(lim: libc::rlimit) {
    // SAFETY: setrlimit reads a live rlimit.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
}

/// Takes every free descriptor number below the soft limit but `spare`.
fn fill_descriptors(spare: usize) -> Vec<OwnedFd> {
    let null = std::fs::File::open("/dev/null").unwrap();
    let mut filler: Vec<OwnedFd> = Vec::new();
    loop {
        match null.try_clone() {
            Ok(f) => filler.push(f.into()),
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
                break;
            }
        }
    }
    filler.push(null.into());
    for _ in 0..spare {
        filler.pop();
    }
    filler
}

/// A failing `reinit` (after `fork`) leaks nothing, old pipe or new: here
/// one descriptor is left, enough for the new poll backend but not for
/// the new signal pipe (`EMFILE`). The reactor keeps its old signal pipe,
/// still delivers signals, and once everything is dropped the process
/// has exactly the descriptors it had before.
#[test]
fn failed_reinit_leaks_no_signal_pipe() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let baseline = open_fds();
    let r = reactor("poll");
    let mut sig = {
        let _enter = r.enter();
        runtime::signal::signal(libc::SIGUSR1).unwrap()
    };
    let saved = nofile();
    set_nofile(libc::rlimit {
        rlim_cur: 256.min(saved.rlim_cur),
        rlim_max: saved.rlim_max,
    });
    let filler = fill_descriptors(1);
    let e = r.reinit().unwrap_err();
    set_nofile(saved);
    drop(filler);
    assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
    // The old pipe still wakes the reactor: a turn that could wait 5 s
    // returns at once with the signal.
    let mut cx = Context::from_waker(Waker::noop());
    assert!(sig.poll_recv(&mut cx).is_pending());
    // SAFETY: raise sends SIGUSR1 to this thread; the listener's handler
    // is installed.
    assert_eq!(unsafe { libc::raise(libc::SIGUSR1) }, 0);
    let start = std::time::Instant::now();
    r.turn(Some(Duration::from_secs(5))).unwrap();
    assert!(
        start.elapsed() < Duration::from_millis(2500),
        "signal pipe not watched"
    );
    assert!(sig.poll_recv(&mut cx).is_ready());
    // A successful reinit replaces it without leaking either.
    r.reinit().unwrap();
    drop(sig);
    drop(r);
    assert_eq!(open_fds(), baseline, "descriptors leaked");
}

/// The same when the backend refuses the new pipe: select cannot watch
/// descriptors at or above `FD_SETSIZE`, and the new pipe gets 1024 and
/// 1025. The new pipe is closed, the old one kept.
#[test]
fn refused_signal_pipe_in_reinit_is_closed() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let saved = nofile();
    if saved.rlim_max < 1100 {
        eprintln!("skipped: RLIMIT_NOFILE hard limit below 1100");
        return;
    }
    let baseline = open_fds();
    let r = reactor("select");
    let mut sig = {
        let _enter = r.enter();
        runtime::signal::signal(libc::SIGUSR2).unwrap()
    };
    // Every number below FD_SETSIZE taken but one: the new backend's
    // notify descriptor gets it, the pipe goes above.
    set_nofile(libc::rlimit {
        rlim_cur: 1024,
        rlim_max: saved.rlim_max,
    });
    let filler = fill_descriptors(1);
    set_nofile(saved);
    let before = open_fds();
    let e = r.reinit().unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}");
    assert_eq!(
        open_fds(),
        before,
        "descriptors leaked by the failed reinit"
    );
    drop(filler);
    let mut cx = Context::from_waker(Waker::noop());
    assert!(sig.poll_recv(&mut cx).is_pending());
    // SAFETY: raise sends SIGUSR2 to this thread; the listener's handler
    // is installed.
    assert_eq!(unsafe { libc::raise(libc::SIGUSR2) }, 0);
    let start = std::time::Instant::now();
    r.turn(Some(Duration::from_secs(5))).unwrap();
    assert!(
        start.elapsed() < Duration::from_millis(2500),
        "signal pipe not watched"
    );
    assert!(sig.poll_recv(&mut cx).is_ready());
    drop(sig);
    drop(r);
    assert_eq!(open_fds(), baseline, "descriptors leaked");
}
