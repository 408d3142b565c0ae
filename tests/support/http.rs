//! Helpers for the HTTP tests (`#[path = "support/http.rs"] mod http_support;`):
//! a server on a thread of its own, raw blocking clients, curl.

#![allow(dead_code)]

use runtime::http::http::{Request, Response};
use runtime::http::{Body, Server};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

/// Starts the server `make` builds on a thread of its own (with its own
/// runtime), listening on 127.0.0.1; returns the address. The thread lives
/// until the test process ends.
pub fn start(make: impl FnOnce() -> Server + Send + 'static) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        runtime::block_on(async move {
            let listener = runtime::net::TcpListener::bind("127.0.0.1:0")
                .await
                .unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let server = make();
            server.serve(listener).await.unwrap();
        })
    });
    rx.recv().unwrap()
}

/// A handler answering `"{method} {path_and_query} {body length}"`, the
/// body collected.
pub async fn echo(req: Request<Body>) -> Response<Body> {
    let line = format!(
        "{} {}",
        req.method(),
        req.uri().path_and_query().map_or("", |p| p.as_str())
    );
    match req.into_body().collect().await {
        Ok(b) => Response::new(Body::from(format!("{line} {}", b.len()))),
        Err(e) => Response::new(Body::from(format!("error {e}"))),
    }
}

/// A blocking client socket with a read timeout.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Sends `req` and reads until the server closes (or the read timeout).
pub fn send_and_read_all(addr: SocketAddr, req: &[u8]) -> (String, bool) {
    let mut s = connect(addr);
    s.write_all(req).unwrap();
    read_to_close(&mut s)
}

/// Reads until end of stream; the text and whether the server closed
/// (false when the read timed out).
pub fn read_to_close(s: &mut TcpStream) -> (String, bool) {
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&out).into_owned(), true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (String::from_utf8_lossy(&out).into_owned(), true)
            }
            Err(_) => return (String::from_utf8_lossy(&out).into_owned(), false),
        }
    }
}

/// The `Content-Length` of a response head, if it has one.
pub fn content_length(head: &str) -> Option<usize> {
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse().ok())?
    })
}

/// One response off a stream that may hold the next ones too (a byte at a
/// time past the head, so nothing of the next is consumed). Unlike
/// [`read_response`], bytes after the response are left unread.
pub fn read_response_of(s: &mut TcpStream) -> (String, Vec<u8>) {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).expect("read head");
        head.push(b[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let len = content_length(&head).expect("content-length");
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).expect("read body");
    (head, body)
}

/// Reads one response with a `content-length` body from `s`; returns the
/// head and the body.
pub fn read_response(s: &mut TcpStream) -> (String, Vec<u8>) {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end + 4]).into_owned();
            let len = content_length(&head).unwrap_or(0);
            while data.len() < end + 4 + len {
                let n = s.read(&mut buf).expect("read body");
                assert!(n > 0, "closed in the body");
                data.extend_from_slice(&buf[..n]);
            }
            let body = data[end + 4..end + 4 + len].to_vec();
            // Whatever follows belongs to the next response: not expected.
            assert_eq!(
                data.len(),
                end + 4 + len,
                "unexpected bytes after a response"
            );
            return (head, body);
        }
        let n = s.read(&mut buf).expect("read head");
        assert!(
            n > 0,
            "closed before a response: {:?}",
            String::from_utf8_lossy(&data)
        );
        data.extend_from_slice(&buf[..n]);
    }
}

/// Whether curl can run; with `CI` set a missing curl fails the test.
pub fn have_curl() -> bool {
    let ok = Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "curl is required under CI (.ci/run installs it)"
        );
        eprintln!("curl not found: skipping");
    }
    ok
}

/// Raises the soft descriptor limit to at least `n` (as far as the hard
/// limit allows); returns the limit in force.
pub fn raise_fd_limit(n: u64) -> u64 {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit write/read the struct we own.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl);
        if rl.rlim_cur < n {
            rl.rlim_cur = n.min(rl.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl);
        }
    }
    rl.rlim_cur
}

/// The byte at `i` of the deterministic test pattern.
pub fn pattern_byte(i: u64) -> u8 {
    (i.wrapping_mul(2654435761) >> 13) as u8
}
