//! The executor's one scheduling policy through the public API, identical
//! in `Runtime::run_once` and `Runtime::block_on`: an iteration polls, once
//! each, the tasks of the most urgent priority that were ready when it
//! started; tasks woken during it wait for the next one; less urgent ones
//! wait for an iteration in which nothing more urgent is ready; and
//! `max_dispatch` caps the polls or the time of an iteration. Readiness
//! comes from real descriptors (Unix socketpairs).

use runtime::{spawn_with_priority, Builder, MaxDispatch, Runtime};
use std::cell::{Cell, RefCell};
use std::future::{poll_fn, Future};
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

type Log = Rc<RefCell<Vec<&'static str>>>;

/// A task that counts its polls in `polls`, wakes itself `wakes` times
/// (once per poll) and then finishes, logging `name` at each poll.
fn self_waker(
    name: &'static str,
    wakes: usize,
    polls: Rc<Cell<usize>>,
    log: Log,
) -> impl Future<Output = ()> {
    poll_fn(move |cx| {
        polls.set(polls.get() + 1);
        log.borrow_mut().push(name);
        if polls.get() > wakes {
            return Poll::Ready(());
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    })
}

/// A task that logs `name` and finishes.
fn logger(name: &'static str, log: &Log) -> impl Future<Output = ()> {
    let log = log.clone();
    async move { log.borrow_mut().push(name) }
}

fn take(log: &Log) -> Vec<&'static str> {
    std::mem::take(&mut *log.borrow_mut())
}

fn rt(priorities: usize) -> Runtime {
    Builder::new()
        .priorities(priorities)
        .unwrap()
        .build()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// One poll per task per iteration (issue 9, item 8)

#[test]
fn run_once_polls_a_self_waking_task_once_per_call() {
    let rt = rt(1);
    let log = Log::default();
    let polls = Rc::new(Cell::new(0));
    let h = rt.spawn(self_waker("a", usize::MAX, polls.clone(), log.clone()));
    for i in 1..=5 {
        assert_eq!(rt.run_once(false), 1);
        assert_eq!(polls.get(), i);
        assert_eq!(rt.ready_tasks(), 1, "it woke itself for the next iteration");
    }
    h.abort();
    rt.run_once(false);
    assert!(h.is_finished());
}

#[test]
fn self_woken_urgent_task_is_not_polled_twice_in_one_iteration() {
    // Before the fix `run_once` popped as many tasks as were queued, most
    // urgent first: the self-waking priority-0 task was popped again in
    // place of the priority-1 one, i.e. polled twice in one iteration.
    let rt = rt(2);
    let log = Log::default();
    let polls = Rc::new(Cell::new(0));
    rt.spawn_with_priority(0, self_waker("urgent", 1, polls.clone(), log.clone()))
        .unwrap();
    rt.spawn_with_priority(0, logger("urgent2", &log)).unwrap();
    rt.spawn_with_priority(1, logger("low", &log)).unwrap();
    assert_eq!(rt.run_once(false), 2);
    assert_eq!(take(&log), ["urgent", "urgent2"]);
    assert_eq!(polls.get(), 1);
    assert_eq!(rt.held_back(), 1, "the priority-1 task was ready and left");
    // Next iteration: the urgent task woke itself, so priority 0 goes again.
    assert_eq!(rt.run_once(false), 1);
    assert_eq!(take(&log), ["urgent"]);
    assert_eq!(rt.held_back(), 1);
    assert_eq!(rt.run_once(false), 1);
    assert_eq!(take(&log), ["low"]);
    assert_eq!(rt.held_back(), 0);
    assert_eq!(rt.ready_tasks(), 0);
}

#[test]
#[cfg_attr(
    miri,
    ignore = "Miri cannot emulate socket calls (recv/ioctl) on a socketpair"
)]
fn run_once_runs_every_task_ready_when_it_started_and_no_later_one() {
    let rt = rt(1);
    let log = Log::default();
    let (a, mut b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    // A reader woken by the reactor during this run_once's look at it.
    let l = log.clone();
    let reader = rt.spawn(async move {
        let mut a = runtime::net::UnixStream::from_std(a).unwrap();
        let mut buf = [0u8; 8];
        let n = a.read(&mut buf).await.unwrap();
        l.borrow_mut().push("read");
        n
    });
    assert_eq!(rt.run_once(false), 1, "the reader registers and waits");
    assert!(take(&log).is_empty());
    // A task queued before the call, which spawns (wakes) another one.
    let l = log.clone();
    let rt2 = Rc::new(rt);
    let inner = rt2.clone();
    let spawner = rt2.spawn(async move {
        l.borrow_mut().push("spawner");
        drop(inner.spawn(logger("spawned", &l)));
    });
    b.write_all(b"x").unwrap();
    assert_eq!(rt2.run_once(true), 2);
    assert_eq!(take(&log), ["spawner", "read"]);
    assert!(reader.is_finished() && spawner.is_finished());
    assert_eq!(rt2.held_back(), 0);
    assert_eq!(rt2.ready_tasks(), 1, "the task spawned during it waits");
    assert_eq!(rt2.run_once(true), 1);
    assert_eq!(take(&log), ["spawned"]);
}

#[test]
fn block_on_polls_a_self_waking_task_once_per_iteration() {
    // Two self-waking tasks and a main future that counts how often each
    // was polled between two of its own polls: never more than once.
    let rt = rt(1);
    let log = Log::default();
    let (pa, pb) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
    let worst = rt.block_on(async {
        rt.spawn(self_waker("a", 200, pa.clone(), log.clone()));
        rt.spawn(self_waker("b", 200, pb.clone(), log.clone()));
        let mut worst = 0;
        let mut last = (0, 0);
        poll_fn(|cx| {
            let now = (pa.get(), pb.get());
            worst = worst.max(now.0 - last.0).max(now.1 - last.1);
            last = now;
            if now.0 > 200 && now.1 > 200 {
                return Poll::Ready(());
            }
            cx.waker().wake_by_ref();
            Poll::Pending
        })
        .await;
        worst
    });
    assert_eq!(worst, 1);
    let log = take(&log);
    // Strict alternation: each iteration polls a then b.
    assert!(log.chunks(2).all(|c| c == ["a", "b"]), "{log:?}");
}

// ---------------------------------------------------------------------------------------------
// Priorities

#[test]
fn run_once_runs_one_priority_level_per_iteration() {
    let rt = rt(3);
    let log = Log::default();
    for (p, name) in [(2, "p2"), (1, "p1a"), (0, "p0"), (1, "p1b")] {
        rt.spawn_with_priority(p, logger(name, &log)).unwrap();
    }
    assert_eq!(rt.ready_tasks(), 4);
    assert_eq!(rt.run_once(false), 1);
    assert_eq!(take(&log), ["p0"]);
    assert_eq!(rt.held_back(), 3);
    assert_eq!(rt.run_once(false), 2);
    assert_eq!(take(&log), ["p1a", "p1b"]);
    assert_eq!(rt.held_back(), 1);
    assert_eq!(rt.run_once(false), 1);
    assert_eq!(take(&log), ["p2"]);
    assert_eq!(rt.held_back(), 0);
    assert_eq!(rt.run_once(false), 0);
}

#[test]
fn urgent_task_woken_during_a_less_urgent_iteration_runs_in_the_next_one() {
    // block_on and run_once alike: the iteration at priority 2 finishes
    // before the priority-0 task it woke runs.
    let expect = ["low1", "low2", "low3", "urgent"];
    for use_block_on in [false, true] {
        let rt = rt(3);
        let log = Log::default();
        let urgent_waker: Rc<RefCell<Option<std::task::Waker>>> = Rc::default();
        let (w, l) = (urgent_waker.clone(), log.clone());
        let started = Rc::new(Cell::new(false));
        let s = started.clone();
        let urgent = rt
            .spawn_with_priority(
                0,
                poll_fn(move |cx| {
                    if s.replace(true) {
                        l.borrow_mut().push("urgent");
                        return Poll::Ready(());
                    }
                    *w.borrow_mut() = Some(cx.waker().clone());
                    Poll::Pending
                }),
            )
            .unwrap();
        assert_eq!(rt.run_once(false), 1, "the urgent task parks");
        for name in ["low1", "low2", "low3"] {
            let (w, l) = (urgent_waker.clone(), log.clone());
            rt.spawn_with_priority(2, async move {
                l.borrow_mut().push(name);
                if let Some(w) = w.borrow_mut().take() {
                    w.wake();
                }
            })
            .unwrap();
        }
        if use_block_on {
            rt.block_on(urgent).unwrap();
        } else {
            assert_eq!(rt.run_once(false), 3);
            assert_eq!(rt.run_once(false), 1);
            assert!(urgent.is_finished());
        }
        assert_eq!(take(&log), expect, "block_on: {use_block_on}");
    }
}

#[test]
fn set_priority_moves_a_task_to_another_queue_from_its_next_wake() {
    let rt = rt(3);
    let log = Log::default();
    let polls = Rc::new(Cell::new(0));
    let h = rt
        .spawn_with_priority(2, self_waker("moved", 1, polls.clone(), log.clone()))
        .unwrap();
    assert_eq!(h.priority(), 2);
    rt.spawn_with_priority(1, logger("p1", &log)).unwrap();
    // Queued at 2: changing it now takes effect at its next wake-up.
    h.set_priority(0).unwrap();
    assert_eq!(h.priority(), 0);
    assert!(h.set_priority(3).is_err());
    assert_eq!(h.priority(), 0);
    assert_eq!(rt.run_once(false), 1);
    assert_eq!(take(&log), ["p1"]);
    assert_eq!(rt.run_once(false), 1);
    assert_eq!(take(&log), ["moved"]);
    rt.spawn_with_priority(1, logger("p1 again", &log)).unwrap();
    // It woke itself at priority 0 now: it goes first.
    assert_eq!(rt.run_once(false), 1);
    assert_eq!(take(&log), ["moved"]);
    assert_eq!(rt.run_once(false), 1);
    assert_eq!(take(&log), ["p1 again"]);
    assert!(h.is_finished());
}

#[test]
fn runtime_spawn_with_priority_goes_to_that_runtime_inside_another() {
    let outer = Runtime::new().unwrap();
    let target = rt(2);
    let log = Log::default();
    let mut h = None;
    outer.block_on(async {
        h = Some(
            target
                .spawn_with_priority(0, logger("on target", &log))
                .unwrap(),
        );
        assert!(target.spawn_with_priority(2, async {}).is_err());
        // Inside `outer`, the free function spawns on `outer`.
        spawn_with_priority(0, async {}).unwrap().await.unwrap();
    });
    let h = h.unwrap();
    assert!(take(&log).is_empty());
    assert_eq!(outer.alive_tasks(), 0);
    assert_eq!(target.alive_tasks(), 1);
    assert_eq!(target.run_once(false), 1);
    assert_eq!(take(&log), ["on target"]);
    assert!(h.is_finished());
}

#[test]
fn set_task_priority_moves_a_queued_task_at_once() {
    let rt = rt(2);
    let log = Log::default();
    let lazy = rt.spawn_with_priority(1, logger("lazy", &log)).unwrap();
    let urgent = rt.spawn_with_priority(1, logger("urgent", &log)).unwrap();
    // Both are queued at 1 (spawned). Moved now, the urgent one runs in an
    // iteration of its own, first; JoinHandle::set_priority would leave it
    // queued at 1, beside the lazy one.
    rt.set_task_priority(&urgent, 0).unwrap();
    assert_eq!(urgent.priority(), 0);
    assert_eq!(rt.run_once(false), 1);
    assert_eq!(take(&log), ["urgent"]);
    assert_eq!(rt.held_back(), 1);
    assert_eq!(rt.run_once(false), 1);
    assert_eq!(take(&log), ["lazy"]);
    assert!(lazy.is_finished() && urgent.is_finished());
    // A task that is not queued just changes priority.
    let polls = Rc::new(Cell::new(0));
    let h = rt
        .spawn_with_priority(1, self_waker("w", 1, polls.clone(), log.clone()))
        .unwrap();
    rt.set_task_priority(&h, 0).unwrap();
    rt.set_task_priority(&h, 0).unwrap(); // the same: nothing moves
    assert_eq!(rt.run_once(false), 1);
    assert_eq!(h.priority(), 0);
    // Errors: out of range, a task of another runtime.
    assert!(rt.set_task_priority(&h, 2).is_err());
    assert_eq!(h.priority(), 0);
    let other = Runtime::new().unwrap();
    let foreign = other.spawn(async {});
    let e = rt.set_task_priority(&foreign, 0).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn set_task_priority_during_an_iteration_takes_the_task_out_of_it() {
    let rt = Rc::new(rt(2));
    let log = Log::default();
    let b_handle = Rc::new(RefCell::new(None));
    let (weak, bh, l) = (Rc::downgrade(&rt), b_handle.clone(), log.clone());
    rt.spawn_with_priority(1, async move {
        l.borrow_mut().push("a");
        let rt = weak.upgrade().unwrap();
        let b = bh.borrow_mut().take().unwrap();
        // b is queued behind a, in this very iteration's queue: moved to
        // 0, it leaves the iteration (and runs first in the next one).
        rt.set_task_priority(&b, 0).unwrap();
    })
    .unwrap();
    *b_handle.borrow_mut() = Some(rt.spawn_with_priority(1, logger("b", &log)).unwrap());
    rt.spawn_with_priority(1, logger("c", &log)).unwrap();
    assert_eq!(rt.run_once(false), 2);
    assert_eq!(take(&log), ["a", "c"]);
    assert_eq!(rt.held_back(), 1);
    assert_eq!(rt.run_once(false), 1);
    assert_eq!(take(&log), ["b"]);
    assert_eq!(rt.ready_tasks(), 0);
}

#[test]
fn run_once_until_leaves_the_rest_first_in_line() {
    let rt = Rc::new(rt(1));
    let log = Log::default();
    let stop = Rc::new(Cell::new(false));
    let (s, l, weak) = (stop.clone(), log.clone(), Rc::downgrade(&rt));
    rt.spawn(async move {
        l.borrow_mut().push("a");
        s.set(true);
        // Spawned during the iteration: queued behind the ones left over.
        let d = l.clone();
        weak.upgrade()
            .unwrap()
            .spawn(async move { d.borrow_mut().push("d") });
    });
    rt.spawn(logger("b", &log));
    rt.spawn(logger("c", &log));
    assert_eq!(rt.run_once_until(false, || stop.get()), 1);
    assert_eq!(take(&log), ["a"]);
    assert_eq!(rt.held_back(), 2);
    stop.set(false);
    assert_eq!(rt.run_once_until(false, || stop.get()), 3);
    assert_eq!(take(&log), ["b", "c", "d"]);
}

// ---------------------------------------------------------------------------------------------
// max_dispatch

#[test]
fn max_dispatch_caps_the_polls_of_an_iteration() {
    let rt = Builder::new()
        .max_dispatch_interval(None, 2, 0)
        .build()
        .unwrap();
    assert_eq!(rt.max_dispatch(), MaxDispatch::new(None, 2, 0));
    let log = Log::default();
    for name in ["1", "2", "3", "4", "5"] {
        rt.spawn(logger(name, &log));
    }
    assert_eq!(rt.run_once(false), 2);
    assert_eq!(rt.held_back(), 3);
    assert_eq!(rt.run_once(false), 2);
    assert_eq!(rt.held_back(), 1);
    assert_eq!(rt.run_once(false), 1);
    assert_eq!(rt.held_back(), 0);
    assert_eq!(take(&log), ["1", "2", "3", "4", "5"], "in wake order");
}

#[test]
fn max_dispatch_spares_priorities_more_urgent_than_min_priority() {
    let rt = Builder::new()
        .priorities(2)
        .unwrap()
        .max_dispatch(MaxDispatch::new(None, 1, 1))
        .build()
        .unwrap();
    let log = Log::default();
    for (p, name) in [(1, "low1"), (1, "low2"), (0, "hi1"), (0, "hi2"), (0, "hi3")] {
        rt.spawn_with_priority(p, logger(name, &log)).unwrap();
    }
    assert_eq!(rt.run_once(false), 3, "priority 0 is not limited");
    assert_eq!(take(&log), ["hi1", "hi2", "hi3"]);
    assert_eq!(rt.run_once(false), 1);
    assert_eq!(rt.run_once(false), 1);
    assert_eq!(take(&log), ["low1", "low2"]);
}

#[test]
fn max_dispatch_interval_ends_an_iteration_in_time() {
    // A zero interval: the iteration ends after its first poll.
    let rt = Builder::new()
        .max_dispatch_interval(Some(Duration::ZERO), usize::MAX, 0)
        .build()
        .unwrap();
    let log = Log::default();
    for name in ["1", "2", "3"] {
        rt.spawn(logger(name, &log));
    }
    for left in [2, 1, 0] {
        assert_eq!(rt.run_once(false), 1);
        assert_eq!(rt.held_back(), left);
    }
    // A long interval does not cut a short iteration.
    let rt = Builder::new()
        .max_dispatch_interval(Some(Duration::from_secs(60)), usize::MAX, 0)
        .build()
        .unwrap();
    for name in ["1", "2", "3"] {
        rt.spawn(logger(name, &log));
    }
    assert_eq!(rt.run_once(false), 3);
}

#[test]
#[cfg_attr(
    miri,
    ignore = "Miri cannot emulate socket calls (recv/ioctl) on a socketpair"
)]
fn block_on_obeys_max_dispatch_like_run_once() {
    // With a cap of one poll per iteration at priority 2, the urgent task
    // woken by low1 runs right after it (the loop re-polls between
    // iterations); without the cap it waits for the whole iteration.
    for (limits, expect) in [
        (
            MaxDispatch::new(None, 1, 2),
            ["low1", "urgent", "low2", "low3"],
        ),
        (MaxDispatch::UNLIMITED, ["low1", "low2", "low3", "urgent"]),
    ] {
        let rt = Builder::new()
            .priorities(3)
            .unwrap()
            .max_dispatch(limits)
            .build()
            .unwrap();
        let log = Log::default();
        let (a, mut b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let l = log.clone();
        let urgent = rt
            .spawn_with_priority(0, async move {
                let mut a = runtime::net::UnixStream::from_std(a).unwrap();
                let mut buf = [0u8; 8];
                a.read(&mut buf).await.unwrap();
                l.borrow_mut().push("urgent");
            })
            .unwrap();
        assert_eq!(rt.run_once(false), 1, "the urgent reader waits");
        let mut handles = Vec::new();
        for name in ["low1", "low2", "low3"] {
            let l = log.clone();
            let w = if name == "low1" {
                Some(b.try_clone().unwrap())
            } else {
                None
            };
            handles.push(
                rt.spawn_with_priority(2, async move {
                    l.borrow_mut().push(name);
                    if let Some(mut w) = w {
                        w.write_all(b"x").unwrap();
                    }
                })
                .unwrap(),
            );
        }
        rt.block_on(async {
            urgent.await.unwrap();
            for h in handles {
                h.await.unwrap();
            }
        });
        assert_eq!(take(&log), expect, "{limits:?}");
        b.flush().unwrap();
    }
}
