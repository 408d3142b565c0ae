//! libevent's test/bench.c method ("many fds, few active") on tokio's
//! current_thread runtime, for comparison with `pipebench_libevent` and the
//! root crate's `examples/pipebench.rs`.
//!
//! N `UnixStream::pair()`s form a ring. One task per pipe loops reading its
//! read end; for every byte read it counts the byte and, while the shared
//! write budget W lasts, writes one byte into the next pipe's write end
//! ((idx + 1) % N). A driver runs R rounds: reset the counters, write one
//! byte into A pipes spaced N/A apart, then (timed, as bench.c times it) wait
//! until every byte written has been read.
//!
//! Usage: tokio_pipebench [-n N] [-a A] [-w W] [-r R] [-v]
//!        defaults: N=100, A=1, W=N, R=25
//! Output: with -v one line per round; always one summary line:
//!   pipebench impl=tokio method=epoll n=N a=A w=W r=R usec_per_round=X

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use tokio::io::AsyncReadExt;
use tokio::net::UnixStream;
use tokio::sync::Notify;

struct Config {
    pipes: usize,
    active: usize,
    writes: usize,
    rounds: usize,
    verbose: bool,
}

/// State shared by the driver and the pipe tasks. Everything runs on one
/// thread (current_thread runtime), so Relaxed load/store pairs are exact;
/// atomics are only needed because `tokio::spawn` wants `Send` futures.
struct Shared {
    /// Write ends, indexed by pipe.
    writers: Vec<UnixStream>,
    /// Bytes read by the pipe tasks this round.
    count: AtomicUsize,
    /// Bytes written this round (initial + chained).
    fired: AtomicUsize,
    /// Remaining chained-write budget this round.
    writes_left: AtomicUsize,
    /// Send/recv failures (never expected).
    failures: AtomicUsize,
    /// Pipe tasks that have been polled at least once (setup barrier).
    started: AtomicUsize,
    /// Signalled when count == fired, i.e. no byte is in flight any more.
    done: Notify,
}

/// Write `n` bytes ("e") into `stream`: the readiness fast path is a single
/// send(2), like libevent's callback.
async fn write_bytes(stream: &UnixStream, n: usize) -> io::Result<()> {
    const BYTES: [u8; 16] = [b'e'; 16];
    let mut left = n;
    while left > 0 {
        match stream.try_write(&BYTES[..left.min(BYTES.len())]) {
            Ok(k) => left -= k,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => stream.writable().await?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

async fn pipe_task(idx: usize, mut reader: UnixStream, shared: Arc<Shared>) {
    let next = if idx + 1 == shared.writers.len() {
        0
    } else {
        idx + 1
    };
    let mut buf = [0u8; 16];
    shared.started.fetch_add(1, Relaxed);
    loop {
        let n = match reader.read(&mut buf).await {
            Ok(0) => return, // peer closed: shutting down
            Ok(n) => n,
            Err(_) => {
                shared.failures.fetch_add(1, Relaxed);
                continue;
            }
        };
        // One forward write per byte read, as libevent does with one
        // 1-byte recv per callback.
        let left = shared.writes_left.load(Relaxed);
        let forward = n.min(left);
        shared.writes_left.store(left - forward, Relaxed);
        let fired = shared.fired.load(Relaxed) + forward;
        shared.fired.store(fired, Relaxed);
        let count = shared.count.load(Relaxed) + n;
        shared.count.store(count, Relaxed);
        if count == fired {
            shared.done.notify_one();
        }
        if forward > 0 && write_bytes(&shared.writers[next], forward).await.is_err() {
            shared.failures.fetch_add(1, Relaxed);
        }
    }
}

async fn run(cfg: &Config) -> io::Result<f64> {
    let mut readers = Vec::with_capacity(cfg.pipes);
    let mut writers = Vec::with_capacity(cfg.pipes);
    for _ in 0..cfg.pipes {
        let (r, w) = UnixStream::pair()?;
        readers.push(r);
        writers.push(w);
    }
    let shared = Arc::new(Shared {
        writers,
        count: AtomicUsize::new(0),
        fired: AtomicUsize::new(0),
        writes_left: AtomicUsize::new(0),
        failures: AtomicUsize::new(0),
        started: AtomicUsize::new(0),
        done: Notify::new(),
    });
    // Untimed setup: learn that every write end is writable, so writes take
    // the single-syscall fast path from the first round on.
    for w in &shared.writers {
        w.writable().await?;
    }
    let tasks: Vec<_> = readers
        .into_iter()
        .enumerate()
        .map(|(i, r)| tokio::spawn(pipe_task(i, r, shared.clone())))
        .collect();
    // Let every task run once and park on its read end (untimed).
    while shared.started.load(Relaxed) < cfg.pipes {
        tokio::task::yield_now().await;
    }

    let space = cfg.pipes / cfg.active;
    let mut total_us = 0.0;
    for round in 0..cfg.rounds {
        shared.count.store(0, Relaxed);
        shared.writes_left.store(cfg.writes, Relaxed);
        shared.fired.store(cfg.active, Relaxed);

        // Untimed, as in bench.c: the initial writes into the active pipes.
        for i in 0..cfg.active {
            if write_bytes(&shared.writers[i * space], 1).await.is_err() {
                shared.failures.fetch_add(1, Relaxed);
            }
        }
        // Timed: until every byte written has been read.
        let start = Instant::now();
        shared.done.notified().await;
        let us = start.elapsed().as_secs_f64() * 1e6;

        debug_assert_eq!(shared.count.load(Relaxed), shared.fired.load(Relaxed));
        total_us += us;
        if cfg.verbose {
            println!("round {round} usec {us:.1}");
        }
    }

    for t in &tasks {
        t.abort();
    }
    let failures = shared.failures.load(Relaxed);
    if failures > 0 {
        eprintln!("warning: {failures} send/recv failures");
    }
    Ok(total_us / cfg.rounds as f64)
}

fn parse_args() -> Config {
    fn usage() -> ! {
        eprintln!(
            "usage: tokio_pipebench [-n pipes] [-a active] [-w writes] [-r rounds] [-v]\n\
             defaults: -n 100 -a 1 -w <pipes> -r 25"
        );
        std::process::exit(2);
    }
    let mut cfg = Config {
        pipes: 100,
        active: 1,
        writes: usize::MAX,
        rounds: 25,
        verbose: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "-v" {
            cfg.verbose = true;
            continue;
        }
        let slot = match flag.as_str() {
            "-n" => &mut cfg.pipes,
            "-a" => &mut cfg.active,
            "-w" => &mut cfg.writes,
            "-r" => &mut cfg.rounds,
            _ => usage(),
        };
        *slot = match args.next().and_then(|v| v.parse().ok()) {
            Some(v) => v,
            None => usage(),
        };
    }
    if cfg.writes == usize::MAX {
        cfg.writes = cfg.pipes;
    }
    if cfg.pipes == 0 || cfg.active == 0 || cfg.rounds == 0 || cfg.active > cfg.pipes {
        eprintln!("need -n >= 1, 1 <= -a <= -n, -r >= 1");
        std::process::exit(2);
    }
    cfg
}

/// Raise RLIMIT_NOFILE to 2N+50 (bench.c does the same).
fn raise_nofile(pipes: usize) -> io::Result<()> {
    let want = (pipes * 2 + 50) as libc::rlim_t;
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain libc calls on a valid, owned struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) != 0 {
            return Err(io::Error::last_os_error());
        }
        if rl.rlim_cur >= want {
            return Ok(());
        }
        rl.rlim_cur = want;
        if rl.rlim_max != libc::RLIM_INFINITY && rl.rlim_max < want {
            rl.rlim_max = want; // needs privilege; fails cleanly otherwise
        }
        if libc::setrlimit(libc::RLIMIT_NOFILE, &rl) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

fn main() {
    let cfg = parse_args();
    if let Err(e) = raise_nofile(cfg.pipes) {
        eprintln!("setrlimit(RLIMIT_NOFILE, {}): {e}", cfg.pipes * 2 + 50);
        std::process::exit(1);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("tokio runtime");
    let usec = match rt.block_on(run(&cfg)) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("tokio_pipebench: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "pipebench impl=tokio method=epoll n={} a={} w={} r={} usec_per_round={:.1}",
        cfg.pipes, cfg.active, cfg.writes, cfg.rounds, usec
    );
}
