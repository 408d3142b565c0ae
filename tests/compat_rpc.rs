//! The evrpc callback shape of `runtime::compat` over real sockets on
//! 127.0.0.1: RPCs registered on a compat `Http` (answered at once, later
//! from a timer, incomplete → 503, undecodable or GET → 503, unregistered
//! → 404) and called through an `RpcPool` whose completion callbacks run
//! in the base's loop, more requests than connections queued in order.

#[path = "support/http.rs"]
mod http_support;

include!("../rpc/tests/support/regress.rs");

use runtime::compat::rpc::{RpcHttpExt, RpcPool, RpcRequest};
use runtime::compat::{EventBase, Http, EV_TIMEOUT};
use runtime::rpc::{Message, RpcError, Status};
use std::cell::RefCell;
use std::io::Write;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

fn msg(from: &str) -> Msg {
    Msg {
        from_name: Some(from.into()),
        to_name: Some("tester".into()),
        attack: None,
        run: vec![Run {
            how: Some("fast".into()),
            fixed_bytes: Some([1; 24]),
            ..Run::default()
        }],
    }
}

fn answer(call: &mut RpcRequest<Msg, Kill>) {
    call.reply.weapon = Some("dagger".into());
    call.reply.action = Some(format!(
        "wave at {}",
        call.request.from_name.as_deref().unwrap()
    ));
    call.reply.how_often.push(call.request.run.len() as u32);
}

/// `Message` answers at once; `Later` 30 ms later from a timer;
/// `Incomplete` leaves `action` unset.
fn serve(base: &EventBase) -> (Http, SocketAddr) {
    let http = Http::new(base).unwrap();
    http.rpc_register("Message", |mut call: RpcRequest<Msg, Kill>| {
        answer(&mut call);
        call.done().unwrap();
    })
    .unwrap();
    let b = base.handle();
    http.rpc_register("Later", move |mut call: RpcRequest<Msg, Kill>| {
        answer(&mut call);
        b.once(
            -1,
            EV_TIMEOUT,
            Some(Duration::from_millis(30)),
            move |_, _| {
                call.done().unwrap();
            },
        )
        .unwrap();
    })
    .unwrap();
    http.rpc_register("Incomplete", |mut call: RpcRequest<Msg, Kill>| {
        call.reply.weapon = Some("dagger".into());
        call.done().unwrap();
    })
    .unwrap();
    assert!(http
        .rpc_register("Message", |_: RpcRequest<Msg, Kill>| {})
        .is_err());
    let addr = http
        .bind_socket_with_handle("127.0.0.1", 0)
        .unwrap()
        .local_addr()
        .unwrap();
    (http, addr)
}

type Outcome = (String, Result<Kill, (Status, String)>);

#[test]
fn register_and_make_request_with_completion_callbacks() {
    let base = EventBase::new().unwrap();
    let (http, addr) = serve(&base);
    let pool = RpcPool::new(&base.handle(), addr, 2).unwrap();
    let outcomes: Rc<RefCell<Vec<Outcome>>> = Rc::default();
    let calls = [
        ("Message", "a"),
        ("Later", "b"),
        ("Message", "c"),
        ("Incomplete", "d"),
        ("Missing", "e"),
        ("Message", "f"),
    ];
    for (name, from) in calls {
        let out = outcomes.clone();
        let b = base.handle();
        pool.make_request(name, &msg(from), move |r: Result<Kill, RpcError>| {
            let mut out = out.borrow_mut();
            out.push((from.to_string(), r.map_err(|e| (e.status(), e.to_string()))));
            if out.len() == calls.len() {
                b.loopbreak().unwrap();
            }
        })
        .unwrap();
    }
    // Six requests on two connections: four wait in the pool.
    assert_eq!(
        pool.pool().busy() + pool.pool().queued(),
        0,
        "nothing runs before the loop"
    );
    base.dispatch().unwrap();
    let mut outcomes = outcomes.take();
    outcomes.sort_by(|a, b| a.0.cmp(&b.0));
    let ok = |o: &Outcome| o.1.as_ref().map(|k| k.action.clone().unwrap()).ok();
    assert_eq!(ok(&outcomes[0]).as_deref(), Some("wave at a"));
    assert_eq!(ok(&outcomes[1]).as_deref(), Some("wave at b"));
    assert_eq!(ok(&outcomes[2]).as_deref(), Some("wave at c"));
    assert_eq!(
        outcomes[3].1.as_ref().unwrap_err().0,
        Status::BadPayload,
        "incomplete reply → 503"
    );
    assert!(outcomes[3].1.as_ref().unwrap_err().1.contains("503"));
    assert!(
        outcomes[4].1.as_ref().unwrap_err().1.contains("404"),
        "{:?}",
        outcomes[4]
    );
    assert_eq!(ok(&outcomes[5]).as_deref(), Some("wave at f"));
    assert_eq!((pool.pool().busy(), pool.pool().queued()), (0, 0));

    // Unregistered: 404 from then on.
    http.rpc_unregister("Message").unwrap();
    let out = outcomes_of(&base, &pool, "Message");
    assert!(out.unwrap_err().to_string().contains("404"));
}

fn outcomes_of(base: &EventBase, pool: &RpcPool, name: &str) -> Result<Kill, RpcError> {
    let got = Rc::new(RefCell::new(None));
    let g = got.clone();
    let b = base.handle();
    pool.make_request(name, &msg("z"), move |r: Result<Kill, RpcError>| {
        *g.borrow_mut() = Some(r);
        b.loopbreak().unwrap();
    })
    .unwrap();
    base.dispatch().unwrap();
    let r = got.borrow_mut().take().expect("callback ran");
    r
}

#[test]
fn bad_requests_get_503_and_a_pool_timeout_reports_timeout() {
    let base = EventBase::new().unwrap();
    let (http, addr) = serve(&base);
    // A server that never answers: the registered callback keeps the call.
    let kept: Rc<RefCell<Vec<RpcRequest<Msg, Kill>>>> = Rc::default();
    let k = kept.clone();
    http.rpc_register("Never", move |call| k.borrow_mut().push(call))
        .unwrap();
    // Raw clients on a thread: GET, an empty POST, garbage.
    let client = std::thread::spawn(move || {
        let mut statuses = Vec::new();
        for req in [
            "GET /.rpc.Message HTTP/1.1\r\nHost: x\r\n\r\n".to_string(),
            "POST /.rpc.Message HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".to_string(),
            "POST /.rpc.Message HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n\x01\x7f\x00"
                .to_string(),
        ] {
            let mut s = http_support::connect(addr);
            s.write_all(req.as_bytes()).unwrap();
            let (head, _) = http_support::read_response(&mut s);
            statuses.push(head.lines().next().unwrap().to_string());
        }
        statuses
    });
    let pool = RpcPool::new(&base.handle(), addr, 1).unwrap();
    pool.set_timeout(Some(Duration::from_millis(100)));
    let r = outcomes_of(&base, &pool, "Never");
    let err = r.unwrap_err();
    assert!(matches!(err, RpcError::Timeout), "{err}");
    assert_eq!(err.status(), Status::Timeout);
    assert_eq!(kept.borrow().len(), 1);
    // Keep the loop running until the raw clients are done.
    while !client.is_finished() {
        base.loop_once().unwrap();
    }
    let statuses = client.join().unwrap();
    for s in &statuses {
        assert!(s.starts_with("HTTP/1.1 503 "), "{statuses:?}");
    }
    // The kept call, never answered, is dropped with its HTTP request.
    let call = kept.borrow_mut().pop().unwrap();
    assert!(!call.reply.complete());
    drop(call);
}

#[test]
fn server_hooks_in_the_callback_shape_pause_refuse_and_carry_metadata() {
    use runtime::http::http::HeaderValue;
    use runtime::rpc::hook::{pause, Verdict};
    use runtime::rpc::{Direction, HookAction, Hooks};

    let base = EventBase::new().unwrap();
    let http = Http::new(&base).unwrap();
    let hooks = Hooks::new();
    // Input: refuse requests without the token, note the user in the
    // metadata, then pause 20 ms (resumed from a libevent-style timer).
    hooks.add(Direction::Input, |ctx| {
        match ctx.headers.get("x-token").map(|v| v.as_bytes().to_vec()) {
            Some(user) if user.starts_with(b"ok-") => {
                ctx.meta.add("user", &user[3..]);
                HookAction::Continue
            }
            _ => HookAction::Terminate,
        }
    });
    let b = base.handle();
    hooks.add(Direction::Input, move |_| {
        let (paused, resume) = pause();
        b.once(
            -1,
            EV_TIMEOUT,
            Some(Duration::from_millis(20)),
            move |_, _| resume.resume(Verdict::Continue),
        )
        .unwrap();
        HookAction::Pause(paused)
    });
    // Output: say who was served, from the metadata.
    hooks.add(Direction::Output, |ctx| {
        let user = ctx.meta.find("user").unwrap().to_vec();
        ctx.headers
            .insert("x-served", HeaderValue::from_bytes(&user).unwrap());
        HookAction::Continue
    });
    http.rpc_register_with_hooks("Message", &hooks, |mut call: RpcRequest<Msg, Kill>| {
        let user = String::from_utf8(call.meta().find("user").unwrap().to_vec()).unwrap();
        answer(&mut call);
        call.reply.action = Some(format!("wave at {user}"));
        call.done().unwrap();
    })
    .unwrap();
    let addr = http
        .bind_socket_with_handle("127.0.0.1", 0)
        .unwrap()
        .local_addr()
        .unwrap();

    let anonymous = RpcPool::new(&base.handle(), addr, 1).unwrap();
    let err = outcomes_of(&base, &anonymous, "Message").unwrap_err();
    assert!(err.to_string().contains("503"), "{err}");

    let pool = RpcPool::new(&base.handle(), addr, 1).unwrap();
    pool.hooks().add(Direction::Output, |ctx| {
        ctx.headers
            .insert("x-token", HeaderValue::from_static("ok-alice"));
        HookAction::Continue
    });
    let served = Rc::new(RefCell::new(None));
    let s = served.clone();
    pool.hooks().add(Direction::Input, move |ctx| {
        *s.borrow_mut() = ctx
            .headers
            .get("x-served")
            .map(|v| v.to_str().unwrap().to_owned());
        HookAction::Continue
    });
    let started = std::time::Instant::now();
    let kill = outcomes_of(&base, &pool, "Message").unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(20),
        "the pause held the request"
    );
    assert_eq!(kill.action.as_deref(), Some("wave at alice"));
    assert_eq!(served.borrow().as_deref(), Some("alice"));
}
