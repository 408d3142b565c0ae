//! The DNS examples as real processes: `dig` against `dns-server` for each
//! record type over UDP and TCP, a truncated answer, garbage on the port;
//! `dns-lookup` answers and its exit status and message for NXDOMAIN,
//! REFUSED, SERVFAIL, a silent nameserver and a malformed reply; `--help`
//! and a clean exit on SIGINT. Without `dig` the dig parts are skipped,
//! except under `CI` where that is a failure.

#[path = "support/example.rs"]
mod example;

use runtime::dns::wire::{Message, Rcode};
use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    port: u16,
    _dir: TempFile,
}

struct TempFile(std::path::PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A hosts file with comments, tabs, several names per line, a name on
/// several lines, IPv6, and `many.test` with 60 addresses (too many for
/// 512 bytes).
fn hosts_text() -> String {
    let mut s = String::from(
        "# test zone\n10.1.1.1\thost1.test\talias1.test  # trailing comment\n\
         10.1.1.3 host1.test\nfd00::1 host1.test\n   \n10.1.1.2 host2.test\n",
    );
    for i in 0..60 {
        s.push_str(&format!("10.2.0.{i} many.test\n"));
    }
    s
}

fn start_server(extra: &[&str]) -> Server {
    let bin = example::example_bin("dns-server");
    let file = std::env::temp_dir().join(format!(
        "dns-examples-hosts-{}-{}",
        std::process::id(),
        extra.len()
    ));
    std::fs::write(&file, hosts_text()).unwrap();
    let mut child = Command::new(bin)
        .args(["--addr", "127.0.0.1:0", "--hosts"])
        .arg(&file)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("127.0.0.1:"))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    Server {
        child,
        port,
        _dir: TempFile(file),
    }
}

fn have_dig() -> bool {
    let found = Command::new("dig").arg("-v").output().is_ok();
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "dig is required in CI (apt-get install dnsutils)"
        );
        eprintln!("skipping: dig not installed (apt-get install dnsutils)");
    }
    found
}

fn dig(port: u16, args: &[&str]) -> String {
    let out = Command::new("dig")
        .args(["@127.0.0.1", "-p", &port.to_string(), "+time=2", "+tries=1"])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The answer lines (`dig +short`) sorted.
fn short(port: u16, args: &[&str]) -> Vec<String> {
    let mut a = args.to_vec();
    a.push("+short");
    let mut v: Vec<String> = dig(port, &a).lines().map(str::to_owned).collect();
    v.sort();
    v
}

#[test]
fn dig_against_dns_server() {
    if !have_dig() {
        return;
    }
    let s = start_server(&[]);
    let p = s.port;
    for tcp in [false, true] {
        let t = if tcp { "+tcp" } else { "+notcp" };
        assert_eq!(
            short(p, &[t, "host1.test", "A"]),
            ["10.1.1.1", "10.1.1.3"],
            "{t}"
        );
        assert_eq!(short(p, &[t, "ALIAS1.test", "A"]), ["10.1.1.1"], "{t}");
        assert_eq!(short(p, &[t, "host1.test", "AAAA"]), ["fd00::1"], "{t}");
        assert_eq!(
            short(p, &[t, "-x", "10.1.1.1"]),
            ["alias1.test.", "host1.test."],
            "{t}"
        );
        assert_eq!(short(p, &[t, "-x", "fd00::1"]), ["host1.test."], "{t}");
        assert!(short(p, &[t, "host2.test", "AAAA"]).is_empty());
        let nx = dig(p, &[t, "nope.test", "A"]);
        assert!(nx.contains("status: NXDOMAIN"), "{nx}");
        let ok = dig(p, &[t, "host2.test", "AAAA"]);
        assert!(
            ok.contains("status: NOERROR") && ok.contains("ANSWER: 0"),
            "{ok}"
        );
        assert!(ok.contains("flags: qr aa rd"), "authoritative: {ok}");
    }
    // Truncation: 60 A records do not fit in 512 bytes. Without EDNS and
    // with +ignore, dig shows the TC answer; by default it retries over
    // TCP and gets them all.
    let tc = dig(p, &["+noedns", "+ignore", "many.test", "A"]);
    assert!(tc.contains(" tc") && tc.contains("ANSWER: 0"), "{tc}");
    let retried = dig(p, &["+noedns", "many.test", "A"]);
    assert!(retried.contains("ANSWER: 60"), "{retried}");
    assert_eq!(short(p, &["+tcp", "many.test"]).len(), 60);
    // With a large EDNS0 buffer the whole answer fits in UDP.
    let big = dig(p, &["+bufsize=4096", "+ignore", "many.test", "A"]);
    assert!(big.contains("ANSWER: 60") && !big.contains(" tc"), "{big}");

    // Garbage on the port: FORMERR for a readable header, nothing
    // otherwise, and the server keeps serving.
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    sock.send_to(
        &[
            0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1,
        ],
        ("127.0.0.1", p),
    )
    .unwrap();
    let mut buf = [0u8; 512];
    let n = sock.recv(&mut buf).unwrap();
    let m = Message::parse(&buf[..n]).unwrap();
    assert_eq!((m.header.id, m.rcode()), (0x1234, Rcode::FORMERR));
    sock.send_to(&[1, 2, 3], ("127.0.0.1", p)).unwrap();
    assert_eq!(short(p, &["host2.test"]), ["10.1.1.2"]);
}

#[test]
fn dns_server_with_threads_and_signals() {
    if !have_dig() {
        return;
    }
    let mut s = start_server(&["--threads", "2"]);
    for _ in 0..10 {
        assert_eq!(short(s.port, &["host2.test"]), ["10.1.1.2"]);
        assert_eq!(short(s.port, &["+tcp", "host2.test"]), ["10.1.1.2"]);
    }
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(s.child.id() as i32, libc::SIGINT) };
    let status = wait_exit(&mut s.child, Duration::from_secs(10));
    assert!(status.success(), "{status:?}");
}

fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        assert!(Instant::now() < deadline, "process did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn lookup(args: &[&str]) -> Output {
    Command::new(example::example_bin("dns-lookup"))
        .args(args)
        .output()
        .unwrap()
}

/// A UDP server on a thread answering with `reply(query bytes)` (nothing
/// when it returns `None`) until dropped.
struct Fake {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl Fake {
    fn start(reply: impl Fn(&[u8]) -> Option<Vec<u8>> + Send + 'static) -> Fake {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let port = sock.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !s2.load(Ordering::Relaxed) {
                if let Ok((n, from)) = sock.recv_from(&mut buf) {
                    if let Some(r) = reply(&buf[..n]) {
                        let _ = sock.send_to(&r, from);
                    }
                }
            }
        });
        Fake { port, stop }
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn rcode_reply(q: &[u8], rcode: Rcode) -> Option<Vec<u8>> {
    let m = Message::parse(q).ok()?;
    Some(Message::response_to(&m, rcode).to_bytes())
}

#[test]
fn dns_lookup_answers_and_errors() {
    let s = start_server(&[]);
    let server = format!("127.0.0.1:{}", s.port);
    let out = lookup(&["host1.test", "--server", &server]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text,
        "host1.test.\t60\tIN\tA\t10.1.1.1\nhost1.test.\t60\tIN\tA\t10.1.1.3\n"
    );
    let out = lookup(&["fd00::1", "--type", "PTR", "--server", &server]);
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("\tPTR\thost1.test."));
    let out = lookup(&["host1.test", "--type", "aaaa", "--server", &server]);
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("\tAAAA\tfd00::1"));

    let fails = |args: &[&str], msg: &str| {
        let out = lookup(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(msg), "{args:?}: {err}");
    };
    fails(&["nope.test", "--server", &server], "NXDOMAIN");
    fails(
        &["host2.test", "--type", "AAAA", "--server", &server],
        "no records",
    );
    let refusing = Fake::start(|q| rcode_reply(q, Rcode::REFUSED));
    fails(
        &[
            "x.test",
            "--server",
            &format!("127.0.0.1:{}", refusing.port),
        ],
        "REFUSED",
    );
    let failing = Fake::start(|q| rcode_reply(q, Rcode::SERVFAIL));
    fails(
        &["x.test", "--server", &format!("127.0.0.1:{}", failing.port)],
        "SERVFAIL",
    );
    let garbling = Fake::start(|q| {
        let mut r = q[..12].to_vec();
        r[2] |= 0x80;
        r.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1]);
        Some(r)
    });
    fails(
        &[
            "x.test",
            "--server",
            &format!("127.0.0.1:{}", garbling.port),
        ],
        "malformed reply: compression pointer loop",
    );
    // A nameserver that never answers: given up after timeout x attempts.
    let silent = Fake::start(|_| None);
    let t = Instant::now();
    fails(
        &[
            "x.test",
            "--server",
            &format!("127.0.0.1:{}", silent.port),
            "--timeout",
            "0.3",
            "--attempts",
            "2",
        ],
        "timed out",
    );
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(600) && took < Duration::from_secs(5),
        "{took:?}"
    );

    let out = lookup(&["x", "--type", "BOGUS"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("unsupported type"));
}

#[test]
fn help_and_interrupt() {
    for bin in ["dns-lookup", "dns-server"] {
        let out = Command::new(example::example_bin(bin))
            .arg("--help")
            .output()
            .unwrap();
        assert!(out.status.success(), "{bin}");
        assert!(
            String::from_utf8(out.stdout).unwrap().contains("usage:"),
            "{bin}"
        );
    }
    // dns-lookup waiting on a silent server exits 0 on SIGINT.
    let silent = Fake::start(|_| None);
    let mut child = Command::new(example::example_bin("dns-lookup"))
        .args([
            "x.test",
            "--server",
            &format!("127.0.0.1:{}", silent.port),
            "--timeout",
            "30",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = wait_exit(&mut child, Duration::from_secs(5));
    assert!(status.success(), "{status:?}");
    assert!(!Path::new("/nonexistent-hosts").exists());
    let out = Command::new(example::example_bin("dns-server"))
        .args(["--hosts", "/nonexistent-hosts", "--addr", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}
