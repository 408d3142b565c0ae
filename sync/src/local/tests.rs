//! Unit tests driving the local primitives by hand (no runtime), so they
//! also run under miri (`cargo +nightly miri test -p runtime-sync --lib`):
//! the mutex guard's `UnsafeCell` access, hand-offs, and wakers dropped
//! and passed on.

use super::{mpsc, oneshot, Mutex, Notify};
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

fn waker() -> (Arc<Count>, Waker) {
    let c = Arc::new(Count(AtomicUsize::new(0)));
    (c.clone(), Waker::from(c))
}

fn poll<F: Future>(f: std::pin::Pin<&mut F>, w: &Waker) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(w))
}

#[test]
fn mutex_handoff_and_dropped_waiters() {
    let m = Mutex::new(String::from("a"));
    let (c1, w1) = waker();
    let (c2, w2) = waker();
    let mut g = m.try_lock().unwrap();
    g.push('b');
    let mut l1 = Box::pin(m.lock());
    let mut l2 = Box::pin(m.lock());
    assert!(poll(l1.as_mut(), &w1).is_pending());
    assert!(poll(l2.as_mut(), &w2).is_pending());
    drop(g); // handed to l1
    assert_eq!(c1.0.load(Ordering::Relaxed), 1);
    assert!(m.is_locked());
    drop(l1); // gone before taking it: passes to l2
    assert_eq!(c2.0.load(Ordering::Relaxed), 1);
    let Poll::Ready(mut g2) = poll(l2.as_mut(), &w2) else {
        panic!("l2 was handed the lock")
    };
    g2.push('c');
    drop(g2);
    drop(l2);
    assert!(!m.is_locked());
    assert_eq!(m.into_inner(), "abc");
}

#[test]
fn mpsc_bounded_wait_wake_and_drop() {
    let (tx, mut rx) = mpsc::channel::<Box<u32>>(1);
    let (cs, ws) = waker();
    let (cr, wr) = waker();
    tx.try_send(Box::new(1)).unwrap();
    let mut s1 = Box::pin(tx.send(Box::new(2)));
    let mut s2 = Box::pin(tx.send(Box::new(3)));
    assert!(poll(s1.as_mut(), &ws).is_pending());
    assert!(poll(s2.as_mut(), &ws).is_pending());
    assert_eq!(rx.try_recv().map(|b| *b), Ok(1)); // wakes s1
    assert_eq!(cs.0.load(Ordering::Relaxed), 1);
    drop(s1); // passes its turn to s2
    assert_eq!(cs.0.load(Ordering::Relaxed), 2);
    assert!(matches!(poll(s2.as_mut(), &ws), Poll::Ready(Ok(()))));
    drop(s2);
    assert!(matches!(rx.poll_recv(&mut Context::from_waker(&wr)), Poll::Ready(Some(b)) if *b == 3));
    {
        let mut r = pin!(rx.recv());
        assert!(poll(r.as_mut(), &wr).is_pending());
        tx.try_send(Box::new(4)).unwrap();
        assert_eq!(cr.0.load(Ordering::Relaxed), 1);
        assert!(matches!(poll(r.as_mut(), &wr), Poll::Ready(Some(b)) if *b == 4));
    }
    drop(tx);
    assert!(matches!(
        rx.poll_recv(&mut Context::from_waker(&wr)),
        Poll::Ready(None)
    ));
}

#[test]
fn mpsc_queued_messages_dropped_with_the_receiver() {
    let (tx, rx) = mpsc::unbounded_channel::<Box<u32>>();
    tx.send(Box::new(1)).unwrap();
    tx.send(Box::new(2)).unwrap();
    drop(rx);
    assert_eq!(tx.send(Box::new(3)).map_err(|e| *e.0), Err(3));
}

#[test]
fn oneshot_and_notify_by_hand() {
    let (c, w) = waker();
    let (tx, rx) = oneshot::channel::<Box<u8>>();
    let mut rx = Box::pin(rx);
    assert!(poll(rx.as_mut(), &w).is_pending());
    tx.send(Box::new(9)).unwrap();
    assert_eq!(c.0.load(Ordering::Relaxed), 1);
    assert!(matches!(poll(rx.as_mut(), &w), Poll::Ready(Ok(b)) if *b == 9));
    let (tx, rx) = oneshot::channel::<Box<u8>>();
    tx.send(Box::new(1)).unwrap();
    drop(rx); // the unreceived value is freed

    let n = Notify::new();
    let (c1, w1) = waker();
    let (c2, w2) = waker();
    let mut a = Box::pin(n.notified());
    let mut b = Box::pin(n.notified());
    assert!(poll(a.as_mut(), &w1).is_pending());
    assert!(poll(b.as_mut(), &w2).is_pending());
    n.notify_one(); // chooses a
    assert_eq!(c1.0.load(Ordering::Relaxed), 1);
    drop(a); // passes it to b
    assert_eq!(c2.0.load(Ordering::Relaxed), 1);
    assert!(poll(b.as_mut(), &w2).is_ready());
}
