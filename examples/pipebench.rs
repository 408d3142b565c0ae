//! libevent's classic `test/bench.c`, on this runtime: N socketpairs in a
//! ring, one reader task per pair; A pairs get a byte, and every read
//! forwards a byte to the next pair while the write budget W lasts. Each of
//! R rounds is timed from after the first A writes until every byte written
//! has been read.
//!
//! ```text
//! cargo run --release --example pipebench -- -n 100 -a 1 -w 100 -r 25
//! pipebench impl=runtime api=futures method=epoll n=100 a=1 w=100 r=25 usec_per_round=...
//! ```
//! Flags: `-n N` pairs (100), `-a A` active (1), `-w W` writes per round
//! (N), `-r R` rounds (25), `-m METHOD` backend, `-v` one line per round,
//! `--api futures|callbacks`: reader tasks awaiting readiness (default), or
//! libevent-style `EV_READ | EV_PERSIST` events of `runtime::compat` with
//! a callback per read, as libevent's own `bench.c` does.

use runtime::reactor::{Direction, Registration};
use std::cell::Cell;
use std::future::poll_fn;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Instant;

struct Args {
    pipes: usize,
    active: usize,
    writes: usize,
    rounds: usize,
    method: Option<String>,
    verbose: bool,
    callbacks: bool,
}

fn usage(msg: &str) -> ! {
    eprintln!("pipebench: {msg}\nusage: pipebench [-n pipes] [-a active] [-w writes] [-r rounds] [-m method] [-v] [--api futures|callbacks]");
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        pipes: 100,
        active: 1,
        writes: 0,
        rounds: 25,
        method: None,
        verbose: false,
        callbacks: false,
    };
    let mut writes = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut num = |name: &str| -> usize {
            let v = it
                .next()
                .unwrap_or_else(|| usage(&format!("{name} needs a value")));
            v.parse()
                .unwrap_or_else(|_| usage(&format!("{name}: not a number: {v}")))
        };
        match flag.as_str() {
            "-n" => a.pipes = num("-n"),
            "-a" => a.active = num("-a"),
            "-w" => writes = Some(num("-w")),
            "-r" => a.rounds = num("-r"),
            "-m" => a.method = Some(it.next().unwrap_or_else(|| usage("-m needs a value"))),
            "-v" => a.verbose = true,
            "-h" | "--help" => {
                println!("pipebench: libevent's bench.c ring of pipes\nusage: pipebench [-n pipes] [-a active] [-w writes] [-r rounds] [-m method] [-v] [--api futures|callbacks]");
                std::process::exit(0)
            }
            "--api" => match it.next().as_deref() {
                Some("futures") => a.callbacks = false,
                Some("callbacks") => a.callbacks = true,
                other => usage(&format!("--api {other:?}: `futures` or `callbacks`")),
            },
            other => usage(&format!("unknown flag {other}")),
        }
    }
    if a.pipes == 0 || a.active == 0 || a.active > a.pipes || a.rounds == 0 {
        usage("need n >= 1, 1 <= a <= n, r >= 1");
    }
    a.writes = writes.unwrap_or(a.pipes);
    a
}

fn raise_fd_limit(needed: u64) -> io::Result<()> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills a live rlimit struct.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } < 0 {
        return Err(io::Error::last_os_error());
    }
    if lim.rlim_cur >= needed {
        return Ok(());
    }
    if lim.rlim_max < needed {
        return Err(io::Error::other(format!(
            "need {needed} descriptors, hard limit is {}",
            lim.rlim_max
        )));
    }
    lim.rlim_cur = needed;
    // SAFETY: setrlimit reads a live rlimit struct.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn socketpair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: fills a live two-element array.
    let r = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and nothing else owns them.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn raw(fds: &[OwnedFd]) -> Vec<RawFd> {
    fds.iter().map(AsRawFd::as_raw_fd).collect()
}

fn send_byte(fd: RawFd) {
    // SAFETY: sends one byte from a static buffer on a socket we own.
    unsafe { libc::send(fd, b"e".as_ptr().cast(), 1, 0) };
}

/// Counters shared by the reader tasks and the round driver.
struct Ring {
    write_fds: Vec<RawFd>,
    count: Cell<usize>,
    fired: Cell<usize>,
    writes_left: Cell<usize>,
    done: Cell<Option<Waker>>,
    /// Reader tasks that have registered (warm-up, untimed).
    started: Cell<usize>,
}

/// Reads what is there; a short read means the socket is drained, so its
/// readiness is cleared without another system call.
async fn read_some(reg: &Registration, buf: &mut [u8]) -> io::Result<usize> {
    poll_fn(|cx| loop {
        let ev = match reg.poll_ready(Direction::Read, cx) {
            Poll::Ready(Ok(ev)) => ev,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        };
        // SAFETY: receives into a live buffer of the given length.
        let n = unsafe { libc::recv(reg.fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::WouldBlock {
                reg.clear_readiness(ev);
                continue;
            }
            return Poll::Ready(Err(err));
        }
        let n = n as usize;
        if n < buf.len() {
            reg.clear_readiness(ev);
        }
        return Poll::Ready(Ok(n));
    })
    .await
}

async fn reader(ring: Rc<Ring>, idx: usize, read_fd: OwnedFd) -> io::Result<()> {
    let reg = Registration::new(read_fd)?;
    ring.started.set(ring.started.get() + 1);
    let next = ring.write_fds[(idx + 1) % ring.write_fds.len()];
    let mut buf = [0u8; 64];
    loop {
        let n = read_some(&reg, &mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        ring.count.set(ring.count.get() + n);
        for _ in 0..n {
            let left = ring.writes_left.get();
            if left > 0 {
                send_byte(next);
                ring.writes_left.set(left - 1);
                ring.fired.set(ring.fired.get() + 1);
            }
        }
        if ring.count.get() == ring.fired.get() {
            if let Some(w) = ring.done.take() {
                w.wake();
            }
        }
    }
}

/// The same ring with the callback API: one persistent read event per
/// pair; the round ends with `loopbreak` from the callback that reads the
/// last byte.
fn run_callbacks(args: &Args, read_fds: &[RawFd], write_fds: &[RawFd]) -> io::Result<()> {
    use runtime::compat::{Event, EventConfig, EV_PERSIST, EV_READ};
    let mut config = EventConfig::new();
    if let Some(m) = &args.method {
        config = config.method(m);
    }
    let base = config.build()?;
    let ring = Rc::new(Ring {
        write_fds: write_fds.to_vec(),
        count: Cell::new(0),
        fired: Cell::new(0),
        writes_left: Cell::new(0),
        done: Cell::new(None),
        started: Cell::new(0),
    });
    let mut events = Vec::with_capacity(read_fds.len());
    for (i, &fd) in read_fds.iter().enumerate() {
        let ring = ring.clone();
        let next = write_fds[(i + 1) % write_fds.len()];
        let b = base.handle();
        let ev = Event::new(&base, fd, EV_READ | EV_PERSIST, move |fd, _what| {
            let mut buf = [0u8; 64];
            // recv(2), as bench.c and the futures variant: read(2) would
            // add the VFS layer's cost to every callback.
            // SAFETY: receives into a live buffer of the given length.
            let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n <= 0 {
                return;
            }
            let n = n as usize;
            ring.count.set(ring.count.get() + n);
            for _ in 0..n {
                let left = ring.writes_left.get();
                if left > 0 {
                    send_byte(next);
                    ring.writes_left.set(left - 1);
                    ring.fired.set(ring.fired.get() + 1);
                }
            }
            if ring.count.get() == ring.fired.get() {
                let _ = b.loopbreak();
            }
        })?;
        ev.add(None)?;
        events.push(ev);
    }
    let space = args.pipes / args.active;
    let mut total = 0f64;
    for round in 0..args.rounds {
        ring.count.set(0);
        ring.fired.set(0);
        ring.writes_left.set(args.writes);
        for i in 0..args.active {
            send_byte(write_fds[i * space]);
            ring.fired.set(ring.fired.get() + 1);
        }
        let start = Instant::now();
        while ring.count.get() != ring.fired.get() {
            base.dispatch()?;
        }
        let us = start.elapsed().as_secs_f64() * 1e6;
        if args.verbose {
            println!("round {round}: {us:.1} usec, {} reads", ring.count.get());
        }
        total += us;
    }
    println!(
        "pipebench impl=runtime api=callbacks method={} n={} a={} w={} r={} usec_per_round={:.1}",
        base.method()?,
        args.pipes,
        args.active,
        args.writes,
        args.rounds,
        total / args.rounds as f64
    );
    for ev in events {
        ev.free();
    }
    Ok(())
}

fn main() -> io::Result<()> {
    let args = parse_args();
    raise_fd_limit(2 * args.pipes as u64 + 50)?;
    if args.callbacks {
        let mut read_fds = Vec::with_capacity(args.pipes);
        let mut write_fds = Vec::with_capacity(args.pipes);
        for _ in 0..args.pipes {
            let (r, w) = socketpair()?;
            read_fds.push(r);
            write_fds.push(w);
        }
        // The descriptors close when the vectors drop, after the events.
        return run_callbacks(&args, &raw(&read_fds), &raw(&write_fds));
    }
    let mut builder = runtime::Builder::new();
    if let Some(m) = &args.method {
        builder = builder.method(m)?;
    }
    let rt = builder.build()?;
    let mut read_fds = Vec::with_capacity(args.pipes);
    let mut write_fds = Vec::with_capacity(args.pipes);
    for _ in 0..args.pipes {
        let (r, w) = socketpair()?;
        read_fds.push(r);
        write_fds.push(w);
    }
    let ring = Rc::new(Ring {
        write_fds: raw(&write_fds),
        count: Cell::new(0),
        fired: Cell::new(0),
        writes_left: Cell::new(0),
        done: Cell::new(None),
        started: Cell::new(0),
    });
    let total_us = rt.block_on(async {
        let mut readers = Vec::new();
        for (i, r) in read_fds.into_iter().enumerate() {
            readers.push(runtime::spawn(reader(ring.clone(), i, r)));
        }
        // Let every reader register and make its first (empty) read
        // before the first round, as bench.c adds its events untimed.
        while ring.started.get() < args.pipes {
            runtime::yield_now().await;
        }
        let space = args.pipes / args.active;
        let mut total = 0f64;
        for round in 0..args.rounds {
            ring.count.set(0);
            ring.fired.set(0);
            ring.writes_left.set(args.writes);
            for i in 0..args.active {
                send_byte(ring.write_fds[i * space]);
                ring.fired.set(ring.fired.get() + 1);
            }
            let start = Instant::now();
            poll_fn(|cx| {
                if ring.count.get() == ring.fired.get() {
                    Poll::Ready(())
                } else {
                    ring.done.set(Some(cx.waker().clone()));
                    Poll::Pending
                }
            })
            .await;
            let us = start.elapsed().as_secs_f64() * 1e6;
            if args.verbose {
                println!("round {round}: {us:.1} usec, {} reads", ring.count.get());
            }
            total += us;
        }
        for h in readers {
            h.abort();
        }
        total
    });
    println!(
        "pipebench impl=runtime api=futures method={} n={} a={} w={} r={} usec_per_round={:.1}",
        rt.method(),
        args.pipes,
        args.active,
        args.writes,
        args.rounds,
        total_us / args.rounds as f64
    );
    // The readers' registrations close the read ends with the runtime's
    // tasks; the write ends close after.
    drop(rt);
    drop(write_fds);
    Ok(())
}
