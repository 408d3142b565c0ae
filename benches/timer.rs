//! Timer costs on this runtime alone (tokio side by side:
//! `peers/benches/compare.rs`): insert + cancel of a sleep with an empty and
//! with a loaded wheel, and the lateness of a 1 ms sleep on an idle loop
//! (criterion reports the full sleep time; subtract 1 ms for the lateness;
//! `peers` has a percentile program).

use criterion::{criterion_group, criterion_main, Criterion};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

/// Polls once so the sleep registers with the wheel. Unconstrained by the
/// cooperative budget: a task polling more than 128 timers in one go would
/// otherwise be told to yield, and its timers would not register.
fn poll_once<F: Future + Unpin>(f: &mut F) {
    let mut cx = Context::from_waker(Waker::noop());
    let _ = runtime::reactor::coop::unconstrained(|| Pin::new(f).poll(&mut cx));
}

fn insert_cancel(c: &mut Criterion) {
    let rt = runtime::Runtime::new().unwrap();
    c.bench_function("timer_insert_cancel", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async move {
                let start = Instant::now();
                for _ in 0..iters {
                    let mut s = runtime::time::sleep(Duration::from_secs(1));
                    poll_once(&mut s);
                    drop(std::hint::black_box(s));
                }
                start.elapsed()
            })
        })
    });
    c.bench_function("timer_insert_cancel_100k_pending", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async move {
                let mut pending: Vec<_> = (0..100_000u64)
                    .map(|i| runtime::time::sleep(Duration::from_micros(1_000_000 + i * 37)))
                    .collect();
                pending.iter_mut().for_each(poll_once);
                let start = Instant::now();
                for _ in 0..iters {
                    let mut s = runtime::time::sleep(Duration::from_secs(1));
                    poll_once(&mut s);
                    drop(std::hint::black_box(s));
                }
                start.elapsed()
            })
        })
    });
}

fn lateness(c: &mut Criterion) {
    let rt = runtime::Runtime::new().unwrap();
    let mut group = c.benchmark_group("timer_lateness");
    group.sample_size(20);
    group.bench_function("sleep_1ms", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async move {
                let start = Instant::now();
                for _ in 0..iters {
                    runtime::time::sleep(Duration::from_millis(1)).await;
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = insert_cancel, lateness
}
criterion_main!(benches);
