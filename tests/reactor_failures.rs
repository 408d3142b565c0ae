//! Backend failures reach the waiting tasks (issue 9, item 4): when the
//! backend refuses a change a registration needs — here `EPOLL_CTL_MOD` on
//! a descriptor number whose socket was replaced behind the registration's
//! back — the error is stored and every waiter is woken to get it, instead
//! of staying pending forever. On poll and select the same change is
//! accepted and the new file's readiness wakes the waiter; no backend
//! leaves it hanging. Bounded: a few reactor turns of 20 ms.

use runtime::reactor::{Direction, Interest, PollerConfig, Reactor, ReactorConfig, Registration};
use std::io::{self, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn reactor(method: &str) -> Reactor {
    let poller = PollerConfig::new().ignore_env(true).method(method).unwrap();
    Reactor::with_config(ReactorConfig::new().poller(poller)).unwrap()
}

/// A connected TCP pair over 127.0.0.1, non-blocking.
fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (b, _) = l.accept().unwrap();
    a.set_nonblocking(true).unwrap();
    (a, b)
}

/// Replaces what the registration's descriptor number refers to with a
/// readable Unix socket: the TCP socket registered under that number is
/// closed (epoll forgets it); the number stays open, still owned by the
/// registration, which closes it once when dropped.
fn replace_behind_its_back(fd: BorrowedFd<'_>) {
    let (c, mut d) = UnixStream::pair().unwrap();
    d.write_all(b"x").unwrap();
    // SAFETY: dup2 onto a live descriptor (borrowed from its owner): the
    // number stays open and is closed once, by its owner.
    let r = unsafe { libc::dup2(c.as_raw_fd(), fd.as_raw_fd()) };
    assert_eq!(r, fd.as_raw_fd());
}

/// Turns `r` until `count` moved (at most 10 turns of 20 ms).
fn turn_until_woken(r: &Reactor, count: &Count) -> bool {
    for _ in 0..10 {
        if count.0.load(Ordering::SeqCst) > 0 {
            return true;
        }
        r.turn(Some(Duration::from_millis(20))).unwrap();
    }
    count.0.load(Ordering::SeqCst) > 0
}

fn check_woken_and_not_pending(
    method: &str,
    what: &str,
    r: &Reactor,
    count: &Count,
    poll: impl FnOnce() -> Poll<io::Result<()>>,
) {
    assert!(
        turn_until_woken(r, count),
        "{method}: {what}: the waiting task was never woken"
    );
    match poll() {
        Poll::Pending => panic!("{method}: {what}: still pending"),
        Poll::Ready(Err(e)) => assert_eq!(
            e.raw_os_error(),
            Some(libc::ENOENT),
            "{method}: {what}: {e}"
        ),
        Poll::Ready(Ok(())) => assert_ne!(method, "epoll", "{what}: epoll must report the error"),
    }
}

/// A level registration (the callback layer's kind): a task waits for
/// reading; the owner changes the interest after the socket was replaced.
#[test]
fn refused_interest_change_wakes_the_waiter_with_the_error() {
    for method in ["epoll", "poll", "select"] {
        let r = reactor(method);
        let (a, _b) = tcp_pair();
        let reg = Registration::level(&r, a, Interest::READ).unwrap();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let mut w = reg.waiter(Direction::Read);
        assert!(w.poll_ready(&mut cx).is_pending());
        replace_behind_its_back(reg.as_fd());
        let res = reg.set_interest(Interest::BOTH);
        if method == "epoll" {
            assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::ENOENT));
        }
        check_woken_and_not_pending(method, "set_interest", &r, &count, || {
            w.poll_ready(&mut cx).map_ok(drop)
        });
        drop(w);
        drop(reg);
    }
}

/// An edge registration: a task waits for reading; `clear(Write)` (a
/// connect in progress) re-arms the entry after the socket was replaced.
#[test]
fn refused_rearm_wakes_the_waiter_with_the_error() {
    for method in ["epoll", "poll", "select"] {
        let r = reactor(method);
        let (a, _b) = tcp_pair();
        let reg = Registration::with_reactor(&r, a).unwrap();
        // Let the backend deliver the first events (writable), so a later
        // clear re-arms the kernel's entry.
        r.turn(Some(Duration::from_millis(20))).unwrap();
        reg.clear(Direction::Read).unwrap();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let mut w = reg.waiter(Direction::Read);
        assert!(w.poll_ready(&mut cx).is_pending());
        replace_behind_its_back(reg.as_fd());
        let res = reg.clear(Direction::Write);
        if method == "epoll" {
            assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::ENOENT));
        }
        check_woken_and_not_pending(method, "clear", &r, &count, || {
            w.poll_ready(&mut cx).map_ok(drop)
        });
        // The registration stays failed: a new wait reports it at once.
        if method == "epoll" {
            let mut cx = Context::from_waker(Waker::noop());
            assert!(matches!(
                reg.poll_ready(Direction::Read, &mut cx),
                Poll::Ready(Err(_))
            ));
        }
        drop(w);
        drop(reg);
    }
}
