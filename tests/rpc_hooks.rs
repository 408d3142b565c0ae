//! RPC hooks over real sockets, on both sides (libevent's `evrpc_add_hook`,
//! regress_rpc.c `basic_client` and `basic_client_with_pause`): an auth
//! hook refusing, a pause resumed from a timer (with continue and with
//! terminate), metadata carried from output to input hooks, hooks that
//! rewrite the body on both ends, hook removal.

#[path = "support/http.rs"]
mod http_support;

include!("../rpc/tests/support/regress.rs");

use http_support::*;
use runtime::http::http::HeaderValue;
use runtime::http::{Limits, Server};
use runtime::rpc::hook::{pause, Verdict};
use runtime::rpc::{
    Direction, HookAction, Hooks, Message, Meta, Pool, RpcError, RpcServerExt, Status,
};
use std::cell::Cell;
use std::io::Write;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn request_msg() -> Msg {
    Msg {
        from_name: Some("niels".into()),
        to_name: Some("tester".into()),
        attack: None,
        run: vec![],
    }
}

async fn message(req: Msg) -> Result<Kill, RpcError> {
    Ok(Kill {
        weapon: Some("dagger".into()),
        action: Some(format!("wave at {}", req.from_name.unwrap())),
        how_often: vec![1],
    })
}

/// A server whose RPC `Message` runs the hooks `install` adds, and counts
/// the calls that reach the handler.
fn hooked_server(
    install: impl FnOnce(&Hooks) + Send + 'static,
) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let addr = start(move || {
        let hooks = Hooks::new();
        install(&hooks);
        Server::new()
            .limits(Limits {
                require_host: false,
                ..Limits::default()
            })
            .rpc_with_hooks("Message", &hooks, move |req: Msg| {
                counted.fetch_add(1, Ordering::SeqCst);
                message(req)
            })
    });
    (addr, calls)
}

/// A server input hook admitting only requests with the right token.
fn auth_hook(hooks: &Hooks) {
    hooks.add(Direction::Input, |ctx| {
        match ctx.headers.get("authorization") {
            Some(v) if v == "Bearer sesame" => HookAction::Continue,
            _ => HookAction::Terminate,
        }
    });
}

#[test]
fn an_auth_hook_refuses_requests_without_the_token() {
    let (addr, calls) = hooked_server(auth_hook);
    let counted = calls.clone();
    runtime::block_on(async move {
        let calls = counted;
        let anonymous = Pool::new(addr, 1);
        let err = anonymous
            .call::<Msg, Kill>("Message", &request_msg())
            .await
            .unwrap_err();
        assert!(matches!(err, RpcError::HttpStatus(s) if s == 503), "{err}");
        assert_eq!(err.status(), Status::BadPayload);
        assert_eq!(calls.load(Ordering::SeqCst), 0);

        let authed = Pool::new(addr, 1);
        authed.hooks().add(Direction::Output, |ctx| {
            ctx.headers
                .insert("authorization", HeaderValue::from_static("Bearer sesame"));
            HookAction::Continue
        });
        for _ in 0..3 {
            let reply: Kill = authed.call("Message", &request_msg()).await.unwrap();
            assert_eq!(reply.action.as_deref(), Some("wave at niels"));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    });
    // A wrong token from a raw client: 503 too.
    let body = request_msg().marshal();
    let mut s = connect(addr);
    let mut req = format!(
        "POST /.rpc.Message HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer guess\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    s.write_all(&req).unwrap();
    let (head, _) = read_response(&mut s);
    assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

/// A server input hook pausing every request and resuming it 50 ms later
/// from a timer task: continue for `from_name` "niels", terminate
/// otherwise.
fn pausing_server_hook(hooks: &Hooks) {
    hooks.add(Direction::Input, |ctx| {
        let msg = Msg::unmarshal(ctx.body).unwrap();
        let verdict = if msg.from_name.as_deref() == Some("niels") {
            Verdict::Continue
        } else {
            Verdict::Terminate
        };
        let (paused, resume) = pause();
        runtime::spawn(async move {
            runtime::time::sleep(Duration::from_millis(50)).await;
            resume.resume(verdict);
        });
        HookAction::Pause(paused)
    });
}

#[test]
fn a_server_hook_pauses_and_a_timer_resumes() {
    let (addr, calls) = hooked_server(pausing_server_hook);
    runtime::block_on(async move {
        let pool = Pool::new(addr, 2);
        let started = Instant::now();
        let reply: Kill = pool.call("Message", &request_msg()).await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert_eq!(reply.weapon.as_deref(), Some("dagger"));
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        // Resumed with terminate: 503, the handler never runs.
        let mut other = request_msg();
        other.from_name = Some("mallory".into());
        let err = pool.call::<Msg, Kill>("Message", &other).await.unwrap_err();
        assert!(matches!(err, RpcError::HttpStatus(s) if s == 503), "{err}");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn a_client_hook_pauses_and_a_timer_resumes() {
    let (addr, calls) = hooked_server(|_| {});
    runtime::block_on(async move {
        let pool = Pool::new(addr, 1);
        let verdict = Rc::new(Cell::new(Verdict::Continue));
        let v = verdict.clone();
        pool.hooks().add(Direction::Output, move |_| {
            let (paused, resume) = pause();
            let v = v.get();
            runtime::spawn(async move {
                runtime::time::sleep(Duration::from_millis(30)).await;
                resume.resume(v);
            });
            HookAction::Pause(paused)
        });
        let started = Instant::now();
        let _: Kill = pool.call("Message", &request_msg()).await.unwrap();
        assert!(started.elapsed() >= Duration::from_millis(30));
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        verdict.set(Verdict::Terminate);
        let err = pool
            .call::<Msg, Kill>("Message", &request_msg())
            .await
            .unwrap_err();
        assert!(matches!(err, RpcError::HookAborted), "{err}");
        assert_eq!(err.status(), Status::HookAborted);
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "an aborted request is not sent"
        );
        // The connection was given back: the next call goes through.
        verdict.set(Verdict::Continue);
        let _: Kill = pool.call("Message", &request_msg()).await.unwrap();
        assert_eq!((pool.busy(), pool.queued()), (0, 0));
    });
}

#[test]
fn a_dropped_resume_terminates() {
    let (addr, calls) = hooked_server(|_| {});
    runtime::block_on(async move {
        let pool = Pool::new(addr, 1);
        pool.hooks().add(Direction::Output, |_| {
            let (paused, resume) = pause();
            drop(resume);
            HookAction::Pause(paused)
        });
        let err = pool
            .call::<Msg, Kill>("Message", &request_msg())
            .await
            .unwrap_err();
        assert!(matches!(err, RpcError::HookAborted), "{err}");
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    });
}

#[test]
fn metadata_travels_from_output_to_input_hooks_on_both_sides() {
    // Server: the input hook notes the request id in the metadata, the
    // output hook finds it there and echoes it in a reply header.
    let (addr, _) = hooked_server(|hooks| {
        hooks.add(Direction::Input, |ctx| {
            let id = ctx
                .headers
                .get("x-request-id")
                .map(|v| v.as_bytes().to_vec());
            match id {
                Some(id) => {
                    ctx.meta.add("request-id", id);
                    HookAction::Continue
                }
                None => HookAction::Terminate,
            }
        });
        hooks.add(Direction::Output, |ctx| {
            let id = ctx.meta.find("request-id").expect("set by the input hook");
            ctx.headers
                .insert("x-echo-id", HeaderValue::from_bytes(id).unwrap());
            HookAction::Continue
        });
    });
    runtime::block_on(async move {
        let pool = Pool::new(addr, 1);
        let next = Rc::new(Cell::new(100u32));
        let n = next.clone();
        // Client: the output hook numbers the request and keeps the number
        // in the metadata; the input hook checks the server echoed it.
        pool.hooks().add(Direction::Output, move |ctx| {
            let id = n.get().to_string();
            n.set(n.get() + 1);
            ctx.headers
                .insert("x-request-id", HeaderValue::from_str(&id).unwrap());
            ctx.meta.add("sent-id", id);
            HookAction::Continue
        });
        pool.hooks().add(Direction::Input, |ctx| {
            let sent = ctx.meta.find("sent-id").expect("set by the output hook");
            match ctx.headers.get("x-echo-id") {
                Some(echo) if echo.as_bytes() == sent => {
                    let sent = sent.to_vec();
                    ctx.meta.add("checked", sent);
                    HookAction::Continue
                }
                _ => HookAction::Terminate,
            }
        });
        for expected in 100..103 {
            let mut start = Meta::default();
            start.add("caller", "test");
            let (reply, meta): (Kill, Meta) = pool
                .call_with_meta("Message", &request_msg(), start)
                .await
                .unwrap();
            assert_eq!(reply.how_often, [1]);
            assert_eq!(meta.find("caller"), Some(&b"test"[..]));
            assert_eq!(meta.find("checked"), Some(expected.to_string().as_bytes()));
            assert_eq!(meta.len(), 3);
        }
    });
}

/// XOR with a key: a toy "encryption" for hooks that rewrite the body.
fn scramble(body: &mut [u8]) {
    for b in body {
        *b ^= 0x5a;
    }
}

fn scrambling(hooks: &Hooks) {
    for direction in [Direction::Input, Direction::Output] {
        hooks.add(direction, |ctx| {
            scramble(ctx.body);
            HookAction::Continue
        });
    }
}

#[test]
fn hooks_rewrite_the_body_on_both_ends_and_can_be_removed() {
    let (addr, calls) = hooked_server(scrambling);
    runtime::block_on(async move {
        let pool = Pool::new(addr, 1);
        // Plain bytes do not decode after the server's input hook.
        let err = pool
            .call::<Msg, Kill>("Message", &request_msg())
            .await
            .unwrap_err();
        assert!(matches!(err, RpcError::HttpStatus(s) if s == 503), "{err}");
        assert_eq!(calls.load(Ordering::SeqCst), 0);

        scrambling(pool.hooks());
        let reply: Kill = pool.call("Message", &request_msg()).await.unwrap();
        assert_eq!(reply.action.as_deref(), Some("wave at niels"));

        // A client input hook that terminates: EVRPC_STATUS_ERR_HOOKABORTED
        // although the server answered.
        let id = pool
            .hooks()
            .add(Direction::Input, |_| HookAction::Terminate);
        let err = pool
            .call::<Msg, Kill>("Message", &request_msg())
            .await
            .unwrap_err();
        assert!(matches!(err, RpcError::HookAborted), "{err}");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert!(pool.hooks().remove(id));
        assert!(!pool.hooks().remove(id));
        let _: Kill = pool.call("Message", &request_msg()).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    });
}
