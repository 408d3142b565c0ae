//! runtime vs tokio (current_thread), side by side, in one criterion run.
//!
//! Every group has one function per implementation (`<group>/runtime`,
//! `<group>/tokio`) running the same work; timing happens inside a single
//! `block_on` per sample batch (`iter_custom`), so runtime construction and
//! `block_on` entry are not measured.
//!
//!   cd peers && cargo bench --bench compare [-- FILTER]
//!
//! Notes on fairness:
//! * `wake_ping_pong` uses `Rc`-based (`!Send`) tasks, so tokio runs it on a
//!   `LocalSet` (`spawn_local`) — tokio's way of running `!Send` tasks.
//! * the timer groups poll a `Sleep` once inside a tight loop; both runtimes'
//!   coop budgets (128 operations per task poll) would make `Sleep::poll`
//!   return Pending *without registering the timer* once spent, so tokio's
//!   loop runs inside `tokio::task::unconstrained` and runtime's inside
//!   `runtime::reactor::coop::unconstrained`.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::hint::black_box;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};

const SPAWN_MANY: usize = 1000;
const PING_PONGS: u32 = 1000;
const YIELDS: usize = 1000;
/// Other sleeps pending during `timer_insert_cancel_1m_pending`.
const PENDING: usize = 100_000;

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn runtime_rt() -> runtime::Runtime {
    runtime::Runtime::new().expect("runtime::Runtime::new")
}

/// Unwrap a join result without requiring `Debug` on the error type.
fn joined<T, E>(r: Result<T, E>) -> T {
    match r {
        Ok(v) => v,
        Err(_) => panic!("task failed to join"),
    }
}

/// Poll a future exactly once with a no-op waker.
fn poll_once<F: Future + ?Sized>(f: Pin<&mut F>) -> Poll<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    f.poll(&mut cx)
}

/// Run a synchronous section without runtime's coop budget (the equivalent
/// of `tokio::task::unconstrained`).
fn runtime_unconstrained<R>(f: impl FnOnce() -> R) -> R {
    runtime::reactor::coop::unconstrained(f)
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .warm_up_time(Duration::from_millis(1000))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
}

// ---------------------------------------------------------------------------
// spawn_join / spawn_many_join / yield_many
// ---------------------------------------------------------------------------

fn spawn_join(c: &mut Criterion) {
    let mut g = c.benchmark_group("spawn_join");
    configure(&mut g);
    let rt = runtime_rt();
    g.bench_function("runtime", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for i in 0..iters {
                    let v = joined(runtime::spawn(async move { black_box(i) }).await);
                    black_box(v);
                }
                start.elapsed()
            })
        })
    });
    let trt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            trt.block_on(async {
                let start = Instant::now();
                for i in 0..iters {
                    let v = joined(tokio::spawn(async move { black_box(i) }).await);
                    black_box(v);
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

fn spawn_many_join(c: &mut Criterion) {
    let mut g = c.benchmark_group("spawn_many_join");
    configure(&mut g);
    let rt = runtime_rt();
    g.bench_function("runtime", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut handles = Vec::with_capacity(SPAWN_MANY);
                let start = Instant::now();
                for _ in 0..iters {
                    for i in 0..SPAWN_MANY {
                        handles.push(runtime::spawn(async move { black_box(i) }));
                    }
                    for h in handles.drain(..) {
                        black_box(joined(h.await));
                    }
                }
                start.elapsed()
            })
        })
    });
    let trt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            trt.block_on(async {
                let mut handles = Vec::with_capacity(SPAWN_MANY);
                let start = Instant::now();
                for _ in 0..iters {
                    for i in 0..SPAWN_MANY {
                        handles.push(tokio::spawn(async move { black_box(i) }));
                    }
                    for h in handles.drain(..) {
                        black_box(joined(h.await));
                    }
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

fn yield_many(c: &mut Criterion) {
    let mut g = c.benchmark_group("yield_many");
    configure(&mut g);
    let rt = runtime_rt();
    g.bench_function("runtime", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    joined(
                        runtime::spawn(async {
                            for _ in 0..YIELDS {
                                runtime::yield_now().await;
                            }
                        })
                        .await,
                    );
                }
                start.elapsed()
            })
        })
    });
    let trt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            trt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    joined(
                        tokio::spawn(async {
                            for _ in 0..YIELDS {
                                tokio::task::yield_now().await;
                            }
                        })
                        .await,
                    );
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

// ---------------------------------------------------------------------------
// wake_ping_pong: a minimal single-slot channel built on Waker + Rc/Cell,
// shared verbatim by both runtimes so only the executor differs.
// ---------------------------------------------------------------------------

#[derive(Default)]
struct Slot {
    value: Cell<Option<u32>>,
    waker: RefCell<Option<Waker>>,
}

#[derive(Clone, Default)]
struct Chan(Rc<Slot>);

impl Chan {
    fn send(&self, v: u32) {
        let prev = self.0.value.replace(Some(v));
        debug_assert!(prev.is_none(), "single-slot channel overfilled");
        if let Some(w) = self.0.waker.borrow_mut().take() {
            w.wake();
        }
    }

    fn recv(&self) -> Recv<'_> {
        Recv(self)
    }
}

struct Recv<'a>(&'a Chan);

impl Future for Recv<'_> {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        let slot = &self.0 .0;
        match slot.value.take() {
            Some(v) => Poll::Ready(v),
            None => {
                let mut w = slot.waker.borrow_mut();
                match &mut *w {
                    Some(old) if old.will_wake(cx.waker()) => {}
                    other => *other = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        }
    }
}

/// The two halves of one ping-pong exchange: `PING_PONGS` round trips.
fn ping_pong_tasks() -> (impl Future<Output = u32>, impl Future<Output = u32>) {
    let ab = Chan::default();
    let ba = Chan::default();
    let (ab2, ba2) = (ab.clone(), ba.clone());
    let pinger = async move {
        let mut token = 0;
        for _ in 0..PING_PONGS {
            ab.send(token);
            token = ba.recv().await;
        }
        token
    };
    let ponger = async move {
        let mut last = 0;
        for _ in 0..PING_PONGS {
            last = ab2.recv().await;
            ba2.send(last + 1);
        }
        last
    };
    (pinger, ponger)
}

fn wake_ping_pong(c: &mut Criterion) {
    let mut g = c.benchmark_group("wake_ping_pong");
    configure(&mut g);
    let rt = runtime_rt();
    g.bench_function("runtime", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let (ping, pong) = ping_pong_tasks();
                    let a = runtime::spawn(ping);
                    let b = runtime::spawn(pong);
                    let token = joined(a.await);
                    joined(b.await);
                    assert_eq!(token, PING_PONGS);
                }
                start.elapsed()
            })
        })
    });
    let trt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            let local = tokio::task::LocalSet::new();
            trt.block_on(local.run_until(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let (ping, pong) = ping_pong_tasks();
                    let a = tokio::task::spawn_local(ping);
                    let b = tokio::task::spawn_local(pong);
                    let token = joined(a.await);
                    joined(b.await);
                    assert_eq!(token, PING_PONGS);
                }
                start.elapsed()
            }))
        })
    });
    g.finish();
}

// ---------------------------------------------------------------------------
// timer_insert_cancel: create a 1 s sleep, poll it once (registers it with
// the timer), drop it (cancels it).
// ---------------------------------------------------------------------------

/// Deadline offsets for the pending sleeps: spread over 1 s .. 101 s in a
/// scrambled order so neither implementation sees sorted inserts.
fn pending_offset(i: usize) -> Duration {
    Duration::from_millis(1000 + (i as u64 * 7919) % 100_000)
}

fn timer_insert_cancel(c: &mut Criterion) {
    let mut g = c.benchmark_group("timer_insert_cancel");
    configure(&mut g);
    let rt = runtime_rt();
    g.bench_function("runtime", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                runtime_unconstrained(|| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let s = pin!(runtime::time::sleep(Duration::from_secs(1)));
                        black_box(poll_once(s).is_pending());
                    }
                    start.elapsed()
                })
            })
        })
    });
    let trt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            trt.block_on(tokio::task::unconstrained(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let s = pin!(tokio::time::sleep(Duration::from_secs(1)));
                    black_box(poll_once(s).is_pending());
                }
                start.elapsed()
            }))
        })
    });
    g.finish();
}

// The group name is the one the benchmark plan uses; PENDING (100,000)
// other sleeps are registered during each measured batch.
fn timer_insert_cancel_pending(c: &mut Criterion) {
    let mut g = c.benchmark_group("timer_insert_cancel_1m_pending");
    configure(&mut g);
    g.sample_size(20);
    let rt = runtime_rt();
    g.bench_function("runtime", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                runtime_unconstrained(|| {
                    let base = Instant::now();
                    let mut pending: Vec<Pin<Box<runtime::time::Sleep>>> = (0..PENDING)
                        .map(|i| Box::pin(runtime::time::sleep_until(base + pending_offset(i))))
                        .collect();
                    for s in &mut pending {
                        assert!(poll_once(s.as_mut()).is_pending());
                    }
                    let start = Instant::now();
                    for _ in 0..iters {
                        let s = pin!(runtime::time::sleep(Duration::from_secs(1)));
                        black_box(poll_once(s).is_pending());
                    }
                    let elapsed = start.elapsed();
                    drop(pending);
                    elapsed
                })
            })
        })
    });
    let trt = tokio_rt();
    g.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            trt.block_on(tokio::task::unconstrained(async {
                let base = tokio::time::Instant::now();
                let mut pending: Vec<Pin<Box<tokio::time::Sleep>>> = (0..PENDING)
                    .map(|i| Box::pin(tokio::time::sleep_until(base + pending_offset(i))))
                    .collect();
                for s in &mut pending {
                    assert!(poll_once(s.as_mut()).is_pending());
                }
                let start = Instant::now();
                for _ in 0..iters {
                    let s = pin!(tokio::time::sleep(Duration::from_secs(1)));
                    black_box(poll_once(s).is_pending());
                }
                let elapsed = start.elapsed();
                drop(pending);
                elapsed
            }))
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    spawn_join,
    spawn_many_join,
    wake_ping_pong,
    yield_many,
    timer_insert_cancel,
    timer_insert_cancel_pending
);
criterion_main!(benches);
