//! Level registrations (`Registration::level`, libevent's way of watching a
//! descriptor) on every backend: readiness comes only from the backend,
//! is reported again at each turn while it lasts, follows the interest the
//! owner sets, and a hung-up descriptor nobody watches does not make the
//! loop spin.

use runtime::reactor::{
    Direction, Features, Interest, PollerConfig, Reactor, ReactorConfig, Registration,
};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

/// A waker counting its wakes.
#[derive(Default)]
struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

const METHODS: [&str; 3] = ["epoll", "poll", "select"];

fn reactor(method: &str) -> Reactor {
    let poller = PollerConfig::new()
        .ignore_env(true)
        .method(method)
        .expect("known method");
    Reactor::with_config(ReactorConfig::new().poller(poller)).expect("reactor")
}

fn pair() -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().expect("socketpair");
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    (a, b)
}

fn ready(reg: &Registration, dir: Direction) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    reg.poll_ready(dir, &mut cx).is_ready()
}

/// Polls `dir`; if ready, clears what it saw (as after handling it).
fn take(reg: &Registration, dir: Direction) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    match reg.poll_ready(dir, &mut cx) {
        Poll::Ready(Ok(ev)) => {
            reg.clear_readiness(ev);
            true
        }
        Poll::Ready(Err(e)) => panic!("poll_ready: {e}"),
        Poll::Pending => false,
    }
}

const SHORT: Option<Duration> = Some(Duration::from_millis(20));

#[test]
fn readiness_is_reported_again_while_it_lasts() {
    for method in METHODS {
        let r = reactor(method);
        let (a, mut b) = pair();
        // The registration owns a duplicate; the test reads through `a`.
        let reg = Registration::level(&r, a.try_clone().unwrap(), Interest::READ).unwrap();
        assert!(reg.is_level());
        // Nothing is assumed: not readable before the backend says so.
        assert!(!ready(&reg, Direction::Read), "{method}");
        r.turn(SHORT).unwrap();
        assert!(!ready(&reg, Direction::Read), "{method}: nothing was sent");

        b.write_all(b"xy").unwrap();
        r.turn(SHORT).unwrap();
        assert!(take(&reg, Direction::Read), "{method}: data arrived");
        assert!(!ready(&reg, Direction::Read), "{method}: cleared");
        // Not read: the next turn reports it again, and the one after.
        for turn in 0..2 {
            r.turn(SHORT).unwrap();
            assert!(take(&reg, Direction::Read), "{method}: turn {turn}");
        }
        // Drained: no more reports.
        let mut buf = [0u8; 8];
        assert_eq!((&a).read(&mut buf).unwrap(), 2);
        r.turn(SHORT).unwrap();
        assert!(!ready(&reg, Direction::Read), "{method}: drained");
    }
}

#[test]
fn interest_decides_what_is_reported() {
    for method in METHODS {
        let r = reactor(method);
        let (a, mut b) = pair();
        let reg = Registration::level(&r, a, Interest::NONE).unwrap();
        b.write_all(b"x").unwrap();
        r.turn(SHORT).unwrap();
        // Readable and writable, but nothing is watched.
        assert!(!ready(&reg, Direction::Read), "{method}");
        assert!(!ready(&reg, Direction::Write), "{method}");

        reg.set_interest(Interest::WRITE).unwrap();
        r.turn(SHORT).unwrap();
        assert!(take(&reg, Direction::Write), "{method}: writable");
        assert!(!ready(&reg, Direction::Read), "{method}: read not watched");

        reg.set_interest(Interest::BOTH).unwrap();
        r.turn(SHORT).unwrap();
        assert!(take(&reg, Direction::Read), "{method}: readable");
        assert!(take(&reg, Direction::Write), "{method}: still writable");

        reg.set_interest(Interest::READ).unwrap();
        r.turn(SHORT).unwrap();
        assert!(ready(&reg, Direction::Read), "{method}");
        assert!(!ready(&reg, Direction::Write), "{method}: write dropped");
    }
}

#[test]
fn a_wait_wakes_the_waiter_and_peer_close_is_seen() {
    for method in METHODS {
        let r = reactor(method);
        let (a, b) = pair();
        let reg = Registration::level(&r, a, Interest::READ).unwrap();
        let woken = Arc::new(Count::default());
        let waker = Waker::from(woken.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(reg.poll_ready(Direction::Read, &mut cx).is_pending());
        drop(b);
        r.turn(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(woken.0.load(Ordering::SeqCst), 1, "{method}");
        let Poll::Ready(Ok(ev)) = reg.poll_ready(Direction::Read, &mut cx) else {
            panic!("{method}: not readable after the peer closed");
        };
        // select cannot tell a close from data: EOF shows as readable.
        if r.features().contains(Features::EARLY_CLOSE) {
            assert!(ev.ready.is_read_closed(), "{method}: {:?}", ev.ready);
        }
    }
}

#[test]
fn a_hung_up_descriptor_nobody_watches_does_not_spin() {
    for method in METHODS {
        let r = reactor(method);
        let (a, b) = pair();
        let reg = Registration::level(&r, a, Interest::NONE).unwrap();
        drop(b);
        // A hang-up may be reported once; after that each turn waits for
        // its whole timeout: the backend reports nothing at every wait.
        r.turn(SHORT).unwrap();
        let wait = Duration::from_millis(30);
        for _ in 0..3 {
            let start = Instant::now();
            r.turn(Some(wait)).unwrap();
            assert!(
                start.elapsed() >= wait - Duration::from_millis(2),
                "{method}: the turn returned at once ({:?}): the hang-up is reported at every wait",
                start.elapsed()
            );
        }
        drop(reg);
    }
}

#[test]
fn set_interest_is_refused_on_edge_registrations() {
    let r = reactor("epoll");
    let _enter = r.enter();
    let (a, _b) = pair();
    let reg = Registration::new(a).unwrap();
    assert!(!reg.is_level());
    let e = reg.set_interest(Interest::READ).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
}
