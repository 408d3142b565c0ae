//! Executor hot paths on this runtime alone (the side-by-side comparison with
//! tokio is `peers/benches/compare.rs`): spawn + join, many spawns, a wake
//! ping-pong between two tasks, and yielding.

use criterion::{criterion_group, criterion_main, Criterion};
use std::cell::Cell;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

fn spawn_join(c: &mut Criterion) {
    let rt = runtime::Runtime::new().unwrap();
    c.bench_function("spawn_join", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async move {
                let start = Instant::now();
                for i in 0..iters {
                    let h = runtime::spawn(async move { i });
                    std::hint::black_box(h.await.unwrap());
                }
                start.elapsed()
            })
        })
    });
    c.bench_function("spawn_many_join_1000", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async move {
                let start = Instant::now();
                for _ in 0..iters {
                    let handles: Vec<_> = (0..1000u32)
                        .map(|i| runtime::spawn(async move { i }))
                        .collect();
                    for h in handles {
                        std::hint::black_box(h.await.unwrap());
                    }
                }
                start.elapsed()
            })
        })
    });
}

/// A one-slot channel: the minimal thing two tasks can wake each other with.
#[derive(Default)]
struct Slot {
    full: Cell<bool>,
    waiter: Cell<Option<Waker>>,
}

impl Slot {
    fn put(&self) {
        self.full.set(true);
        if let Some(w) = self.waiter.take() {
            w.wake();
        }
    }
    async fn take(&self) {
        poll_fn(|cx| {
            if self.full.replace(false) {
                Poll::Ready(())
            } else {
                self.waiter.set(Some(cx.waker().clone()));
                Poll::Pending
            }
        })
        .await
    }
}

fn wake_ping_pong(c: &mut Criterion) {
    let rt = runtime::Runtime::new().unwrap();
    c.bench_function("wake_ping_pong_1000", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async move {
                let start = Instant::now();
                for _ in 0..iters {
                    let ping = Rc::new(Slot::default());
                    let pong = Rc::new(Slot::default());
                    let (pi, po) = (ping.clone(), pong.clone());
                    let other = runtime::spawn(async move {
                        for _ in 0..1000 {
                            pi.take().await;
                            po.put();
                        }
                    });
                    for _ in 0..1000 {
                        ping.put();
                        pong.take().await;
                    }
                    other.await.unwrap();
                }
                start.elapsed()
            })
        })
    });
    c.bench_function("yield_many_1000", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async move {
                let start = Instant::now();
                for _ in 0..iters {
                    runtime::spawn(async {
                        for _ in 0..1000 {
                            runtime::yield_now().await;
                        }
                    })
                    .await
                    .unwrap();
                }
                start.elapsed()
            })
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = spawn_join, wake_ping_pong
}
criterion_main!(benches);
