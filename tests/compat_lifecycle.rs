//! Who owns what in the callback layer (`runtime::compat`): a base's
//! tasks always run on the base's own executor, whichever runtime is
//! current when they are created, and dropping the base releases every
//! object it owns, reference cycles through callbacks included. Over real
//! sockets; every test is bounded in time.

use runtime::compat::*;
use runtime::Runtime;
use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::Duration;

#[path = "support/thread.rs"]
mod thread;
use thread::bounded;

/// Runs the base's loop, but for at most `limit`: a callback that never
/// fires shows as a failed assertion, not as a hang.
fn dispatch_for(base: &EventBase, limit: Duration) {
    base.loopexit(Some(limit)).unwrap();
    base.dispatch().unwrap();
}

/// Counts drops: captured by a callback, it tells whether the callback
/// (and so the cycle through it) was released.
struct DropCounter(Rc<Cell<usize>>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn priority_event_added_while_another_runtime_runs_fires_on_its_base() {
    bounded(|| {
        let base = EventConfig::new().priorities(3).build().unwrap();
        let other = Runtime::new().unwrap();
        let fired = Rc::new(Cell::new(0));
        let f = fired.clone();
        let b = base.handle();
        let timer = Event::new_timer(&base, move |_, what| {
            assert_eq!(what, EV_TIMEOUT);
            f.set(f.get() + 1);
            b.loopbreak().unwrap();
        })
        .unwrap();
        timer.set_priority(0).unwrap(); // not the default (1)
        let f = fired.clone();
        let b = base.handle();
        let user = Event::new_user(&base, move |_, _| {
            f.set(f.get() + 10);
            b.loopbreak().unwrap();
        })
        .unwrap();
        user.set_priority(2).unwrap();
        // Added and activated from inside another runtime's block_on: the
        // tasks must still be the base's.
        other.block_on(async {
            timer.add(Some(Duration::from_millis(1))).unwrap();
        });
        dispatch_for(&base, Duration::from_secs(3));
        assert_eq!(fired.get(), 1, "the timer of priority 0 fired on its base");
        other.block_on(async { user.trigger().unwrap() });
        dispatch_for(&base, Duration::from_secs(3));
        assert_eq!(fired.get(), 11, "the user event of priority 2 fired");
        // The other runtime got none of them.
        assert_eq!(other.alive_tasks(), 0);
    });
}

#[test]
fn bufferevent_created_inside_another_runtime_runs_on_its_base() {
    bounded(|| {
        let base = EventConfig::new().priorities(2).build().unwrap();
        let other = Runtime::new().unwrap();
        let (mine, peer) = UnixStream::pair().unwrap();
        let got = Rc::new(RefCell::new(Vec::new()));
        let g = got.clone();
        let bev = other.block_on(async {
            let bev =
                BufferEvent::socket_new(&base, Some(mine.into()), BEV_OPT_CLOSE_ON_FREE).unwrap();
            bev.set_priority(0).unwrap();
            bev
        });
        bev.setcb(
            Some(Box::new(move |bev: &BufferEvent| {
                g.borrow_mut().extend(bev.input().to_vec().unwrap());
                bev.input().clear().unwrap();
                bev.base().loopbreak().unwrap();
            })),
            None,
            None,
        )
        .unwrap();
        other.block_on(async { bev.enable(EV_READ).unwrap() });
        (&peer).write_all(b"hello").unwrap();
        dispatch_for(&base, Duration::from_secs(3));
        assert_eq!(&got.borrow()[..], b"hello");
        assert_eq!(other.alive_tasks(), 0);
        bev.free();
    });
}

#[test]
fn dropping_the_base_releases_a_bufferevent_whose_callback_holds_it() {
    bounded(|| {
        let (mine, mut peer) = UnixStream::pair().unwrap();
        let drops = Rc::new(Cell::new(0));
        {
            let base = EventBase::new().unwrap();
            let bev =
                BufferEvent::socket_new(&base, Some(OwnedFd::from(mine)), BEV_OPT_CLOSE_ON_FREE)
                    .unwrap();
            // The read callback holds a handle to its own bufferevent: a
            // reference cycle through the closure.
            let me = bev.clone();
            let counter = DropCounter(drops.clone());
            bev.setcb(
                Some(Box::new(move |_bev: &BufferEvent| {
                    let _keep = (&me, &counter);
                })),
                None,
                None,
            )
            .unwrap();
            bev.enable(EV_READ).unwrap();
            drop(bev);
            assert_eq!(base.loop_nonblock().unwrap(), LoopExit::Done);
            assert_eq!(drops.get(), 0);
        }
        // The base is gone: the callback was dropped (the cycle broken) and
        // the socket closed, so the peer reads end of stream.
        assert_eq!(drops.get(), 1, "the callback was released");
        peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut rest = Vec::new();
        peer.read_to_end(&mut rest)
            .expect("end of stream, not a timeout");
        assert!(rest.is_empty());
    });
}

#[test]
fn dropping_the_base_releases_events_and_listeners_holding_themselves() {
    bounded(|| {
        let drops = Rc::new(Cell::new(0));
        let (a, _b) = UnixStream::pair().unwrap();
        {
            let base = EventBase::new().unwrap();
            // An event that is not pending, whose callback holds itself.
            let ev = Event::new_user(&base, |_, _| {}).unwrap();
            let me = ev.clone();
            let counter = DropCounter(drops.clone());
            ev.set_callback(move |_, _, _| {
                let _keep = (&me, &counter);
            })
            .unwrap();
            // A pending descriptor event holding itself.
            let ev2 = Event::new(
                &base,
                std::os::fd::AsRawFd::as_raw_fd(&a),
                EV_READ,
                |_, _| {},
            )
            .unwrap();
            let me2 = ev2.clone();
            let counter2 = DropCounter(drops.clone());
            ev2.set_callback(move |_, _, _| {
                let _keep = (&me2, &counter2);
            })
            .unwrap();
            ev2.add(None).unwrap();
            // A listener whose accept callback holds its own handle.
            let slot: Rc<RefCell<Option<ConnListener>>> = Rc::new(RefCell::new(None));
            let s = slot.clone();
            let counter3 = DropCounter(drops.clone());
            let l = ConnListener::bind(
                &base,
                "127.0.0.1:0".parse().unwrap(),
                LEV_OPT_REUSEABLE,
                -1,
                move |_, _, _| {
                    let _keep = (&s, &counter3);
                },
            )
            .unwrap();
            *slot.borrow_mut() = Some(l.clone());
            drop((ev, ev2, l));
            assert_eq!(drops.get(), 0);
        }
        assert_eq!(drops.get(), 3, "every callback was released with the base");
    });
}
