//! Channels and locks: runtime::sync vs tokio::sync, side by side in one
//! process. Each workload runs on runtime (its `block_on` + `spawn`) with
//! the `Send` primitives of `runtime::sync`, with the single-thread ones of
//! `runtime::sync::local` where the workload is on one thread, and on
//! tokio (current_thread runtime + `spawn`, or one runtime per thread
//! for the two-thread cases), alternating, for several rounds; the figure
//! is process CPU time (user + system, from getrusage, all threads) per
//! operation, the median of the rounds, and the ratios.
//!
//!   cd peers && cargo run --release --bin sync_compare [-- --rounds 5 --scale 1]
//!
//! Pin it to one core for the single-thread cases (`taskset -c 1`); the
//! two-thread cases need two.

use std::hint::black_box;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

fn cpu_time() -> Duration {
    // SAFETY: an all-zero rusage is valid for getrusage to fill.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid out-pointer for the call.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// CPU nanoseconds per op of `f`, which does `ops` operations.
fn measure(ops: u64, f: impl FnOnce()) -> f64 {
    let t0 = cpu_time();
    f();
    (cpu_time() - t0).as_nanos() as f64 / ops as f64
}

struct Workload {
    name: &'static str,
    ops: u64,
    runtime: fn(u64),
    /// The same on `runtime::sync::local` (one-thread workloads only).
    local: Option<fn(u64)>,
    tokio: fn(u64),
}

// --- mpsc, one thread: a producer task and a consumer task ---------------

fn rt_mpsc_bounded(n: u64) {
    runtime::block_on(async move {
        let (tx, rx) = runtime::sync::mpsc::channel::<u64>(1024);
        let p = runtime::spawn(async move {
            for i in 0..n {
                tx.send(i).await.unwrap();
            }
        });
        let mut sum = 0;
        while let Ok(v) = rx.recv().await {
            sum += v;
        }
        p.await.unwrap();
        black_box(sum);
    });
}

fn tk_mpsc_bounded(n: u64) {
    tokio_rt().block_on(async move {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(1024);
        let p = tokio::spawn(async move {
            for i in 0..n {
                tx.send(i).await.unwrap();
            }
        });
        let mut sum = 0;
        while let Some(v) = rx.recv().await {
            sum += v;
        }
        p.await.unwrap();
        black_box(sum);
    });
}

fn rt_mpsc_unbounded(n: u64) {
    runtime::block_on(async move {
        let (tx, rx) = runtime::sync::mpsc::unbounded_channel::<u64>();
        let p = runtime::spawn(async move {
            for i in 0..n {
                tx.try_send(i).unwrap();
                if i % 64 == 0 {
                    runtime::yield_now().await;
                }
            }
        });
        let mut sum = 0;
        while let Ok(v) = rx.recv().await {
            sum += v;
        }
        p.await.unwrap();
        black_box(sum);
    });
}

fn tk_mpsc_unbounded(n: u64) {
    tokio_rt().block_on(async move {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
        let p = tokio::spawn(async move {
            for i in 0..n {
                tx.send(i).unwrap();
                if i % 64 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        });
        let mut sum = 0;
        while let Some(v) = rx.recv().await {
            sum += v;
        }
        p.await.unwrap();
        black_box(sum);
    });
}

// --- mpsc across two threads: producer on one, consumer on the other ----

fn rt_mpsc_2threads(n: u64) {
    let (tx, rx) = runtime::sync::mpsc::channel::<u64>(1024);
    let p = std::thread::spawn(move || {
        runtime::block_on(async move {
            for i in 0..n {
                tx.send(i).await.unwrap();
            }
        })
    });
    runtime::block_on(async move {
        let mut sum = 0;
        while let Ok(v) = rx.recv().await {
            sum += v;
        }
        black_box(sum);
    });
    p.join().unwrap();
}

fn tk_mpsc_2threads(n: u64) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(1024);
    let p = std::thread::spawn(move || {
        tokio_rt().block_on(async move {
            for i in 0..n {
                tx.send(i).await.unwrap();
            }
        })
    });
    tokio_rt().block_on(async move {
        let mut sum = 0;
        while let Some(v) = rx.recv().await {
            sum += v;
        }
        black_box(sum);
    });
    p.join().unwrap();
}

// --- oneshot: make, send, receive -----------------------------------------

fn rt_oneshot(n: u64) {
    runtime::block_on(async move {
        for i in 0..n {
            let (tx, rx) = runtime::sync::oneshot::channel();
            tx.send(i).unwrap();
            black_box(rx.await.unwrap());
        }
    });
}

fn tk_oneshot(n: u64) {
    tokio_rt().block_on(async move {
        for i in 0..n {
            let (tx, rx) = tokio::sync::oneshot::channel();
            tx.send(i).unwrap();
            black_box(rx.await.unwrap());
        }
    });
}

// --- Mutex: uncontended lock/unlock, and 8 tasks holding it across a yield

fn rt_mutex_uncontended(n: u64) {
    runtime::block_on(async move {
        let m = runtime::sync::Mutex::new(0u64);
        for _ in 0..n {
            *m.lock().await += 1;
        }
        black_box(m.into_inner());
    });
}

fn tk_mutex_uncontended(n: u64) {
    tokio_rt().block_on(async move {
        let m = tokio::sync::Mutex::new(0u64);
        for _ in 0..n {
            *m.lock().await += 1;
        }
        black_box(m.into_inner());
    });
}

const TASKS: u64 = 8;

fn rt_mutex_contended(n: u64) {
    runtime::block_on(async move {
        let m = Arc::new(runtime::sync::Mutex::new(0u64));
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let m = m.clone();
                runtime::spawn(async move {
                    for _ in 0..n / TASKS {
                        let mut g = m.lock().await;
                        runtime::yield_now().await;
                        *g += 1;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*m.lock().await, n / TASKS * TASKS);
    });
}

fn tk_mutex_contended(n: u64) {
    tokio_rt().block_on(async move {
        let m = Arc::new(tokio::sync::Mutex::new(0u64));
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let m = m.clone();
                tokio::spawn(async move {
                    for _ in 0..n / TASKS {
                        let mut g = m.lock().await;
                        tokio::task::yield_now().await;
                        *g += 1;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*m.lock().await, n / TASKS * TASKS);
    });
}

// --- Mutex across two threads, 4 tasks each, short critical sections ----

fn rt_mutex_2threads(n: u64) {
    let m = Arc::new(runtime::sync::Mutex::new(0u64));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let m = m.clone();
            std::thread::spawn(move || {
                runtime::block_on(async move {
                    let tasks: Vec<_> = (0..4)
                        .map(|_| {
                            let m = m.clone();
                            runtime::spawn(async move {
                                for _ in 0..n / 8 {
                                    *m.lock().await += 1;
                                }
                            })
                        })
                        .collect();
                    for t in tasks {
                        t.await.unwrap();
                    }
                })
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*m.try_lock().unwrap(), n / 8 * 8);
}

fn tk_mutex_2threads(n: u64) {
    let m = Arc::new(tokio::sync::Mutex::new(0u64));
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let m = m.clone();
            std::thread::spawn(move || {
                tokio_rt().block_on(async move {
                    let tasks: Vec<_> = (0..4)
                        .map(|_| {
                            let m = m.clone();
                            tokio::spawn(async move {
                                for _ in 0..n / 8 {
                                    *m.lock().await += 1;
                                }
                            })
                        })
                        .collect();
                    for t in tasks {
                        t.await.unwrap();
                    }
                })
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*m.try_lock().unwrap(), n / 8 * 8);
}

// --- broadcast: one sender, 4 receiver tasks -------------------------------

fn rt_broadcast(n: u64) {
    runtime::block_on(async move {
        let (tx, rx) = runtime::sync::broadcast::async_broadcast_channel::<u64>(256);
        let rxs: Vec<_> = (0..4)
            .map(|_| {
                let mut rx = rx.clone();
                runtime::spawn(async move {
                    let mut sum = 0;
                    while let Ok(v) = rx.recv().await {
                        sum += v;
                    }
                    sum
                })
            })
            .collect();
        drop(rx);
        for i in 0..n {
            tx.broadcast(i).await.unwrap();
        }
        drop(tx);
        for r in rxs {
            black_box(r.await.unwrap());
        }
    });
}

fn tk_broadcast(n: u64) {
    tokio_rt().block_on(async move {
        let (tx, rx) = tokio::sync::broadcast::channel::<u64>(256);
        let rxs: Vec<_> = (0..4)
            .map(|_| {
                let mut rx = tx.subscribe();
                tokio::spawn(async move {
                    let mut sum = 0;
                    while let Ok(v) = rx.recv().await {
                        sum += v;
                    }
                    sum
                })
            })
            .collect();
        drop(rx);
        for i in 0..n {
            // tokio's send never waits (a slow receiver lags instead):
            // yield every so often so receivers keep up, as runtime's
            // bounded broadcast makes the sender wait.
            tx.send(i).unwrap();
            if i % 128 == 127 {
                tokio::task::yield_now().await;
            }
        }
        drop(tx);
        for r in rxs {
            black_box(r.await.unwrap());
        }
    });
}

// --- runtime::sync::local: the one-thread workloads on the !Send primitives

fn lc_mpsc_bounded(n: u64) {
    runtime::block_on(async move {
        let (tx, mut rx) = runtime::sync::local::mpsc::channel::<u64>(1024);
        let p = runtime::spawn(async move {
            for i in 0..n {
                tx.send(i).await.unwrap();
            }
        });
        let mut sum = 0;
        while let Some(v) = rx.recv().await {
            sum += v;
        }
        p.await.unwrap();
        black_box(sum);
    });
}

fn lc_mpsc_unbounded(n: u64) {
    runtime::block_on(async move {
        let (tx, mut rx) = runtime::sync::local::mpsc::unbounded_channel::<u64>();
        let p = runtime::spawn(async move {
            for i in 0..n {
                tx.send(i).unwrap();
                if i % 64 == 0 {
                    runtime::yield_now().await;
                }
            }
        });
        let mut sum = 0;
        while let Some(v) = rx.recv().await {
            sum += v;
        }
        p.await.unwrap();
        black_box(sum);
    });
}

fn lc_oneshot(n: u64) {
    runtime::block_on(async move {
        for i in 0..n {
            let (tx, rx) = runtime::sync::local::oneshot::channel();
            tx.send(i).unwrap();
            black_box(rx.await.unwrap());
        }
    });
}

fn lc_mutex_uncontended(n: u64) {
    runtime::block_on(async move {
        let m = runtime::sync::local::Mutex::new(0u64);
        for _ in 0..n {
            *m.lock().await += 1;
        }
        black_box(m.into_inner());
    });
}

fn lc_mutex_contended(n: u64) {
    runtime::block_on(async move {
        let m = Rc::new(runtime::sync::local::Mutex::new(0u64));
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let m = m.clone();
                runtime::spawn(async move {
                    for _ in 0..n / TASKS {
                        let mut g = m.lock().await;
                        runtime::yield_now().await;
                        *g += 1;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*m.lock().await, n / TASKS * TASKS);
    });
}

// --- Notify: ping-pong between two tasks (one op = one round trip) --------

fn rt_notify(n: u64) {
    runtime::block_on(async move {
        let (a, b) = (
            Arc::new(runtime::sync::Notify::new()),
            Arc::new(runtime::sync::Notify::new()),
        );
        let (a2, b2) = (a.clone(), b.clone());
        let t = runtime::spawn(async move {
            for _ in 0..n {
                a2.notified().await;
                b2.notify_one();
            }
        });
        for _ in 0..n {
            a.notify_one();
            b.notified().await;
        }
        t.await.unwrap();
    });
}

fn lc_notify(n: u64) {
    runtime::block_on(async move {
        let (a, b) = (
            Rc::new(runtime::sync::local::Notify::new()),
            Rc::new(runtime::sync::local::Notify::new()),
        );
        let (a2, b2) = (a.clone(), b.clone());
        let t = runtime::spawn(async move {
            for _ in 0..n {
                a2.notified().await;
                b2.notify_one();
            }
        });
        for _ in 0..n {
            a.notify_one();
            b.notified().await;
        }
        t.await.unwrap();
    });
}

fn tk_notify(n: u64) {
    tokio_rt().block_on(async move {
        let (a, b) = (
            Arc::new(tokio::sync::Notify::new()),
            Arc::new(tokio::sync::Notify::new()),
        );
        let (a2, b2) = (a.clone(), b.clone());
        let t = tokio::spawn(async move {
            for _ in 0..n {
                a2.notified().await;
                b2.notify_one();
            }
        });
        for _ in 0..n {
            a.notify_one();
            b.notified().await;
        }
        t.await.unwrap();
    });
}

fn main() {
    let mut rounds = 5usize;
    let mut scale = 1u64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--rounds" => {
                rounds = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--rounds N")
            }
            "--scale" => scale = args.next().and_then(|v| v.parse().ok()).expect("--scale N"),
            "-h" | "--help" => {
                println!("usage: sync_compare [--rounds N] [--scale N]");
                return;
            }
            other => panic!("unknown flag {other}"),
        }
    }
    let workloads = [
        Workload {
            name: "mpsc bounded(1024), 1 thread",
            ops: 1_000_000,
            runtime: rt_mpsc_bounded,
            local: Some(lc_mpsc_bounded),
            tokio: tk_mpsc_bounded,
        },
        Workload {
            name: "mpsc unbounded, 1 thread",
            ops: 1_000_000,
            runtime: rt_mpsc_unbounded,
            local: Some(lc_mpsc_unbounded),
            tokio: tk_mpsc_unbounded,
        },
        Workload {
            name: "mpsc bounded(1024), 2 threads",
            ops: 1_000_000,
            runtime: rt_mpsc_2threads,
            local: None,
            tokio: tk_mpsc_2threads,
        },
        Workload {
            name: "oneshot make+send+recv",
            ops: 1_000_000,
            runtime: rt_oneshot,
            local: Some(lc_oneshot),
            tokio: tk_oneshot,
        },
        Workload {
            name: "Notify ping-pong, 2 tasks (round trip)",
            ops: 500_000,
            runtime: rt_notify,
            local: Some(lc_notify),
            tokio: tk_notify,
        },
        Workload {
            name: "Mutex lock/unlock, uncontended",
            ops: 2_000_000,
            runtime: rt_mutex_uncontended,
            local: Some(lc_mutex_uncontended),
            tokio: tk_mutex_uncontended,
        },
        Workload {
            name: "Mutex, 8 tasks holding across a yield",
            ops: 400_000,
            runtime: rt_mutex_contended,
            local: Some(lc_mutex_contended),
            tokio: tk_mutex_contended,
        },
        Workload {
            name: "Mutex, 2 threads x 4 tasks",
            ops: 800_000,
            runtime: rt_mutex_2threads,
            local: None,
            tokio: tk_mutex_2threads,
        },
        Workload {
            name: "broadcast(256), 1 sender 4 receivers",
            ops: 200_000,
            runtime: rt_broadcast,
            local: None,
            tokio: tk_broadcast,
        },
    ];
    println!(
        "{:<40} {:>9} {:>9} {:>9} {:>12} {:>11} {:>11}",
        "workload (CPU ns per op, median)",
        "Send",
        "local",
        "tokio",
        "Send/tokio",
        "local/tokio",
        "local/Send"
    );
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    for w in &workloads {
        let ops = w.ops * scale;
        // Warm up each once.
        (w.runtime)(ops / 10);
        if let Some(l) = w.local {
            l(ops / 10);
        }
        (w.tokio)(ops / 10);
        let (mut r, mut l, mut t) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            r.push(measure(ops, || (w.runtime)(ops)));
            if let Some(local) = w.local {
                l.push(measure(ops, || local(ops)));
            }
            t.push(measure(ops, || (w.tokio)(ops)));
        }
        let (rm, tm) = (median(r), median(t));
        if w.local.is_some() {
            let lm = median(l);
            println!(
                "{:<40} {:>9.1} {:>9.1} {:>9.1} {:>12.2} {:>11.2} {:>11.2}",
                w.name,
                rm,
                lm,
                tm,
                rm / tm,
                lm / tm,
                lm / rm
            );
        } else {
            println!(
                "{:<40} {:>9.1} {:>9} {:>9.1} {:>12.2} {:>11} {:>11}",
                w.name,
                rm,
                "-",
                tm,
                rm / tm,
                "-",
                "-"
            );
        }
    }
}
