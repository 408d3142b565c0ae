//! `select!`, `join!`, `try_join!`, `runtime::future::{race, zip}` and
//! `JoinSet` through the facade, including `select!` cancel safety of the
//! methods documented as cancel safe (nothing lost when a branch loses).

use runtime::future::{race, try_zip, zip};
use runtime::net::{TcpListener, TcpStream};
use runtime::sync::{broadcast, mpsc, oneshot, watch, Notify};
use runtime::time::{sleep, timeout};
use runtime::{block_on, spawn, spawn_local, yield_now, JoinSet};
use std::cell::Cell;
use std::future::{pending, ready, Future};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

const BOUND: Duration = Duration::from_secs(20);

fn run<F: Future<Output = ()> + 'static>(f: F) {
    block_on(async { timeout(BOUND, spawn(f)).await.unwrap().unwrap() })
}

#[test]
fn select_runs_the_branch_of_the_first_to_finish() {
    run(async {
        let (tx, rx) = oneshot::channel::<u32>();
        spawn(async move {
            sleep(Duration::from_millis(5)).await;
            tx.send(9).unwrap();
        });
        let v = runtime::select! {
            r = rx => r.unwrap(),
            _ = pending::<()>() => unreachable!(),
        };
        assert_eq!(v, 9);
    });
}

#[test]
fn select_patterns_preconditions_else_and_control_flow() {
    run(async {
        // A non-matching output disables the branch; the other wins.
        let v = runtime::select! {
            Some(x) = ready(None::<u32>) => x,
            y = async { sleep(Duration::from_millis(1)).await; 5 } => y + 1,
        };
        assert_eq!(v, 6);

        // A false precondition: the branch is never polled.
        let polled = Rc::new(Cell::new(false));
        let p = polled.clone();
        let v = runtime::select! {
            _ = async move { p.set(true); }, if false => 1,
            _ = ready(()) => 2,
        };
        assert_eq!(v, 2);
        assert!(!polled.get());

        // Every branch disabled: else runs.
        let v = runtime::select! {
            Ok(x) = ready(Err::<u8, ()>(())) => x,
            _ = ready(()), if false => 0,
            else => 42,
        };
        assert_eq!(v, 42);

        // biased: polled in order, so the first ready branch always wins.
        for _ in 0..50 {
            let v = runtime::select! {
                biased;
                a = ready(1) => a,
                b = ready(2) => b,
            };
            assert_eq!(v, 1);
        }

        // Unbiased: both ready branches win sometimes.
        let mut wins = [0; 2];
        for _ in 0..200 {
            let i = runtime::select! {
                a = ready(0usize) => a,
                b = ready(1usize) => b,
            };
            wins[i] += 1;
        }
        assert!(wins[0] > 0 && wins[1] > 0, "{wins:?}");

        // break / continue / ? in bodies act on the enclosing code.
        let mut n = 0;
        loop {
            runtime::select! {
                _ = ready(()) => {
                    n += 1;
                    if n < 3 { continue; }
                    break;
                }
            }
        }
        assert_eq!(n, 3);
        async fn fails() -> Result<u8, &'static str> {
            runtime::select! {
                r = ready(Err::<u8, &str>("bad")) => { let v = r?; Ok(v) }
            }
        }
        assert_eq!(fails().await, Err("bad"));
    });
}

#[test]
#[should_panic(expected = "every branch is disabled")]
fn select_without_else_panics_when_all_branches_are_disabled() {
    block_on(async {
        runtime::select! {
            Some(x) = ready(None::<u8>) => x,
        }
    });
}

/// A reused `&mut fut` keeps its progress across rounds.
#[test]
fn select_on_a_borrowed_future_carries_on() {
    run(async {
        let mut long = std::pin::pin!(async {
            sleep(Duration::from_millis(30)).await;
            "long"
        });
        let mut ticks = 0;
        let out = loop {
            runtime::select! {
                v = &mut long => break v,
                _ = sleep(Duration::from_millis(2)) => ticks += 1,
            }
        };
        assert_eq!(out, "long");
        assert!(ticks > 0);
    });
}

/// Cancel safety: receivers racing a short timer in a loop lose no
/// message of mpsc, broadcast or watch, nor a JoinSet result, nor an
/// accepted connection.
#[test]
fn select_cancel_safety_of_documented_methods() {
    const N: u32 = 300;
    run(async {
        let (tx, rx) = mpsc::channel::<u32>(2);
        let (btx, mut brx) = broadcast::async_broadcast_channel::<u32>(2);
        spawn(async move {
            for i in 0..N {
                tx.send(i).await.unwrap();
                btx.broadcast(i).await.unwrap();
                if i % 7 == 0 {
                    sleep(Duration::from_micros(200)).await;
                }
            }
        });
        let (mut got, mut bgot, mut timeouts) = (Vec::new(), Vec::new(), 0);
        while got.len() < N as usize || bgot.len() < N as usize {
            runtime::select! {
                Ok(v) = rx.recv() => got.push(v),
                Ok(v) = brx.recv() => bgot.push(v),
                _ = sleep(Duration::from_micros(100)) => timeouts += 1,
            }
        }
        assert_eq!(got, (0..N).collect::<Vec<_>>());
        assert_eq!(bgot, (0..N).collect::<Vec<_>>());
        let _ = timeouts;

        // watch::Receiver::changed: the last value is always seen.
        let (wtx, mut wrx) = watch::channel(0u32);
        spawn(async move {
            for i in 1..=N {
                wtx.send(i).unwrap();
                if i % 10 == 0 {
                    sleep(Duration::from_micros(200)).await;
                }
            }
        });
        loop {
            runtime::select! {
                r = wrx.changed() => if r.is_err() { break },
                _ = sleep(Duration::from_micros(100)) => {}
            }
        }
        assert_eq!(*wrx.borrow(), N);

        // Notify::notified: notify_one is never lost to a timed-out wait.
        let notify = Arc::new(Notify::new());
        let n2 = notify.clone();
        spawn(async move {
            for _ in 0..50 {
                n2.notify_one();
                sleep(Duration::from_micros(300)).await;
            }
        });
        let mut woken = 0;
        while woken < 50 {
            runtime::select! {
                _ = notify.notified() => woken += 1,
                _ = sleep(Duration::from_micros(100)) => {}
            }
        }

        // JoinSet::join_next.
        let mut set = JoinSet::new();
        for i in 0..50u32 {
            set.spawn(async move {
                sleep(Duration::from_micros(50 * u64::from(i % 10))).await;
                i
            });
        }
        let mut done = Vec::new();
        while !set.is_empty() {
            runtime::select! {
                Some(r) = set.join_next() => done.push(r.unwrap()),
                _ = sleep(Duration::from_micros(50)) => {}
            }
        }
        done.sort();
        assert_eq!(done, (0..50).collect::<Vec<_>>());

        // TcpListener::accept: every connection is accepted once.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let clients = spawn(async move {
            let mut v = Vec::new();
            for _ in 0..20 {
                v.push(TcpStream::connect(addr).await.unwrap());
                sleep(Duration::from_micros(300)).await;
            }
            v
        });
        let mut accepted = 0;
        while accepted < 20 {
            runtime::select! {
                r = listener.accept() => { r.unwrap(); accepted += 1; }
                _ = sleep(Duration::from_micros(100)) => {}
            }
        }
        assert_eq!(clients.await.unwrap().len(), 20);
    });
}

#[test]
fn join_runs_futures_concurrently() {
    run(async {
        // Each needs the other's message: sequential awaiting would hang.
        let (atx, arx) = oneshot::channel::<u8>();
        let (btx, brx) = oneshot::channel::<u8>();
        let a = async move {
            atx.send(1).unwrap();
            brx.await.unwrap()
        };
        let b = async move {
            let v = arx.await.unwrap();
            btx.send(v + 1).unwrap();
            v
        };
        let (x, y, z) = runtime::join!(a, b, async { 3 });
        assert_eq!((x, y, z), (2, 1, 3));
        let (one,) = runtime::join!(async { 1 });
        assert_eq!(one, 1);
        let t = runtime::join!(
            ready(1),
            ready(2),
            ready(3),
            ready(4),
            ready(5),
            ready(6),
            ready(7),
            ready(8)
        );
        assert_eq!(t, (1, 2, 3, 4, 5, 6, 7, 8));
        let (p, q) = zip(ready('p'), ready('q')).await;
        assert_eq!((p, q), ('p', 'q'));
    });
}

#[test]
fn try_join_stops_at_the_first_error() {
    run(async {
        let ok: Result<_, String> =
            runtime::try_join!(async { Ok(1) }, async { Ok("b") }, async { Ok(3.5) });
        assert_eq!(ok, Ok((1, "b", 3.5)));
        // The error ends it even though the other future never finishes.
        let err: Result<(u8, u8, u8), &str> =
            runtime::try_join!(pending(), async { Err("second") }, pending());
        assert_eq!(err, Err("second"));
        let r: Result<(u8, u8), &str> = try_zip(ready(Ok(1)), ready(Err("e"))).await;
        assert_eq!(r, Err("e"));
    });
}

#[test]
fn race_returns_the_first_and_is_fair() {
    run(async {
        let v = race(sleep(Duration::from_secs(60)), async {}).await;
        assert_eq!(v, ());
        let slow = async {
            sleep(Duration::from_millis(50)).await;
            "slow"
        };
        let fast = async {
            sleep(Duration::from_millis(1)).await;
            "fast"
        };
        assert_eq!(race(slow, fast).await, "fast");
        let mut wins = [0; 2];
        for _ in 0..200 {
            wins[race(ready(0usize), ready(1usize)).await] += 1;
        }
        assert!(wins[0] > 0 && wins[1] > 0, "{wins:?}");
    });
}

#[test]
fn join_set_returns_in_finish_order_with_errors() {
    run(async {
        let mut set = JoinSet::new();
        assert!(set.join_next().await.is_none());
        for ms in [40u64, 10, 25] {
            set.spawn(async move {
                sleep(Duration::from_millis(ms)).await;
                ms
            });
        }
        set.spawn(async { panic!("task failed on purpose") });
        let aborted = set.spawn(pending());
        assert_eq!(set.len(), 5);
        aborted.abort();
        let mut oks = Vec::new();
        let (mut panics, mut cancels) = (0, 0);
        while let Some(r) = set.join_next().await {
            match r {
                Ok(v) => oks.push(v),
                Err(e) if e.is_panic() => panics += 1,
                Err(e) if e.is_cancelled() => cancels += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(oks, [10, 25, 40]);
        assert_eq!((panics, cancels), (1, 1));
        assert!(set.is_empty() && set.try_join_next().is_none());

        let all: JoinSet<u32> = (0..10u32).map(|i| async move { i }).collect();
        let mut v = all.join_all().await.unwrap();
        v.sort();
        assert_eq!(v, (0..10).collect::<Vec<_>>());
    });
}

/// Dropping the set, or shutdown, aborts what still runs: the tasks'
/// futures are dropped and never finish.
#[test]
fn join_set_aborts_all_on_drop_and_shutdown() {
    struct Flag(Rc<Cell<u32>>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }
    run(async {
        let dropped = Rc::new(Cell::new(0));
        let finished = Rc::new(Cell::new(0));
        let mut set = JoinSet::new();
        for _ in 0..5 {
            let (d, f) = (Flag(dropped.clone()), finished.clone());
            set.spawn(async move {
                let _d = d;
                sleep(Duration::from_millis(50)).await;
                f.set(f.get() + 1);
            });
        }
        yield_now().await;
        drop(set);
        sleep(Duration::from_millis(100)).await;
        assert_eq!((dropped.get(), finished.get()), (5, 0));

        let mut set = JoinSet::new();
        for _ in 0..3 {
            let f = finished.clone();
            set.spawn(async move {
                sleep(Duration::from_millis(50)).await;
                f.set(f.get() + 1);
            });
        }
        set.shutdown().await;
        assert!(set.is_empty());
        sleep(Duration::from_millis(60)).await;
        assert_eq!(finished.get(), 0);
    });
}

#[test]
fn spawn_local_takes_non_send_futures() {
    run(async {
        let rc = Rc::new(5);
        let h = spawn_local(async move { *rc + 1 });
        assert_eq!(h.await.unwrap(), 6);
    });
}
