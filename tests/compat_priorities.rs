//! Priorities and dispatch limits across every source of callbacks of the
//! callback layer (`runtime::compat`): events, bufferevents and connection
//! listeners obey one rule, libevent's. After a callback of priority `p`
//! ran in a loop iteration, callbacks of less urgent priorities wait for
//! the next iteration, and `max_dispatch_interval` caps the callbacks of
//! an iteration. Over real sockets (socketpairs, TCP on 127.0.0.1).
//!
//! Iterations are told apart with `loopexit(None)` from a callback: the
//! loop ends after the iteration that callback ran in, so what ran by then
//! ran in that iteration. Every test runs on its own thread, bounded in
//! time, so a hang fails instead of blocking the run.

use runtime::compat::{
    BufferEvent, ConnListener, Event, EventBase, EventConfig, LoopExit, BEV_OPT_CLOSE_ON_FREE,
    EV_READ, LEV_OPT_CLOSE_ON_FREE, LEV_OPT_REUSEABLE,
};
use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::Duration;

#[path = "support/thread.rs"]
mod thread;
use thread::bounded;

type Log = Rc<RefCell<Vec<&'static str>>>;

fn log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

/// A reading bufferevent at `prio` over one end of a socketpair, with
/// `on_read` as its read callback; returns it and the peer socket.
fn reader(
    base: &EventBase,
    prio: usize,
    on_read: impl FnMut(&BufferEvent) + 'static,
) -> (BufferEvent, UnixStream) {
    let (mine, peer) = UnixStream::pair().unwrap();
    let bev = BufferEvent::socket_new(base, Some(mine.into()), BEV_OPT_CLOSE_ON_FREE).unwrap();
    bev.set_priority(prio).unwrap();
    assert_eq!(bev.priority(), prio);
    bev.setcb(Some(Box::new(on_read)), None, None).unwrap();
    bev.enable(EV_READ).unwrap();
    (bev, peer)
}

/// A read callback that logs `name`, empties the input, stops reading
/// and ends the loop after the current iteration. (Reading stops so that
/// the bufferevent's task does not queue itself again for one more read:
/// the executor would poll it again before less urgent tasks, within the
/// same iteration, and those would not get their turn to be held back.)
fn log_and_exit(log: &Log, name: &'static str) -> impl FnMut(&BufferEvent) + 'static {
    let log = log.clone();
    move |bev: &BufferEvent| {
        log.borrow_mut().push(name);
        let n = bev.input().len();
        bev.input().drain(n).unwrap();
        bev.disable(EV_READ).unwrap();
        bev.base().loopexit(None).unwrap();
    }
}

/// Reads everything there is on a non-blocking descriptor.
fn drain_fd(fd: RawFd) {
    let mut buf = [0u8; 256];
    // SAFETY: reads into a live buffer of the given length.
    while unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
}

/// A one-shot read event at `prio` on a socket that has data: its callback
/// logs `name`, drains the socket and ends the loop after the iteration.
fn ready_event(
    base: &EventBase,
    prio: usize,
    log: &Log,
    name: &'static str,
) -> (Event, UnixStream, UnixStream) {
    let (mut tx, rx) = UnixStream::pair().unwrap();
    rx.set_nonblocking(true).unwrap();
    let l = log.clone();
    let b = base.handle();
    let ev = Event::new(base, rx.as_raw_fd(), EV_READ, move |fd, _what| {
        l.borrow_mut().push(name);
        drain_fd(fd);
        b.loopexit(None).unwrap();
    })
    .unwrap();
    ev.set_priority(prio).unwrap();
    ev.add(None).unwrap();
    tx.write_all(b"ready").unwrap();
    (ev, tx, rx)
}

/// (a) Two bufferevents with input before one iteration: the urgent one's
/// read callback runs in it, the other one's in the next.
#[test]
fn bufferevent_priorities_one_level_per_iteration() {
    bounded(|| {
        let base = EventConfig::new().priorities(2).build().unwrap();
        let order = log();
        let (urgent, mut up) = reader(&base, 0, log_and_exit(&order, "urgent"));
        let (lazy, mut lp) = reader(&base, 1, log_and_exit(&order, "lazy"));
        lp.write_all(b"lazy").unwrap();
        up.write_all(b"urgent").unwrap();
        assert_eq!(base.loop_once().unwrap(), LoopExit::Done);
        assert_eq!(
            *order.borrow(),
            ["urgent"],
            "the less urgent bufferevent ran in the urgent one's iteration"
        );
        assert_eq!(lazy.input().len(), 0, "its read waits too");
        assert_eq!(base.loop_once().unwrap(), LoopExit::Done);
        assert_eq!(*order.borrow(), ["urgent", "lazy"]);
        urgent.free();
        lazy.free();
    });
}

/// (a, continued) EVLOOP_ONCE runs the held-back callback in a next
/// iteration before returning, as libevent's returns once nothing is
/// active any more.
#[test]
fn loop_once_runs_held_back_bufferevent_callbacks() {
    bounded(|| {
        let base = EventConfig::new().priorities(3).build().unwrap();
        let order = log();
        // Each reads once, then stops reading (so that nothing but the
        // held-back callback is left for a second iteration).
        let once = |name: &'static str| {
            let o = order.clone();
            move |bev: &BufferEvent| {
                o.borrow_mut().push(name);
                let n = bev.input().len();
                bev.input().drain(n).unwrap();
                bev.disable(EV_READ).unwrap();
            }
        };
        let (urgent, mut up) = reader(&base, 0, once("urgent"));
        let (lazy, mut lp) = reader(&base, 2, once("lazy"));
        lp.write_all(b"x").unwrap();
        up.write_all(b"x").unwrap();
        // No loopexit: one EVLOOP_ONCE pass runs both, in two iterations.
        assert_eq!(base.loop_once().unwrap(), LoopExit::Done);
        assert_eq!(*order.borrow(), ["urgent", "lazy"]);
        urgent.free();
        lazy.free();
    });
}

/// A bufferevent at `bev_prio` and an ordinary event at `ev_prio`, ready
/// together: the more urgent one's callback runs in the first iteration,
/// the other in the next (a bufferevent's callback counts for its
/// priority as an event's does).
fn bufferevent_and_event(bev_prio: usize, ev_prio: usize, order_expected: [&str; 2]) {
    let base = EventConfig::new().priorities(2).build().unwrap();
    let order = log();
    let (bev, mut peer) = reader(&base, bev_prio, log_and_exit(&order, "bev"));
    peer.write_all(b"data").unwrap();
    let (ev, _tx, _rx) = ready_event(&base, ev_prio, &order, "event");
    assert_eq!(base.loop_once().unwrap(), LoopExit::Done);
    assert_eq!(*order.borrow(), order_expected[..1]);
    assert_eq!(base.loop_once().unwrap(), LoopExit::Done);
    assert_eq!(*order.borrow(), order_expected);
    ev.free();
    bev.free();
}

/// (b) An ordinary event at priority 0 and a bufferevent at priority 1:
/// the event first, the bufferevent at the next iteration.
#[test]
fn bufferevent_waits_behind_an_urgent_event() {
    bounded(|| bufferevent_and_event(1, 0, ["event", "bev"]));
}

/// The other way round: a less urgent event waits behind a bufferevent.
#[test]
fn event_waits_behind_an_urgent_bufferevent() {
    bounded(|| bufferevent_and_event(0, 1, ["bev", "event"]));
}

/// (c) `max_dispatch_interval(None, 1, 0)`: two ready bufferevents get one
/// callback per iteration.
#[test]
fn max_dispatch_one_callback_per_iteration_for_bufferevents() {
    bounded(|| {
        let base = EventConfig::new()
            .max_dispatch_interval(None, 1, 0)
            .build()
            .unwrap();
        let order = log();
        let (a, mut pa) = reader(&base, 0, log_and_exit(&order, "a"));
        let (b, mut pb) = reader(&base, 0, log_and_exit(&order, "b"));
        pa.write_all(b"a").unwrap();
        pb.write_all(b"b").unwrap();
        base.loop_once().unwrap();
        assert_eq!(order.borrow().len(), 1, "{:?}", order.borrow());
        base.loop_once().unwrap();
        let mut got = order.borrow().clone();
        got.sort();
        assert_eq!(got, ["a", "b"]);

        // Without the exits, EVLOOP_ONCE still runs them all, one per
        // iteration.
        order.borrow_mut().clear();
        let mk = |name: &'static str| {
            let o = order.clone();
            Box::new(move |bev: &BufferEvent| {
                o.borrow_mut().push(name);
                let n = bev.input().len();
                bev.input().drain(n).unwrap();
                bev.disable(EV_READ).unwrap();
            })
        };
        a.setcb(Some(mk("a")), None, None).unwrap();
        b.setcb(Some(mk("b")), None, None).unwrap();
        a.enable(EV_READ).unwrap();
        b.enable(EV_READ).unwrap();
        pa.write_all(b"a").unwrap();
        pb.write_all(b"b").unwrap();
        base.loop_once().unwrap();
        let mut got = order.borrow().clone();
        got.sort();
        assert_eq!(got, ["a", "b"]);
        a.free();
        b.free();
    });
}

/// (c, continued) The limit applies from `min_priority` on: more urgent
/// bufferevents are not limited.
#[test]
fn max_dispatch_spares_priorities_below_min_priority() {
    bounded(|| {
        let base = EventConfig::new()
            .priorities(2)
            .max_dispatch_interval(None, 1, 1)
            .build()
            .unwrap();
        let order = log();
        let (a, mut pa) = reader(&base, 0, log_and_exit(&order, "a"));
        let (b, mut pb) = reader(&base, 0, log_and_exit(&order, "b"));
        pa.write_all(b"a").unwrap();
        pb.write_all(b"b").unwrap();
        base.loop_once().unwrap();
        let mut got = order.borrow().clone();
        got.sort();
        assert_eq!(got, ["a", "b"], "both in the first iteration");
        a.free();
        b.free();
    });
}

/// (d) A listener's accept callback (the base's default priority) waits
/// behind an urgent event ready in the same iteration.
#[test]
fn listener_accept_waits_behind_an_urgent_event() {
    bounded(|| {
        let base = EventConfig::new().priorities(2).build().unwrap();
        let order = log();
        let conns = Rc::new(RefCell::new(Vec::new()));
        let (o, c) = (order.clone(), conns.clone());
        let listener = ConnListener::bind(
            &base,
            "127.0.0.1:0".parse().unwrap(),
            LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE,
            16,
            move |l, conn, _peer| {
                o.borrow_mut().push("accept");
                c.borrow_mut().push(conn);
                l.base().loopexit(None).unwrap();
            },
        )
        .unwrap();
        let addr = listener.local_addr().unwrap();
        // On loopback the handshake completes in connect(): the
        // connection is in the backlog before the loop starts.
        let mut client = TcpStream::connect(addr).unwrap();
        let (ev, _tx, _rx) = ready_event(&base, 0, &order, "event");
        assert_eq!(base.loop_once().unwrap(), LoopExit::Done);
        assert_eq!(*order.borrow(), ["event"]);
        assert!(conns.borrow().is_empty());
        assert_eq!(base.loop_once().unwrap(), LoopExit::Done);
        assert_eq!(*order.borrow(), ["event", "accept"]);
        // The accepted connection works.
        conns.borrow_mut()[0].write_all(b"hi").unwrap();
        let mut buf = [0u8; 2];
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        client.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hi");
        ev.free();
        listener.free();
    });
}

/// EVLOOP_ONCE with a bufferevent held back by priority that, when its
/// turn comes, has nothing to deliver (no data arrived): the pass returns
/// rather than waiting for more events.
#[test]
fn loop_once_returns_when_a_held_back_bufferevent_has_nothing_to_do() {
    bounded(|| {
        let base = EventConfig::new().priorities(2).build().unwrap();
        let order = log();
        let (urgent, mut up) = reader(&base, 0, {
            let o = order.clone();
            move |bev: &BufferEvent| {
                o.borrow_mut().push("urgent");
                let n = bev.input().len();
                bev.input().drain(n).unwrap();
                bev.disable(EV_READ).unwrap();
            }
        });
        // Reading, but its peer never writes: its task (woken by enable)
        // is held back behind the urgent callback, then finds nothing.
        let (idle, _ip) = reader(&base, 1, log_and_exit(&order, "idle"));
        up.write_all(b"x").unwrap();
        assert_eq!(base.loop_once().unwrap(), LoopExit::Done);
        assert_eq!(*order.borrow(), ["urgent"]);
        urgent.free();
        idle.free();
    });
}

/// `max_dispatch_interval` configures the executor's one policy, so the
/// futures tasks of the base's runtime count against it like callbacks:
/// with one poll per iteration, a task spawned after an event was made
/// active waits for the iteration after the event's callback (whose
/// `loopexit` ends the loop there). Before, the base counted callbacks
/// only and the executor had no limit: the task ran in the same
/// iteration.
#[test]
fn max_dispatch_interval_limits_the_futures_tasks_of_the_base_too() {
    bounded(|| {
        let base = EventConfig::new()
            .max_dispatch_interval(None, 1, 0)
            .build()
            .unwrap();
        let md = base.runtime().max_dispatch();
        assert_eq!(
            (md.interval(), md.callbacks(), md.min_priority()),
            (None, 1, 0)
        );
        let order = log();
        let (o, b) = (order.clone(), base.handle());
        let ev = Event::new(&base, -1, Default::default(), move |_, _| {
            o.borrow_mut().push("event");
            b.loopexit(None).unwrap();
        })
        .unwrap();
        ev.active(Default::default()).unwrap();
        let o = order.clone();
        let task = base
            .runtime()
            .spawn(async move { o.borrow_mut().push("task") });
        assert_eq!(base.dispatch().unwrap(), LoopExit::Done);
        assert_eq!(*order.borrow(), ["event"]);
        assert!(!task.is_finished());
        base.runtime().run_once(false);
        assert!(task.is_finished());
        assert_eq!(*order.borrow(), ["event", "task"]);
    });
}
