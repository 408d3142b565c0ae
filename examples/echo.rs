//! A TCP echo server: every connection is a task that reads into a 16 KiB
//! buffer and writes back what it read, until end of stream or an error
//! (which ends only that connection).
//!
//! ```text
//! cargo run --release --example echo -- --addr 127.0.0.1:7878
//! echo: listening on 127.0.0.1:7878 threads=1 method=epoll pid=12345
//! ```
//!
//! Flags: `--addr ADDR` (127.0.0.1:7878; port 0 picks a free port),
//! `--threads N` (1: a single-threaded runtime; N > 1: the per-thread
//! runtime with N workers, each with its own `SO_REUSEPORT` listener via
//! `serve_sharded`), `--method NAME` (epoll, poll, select), `--pin` (pin the
//! loop thread, or each worker, to a CPU). The first line on standard output
//! gives the bound address and the process id. `SIGINT` or `SIGTERM` stops
//! the server cleanly (exit status 0).
//!
//! Syscall economy: an echoed message costs one `recvfrom` and one
//! `sendto`; the socket is registered with epoll once, for both directions,
//! when it is accepted. The buffer is allocated only when a connection
//! first has data, so an idle connection costs just its task and socket.

use runtime::net::{serve_sharded, ListenOptions, TcpListener, TcpStream};
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::task::Poll;

/// Bytes read (and written back) per system call at most.
pub const BUF_SIZE: usize = 16 * 1024;

/// The listen backlog: large, so thousands of connections opened at once
/// queue up instead of being dropped (the kernel caps it at somaxconn).
pub const BACKLOG: i32 = 4096;

/// Echoes one connection until end of stream or an error.
pub async fn echo_conn(mut conn: TcpStream) {
    // Wait for the first bytes before allocating the buffer: an idle
    // connection then holds no buffer.
    let mut probe = [0u8; 1];
    match conn.peek(&mut probe).await {
        Ok(1..) => {}
        Ok(0) | Err(_) => return,
    }
    let mut buf = vec![0u8; BUF_SIZE];
    loop {
        let n = match conn.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if conn.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Accepts connections forever, one [`echo_conn`] task each on this
/// thread. Accept errors are reported and the loop goes on (running out of
/// descriptors makes the listener back off by itself).
pub async fn accept_loop(listener: TcpListener) -> io::Result<()> {
    loop {
        match listener.accept().await {
            Ok((conn, _peer)) => {
                // Replies are small: send them at once.
                let _ = conn.set_nodelay(true);
                runtime::spawn(echo_conn(conn));
            }
            Err(e) => eprintln!("echo: accept: {e}"),
        }
    }
}

/// `SIGINT` and `SIGTERM` listeners, installed before the server starts so
/// an early signal is not lost.
pub struct Shutdown {
    int: runtime::signal::Signal,
    term: runtime::signal::Signal,
}

impl Shutdown {
    /// Installs the listeners on this thread's reactor.
    pub fn new() -> io::Result<Shutdown> {
        Ok(Shutdown {
            int: runtime::signal::signal(libc::SIGINT)?,
            term: runtime::signal::signal(libc::SIGTERM)?,
        })
    }

    /// Waits for either signal; returns its name.
    pub async fn recv(&mut self) -> &'static str {
        poll_fn(|cx| {
            if self.int.poll_recv(cx).is_ready() {
                Poll::Ready("SIGINT")
            } else if self.term.poll_recv(cx).is_ready() {
                Poll::Ready("SIGTERM")
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (for thousands of
/// connections).
pub fn raise_fd_limit() -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills a live rlimit struct.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } < 0 {
        return Err(io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: setrlimit reads a live rlimit struct.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(lim.rlim_cur)
}

/// Pins the calling thread to the first CPU it may run on.
fn pin_this_thread() -> io::Result<()> {
    // SAFETY: cpu_set_t is a plain bit array; all zeroes is a valid value.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: `set` is a live cpu_set_t and `size` is its size.
    if unsafe { libc::sched_getaffinity(0, size, &mut set) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let cpu = (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `c` is below CPU_SETSIZE, inside the set.
        .find(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .ok_or_else(|| io::Error::other("no CPU allowed"))?;
    // SAFETY: as above; all zeroes is a valid cpu_set_t.
    let mut one: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` is below CPU_SETSIZE.
    unsafe { libc::CPU_SET(cpu, &mut one) };
    // SAFETY: `one` is a live cpu_set_t of `size` bytes; pid 0 is this thread.
    if unsafe { libc::sched_setaffinity(0, size, &one) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

struct Args {
    addr: SocketAddr,
    threads: usize,
    method: Option<String>,
    pin: bool,
}

fn usage(msg: &str) -> ! {
    eprintln!(
        "echo: {msg}\nusage: echo [--addr 127.0.0.1:7878] [--threads N] [--method epoll|poll|select] [--pin]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        addr: "127.0.0.1:7878".parse().expect("literal address"),
        threads: 1,
        method: None,
        pin: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--addr" => {
                let v = value();
                a.addr = v
                    .parse()
                    .unwrap_or_else(|_| usage(&format!("--addr: not an address: {v}")));
            }
            "--threads" => {
                let v = value();
                a.threads = match v.parse() {
                    Ok(n) if n >= 1 => n,
                    _ => usage(&format!("--threads: not a positive number: {v}")),
                };
            }
            "--method" => a.method = Some(value()),
            "--pin" => a.pin = true,
            "-h" | "--help" => usage("a TCP echo server"),
            other => usage(&format!("unknown flag {other}")),
        }
    }
    a
}

fn main() -> io::Result<()> {
    let args = parse_args();
    raise_fd_limit()?;
    let mut builder = runtime::Builder::new();
    if let Some(m) = &args.method {
        builder = builder.method(m)?;
    }
    let options = ListenOptions::new().backlog(BACKLOG);
    let pid = std::process::id();
    if args.threads == 1 {
        if args.pin {
            pin_this_thread()?;
        }
        let rt = builder.build()?;
        let method = rt.method();
        let signal = rt.block_on(async {
            let mut shutdown = Shutdown::new()?;
            let listener = TcpListener::bind_with(args.addr, options).await?;
            println!(
                "echo: listening on {} threads=1 method={method} pid={pid}",
                listener.local_addr()?
            );
            let server = runtime::spawn(accept_loop(listener));
            let signal = shutdown.recv().await;
            server.abort();
            Ok::<_, io::Error>(signal)
        })?;
        eprintln!("echo: {signal}: exiting");
        // Dropping the runtime closes the connections still open.
        drop(rt);
    } else {
        let rt = builder.threads(args.threads).pin_cpus(args.pin).build()?;
        let method = rt.method();
        let handle = rt.handle();
        let signal = rt.block_on(async {
            let mut shutdown = Shutdown::new()?;
            let server = serve_sharded(&handle, args.addr, options, accept_loop)?;
            println!(
                "echo: listening on {} threads={} method={method} pid={pid}",
                server.local_addr(),
                server.shards()
            );
            let signal = shutdown.recv().await;
            server.abort();
            Ok::<_, io::Error>(signal)
        })?;
        eprintln!("echo: {signal}: exiting");
        // The workers drop their connections on their own threads.
        drop(rt);
    }
    Ok(())
}
