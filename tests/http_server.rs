//! The HTTP server over raw sockets on 127.0.0.1: keep-alive, pipelining,
//! HEAD, 100-continue, the table of malformed and smuggling requests
//! (status and connection closed), every limit and timeout, many
//! concurrent connections, slow clients next to fast ones, shutdown.

#[path = "support/http.rs"]
mod http_support;

use http_support::*;
use runtime::http::http::{Response, StatusCode};
use runtime::http::{Body, Limits, Router, Server, Shutdown, Timeouts};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

fn echo_server() -> std::net::SocketAddr {
    start(|| Server::new().fallback(echo))
}

#[test]
fn keep_alive_and_pipelining_in_order() {
    let addr = echo_server();
    let mut s = connect(addr);
    // Three pipelined requests in one write, one with a body.
    s.write_all(
        b"GET /one HTTP/1.1\r\nHost: x\r\n\r\nPOST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /three?q=1 HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .unwrap();
    let mut all = Vec::new();
    while all
        .windows(b"/three?q=1 0".len())
        .all(|w| w != b"/three?q=1 0")
    {
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0);
        all.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8(all).unwrap();
    let one = text.find("GET /one 0").unwrap();
    let two = text.find("POST /two 5").unwrap();
    let three = text.find("GET /three?q=1 0").unwrap();
    assert!(one < two && two < three, "{text}");
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 3);
    assert!(text.contains("date: "));
    // The connection is still open for a fourth.
    s.write_all(b"GET /four HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (head, body) = read_response(&mut s);
    assert!(head.starts_with("HTTP/1.1 200"));
    assert_eq!(body, b"GET /four 0");
    // Connection: close is honoured.
    s.write_all(b"GET /five HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (text, closed) = read_to_close(&mut s);
    assert!(closed && text.contains("connection: close") && text.ends_with("GET /five 0"));
}

#[test]
fn http10_head_and_expect_continue() {
    let addr = echo_server();
    // HTTP/1.0 without keep-alive: answered and closed.
    let (text, closed) = send_and_read_all(addr, b"GET /a HTTP/1.0\r\n\r\n");
    assert!(
        closed && text.starts_with("HTTP/1.1 200") && text.ends_with("GET /a 0"),
        "{text}"
    );
    // HTTP/1.0 with keep-alive stays open.
    let mut s = connect(addr);
    s.write_all(b"GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .unwrap();
    let (head, _) = read_response(&mut s);
    assert!(head.contains("connection: keep-alive"), "{head}");
    // HEAD: the length, no body.
    s.write_all(b"HEAD /c HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).unwrap();
    let head = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(
        head.ends_with("\r\n\r\n") && head.contains("content-length: 9"),
        "{head}"
    );
    // Expect: 100-continue: the interim answer comes before the body is sent.
    let mut s = connect(addr);
    s.write_all(b"PUT /d HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        .unwrap();
    let n = s.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"HTTP/1.1 100 Continue\r\n\r\n");
    s.write_all(b"data").unwrap();
    let (_, body) = read_response(&mut s);
    assert_eq!(body, b"PUT /d 4");
}

#[test]
fn chunked_request_with_extensions_and_trailers() {
    let addr = start(|| {
        Server::new().fallback(|req: runtime::http::http::Request<Body>| async move {
            let mut body = req.into_body();
            let mut data = Vec::new();
            while let Some(piece) = body.chunk().await {
                data.extend_from_slice(&piece.unwrap());
            }
            let t = body.trailers().unwrap_or_default();
            let sum = t
                .get("x-sum")
                .map_or("-", |v| v.to_str().unwrap())
                .to_owned();
            Response::new(Body::from(format!(
                "{} {sum}",
                String::from_utf8(data).unwrap()
            )))
        })
    });
    let mut s = connect(addr);
    s.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 11\r\n\r\n")
        .unwrap();
    let (_, body) = read_response(&mut s);
    assert_eq!(body, b"hello world 11");
}

/// Every malformed or smuggling request: the status, and the connection
/// closed, so the request glued behind is never answered.
#[test]
fn malformed_and_smuggling_requests_are_refused_and_closed() {
    let addr = echo_server();
    let glued = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
    let cases: &[(&str, &str)] = &[
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400"),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\n", "400"),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", "400"),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\nhello!", "400"),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n", "400"),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5x\r\n\r\n", "400"),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", "501"),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", "400"),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", "400"),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n", "501"),
        ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "400"),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "400"),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", "400"),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n", "400"),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n", "400"),
        ("GET / HTTP/1.1\r\nHost : x\r\n\r\n", "400"),
        ("GET / HTTP/1.1\r\nHost: x\r\nBad\x01Name: y\r\n\r\n", "400"),
        ("GET / HTTP/1.1\r\nHost: x\r\nName: bad\x00value\r\n\r\n", "400"),
        ("GET / HTTP/1.1\r\nHost: x\r\nA: b\r\n folded\r\n\r\n", "400"),
        ("GET / HTTP/1.1\r\n\r\n", "400"),
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "400"),
        ("GET / HTTP/9.9\r\nHost: x\r\n\r\n", "505"),
        ("G\x01T / HTTP/1.1\r\nHost: x\r\n\r\n", "400"),
        ("GET / HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n\r\n", "417"),
    ];
    for (req, status) in cases {
        let (text, closed) = send_and_read_all(addr, format!("{req}{glued}").as_bytes());
        assert!(
            text.starts_with(&format!("HTTP/1.1 {status} ")),
            "{req:?}: got {text:?}"
        );
        assert!(closed, "{req:?}: connection left open");
        assert!(
            !text.contains("smuggled"),
            "{req:?}: the glued request was answered"
        );
        assert_eq!(text.matches("HTTP/1.1").count(), 1, "{req:?}: {text}");
    }
    // The server still serves everyone.
    let mut s = connect(addr);
    s.write_all(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut s).1, b"GET /ok 0");
}

#[test]
fn bare_lf_lenient_by_default_strict_on_demand() {
    let lenient = echo_server();
    let mut s = connect(lenient);
    s.write_all(b"GET /lf HTTP/1.1\nHost: x\n\n").unwrap();
    assert_eq!(read_response(&mut s).1, b"GET /lf 0");
    let strict = start(|| {
        Server::new().fallback(echo).limits(Limits {
            strict: true,
            ..Limits::default()
        })
    });
    let (text, closed) = send_and_read_all(strict, b"GET /lf HTTP/1.1\nHost: x\n\n");
    assert!(text.starts_with("HTTP/1.1 400") && closed, "{text}");
}

#[test]
fn size_limits() {
    let addr = start(|| {
        Server::new().fallback(echo).limits(Limits {
            max_head_size: 1024,
            max_headers: 8,
            max_uri_len: 256,
            max_body_size: 100,
            allowed_methods: vec![
                runtime::http::http::Method::GET,
                runtime::http::http::Method::POST,
            ],
            ..Limits::default()
        })
    });
    let long_uri = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "u".repeat(300));
    let big_head = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nA: {}\r\n\r\n",
        "h".repeat(1100)
    );
    let many = format!(
        "GET / HTTP/1.1\r\nHost: x\r\n{}\r\n",
        (0..10).map(|i| format!("H{i}: v\r\n")).collect::<String>()
    );
    let cases: Vec<(String, &str)> = vec![
        (long_uri, "414"),
        (big_head, "431"),
        (many, "431"),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n".into(), "413"),
        (
            format!("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n80\r\n{}\r\n0\r\n\r\n", "c".repeat(128)),
            "413",
        ),
        ("DELETE / HTTP/1.1\r\nHost: x\r\n\r\n".into(), "405"),
    ];
    for (req, status) in &cases {
        let (text, closed) = send_and_read_all(addr, req.as_bytes());
        assert!(
            text.starts_with(&format!("HTTP/1.1 {status} ")),
            "{status}: {text:?}"
        );
        assert!(closed, "{status}: left open");
        if *status == "405" {
            assert!(text.contains("allow: GET, POST"), "{text}");
        }
    }
    // At the limits exactly: served.
    let mut s = connect(addr);
    s.write_all(
        format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{}",
            "b".repeat(100)
        )
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(read_response(&mut s).1, b"POST / 100");
}

#[test]
fn timeouts_cut_slow_clients() {
    let addr = start(|| {
        Server::new().fallback(echo).timeouts(Timeouts {
            header_read: Some(Duration::from_millis(500)),
            body_read: Some(Duration::from_millis(300)),
            keep_alive: Some(Duration::from_millis(300)),
            write: Some(Duration::from_millis(300)),
        })
    });
    // A client trickling its head a byte every 100 ms is cut at 500 ms.
    let mut s = connect(addr);
    let t0 = Instant::now();
    let mut cut = false;
    for b in b"GET / HTTP/1.1\r\nHost: trickle\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n" {
        if s.write_all(&[*b]).is_err() {
            cut = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        if t0.elapsed() > Duration::from_secs(2) {
            break;
        }
    }
    let (text, closed) = read_to_close(&mut s);
    assert!(cut || closed, "trickler not cut");
    assert!(text.starts_with("HTTP/1.1 408"), "{text:?}");
    assert!(t0.elapsed() < Duration::from_secs(3));
    // A body that stops coming: 408 and closed.
    let mut s = connect(addr);
    s.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
        .unwrap();
    let (text, closed) = read_to_close(&mut s);
    assert!(text.starts_with("HTTP/1.1 408") && closed, "{text:?}");
    // An idle kept-alive connection is closed.
    let mut s = connect(addr);
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    read_response(&mut s);
    let t0 = Instant::now();
    let (text, closed) = read_to_close(&mut s);
    assert!(closed && text.is_empty());
    assert!(t0.elapsed() >= Duration::from_millis(250) && t0.elapsed() < Duration::from_secs(3));
    // A silent new connection is closed after the header timeout.
    let mut s = connect(addr);
    let (_, closed) = read_to_close(&mut s);
    assert!(closed);
}

#[test]
fn a_head_begun_on_a_kept_alive_connection_is_cut_by_the_header_timeout() {
    // The keep-alive wait (long) has its timer set; the first bytes of the
    // next head move the deadline earlier (the header timeout, short).
    let addr = start(|| {
        Server::new().fallback(echo).timeouts(Timeouts {
            header_read: Some(Duration::from_millis(300)),
            keep_alive: Some(Duration::from_secs(20)),
            ..Timeouts::default()
        })
    });
    let mut s = connect(addr);
    for _ in 0..3 {
        s.write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!(read_response(&mut s).1, b"GET /a 0");
    }
    std::thread::sleep(Duration::from_millis(100));
    let t0 = Instant::now();
    s.write_all(b"GET /b HTTP/1.1\r\nHo").unwrap();
    let (text, closed) = read_to_close(&mut s);
    assert!(closed && text.starts_with("HTTP/1.1 408"), "{text:?}");
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(5),
        "cut after {waited:?}"
    );
}

#[test]
fn keep_alive_wait_is_not_cut_by_the_body_read_timeout() {
    // The body-read timeout is for request bodies: a kept-alive connection
    // waiting for its next request follows the keep-alive timeout, also
    // after a request that had a body.
    let addr = start(|| {
        Server::new().fallback(echo).timeouts(Timeouts {
            header_read: Some(Duration::from_secs(5)),
            body_read: Some(Duration::from_millis(200)),
            keep_alive: Some(Duration::from_secs(5)),
            write: Some(Duration::from_secs(5)),
        })
    });
    let mut s = connect(addr);
    s.write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut s).1, b"GET /a 0");
    s.write_all(b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab")
        .unwrap();
    assert_eq!(read_response(&mut s).1, b"POST /b 2");
    // Three body-read timeouts later the connection still serves.
    std::thread::sleep(Duration::from_millis(600));
    s.write_all(b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut s).1, b"GET /c 0");
}

#[test]
fn write_timeout_cuts_a_client_that_does_not_read() {
    let addr = start(|| {
        Server::new()
            .route("/big", |_req| async {
                Response::new(Body::from(vec![b'x'; 32 << 20]))
            })
            .fallback(echo)
            .timeouts(Timeouts {
                write: Some(Duration::from_millis(300)),
                ..Timeouts::default()
            })
    });
    let mut s = connect(addr);
    s.write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let (text, closed) = read_to_close(&mut s);
    assert!(closed, "not closed");
    assert!(
        text.len() < 32 << 20,
        "the whole body was sent to a client that did not read"
    );
    // Others are served.
    let mut s = connect(addr);
    s.write_all(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut s).1, b"GET /x 0");
}

/// `Host` values (interned, up to a bound per thread and process, past it
/// copied): each request sees the value it sent, whether it repeats, is
/// new, or comes past the bound.
#[test]
fn each_request_sees_its_own_host_value() {
    let addr = start(|| {
        Server::new().fallback(|req: runtime::http::http::Request<Body>| async move {
            let host = req
                .headers()
                .get(runtime::http::http::header::HOST)
                .map(|v| v.as_bytes().to_vec())
                .unwrap_or_default();
            Response::new(Body::from(host))
        })
    });
    let mut s = connect(addr);
    let long = "x".repeat(200);
    for round in 0..2 {
        for i in 0..40 {
            let host = match i % 4 {
                0 => "example.com".to_string(),
                1 => format!("host{i}.test:{}", 8000 + i),
                2 => long.clone(),
                _ => format!("h{round}-{i}"),
            };
            s.write_all(format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
                .unwrap();
            let (head, body) = read_response_of(&mut s);
            assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            assert_eq!(
                String::from_utf8(body).unwrap(),
                host,
                "round {round}, request {i}"
            );
        }
    }
}

/// Connections that wait with half a request buffered while others are
/// served whole (the thread's spare read and write vectors change hands
/// only empty): every answer is its own request's, path and body length.
#[test]
fn half_requests_wait_while_other_connections_are_served() {
    let addr = echo_server();
    let n = 12;
    let mut conns: Vec<_> = (0..n).map(|_| connect(addr)).collect();
    let req = |i: usize| {
        let body = vec![b'a' + (i % 26) as u8; 100 + i];
        let mut r = format!(
            "POST /c{i} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        r.extend_from_slice(&body);
        r
    };
    for round in 0..3 {
        // Even connections: a whole request and then the first part of the
        // next (cut in the head, or in the body); odd ones: a whole request.
        let mut rest = Vec::new();
        for (i, s) in conns.iter_mut().enumerate() {
            let r = req(i);
            if i % 2 == 0 {
                let cut = if round % 2 == 0 { 10 } else { r.len() - 20 };
                let mut w = r.clone();
                w.extend_from_slice(&r[..cut]);
                s.write_all(&w).unwrap();
                rest.push((i, r[cut..].to_vec()));
            } else {
                s.write_all(&r).unwrap();
            }
        }
        for (i, s) in conns.iter_mut().enumerate() {
            let (head, body) = read_response_of(s);
            assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            assert_eq!(
                body,
                format!("POST /c{i} {}", 100 + i).as_bytes(),
                "round {round}"
            );
        }
        // The halves are finished last first.
        for (i, tail) in rest.iter().rev() {
            conns[*i].write_all(tail).unwrap();
            let (head, body) = read_response_of(&mut conns[*i]);
            assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            assert_eq!(
                body,
                format!("POST /c{i} {}", 100 + i).as_bytes(),
                "round {round}"
            );
        }
    }
}

/// A 15 KiB body naming its request: small enough to leave next to its
/// head in one piece of output.
fn numbered_body(path: &str) -> Vec<u8> {
    path.as_bytes()
        .iter()
        .copied()
        .cycle()
        .take(15 * 1024)
        .collect()
}

fn numbered_server() -> std::net::SocketAddr {
    start(|| {
        Server::new()
            .fallback(|req: runtime::http::http::Request<Body>| async move {
                Response::new(Body::from(numbered_body(req.uri().path())))
            })
            .timeouts(Timeouts {
                write: Some(Duration::from_millis(300)),
                ..Timeouts::default()
            })
    })
}

#[test]
fn pipelined_answers_to_a_late_reader_arrive_whole_and_in_order() {
    // 1000 pipelined requests with 15 KiB answers (15 MB): far more than
    // the socket takes at once, so writes are partial and the rest waits.
    let addr = numbered_server();
    let mut s = connect(addr);
    let mut reqs = Vec::new();
    for i in 0..1000 {
        reqs.extend_from_slice(format!("GET /n{i:03} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
    }
    s.write_all(&reqs).unwrap();
    // Not read for a while (less than the write timeout).
    std::thread::sleep(Duration::from_millis(150));
    for i in 0..1000 {
        let (head, body) = read_response_of(&mut s);
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(
            body == numbered_body(&format!("/n{i:03}")),
            "answer {i} is not its request's"
        );
    }
    // The connection is still good.
    s.write_all(b"GET /last HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut s).1, numbered_body("/last"));
}

#[test]
fn write_timeout_cuts_a_pipelining_client_that_does_not_read() {
    let addr = numbered_server();
    let mut s = connect(addr);
    let mut reqs = Vec::new();
    for i in 0..2000 {
        reqs.extend_from_slice(format!("GET /n{i:04} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
    }
    s.write_all(&reqs).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let (text, closed) = read_to_close(&mut s);
    assert!(closed, "not closed");
    assert!(
        text.len() < 2000 * 15 * 1024,
        "every answer was sent to a client that did not read"
    );
    let mut s = connect(addr);
    s.write_all(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut s).1, numbered_body("/x"));
}

#[test]
fn handlers_of_different_kinds_alternate_on_one_connection() {
    // Each connection reuses the cell of its last handler future for the
    // next of the same type: closures with different futures, one that
    // waits (its own task), and a hand-written handler, in turn.
    struct Plain;
    impl runtime::http::Handler for Plain {
        fn call(&self, _req: runtime::http::http::Request<Body>) -> runtime::http::HandlerFuture {
            Box::pin(async { Response::new(Body::from("plain")) })
        }
    }
    let addr = start(|| {
        Server::new()
            .route("/a", |_req| async { Response::new(Body::from("a")) })
            .route("/b", |req: runtime::http::http::Request<Body>| {
                let n = req.uri().path().len();
                async move { Response::new(Body::from(format!("b{n}"))) }
            })
            .route("/wait", |_req| async {
                runtime::time::sleep(Duration::from_millis(5)).await;
                Response::new(Body::from("waited"))
            })
            .route("/plain", Plain)
    });
    let mut s = connect(addr);
    for _ in 0..3 {
        for (path, want) in [
            ("/a", &b"a"[..]),
            ("/a", b"a"),
            ("/b", b"b2"),
            ("/wait", b"waited"),
            ("/a", b"a"),
            ("/plain", b"plain"),
            ("/plain", b"plain"),
            ("/b", b"b2"),
        ] {
            s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
                .unwrap();
            assert_eq!(read_response(&mut s).1, want, "{path}");
        }
    }
}

#[test]
fn max_connections_waits_then_serves() {
    let addr = start(|| {
        Server::new().fallback(echo).limits(Limits {
            max_connections: 2,
            ..Limits::default()
        })
    });
    let mut a = connect(addr);
    let mut b = connect(addr);
    for s in [&mut a, &mut b] {
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        read_response(s);
    }
    let mut c = connect(addr);
    c.write_all(b"GET /third HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    c.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 64];
    assert!(
        c.read(&mut buf).is_err(),
        "a third connection was served over the limit"
    );
    drop(a);
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(read_response(&mut c).1, b"GET /third 0");
}

#[test]
fn routes_fallback_and_virtual_hosts() {
    let addr = start(|| {
        let text = |t: &'static str| move |_req| async move { Response::new(Body::from(t)) };
        let docs = Router::new()
            .alias("manual.example.org")
            .fallback(text("docs"));
        Server::new()
            .route("/exact", text("exact"))
            .virtual_host("*.docs.example.com", docs)
    });
    let mut s = connect(addr);
    for (host, path, want) in [
        ("x", "/exact", "exact"),
        ("a.docs.example.com:80", "/exact", "docs"),
        ("manual.example.org", "/anything", "docs"),
    ] {
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
            .unwrap();
        let (_, body) = read_response(&mut s);
        assert_eq!(body, want.as_bytes(), "{host}{path}");
    }
    s.write_all(b"GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (head, _) = read_response(&mut s);
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
}

#[test]
fn handler_panic_is_500_and_server_lives() {
    let addr = start(|| {
        Server::new()
            .route("/panic", |_req| async { panic!("handler bug") })
            .route("/later", |_req| async {
                // Waits first (so it goes on in a task of its own), then
                // panics.
                runtime::time::sleep(Duration::from_millis(20)).await;
                panic!("handler bug after a wait")
            })
            .route("/wait", |_req| async {
                runtime::time::sleep(Duration::from_millis(20)).await;
                Response::new(Body::from("waited"))
            })
            .fallback(echo)
    });
    for path in ["/panic", "/later"] {
        let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
        let (text, closed) = send_and_read_all(addr, req.as_bytes());
        assert!(text.starts_with("HTTP/1.1 500") && closed, "{path}: {text}");
    }
    // A handler that waits answers on a kept-alive connection, in order
    // with the next request.
    let mut s = connect(addr);
    s.write_all(b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (text, closed) = read_to_close(&mut s);
    assert!(closed, "{text}");
    let waited = text.find("\r\n\r\nwaited").expect("first answer");
    let next = text.find("GET /next 0").expect("second answer");
    assert!(
        waited < next && text.matches("HTTP/1.1 200 OK").count() == 2,
        "{text}"
    );
    let mut s = connect(addr);
    s.write_all(b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut s).1, b"GET /ok 0");
}

#[test]
fn streamed_response_with_backpressure() {
    let addr = start(|| {
        Server::new().fallback(|_req| async {
            let (mut tx, body) = Body::channel(16 * 1024);
            runtime::spawn(async move {
                for i in 0..200u32 {
                    if tx.send(vec![(i % 251) as u8; 10_000]).await.is_err() {
                        return;
                    }
                }
            });
            Response::new(body)
        })
    });
    let mut s = connect(addr);
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    // Read slowly at first: the server must not buffer everything.
    std::thread::sleep(Duration::from_millis(200));
    let mut data = Vec::new();
    let mut buf = [0u8; 65536];
    while !data.ends_with(b"0\r\n\r\n") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0);
        data.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&data);
    assert!(text.contains("transfer-encoding: chunked"));
    // Decode and check.
    let start = data.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let mut dec = runtime::http::h1::ChunkedDecoder::new();
    let mut body = Vec::new();
    let mut rest = &data[start..];
    loop {
        let (used, what) = dec.decode(rest).unwrap();
        rest = &rest[used..];
        match what {
            runtime::http::h1::Decoded::Data(d) => body.extend_from_slice(d),
            runtime::http::h1::Decoded::Done => break,
            runtime::http::h1::Decoded::NeedMore => panic!("truncated"),
        }
    }
    assert_eq!(body.len(), 2_000_000);
    assert!(body
        .chunks(10_000)
        .enumerate()
        .all(|(i, c)| c.iter().all(|&b| b == (i % 251) as u8)));
}

#[test]
fn slow_clients_never_block_fast_ones() {
    let addr = echo_server();
    // 50 clients that sent half a head and stall.
    let slow: Vec<_> = (0..50)
        .map(|_| {
            let mut s = connect(addr);
            s.write_all(b"GET /slow HTTP/1.1\r\nHo").unwrap();
            s
        })
        .collect();
    // A fast client gets 100 answers quickly.
    let mut s = connect(addr);
    let t0 = Instant::now();
    for i in 0..100 {
        s.write_all(format!("GET /{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .unwrap();
        assert_eq!(read_response(&mut s).1, format!("GET /{i} 0").into_bytes());
    }
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    drop(slow);
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

#[test]
fn two_thousand_concurrent_keep_alive_connections() {
    const N: usize = 2000;
    if only_select_allowed("two_thousand_concurrent_keep_alive_connections") {
        return;
    }
    let limit = raise_fd_limit(3 * N as u64 + 200);
    assert!(
        limit >= 2 * N as u64 + 100,
        "descriptor limit too low: {limit}"
    );
    let addr = echo_server();
    runtime::block_on(async move {
        let t0 = Instant::now();
        let mut conns = Vec::with_capacity(N);
        for _ in 0..N {
            conns.push(runtime::net::TcpStream::connect(addr).await.unwrap());
        }
        // Every connection sends two requests on the same socket.
        let mut tasks = Vec::new();
        for (i, mut c) in conns.into_iter().enumerate() {
            tasks.push(runtime::spawn(async move {
                for round in 0..2 {
                    let req = format!("GET /{i}/{round} HTTP/1.1\r\nHost: x\r\n\r\n");
                    c.write_all(req.as_bytes()).await.unwrap();
                    let want = format!("GET /{i}/{round} 0");
                    let mut got = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !got.ends_with(want.as_bytes()) {
                        let n = c.read(&mut buf).await.unwrap();
                        assert!(n > 0, "connection {i} closed");
                        got.extend_from_slice(&buf[..n]);
                    }
                }
                c
            }));
        }
        let mut open = Vec::new();
        for t in tasks {
            open.push(
                runtime::time::timeout(Duration::from_secs(60), t)
                    .await
                    .unwrap()
                    .unwrap(),
            );
        }
        assert_eq!(open.len(), N);
        assert!(t0.elapsed() < Duration::from_secs(60));
    });
}

#[test]
fn graceful_shutdown_finishes_in_flight_requests() {
    let shutdown = Shutdown::new();
    let sd = shutdown.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let server_thread = std::thread::spawn(move || {
        runtime::block_on(async move {
            let listener = runtime::net::TcpListener::bind("127.0.0.1:0")
                .await
                .unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            let server = Server::new()
                .route("/slow", |_req| async {
                    runtime::time::sleep(Duration::from_millis(400)).await;
                    Response::new(Body::from("finished"))
                })
                .fallback(echo)
                .with_shutdown(&sd, Duration::from_secs(5));
            server.serve(listener).await.unwrap();
            server.connections()
        })
    });
    let addr = rx.recv().unwrap();
    let mut idle = connect(addr);
    idle.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    read_response(&mut idle);
    let mut busy = connect(addr);
    busy.write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let t0 = Instant::now();
    shutdown.trigger();
    // The request in flight is answered, with Connection: close.
    let (text, closed) = read_to_close(&mut busy);
    assert!(
        text.ends_with("finished") && text.contains("connection: close") && closed,
        "{text}"
    );
    // The idle connection was closed.
    let (text, closed) = read_to_close(&mut idle);
    assert!(closed && text.is_empty());
    assert_eq!(server_thread.join().unwrap(), 0);
    assert!(t0.elapsed() < Duration::from_secs(3));
    // No longer accepting.
    assert!(std::net::TcpStream::connect(addr).is_err());
    let _ = StatusCode::OK;
}
