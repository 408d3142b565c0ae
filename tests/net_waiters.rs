//! Several tasks waiting on one socket in the same direction (issue 9,
//! item 1): every waiter is woken, none is lost, and a dropped waiter
//! leaves nothing behind. Over real sockets on 127.0.0.1, once per
//! backend (`epoll::name`, `poll::name`, `select::name`); every test is
//! bounded in time and fails instead of hanging.

use runtime::net::{TcpListener, UdpSocket};
use runtime::reactor::{Direction, Registration};
use runtime::time::{sleep, timeout};
use runtime::{spawn, yield_now, Builder, Runtime};
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

/// A runtime on exactly this backend.
fn rt(method: &str) -> Runtime {
    let rt = Builder::new()
        .ignore_env(true)
        .method(method)
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(rt.method().name(), method);
    rt
}

/// Awaits `fut` for at most 5 s, panicking with `what` otherwise.
async fn bounded<F: Future>(what: &str, fut: F) -> F::Output {
    match timeout(Duration::from_secs(5), fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out: {what}"),
    }
}

/// Lets every spawned task run until it waits.
async fn settle() {
    for _ in 0..20 {
        yield_now().await;
    }
}

macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod epoll { $( #[test] fn $name() { super::$name("epoll") } )* }
        mod poll { $( #[test] fn $name() { super::$name("poll") } )* }
        mod select { $( #[test] fn $name() { super::$name("select") } )* }
    };
}

backend_tests!(
    udp_two_receivers,
    tcp_two_acceptors,
    disabled_listener_two_acceptors,
    dropped_waiter_is_removed,
    same_task_polling_again_adds_no_entry,
);

/// Two tasks share an `Rc<UdpSocket>` in `recv_from(&self)`; two datagrams
/// arrive once both wait: both tasks get one.
fn udp_two_receivers(method: &str) {
    rt(method).block_on(async {
        let sock = Rc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let addr = sock.local_addr().unwrap();
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let sock = sock.clone();
                spawn(async move {
                    let mut buf = [0u8; 16];
                    let (n, _) = sock.recv_from(&mut buf).await.unwrap();
                    buf[..n].to_vec()
                })
            })
            .collect();
        settle().await;
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.send_to(b"one", addr).unwrap();
        tx.send_to(b"two", addr).unwrap();
        let mut got = Vec::new();
        for t in tasks {
            got.push(bounded("both receivers complete", t).await.unwrap());
        }
        got.sort();
        assert_eq!(got, vec![b"one".to_vec(), b"two".to_vec()]);
    });
}

/// Two tasks share an `Rc<TcpListener>` in `accept(&self)`; two clients
/// connect once both wait: both tasks accept one.
fn tcp_two_acceptors(method: &str) {
    rt(method).block_on(async {
        let listener = Rc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
        let addr = listener.local_addr().unwrap();
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let listener = listener.clone();
                spawn(async move { listener.accept().await.unwrap().1 })
            })
            .collect();
        settle().await;
        let c1 = std::net::TcpStream::connect(addr).unwrap();
        let c2 = std::net::TcpStream::connect(addr).unwrap();
        let mut peers = Vec::new();
        for t in tasks {
            peers.push(bounded("both acceptors complete", t).await.unwrap());
        }
        peers.sort();
        let mut want = vec![c1.local_addr().unwrap(), c2.local_addr().unwrap()];
        want.sort();
        assert_eq!(peers, want);
    });
}

/// The listener's re-enable path: two tasks wait in `accept` on a
/// disabled listener; `enable` wakes both, and both accept.
fn disabled_listener_two_acceptors(method: &str) {
    rt(method).block_on(async {
        let listener = Rc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
        let addr = listener.local_addr().unwrap();
        listener.disable();
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let listener = listener.clone();
                spawn(async move { listener.accept().await.unwrap().1 })
            })
            .collect();
        let _c1 = std::net::TcpStream::connect(addr).unwrap();
        let _c2 = std::net::TcpStream::connect(addr).unwrap();
        settle().await;
        assert!(
            tasks.iter().all(|t| !t.is_finished()),
            "disabled: nothing accepted"
        );
        listener.enable();
        for t in tasks {
            bounded("both acceptors complete after enable", t)
                .await
                .unwrap();
        }
    });
}

/// Counts its wakes.
struct CountWaker(AtomicUsize);

impl Wake for CountWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A waiting future that is dropped removes its entry: the waiter count
/// goes back down, and its waker is not woken when readiness comes.
fn dropped_waiter_is_removed(method: &str) {
    rt(method).block_on(async {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let reg = Registration::new(a).unwrap();
        reg.clear(Direction::Read).unwrap();
        let dropped = Arc::new(CountWaker(AtomicUsize::new(0)));
        let kept = Arc::new(CountWaker(AtomicUsize::new(0)));
        {
            let mut f = pin!(reg.ready(Direction::Read));
            let w = Waker::from(dropped.clone());
            assert!(f.as_mut().poll(&mut Context::from_waker(&w)).is_pending());
            assert_eq!(reg.waiters(Direction::Read), 1);
        }
        assert_eq!(reg.waiters(Direction::Read), 0, "dropped future removed");
        let mut kept_fut = pin!(reg.ready(Direction::Read));
        let w = Waker::from(kept.clone());
        assert!(kept_fut
            .as_mut()
            .poll(&mut Context::from_waker(&w))
            .is_pending());
        assert_eq!(reg.waiters(Direction::Read), 1);
        std::io::Write::write_all(&mut &b, b"x").unwrap();
        bounded("kept waiter woken", async {
            while kept.0.load(Ordering::SeqCst) == 0 {
                sleep(Duration::from_millis(1)).await;
            }
        })
        .await;
        assert_eq!(
            dropped.0.load(Ordering::SeqCst),
            0,
            "no wake of a dropped waiter"
        );
        assert!(matches!(
            kept_fut.as_mut().poll(&mut Context::from_waker(&w)),
            Poll::Ready(Ok(_))
        ));
        assert_eq!(reg.waiters(Direction::Read), 0, "completed future removed");
    });
}

/// A future polled again by the same task keeps one entry; many waiting
/// futures each have one, and all are woken by one event.
fn same_task_polling_again_adds_no_entry(method: &str) {
    rt(method).block_on(async {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let reg = Registration::new(a).unwrap();
        reg.clear(Direction::Read).unwrap();
        let count = Arc::new(CountWaker(AtomicUsize::new(0)));
        let w = Waker::from(count.clone());
        let mut cx = Context::from_waker(&w);
        let mut waiters: Vec<_> = (0..5).map(|_| reg.waiter(Direction::Read)).collect();
        for _ in 0..3 {
            for wt in waiters.iter_mut() {
                assert!(wt.poll_ready(&mut cx).is_pending());
            }
        }
        assert_eq!(reg.waiters(Direction::Read), 5);
        // The shared poll_* slot is one more entry, kept once.
        assert!(reg.poll_ready(Direction::Read, &mut cx).is_pending());
        assert!(reg.poll_ready(Direction::Read, &mut cx).is_pending());
        assert_eq!(reg.waiters(Direction::Read), 6);
        std::io::Write::write_all(&mut &b, b"x").unwrap();
        bounded("all six woken", async {
            while count.0.load(Ordering::SeqCst) < 6 {
                sleep(Duration::from_millis(1)).await;
            }
        })
        .await;
        assert_eq!(count.0.load(Ordering::SeqCst), 6);
        for wt in waiters.iter_mut() {
            assert!(wt.poll_ready(&mut cx).is_ready());
        }
        assert_eq!(reg.waiters(Direction::Read), 0);
    });
}
