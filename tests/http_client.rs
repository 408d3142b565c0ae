//! The HTTP client against our server (and against raw sockets for the
//! failure paths): pooled keep-alive, streamed bodies both ways, chunked and
//! close-delimited responses, timeouts, the retry on a pooled connection
//! the server had closed, limits, Unix sockets.

#[path = "support/http.rs"]
mod http_support;

use http_support::*;
use runtime::http::http::{Method, Request, Response};
use runtime::http::{Body, Client, ClientConfig, Error, Server, Timeouts};
use std::io::{Read, Write};
use std::time::Duration;

fn upload_echo_server() -> std::net::SocketAddr {
    start(|| {
        Server::new()
            .route("/stream", |req: Request<Body>| async move {
                // Echo the request body back as a chunked stream, piece by
                // piece, while it arrives.
                let mut inbound = req.into_body();
                let (mut tx, body) = Body::channel(64 * 1024);
                runtime::spawn(async move {
                    while let Some(piece) = inbound.chunk().await {
                        let Ok(piece) = piece else { return };
                        if tx.send(piece).await.is_err() {
                            return;
                        }
                    }
                });
                Response::new(body)
            })
            .fallback(echo)
    })
}

#[test]
fn streamed_bodies_both_ways_over_a_pooled_connection() {
    let addr = upload_echo_server();
    runtime::block_on(async move {
        let client = Client::new();
        // A streamed (chunked) upload, streamed back.
        let (mut tx, body) = Body::channel(32 * 1024);
        let sender = runtime::spawn(async move {
            for i in 0..100u64 {
                let piece: Vec<u8> = (i * 10_000..(i + 1) * 10_000).map(pattern_byte).collect();
                tx.send(piece).await.unwrap();
            }
        });
        let req = Request::post(format!("http://{addr}/stream"))
            .body(body)
            .unwrap();
        let res = client.request(req).await.unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.headers().get("transfer-encoding").is_some());
        let mut body = res.into_body();
        let mut n = 0u64;
        while let Some(piece) = body.chunk().await {
            for b in piece.unwrap() {
                assert_eq!(b, pattern_byte(n));
                n += 1;
            }
        }
        assert_eq!(n, 1_000_000);
        sender.await.unwrap();
        // The connection went back to the pool and is reused.
        assert_eq!(client.idle_connections(), 1);
        let res = client.get(&format!("http://{addr}/again")).await.unwrap();
        assert_eq!(res.into_body().collect().await.unwrap(), b"GET /again 0");
        assert_eq!(client.idle_connections(), 1);
        // A buffered body with a length.
        let req = Request::put(format!("http://{addr}/put"))
            .body(Body::from(vec![7u8; 5000]))
            .unwrap();
        let res = client.request(req).await.unwrap();
        assert_eq!(res.into_body().collect().await.unwrap(), b"PUT /put 5000");
    });
}

#[test]
fn retries_an_idempotent_request_on_a_connection_the_server_closed() {
    let addr = start(|| {
        Server::new().fallback(echo).timeouts(Timeouts {
            keep_alive: Some(Duration::from_millis(100)),
            ..Timeouts::default()
        })
    });
    runtime::block_on(async move {
        let client = Client::new();
        let res = client.get(&format!("http://{addr}/1")).await.unwrap();
        res.into_body().collect().await.unwrap();
        assert_eq!(client.idle_connections(), 1);
        runtime::time::sleep(Duration::from_millis(400)).await;
        // The pooled connection is dead; the GET is sent again.
        let res = client.get(&format!("http://{addr}/2")).await.unwrap();
        assert_eq!(res.into_body().collect().await.unwrap(), b"GET /2 0");
        // A POST is not retried.
        runtime::time::sleep(Duration::from_millis(400)).await;
        let req = Request::post(format!("http://{addr}/3"))
            .body(Body::from("x"))
            .unwrap();
        let err = client.request(req).await.unwrap_err();
        assert!(
            matches!(err, Error::ConnectionClosed | Error::Io(_)),
            "{err:?}"
        );
    });
}

/// A raw server that answers each connection with `reply` after reading a
/// request head.
fn raw_server(reply: &'static [u8], delay: Duration) -> std::net::SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let mut s = s.unwrap();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                std::thread::sleep(delay);
                let _ = s.write_all(reply);
            });
        }
    });
    addr
}

#[test]
fn close_delimited_and_chunked_responses_with_trailers() {
    let addr = raw_server(b"HTTP/1.0 200 OK\r\n\r\nuntil the end", Duration::ZERO);
    let chunked = raw_server(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nX-T: 1\r\n\r\n",
        Duration::ZERO,
    );
    runtime::block_on(async move {
        let client = Client::new();
        let res = client.get(&format!("http://{addr}/")).await.unwrap();
        assert_eq!(res.into_body().collect().await.unwrap(), b"until the end");
        assert_eq!(client.idle_connections(), 0);
        let res = client.get(&format!("http://{chunked}/")).await.unwrap();
        let mut body = res.into_body();
        let mut data = Vec::new();
        while let Some(p) = body.chunk().await {
            data.extend_from_slice(&p.unwrap());
        }
        assert_eq!(data, b"abcde");
        assert_eq!(body.trailers().unwrap().get("x-t").unwrap(), "1");
    });
}

#[test]
fn response_timeout_and_limits() {
    let slow = raw_server(
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        Duration::from_secs(3),
    );
    let huge_head = raw_server(
        Box::leak(
            format!("HTTP/1.1 200 OK\r\nX-Big: {}\r\n\r\n", "a".repeat(100_000))
                .into_bytes()
                .into_boxed_slice(),
        ),
        Duration::ZERO,
    );
    let big_body = raw_server(
        Box::leak(
            format!(
                "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n{}",
                "b".repeat(5000)
            )
            .into_bytes()
            .into_boxed_slice(),
        ),
        Duration::ZERO,
    );
    let bad = raw_server(
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        Duration::ZERO,
    );
    runtime::block_on(async move {
        let client = Client::with_config(ClientConfig {
            response_timeout: Some(Duration::from_millis(300)),
            max_body_size: 1000,
            ..ClientConfig::default()
        });
        let t0 = std::time::Instant::now();
        let err = client.get(&format!("http://{slow}/")).await.unwrap_err();
        assert!(matches!(err, Error::Timeout(_)), "{err:?}");
        assert!(t0.elapsed() < Duration::from_secs(2));
        let err = client
            .get(&format!("http://{huge_head}/"))
            .await
            .unwrap_err();
        assert_eq!(err.status(), 431, "{err:?}");
        let res = client.get(&format!("http://{big_body}/")).await.unwrap();
        let err = res.into_body().collect().await.unwrap_err();
        assert!(matches!(err, Error::BodyTooLarge), "{err:?}");
        let err = client.get(&format!("http://{bad}/")).await.unwrap_err();
        assert_eq!(err.status(), 400, "{err:?}");
        // Nothing listening: a connect error, not a hang.
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        assert!(client.get(&format!("http://{closed}/")).await.is_err());
        assert!(client.get("ftp://127.0.0.1/").await.is_err());
    });
}

#[test]
fn unix_socket_target() {
    let path = std::env::temp_dir().join(format!("http-unix-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let p = path.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        runtime::block_on(async move {
            let l = runtime::net::UnixListener::bind(&p).unwrap();
            tx.send(()).unwrap();
            Server::new().fallback(echo).serve_unix(l).await.unwrap();
        })
    });
    rx.recv().unwrap();
    runtime::block_on(async move {
        let client = Client::new();
        for i in 0..3 {
            let req = Request::builder()
                .method(Method::POST)
                .uri(format!("/unix/{i}"))
                .body(Body::from("abc"))
                .unwrap();
            let res = client.request_unix(&path, req).await.unwrap();
            assert_eq!(
                res.into_body().collect().await.unwrap(),
                format!("POST /unix/{i} 3").as_bytes()
            );
        }
        assert_eq!(client.idle_connections(), 1);
    });
    let _ = std::fs::remove_file(
        std::env::temp_dir().join(format!("http-unix-{}.sock", std::process::id())),
    );
}

#[test]
fn sharded_server_on_every_worker() {
    let rt = runtime::Builder::new().threads(2).build().unwrap();
    let addr = "127.0.0.1:0".parse().unwrap();
    let shards =
        Server::serve_sharded(&rt.handle(), addr, || Server::new().fallback(echo)).unwrap();
    let addr = shards.local_addr();
    runtime::block_on(async move {
        let mut tasks = Vec::new();
        for i in 0..20 {
            tasks.push(runtime::spawn(async move {
                let client = Client::new();
                let res = client.get(&format!("http://{addr}/{i}")).await.unwrap();
                res.into_body().collect().await.unwrap()
            }));
        }
        for (i, t) in tasks.into_iter().enumerate() {
            assert_eq!(t.await.unwrap(), format!("GET /{i} 0").into_bytes());
        }
    });
    shards.abort();
}
