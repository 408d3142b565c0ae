//! `runtime::sync` through the facade: every primitive under contention
//! from several tasks on one thread and, as they are all `Send`, from
//! several threads each running its own runtime; closing and error paths.

use runtime::sync::{broadcast, mpsc, oneshot, watch, Barrier, Mutex, Notify, RwLock, Semaphore};
use runtime::time::timeout;
use runtime::{block_on, spawn, yield_now};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

const THREADS: usize = 4;
const TASKS: usize = 8;
const BOUND: Duration = Duration::from_secs(20);

/// Runs `make(thread_index)` as the root future of a runtime on each of
/// `THREADS` threads, failing if any takes longer than `BOUND`.
fn on_threads<F, Fut>(make: F)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let make = Arc::new(make);
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let make = make.clone();
            thread::spawn(move || {
                block_on(async move {
                    timeout(BOUND, make(t))
                        .await
                        .expect("thread's work timed out");
                })
            })
        })
        .collect();
    for t in threads {
        t.join().expect("worker thread panicked");
    }
}

/// Runs `f` as a spawned task on a fresh runtime: there `yield_now` lets
/// the other tasks run (in `block_on`'s own future it returns at once).
fn run<F: Future<Output = ()> + 'static>(f: F) {
    block_on(async { timeout(BOUND, spawn(f)).await.unwrap().unwrap() })
}

#[test]
fn mpsc_bounded_many_senders_many_threads() {
    const PER_TASK: u64 = 500;
    let (tx, rx) = mpsc::channel::<u64>(4);
    let consumer = thread::spawn(move || {
        block_on(async move {
            let mut sum = 0u64;
            let mut count = 0u64;
            while let Ok(v) = timeout(BOUND, rx.recv()).await.expect("recv timed out") {
                sum += v;
                count += 1;
            }
            (sum, count)
        })
    });
    on_threads(move |t| {
        let tx = tx.clone();
        async move {
            let tasks: Vec<_> = (0..TASKS)
                .map(|k| {
                    let tx = tx.clone();
                    spawn(async move {
                        for i in 0..PER_TASK {
                            tx.send((t * TASKS + k) as u64 * PER_TASK + i)
                                .await
                                .unwrap();
                        }
                    })
                })
                .collect();
            for task in tasks {
                task.await.unwrap();
            }
        }
    });
    // Every sender is gone now: the consumer drains and sees the close.
    let (sum, count) = consumer.join().unwrap();
    let n = (THREADS * TASKS) as u64 * PER_TASK;
    assert_eq!(count, n);
    assert_eq!(sum, n * (n - 1) / 2);
}

#[test]
fn mpsc_unbounded_closed_both_ways() {
    run(async {
        let (tx, rx) = mpsc::unbounded_channel::<u32>();
        tx.send(1).await.unwrap();
        drop(rx);
        // No receiver: the message comes back.
        assert_eq!(tx.send(2).await.unwrap_err().into_inner(), 2);
        let (tx, rx) = mpsc::unbounded_channel::<u32>();
        let waiter = spawn(async move { rx.recv().await });
        yield_now().await;
        drop(tx);
        assert!(waiter.await.unwrap().is_err());
    });
}

#[test]
fn oneshot_across_threads_and_failures() {
    let (tx, rx) = oneshot::channel::<String>();
    let sender = thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        tx.send("over".into()).unwrap();
    });
    assert_eq!(block_on(rx), Ok("over".to_string()));
    sender.join().unwrap();

    run(async {
        // Sender dropped without sending.
        let (tx, rx) = oneshot::channel::<u8>();
        let waiter = spawn(rx);
        yield_now().await;
        drop(tx);
        assert_eq!(waiter.await.unwrap(), Err(oneshot::RecvError));

        // Receiver gone: send gives the value back, closed() returns.
        let (mut tx, rx) = oneshot::channel::<u8>();
        let closed = spawn(async move {
            tx.closed().await;
            tx.send(7)
        });
        yield_now().await;
        drop(rx);
        assert_eq!(closed.await.unwrap(), Err(7));

        // try_recv before and after.
        let (tx, mut rx) = oneshot::channel::<u8>();
        assert_eq!(rx.try_recv(), Err(oneshot::TryRecvError::Empty));
        tx.send(1).unwrap();
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(rx.try_recv(), Err(oneshot::TryRecvError::Closed));
    });
}

#[test]
fn broadcast_every_receiver_sees_every_message_in_order() {
    const N: u32 = 2000;
    let (tx, rx) = broadcast::async_broadcast_channel::<u32>(8);
    let receivers: Vec<_> = (0..THREADS)
        .map(|_| {
            let mut rx = rx.clone();
            thread::spawn(move || {
                block_on(async move {
                    let mut next = 0;
                    while let Ok(v) = timeout(BOUND, rx.recv()).await.unwrap() {
                        assert_eq!(v, next);
                        next += 1;
                    }
                    next
                })
            })
        })
        .collect();
    drop(rx);
    block_on(async move {
        for i in 0..N {
            tx.broadcast(i).await.unwrap();
        }
    });
    for r in receivers {
        assert_eq!(r.join().unwrap(), N);
    }
}

#[test]
fn broadcast_lagging_receiver_learns_how_many_it_missed() {
    block_on(async {
        let (tx, mut rx) = broadcast::channel::<u32>(2);
        for i in 0..5 {
            // Overflow mode: never waits, drops the oldest.
            tx.broadcast(i).await.unwrap();
        }
        assert_eq!(rx.recv().await, Err(broadcast::RecvError::Overflowed(3)));
        assert_eq!(rx.recv().await, Ok(3));
        assert_eq!(rx.recv().await, Ok(4));
        drop(tx);
        assert_eq!(rx.recv().await, Err(broadcast::RecvError::Closed));
    });
}

#[test]
fn watch_receivers_on_threads_see_the_last_value() {
    const LAST: u64 = 1000;
    let (tx, rx) = watch::channel(0u64);
    let receivers: Vec<_> = (0..THREADS)
        .map(|_| {
            let mut rx = rx.clone();
            thread::spawn(move || {
                block_on(async move {
                    let mut last = 0;
                    loop {
                        match timeout(BOUND, rx.changed()).await.unwrap() {
                            Ok(()) => {
                                let v = *rx.borrow_and_update();
                                assert!(v >= last, "went back from {last} to {v}");
                                last = v;
                            }
                            Err(watch::RecvError) => return last,
                        }
                    }
                })
            })
        })
        .collect();
    drop(rx);
    for i in 1..=LAST {
        tx.send(i).unwrap();
        if i % 100 == 0 {
            thread::yield_now();
        }
    }
    drop(tx);
    for r in receivers {
        assert_eq!(r.join().unwrap(), LAST);
    }

    // Without receivers send fails; send_replace still sets the value.
    let (tx, rx) = watch::channel(1);
    drop(rx);
    assert_eq!(tx.send(2), Err(watch::SendError(2)));
    assert_eq!(tx.send_replace(3), 1);
    assert_eq!(*tx.borrow(), 3);
}

#[test]
fn watch_closed_and_has_changed() {
    run(async {
        let (tx, rx) = watch::channel("a");
        let mut rx2 = tx.subscribe();
        assert_eq!(tx.receiver_count(), 2);
        assert_eq!(rx2.has_changed(), Ok(false));
        tx.send_if_modified(|v| {
            *v = "b";
            true
        });
        assert_eq!(rx2.has_changed(), Ok(true));
        assert!(!tx.send_if_modified(|_| false));
        rx2.changed().await.unwrap();
        assert_eq!(rx2.has_changed(), Ok(false));
        let closed = {
            let tx = Arc::new(tx);
            let t = tx.clone();
            spawn(async move { t.closed().await })
        };
        yield_now().await;
        drop(rx);
        drop(rx2);
        timeout(BOUND, closed).await.unwrap().unwrap();
    });
}

/// A read-modify-write with an await inside the critical section: any
/// lapse in mutual exclusion loses an increment.
#[test]
fn mutex_excludes_across_tasks_and_threads() {
    const ROUNDS: usize = 200;
    let m = Arc::new(Mutex::new(0usize));
    let m2 = m.clone();
    on_threads(move |_| {
        let m = m2.clone();
        async move {
            let tasks: Vec<_> = (0..TASKS)
                .map(|_| {
                    let m = m.clone();
                    spawn(async move {
                        for _ in 0..ROUNDS {
                            let mut g = m.lock().await;
                            let v = *g;
                            yield_now().await;
                            *g = v + 1;
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        }
    });
    assert_eq!(*m.try_lock().unwrap(), THREADS * TASKS * ROUNDS);
}

#[test]
fn rwlock_readers_never_see_a_half_write() {
    let l = Arc::new(RwLock::new((0u64, 0u64)));
    let l2 = l.clone();
    on_threads(move |t| {
        let l = l2.clone();
        async move {
            let tasks: Vec<_> = (0..TASKS)
                .map(|k| {
                    let l = l.clone();
                    spawn(async move {
                        for _ in 0..100 {
                            if (t + k) % 2 == 0 {
                                let mut g = l.write().await;
                                g.0 += 1;
                                yield_now().await;
                                g.1 += 1;
                            } else {
                                let g = l.read().await;
                                let a = g.0;
                                yield_now().await;
                                assert_eq!((a, g.0), (g.1, g.1));
                            }
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        }
    });
    let g = l.try_read().unwrap();
    assert_eq!(*g, (200 * TASKS as u64, 200 * TASKS as u64));
}

#[test]
fn semaphore_bounds_concurrency() {
    const PERMITS: usize = 3;
    let sem = Arc::new(Semaphore::new(PERMITS));
    let inside = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let (s2, i2, m2) = (sem.clone(), inside.clone(), max.clone());
    on_threads(move |_| {
        let (sem, inside, max) = (s2.clone(), i2.clone(), m2.clone());
        async move {
            let tasks: Vec<_> = (0..TASKS)
                .map(|_| {
                    let (sem, inside, max) = (sem.clone(), inside.clone(), max.clone());
                    spawn(async move {
                        for _ in 0..50 {
                            let _permit = sem.acquire().await;
                            let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                            max.fetch_max(now, Ordering::SeqCst);
                            yield_now().await;
                            inside.fetch_sub(1, Ordering::SeqCst);
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        }
    });
    let max = max.load(Ordering::SeqCst);
    assert!(max <= PERMITS, "{max} holders at once");
    assert!(max >= 2, "never contended ({max})");
    assert!(sem.try_acquire().is_some());
}

#[test]
fn notify_one_stores_a_permit_and_wakes_in_order() {
    run(async {
        let n = Notify::new();
        n.notify_one();
        n.notify_one(); // permits do not add up
        timeout(BOUND, n.notified()).await.unwrap();
        assert!(timeout(Duration::from_millis(20), n.notified())
            .await
            .is_err());

        let n = Arc::new(Notify::new());
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let tasks: Vec<_> = (0..3)
            .map(|i| {
                let (n, order) = (n.clone(), order.clone());
                spawn(async move {
                    n.notified().await;
                    order.lock().unwrap().push(i);
                })
            })
            .collect();
        yield_now().await;
        for _ in 0..3 {
            n.notify_one();
            yield_now().await;
        }
        for t in tasks {
            timeout(BOUND, t).await.unwrap().unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2]);

        // notify_waiters wakes all waiting now and stores no permit.
        let tasks: Vec<_> = (0..3)
            .map(|_| {
                let n = n.clone();
                spawn(async move { n.notified().await })
            })
            .collect();
        yield_now().await;
        n.notify_waiters();
        for t in tasks {
            timeout(BOUND, t).await.unwrap().unwrap();
        }
        assert!(timeout(Duration::from_millis(20), n.notified())
            .await
            .is_err());
    });
}

/// Cancel safety: a `Notified` chosen by notify_one and then dropped
/// (it lost a race) passes the notification to the next waiter.
#[test]
fn notify_one_is_not_lost_by_a_dropped_waiter() {
    run(async {
        let n = Arc::new(Notify::new());
        let n1 = n.clone();
        let first = spawn(async move {
            // Waits, then gives up shortly after being chosen.
            let _ = timeout(Duration::from_millis(50), n1.notified()).await;
        });
        yield_now().await;
        let n2 = n.clone();
        let second = spawn(async move { n2.notified().await });
        yield_now().await;
        // Chooses `first`; abort it before it runs.
        n.notify_one();
        first.abort();
        let _ = first.await;
        timeout(BOUND, second)
            .await
            .expect("notification lost")
            .unwrap();
    });
}

#[test]
fn notify_across_threads() {
    let n = Arc::new(Notify::new());
    let n2 = n.clone();
    let waiter = thread::spawn(move || block_on(timeout(BOUND, n2.notified())));
    thread::sleep(Duration::from_millis(20));
    n.notify_one();
    waiter
        .join()
        .unwrap()
        .expect("not woken from another thread");
}

#[test]
fn barrier_releases_all_with_one_leader() {
    let b = Arc::new(Barrier::new(THREADS * TASKS));
    let leaders = Arc::new(AtomicUsize::new(0));
    let (b2, l2) = (b.clone(), leaders.clone());
    on_threads(move |_| {
        let (b, leaders) = (b2.clone(), l2.clone());
        async move {
            let tasks: Vec<_> = (0..TASKS)
                .map(|_| {
                    let (b, leaders) = (b.clone(), leaders.clone());
                    spawn(async move {
                        if b.wait().await.is_leader() {
                            leaders.fetch_add(1, Ordering::SeqCst);
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
        }
    });
    assert_eq!(leaders.load(Ordering::SeqCst), 1);
}
