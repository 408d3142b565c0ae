//! Load generator for ROT13 servers (the seed's protocol: every line sent
//! comes back ROT13'd): many connections, each keeping `depth` lines in
//! flight — it sends `depth` lines, and for every line that comes back it
//! sends a new one (all the lines one read completed are replaced with one
//! write). Every byte received is checked against the ROT13 of what was
//! sent. After a warm-up it counts the lines answered during the
//! measurement window and prints lines per second.
//!
//! Runs on tokio's current-thread runtime: one thread, so it can be pinned
//! to one core (`taskset -c 1`) while the server under test has another.
//!
//! Usage: rot13_load [--addr 127.0.0.1:40713] [--conns 50] [--depth 1]
//!                   [--len 64] [--secs 5] [--warmup 1]
//! Output (last line):
//!   rot13_load lines_per_sec=X lines=N conns=C depth=D len=L secs=S

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Config {
    addr: SocketAddr,
    conns: usize,
    depth: usize,
    len: usize,
    secs: f64,
    warmup: f64,
}

fn usage(msg: &str) -> ! {
    eprintln!(
        "rot13_load: {msg}\nusage: rot13_load [--addr 127.0.0.1:40713] [--conns 50] [--depth 1] \
         [--len 64] [--secs 5] [--warmup 1]"
    );
    std::process::exit(2)
}

fn parse_args() -> Config {
    let mut c = Config {
        addr: "127.0.0.1:40713".parse().expect("literal address"),
        conns: 50,
        depth: 1,
        len: 64,
        secs: 5.0,
        warmup: 1.0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        fn num<T: std::str::FromStr>(flag: &str, v: String) -> T {
            v.parse()
                .unwrap_or_else(|_| usage(&format!("{flag}: not a number: {v}")))
        }
        match flag.as_str() {
            "--addr" => {
                let v = val();
                c.addr = v
                    .parse()
                    .unwrap_or_else(|_| usage(&format!("--addr: not an address: {v}")));
            }
            "--conns" => c.conns = num(&flag, val()),
            "--depth" => c.depth = num(&flag, val()),
            "--len" => c.len = num(&flag, val()),
            "--secs" => c.secs = num(&flag, val()),
            "--warmup" => c.warmup = num(&flag, val()),
            "-h" | "--help" => usage("a ROT13 load generator"),
            other => usage(&format!("unknown flag {other}")),
        }
    }
    if c.conns == 0 || c.depth == 0 || c.len < 2 || c.len > 16384 || c.secs <= 0.0 {
        usage("need --conns >= 1, --depth >= 1, 2 <= --len <= 16384, --secs > 0");
    }
    c
}

fn rot13_char(c: u8) -> u8 {
    match c {
        b'a'..=b'm' | b'A'..=b'M' => c + 13,
        b'n'..=b'z' | b'N'..=b'Z' => c - 13,
        _ => c,
    }
}

/// A line of `len` bytes, newline included: mixed-case text and digits.
fn make_line(len: usize) -> Vec<u8> {
    let text = b"The Quick Brown Fox Jumps Over The Lazy Dog 0123456789, ";
    let mut line: Vec<u8> = text.iter().copied().cycle().take(len - 1).collect();
    line.push(b'\n');
    line
}

struct Shared {
    lines: AtomicU64,
    errors: AtomicU64,
    stop: AtomicBool,
}

async fn run_conn(cfg: Arc<Config>, shared: Arc<Shared>) -> io::Result<()> {
    let mut s = TcpStream::connect(cfg.addr).await?;
    s.set_nodelay(true)?;
    let line = make_line(cfg.len);
    let expect: Vec<u8> = line.iter().map(|&c| rot13_char(c)).collect();
    let batch: Vec<u8> = line.repeat(cfg.depth);
    s.write_all(&batch).await?;
    let mut buf = vec![0u8; 64 * 1024];
    // Position in the expected line of the next byte to arrive.
    let mut pos = 0usize;
    while !shared.stop.load(Relaxed) {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        let mut done = 0usize;
        let mut rest = &buf[..n];
        while !rest.is_empty() {
            let take = rest.len().min(cfg.len - pos);
            if rest[..take] != expect[pos..pos + take] {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the answer is not the ROT13 of the line sent",
                ));
            }
            pos += take;
            rest = &rest[take..];
            if pos == cfg.len {
                pos = 0;
                done += 1;
            }
        }
        if done > 0 {
            shared.lines.fetch_add(done as u64, Relaxed);
            s.write_all(&batch[..done * cfg.len]).await?;
        }
    }
    Ok(())
}

fn main() -> io::Result<()> {
    let cfg = Arc::new(parse_args());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let shared = Arc::new(Shared {
            lines: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        for _ in 0..cfg.conns {
            let (cfg, shared) = (cfg.clone(), shared.clone());
            tokio::spawn(async move {
                if let Err(e) = run_conn(cfg, shared.clone()).await {
                    if shared.errors.fetch_add(1, Relaxed) == 0 {
                        eprintln!("rot13_load: connection: {e}");
                    }
                }
            });
        }
        tokio::time::sleep(Duration::from_secs_f64(cfg.warmup)).await;
        let start_lines = shared.lines.load(Relaxed);
        let start = Instant::now();
        tokio::time::sleep(Duration::from_secs_f64(cfg.secs)).await;
        let lines = shared.lines.load(Relaxed) - start_lines;
        let secs = start.elapsed().as_secs_f64();
        shared.stop.store(true, Relaxed);
        let errors = shared.errors.load(Relaxed);
        println!(
            "rot13_load lines_per_sec={:.0} lines={} conns={} depth={} len={} secs={:.2} errors={}",
            lines as f64 / secs,
            lines,
            cfg.conns,
            cfg.depth,
            cfg.len,
            secs,
            errors
        );
        if errors > 0 {
            std::process::exit(1);
        }
        // The connections are left as they are: exiting closes them.
        std::process::exit(0)
    })
}
