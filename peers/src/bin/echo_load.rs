//! Load generator for the echo servers (`examples/echo.rs`, `tokio_echo`,
//! `libevent/echo_bufferevent.c`), used by `benches/echo_compare.sh`.
//!
//! Ping-pong mode (default): `--conns C` connections each send a `--size S`
//! byte message and wait for its full echo (checked byte for byte) before
//! sending the next, for `--duration D` seconds after a `--warmup W` second
//! warm-up. Prints one line:
//!
//! ```text
//! echo_load conns=50 size=64 threads=1 secs=5.00 msgs=1234567 msgs_per_sec=246913
//! ```
//!
//! (messages echoed per second, over all connections). With
//! `--server-pid PID` it also reads the server's CPU time
//! (`/proc/PID/stat`, all threads) at the start and end of the measured
//! window and appends `server_cpu_pct=… server_user_us_per_msg=…
//! server_sys_us_per_msg=…`: what the server spent per echoed message in
//! its own code and in the kernel.
//!
//! Idle mode (`--idle N`): opens N connections, prints
//! `echo_load idle connected=N`, sends nothing and holds them for `--hold`
//! seconds (default 60) or until killed — for measuring a server's memory
//! per idle connection.
//!
//! It must not be the bottleneck, so it is the leanest client possible: no
//! runtime, one thread (or `--threads T`) running a level-triggered epoll
//! loop over non-blocking sockets, exactly one `send` and one `recv` per
//! message plus an amortised `epoll_wait`. Pinned to one core with
//! `taskset`, it does no more work per message than the server does.
//!
//! Flags: `--addr ADDR` (127.0.0.1:7878), `--conns C` (50), `--size S`
//! (64), `--duration D` (10), `--warmup W` (0.5), `--threads T` (1),
//! `--idle N`, `--hold SECS` (60), `--server-pid PID`.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Args {
    addr: SocketAddr,
    conns: usize,
    size: usize,
    duration: f64,
    warmup: f64,
    threads: usize,
    idle: Option<usize>,
    hold: f64,
    server_pid: Option<u32>,
}

fn usage(msg: &str) -> ! {
    eprintln!(
        "echo_load: {msg}\nusage: echo_load [--addr 127.0.0.1:7878] [--conns 50] [--size 64] \
         [--duration 10] [--warmup 0.5] [--threads 1] [--server-pid PID] | [--idle N [--hold 60]]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        addr: "127.0.0.1:7878".parse().expect("literal"),
        conns: 50,
        size: 64,
        duration: 10.0,
        warmup: 0.5,
        threads: 1,
        idle: None,
        hold: 60.0,
        server_pid: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = match flag.as_str() {
            "-h" | "--help" => usage("echo load generator"),
            _ => it
                .next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value"))),
        };
        let bad = || -> ! { usage(&format!("{flag}: bad value {v}")) };
        match flag.as_str() {
            "--addr" => a.addr = v.parse().unwrap_or_else(|_| bad()),
            "--conns" => a.conns = v.parse().unwrap_or_else(|_| bad()),
            "--size" => a.size = v.parse().unwrap_or_else(|_| bad()),
            "--duration" => a.duration = v.parse().unwrap_or_else(|_| bad()),
            "--warmup" => a.warmup = v.parse().unwrap_or_else(|_| bad()),
            "--threads" => a.threads = v.parse().unwrap_or_else(|_| bad()),
            "--idle" => a.idle = Some(v.parse().unwrap_or_else(|_| bad())),
            "--hold" => a.hold = v.parse().unwrap_or_else(|_| bad()),
            "--server-pid" => a.server_pid = Some(v.parse().unwrap_or_else(|_| bad())),
            other => usage(&format!("unknown flag {other}")),
        }
    }
    if a.conns == 0 || a.size == 0 || a.threads == 0 || a.duration <= 0.0 || a.warmup < 0.0 {
        usage("need conns, size, threads >= 1 and duration > 0");
    }
    a
}

fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills a live rlimit struct; setrlimit reads it.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// Connects, retrying for a while when the server's backlog is full.
fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let mut pause = Duration::from_millis(5);
    let mut tries = 0;
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(10)) {
            Ok(s) => return Ok(s),
            Err(e) if tries < 10 => {
                tries += 1;
                eprintln!("echo_load: connect: {e} (retrying)");
                std::thread::sleep(pause);
                pause *= 2;
            }
            Err(e) => return Err(e),
        }
    }
}

/// One connection of the ping-pong loop.
struct Conn {
    stream: TcpStream,
    msg: Vec<u8>,
    got: usize,
}

fn send_all(fd: RawFd, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        // SAFETY: sends from a live buffer of the given length.
        let n = unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) };
        if n < 0 {
            let e = io::Error::last_os_error();
            match e.kind() {
                io::ErrorKind::Interrupted => continue,
                io::ErrorKind::WouldBlock => {
                    // Large messages only: wait until it drains.
                    let mut p = libc::pollfd {
                        fd,
                        events: libc::POLLOUT,
                        revents: 0,
                    };
                    // SAFETY: polls one live pollfd.
                    unsafe { libc::poll(&mut p, 1, 1000) };
                    continue;
                }
                _ => return Err(e),
            }
        }
        buf = &buf[n as usize..];
    }
    Ok(())
}

/// The epoll loop of one thread over its connections; adds completed
/// messages to `total` after each batch of events.
fn pingpong(
    mut conns: Vec<Conn>,
    size: usize,
    total: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) -> io::Result<()> {
    // SAFETY: plain system call.
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if ep < 0 {
        return Err(io::Error::last_os_error());
    }
    for (i, c) in conns.iter().enumerate() {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: i as u64,
        };
        // SAFETY: registers a socket we own with a live event struct.
        if unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, c.stream.as_raw_fd(), &mut ev) } < 0 {
            return Err(io::Error::last_os_error());
        }
        send_all(c.stream.as_raw_fd(), &c.msg)?;
    }
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
    let mut buf = vec![0u8; size.max(4096)];
    let mut outstanding = conns.len();
    let mut stopping = false;
    while outstanding > 0 {
        if !stopping && stop.load(Ordering::Relaxed) {
            stopping = true;
        }
        // SAFETY: `events` is a live array of the length passed.
        let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), events.len() as i32, 1000) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 && stopping {
            break; // a lost echo must not hang the run
        }
        let mut done = 0u64;
        for ev in &events[..n as usize] {
            let c = &mut conns[ev.u64 as usize];
            let fd = c.stream.as_raw_fd();
            let want = size - c.got;
            // SAFETY: receives into a live buffer of at least `want` bytes.
            let r = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), want, 0) };
            if r < 0 {
                let e = io::Error::last_os_error();
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) {
                    continue;
                }
                return Err(e);
            }
            if r == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed a connection",
                ));
            }
            let r = r as usize;
            if buf[..r] != c.msg[c.got..c.got + r] {
                return Err(io::Error::other("echo does not match the message sent"));
            }
            c.got += r;
            if c.got == size {
                c.got = 0;
                done += 1;
                if stopping {
                    outstanding -= 1;
                } else {
                    send_all(fd, &c.msg)?;
                }
            }
        }
        total.fetch_add(done, Ordering::Relaxed);
    }
    // SAFETY: closes the epoll descriptor created above, once.
    unsafe { libc::close(ep) };
    Ok(())
}

fn run_pingpong(a: &Args) -> io::Result<()> {
    let mut conns = Vec::with_capacity(a.conns);
    for i in 0..a.conns {
        let stream = connect(a.addr)?;
        stream.set_nodelay(true)?;
        stream.set_nonblocking(true)?;
        let msg: Vec<u8> = (0..a.size).map(|k| b'a' + ((i + k) % 26) as u8).collect();
        conns.push(Conn {
            stream,
            msg,
            got: 0,
        });
    }
    let total = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let per = a.conns.div_ceil(a.threads);
    let mut threads = Vec::new();
    while !conns.is_empty() {
        let rest = conns.split_off(per.min(conns.len()));
        let mine = std::mem::replace(&mut conns, rest);
        let (total, stop, size) = (total.clone(), stop.clone(), a.size);
        threads.push(std::thread::spawn(move || {
            pingpong(mine, size, total, stop)
        }));
    }
    std::thread::sleep(Duration::from_secs_f64(a.warmup));
    let cpu0 = a.server_pid.map(cpu_ticks).transpose()?;
    let c0 = total.load(Ordering::Relaxed);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(a.duration));
    let c1 = total.load(Ordering::Relaxed);
    let secs = t0.elapsed().as_secs_f64();
    let cpu1 = a.server_pid.map(cpu_ticks).transpose()?;
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("load thread panicked")?;
    }
    let msgs = c1 - c0;
    let mut line = format!(
        "echo_load conns={} size={} threads={} secs={:.2} msgs={} msgs_per_sec={:.0}",
        a.conns,
        a.size,
        a.threads,
        secs,
        msgs,
        msgs as f64 / secs
    );
    if let (Some((u0, s0)), Some((u1, s1))) = (cpu0, cpu1) {
        // SAFETY: sysconf only reads a configuration value.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        let (user, sys) = ((u1 - u0) as f64 / hz, (s1 - s0) as f64 / hz);
        let per_msg = |t: f64| if msgs > 0 { t * 1e6 / msgs as f64 } else { 0.0 };
        line += &format!(
            " server_cpu_pct={:.1} server_user_us_per_msg={:.3} server_sys_us_per_msg={:.3}",
            (user + sys) * 100.0 / secs,
            per_msg(user),
            per_msg(sys)
        );
    }
    println!("{line}");
    Ok(())
}

/// The user and system CPU time of process `pid`, all threads, in clock
/// ticks (fields 14 and 15 of `/proc/PID/stat`).
fn cpu_ticks(pid: u32) -> io::Result<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) is in parentheses and may hold spaces:
    // count fields from the last ')'.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| io::Error::other("unexpected /proc/PID/stat format"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): utime is field 14, stime field 15.
    let field = |n: usize| -> io::Result<u64> {
        fields
            .get(n - 3)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| io::Error::other("unexpected /proc/PID/stat format"))
    };
    Ok((field(14)?, field(15)?))
}

fn run_idle(a: &Args, n: usize) -> io::Result<()> {
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        held.push(connect(a.addr)?);
    }
    println!("echo_load idle connected={n}");
    io::stdout().flush()?;
    std::thread::sleep(Duration::from_secs_f64(a.hold));
    drop(held);
    Ok(())
}

fn main() {
    let a = parse_args();
    raise_fd_limit();
    let r = match a.idle {
        Some(n) => run_idle(&a, n),
        None => run_pingpong(&a),
    };
    if let Err(e) = r {
        eprintln!("echo_load: {e}");
        std::process::exit(1);
    }
}
