//! RPC over real sockets: the server (`POST /.rpc.<Name>`, 503 for every
//! failure as libevent) and the client pool (timeout, queueing, outcomes
//! mapped to `EVRPC_STATUS_*`), with bad payloads sent by raw clients.

#[path = "support/http.rs"]
mod http_support;

include!("../rpc/tests/support/regress.rs");
include!("../rpc/tests/support/c.rs");

use http_support::*;
use runtime::http::{Limits, Server};
use runtime::rpc::{Message, Pool, RpcError, RpcServerExt, Status};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn request_msg() -> Msg {
    Msg {
        from_name: Some("niels".into()),
        to_name: Some("tester".into()),
        attack: Some(Kill {
            weapon: Some("feather".into()),
            action: Some("tickle".into()),
            how_often: vec![3],
        }),
        run: vec![],
    }
}

/// regress_rpc.c's `MessageCb`: a `kill` reply naming the sender.
async fn message(req: Msg) -> Result<Kill, RpcError> {
    Ok(Kill {
        weapon: Some("dagger".into()),
        action: Some(format!("wave at {}", req.from_name.unwrap())),
        how_often: vec![5],
    })
}

/// A server with `Message`, `Incomplete` (a reply missing a required
/// field), `Refuse` (an error) and `Slow` (sleeps `ms` from to_name, and
/// records the most calls in progress at once).
fn rpc_server(in_progress: Arc<AtomicUsize>, most: Arc<AtomicUsize>) -> std::net::SocketAddr {
    start(move || {
        Server::new()
            // libevent's evrpc clients send HTTP/1.1 requests without Host.
            .limits(Limits {
                require_host: false,
                ..Limits::default()
            })
            .rpc("Message", message)
            .rpc("Incomplete", |_: Msg| async {
                Ok::<_, RpcError>(Kill {
                    weapon: Some("dagger".into()),
                    ..Kill::default()
                })
            })
            .rpc("Refuse", |_: Msg| async {
                Err::<Kill, _>(RpcError::failed("no"))
            })
            .rpc("Slow", move |req: Msg| {
                let (in_progress, most) = (in_progress.clone(), most.clone());
                async move {
                    let now = in_progress.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    let ms = req.to_name.as_deref().unwrap_or("0").parse().unwrap_or(0);
                    runtime::time::sleep(Duration::from_millis(ms)).await;
                    in_progress.fetch_sub(1, Ordering::SeqCst);
                    message(req).await
                }
            })
    })
}

fn plain_server() -> std::net::SocketAddr {
    rpc_server(Arc::default(), Arc::default())
}

#[test]
fn calls_over_a_keep_alive_pool() {
    let addr = plain_server();
    runtime::block_on(async move {
        let pool = Pool::new(addr, 1);
        for _ in 0..50 {
            let reply: Kill = pool.call("Message", &request_msg()).await.unwrap();
            assert_eq!(reply.weapon.as_deref(), Some("dagger"));
            assert_eq!(reply.action.as_deref(), Some("wave at niels"));
            assert_eq!(reply.how_often, [5]);
        }
        assert_eq!(pool.busy(), 0);
    });
}

/// Sends raw bytes and returns the status line and the response body.
fn raw(addr: std::net::SocketAddr, req: &[u8]) -> (String, Vec<u8>) {
    let mut s = connect(addr);
    s.write_all(req).unwrap();
    let (head, body) = read_response(&mut s);
    (head.lines().next().unwrap().to_owned(), body)
}

fn post(addr: std::net::SocketAddr, path: &str, body: &[u8]) -> (String, Vec<u8>) {
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    raw(addr, &req)
}

#[test]
fn the_wire_is_libevents() {
    let addr = plain_server();
    let (status, body) = post(addr, "/.rpc.Message", &request_msg().marshal());
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(
        Kill::unmarshal(&body).unwrap().action.as_deref(),
        Some("wave at niels")
    );
    let mut s = connect(addr);
    let msg = request_msg().marshal();
    write!(
        s,
        "POST /.rpc.Message HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        msg.len()
    )
    .unwrap();
    s.write_all(&msg).unwrap();
    let (head, _) = read_response(&mut s);
    assert!(head
        .to_ascii_lowercase()
        .contains("content-type: application/octet-stream"));
}

#[test]
fn bad_requests_get_503_and_the_server_goes_on() {
    let addr = plain_server();
    let good = request_msg().marshal();
    let mut oversized = good.clone();
    // A string field claiming 2^32-1 bytes.
    oversized.extend_from_slice(&[0x01, 0x7f, 0xff, 0xff, 0xff, 0xf0, b'x']);
    let mut hostile_nested = vec![
        0x01, 0x01, b'a', 0x02, 0x01, b'b', 0x03, 0x7f, 0xff, 0xff, 0xff, 0xf0,
    ];
    hostile_nested.extend_from_slice(&[0; 10]);
    let garbage: Vec<u8> = (0..500u32).map(|i| (i * 7919 % 251) as u8).collect();
    let cases: Vec<(&str, &[u8])> = vec![
        ("empty", b""),
        ("truncated", &good[..good.len() - 3]),
        ("oversized length", &oversized),
        ("hostile nested length", &hostile_nested),
        ("garbage", &garbage),
        ("missing required field", &[0x01, 0x01, b'a']),
        (
            "unknown tag",
            &[0x01, 0x01, b'a', 0x02, 0x01, b'b', 0x09, 0x01, 0x00],
        ),
    ];
    for (what, body) in &cases {
        let (status, _) = post(addr, "/.rpc.Message", body);
        assert_eq!(status, "HTTP/1.1 503 Service Unavailable", "{what}");
    }
    // A method other than POST.
    let (status, _) = raw(addr, b"GET /.rpc.Message HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(status, "HTTP/1.1 503 Service Unavailable");
    // A handler's error and an incomplete reply.
    assert_eq!(
        post(addr, "/.rpc.Refuse", &good).0,
        "HTTP/1.1 503 Service Unavailable"
    );
    assert_eq!(
        post(addr, "/.rpc.Incomplete", &good).0,
        "HTTP/1.1 503 Service Unavailable"
    );
    // No such RPC: the HTTP server's 404.
    assert_eq!(
        post(addr, "/.rpc.Nothing", &good).0,
        "HTTP/1.1 404 Not Found"
    );
    // Still serving.
    assert_eq!(post(addr, "/.rpc.Message", &good).0, "HTTP/1.1 200 OK");
}

#[test]
fn client_outcomes_match_evrpc_status() {
    let addr = plain_server();
    // A raw server answering 200 with a body that is not a `kill`.
    let junk = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let junk_addr = junk.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in junk.incoming() {
            let mut s = s.unwrap();
            let mut buf = [0u8; 4096];
            let _ = std::io::Read::read(&mut s, &mut buf);
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n\x01\x05a");
        }
    });
    // A port with nothing listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_addr = closed.local_addr().unwrap();
    drop(closed);
    runtime::block_on(async move {
        let pool = Pool::new(addr, 2);
        let e = pool
            .call::<_, Kill>("Refuse", &request_msg())
            .await
            .unwrap_err();
        assert!(matches!(e, RpcError::HttpStatus(s) if s == 503), "{e:?}");
        assert_eq!(e.status(), Status::BadPayload);
        let e = pool
            .call::<_, Kill>("Incomplete", &request_msg())
            .await
            .unwrap_err();
        assert_eq!(e.status(), Status::BadPayload);
        // The request is incomplete: the server refuses it.
        let e = pool
            .call::<_, Kill>("Message", &Msg::default())
            .await
            .unwrap_err();
        assert_eq!(e.status(), Status::BadPayload);
        // A reply of the wrong shape.
        let e = Pool::new(junk_addr, 1)
            .call::<_, Kill>("Message", &request_msg())
            .await
            .unwrap_err();
        assert!(matches!(e, RpcError::BadPayload(_)), "{e:?}");
        assert_eq!(e.status(), Status::BadPayload);
        // Timeout: the handler sleeps 2 s, the pool waits 100 ms.
        pool.set_timeout(Some(Duration::from_millis(100)));
        let mut slow = request_msg();
        slow.to_name = Some("2000".into());
        let started = std::time::Instant::now();
        let e = pool.call::<_, Kill>("Slow", &slow).await.unwrap_err();
        assert!(matches!(e, RpcError::Timeout), "{e:?}");
        assert_eq!(e.status(), Status::Timeout);
        assert!(started.elapsed() < Duration::from_secs(2));
        // The pool is usable afterwards.
        let ok: Kill = pool.call("Message", &request_msg()).await.unwrap();
        assert!(ok.complete());
        // Connection refused: libevent reports a timeout too.
        let e = Pool::new(closed_addr, 1)
            .call::<_, Kill>("Message", &request_msg())
            .await
            .unwrap_err();
        assert!(matches!(e, RpcError::Transport(_)), "{e:?}");
        assert_eq!(e.status(), Status::Timeout);
        // A name that is not a valid path cannot be sent.
        let e = pool
            .call::<_, Kill>("a b", &request_msg())
            .await
            .unwrap_err();
        assert_eq!(e.status(), Status::Unstarted, "{e:?}");
    });
}

#[test]
fn requests_queue_when_every_connection_is_busy() {
    for connections in [1usize, 3] {
        let in_progress = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let addr = rpc_server(in_progress, most.clone());
        runtime::block_on(async move {
            let pool = Pool::new(addr, connections);
            let mut slow = request_msg();
            slow.to_name = Some("50".into());
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let (pool, slow) = (pool.clone(), slow.clone());
                    runtime::spawn(async move { pool.call::<_, Kill>("Slow", &slow).await })
                })
                .collect();
            runtime::time::sleep(Duration::from_millis(20)).await;
            assert_eq!(pool.busy(), connections);
            assert_eq!(pool.queued(), 8 - connections);
            for t in tasks {
                assert!(t.await.unwrap().unwrap().complete());
            }
            assert_eq!((pool.busy(), pool.queued()), (0, 0));
        });
        assert_eq!(most.load(Ordering::SeqCst), connections);
    }
}

#[test]
fn a_cancelled_waiter_leaves_the_queue() {
    let addr = plain_server();
    runtime::block_on(async move {
        let pool = Pool::new(addr, 1);
        let mut slow = request_msg();
        slow.to_name = Some("100".into());
        let first = {
            let (pool, slow) = (pool.clone(), slow.clone());
            runtime::spawn(async move { pool.call::<_, Kill>("Slow", &slow).await })
        };
        runtime::time::sleep(Duration::from_millis(10)).await;
        // A second call gives up while queued.
        let gave_up = runtime::time::timeout(
            Duration::from_millis(10),
            pool.call::<_, Kill>("Message", &request_msg()),
        )
        .await;
        assert!(gave_up.is_err());
        assert_eq!(pool.queued(), 0);
        assert!(first.await.unwrap().is_ok());
        let ok: Kill = pool.call("Message", &request_msg()).await.unwrap();
        assert!(ok.complete());
        assert_eq!(pool.busy(), 0);
    });
}

/// Runs tests/c/evrpc_peer.c (libevent's evrpc API) with `args`, killed
/// after 20 s at the latest.
fn c_peer(bin: &std::path::Path, args: &[&str]) -> std::process::Child {
    std::process::Command::new(bin)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_libevent_evrpc_client_calls_our_server() {
    let Some(bin) = build_c("evrpc_peer") else {
        return;
    };
    let addr = plain_server();
    let port = addr.port().to_string();
    let child = c_peer(&bin, &["client", &port]);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    // Message answered (EVRPC_STATUS_ERR_NONE), decoded by libevent; the
    // missing RPC is a bad payload for it (404, not a kill).
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "Message status=0 weapon=dagger action=wave at evrpc_peer how_often=5\n\
         Nothing status=2\n"
    );
}

#[test]
fn our_pool_calls_a_libevent_evrpc_server() {
    let Some(bin) = build_c("evrpc_peer") else {
        return;
    };
    let mut child = c_peer(&bin, &["server"]);
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let addr: std::net::SocketAddr = line.trim().rsplit(' ').next().unwrap().parse().unwrap();
    let result = std::panic::catch_unwind(|| {
        runtime::block_on(async move {
            let pool = Pool::new(addr, 2);
            pool.set_timeout(Some(Duration::from_secs(10)));
            let mut req = request_msg();
            req.run.push(Run {
                how: Some("fast".into()),
                fixed_bytes: Some([1; 24]),
                ..Run::default()
            });
            let reply: Kill = pool.call("Message", &req).await.unwrap();
            assert_eq!(reply.weapon.as_deref(), Some("club"));
            assert_eq!(reply.action.as_deref(), Some("wave at niels"));
            // The C side saw one run and the attack.
            assert_eq!(reply.how_often, [1, 1]);
            // libevent answers an incomplete reply, an undecodable request
            // and a missing RPC as we do.
            let e = pool.call::<_, Kill>("Incomplete", &req).await.unwrap_err();
            assert!(matches!(e, RpcError::HttpStatus(s) if s == 503), "{e:?}");
            let e = pool
                .call::<_, Kill>("Message", &Msg::default())
                .await
                .unwrap_err();
            assert!(matches!(e, RpcError::HttpStatus(s) if s == 503), "{e:?}");
            let e = pool.call::<_, Kill>("Nothing", &req).await.unwrap_err();
            assert_eq!(e.status(), Status::BadPayload);
        })
    });
    let _ = child.kill();
    let _ = child.wait();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// libevent's hooks and ours on one exchange: headers set by an output
/// hook on one side are seen by the other side's input hook, and each
/// side's metadata goes from its input to its output hook (server) or
/// from its output to its input hook (client) — evrpc_hook_add_meta /
/// find_meta in C, `Meta` here.
#[test]
fn a_libevent_client_with_hooks_calls_our_server_with_hooks() {
    use runtime::http::http::HeaderValue;
    use runtime::rpc::{Direction, HookAction, Hooks};
    let Some(bin) = build_c("evrpc_peer") else {
        return;
    };
    let addr = start(|| {
        let hooks = Hooks::new();
        hooks.add(Direction::Input, |ctx| {
            if let Some(v) = ctx.headers.get("x-hook-in") {
                let v = v.as_bytes().to_vec();
                ctx.meta.add("hook-in", v);
            }
            HookAction::Continue
        });
        hooks.add(Direction::Output, |ctx| {
            if let Some(v) = ctx.meta.find("hook-in") {
                let v = HeaderValue::from_bytes(v).unwrap();
                ctx.headers.insert("x-hook-out", v);
            }
            HookAction::Continue
        });
        Server::new()
            .limits(Limits {
                require_host: false,
                ..Limits::default()
            })
            .rpc_with_hooks("Message", &hooks, message)
    });
    let child = c_peer(&bin, &["client-hooks", &addr.port().to_string()]);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "hook meta=c-client x-hook-out=c-client\n\
         Message status=0 weapon=dagger action=wave at evrpc_peer how_often=5\n"
    );
}

#[test]
fn our_pool_with_hooks_calls_a_libevent_server_with_hooks() {
    use runtime::http::http::HeaderValue;
    use runtime::rpc::{Direction, HookAction};
    let Some(bin) = build_c("evrpc_peer") else {
        return;
    };
    let mut child = c_peer(&bin, &["server"]);
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let addr: std::net::SocketAddr = line.trim().rsplit(' ').next().unwrap().parse().unwrap();
    let result = std::panic::catch_unwind(|| {
        runtime::block_on(async move {
            let pool = Pool::new(addr, 1);
            pool.set_timeout(Some(Duration::from_secs(10)));
            pool.hooks().add(Direction::Output, |ctx| {
                let who = format!("rust-pool-{}", ctx.rpc);
                ctx.headers
                    .insert("x-hook-in", HeaderValue::from_str(&who).unwrap());
                if ctx.meta.find("deny").is_some() {
                    ctx.headers
                        .insert("x-hook-deny", HeaderValue::from_static("1"));
                }
                ctx.meta.add("sent", who);
                HookAction::Continue
            });
            pool.hooks().add(Direction::Input, |ctx| {
                let echoed = ctx.headers.get("x-hook-out").map(|v| v.as_bytes().to_vec());
                let sent = ctx.meta.find("sent").unwrap().to_vec();
                // libevent's output hook answered with what its input
                // hook kept in its metadata.
                ctx.meta
                    .add("echo-matches", [u8::from(echoed == Some(sent))]);
                HookAction::Continue
            });
            let (reply, meta): (Kill, _) = pool
                .call_with_meta("Message", &request_msg(), Default::default())
                .await
                .unwrap();
            assert_eq!(reply.weapon.as_deref(), Some("club"));
            assert_eq!(meta.find("echo-matches"), Some(&[1u8][..]));
            // libevent's input hook terminating: 503.
            let mut deny = runtime::rpc::Meta::default();
            deny.add("deny", "");
            let e = pool
                .call_with_meta::<_, Kill>("Message", &request_msg(), deny)
                .await
                .unwrap_err();
            assert!(matches!(e, RpcError::HttpStatus(s) if s == 503), "{e:?}");
        })
    });
    let _ = child.kill();
    let _ = child.wait();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
