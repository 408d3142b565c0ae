//! `runtime::sync::local` through the facade: the single-thread mpsc
//! (bounded, unbounded), oneshot, Notify and Mutex under contention from
//! several tasks of one thread; close semantics; cancellation (a dropped
//! waiting future leaves the queue, one dropped after being chosen passes
//! its turn on); and the mpsc fed by connection tasks over TCP on
//! 127.0.0.1. That they are `!Send` / `!Sync` is checked by compile_fail
//! doc tests in `sync/src/local/mod.rs`.

use runtime::io::{BufferedStream, Eol};
use runtime::net::{TcpListener, TcpStream};
use runtime::sync::local::{mpsc, oneshot, Mutex, Notify};
use runtime::time::{sleep, timeout};
use runtime::{block_on, spawn, yield_now};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

const TASKS: usize = 8;
const BOUND: Duration = Duration::from_secs(20);

/// Runs `f` as a spawned task on a fresh runtime, bounded in time.
fn run<F: Future<Output = ()> + 'static>(f: F) {
    block_on(async { timeout(BOUND, spawn(f)).await.unwrap().unwrap() })
}

#[test]
fn mpsc_bounded_many_producer_tasks_one_consumer() {
    run(async {
        const N: usize = 2000;
        let (tx, mut rx) = mpsc::channel::<(usize, usize)>(4);
        assert_eq!(tx.max_capacity(), 4);
        for t in 0..TASKS {
            let tx = tx.clone();
            spawn(async move {
                for i in 0..N {
                    tx.send((t, i)).await.unwrap();
                    if i % 7 == 0 {
                        yield_now().await;
                    }
                }
            });
        }
        drop(tx);
        let mut next = [0usize; TASKS];
        let mut max_len = 0;
        while let Some((t, i)) = rx.recv().await {
            // Each producer's messages arrive in its order.
            assert_eq!(i, next[t]);
            next[t] += 1;
            max_len = max_len.max(rx.len() + 1);
            if i % 13 == 0 {
                yield_now().await;
            }
        }
        assert_eq!(next, [N; TASKS]);
        assert!(max_len <= 4, "the bound was exceeded: {max_len}");
        assert_eq!(rx.try_recv(), Err(mpsc::TryRecvError::Disconnected));
    });
}

#[test]
fn mpsc_receiver_gone_fails_waiting_and_later_sends_with_their_value() {
    run(async {
        let (tx, mut rx) = mpsc::channel::<String>(1);
        tx.try_send("a".into()).unwrap();
        match tx.try_send("b".into()) {
            Err(mpsc::TrySendError::Full(v)) => assert_eq!(v, "b"),
            other => panic!("expected Full, got {other:?}"),
        }
        assert_eq!(tx.capacity(), 0);
        // Three senders wait for room.
        let waiting: Vec<_> = (0..3)
            .map(|i| {
                let tx = tx.clone();
                spawn(async move { tx.send(format!("w{i}")).await })
            })
            .collect();
        yield_now().await;
        assert_eq!(rx.recv().await.as_deref(), Some("a"));
        // One of them got the room.
        yield_now().await;
        assert_eq!(rx.len(), 1);
        drop(rx);
        let mut back = Vec::new();
        for w in waiting {
            match timeout(BOUND, w).await.unwrap().unwrap() {
                Ok(()) => {}
                Err(mpsc::SendError(v)) => back.push(v),
            }
        }
        assert_eq!(back, ["w1", "w2"]);
        assert!(tx.is_closed());
        assert_eq!(
            tx.send("late".into()).await,
            Err(mpsc::SendError("late".into()))
        );
        match tx.try_send("x".into()) {
            Err(mpsc::TrySendError::Closed(v)) => assert_eq!(v, "x"),
            other => panic!("expected Closed, got {other:?}"),
        }
    });
}

#[test]
fn mpsc_a_woken_sender_dropped_before_sending_passes_its_turn_on() {
    run(async {
        let (tx, mut rx) = mpsc::channel::<u32>(1);
        tx.send(0).await.unwrap();
        let tx1 = tx.clone();
        let first = spawn(async move { tx1.send(1).await.unwrap() });
        yield_now().await;
        let tx2 = tx.clone();
        let second = spawn(async move { tx2.send(2).await.unwrap() });
        yield_now().await;
        // Makes room: wakes `first`, which is aborted before it runs.
        assert_eq!(rx.recv().await, Some(0));
        first.abort();
        assert!(first.await.unwrap_err().is_cancelled());
        let v = timeout(Duration::from_secs(2), rx.recv())
            .await
            .expect("the room was lost with the dropped sender");
        assert_eq!(v, Some(2));
        second.await.unwrap();
        // A send that loses a select! is dropped: its message never arrives.
        tx.send(3).await.unwrap();
        runtime::select! {
            _ = tx.send(4) => panic!("the channel is full"),
            _ = sleep(Duration::from_millis(5)) => {}
        }
        drop(tx);
        assert_eq!(rx.recv().await, Some(3));
        assert_eq!(rx.recv().await, None);
    });
}

#[test]
fn mpsc_unbounded_close_and_recv_cancel_safety() {
    run(async {
        let (tx, mut rx) = mpsc::unbounded_channel::<u32>();
        // recv loses a select!: nothing is taken.
        runtime::select! {
            v = rx.recv() => panic!("nothing was sent: {v:?}"),
            _ = sleep(Duration::from_millis(2)) => {}
        }
        let producers: Vec<_> = (0..TASKS as u32)
            .map(|t| {
                let tx = tx.clone();
                spawn(async move {
                    for i in 0..500 {
                        tx.send(t * 1000 + i).unwrap();
                        if i % 50 == 0 {
                            yield_now().await;
                        }
                    }
                })
            })
            .collect();
        let mut got = 0;
        let mut lost_selects = 0;
        while got < TASKS * 500 {
            runtime::select! {
                v = rx.recv() => { v.unwrap(); got += 1; }
                _ = yield_now() => lost_selects += 1,
            }
        }
        for p in producers {
            p.await.unwrap();
        }
        assert!(lost_selects > 0);
        assert_eq!(got, TASKS * 500);
        tx.send(7).unwrap();
        rx.close();
        assert_eq!(tx.send(8), Err(mpsc::SendError(8)));
        assert!(tx.is_closed());
        // Queued before the close: still received; then the end.
        assert_eq!(rx.recv().await, Some(7));
        assert_eq!(rx.recv().await, None);
    });
}

#[test]
fn mpsc_all_senders_dropped_wakes_a_waiting_receiver() {
    run(async {
        let (tx, mut rx) = mpsc::unbounded_channel::<u8>();
        let rx_task = spawn(async move { rx.recv().await });
        yield_now().await;
        let tx2 = tx.clone();
        drop(tx);
        yield_now().await;
        assert!(!rx_task.is_finished());
        drop(tx2);
        assert_eq!(timeout(BOUND, rx_task).await.unwrap().unwrap(), None);
    });
}

#[test]
fn oneshot_value_closed_and_cancel_safety() {
    run(async {
        // Several pairs between tasks.
        let mut rxs = Vec::new();
        for i in 0..TASKS {
            let (tx, rx) = oneshot::channel();
            spawn(async move {
                yield_now().await;
                tx.send(i).unwrap();
            });
            rxs.push(rx);
        }
        for (i, rx) in rxs.into_iter().enumerate() {
            assert_eq!(rx.await, Ok(i));
        }
        // Sender dropped without sending.
        let (tx, rx) = oneshot::channel::<u8>();
        spawn(async move { drop(tx) });
        assert_eq!(rx.await, Err(oneshot::RecvError));
        // Receiver dropped: send gives the value back; closed() wakes.
        let (mut tx, rx) = oneshot::channel::<String>();
        let waiter = spawn(async move {
            tx.closed().await;
            tx.send("late".into())
        });
        yield_now().await;
        drop(rx);
        assert_eq!(
            timeout(BOUND, waiter).await.unwrap().unwrap(),
            Err("late".into())
        );
        // &mut rx in a select!: losing keeps the value for the next poll.
        let (tx, mut rx) = oneshot::channel::<u8>();
        runtime::select! {
            _ = &mut rx => panic!("nothing sent"),
            _ = sleep(Duration::from_millis(2)) => {}
        }
        assert_eq!(rx.try_recv(), Err(oneshot::TryRecvError::Empty));
        tx.send(5).unwrap();
        assert_eq!(rx.await, Ok(5));
    });
}

#[test]
fn notify_one_permit_and_fifo_order_among_tasks() {
    run(async {
        let n = Rc::new(Notify::new());
        // A stored permit is taken at once.
        n.notify_one();
        n.notify_one(); // at most one permit
        n.notified().await;
        runtime::select! {
            _ = n.notified() => panic!("only one permit is stored"),
            _ = sleep(Duration::from_millis(2)) => {}
        }
        let order = Rc::new(RefCell::new(Vec::new()));
        let tasks: Vec<_> = (0..TASKS)
            .map(|i| {
                let (n, order) = (n.clone(), order.clone());
                spawn(async move {
                    n.notified().await;
                    order.borrow_mut().push(i);
                })
            })
            .collect();
        yield_now().await;
        for _ in 0..TASKS {
            n.notify_one();
            yield_now().await;
        }
        for t in tasks {
            timeout(BOUND, t).await.unwrap().unwrap();
        }
        assert_eq!(*order.borrow(), (0..TASKS).collect::<Vec<_>>());
    });
}

#[test]
fn notify_waiters_wakes_every_waiter_and_futures_made_before() {
    run(async {
        let n = Rc::new(Notify::new());
        let woken = Rc::new(Cell::new(0));
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let (n, woken) = (n.clone(), woken.clone());
                spawn(async move {
                    n.notified().await;
                    woken.set(woken.get() + 1);
                })
            })
            .collect();
        yield_now().await;
        let made_before = n.notified();
        n.notify_waiters();
        made_before.await; // created before: completes
        for t in tasks {
            timeout(BOUND, t).await.unwrap().unwrap();
        }
        assert_eq!(woken.get(), TASKS);
        // No permit was stored.
        runtime::select! {
            _ = n.notified() => panic!("notify_waiters stores no permit"),
            _ = sleep(Duration::from_millis(2)) => {}
        }
    });
}

#[test]
fn notify_one_is_not_lost_by_a_dropped_waiter() {
    run(async {
        let n = Rc::new(Notify::new());
        let n1 = n.clone();
        let first = spawn(async move { n1.notified().await });
        yield_now().await;
        let n2 = n.clone();
        let second = spawn(async move { n2.notified().await });
        yield_now().await;
        // Chooses `first`; abort it before it runs.
        n.notify_one();
        first.abort();
        let _ = first.await;
        timeout(Duration::from_secs(2), second)
            .await
            .expect("notification lost")
            .unwrap();
        // A waiter that leaves (not chosen) is no longer woken.
        let n3 = n.clone();
        let leaver = spawn(async move { n3.notified().await });
        yield_now().await;
        leaver.abort();
        let _ = leaver.await;
        n.notify_one(); // nobody waits: stored as the permit
        n.notified().await;
    });
}

#[test]
fn mutex_excludes_and_is_fair_among_tasks_holding_it_across_yields() {
    run(async {
        let m = Rc::new(Mutex::new(Vec::new()));
        let inside = Rc::new(Cell::new(false));
        let tasks: Vec<_> = (0..TASKS)
            .map(|t| {
                let (m, inside) = (m.clone(), inside.clone());
                spawn(async move {
                    for _ in 0..50 {
                        let mut g = m.lock().await;
                        assert!(!inside.replace(true), "two holders");
                        yield_now().await;
                        g.push(t);
                        inside.set(false);
                    }
                })
            })
            .collect();
        for t in tasks {
            timeout(BOUND, t).await.unwrap().unwrap();
        }
        let log = m.lock().await;
        assert_eq!(log.len(), TASKS * 50);
        // Fair: the holders take turns in arrival order, so no task runs
        // twice in a row while others wait.
        let firsts: Vec<_> = log[..TASKS].to_vec();
        assert_eq!(firsts, (0..TASKS).collect::<Vec<_>>());
        for w in log.windows(2).take(TASKS * 49) {
            assert_ne!(w[0], w[1], "a task retook the lock ahead of waiters");
        }
    });
}

#[test]
fn mutex_lock_dropped_after_the_handoff_passes_the_lock_on() {
    run(async {
        let m = Rc::new(Mutex::new(0));
        let g = m.lock().await;
        assert!(m.try_lock().is_none());
        let m1 = m.clone();
        let first = spawn(async move { *m1.lock().await += 1 });
        yield_now().await;
        let m2 = m.clone();
        let second = spawn(async move { *m2.lock().await += 10 });
        yield_now().await;
        // Unlock hands the lock to `first`, which is aborted before it runs.
        drop(g);
        first.abort();
        let _ = first.await;
        timeout(Duration::from_secs(2), second)
            .await
            .expect("the lock was lost with the dropped waiter")
            .unwrap();
        assert_eq!(*m.lock().await, 10);
        // A waiter that leaves before the handoff leaves the queue.
        let g = m.lock().await;
        runtime::select! {
            _ = m.lock() => panic!("locked"),
            _ = sleep(Duration::from_millis(2)) => {}
        }
        drop(g);
        assert!(!m.is_locked());
        assert_eq!(*m.try_lock().unwrap(), 10);
        let mut m = Rc::try_unwrap(m).unwrap();
        *m.get_mut() += 1;
        assert_eq!(m.into_inner(), 11);
    });
}

/// Thread-per-core shape: connection tasks read lines from TCP clients on
/// 127.0.0.1 and forward them through one local mpsc to an aggregator
/// that holds a local Mutex'd tally; each client gets a oneshot-backed
/// acknowledgement.
#[test]
fn local_channels_between_connection_tasks_over_tcp() {
    run(async {
        const CLIENTS: usize = 6;
        const LINES: usize = 50;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, mut rx) = mpsc::channel::<(String, oneshot::Sender<usize>)>(2);
        let tally = Rc::new(Mutex::new(0usize));
        let t = tally.clone();
        let aggregator = spawn(async move {
            let mut per_client = std::collections::HashMap::new();
            while let Some((line, ack)) = rx.recv().await {
                let (client, i) = line.split_once(' ').unwrap();
                // Each connection's lines arrive in order.
                let next = per_client.entry(client.to_string()).or_insert(0usize);
                assert_eq!(i.parse::<usize>().unwrap(), *next, "{line}");
                *next += 1;
                let mut g = t.lock().await;
                *g += 1;
                let _ = ack.send(*g);
            }
            per_client
        });
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                spawn(async move {
                    let mut s = BufferedStream::new(TcpStream::connect(addr).await.unwrap());
                    for i in 0..LINES {
                        s.write_all(format!("c{c} {i}\n").as_bytes()).await.unwrap();
                        s.flush().await.unwrap();
                        let r = s.read_line(Eol::Lf).await.unwrap().unwrap();
                        let seen: usize = std::str::from_utf8(&r).unwrap().parse().unwrap();
                        assert!((1..=CLIENTS * LINES).contains(&seen));
                    }
                })
            })
            .collect();
        for _ in 0..CLIENTS {
            let (s, _) = listener.accept().await.unwrap();
            let tx = tx.clone();
            spawn(async move {
                let mut s = BufferedStream::new(s);
                while let Some(line) = s.read_line(Eol::Lf).await.unwrap() {
                    let line = String::from_utf8(line.to_vec()).unwrap();
                    let (ack_tx, ack_rx) = oneshot::channel();
                    tx.send((line, ack_tx)).await.unwrap();
                    let seen = ack_rx.await.unwrap();
                    s.write_all(format!("{seen}\n").as_bytes()).await.unwrap();
                    s.flush().await.unwrap();
                }
            });
        }
        drop(tx);
        for c in clients {
            timeout(BOUND, c).await.unwrap().unwrap();
        }
        let per_client = timeout(BOUND, aggregator).await.unwrap().unwrap();
        assert_eq!(per_client.len(), CLIENTS);
        assert!(per_client.values().all(|&n| n == LINES));
        assert_eq!(*tally.lock().await, CLIENTS * LINES);
    });
}
