//! The public `Poller` API over real descriptors (Unix socketpairs), for each
//! of the three backends.

use runtime_reactor::{Event, Features, Interest, Method, Poller, PollerConfig};
use std::io;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// A non-blocking Unix stream socketpair, closed on drop.
struct Pair {
    a: RawFd,
    b: RawFd,
}

impl Pair {
    fn new() -> Pair {
        let mut fds = [0 as RawFd; 2];
        // SAFETY: `fds` has room for the two descriptors socketpair fills in.
        let r = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        };
        assert_eq!(r, 0, "socketpair: {}", io::Error::last_os_error());
        Pair {
            a: fds[0],
            b: fds[1],
        }
    }

    /// Writes `data` into `b`, to be read from `a`.
    fn send(&self, data: &[u8]) {
        // SAFETY: writes from a live slice of the given length.
        let n = unsafe { libc::write(self.b, data.as_ptr() as *const libc::c_void, data.len()) };
        assert_eq!(
            n,
            data.len() as isize,
            "write: {}",
            io::Error::last_os_error()
        );
    }

    /// Reads everything pending on `a`.
    fn drain(&self) -> usize {
        let mut buf = [0u8; 4096];
        let mut total = 0;
        loop {
            // SAFETY: reads into a live stack buffer of the given length.
            let n = unsafe { libc::read(self.a, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
            if n <= 0 {
                return total;
            }
            total += n as usize;
        }
    }

    /// Closes the peer `b` (once).
    fn close_b(&mut self) {
        if self.b >= 0 {
            // SAFETY: `b` is owned by this pair and closed once.
            unsafe { libc::close(self.b) };
            self.b = -1;
        }
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        // SAFETY: the descriptors are owned by this pair and closed once.
        unsafe { libc::close(self.a) };
        self.close_b();
    }
}

fn poller(method: Method) -> Poller {
    let p = Poller::with_method(method).unwrap();
    assert_eq!(p.method(), method);
    p
}

fn find(events: &[Event], token: u64) -> Option<Event> {
    events.iter().copied().find(|e| e.token == token)
}

/// Waits (up to 2 s overall) until an event for `token` arrives.
fn wait_for(p: &Poller, token: u64) -> Event {
    let start = Instant::now();
    let mut events = Vec::new();
    while start.elapsed() < Duration::from_secs(2) {
        p.wait(&mut events, Some(Duration::from_millis(500)))
            .unwrap();
        if let Some(e) = find(&events, token) {
            return e;
        }
    }
    panic!("no event for token {token} within 2 s");
}

/// Consumes the edge-triggered backend's initial events, so later waits
/// start from a quiet state (a no-op for level-triggered backends that see
/// nothing ready).
fn settle(p: &Poller) {
    let mut events = Vec::new();
    p.wait(&mut events, Some(Duration::ZERO)).unwrap();
}

/// Raises the soft descriptor limit so descriptors above 1024 can exist.
/// Returns false if the hard limit does not allow it.
fn allow_fds_above(n: libc::rlim_t) -> bool {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a live rlimit for getrlimit to fill in.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    if lim.rlim_cur > n {
        return true;
    }
    if lim.rlim_max <= n {
        return false;
    }
    lim.rlim_cur = lim.rlim_max.min(n * 2);
    // SAFETY: `lim` is a live, valid rlimit.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 }
}

/// A duplicate of `fd` numbered at least `min`, or None if the limit forbids it.
fn dup_at_least(fd: RawFd, min: RawFd) -> Option<RawFd> {
    if !allow_fds_above(min as libc::rlim_t + 64) {
        return None;
    }
    // SAFETY: F_DUPFD_CLOEXEC takes an integer argument and returns a new descriptor.
    let d = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, min) };
    (d >= 0).then_some(d)
}

fn readable_after_write(m: Method) {
    let p = poller(m);
    let pair = Pair::new();
    p.add(pair.a, 1, Interest::READ).unwrap();
    settle(&p);
    pair.send(b"hello");
    let e = wait_for(&p, 1);
    assert!(e.readable, "{e:?}");
    assert!(!e.read_closed && !e.hup && !e.error, "{e:?}");
    assert_eq!(pair.drain(), 5);
}

fn writable_reported(m: Method) {
    let p = poller(m);
    let pair = Pair::new();
    p.add(pair.a, 2, Interest::WRITE).unwrap();
    let e = wait_for(&p, 2);
    assert!(e.writable, "{e:?}");
}

fn timeout_is_never_early(m: Method) {
    let p = poller(m);
    let pair = Pair::new();
    p.add(pair.a, 3, Interest::READ).unwrap();
    settle(&p);
    let mut events = Vec::new();
    for t in [
        Duration::from_micros(1500),
        Duration::from_millis(20),
        Duration::from_millis(100),
    ] {
        let start = Instant::now();
        let n = p.wait(&mut events, Some(t)).unwrap();
        let took = start.elapsed();
        assert_eq!(n, 0, "{events:?}");
        assert!(events.is_empty());
        assert!(took >= t, "{m}: wait({t:?}) returned after {took:?}");
        assert!(
            took < t + Duration::from_secs(1),
            "{m}: wait({t:?}) took {took:?}"
        );
    }
    // A zero timeout polls and returns at once.
    let start = Instant::now();
    assert_eq!(p.wait(&mut events, Some(Duration::ZERO)).unwrap(), 0);
    assert!(start.elapsed() < Duration::from_millis(500));
}

fn notify_wakes_blocked_wait(m: Method) {
    let p = Arc::new(poller(m));
    let p2 = Arc::clone(&p);
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        p2.notify().unwrap();
    });
    let start = Instant::now();
    let mut events = Vec::new();
    let n = p.wait(&mut events, None).unwrap();
    let took = start.elapsed();
    t.join().unwrap();
    assert_eq!(n, 0, "{events:?}");
    assert!(
        took >= Duration::from_millis(50),
        "returned before the notify: {took:?}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
}

fn notify_before_wait_returns_at_once(m: Method) {
    let p = poller(m);
    p.notify().unwrap();
    p.notify().unwrap(); // coalesced
    let mut events = Vec::new();
    let start = Instant::now();
    assert_eq!(
        p.wait(&mut events, Some(Duration::from_secs(5))).unwrap(),
        0
    );
    assert!(start.elapsed() < Duration::from_secs(1));
    // The notification was consumed: the next wait times out normally.
    let start = Instant::now();
    assert_eq!(
        p.wait(&mut events, Some(Duration::from_millis(30)))
            .unwrap(),
        0
    );
    assert!(start.elapsed() >= Duration::from_millis(30));
}

fn peer_close(m: Method) {
    let p = poller(m);
    let mut pair = Pair::new();
    p.add(pair.a, 4, Interest::READ).unwrap();
    settle(&p);
    pair.close_b();
    let e = wait_for(&p, 4);
    assert!(e.readable, "{e:?}");
    match m {
        Method::Epoll | Method::Poll => assert!(e.read_closed, "{m}: {e:?}"),
        Method::Select => assert!(!e.read_closed, "select cannot see a peer close: {e:?}"),
    }
}

fn add_closed_fd_fails(m: Method) {
    let p = poller(m);
    let err = p.add(-1, 5, Interest::READ).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EBADF), "{err}");
    // A descriptor that was open and is now closed; numbered high (and apart
    // per method) so that a concurrently running test does not reuse it.
    let base = match m {
        Method::Epoll => 700,
        Method::Poll => 760,
        Method::Select => 820,
    };
    let pair = Pair::new();
    let Some(fd) = dup_at_least(pair.a, base) else {
        return;
    };
    // SAFETY: `fd` was just duplicated and is owned here.
    unsafe { libc::close(fd) };
    let err = p.add(fd, 5, Interest::READ).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EBADF), "{err}");
}

fn delete_unknown_fd_fails(m: Method) {
    let p = poller(m);
    let pair = Pair::new();
    let err = p.delete(pair.a).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
    p.add(pair.a, 6, Interest::READ).unwrap();
    let err = p.add(pair.a, 6, Interest::READ).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists, "{err}");
    p.delete(pair.a).unwrap();
    assert_eq!(
        p.delete(pair.a).unwrap_err().kind(),
        io::ErrorKind::NotFound
    );
    // After delete, nothing is reported for it any more.
    pair.send(b"x");
    let mut events = Vec::new();
    p.wait(&mut events, Some(Duration::from_millis(20)))
        .unwrap();
    assert!(find(&events, 6).is_none(), "{events:?}");
}

fn reserved_token_refused(m: Method) {
    let p = poller(m);
    let pair = Pair::new();
    let err = p.add(pair.a, u64::MAX, Interest::READ).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
}

fn add_from_other_thread_wakes_wait(m: Method) {
    let p = Arc::new(poller(m));
    let pair = Pair::new();
    pair.send(b"ready");
    let (p2, fd) = (Arc::clone(&p), pair.a);
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        p2.add(fd, 7, Interest::READ).unwrap();
    });
    let start = Instant::now();
    let mut events = Vec::new();
    let n = p.wait(&mut events, Some(Duration::from_secs(5))).unwrap();
    let took = start.elapsed();
    t.join().unwrap();
    assert!(n >= 1, "{m}: woke with no events after {took:?}");
    let e = find(&events, 7).expect("event for the added descriptor");
    assert!(e.readable, "{e:?}");
    assert!(took < Duration::from_secs(2), "{m}: took {took:?}");
}

fn high_fd_accepted(m: Method) {
    let p = poller(m);
    let pair = Pair::new();
    let Some(fd) = dup_at_least(pair.a, 1100) else {
        return;
    };
    p.add(fd, 8, Interest::READ).unwrap();
    pair.send(b"x");
    assert!(wait_for(&p, 8).readable);
    p.delete(fd).unwrap();
    // SAFETY: `fd` was duplicated above and is owned here.
    unsafe { libc::close(fd) };
}

macro_rules! per_method {
    ($($module:ident => $method:expr;)*) => {$(
        mod $module {
            use super::*;
            const M: Method = $method;

            #[test]
            fn readable_after_write() {
                super::readable_after_write(M);
            }
            #[test]
            fn writable_reported() {
                super::writable_reported(M);
            }
            #[test]
            fn timeout_is_never_early() {
                super::timeout_is_never_early(M);
            }
            #[test]
            fn notify_wakes_blocked_wait() {
                super::notify_wakes_blocked_wait(M);
            }
            #[test]
            fn notify_before_wait_returns_at_once() {
                super::notify_before_wait_returns_at_once(M);
            }
            #[test]
            fn peer_close() {
                super::peer_close(M);
            }
            #[test]
            fn add_closed_fd_fails() {
                super::add_closed_fd_fails(M);
            }
            #[test]
            fn delete_unknown_fd_fails() {
                super::delete_unknown_fd_fails(M);
            }
            #[test]
            fn reserved_token_refused() {
                super::reserved_token_refused(M);
            }
            #[test]
            fn add_from_other_thread_wakes_wait() {
                super::add_from_other_thread_wakes_wait(M);
            }
        }
    )*};
}

per_method! {
    epoll => Method::Epoll;
    poll => Method::Poll;
    select => Method::Select;
}

// Level-triggered behaviour, poll and select only.

fn level_triggered_repeats(m: Method) {
    let p = poller(m);
    assert!(!p.is_edge_triggered());
    let pair = Pair::new();
    p.add(pair.a, 10, Interest::READ).unwrap();
    pair.send(b"abc");
    let mut events = Vec::new();
    for _ in 0..3 {
        p.wait(&mut events, Some(Duration::from_secs(1))).unwrap();
        assert!(find(&events, 10).is_some_and(|e| e.readable), "{events:?}");
    }
    pair.drain();
    p.wait(&mut events, Some(Duration::from_millis(20)))
        .unwrap();
    assert!(events.is_empty(), "{events:?}");
}

fn interest_none_not_reported(m: Method) {
    let p = poller(m);
    let pair = Pair::new();
    pair.send(b"abc");
    p.add(pair.a, 11, Interest::NONE).unwrap();
    let mut events = Vec::new();
    p.wait(&mut events, Some(Duration::from_millis(20)))
        .unwrap();
    assert!(events.is_empty(), "{events:?}");
    p.modify(pair.a, 11, Interest::BOTH).unwrap();
    p.wait(&mut events, Some(Duration::from_secs(1))).unwrap();
    let e = find(&events, 11).unwrap();
    assert!(e.readable && e.writable, "{e:?}");
    // A modify may change the token too.
    p.modify(pair.a, 12, Interest::WRITE).unwrap();
    p.wait(&mut events, Some(Duration::from_secs(1))).unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(
        events[0].token == 12 && events[0].writable && !events[0].readable,
        "{events:?}"
    );
    p.modify(pair.a, 12, Interest::NONE).unwrap();
    p.wait(&mut events, Some(Duration::from_millis(20)))
        .unwrap();
    assert!(events.is_empty(), "{events:?}");
}

fn modify_from_other_thread_wakes_wait(m: Method) {
    let p = Arc::new(poller(m));
    let pair = Pair::new();
    pair.send(b"ready");
    p.add(pair.a, 13, Interest::NONE).unwrap();
    let (p2, fd) = (Arc::clone(&p), pair.a);
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        p2.modify(fd, 13, Interest::READ).unwrap();
    });
    let start = Instant::now();
    let mut events = Vec::new();
    p.wait(&mut events, Some(Duration::from_secs(5))).unwrap();
    let took = start.elapsed();
    t.join().unwrap();
    assert!(find(&events, 13).is_some_and(|e| e.readable), "{events:?}");
    assert!(took < Duration::from_secs(2), "{m}: took {took:?}");
}

/// An interest change that makes nothing ready must not end the wait early:
/// the waiter re-waits for the rest of its timeout.
fn idle_change_keeps_waiting(m: Method) {
    let p = Arc::new(poller(m));
    let pairs: Vec<Pair> = (0..3).map(|_| Pair::new()).collect();
    let fds: Vec<RawFd> = pairs.iter().map(|p| p.a).collect();
    p.add(fds[2], 22, Interest::READ).unwrap();
    let p2 = Arc::clone(&p);
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(50));
        p2.add(fds[0], 20, Interest::READ).unwrap();
        thread::sleep(Duration::from_millis(20));
        p2.add(fds[1], 21, Interest::NONE).unwrap();
        p2.modify(fds[1], 21, Interest::READ).unwrap();
        p2.delete(fds[2]).unwrap();
    });
    let timeout = Duration::from_millis(300);
    let start = Instant::now();
    let mut events = Vec::new();
    let n = p.wait(&mut events, Some(timeout)).unwrap();
    let took = start.elapsed();
    t.join().unwrap();
    assert_eq!(n, 0, "{events:?}");
    assert!(took >= timeout, "{m}: returned early after {took:?}");
    assert!(
        took < timeout + Duration::from_secs(1),
        "{m}: took {took:?}"
    );
}

/// A blocked `wait(None)` sees a descriptor deleted and another added.
fn delete_then_add_from_other_thread(m: Method) {
    let p = Arc::new(poller(m));
    let idle = Pair::new();
    let busy = Pair::new();
    busy.send(b"x");
    p.add(idle.a, 30, Interest::READ).unwrap();
    let (p2, idle_fd, busy_fd) = (Arc::clone(&p), idle.a, busy.a);
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(50));
        p2.delete(idle_fd).unwrap();
        thread::sleep(Duration::from_millis(50));
        p2.add(busy_fd, 31, Interest::READ).unwrap();
    });
    let mut events = Vec::new();
    let start = Instant::now();
    p.wait(&mut events, None).unwrap();
    t.join().unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].token, 31);
    assert!(start.elapsed() < Duration::from_secs(2));
}

macro_rules! level_triggered {
    ($($module:ident => $method:expr;)*) => {$(
        mod $module {
            use super::*;
            const M: Method = $method;

            #[test]
            fn level_triggered_repeats() {
                super::level_triggered_repeats(M);
            }
            #[test]
            fn interest_none_not_reported() {
                super::interest_none_not_reported(M);
            }
            #[test]
            fn modify_from_other_thread_wakes_wait() {
                super::modify_from_other_thread_wakes_wait(M);
            }
            #[test]
            fn idle_change_keeps_waiting() {
                super::idle_change_keeps_waiting(M);
            }
            #[test]
            fn delete_then_add_from_other_thread() {
                super::delete_then_add_from_other_thread(M);
            }
        }
    )*};
}

level_triggered! {
    poll_lt => Method::Poll;
    select_lt => Method::Select;
}

#[test]
fn select_refuses_fd_above_setsize() {
    let p = poller(Method::Select);
    let pair = Pair::new();
    let Some(fd) = dup_at_least(pair.a, 1024) else {
        eprintln!("RLIMIT_NOFILE hard limit too low; skipping");
        return;
    };
    assert!(fd >= 1024);
    let err = p.add(fd, 40, Interest::READ).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("FD_SETSIZE"), "{err}");
    // Never registered, so these are NotFound, not undefined behaviour.
    assert_eq!(
        p.modify(fd, 40, Interest::READ).unwrap_err().kind(),
        io::ErrorKind::NotFound
    );
    assert_eq!(p.delete(fd).unwrap_err().kind(), io::ErrorKind::NotFound);
    // SAFETY: `fd` was duplicated above and is owned here.
    unsafe { libc::close(fd) };
}

#[test]
fn epoll_accepts_fd_above_setsize() {
    high_fd_accepted(Method::Epoll);
}

#[test]
fn poll_accepts_fd_above_setsize() {
    high_fd_accepted(Method::Poll);
}

#[test]
fn poller_is_send_sync() {
    fn check<T: Send + Sync>() {}
    check::<Poller>();
}

#[test]
fn config_avoid_unknown_method_is_invalid_input() {
    let err = PollerConfig::new().avoid_method("nonsense").unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn config_impossible_features_unsupported() {
    let err = PollerConfig::new()
        .require_features(Features::EDGE_TRIGGERED | Features::O1 | Features::ALL_FDS)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::Unsupported);
}

/// `method` names the backend; `ignore_env` keeps `EVENT_NO*` out of it (an
/// environment that forbids the named backend makes `build` fail, as in
/// libevent, which the next test checks).
#[test]
fn config_method_select_builds_select() {
    let p = PollerConfig::new()
        .ignore_env(true)
        .method("select")
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(p.method(), Method::Select);
    assert_eq!(p.method().name(), "select");
    assert!(!p.features().contains(Features::EDGE_TRIGGERED));
    let p = PollerConfig::new()
        .ignore_env(true)
        .method("POLL")
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(p.method(), Method::Poll);
}

/// Under `EVENT_NOPOLL` (the select-only test run), naming poll without
/// `ignore_env` is refused with a message naming the variable.
#[test]
fn config_method_forbidden_by_env_is_unsupported() {
    if std::env::var_os("EVENT_NOPOLL").is_none() {
        return; // only meaningful in that run
    }
    let err = PollerConfig::new()
        .method("poll")
        .unwrap()
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::Unsupported);
    assert!(err.to_string().contains("EVENT_NOPOLL set"), "{err}");
}
