//! How late does a 1 ms sleep fire on an otherwise idle loop?
//!
//! For tokio (current_thread) and for runtime (`runtime::block_on`), take K
//! samples of `start = Instant::now(); sleep(1ms).await; start.elapsed() - 1ms`
//! and print one line per implementation:
//!
//!   timer_lateness impl=X samples=K p50_us=.. p90_us=.. p99_us=.. max_us=.. early=N
//!
//! `early` counts samples that returned before the full 1 ms had elapsed
//! (must be 0: a timer may fire late, never early).
//!
//! Usage: timer_lateness [-k samples] [--impl tokio|runtime]   (default -k 2000, both)

use std::time::{Duration, Instant};

const SLEEP: Duration = Duration::from_millis(1);

/// Lateness samples in microseconds (negative = fired early).
struct Samples(Vec<f64>);

impl Samples {
    fn record(&mut self, start: Instant) {
        let elapsed = start.elapsed();
        self.0
            .push(elapsed.as_secs_f64() * 1e6 - SLEEP.as_secs_f64() * 1e6);
    }

    fn report(mut self, imp: &str) {
        let k = self.0.len();
        let early = self.0.iter().filter(|&&us| us < 0.0).count();
        self.0.sort_by(|a, b| a.total_cmp(b));
        let pct = |p: f64| -> f64 {
            // nearest-rank percentile
            let rank = ((p / 100.0) * k as f64).ceil() as usize;
            self.0[rank.clamp(1, k) - 1]
        };
        println!(
            "timer_lateness impl={imp} samples={k} p50_us={:.1} p90_us={:.1} p99_us={:.1} max_us={:.1} early={early}",
            pct(50.0),
            pct(90.0),
            pct(99.0),
            self.0[k - 1],
        );
    }
}

fn measure_tokio(k: usize) -> Samples {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let mut s = Samples(Vec::with_capacity(k));
        for _ in 0..k {
            let start = Instant::now();
            tokio::time::sleep(SLEEP).await;
            s.record(start);
        }
        s
    })
}

fn measure_runtime(k: usize) -> Samples {
    runtime::block_on(async {
        let mut s = Samples(Vec::with_capacity(k));
        for _ in 0..k {
            let start = Instant::now();
            runtime::time::sleep(SLEEP).await;
            s.record(start);
        }
        s
    })
}

fn main() {
    let mut k = 2000usize;
    let mut which: Option<String> = None;
    let mut args = std::env::args().skip(1);
    let usage = || -> ! {
        eprintln!(
            "usage: timer_lateness [-k samples] [--impl tokio|runtime]   (default -k 2000, both)"
        );
        std::process::exit(2);
    };
    while let Some(a) = args.next() {
        match a.as_str() {
            "-k" => match args.next().and_then(|v| v.parse().ok()) {
                Some(v) if v > 0 => k = v,
                _ => usage(),
            },
            "--impl" => match args.next() {
                Some(v) if v == "tokio" || v == "runtime" => which = Some(v),
                _ => usage(),
            },
            _ => usage(),
        }
    }
    let want = |name: &str| which.as_deref().is_none_or(|w| w == name);
    if want("tokio") {
        measure_tokio(k).report("tokio");
    }
    if want("runtime") {
        measure_runtime(k).report("runtime");
    }
}
