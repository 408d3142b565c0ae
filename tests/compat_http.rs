//! The evhttp shape of `runtime::compat` (`Http`, `HttpRequest`) over real
//! sockets on 127.0.0.1, with real clients (raw `TcpStream`s and curl):
//! routing by exact path and the generic callback, 404 without one, bodies
//! read from the input buffer, output headers, replies streamed with
//! start/chunk/end, replies sent later from a timer, keep-alive, limits,
//! virtual hosts, failure paths (panics, requests dropped unanswered,
//! clients leaving a stream), and the server released with its base.

#[path = "support/example.rs"]
mod example;
#[path = "support/http.rs"]
mod http_support;

use http_support::{connect, have_curl, read_response, read_to_close, send_and_read_all};
use runtime::compat::{
    Event, EventBase, Http, HttpClientRequest, HttpConnection, HttpRequest, LoopExit, EV_PERSIST,
    EV_READ, EV_TIMEOUT,
};
use runtime::http::http::Method;
use runtime::io::Buffer;
use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::rc::Rc;
use std::sync::RwLock;
use std::time::Duration;

/// Tests read-lock it; the one counting this process's descriptors
/// write-locks it, so no other test opens or closes any meanwhile.
static FDS: RwLock<()> = RwLock::new(());

fn shared() -> std::sync::RwLockReadGuard<'static, ()> {
    FDS.read().unwrap_or_else(|e| e.into_inner())
}

/// Runs `base` until `client` (on a thread of its own) returns; fails if
/// it takes more than 30 s.
fn run_client<T: Send + 'static>(
    base: &EventBase,
    client: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = UnixStream::pair().unwrap();
    let t = std::thread::spawn(move || {
        let r = client();
        let _ = (&tx).write_all(b"x");
        r
    });
    let b = base.handle();
    let timed_out = Rc::new(Cell::new(false));
    let to = timed_out.clone();
    let ev = Event::new(base, rx.as_raw_fd(), EV_READ, move |_, what| {
        to.set(what.contains(EV_TIMEOUT));
        b.loopbreak().unwrap();
    })
    .unwrap();
    ev.add(Some(Duration::from_secs(30))).unwrap();
    base.dispatch().unwrap();
    ev.free();
    assert!(!timed_out.get(), "the client did not finish in 30 s");
    t.join().unwrap()
}

fn bind(http: &Http) -> SocketAddr {
    http.bind_socket_with_handle("127.0.0.1", 0)
        .unwrap()
        .local_addr()
        .unwrap()
}

fn buffer(data: &[u8]) -> Buffer {
    let mut b = Buffer::new();
    b.add(data).unwrap();
    b
}

/// Replies `200` with `text`.
fn reply(req: &HttpRequest, text: &str) {
    req.send_reply(200, "OK", Some(&mut buffer(text.as_bytes())))
        .unwrap();
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// One request on `s`, its head and body (`content-length` framed).
fn get(s: &mut std::net::TcpStream, path: &str, extra: &str) -> (String, String) {
    write!(s, "GET {path} HTTP/1.1\r\nHost: test\r\n{extra}\r\n").unwrap();
    let (head, body) = read_response(s);
    (head, String::from_utf8(body).unwrap())
}

/// Decodes a chunked body: the chunks, in order.
fn dechunk(mut data: &[u8]) -> Vec<Vec<u8>> {
    let mut chunks = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("size line");
        let size_text = std::str::from_utf8(&data[..line_end]).unwrap();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
        data = &data[line_end + 2..];
        if size == 0 {
            assert_eq!(data, b"\r\n", "trailer section");
            return chunks;
        }
        chunks.push(data[..size].to_vec());
        assert_eq!(&data[size..size + 2], b"\r\n");
        data = &data[size + 2..];
    }
}

#[test]
fn routes_exact_paths_then_the_generic_callback_else_404() {
    let _g = shared();
    let base = EventBase::new().unwrap();
    let http = Http::new(&base).unwrap();
    http.set_cb("/a", |req| reply(req, "a")).unwrap();
    http.set_cb("/b", |req| reply(req, "b")).unwrap();
    // Matched against the decoded path, as evhttp.
    http.set_cb("/with space", |req| reply(req, "space"))
        .unwrap();
    let dup = http.set_cb("/a", |req| reply(req, "again")).unwrap_err();
    assert_eq!(dup.kind(), std::io::ErrorKind::AlreadyExists);
    let addr = bind(&http);

    // No generic callback yet: 404, evhttp's page, connection closed.
    let (text, closed) = run_client(&base, move || {
        let mut s = connect(addr);
        let a = get(&mut s, "/a?x=1", "");
        let b = get(&mut s, "/b", "");
        let sp = get(&mut s, "/with%20space", "");
        s.write_all(b"GET /nothing?a&b HTTP/1.1\r\nHost: test\r\n\r\n")
            .unwrap();
        let rest = read_to_close(&mut s);
        assert_eq!(
            (a.1.as_str(), b.1.as_str(), sp.1.as_str()),
            ("a", "b", "space")
        );
        assert!(a.0.starts_with("HTTP/1.1 200 OK\r\n"), "{}", a.0);
        rest
    });
    assert!(closed, "404 closes the connection, as evhttp_send_error");
    assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"), "{text}");
    assert!(
        text.contains("<p>The requested URL /nothing?a&amp;b was not found on this server.</p>"),
        "{text}"
    );
    assert_eq!(header(&text, "content-type"), Some("text/html"));

    // Now a generic callback; and /b removed falls to it.
    http.set_gencb(|req| reply(req, &format!("gen {}", req.uri())))
        .unwrap();
    http.del_cb("/b").unwrap();
    assert_eq!(
        http.del_cb("/b").unwrap_err().kind(),
        std::io::ErrorKind::NotFound
    );
    let got = run_client(&base, move || {
        let mut s = connect(addr);
        let mut out = Vec::new();
        for p in ["/a", "/b", "/c?q=1", "/a/"] {
            out.push(get(&mut s, p, "").1);
        }
        out
    });
    assert_eq!(got, ["a", "gen /b", "gen /c?q=1", "gen /a/"]);

    // Without the generic callback, 404 again.
    http.unset_gencb();
    let (text, _) = run_client(&base, move || {
        send_and_read_all(addr, b"GET /c HTTP/1.1\r\nHost: t\r\n\r\n")
    });
    assert!(text.starts_with("HTTP/1.1 404 "), "{text}");
}

#[test]
fn post_body_from_the_input_buffer_and_headers_both_ways() {
    let _g = shared();
    let base = EventBase::new().unwrap();
    let http = Http::new(&base).unwrap();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s2 = seen.clone();
    http.set_cb("/echo", move |req| {
        let mut body = Vec::new();
        {
            let mut input = req.input_buffer();
            let mut piece = [0u8; 7];
            // Drained as the C sample does, a few bytes at a time.
            loop {
                let n = input.remove(&mut piece).unwrap();
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&piece[..n]);
            }
            assert!(input.is_empty());
        }
        let tag = req.input_headers().find("x-test").map(str::to_owned);
        s2.borrow_mut().push((
            req.command().clone(),
            req.uri().to_owned(),
            req.decoded_uri(),
            req.host(),
            req.peer().map(|p| p.ip().to_string()),
            tag,
        ));
        {
            let mut out = req.output_headers();
            out.add("X-Reply", "yes").unwrap();
            out.add("X-Reply", "twice").unwrap();
            assert!(out.add("X-Bad", "a\r\nInjected: 1").is_err());
        }
        req.output_buffer().add(b"got ").unwrap();
        let mut rest = buffer(&body);
        req.send_reply(200, "Fine Thanks", Some(&mut rest)).unwrap();
        assert!(rest.is_empty(), "send_reply drains the buffer");
        assert!(req.is_done());
        assert_eq!(req.response_code(), Some(200));
        assert!(req.send_reply(200, None, None).is_err(), "answered twice");
    })
    .unwrap();
    http.set_cb("/typed", |req| {
        req.output_headers()
            .add("Content-Type", "text/plain")
            .unwrap();
        reply(req, "plain");
    })
    .unwrap();
    let addr = bind(&http);

    let (raw, chunked_upload, typed, head) = run_client(&base, move || {
        let mut s = connect(addr);
        s.write_all(
            b"POST /echo?a=b+c HTTP/1.1\r\nHost: example.org:8080\r\nX-Test: one\r\nContent-Length: 11\r\n\r\nhello world",
        )
        .unwrap();
        let raw = read_response(&mut s);
        // A chunked upload: the callback sees the whole body at once.
        s.write_all(
            b"POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n there\r\n0\r\n\r\n",
        )
        .unwrap();
        let chunked = read_response(&mut s);
        let typed = get(&mut s, "/typed", "");
        s.write_all(b"HEAD /echo HTTP/1.1\r\nHost: h\r\n\r\n")
            .unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.ends_with(b"\r\n\r\n") {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0);
            head.extend_from_slice(&buf[..n]);
        }
        (raw, chunked, typed, String::from_utf8(head).unwrap())
    });
    let (h, body) = raw;
    assert!(h.starts_with("HTTP/1.1 200 Fine Thanks\r\n"), "{h}");
    assert_eq!(body, b"got hello world");
    assert!(h.contains("x-reply: yes\r\nx-reply: twice\r\n"), "{h}");
    assert!(!h.to_ascii_lowercase().contains("injected"));
    // evhttp's default content type for a body without one.
    assert_eq!(
        header(&h, "content-type"),
        Some("text/html; charset=ISO-8859-1")
    );
    assert_eq!(chunked_upload.1, b"got hello there");
    assert_eq!(typed.1, "plain");
    assert_eq!(header(&typed.0, "content-type"), Some("text/plain"));
    // HEAD: the length of what GET would send, no body.
    assert!(head.starts_with("HTTP/1.1 200 Fine Thanks\r\n"), "{head}");
    assert_eq!(header(&head, "content-length"), Some("4"));
    let seen = seen.borrow();
    assert_eq!(seen.len(), 3);
    let (m, uri, decoded, host, peer, tag) = &seen[0];
    assert_eq!(*m, Method::POST);
    assert_eq!(uri, "/echo?a=b+c");
    assert_eq!(decoded, "/echo?a=b c");
    assert_eq!(host.as_deref(), Some("example.org"));
    assert_eq!(peer.as_deref(), Some("127.0.0.1"));
    assert_eq!(tag.as_deref(), Some("one"));
    assert_eq!(seen[2].0, Method::HEAD);
}

#[test]
fn curl_posts_and_reuses_one_connection() {
    let _g = shared();
    if !have_curl() {
        return;
    }
    let base = EventBase::new().unwrap();
    let http = Http::new(&base).unwrap();
    let peers = Rc::new(RefCell::new(Vec::new()));
    let p2 = peers.clone();
    http.set_gencb(move |req| {
        p2.borrow_mut().push(req.peer().unwrap());
        let n = req.input_buffer().len();
        reply(req, &format!("{} {} {n}\n", req.command(), req.uri()));
    })
    .unwrap();
    let addr = bind(&http);
    let out = run_client(&base, move || {
        let data = "x".repeat(100_000);
        Command::new("curl")
            .args(["-sS", "--max-time", "20"])
            .arg(format!("http://{addr}/one"))
            .arg(format!("http://{addr}/two"))
            .args(["--data-binary", &data])
            .arg(format!("http://{addr}/three"))
            .output()
            .unwrap()
    });
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    // curl sends the data to every URL given after it... and before: one
    // --data applies to all of them, each a POST.
    assert_eq!(
        text,
        "POST /one 100000\nPOST /two 100000\nPOST /three 100000\n"
    );
    let peers = peers.borrow();
    assert_eq!(peers.len(), 3);
    assert!(
        peers.iter().all(|p| *p == peers[0]),
        "one keep-alive connection: {peers:?}"
    );
}

#[test]
fn streamed_reply_start_chunk_end_from_a_timer() {
    let _g = shared();
    let base = EventBase::new().unwrap();
    let http = Http::new(&base).unwrap();
    let bh = base.handle();
    http.set_cb("/stream", move |req| {
        req.output_headers()
            .add("Content-Type", "text/plain")
            .unwrap();
        req.send_reply_start(200, "Streaming").unwrap();
        assert!(req.send_reply(200, None, None).is_err());
        // One chunk per tick, from a timer's callback, as a libevent
        // program would.
        let req = req.clone();
        let n = Cell::new(0);
        let ev = Event::new_with_self(&bh, -1, EV_PERSIST, move |ev, _, _| {
            let i = n.get();
            n.set(i + 1);
            if i < 5 {
                req.send_reply_chunk(&mut buffer(format!("chunk {i};").as_bytes()))
                    .unwrap();
            } else {
                req.send_reply_end().unwrap();
                assert!(req.send_reply_chunk(&mut buffer(b"late")).is_err());
                ev.free();
            }
        })
        .unwrap();
        ev.add(Some(Duration::from_millis(5))).unwrap();
    })
    .unwrap();
    // A stated length: the stream is sent length-delimited, not chunked.
    http.set_cb("/sized", |req| {
        req.output_headers().add("Content-Length", "10").unwrap();
        req.send_reply_start(200, None).unwrap();
        req.send_reply_chunk(&mut buffer(b"01234")).unwrap();
        req.send_reply_chunk(&mut buffer(b"56789")).unwrap();
        req.send_reply_end().unwrap();
    })
    .unwrap();
    let addr = bind(&http);
    let expected: String = (0..5).map(|i| format!("chunk {i};")).collect();

    let (raw, sized, old) = run_client(&base, move || {
        let mut s = connect(addr);
        s.write_all(b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        while !data.ends_with(b"0\r\n\r\n") {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "closed mid-stream");
            data.extend_from_slice(&buf[..n]);
        }
        // The same connection serves the next request.
        let sized = get(&mut s, "/sized", "");
        // HTTP/1.0: the stream ends with the connection.
        let old = send_and_read_all(addr, b"GET /stream HTTP/1.0\r\n\r\n");
        (data, sized, old)
    });
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..end + 4]).into_owned();
    assert!(head.starts_with("HTTP/1.1 200 Streaming\r\n"), "{head}");
    assert_eq!(header(&head, "transfer-encoding"), Some("chunked"));
    assert_eq!(header(&head, "content-type"), Some("text/plain"));
    let chunks = dechunk(&raw[end + 4..]);
    // Each send_reply_chunk became one chunk on the wire.
    let want: Vec<Vec<u8>> = (0..5).map(|i| format!("chunk {i};").into_bytes()).collect();
    assert_eq!(chunks, want);
    assert_eq!(header(&sized.0, "content-length"), Some("10"));
    assert!(header(&sized.0, "transfer-encoding").is_none());
    assert_eq!(sized.1, "0123456789");
    let (old_text, closed) = old;
    assert!(closed);
    assert!(old_text.ends_with(&expected), "{old_text}");
    assert!(header(&old_text, "transfer-encoding").is_none());

    if have_curl() {
        let url = format!("http://{addr}/stream");
        let (whole, raw) = run_client(&base, move || {
            let whole = Command::new("curl")
                .args(["-sS", "--max-time", "20", &url])
                .output()
                .unwrap();
            let raw = Command::new("curl")
                .args(["-sS", "--raw", "--max-time", "20", &url])
                .output()
                .unwrap();
            (whole, raw)
        });
        assert!(whole.status.success() && raw.status.success());
        assert_eq!(String::from_utf8(whole.stdout).unwrap(), expected);
        assert_eq!(dechunk(&raw.stdout), want);
    }
}

#[test]
fn a_reply_sent_later_from_another_callback() {
    let _g = shared();
    let base = EventBase::new().unwrap();
    let http = Http::new(&base).unwrap();
    let bh = base.handle();
    // /timer: answered 20 ms later by a timer.
    http.set_cb("/timer", move |req| {
        let req = req.clone();
        bh.once(
            -1,
            EV_TIMEOUT,
            Some(Duration::from_millis(20)),
            move |_, _| {
                reply(&req, "from the timer");
            },
        )
        .unwrap();
    })
    .unwrap();
    // /park waits until a /release request comes (on another connection).
    let parked: Rc<RefCell<Option<HttpRequest>>> = Rc::new(RefCell::new(None));
    let release_first = Rc::new(Cell::new(false));
    let (p1, r1) = (parked.clone(), release_first.clone());
    http.set_cb("/park", move |req| {
        if r1.get() {
            reply(req, "released");
        } else {
            *p1.borrow_mut() = Some(req.clone());
        }
    })
    .unwrap();
    let (p2, r2) = (parked.clone(), release_first.clone());
    http.set_cb("/release", move |req| {
        match p2.borrow_mut().take() {
            Some(parked) => reply(&parked, "released"),
            None => r2.set(true),
        }
        reply(req, "ok");
    })
    .unwrap();
    let addr = bind(&http);
    let got = run_client(&base, move || {
        let mut slow = connect(addr);
        slow.write_all(b"GET /park HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        let mut fast = connect(addr);
        // Another connection is served while /park waits.
        let rel = get(&mut fast, "/release", "").1;
        let parked = read_response(&mut slow).1;
        // And the parked connection keeps serving.
        let timer = get(&mut slow, "/timer", "").1;
        (rel, String::from_utf8(parked).unwrap(), timer)
    });
    assert_eq!(got.0, "ok");
    assert_eq!(got.1, "released");
    assert_eq!(got.2, "from the timer");
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let _g = shared();
    let base = EventBase::new().unwrap();
    let http = Http::new(&base).unwrap();
    let bh = base.handle();
    // The first answers late: the second must still come after it.
    http.set_gencb(move |req| {
        let req = req.clone();
        let delay = if req.uri() == "/1" { 30 } else { 0 };
        bh.once(
            -1,
            EV_TIMEOUT,
            Some(Duration::from_millis(delay)),
            move |_, _| {
                reply(&req, req.uri());
            },
        )
        .unwrap();
    })
    .unwrap();
    let addr = bind(&http);
    let got = run_client(&base, move || {
        let mut s = connect(addr);
        s.write_all(b"GET /1 HTTP/1.1\r\nHost: t\r\n\r\nGET /2 HTTP/1.1\r\nHost: t\r\n\r\nGET /3 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .unwrap();
        read_to_close(&mut s)
    });
    let (text, closed) = got;
    assert!(closed);
    let bodies: Vec<&str> = text
        .split("\r\n\r\n")
        .skip(1)
        .map(|part| part.split("HTTP/1.1").next().unwrap())
        .collect();
    assert_eq!(bodies, ["/1", "/2", "/3"], "{text}");
}

#[test]
fn limits_answer_413_431_405_without_calling_back() {
    let _g = shared();
    let base = EventBase::new().unwrap();
    let http = Http::new(&base).unwrap();
    let calls = Rc::new(Cell::new(0));
    let c = calls.clone();
    http.set_gencb(move |req| {
        c.set(c.get() + 1);
        reply(req, "ok");
    })
    .unwrap();
    http.set_max_body_size(100).unwrap();
    http.set_max_headers_size(512).unwrap();
    http.set_allowed_methods(&[Method::GET, Method::POST])
        .unwrap();
    let addr = bind(&http);
    let big = "y".repeat(1000);
    let answers = run_client(&base, move || {
        let mut out = Vec::new();
        // Within the limits.
        let mut body_ok =
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\nConnection: close\r\n\r\n"
                .to_vec();
        body_ok.extend_from_slice(&[b'z'; 100]);
        out.push(send_and_read_all(addr, &body_ok));
        let mut too_long = b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n".to_vec();
        too_long.extend_from_slice(&[b'z'; 101]);
        out.push(send_and_read_all(addr, &too_long));
        let mut chunked =
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for _ in 0..3 {
            chunked.extend_from_slice(b"40\r\n");
            chunked.extend_from_slice(&[b'z'; 64]);
            chunked.extend_from_slice(b"\r\n");
        }
        chunked.extend_from_slice(b"0\r\n\r\n");
        out.push(send_and_read_all(addr, &chunked));
        let head = format!("GET / HTTP/1.1\r\nHost: t\r\nX-Big: {big}\r\n\r\n");
        out.push(send_and_read_all(addr, head.as_bytes()));
        out.push(send_and_read_all(
            addr,
            b"DELETE / HTTP/1.1\r\nHost: t\r\n\r\n",
        ));
        out
    });
    let status = |t: &str| t.split(' ').nth(1).unwrap_or("").to_owned();
    assert_eq!(status(&answers[0].0), "200", "{}", answers[0].0);
    for (i, want) in [(1, "413"), (2, "413"), (3, "431"), (4, "405")] {
        let (text, closed) = &answers[i];
        assert_eq!(status(text), want, "{text}");
        assert!(closed, "the connection is closed after {want}");
    }
    assert_eq!(header(&answers[4].0, "allow"), Some("GET, POST"));
    assert_eq!(calls.get(), 1, "refused requests never reach a callback");
}

#[test]
fn virtual_hosts_and_aliases() {
    let _g = shared();
    let base = EventBase::new().unwrap();
    let http = Http::new(&base).unwrap();
    http.set_gencb(|req| reply(req, "root")).unwrap();
    let docs = Http::new(&base).unwrap();
    docs.set_cb("/", |req| reply(req, "docs")).unwrap();
    docs.add_server_alias("docs.example.ORG").unwrap();
    http.add_virtual_host("*.Example.com", &docs).unwrap();
    let api = Http::new(&base).unwrap();
    api.set_gencb(|req| reply(req, "api")).unwrap();
    // Nested: a virtual host of the virtual host.
    docs.add_virtual_host("api.*", &api).unwrap();
    // A server with sockets cannot be a virtual host, nor one twice.
    assert!(http.add_virtual_host("x", &docs).is_err());
    let other = Http::new(&base).unwrap();
    other.bind_socket("127.0.0.1", 0).unwrap();
    assert!(http.add_virtual_host("o", &other).is_err());
    assert!(docs.bind_socket("127.0.0.1", 0).is_err());
    let addr = bind(&http);
    let got = run_client(&base, move || {
        let mut s = connect(addr);
        let mut out = Vec::new();
        for host in [
            "www.example.com",
            "WWW.EXAMPLE.COM:8080",
            "docs.example.org",
            "api.example.com",
            "elsewhere",
        ] {
            write!(s, "GET / HTTP/1.1\r\nHost: {host}\r\n\r\n").unwrap();
            out.push(String::from_utf8(read_response(&mut s).1).unwrap());
        }
        // No such path on the virtual host, which has no generic
        // callback: 404 (the root's generic callback is not used).
        write!(s, "GET /other HTTP/1.1\r\nHost: www.example.com\r\n\r\n").unwrap();
        (out, read_to_close(&mut s).0)
    });
    assert_eq!(got.0, ["docs", "docs", "docs", "api", "root"]);
    assert!(got.1.starts_with("HTTP/1.1 404 "), "{}", got.1);
    // A freed virtual host is skipped; a removed one too.
    drop(api);
    http.remove_virtual_host(&docs).unwrap();
    assert!(http.remove_virtual_host(&docs).is_err());
    let got = run_client(&base, move || {
        let mut s = connect(addr);
        write!(s, "GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n").unwrap();
        String::from_utf8(read_response(&mut s).1).unwrap()
    });
    assert_eq!(got, "root");
}

#[test]
fn unanswered_or_panicking_callbacks_get_500_and_the_loop_reports_the_panic() {
    let _g = shared();
    let base = EventBase::new().unwrap();
    let http = Http::new(&base).unwrap();
    // Forgets the request: every handle dropped, no reply.
    http.set_cb("/forget", |_req| {}).unwrap();
    http.set_cb("/panic", |_req| panic!("callback failed"))
        .unwrap();
    http.set_cb("/ok", |req| reply(req, "ok")).unwrap();
    let addr = bind(&http);
    let (forgot, closed) = run_client(&base, move || {
        send_and_read_all(addr, b"GET /forget HTTP/1.1\r\nHost: t\r\n\r\n")
    });
    assert!(forgot.starts_with("HTTP/1.1 500 "), "{forgot}");
    assert!(closed);

    // A panic stops the loop and resumes in dispatch, as for every
    // callback; the request is answered 500 when the loop runs again.
    let (tx, rx) = std::sync::mpsc::channel();
    let client = std::thread::spawn(move || {
        let r = send_and_read_all(addr, b"GET /panic HTTP/1.1\r\nHost: t\r\n\r\n");
        tx.send(()).unwrap();
        r
    });
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| base.dispatch()));
    let msg = r.unwrap_err();
    assert_eq!(msg.downcast_ref::<&str>(), Some(&"callback failed"));
    while rx.try_recv().is_err() {
        base.run_loop(runtime::compat::EVLOOP_NONBLOCK).unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
    let (text, closed) = client.join().unwrap();
    assert!(text.starts_with("HTTP/1.1 500 "), "{text}");
    assert!(closed);
    // The server goes on.
    let ok = run_client(&base, move || {
        let mut s = connect(addr);
        get(&mut s, "/ok", "").1
    });
    assert_eq!(ok, "ok");
}

#[test]
fn a_stream_whose_client_left_is_closed_and_one_dropped_midway_is_cut() {
    let _g = shared();
    let base = EventBase::new().unwrap();
    let http = Http::new(&base).unwrap();
    let bh = base.handle();
    let stopped_after = Rc::new(Cell::new(0));
    let st = stopped_after.clone();
    // Streams until the client goes away, as a feed would.
    http.set_cb("/feed", move |req| {
        req.send_reply_start(200, None).unwrap();
        let req = req.clone();
        let st = st.clone();
        let sent = Cell::new(0u32);
        let ev = Event::new_with_self(&bh, -1, EV_PERSIST, move |ev, _, _| {
            if req.is_closed() {
                st.set(sent.get());
                ev.free();
                return;
            }
            sent.set(sent.get() + 1);
            req.send_reply_chunk(&mut buffer(&[b'f'; 1000])).unwrap();
        })
        .unwrap();
        ev.add(Some(Duration::from_millis(2))).unwrap();
    })
    .unwrap();
    // Starts, sends one chunk, and drops the request without ending it.
    http.set_cb("/cut", |req| {
        req.send_reply_start(200, None).unwrap();
        req.send_reply_chunk(&mut buffer(b"partial")).unwrap();
    })
    .unwrap();
    let addr = bind(&http);
    run_client(&base, move || {
        let mut s = connect(addr);
        s.write_all(b"GET /feed HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        let mut buf = [0u8; 1500];
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0);
        s.shutdown(std::net::Shutdown::Both).unwrap();
    });
    // The timer notices the client is gone (the server's next write fails)
    // and stops by itself.
    let b = base.handle();
    let st = stopped_after.clone();
    let watch = Event::new_with_self(&base, -1, EV_PERSIST, move |ev, _, _| {
        if st.get() > 0 {
            ev.free();
            b.loopbreak().unwrap();
        }
    })
    .unwrap();
    watch.add(Some(Duration::from_millis(5))).unwrap();
    base.loopexit(Some(Duration::from_secs(20))).unwrap();
    base.dispatch().unwrap();
    assert!(
        stopped_after.get() > 0,
        "the stream never saw its client leave"
    );

    let (text, closed) = run_client(&base, move || {
        send_and_read_all(addr, b"GET /cut HTTP/1.1\r\nHost: t\r\n\r\n")
    });
    assert!(closed);
    assert!(text.contains("\r\n\r\n7\r\npartial\r\n"), "{text:?}");
    assert!(
        !text.ends_with("0\r\n\r\n"),
        "a cut stream has no last chunk: {text:?}"
    );
}

/// Descriptors open in this process.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Reads until EOF or error; whether the peer closed.
fn closed_by_peer(s: &mut std::net::TcpStream) -> bool {
    read_to_close(s).1
}

#[test]
fn dropping_the_base_or_the_http_frees_everything() {
    let _g = FDS.write().unwrap_or_else(|e| e.into_inner());
    let before = open_fds();
    let base = EventBase::new().unwrap();
    // A callback holding the server itself: a cycle only the base breaks.
    let http = Rc::new(Http::new(&base).unwrap());
    let me = http.clone();
    let parked: Rc<RefCell<Vec<HttpRequest>>> = Rc::new(RefCell::new(Vec::new()));
    let p = parked.clone();
    http.set_gencb(move |req| {
        let _keep = &me;
        if req.uri() == "/park" {
            p.borrow_mut().push(req.clone());
        } else {
            reply(req, "ok");
        }
    })
    .unwrap();
    let addr = bind(&http);
    drop(http); // still alive: the callback holds it
    let (mut idle, mut waiting) = run_client(&base, move || {
        let mut idle = connect(addr);
        assert_eq!(get(&mut idle, "/x", "").1, "ok");
        let mut waiting = connect(addr);
        waiting
            .write_all(b"GET /park HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        (idle, waiting)
    });
    // Let the parked request reach its callback.
    while parked.borrow().is_empty() {
        base.run_loop(runtime::compat::EVLOOP_ONCE).unwrap();
    }
    assert!(open_fds() > before);
    drop(base);
    // Everything the base ran is gone: listener, both connections, the
    // runtime's own descriptors.
    assert!(closed_by_peer(&mut idle));
    assert!(closed_by_peer(&mut waiting));
    drop((idle, waiting));
    // The parked request can no longer be answered.
    let req = parked.borrow_mut().pop().unwrap();
    assert!(req.send_reply(200, None, None).is_err());
    drop(req);
    assert_eq!(open_fds(), before, "descriptors leaked");
    // The port is free again.
    drop(std::net::TcpListener::bind(addr).unwrap());

    // Dropping the Http (not the base): its listener closes at once, its
    // connections at the loop's next turn.
    let base = EventBase::new().unwrap();
    let with_base = open_fds();
    let http = Http::new(&base).unwrap();
    http.set_gencb(|req| reply(req, "ok")).unwrap();
    let addr = bind(&http);
    let mut idle = run_client(&base, move || {
        let mut s = connect(addr);
        assert_eq!(get(&mut s, "/", "").1, "ok");
        s
    });
    assert_eq!(http.connection_count(), 1);
    drop(http);
    drop(std::net::TcpListener::bind(addr).unwrap());
    let closed = run_client(&base, move || closed_by_peer(&mut idle));
    assert!(closed);
    base.run_loop(runtime::compat::EVLOOP_NONBLOCK).unwrap();
    assert_eq!(open_fds(), with_base, "descriptors leaked");
}

#[test]
fn timeouts_and_max_connections() {
    let _g = shared();
    let base = EventBase::new().unwrap();
    let http = Http::new(&base).unwrap();
    let http = Rc::new(http);
    let counts = Rc::new(RefCell::new(Vec::new()));
    let (h2, c2) = (Rc::downgrade(&http), counts.clone());
    http.set_gencb(move |req| {
        c2.borrow_mut()
            .push(h2.upgrade().map_or(0, |h| h.connection_count()));
        reply(req, "ok");
    })
    .unwrap();
    http.set_timeout(Duration::from_millis(200)).unwrap();
    http.set_max_connections(1).unwrap();
    let addr = bind(&http);
    let (trickle, idle_closed, second) = run_client(&base, move || {
        // A head that never ends: 408 and closed.
        let mut s = connect(addr);
        s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n").unwrap();
        let trickle = read_to_close(&mut s);
        drop(s);
        // A kept-alive connection left idle is closed.
        let mut a = connect(addr);
        assert_eq!(get(&mut a, "/a", "").1, "ok");
        let mut b = connect(addr);
        b.write_all(b"GET /b HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
        // `a` holds the only slot: `b` waits in the backlog until the
        // server closes `a` (its idle timeout).
        let idle_closed = read_to_close(&mut a).1;
        let second = read_response(&mut b);
        (trickle, idle_closed, second)
    });
    assert!(trickle.0.starts_with("HTTP/1.1 408 "), "{}", trickle.0);
    assert!(trickle.1);
    assert!(idle_closed);
    assert_eq!(second.1, b"ok");
    assert_eq!(*counts.borrow(), [1, 1], "never two connections at once");
}

#[test]
fn the_ported_sample_runs_as_a_process() {
    let _g = shared();
    let bin = example::example_bin("compat_http_server");
    let help = Command::new(&bin).arg("--help").output().unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--root"));
    let bad = Command::new(&bin).arg("--nope").output().unwrap();
    assert_eq!(bad.status.code(), Some(2));

    let root = std::env::temp_dir().join(format!("compat-http-root-{}", std::process::id()));
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(root.join("a.txt"), "hello file\n").unwrap();
    std::fs::write(root.join("x&y.html"), "<p>").unwrap();
    let secret = std::env::temp_dir().join(format!("compat-http-secret-{}", std::process::id()));
    std::fs::write(&secret, "secret").unwrap();
    let mut child = Command::new(&bin)
        .args(["--addr", "127.0.0.1:0", "--root"])
        .arg(&root)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    let addr: SocketAddr = line
        .split_whitespace()
        .skip_while(|w| *w != "on")
        .nth(1)
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .parse()
        .unwrap();
    // Drain what it prints, so it never blocks on a full pipe.
    let printed = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = out.read_to_string(&mut rest);
        rest
    });
    let mut s = connect(addr);
    let (head, body) = get(&mut s, "/a.txt", "");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert_eq!(header(&head, "content-type"), Some("text/plain"));
    assert_eq!(body, "hello file\n");
    let (head, listing) = get(&mut s, "/", "");
    assert_eq!(header(&head, "content-type"), Some("text/html"));
    assert!(listing.contains("<a href=\"a.txt\">a.txt</a>"), "{listing}");
    assert!(
        listing.contains("<a href=\"x%26y.html\">x&amp;y.html</a>"),
        "{listing}"
    );
    let secret_name = secret.file_name().unwrap().to_str().unwrap().to_owned();
    for path in [
        format!("/../{secret_name}"),
        format!("/sub/../../{secret_name}"),
        format!("/%2e%2e/{secret_name}"),
        format!("/sub/%2E%2E/%2e%2e/{secret_name}"),
        "/nothing-here".to_owned(),
        "/a.txt%00.png".to_owned(),
    ] {
        let (text, closed) = send_and_read_all(
            addr,
            format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes(),
        );
        assert!(text.starts_with("HTTP/1.1 404 "), "{path}: {text}");
        assert!(!text.contains("secret"), "{path}: {text}");
        assert!(closed);
    }
    // /dump, and every non-GET request, is printed and answered 200.
    let (text, _) = send_and_read_all(
        addr,
        b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nConnection: close\r\n\r\nabcde",
    );
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    drop(s);
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let mut status = None;
    for _ in 0..200 {
        if let Some(st) = child.try_wait().unwrap() {
            status = Some(st);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let Some(status) = status else {
        let _ = child.kill();
        panic!("did not exit on SIGINT");
    };
    assert!(status.success(), "exit status {status}");
    let printed = printed.join().unwrap();
    assert!(
        printed.contains("Got a GET request for </a.txt>"),
        "{printed}"
    );
    assert!(
        printed.contains("Received a POST request for /upload"),
        "{printed}"
    );
    assert!(printed.contains("Input data: <<<\nabcde>>>"), "{printed}");
    std::fs::remove_dir_all(&root).unwrap();
    std::fs::remove_file(&secret).unwrap();
}

#[test]
fn client_connection_sends_requests_in_order_and_reports_failures() {
    let _g = shared();
    // The server runs elsewhere (runtime-http on a thread of its own): the
    // base has nothing but the connection, and `dispatch` must still wait
    // for the requests, then return by itself.
    let addr = http_support::start(|| runtime::http::Server::new().fallback(http_support::echo));
    let base = EventBase::new().unwrap();
    let conn = HttpConnection::new(&base, "127.0.0.1", addr.port()).unwrap();
    let done = Rc::new(RefCell::new(Vec::new()));
    for (method, uri, body) in [
        (Method::GET, "/first", ""),
        (Method::POST, "/second?x=1", "twelve bytes"),
        (Method::PUT, "/third", "abc"),
    ] {
        let d = done.clone();
        let req = HttpClientRequest::new(move |req| {
            let body = String::from_utf8(req.input_buffer().to_vec().unwrap()).unwrap();
            let len = req
                .input_headers()
                .find("content-length")
                .map(str::to_owned);
            d.borrow_mut().push((req.response_code(), body, len));
        });
        req.output_headers().add("X-Test", "1").unwrap();
        req.output_buffer().add(body.as_bytes()).unwrap();
        conn.make_request(req, method, uri).unwrap();
    }
    assert_eq!(conn.queued(), 3);
    assert_eq!(base.dispatch().unwrap(), LoopExit::NoEvents);
    let got = done.borrow().clone();
    assert_eq!(
        got,
        [
            (Some(200), "GET /first 0".to_owned(), Some("12".to_owned())),
            (
                Some(200),
                "POST /second?x=1 12".to_owned(),
                Some("19".to_owned())
            ),
            (Some(200), "PUT /third 3".to_owned(), Some("12".to_owned())),
        ]
    );

    // A response larger than the limit fails the request.
    conn.set_max_body_size(5).unwrap();
    let failed = Rc::new(RefCell::new(None));
    let f = failed.clone();
    let req = HttpClientRequest::new(move |req| {
        *f.borrow_mut() = Some((req.response_code(), req.error().is_some()));
    });
    conn.make_request(req, Method::GET, "/long-enough").unwrap();
    base.dispatch().unwrap();
    assert_eq!(*failed.borrow(), Some((None, true)));

    // Nobody listening: the callback gets the error, no response code.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let refused = HttpConnection::new(&base, "127.0.0.1", port).unwrap();
    let kind = Rc::new(Cell::new(None));
    let k = kind.clone();
    refused
        .make_request(
            HttpClientRequest::new(move |req| {
                assert_eq!(req.response_code(), None);
                k.set(req.error_kind());
            }),
            Method::GET,
            "/",
        )
        .unwrap();
    assert_eq!(base.dispatch().unwrap(), LoopExit::NoEvents);
    assert_eq!(kind.get(), Some(std::io::ErrorKind::ConnectionRefused));

    // Freed with a request queued: its callback never runs, and the loop
    // has nothing left to wait for.
    let never = Rc::new(Cell::new(false));
    let n = never.clone();
    conn.make_request(
        HttpClientRequest::new(move |_| n.set(true)),
        Method::GET,
        "/",
    )
    .unwrap();
    conn.free();
    assert_eq!(base.dispatch().unwrap(), LoopExit::NoEvents);
    assert!(!never.get());
}

#[test]
fn sockets_accepted_bound_and_deleted() {
    let _g = shared();
    let base = EventBase::new().unwrap();
    let http = Http::new(&base).unwrap();
    http.set_gencb(|req| reply(req, "ok")).unwrap();
    http.set_default_content_type(None).unwrap();
    assert!(http.set_default_content_type(Some("a\nb")).is_err());
    // An existing listening socket (evhttp_accept_socket).
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let a_addr = std_listener.local_addr().unwrap();
    let a = http.accept_socket(std_listener).unwrap();
    assert!(a.fd() >= 0);
    let b = http.bind_socket_with_handle("localhost", 0).unwrap();
    let b_addr = b.local_addr().unwrap();
    assert_eq!(http.bound_sockets(), [a.clone(), b.clone()]);
    // The port is taken; a name that is not an address.
    let taken = http.bind_socket("127.0.0.1", b_addr.port()).unwrap_err();
    assert_eq!(taken.kind(), std::io::ErrorKind::AddrInUse);
    let bad = http.bind_socket("no.such.name", 0).unwrap_err();
    assert_eq!(bad.kind(), std::io::ErrorKind::InvalidInput);
    let heads = run_client(&base, move || {
        let mut out = Vec::new();
        for addr in [a_addr, b_addr] {
            let mut s = connect(addr);
            out.push(get(&mut s, "/", "").0);
        }
        out
    });
    assert!(heads.iter().all(|h| h.starts_with("HTTP/1.1 200 OK\r\n")));
    // No default content type any more.
    assert!(header(&heads[0], "content-type").is_none(), "{}", heads[0]);
    // Deleted: closed at once, the other socket goes on.
    http.del_accept_socket(&a).unwrap();
    assert!(!a.is_open() && a.fd() == -1);
    assert!(http.del_accept_socket(&a).is_err());
    assert_eq!(
        std::net::TcpStream::connect(a_addr).unwrap_err().kind(),
        std::io::ErrorKind::ConnectionRefused
    );
    let body = run_client(&base, move || get(&mut connect(b_addr), "/", "").1);
    assert_eq!(body, "ok");
    // A freed server refuses everything.
    drop(base);
    assert!(http.bind_socket("127.0.0.1", 0).is_err());
    assert!(http.set_cb("/x", |_| {}).is_err());
    assert!(!b.is_open());
}
