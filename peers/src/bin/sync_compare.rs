//! Channels and locks: runtime::sync vs tokio::sync, side by side in one
//! process. Each workload runs on runtime (its `block_on` + `spawn`) and
//! on tokio (current_thread runtime + `spawn`, or one runtime per thread
//! for the two-thread cases), alternating, for several rounds; the figure
//! is process CPU time (user + system, from getrusage, all threads) per
//! operation, the median of the rounds, and the ratio runtime / tokio.
//!
//!   cd peers && cargo run --release --bin sync_compare [-- --rounds 5 --scale 1]
//!
//! Pin it to one core for the single-thread cases (`taskset -c 1`); the
//! two-thread cases need two.

use std::hint::black_box;
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

fn main() {
    let mut rounds = 5usize;
    let mut scale = 1u64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--rounds" => rounds = args.next().and_then(|v| v.parse().ok()).expect("--rounds N"),
            "--scale" => scale = args.next().and_then(|v| v.parse().ok()).expect("--scale N"),
            "-h" | "--help" => {
                println!("usage: sync_compare [--rounds N] [--scale N]");
                return;
            }
            other => panic!("unknown flag {other}"),
        }
    }
    let workloads = [
        Workload { name: "mpsc bounded(1024), 1 thread", ops: 1_000_000, runtime: rt_mpsc_bounded, tokio: tk_mpsc_bounded },
        Workload { name: "mpsc unbounded, 1 thread", ops: 1_000_000, runtime: rt_mpsc_unbounded, tokio: tk_mpsc_unbounded },
        Workload { name: "mpsc bounded(1024), 2 threads", ops: 1_000_000, runtime: rt_mpsc_2threads, tokio: tk_mpsc_2threads },
        Workload { name: "oneshot make+send+recv", ops: 1_000_000, runtime: rt_oneshot, tokio: tk_oneshot },
        Workload { name: "Mutex lock/unlock, uncontended", ops: 2_000_000, runtime: rt_mutex_uncontended, tokio: tk_mutex_uncontended },
        Workload { name: "Mutex, 8 tasks holding across a yield", ops: 400_000, runtime: rt_mutex_contended, tokio: tk_mutex_contended },
        Workload { name: "Mutex, 2 threads x 4 tasks", ops: 800_000, runtime: rt_mutex_2threads, tokio: tk_mutex_2threads },
        Workload { name: "broadcast(256), 1 sender 4 receivers", ops: 200_000, runtime: rt_broadcast, tokio: tk_broadcast },
    ];
    println!("{:<40} {:>12} {:>12} {:>8}", "workload (CPU ns per op, median)", "runtime", "tokio", "ratio");
    for w in &workloads {
        let ops = w.ops * scale;
        // Warm up both once.
        (w.runtime)(ops / 10);
        (w.tokio)(ops / 10);
        let (mut r, mut t) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            r.push(measure(ops, || (w.runtime)(ops)));
            t.push(measure(ops, || (w.tokio)(ops)));
        }
        r.sort_by(f64::total_cmp);
        t.sort_by(f64::total_cmp);
        let (rm, tm) = (r[rounds / 2], t[rounds / 2]);
        println!("{:<40} {:>12.1} {:>12.1} {:>8.2}", w.name, rm, tm, rm / tm);
    }
}
