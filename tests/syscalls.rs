//! Syscall economy, the physical limit of a readiness loop: the echo example
//! runs under `strace -f -c` while this test drives a fixed number of
//! ping-pong messages through it, and the counts are checked against the
//! design rule — at most two I/O system calls (one read, one write) per
//! echoed message plus a small constant per connection, and `epoll_ctl`
//! once to add and once to remove each connection (no interest toggling,
//! no `fcntl` probe of the descriptor).
//!
//! The callback layer gets the same check over libevent's benchmark
//! (`pipebench --api callbacks`): per callback one read, one write and at
//! most one epoll wait — level-triggered events cost no extra probe — and
//! `epoll_ctl` only when the watched interest changes.
//!
//! Needs `strace` (Debian/Ubuntu package `strace`); without it, or where
//! ptrace is not permitted, the tests print why and pass. The programs run
//! without the `EVENT_NO*` variables of the test run: these are the epoll
//! backend's counts.

#[path = "support/example.rs"]
mod example;
use example::example_bin;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

const CONNS: usize = 50;
const MESSAGES: usize = 200;
const SIZE: usize = 64;

/// `strace` of an example on the default (epoll) backend, whatever
/// `EVENT_NO*` the test run was given.
fn strace() -> Command {
    let mut c = Command::new("strace");
    for var in ["EVENT_NOEPOLL", "EVENT_NOPOLL", "EVENT_NOSELECT"] {
        c.env_remove(var);
    }
    c
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

/// Waits for the child to exit, at most `limit`.
fn wait_bounded(child: &mut Reap, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    let c = child.0.as_mut().expect("child");
    loop {
        if let Some(status) = c.try_wait().expect("try_wait") {
            child.0 = None;
            return status;
        }
        assert!(
            start.elapsed() < limit,
            "child did not exit within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn strace_usable() -> Result<(), String> {
    match Command::new("strace")
        .args(["-f", "-c", "-o", "/dev/null", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
    {
        Err(e) => Err(format!(
            "strace is not installed ({e}); install it with `apt-get install -y strace`"
        )),
        Ok(o) if !o.status.success() => Err(format!(
            "strace cannot trace here (ptrace not permitted?): {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Ok(_) => Ok(()),
    }
}

/// `strace -c` table: syscall name -> calls.
fn parse_strace_table(text: &str) -> Vec<(String, u64)> {
    let mut rows = Vec::new();
    for line in text.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        // % time, seconds, usecs/call, calls, [errors], syscall
        if cols.len() < 5 || cols[0].starts_with('%') || cols[0].starts_with('-') {
            continue;
        }
        let Ok(calls) = cols[3].parse::<u64>() else {
            continue;
        };
        let name = cols[cols.len() - 1];
        if name != "total" {
            rows.push((name.to_owned(), calls));
        }
    }
    rows
}

/// One client connection: CONNS of these run at once, each on a thread,
/// each sending MESSAGES messages of SIZE bytes and waiting for the echo of
/// each before the next.
fn client(addr: SocketAddr, id: usize, start: Arc<Barrier>) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    start.wait();
    let mut msg = [0u8; SIZE];
    let mut back = [0u8; SIZE];
    for m in 0..MESSAGES {
        let head = format!("conn {id:03} msg {m:04} ");
        msg.fill(b'.');
        msg[..head.len()].copy_from_slice(head.as_bytes());
        s.write_all(&msg).expect("write");
        s.read_exact(&mut back).expect("read echo");
        assert_eq!(back, msg, "connection {id}, message {m}");
    }
    // Orderly close: the server reads end of stream and closes too.
    drop(s);
}

#[test]
fn echo_costs_two_io_syscalls_per_message() {
    if let Err(why) = strace_usable() {
        println!("SKIPPED echo_costs_two_io_syscalls_per_message: {why}");
        return;
    }
    let echo = example_bin("echo");
    let out = std::env::temp_dir().join(format!("runtime-syscalls-{}.txt", std::process::id()));
    let _ = std::fs::remove_file(&out);
    let child = strace()
        .args(["-f", "-c", "-o"])
        .arg(&out)
        .arg("-e")
        .arg(
            "trace=read,write,readv,writev,recvfrom,sendto,recvmsg,sendmsg,\
             epoll_wait,epoll_pwait,epoll_pwait2,epoll_ctl,fcntl",
        )
        .arg(&echo)
        .args(["--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn strace");
    let mut child = Reap(Some(child));
    let stdout = child.0.as_mut().unwrap().stdout.take().unwrap();
    // The first line: "echo: listening on ADDR threads=1 method=M pid=PID".
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the echo server did not start within 30 s");
    let addr: SocketAddr = line
        .split_whitespace()
        .nth(3)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    let pid: i32 = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("pid="))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {line:?}"));

    let started = Instant::now();
    let barrier = Arc::new(Barrier::new(CONNS));
    let clients: Vec<_> = (0..CONNS)
        .map(|id| {
            let b = barrier.clone();
            std::thread::spawn(move || client(addr, id, b))
        })
        .collect();
    for c in clients {
        c.join().expect("client thread");
    }
    let elapsed = started.elapsed();
    // Let the server read every end of stream and close, then stop it.
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill with a pid the server reported and a valid signal.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let status = wait_bounded(&mut child, Duration::from_secs(30));
    assert!(status.success(), "strace/echo exited with {status}");

    let table = std::fs::read_to_string(&out).expect("strace output");
    let _ = std::fs::remove_file(&out);
    let rows = parse_strace_table(&table);
    let count = |names: &[&str]| -> u64 {
        rows.iter()
            .filter(|(n, _)| names.contains(&n.as_str()))
            .map(|(_, c)| c)
            .sum()
    };
    let reads = count(&["read", "readv", "recvfrom", "recvmsg"]);
    let writes = count(&["write", "writev", "sendto", "sendmsg"]);
    let waits = count(&["epoll_wait", "epoll_pwait", "epoll_pwait2"]);
    let ctls = count(&["epoll_ctl"]);
    let total: u64 = rows.iter().map(|(_, c)| c).sum();
    let msgs = (CONNS * MESSAGES) as u64;
    let conns = CONNS as u64;
    println!("strace -c of the echo example ({CONNS} connections x {MESSAGES} messages of {SIZE} bytes, {elapsed:?}):\n{table}");
    println!(
        "per message: {:.3} reads, {:.3} writes, {:.3} I/O, {:.3} epoll waits, {:.3} syscalls in all; epoll_ctl {} ({:.2} per connection)",
        reads as f64 / msgs as f64,
        writes as f64 / msgs as f64,
        (reads + writes) as f64 / msgs as f64,
        waits as f64 / msgs as f64,
        total as f64 / msgs as f64,
        ctls,
        ctls as f64 / conns as f64,
    );
    // Every message needs its read and its write.
    assert!(
        reads >= msgs && writes >= msgs,
        "too few calls traced: {rows:?}"
    );
    // Steady state: one read and one write per message; per connection a
    // few more (the first-data probe, a would-block retry, the
    // end-of-stream read); a few for start-up and shutdown messages.
    let io_limit = 2 * msgs + 4 * conns + 32;
    assert!(
        reads + writes <= io_limit,
        "{} I/O system calls for {msgs} messages on {conns} connections (limit {io_limit}): {rows:?}",
        reads + writes
    );
    // One EPOLL_CTL_ADD and one EPOLL_CTL_DEL per connection, plus the
    // listener's and the reactor's own descriptors: no interest churn.
    let ctl_limit = 2 * conns + 16;
    assert!(
        ctls <= ctl_limit,
        "{ctls} epoll_ctl calls for {conns} connections (limit {ctl_limit}): {rows:?}"
    );
    assert!(ctls >= conns, "each connection is registered: {rows:?}");
    // Registering is the epoll_ctl alone: no descriptor probe (fcntl) per
    // accepted connection (epoll_ctl reports a closed one itself). A debug
    // build's std makes one F_GETFD per close (its double-close check):
    // at most one per connection, not two.
    let fcntls = count(&["fcntl"]);
    let fcntl_limit = conns + 16;
    assert!(
        fcntls <= fcntl_limit,
        "{fcntls} fcntl calls for {conns} connections (limit {fcntl_limit}): {rows:?}"
    );
}

#[test]
fn level_triggered_callbacks_cost_no_extra_syscall() {
    if let Err(why) = strace_usable() {
        println!("SKIPPED level_triggered_callbacks_cost_no_extra_syscall: {why}");
        return;
    }
    const PIPES: u64 = 100;
    const ROUNDS: u64 = 5;
    let bench = example_bin("pipebench");
    let out = std::env::temp_dir().join(format!("runtime-syscalls-cb-{}.txt", std::process::id()));
    let _ = std::fs::remove_file(&out);
    let child = strace()
        .args(["-f", "-c", "-o"])
        .arg(&out)
        .arg(&bench)
        .args(["-n", &PIPES.to_string(), "-a", "1", "-w", "100"])
        .args(["-r", &ROUNDS.to_string(), "--api", "callbacks"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn strace");
    let mut child = Reap(Some(child));
    let status = wait_bounded(&mut child, Duration::from_secs(60));
    assert!(status.success(), "pipebench under strace: {status}");
    let mut table = String::new();
    std::fs::File::open(&out)
        .and_then(|mut f| f.read_to_string(&mut table))
        .expect("strace output");
    let _ = std::fs::remove_file(&out);
    let rows = parse_strace_table(&table);
    let count = |names: &[&str]| -> u64 {
        rows.iter()
            .filter(|(n, _)| names.contains(&n.as_str()))
            .map(|(_, c)| c)
            .sum()
    };
    // Each callback receives its byte once (`recvfrom`), then passes one
    // on (`sendto`).
    let callbacks = count(&["recvfrom"]);
    let probes = count(&["poll", "ppoll", "select", "pselect6"]);
    let waits = count(&["epoll_wait", "epoll_pwait", "epoll_pwait2"]);
    let ctls = count(&["epoll_ctl"]);
    println!(
        "strace -c of pipebench --api callbacks (n={PIPES}, a=1, w=100, r={ROUNDS}):\n{table}"
    );
    assert!(
        callbacks >= ROUNDS * 100,
        "too few callbacks traced: {rows:?}"
    );
    assert!(
        probes <= 4,
        "{probes} poll/select calls for {callbacks} callbacks: level-triggered events must not probe: {rows:?}"
    );
    assert!(
        waits <= callbacks + 16,
        "{waits} epoll waits for {callbacks} callbacks: {rows:?}"
    );
    // Per pipe: the add with its read interest and the delete; not one
    // per callback.
    let ctl_limit = 2 * PIPES + 16;
    assert!(
        ctls <= ctl_limit,
        "{ctls} epoll_ctl calls for {PIPES} pipes (limit {ctl_limit}): {rows:?}"
    );
}

#[test]
fn strace_table_parses() {
    let t = "% time     seconds  usecs/call     calls    errors syscall\n\
             ------ ----------- ----------- --------- --------- ----------------\n\
              74.23    0.117402          11     10000           sendto\n\
              1.33    0.002111          10       206         1 epoll_pwait2\n\
             ------ ----------- ----------- --------- --------- ----------------\n\
             100.00    0.158170           7     10206         1 total\n";
    assert_eq!(
        parse_strace_table(t),
        vec![
            ("sendto".to_owned(), 10000),
            ("epoll_pwait2".to_owned(), 206)
        ]
    );
}
