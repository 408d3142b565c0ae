//! The `compat_rot13_events` example (the seed's raw-event ROT13 server on
//! the callback layer) answers exactly as the `rot13` example does: both
//! binaries run as real processes on 127.0.0.1, get the same inputs —
//! many lines in one write, lines around and far beyond `MAX_LINE`, a
//! 32 MiB line, an unfinished last line — and their outputs are compared
//! byte for byte. The callback server's peak memory (VmHWM) must stay
//! bounded while the 32 MiB line passes through.

#[path = "support/example.rs"]
mod example;
use example::example_bin;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

#[path = "support/thread.rs"]
mod thread;

/// Runs `f` on a thread and fails if it takes more than `secs`.
fn bounded(secs: u64, f: impl FnOnce() + Send + 'static) {
    thread::bounded_for(std::time::Duration::from_secs(secs), f)
}

/// A server process, killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts example `name` on a free port of 127.0.0.1 and reads the address
/// from its banner ("NAME: listening on ADDR ...").
fn start(name: &str) -> Server {
    let mut child = Command::new(example_bin(name))
        .args(["--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
    let stdout = child.stdout.take().unwrap();
    let mut banner = String::new();
    BufReader::new(stdout).read_line(&mut banner).unwrap();
    let addr = banner
        .split_whitespace()
        .nth(3)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("{name}: unexpected banner {banner:?}"));
    Server { child, addr }
}

/// Sends `input` (then half-closes) and reads the whole answer, writing
/// and reading at once so neither side blocks the other.
fn exchange(addr: SocketAddr, input: &[u8]) -> Vec<u8> {
    let conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut w = conn.try_clone().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        w.write_all(&input).unwrap();
        w.shutdown(Shutdown::Write).unwrap();
    });
    let mut out = Vec::new();
    (&conn).read_to_end(&mut out).unwrap();
    writer.join().unwrap();
    out
}

/// Where two answers differ, for a failure message (the outputs are too
/// big to print).
fn describe_difference(a: &[u8], b: &[u8]) -> String {
    let first = a.iter().zip(b).position(|(x, y)| x != y);
    format!(
        "rot13 answered {} bytes, compat_rot13_events {} bytes; first difference at {:?}",
        a.len(),
        b.len(),
        first.or((a.len() != b.len()).then(|| a.len().min(b.len())))
    )
}

fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

fn compare(rot13: &Server, compat: &Server, what: &str, input: &[u8]) -> Vec<u8> {
    let want = exchange(rot13.addr, input);
    let got = exchange(compat.addr, input);
    assert!(want == got, "{what}: {}", describe_difference(&want, &got));
    got
}

#[test]
fn compat_rot13_events_answers_as_the_rot13_example() {
    bounded(240, || {
        let rot13 = start("rot13");
        let compat = start("compat_rot13_events");

        // 1,000 short lines in one write.
        let mut many = Vec::new();
        for i in 0..1000 {
            many.extend_from_slice(format!("Line number {i}: Hello, World!\n").as_bytes());
        }
        let got = compare(&rot13, &compat, "1000 lines in one write", &many);
        assert_eq!(got.len(), many.len());
        assert!(got.starts_with(b"Yvar ahzore 0: Uryyb, Jbeyq!\n"));

        // Lines around MAX_LINE (16384) and a 100 KB one, then an
        // unfinished last line.
        let mut long = Vec::new();
        for len in [16383usize, 16384, 16385, 100_000, 5] {
            long.extend(std::iter::repeat_n(b'a', len));
            long.push(b'\n');
        }
        long.extend_from_slice(b"no newline at the end");
        let got = compare(&rot13, &compat, "long lines", &long);
        // Nothing of the 100 KB line is lost: 100,000 'n's come back.
        assert!(got.iter().filter(|&&c| c == b'n').count() >= 16383 + 16384 + 16385 + 100_000);

        // A 32 MiB line: passed through in pieces, in bounded memory.
        let before = vm_hwm_kib(compat.child.id());
        let mut huge = vec![b'z'; 32 << 20];
        huge.extend_from_slice(b"\nend\n");
        let got = compare(&rot13, &compat, "a 32 MiB line", &huge);
        assert_eq!(got.iter().filter(|&&c| c == b'm').count(), 32 << 20);
        assert!(got.ends_with(b"\nraq\n"));
        let after = vm_hwm_kib(compat.child.id());
        assert!(
            after < before + 8 * 1024,
            "compat_rot13_events peak memory grew from {before} KiB to {after} KiB \
             for a 32 MiB line: it must stay bounded"
        );

        // Several clients at once, each answered in full.
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let addr = compat.addr;
                std::thread::spawn(move || {
                    let input = many_lines(i);
                    let want: Vec<u8> = input.iter().map(|&c| rot13_byte(c)).collect();
                    assert_eq!(exchange(addr, &input), want, "client {i}");
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
}

/// 2,000 short lines for client `seed`.
fn many_lines(seed: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for i in 0..2000 {
        v.extend_from_slice(format!("client {seed} line {i}\n").as_bytes());
    }
    v
}

/// ROT13 of one byte (ASCII letters only).
fn rot13_byte(c: u8) -> u8 {
    match c {
        b'a'..=b'm' | b'A'..=b'M' => c + 13,
        b'n'..=b'z' | b'N'..=b'Z' => c - 13,
        _ => c,
    }
}

#[test]
fn compat_rot13_events_prints_help() {
    let out = Command::new(example_bin("compat_rot13_events"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("usage: compat_rot13_events"));
}

#[test]
fn compat_rot13_events_exits_cleanly_on_sigint() {
    bounded(30, || {
        let mut server = start("compat_rot13_events");
        // A connection is open: the server still stops.
        let _c = TcpStream::connect(server.addr).unwrap();
        // SAFETY: plain system call; the pid is our live child's.
        let r = unsafe { libc::kill(server.child.id() as libc::pid_t, libc::SIGINT) };
        assert_eq!(r, 0);
        let status = server.child.wait().unwrap();
        assert!(status.success(), "exit status {status:?}");
    });
}
