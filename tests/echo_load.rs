//! The echo and ROT13 examples under load: 10,000 simultaneous connections
//! to the echo server (single-threaded, and sharded over two workers with
//! `serve_sharded`), the kernel spreading a sharded listener's connections
//! over the workers, and the ROT13 server end to end.
//!
//! One process may hold at most 20,000 descriptors here, so for the 10,000
//! connections the server runs in this process and the clients in another:
//! this test binary run again with a filter that selects the ignored
//! `load_client_process` test, the server's address in an environment
//! variable.

#[allow(dead_code)]
#[path = "../examples/echo.rs"]
mod echo;

#[allow(dead_code)]
#[path = "../examples/rot13.rs"]
mod rot13;

#[path = "support/example.rs"]
mod example;
use example::example_bin;
use runtime::net::{serve_sharded, ListenOptions, TcpListener, TcpStream};
use runtime::{Builder, Runtime};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Connections of the big tests.
const LOAD_CONNS: usize = 10_000;
/// Connects in flight at once in the client (the rest wait their turn).
const CONNECT_BATCH: usize = 1_000;
/// The client process gives up after this long.
const CLIENT_LIMIT: Duration = Duration::from_secs(120);
const ADDR_ENV: &str = "RUNTIME_ECHO_LOAD_ADDR";
const CONNS_ENV: &str = "RUNTIME_ECHO_LOAD_CONNS";

/// The 10,000-connection tests hold 10,000 descriptors each: one at a time.
static HEAVY: Mutex<()> = Mutex::new(());

fn heavy_lock() -> std::sync::MutexGuard<'static, ()> {
    HEAVY.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the server saw.
#[derive(Default)]
struct Stats {
    accepted: AtomicUsize,
    live: AtomicUsize,
    max_live: AtomicUsize,
    /// Accepts per worker (index 0 on a single-threaded runtime).
    per_worker: [AtomicUsize; 2],
    /// Connections whose task ran on another thread than their accept.
    moved: AtomicUsize,
}

/// The echo example's accept loop, counting.
async fn counting_accept_loop(listener: TcpListener, stats: Arc<Stats>) -> io::Result<()> {
    loop {
        let conn = match listener.accept().await {
            Ok((conn, _)) => conn,
            Err(e) => {
                eprintln!("accept: {e}");
                continue;
            }
        };
        let worker = runtime::worker_index();
        stats.per_worker[worker.unwrap_or(0)].fetch_add(1, Ordering::Relaxed);
        stats.accepted.fetch_add(1, Ordering::Relaxed);
        let live = stats.live.fetch_add(1, Ordering::Relaxed) + 1;
        stats.max_live.fetch_max(live, Ordering::Relaxed);
        let _ = conn.set_nodelay(true);
        let stats = stats.clone();
        runtime::spawn(async move {
            if runtime::worker_index() != worker {
                stats.moved.fetch_add(1, Ordering::Relaxed);
            }
            echo::echo_conn(conn).await;
            stats.live.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// Raises the soft descriptor limit to the hard one; false (with a note)
/// when even that is below `needed`.
fn raise_fd_limit(needed: u64) -> bool {
    let have = echo::raise_fd_limit().expect("RLIMIT_NOFILE");
    if have < needed {
        println!("SKIPPED: need {needed} descriptors, the hard limit RLIMIT_NOFILE is {have}");
        return false;
    }
    true
}

/// Polls `cond` every 10 ms, failing after `limit`.
fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(10));
    }
}

/// Runs this binary's `load_client_process` against `addr` and checks it
/// succeeded; bounded by CLIENT_LIMIT plus a margin.
fn run_client_process(addr: SocketAddr, conns: usize) {
    let exe = std::env::current_exe().expect("current_exe");
    let child = Command::new(exe)
        .args([
            "--exact",
            "load_client_process",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ADDR_ENV, addr.to_string())
        .env(CONNS_ENV, conns.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the client process");
    let pid = child.id() as i32;
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(CLIENT_LIMIT + Duration::from_secs(30)) {
        Ok(out) => out.expect("wait for the client process"),
        Err(_) => {
            // SAFETY: kill with the pid of our own child, not yet reaped.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the client process did not finish in time");
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "client process failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let done = format!("load client: {conns} connections echoed");
    assert!(
        stdout.contains(&done),
        "the client process ran no client:\n{stdout}\n{stderr}"
    );
    // (libtest may print "test load_client_process ... " on the same line.)
    for line in stdout
        .lines()
        .filter_map(|l| l.find("load client:").map(|i| &l[i..]))
    {
        println!("{line}");
    }
}

#[test]
fn ten_thousand_connections_single_threaded() {
    let _g = heavy_lock();
    if only_select_allowed("ten_thousand_connections_single_threaded") {
        return;
    }
    if !raise_fd_limit(LOAD_CONNS as u64 + 200) {
        return;
    }
    let stats = Arc::new(Stats::default());
    let stop = Arc::new(AtomicBool::new(false));
    let (addr_tx, addr_rx) = mpsc::channel();
    let server = {
        let (stats, stop) = (stats.clone(), stop.clone());
        thread::spawn(move || {
            let rt = Runtime::new().unwrap();
            rt.block_on(async {
                let options = ListenOptions::new().backlog(echo::BACKLOG);
                let listener = TcpListener::bind_with("127.0.0.1:0", options)
                    .await
                    .unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let acceptor = runtime::spawn(counting_accept_loop(listener, stats));
                while !stop.load(Ordering::Acquire) {
                    runtime::time::sleep(Duration::from_millis(20)).await;
                }
                acceptor.abort();
            });
        })
    };
    let addr = addr_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let start = Instant::now();
    run_client_process(addr, LOAD_CONNS);
    println!(
        "single-threaded: {LOAD_CONNS} connections in {:?}",
        start.elapsed()
    );
    wait_until(
        "the server to see every close",
        Duration::from_secs(30),
        || stats.live.load(Ordering::Relaxed) == 0,
    );
    stop.store(true, Ordering::Release);
    server.join().expect("server thread");
    assert_eq!(stats.accepted.load(Ordering::Relaxed), LOAD_CONNS);
    assert_eq!(
        stats.max_live.load(Ordering::Relaxed),
        LOAD_CONNS,
        "all connections were open at once"
    );
}

#[test]
fn ten_thousand_connections_on_two_sharded_workers() {
    let _g = heavy_lock();
    if only_select_allowed("ten_thousand_connections_on_two_sharded_workers") {
        return;
    }
    if !raise_fd_limit(LOAD_CONNS as u64 + 200) {
        return;
    }
    let stats = Arc::new(Stats::default());
    let rt = Builder::new().threads(2).build().unwrap();
    let server = {
        let stats = stats.clone();
        serve_sharded(
            &rt.handle(),
            "127.0.0.1:0".parse().unwrap(),
            ListenOptions::new().backlog(echo::BACKLOG),
            move |l| counting_accept_loop(l, stats),
        )
        .unwrap()
    };
    let start = Instant::now();
    run_client_process(server.local_addr(), LOAD_CONNS);
    let per: Vec<usize> = stats
        .per_worker
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .collect();
    println!(
        "two workers: {LOAD_CONNS} connections in {:?}, accepts per worker {per:?}",
        start.elapsed()
    );
    wait_until(
        "the server to see every close",
        Duration::from_secs(30),
        || stats.live.load(Ordering::Relaxed) == 0,
    );
    server.abort();
    rt.shutdown_timeout(Duration::from_secs(1));
    assert_eq!(stats.accepted.load(Ordering::Relaxed), LOAD_CONNS);
    assert_eq!(stats.max_live.load(Ordering::Relaxed), LOAD_CONNS);
    assert!(per.iter().all(|&n| n > 0), "both workers accepted: {per:?}");
    assert_eq!(stats.moved.load(Ordering::Relaxed), 0);
}

/// Whether the environment leaves only select (`EVENT_NOEPOLL` and
/// `EVENT_NOPOLL` set): it cannot watch descriptors at or above
/// `FD_SETSIZE` (1024), so a test holding thousands of connections cannot
/// run on it.
fn only_select_allowed(test: &str) -> bool {
    let select = runtime::reactor::PollerConfig::new()
        .choose()
        .is_ok_and(|m| m == runtime::reactor::Method::Select);
    if select {
        println!("SKIPPED {test}: select (the only backend EVENT_NO* leave) cannot watch descriptors >= 1024");
    }
    select
}

/// The client half of the 10,000-connection tests, run in its own process
/// by them (it needs the address they pass in the environment).
#[test]
#[ignore = "the client process of the 10,000-connection tests; they run it"]
fn load_client_process() {
    let Ok(addr) = std::env::var(ADDR_ENV) else {
        println!("load_client_process: no {ADDR_ENV}: nothing to do (run by the load tests)");
        return;
    };
    let addr: SocketAddr = addr.parse().expect("address");
    let conns: usize = std::env::var(CONNS_ENV)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(LOAD_CONNS);
    assert!(raise_fd_limit(conns as u64 + 100), "descriptor limit");
    let rt = Runtime::new().unwrap();
    let start = Instant::now();
    match rt.block_on(runtime::time::timeout(
        CLIENT_LIMIT,
        load_client(addr, conns),
    )) {
        Err(_) => panic!("load client: not done within {CLIENT_LIMIT:?}"),
        Ok(Err(e)) => panic!("load client: {e}"),
        Ok(Ok(retries)) => println!(
            "load client: {conns} connections echoed in {:?} ({retries} connect retries)",
            start.elapsed()
        ),
    }
}

fn join_err(e: runtime::JoinError) -> io::Error {
    io::Error::other(e.to_string())
}

/// Opens `conns` connections (CONNECT_BATCH at a time), then, with all of
/// them open, sends a distinct message on each and checks its echo, then
/// closes them all. Returns the number of connect retries.
async fn load_client(addr: SocketAddr, conns: usize) -> io::Result<usize> {
    let mut streams = Vec::with_capacity(conns);
    let mut retries = 0;
    let mut next = 0;
    while next < conns {
        let end = (next + CONNECT_BATCH).min(conns);
        let batch: Vec<_> = (next..end)
            .map(|_| runtime::spawn(connect_with_retry(addr)))
            .collect();
        for h in batch {
            let (s, r) = h.await.map_err(join_err)??;
            streams.push(s);
            retries += r;
        }
        next = end;
    }
    let echoes: Vec<_> = streams
        .into_iter()
        .enumerate()
        .map(|(i, s)| runtime::spawn(echo_once(s, i)))
        .collect();
    let mut open = Vec::with_capacity(conns);
    for h in echoes {
        open.push(h.await.map_err(join_err)??);
    }
    // Every connection echoed while all were open; now close them.
    drop(open);
    Ok(retries)
}

/// Connects, retrying transient failures (a full backlog, a slow
/// handshake) with a growing pause.
async fn connect_with_retry(addr: SocketAddr) -> io::Result<(TcpStream, usize)> {
    let mut pause = Duration::from_millis(10);
    let mut retries = 0;
    loop {
        match TcpStream::connect_timeout(addr, Duration::from_secs(10)).await {
            Ok(s) => return Ok((s, retries)),
            Err(e)
                if retries < 8
                    && matches!(
                        e.kind(),
                        io::ErrorKind::TimedOut
                            | io::ErrorKind::ConnectionRefused
                            | io::ErrorKind::ConnectionReset
                            | io::ErrorKind::AddrNotAvailable
                            | io::ErrorKind::Interrupted
                            | io::ErrorKind::WouldBlock
                    ) =>
            {
                retries += 1;
                runtime::time::sleep(pause).await;
                pause *= 2;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Sends connection `i`'s own message and checks the echo; returns the
/// stream, still open.
async fn echo_once(mut s: TcpStream, i: usize) -> io::Result<TcpStream> {
    let msg = format!("connection {i:05} {}\n", "x".repeat(i % 97));
    s.write_all(msg.as_bytes()).await?;
    let mut back = vec![0u8; msg.len()];
    s.read_exact(&mut back).await?;
    if back != msg.as_bytes() {
        return Err(io::Error::other(format!(
            "connection {i}: sent {msg:?}, got {:?}",
            String::from_utf8_lossy(&back)
        )));
    }
    Ok(s)
}

#[test]
fn sharded_listener_spreads_connections_over_workers() {
    const CONNS: usize = 200;
    let stats = Arc::new(Stats::default());
    let rt = Builder::new().threads(2).build().unwrap();
    let server = {
        let stats = stats.clone();
        serve_sharded(
            &rt.handle(),
            "127.0.0.1:0".parse().unwrap(),
            ListenOptions::new(),
            move |l| counting_accept_loop(l, stats),
        )
        .unwrap()
    };
    assert_eq!(server.shards(), 2);
    let addr = server.local_addr();
    assert_ne!(addr.port(), 0);
    let mut clients = Vec::new();
    for i in 0..CONNS {
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let msg = [i as u8; 3];
        c.write_all(&msg).unwrap();
        let mut back = [0u8; 3];
        c.read_exact(&mut back).unwrap();
        assert_eq!(back, msg);
        clients.push(c);
    }
    let per: Vec<usize> = stats
        .per_worker
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .collect();
    println!("accepts per worker: {per:?}");
    assert_eq!(per.iter().sum::<usize>(), CONNS);
    assert!(per.iter().all(|&n| n > 0), "both workers accepted: {per:?}");
    assert_eq!(
        stats.moved.load(Ordering::Relaxed),
        0,
        "connections stay on their worker"
    );
    assert_eq!(stats.max_live.load(Ordering::Relaxed), CONNS);
    drop(clients);
    wait_until("every close", Duration::from_secs(10), || {
        stats.live.load(Ordering::Relaxed) == 0
    });
    server.abort();
    rt.shutdown_timeout(Duration::from_secs(1));
}

#[test]
fn serve_sharded_errors() {
    // No worker threads.
    let rt = Runtime::new().unwrap();
    let err = serve_sharded(
        &rt.handle(),
        "127.0.0.1:0".parse().unwrap(),
        ListenOptions::new(),
        |_l| async { Ok(()) },
    )
    .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);

    // The port is held by a socket without SO_REUSEPORT.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let rt = Builder::new().threads(2).build().unwrap();
    let err = serve_sharded(
        &rt.handle(),
        taken.local_addr().unwrap(),
        ListenOptions::new(),
        |_l| async { Ok(()) },
    )
    .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse);

    // A shard's error comes back from join; every shard runs on its worker.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let server = {
        let seen = seen.clone();
        serve_sharded(
            &rt.handle(),
            "127.0.0.1:0".parse().unwrap(),
            ListenOptions::new(),
            move |l| async move {
                let w = runtime::worker_index().unwrap();
                seen.lock().unwrap().push((w, l.local_addr()?));
                Err(io::Error::other(format!("shard {w} gives up")))
            },
        )
        .unwrap()
    };
    let addr = server.local_addr();
    let err = rt.block_on(server.join()).unwrap_err();
    assert_eq!(err.to_string(), "shard 0 gives up");
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen, vec![(0, addr), (1, addr)]);

    // Aborted shards report a cancellation.
    let server = serve_sharded(
        &rt.handle(),
        "127.0.0.1:0".parse().unwrap(),
        ListenOptions::new(),
        |l| async move {
            let _conn = l.accept().await?;
            Ok(())
        },
    )
    .unwrap();
    server.abort();
    let err = rt.block_on(server.join()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::Other);
    rt.shutdown_timeout(Duration::from_secs(1));
}

/// Kills (SIGKILL) and reaps a child on drop unless it was waited for.
struct Reap(Option<Child>);

impl Drop for Reap {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn read_line_within(r: &mut impl BufRead, limit: Duration) -> String {
    // The sockets and pipes here have read timeouts or are closed by the
    // peer; this bounds the wait for a line that never comes.
    let start = Instant::now();
    let mut line = String::new();
    r.read_line(&mut line).expect("read a line");
    assert!(start.elapsed() < limit + Duration::from_secs(1));
    line
}

#[test]
fn rot13_example_answers_lines() {
    let bin = example_bin("rot13");
    let child = Command::new(&bin)
        .args(["--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the rot13 example");
    let mut child = Reap(Some(child));
    let stdout = child.0.as_mut().unwrap().stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("rot13 did not start");
    let addr: SocketAddr = line
        .split_whitespace()
        .nth(3)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    let limit = Duration::from_secs(10);
    let connect = || {
        let s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(limit)).unwrap();
        (BufReader::new(s.try_clone().unwrap()), s)
    };
    let (mut a_in, mut a) = connect();
    let (mut b_in, mut b) = connect();
    // A starts a line and leaves it unfinished...
    a.write_all(b"Hello, ").unwrap();
    // ...while B is served: two lines in one write.
    b.write_all(b"Why did the chicken\ncross the road?\n")
        .unwrap();
    assert_eq!(read_line_within(&mut b_in, limit), "Jul qvq gur puvpxra\n");
    assert_eq!(read_line_within(&mut b_in, limit), "pebff gur ebnq?\n");
    thread::sleep(Duration::from_millis(20));
    a.write_all(b"World! 123\n").unwrap();
    assert_eq!(read_line_within(&mut a_in, limit), "Uryyb, Jbeyq! 123\n");
    drop((a, b, a_in, b_in));
    let pid = child.0.as_ref().unwrap().id() as i32;
    // SAFETY: kill with our own child's pid (not yet reaped) and SIGINT.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.0.as_mut().unwrap().try_wait().unwrap() {
            child.0 = None;
            break s;
        }
        assert!(start.elapsed() < limit, "rot13 did not exit on SIGINT");
        thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "rot13 exited with {status}");
}

#[test]
fn rot13_handles_long_lines_and_end_of_stream() {
    assert_eq!(rot13::rot13_char(b'a'), b'n');
    assert_eq!(rot13::rot13_char(b'N'), b'A');
    assert_eq!(rot13::rot13_char(b'z'), b'm');
    assert_eq!(rot13::rot13_char(b'5'), b'5');
    assert_eq!(rot13::rot13_char(0xE9), 0xE9);
    let rt = Runtime::new().unwrap();
    rt.block_on(runtime::time::timeout(Duration::from_secs(20), async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = runtime::spawn(rot13::serve(listener));
        // A line longer than MAX_LINE comes back in pieces, each ended by a
        // newline (the libevent version's rule).
        let mut c = TcpStream::connect(addr).await.unwrap();
        let long = vec![b'a'; rot13::MAX_LINE + 10];
        c.write_all(&long).await.unwrap();
        c.write_all(b"\n").await.unwrap();
        let mut expect = vec![b'n'; rot13::MAX_LINE];
        expect.push(b'\n');
        expect.extend_from_slice(&[b'n'; 10]);
        expect.push(b'\n');
        let mut got = vec![0u8; expect.len()];
        c.read_exact(&mut got).await.unwrap();
        assert_eq!(got, expect);
        // An unfinished line at end of stream is dropped and the server
        // closes.
        c.write_all(b"no newline").await.unwrap();
        c.shutdown(std::net::Shutdown::Write).unwrap();
        let mut rest = [0u8; 16];
        assert_eq!(c.read(&mut rest).await.unwrap(), 0);
        server.abort();
    }))
    .expect("bounded");
}
