//! The HTTP examples as real processes: `--help`, `http-hello` answering
//! `http-get`, `http-server` serving files and listings and refusing every
//! escape from its root, clean exit on SIGINT.

#[path = "support/example.rs"]
mod example;
#[path = "support/http.rs"]
mod http_support;

use example::example_bin;
use http_support::*;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running example, killed and reaped on drop unless it was stopped:
/// a failing test leaves no server behind (holding the test's output
/// pipe open).
struct Running(Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn spawn_listening(name: &str, args: &[&str]) -> (Running, std::net::SocketAddr) {
    let mut child = Command::new(example_bin(name))
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split_whitespace()
        .skip_while(|w| *w != "on")
        .nth(1)
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .parse()
        .unwrap();
    (Running(Some(child)), addr)
}

fn sigint_and_wait(mut running: Running) {
    let mut child = running.0.take().expect("running");
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    for _ in 0..100 {
        if let Some(st) = child.try_wait().unwrap() {
            assert!(st.success(), "exit status {st}");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("did not exit on SIGINT");
}

#[test]
fn every_example_prints_help() {
    for name in ["http-hello", "http-server", "http-get"] {
        let out = Command::new(example_bin(name))
            .arg("--help")
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("usage:"),
            "{name}"
        );
    }
}

#[test]
fn hello_answers_http_get() {
    let (hello, addr) = spawn_listening("http-hello", &["--addr", "127.0.0.1:0", "--threads", "2"]);
    let out = Command::new(example_bin("http-get"))
        .args([
            &format!("http://{addr}/x"),
            "-H",
            "X-Test: 1",
            "--data",
            "abc",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("HTTP/1.1 200 OK") && text.ends_with("\r\n\nHello, world!\n")
            || text.ends_with("\n\nHello, world!\n"),
        "{text}"
    );
    sigint_and_wait(hello);
    // Nothing listening any more: http-get fails.
    let out = Command::new(example_bin("http-get"))
        .arg(format!("http://{addr}/"))
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn static_server_serves_and_never_escapes_its_root() {
    let base = std::env::temp_dir().join(format!("http-static-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let root = base.join("root");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(base.join("secret"), "TOP SECRET").unwrap();
    std::fs::write(root.join("index.txt"), "hello file\n").unwrap();
    std::fs::write(root.join("sub").join("<b>&x.html"), "<p>x</p>").unwrap();
    std::os::unix::fs::symlink(&base, root.join("out")).unwrap();
    std::os::unix::fs::symlink(base.join("secret"), root.join("secret-link")).unwrap();
    let (server, addr) = spawn_listening(
        "http-server",
        &["--addr", "127.0.0.1:0", "--root", root.to_str().unwrap()],
    );
    let mut s = connect(addr);
    // A file, with its type; HEAD; pipelined on one connection.
    s.write_all(
        b"GET /index.txt HTTP/1.1\r\nHost: x\r\n\r\nHEAD /index.txt HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .unwrap();
    // The two answers may arrive in one write (a pipelined batch is
    // answered with one writev): read until both are in.
    let mut data = Vec::new();
    let mut buf = [0u8; 1024];
    while !(data.ends_with(b"\r\n\r\n")
        && String::from_utf8_lossy(&data)
            .matches("HTTP/1.1 200")
            .count()
            == 2)
    {
        let n = std::io::Read::read(&mut s, &mut buf).unwrap();
        assert!(n > 0, "closed before both answers");
        data.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&data).into_owned();
    let (get, head) = text.split_at(text.rfind("HTTP/1.1 200").unwrap());
    assert!(get.contains("content-type: text/plain"), "{get}");
    assert!(get.ends_with("\r\n\r\nhello file\n"), "{get}");
    assert!(head.contains("content-length: 11"), "HEAD: {head}");
    // A listing, names escaped.
    s.write_all(b"GET /sub/ HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (_, body) = read_response(&mut s);
    let html = String::from_utf8(body).unwrap();
    assert!(
        html.contains("&lt;b&gt;&amp;x.html") && !html.contains("<b>&"),
        "{html}"
    );
    assert!(html.contains("%3Cb%3E%26x.html"), "{html}");
    // 404.
    s.write_all(b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert!(read_response(&mut s).0.starts_with("HTTP/1.1 404"));
    // Every escape refused.
    for path in [
        "/../secret",
        "/sub/../../secret",
        "/%2e%2e/secret",
        "/%2E%2E/secret",
        "/.%2e/secret",
        "/sub/%2e%2e/%2e%2e/secret",
        "/..%2fsecret",
        "/sub/..%2F..%2Fsecret",
        "/%2e%2e%5csecret",
        "/..\\secret",
        "/%00/../secret",
        "/out/secret",
        "/secret-link",
        "/%252e%252e/secret",
    ] {
        let (text, _) = send_and_read_all(
            addr,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        assert!(!text.contains("TOP SECRET"), "{path}: served the secret");
        assert!(!text.starts_with("HTTP/1.1 200"), "{path}: {text}");
    }
    sigint_and_wait(server);
    std::fs::remove_dir_all(&base).unwrap();
}
