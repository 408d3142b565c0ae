//! The executor through the public API of the `runtime` facade: join handles,
//! abort, panics, `!Send` tasks, cross-thread wakers, nested `block_on`,
//! spawn errors, `yield_now`, fairness and the cooperative budget,
//! priorities and the dispatch limit, and clean shutdown (tasks dropped on
//! the runtime thread, descriptors closed). I/O uses real descriptors only:
//! Unix socketpairs and TCP on 127.0.0.1.

use runtime::reactor::{coop, Direction, Reactor, Registration};
use runtime::time::{sleep, timeout};
use runtime::{
    block_on, spawn, spawn_with_priority, try_spawn, yield_now, AbortHandle, Builder, JoinError,
    JoinHandle, Runtime,
};
use std::cell::{Cell, RefCell};
use std::future::{pending, poll_fn, Future};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Helpers

/// Upper bound for anything that should happen "soon": generous, so a loaded
/// machine does not fail the tests, but a hang still ends.
/// Miri runs ~1000x slower (more with Tree Borrows and panics): a longer bound there.
const BOUND: Duration = Duration::from_secs(if cfg!(miri) { 120 } else { 10 });

/// Awaits `f`, failing the test if it takes longer than [`BOUND`].
async fn bounded<F: Future>(what: &str, f: F) -> F::Output {
    match timeout(BOUND, f).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {BOUND:?}: {what}"),
    }
}

/// A non-blocking Unix stream socketpair.
fn pair() -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().expect("socketpair");
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    (a, b)
}

/// Reads what is there without consuming it (always ready once data is queued).
fn peek(fd: RawFd) -> io::Result<usize> {
    let mut buf = [0u8; 16];
    // SAFETY: receives into a live stack buffer of the given length.
    let n = unsafe {
        libc::recv(
            fd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Records the thread each guard is dropped on.
#[derive(Clone, Default)]
struct Drops(Arc<Mutex<Vec<ThreadId>>>);

impl Drops {
    fn guard(&self) -> DropGuard {
        DropGuard(self.0.clone())
    }
    fn threads(&self) -> Vec<ThreadId> {
        self.0.lock().unwrap().clone()
    }
    fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

struct DropGuard(Arc<Mutex<Vec<ThreadId>>>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.lock().unwrap().push(thread::current().id());
    }
}

/// The message of a panic payload (`&str` or `String`).
fn payload_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "<non-string payload>".to_string())
}

/// Yields until `cond` holds (at most `n` times).
async fn yield_until(n: usize, mut cond: impl FnMut() -> bool) {
    for _ in 0..n {
        if cond() {
            return;
        }
        yield_now().await;
    }
    assert!(cond(), "condition still false after {n} yields");
}

/// A single-threaded flag a task can wait on.
#[derive(Clone, Default)]
struct Flag(Rc<(Cell<bool>, RefCell<Option<Waker>>)>);

impl Flag {
    fn set(&self) {
        self.0 .0.set(true);
        if let Some(w) = self.0 .1.borrow_mut().take() {
            w.wake();
        }
    }
    fn is_set(&self) -> bool {
        self.0 .0.get()
    }
    async fn wait(&self) {
        poll_fn(|cx| {
            if self.0 .0.get() {
                Poll::Ready(())
            } else {
                *self.0 .1.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

fn assert_send_sync<T: Send + Sync>() {}

/// Runs the `#[ignore]`d test `name` of this binary in a child process (so
/// that nothing else in the process opens descriptors meanwhile) and checks
/// it ran and passed, within [`BOUND`].
fn run_child(name: &str) {
    let exe = std::env::current_exe().expect("current_exe");
    let mut child = Command::new(exe)
        .args([name, "--exact", "--ignored", "--test-threads=1"])
        .env(CHILD_ENV, name)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the child test process");
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > BOUND {
            let _ = child.kill();
            let _ = child.wait();
            panic!("child test {name} did not finish within {BOUND:?}");
        }
        thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "child test {name} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains("1 passed"),
        "child test {name} did not run:\n{stdout}"
    );
}

/// Set (to the test's name) in the environment of a child test process.
const CHILD_ENV: &str = "RUNTIME_EXECUTOR_TEST_CHILD";

fn is_child(name: &str) -> bool {
    std::env::var(CHILD_ENV).as_deref() == Ok(name)
}

/// Open descriptors of this process.
fn count_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .count()
}

// ---------------------------------------------------------------------------------------------
// JoinHandle

#[test]
fn join_handle_returns_output() {
    block_on(async {
        let h = spawn(async { 6 * 7 });
        assert_eq!(h.await.unwrap(), 42);
        let h = spawn(async {
            sleep(Duration::from_millis(1)).await;
            String::from("later")
        });
        assert!(!h.is_finished());
        assert_eq!(h.await.unwrap(), "later");
    });
}

#[test]
fn abort_pending_task_cancels_and_drops_future_on_runtime_thread() {
    let drops = Drops::default();
    let me = thread::current().id();
    block_on(async {
        let started = Flag::default();
        let g = drops.guard();
        let s = started.clone();
        let h = spawn(async move {
            let _g = g;
            s.set();
            pending::<()>().await;
        });
        yield_until(100, || started.is_set()).await;
        assert_eq!(drops.count(), 0, "the future is alive while pending");
        assert!(!h.is_finished());
        h.abort();
        let err = bounded("aborted task", h).await.unwrap_err();
        assert!(err.is_cancelled(), "{err:?}");
        assert!(!err.is_panic());
        assert!(err.panic_message().is_none());
        assert_eq!(
            drops.threads(),
            vec![me],
            "dropped once, on the runtime thread"
        );
    });
}

#[test]
fn abort_before_first_poll_never_runs_the_future() {
    let ran = Rc::new(Cell::new(false));
    block_on(async {
        let r = ran.clone();
        let h = spawn(async move { r.set(true) });
        h.abort();
        assert!(h.await.unwrap_err().is_cancelled());
    });
    assert!(!ran.get());
}

#[test]
fn abort_of_finished_task_is_a_noop() {
    block_on(async {
        let h = spawn(async { 5 });
        let ah = h.abort_handle();
        yield_until(100, || h.is_finished()).await;
        assert!(ah.is_finished());
        h.abort();
        ah.abort();
        yield_now().await;
        assert_eq!(h.await.unwrap(), 5);
    });
}

#[test]
fn task_aborting_itself_is_cancelled_at_its_next_pending() {
    block_on(async {
        let slot: Rc<RefCell<Option<AbortHandle>>> = Rc::default();
        let s = slot.clone();
        let reached = Rc::new(Cell::new(false));
        let r = reached.clone();
        let h = spawn(async move {
            yield_now().await;
            s.borrow().as_ref().unwrap().abort();
            yield_now().await;
            r.set(true);
        });
        *slot.borrow_mut() = Some(h.abort_handle());
        assert!(bounded("self-abort", h).await.unwrap_err().is_cancelled());
        assert!(!reached.get());
    });
}

#[test]
#[cfg_attr(miri, ignore = "Miri cannot emulate recv/ioctl on a socketpair")]
fn abort_handle_aborts_from_another_thread() {
    assert_send_sync::<AbortHandle>();
    let drops = Drops::default();
    let me = thread::current().id();
    let (a, b) = pair();
    block_on(async {
        let g = drops.guard();
        let h = spawn(async move {
            let _g = g;
            let reg = Registration::new(a.try_clone().unwrap()).unwrap();
            let mut buf = [0u8; 8];
            // Nobody writes: pending on the socket until aborted.
            reg.io(Direction::Read, || (&a).read(&mut buf)).await
        });
        let ah = h.abort_handle();
        let t = thread::spawn(move || {
            // Long enough for the loop to block in the reactor.
            thread::sleep(Duration::from_millis(30));
            assert!(!ah.is_finished());
            ah.abort();
            ah
        });
        let err = bounded("remote abort", h).await.unwrap_err();
        assert!(err.is_cancelled(), "{err:?}");
        let ah = t.join().unwrap();
        assert!(ah.is_finished());
        assert_eq!(drops.threads(), vec![me]);
    });
    drop(b);
}

#[test]
fn abort_between_block_on_calls_takes_effect_at_next_block_on() {
    let rt = Runtime::new().unwrap();
    let drops = Drops::default();
    let g = drops.guard();
    let mut slot = None;
    rt.block_on(async {
        slot = Some(spawn(async move {
            let _g = g;
            pending::<()>().await;
        }));
        yield_now().await;
    });
    let h = slot.unwrap();
    h.abort();
    assert_eq!(drops.count(), 0, "dropped by the executor, not by abort()");
    let err = rt.block_on(async { bounded("abort outside the loop", h).await.unwrap_err() });
    assert!(err.is_cancelled());
    assert_eq!(drops.count(), 1);
}

#[test]
fn dropping_join_handle_detaches_the_task() {
    block_on(async {
        let done = Flag::default();
        let d = done.clone();
        let h = spawn(async move {
            sleep(Duration::from_millis(5)).await;
            yield_now().await;
            d.set();
        });
        drop(h);
        bounded("detached task", done.wait()).await;
    });
}

#[test]
fn detached_task_output_is_dropped() {
    let drops = Drops::default();
    block_on(async {
        let g = drops.guard();
        drop(spawn(async move {
            yield_now().await;
            g
        }));
        yield_until(100, || drops.count() == 1).await;
    });
}

#[test]
fn panicking_task_is_reported_and_loop_keeps_running() {
    block_on(async {
        let ticks = Rc::new(Cell::new(0u32));
        let t = ticks.clone();
        let ticker = spawn(async move {
            for _ in 0..20 {
                sleep(Duration::from_millis(1)).await;
                t.set(t.get() + 1);
            }
        });
        let h = spawn(async {
            yield_now().await;
            panic!("boom");
        });
        let err = bounded("panicking task", h).await.unwrap_err();
        assert!(err.is_panic(), "{err:?}");
        assert!(!err.is_cancelled());
        assert_eq!(err.panic_message(), Some("boom"));
        assert!(err.to_string().contains("boom"), "{err}");

        let n = 7;
        let h = spawn(async move {
            panic!("formatted {n}");
        });
        let err: JoinError = h.await.unwrap_err();
        assert_eq!(err.panic_message(), Some("formatted 7"));
        let payload = err.try_into_panic().unwrap();
        assert_eq!(payload_message(&*payload), "formatted 7");

        // The loop goes on: new tasks, and the one that was running before.
        assert_eq!(spawn(async { 1 }).await.unwrap(), 1);
        let before = ticks.get();
        bounded("ticker", ticker).await.unwrap();
        assert_eq!(ticks.get(), 20);
        assert!(before < 20);
    });
}

struct PanicOnDrop(&'static str);

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !thread::panicking() {
            panic!("{}", self.0);
        }
    }
}

#[test]
fn panic_in_task_drop_does_not_take_down_the_loop() {
    block_on(async {
        // A future whose destructor panics when it completes.
        let h = spawn(async {
            let _p = PanicOnDrop("drop on completion");
            yield_now().await;
            3
        });
        let err = bounded("panicking drop", h).await.unwrap_err();
        assert!(err.is_panic(), "{err:?}");
        assert_eq!(err.panic_message(), Some("drop on completion"));

        // ... when it is aborted.
        let h = spawn(async {
            let _p = PanicOnDrop("drop on abort");
            pending::<()>().await;
        });
        yield_now().await;
        h.abort();
        let err = bounded("aborted panicking drop", h).await.unwrap_err();
        assert!(err.is_cancelled() || err.is_panic(), "{err:?}");

        // ... when it is detached.
        drop(spawn(async {
            let _p = PanicOnDrop("drop detached");
            yield_now().await;
        }));
        for _ in 0..5 {
            yield_now().await;
        }
        assert_eq!(
            spawn(async { "still running" }).await.unwrap(),
            "still running"
        );
    });
    // ... and at shutdown.
    let rt = Runtime::new().unwrap();
    rt.block_on(async {
        drop(spawn(async {
            let _p = PanicOnDrop("drop at shutdown");
            pending::<()>().await;
        }));
        yield_now().await;
    });
    let res = catch_unwind(AssertUnwindSafe(move || drop(rt)));
    assert!(
        res.is_ok(),
        "dropping the runtime propagated a task's panic"
    );
}

/// The output of a detached task whose destructor panics: the loop must
/// survive it as it survives a panicking future destructor, and dropping the
/// runtime afterwards must not hang.
#[test]
fn panic_dropping_detached_output_does_not_take_down_the_loop() {
    let (tx, rx) = mpsc::channel::<Result<i32, String>>();
    let (dropped_tx, dropped_rx) = mpsc::channel::<()>();
    // In a thread of its own so that a hang is detected (the thread is leaked then).
    thread::spawn(move || {
        let rt = Runtime::new().unwrap();
        let res = catch_unwind(AssertUnwindSafe(|| {
            rt.block_on(async {
                drop(spawn(async {
                    yield_now().await;
                    PanicOnDrop("output drop")
                }));
                for _ in 0..5 {
                    yield_now().await;
                }
                spawn(async { 9 }).await.unwrap()
            })
        }));
        let _ = tx.send(res.map_err(|p| payload_message(&*p)));
        drop(rt);
        let _ = dropped_tx.send(());
    });
    let res = rx.recv_timeout(BOUND).expect("block_on hung");
    assert_eq!(
        res,
        Ok(9),
        "the panic of the output's destructor escaped block_on"
    );
    dropped_rx
        .recv_timeout(BOUND)
        .expect("dropping the runtime hung");
}

// ---------------------------------------------------------------------------------------------
// !Send futures

#[test]
fn spawn_accepts_non_send_futures() {
    let shared: Rc<RefCell<Vec<u32>>> = Rc::default();
    block_on(async {
        let mut handles: Vec<JoinHandle<Rc<RefCell<Vec<u32>>>>> = Vec::new();
        for i in 0..4 {
            let s = shared.clone();
            handles.push(spawn(async move {
                s.borrow_mut().push(i);
                yield_now().await;
                s.borrow_mut().push(10 + i);
                s
            }));
        }
        for h in handles {
            let rc = h.await.unwrap();
            assert!(Rc::ptr_eq(&rc, &shared));
        }
    });
    let mut v = shared.borrow().clone();
    v.sort();
    assert_eq!(v, vec![0, 1, 2, 3, 10, 11, 12, 13]);
}

// ---------------------------------------------------------------------------------------------
// Wakers

#[test]
fn waker_sent_to_another_thread_resumes_the_task() {
    assert_send_sync::<Waker>();
    block_on(async {
        let go = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel::<Waker>();
        let g = go.clone();
        let polls = Rc::new(Cell::new(0u32));
        let p = polls.clone();
        let h = spawn(poll_fn(move |cx| {
            p.set(p.get() + 1);
            if g.load(Ordering::Acquire) {
                return Poll::Ready("resumed");
            }
            if p.get() == 1 {
                tx.send(cx.waker().clone()).unwrap();
            }
            Poll::Pending
        }));
        let t = thread::spawn(move || {
            let waker = rx.recv().unwrap();
            // The loop has nothing to do: it sleeps in the reactor now.
            thread::sleep(Duration::from_millis(30));
            go.store(true, Ordering::Release);
            waker.wake();
        });
        let start = Instant::now();
        assert_eq!(bounded("remote wake", h).await.unwrap(), "resumed");
        assert!(start.elapsed() >= Duration::from_millis(25));
        assert_eq!(polls.get(), 2, "one poll to park, one after the wake");
        t.join().unwrap();
    });
}

#[test]
fn waking_a_finished_task_from_another_thread_is_harmless() {
    let rt = Runtime::new().unwrap();
    let waker = rt.block_on(async {
        let (tx, rx) = mpsc::channel::<Waker>();
        let h = spawn(poll_fn(move |cx| {
            tx.send(cx.waker().clone()).unwrap();
            Poll::Ready(1)
        }));
        assert_eq!(h.await.unwrap(), 1);
        let waker = rx.recv().unwrap();
        let w = waker.clone();
        thread::spawn(move || {
            w.wake_by_ref();
            w.wake();
        })
        .join()
        .unwrap();
        // The loop goes on undisturbed.
        sleep(Duration::from_millis(2)).await;
        assert_eq!(spawn(async { 2 }).await.unwrap(), 2);
        waker
    });
    assert_eq!(rt.alive_tasks(), 0);
    // Also after the runtime is gone.
    drop(rt);
    thread::spawn(move || waker.wake()).join().unwrap();
}

#[test]
fn ten_thousand_wakes_from_four_threads_do_not_lose_the_last_one() {
    const THREADS: usize = 4;
    // Miri runs the same race with fewer wakes (it is ~1000x slower).
    const PER_THREAD: usize = if cfg!(miri) { 25 } else { 2500 };
    const TOTAL: usize = THREADS * PER_THREAD;
    for round in 0..if cfg!(miri) { 1 } else { 3 } {
        block_on(async {
            let counter = Arc::new(AtomicUsize::new(0));
            let (tx, rx) = mpsc::channel::<Waker>();
            let c = counter.clone();
            let mut polls = 0usize;
            let h = spawn(poll_fn(move |cx| {
                polls += 1;
                if polls == 1 {
                    tx.send(cx.waker().clone()).unwrap();
                }
                if c.load(Ordering::Acquire) == TOTAL {
                    Poll::Ready(polls)
                } else {
                    Poll::Pending
                }
            }));
            let c = counter.clone();
            let coordinator = thread::spawn(move || {
                let waker = rx.recv().unwrap();
                let barrier = Arc::new(Barrier::new(THREADS));
                let workers: Vec<_> = (0..THREADS)
                    .map(|i| {
                        let waker = waker.clone();
                        let c = c.clone();
                        let barrier = barrier.clone();
                        thread::spawn(move || {
                            barrier.wait();
                            for j in 0..PER_THREAD {
                                c.fetch_add(1, Ordering::Release);
                                if (i + j) % 2 == 0 {
                                    waker.wake_by_ref();
                                } else {
                                    let w = waker.clone();
                                    w.wake();
                                }
                            }
                        })
                    })
                    .collect();
                for w in workers {
                    w.join().unwrap();
                }
            });
            let polls = bounded("the final wake", h).await.unwrap();
            assert!(
                (2..=TOTAL + 1).contains(&polls),
                "round {round}: {polls} polls"
            );
            coordinator.join().unwrap();
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Nested block_on, spawn errors, configuration errors

fn expect_nested_panic(res: Result<i32, Box<dyn std::any::Any + Send>>) {
    let msg = payload_message(&*res.expect_err("nested block_on must panic"));
    assert!(
        msg.contains("block_on called from inside a running runtime"),
        "unclear message: {msg}"
    );
}

#[test]
fn nested_block_on_panics_with_a_clear_message() {
    let other = Runtime::new().unwrap();
    let rt = Runtime::new().unwrap();
    rt.block_on(async {
        expect_nested_panic(catch_unwind(|| block_on(async { 1 })));
        expect_nested_panic(catch_unwind(AssertUnwindSafe(|| {
            other.block_on(async { 1 })
        })));
        expect_nested_panic(catch_unwind(AssertUnwindSafe(|| rt.block_on(async { 1 }))));
        // From inside a task too.
        let h = spawn(async { catch_unwind(|| block_on(async { 1 })).is_err() });
        assert!(h.await.unwrap());
        // The outer runtime is intact.
        assert_eq!(spawn(async { 2 }).await.unwrap(), 2);
        sleep(Duration::from_millis(1)).await;
        assert!(Reactor::current().is_some());
    });
    assert!(Reactor::current().is_none());
    // And the other runtime is usable afterwards.
    assert_eq!(
        other.block_on(async { spawn(async { 3 }).await.unwrap() }),
        3
    );
}

#[test]
fn try_spawn_outside_a_runtime_is_an_error() {
    let err = try_spawn(async {}).unwrap_err();
    assert!(err.to_string().contains("no runtime"), "{err}");
    let err = spawn_with_priority(0, async {}).unwrap_err();
    assert!(err.to_string().contains("no runtime"), "{err}");
    // Inside, it works.
    block_on(async { try_spawn(async { 1 }).unwrap().await.unwrap() });
}

#[test]
#[should_panic(expected = "no runtime")]
fn spawn_outside_a_runtime_panics() {
    drop(spawn(async {}));
}

#[test]
fn spawn_with_priority_out_of_range_is_invalid_input() {
    block_on(async {
        let err = spawn_with_priority(1, async {}).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(
            spawn_with_priority(0, async { 4 }).unwrap().await.unwrap(),
            4
        );
    });
    let rt = Builder::new().priorities(3).unwrap().build().unwrap();
    assert_eq!(rt.priorities(), 3);
    rt.block_on(async {
        let err = spawn_with_priority(3, async {}).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        let err = spawn_with_priority(usize::MAX, async {}).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(
            spawn_with_priority(2, async { 5 }).unwrap().await.unwrap(),
            5
        );
    });
}

#[test]
fn builder_priorities_must_be_1_to_256() {
    for n in [0, 257, usize::MAX] {
        let err = Builder::new().priorities(n).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{n}");
    }
    for n in [1, 2, 256] {
        let rt = Builder::new().priorities(n).unwrap().build().unwrap();
        assert_eq!(rt.priorities(), n);
    }
    let err = Builder::new()
        .priorities(2)
        .unwrap()
        .default_priority(2)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
}

// ---------------------------------------------------------------------------------------------
// yield_now, fairness, cooperative budget

#[test]
fn yield_now_interleaves_two_tasks() {
    let log: Rc<RefCell<Vec<(char, u32)>>> = Rc::default();
    block_on(async {
        let mut handles = Vec::new();
        for name in ['a', 'b'] {
            let log = log.clone();
            handles.push(spawn(async move {
                for i in 0..4 {
                    log.borrow_mut().push((name, i));
                    yield_now().await;
                }
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
    });
    let expected: Vec<(char, u32)> = (0..4).flat_map(|i| [('a', i), ('b', i)]).collect();
    assert_eq!(*log.borrow(), expected);
}

#[test]
fn yield_now_in_block_on_lets_every_ready_task_run() {
    // The main future yields like a task: behind the ones ready, not after
    // the first of them.
    block_on(async {
        let ran = Rc::new(Cell::new(0));
        let handles: Vec<_> = (0..5)
            .map(|_| {
                let ran = ran.clone();
                spawn(async move { ran.set(ran.get() + 1) })
            })
            .collect();
        yield_now().await;
        assert_eq!(
            ran.get(),
            5,
            "one yield_now in block_on ran {} of 5 ready tasks",
            ran.get()
        );
        for h in handles {
            h.await.unwrap();
        }
    });
}

/// Spawns a task that never stops being ready: it loops on `yield_now`.
fn spawn_busy_yielder(spins: Rc<Cell<u64>>) -> JoinHandle<()> {
    spawn(async move {
        loop {
            spins.set(spins.get() + 1);
            yield_now().await;
        }
    })
}

/// Spawns a task that never stops being ready: it loops on a readiness
/// wait of a socket with unread data (peeked, never consumed), whose
/// readiness stays cached.
fn spawn_busy_reader(spins: Rc<Cell<u64>>) -> (JoinHandle<()>, UnixStream) {
    let (a, b) = pair();
    (&b).write_all(&[7u8; 4096]).unwrap();
    let h = spawn(async move {
        let reg = Registration::new(a.try_clone().unwrap()).unwrap();
        loop {
            let n = reg
                .io(Direction::Read, || peek(a.as_raw_fd()))
                .await
                .unwrap();
            assert!(n > 0);
            spins.set(spins.get() + 1);
        }
    });
    (h, b)
}

#[test]
#[cfg_attr(miri, ignore = "a wall-clock bound Miri is too slow to meet")]
fn busy_yielding_task_cannot_block_a_timer() {
    block_on(async {
        let spins = Rc::new(Cell::new(0));
        let busy = spawn_busy_yielder(spins.clone());
        yield_now().await;
        // A timer in the main future ...
        let start = Instant::now();
        sleep(Duration::from_millis(5)).await;
        let main_elapsed = start.elapsed();
        // ... and in a task.
        let start = Instant::now();
        let t = spawn(async move {
            sleep(Duration::from_millis(5)).await;
            start.elapsed()
        });
        let task_elapsed = bounded("timer task", t).await.unwrap();
        busy.abort();
        assert!(busy.await.unwrap_err().is_cancelled());
        for el in [main_elapsed, task_elapsed] {
            assert!(el >= Duration::from_millis(5), "{el:?}: early");
            assert!(el < Duration::from_millis(200), "{el:?}: starved");
        }
        assert!(spins.get() > 100, "the busy task did spin: {}", spins.get());
    });
}

#[test]
#[cfg_attr(miri, ignore = "Miri cannot emulate recv/ioctl on a socketpair")]
fn busy_always_ready_reader_cannot_block_a_timer() {
    block_on(async {
        let spins = Rc::new(Cell::new(0));
        let (busy, _peer) = spawn_busy_reader(spins.clone());
        yield_now().await;
        let start = Instant::now();
        let t = spawn(async move {
            sleep(Duration::from_millis(5)).await;
            start.elapsed()
        });
        let el = bounded("timer task", t).await.unwrap();
        let main_start = Instant::now();
        sleep(Duration::from_millis(5)).await;
        let main_el = main_start.elapsed();
        busy.abort();
        assert!(busy.await.unwrap_err().is_cancelled());
        for el in [el, main_el] {
            assert!(el >= Duration::from_millis(5), "{el:?}: early");
            assert!(el < Duration::from_millis(200), "{el:?}: starved");
        }
        assert!(
            spins.get() > 1000,
            "the busy task did spin: {}",
            spins.get()
        );
    });
}

#[test]
#[cfg_attr(miri, ignore = "Miri cannot emulate recv/ioctl on a socketpair")]
fn busy_tasks_cannot_starve_io_readiness_of_another_task() {
    block_on(async {
        let spins = Rc::new(Cell::new(0));
        let busy1 = spawn_busy_yielder(spins.clone());
        let (busy2, _peer) = spawn_busy_reader(spins.clone());
        let (a, b) = pair();
        let reader = spawn(async move {
            let reg = Registration::new(a.try_clone().unwrap()).unwrap();
            let mut buf = [0u8; 16];
            let n = reg
                .io(Direction::Read, || (&a).read(&mut buf))
                .await
                .unwrap();
            (buf[..n].to_vec(), Instant::now())
        });
        let writer = thread::spawn(move || {
            thread::sleep(Duration::from_millis(5));
            (&b).write_all(b"ping").unwrap();
            let at = Instant::now();
            (at, b)
        });
        let (data, read_at) = bounded("reader", reader).await.unwrap();
        let (written_at, _b) = writer.join().unwrap();
        assert_eq!(data, b"ping");
        let latency = read_at.saturating_duration_since(written_at);
        assert!(latency < Duration::from_millis(200), "{latency:?}");
        busy1.abort();
        busy2.abort();
        assert!(busy1.await.unwrap_err().is_cancelled());
        assert!(busy2.await.unwrap_err().is_cancelled());
    });
}

/// Counts the polls of a future and the I/O operations done in each.
struct Polls<F> {
    inner: Pin<Box<F>>,
    polls: Rc<Cell<u32>>,
    ops: Rc<Cell<u32>>,
    max_ops: Rc<Cell<u32>>,
}

impl<F: Future> Future for Polls<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.polls.set(self.polls.get() + 1);
        self.ops.set(0);
        let r = self.inner.as_mut().poll(cx);
        self.max_ops.set(self.max_ops.get().max(self.ops.get()));
        r
    }
}

#[test]
#[cfg_attr(miri, ignore = "Miri cannot emulate recv/ioctl on a socketpair")]
fn cooperative_budget_makes_an_always_ready_reader_yield() {
    const OPS: u32 = 1000;
    block_on(async {
        let (a, b) = pair();
        (&b).write_all(&[1u8; 64]).unwrap();
        let other_ran = Rc::new(Cell::new(0u32));
        let polls = Rc::new(Cell::new(0));
        let ops = Rc::new(Cell::new(0));
        let max_ops = Rc::new(Cell::new(0));
        let o = other_ran.clone();
        let ops2 = ops.clone();
        let reader = spawn(Polls {
            inner: Box::pin(async move {
                let reg = Registration::new(a.try_clone().unwrap()).unwrap();
                for _ in 0..OPS {
                    // No other await in the loop: only the budget can make it yield.
                    let n = reg
                        .io(Direction::Read, || peek(a.as_raw_fd()))
                        .await
                        .unwrap();
                    assert!(n > 0);
                    ops2.set(ops2.get() + 1);
                }
                o.get()
            }),
            polls: polls.clone(),
            ops,
            max_ops: max_ops.clone(),
        });
        let o = other_ran.clone();
        let other = spawn(async move {
            for _ in 0..3 {
                o.set(o.get() + 1);
                yield_now().await;
            }
        });
        let seen_by_reader = bounded("reader", reader).await.unwrap();
        other.await.unwrap();
        assert!(
            seen_by_reader >= 1,
            "the other task never ran while the reader was busy"
        );
        assert!(
            max_ops.get() <= coop::DEFAULT_BUDGET,
            "{} ops in one poll, budget {}",
            max_ops.get(),
            coop::DEFAULT_BUDGET
        );
        assert!(max_ops.get() > 0);
        let min_polls = OPS / coop::DEFAULT_BUDGET;
        assert!(
            polls.get() > min_polls,
            "{} polls for {OPS} ops",
            polls.get()
        );
        drop(b);
    });
}

#[test]
#[cfg_attr(miri, ignore = "Miri cannot emulate recv/ioctl on a socketpair")]
fn coop_budget_is_per_poll_in_block_on_main_future_too() {
    block_on(async {
        let (a, b) = pair();
        (&b).write_all(&[1u8; 8]).unwrap();
        let reg = Registration::new(a.try_clone().unwrap()).unwrap();
        let ran = Rc::new(Cell::new(false));
        let r = ran.clone();
        let other = spawn(async move { r.set(true) });
        let mut n = 0;
        while !ran.get() {
            reg.io(Direction::Read, || peek(a.as_raw_fd()))
                .await
                .unwrap();
            n += 1;
            assert!(n < 100_000, "the main future never yielded to the task");
        }
        other.await.unwrap();
        drop(b);
    });
}

// ---------------------------------------------------------------------------------------------
// Priorities

#[test]
fn priorities_run_most_urgent_first() {
    let rt = Builder::new().priorities(3).unwrap().build().unwrap();
    let log: Rc<RefCell<Vec<usize>>> = Rc::default();
    rt.block_on(async {
        let mut handles = Vec::new();
        for p in [2, 1, 0] {
            let log = log.clone();
            handles.push(spawn_with_priority(p, async move { log.borrow_mut().push(p) }).unwrap());
        }
        for h in handles {
            h.await.unwrap();
        }
    });
    assert_eq!(*log.borrow(), vec![0, 1, 2]);

    // Plain spawn uses the middle priority (3 / 2 = 1).
    log.borrow_mut().clear();
    rt.block_on(async {
        let mut handles = Vec::new();
        for p in [2, 0] {
            let log = log.clone();
            handles.push(spawn_with_priority(p, async move { log.borrow_mut().push(p) }).unwrap());
        }
        let l = log.clone();
        handles.push(spawn(async move { l.borrow_mut().push(100) }));
        for h in handles {
            h.await.unwrap();
        }
    });
    assert_eq!(*log.borrow(), vec![0, 100, 2]);
}

/// An urgent task woken by a less urgent one runs once the iteration that
/// woke it is over: the rest of that iteration's tasks go first, as in
/// libevent (`max_dispatch` shortens iterations; see tests/dispatch.rs).
#[test]
fn woken_urgent_task_runs_after_the_less_urgent_iteration_that_woke_it() {
    let rt = Builder::new().priorities(3).unwrap().build().unwrap();
    let log: Rc<RefCell<Vec<&'static str>>> = Rc::default();
    rt.block_on(async {
        let flag = Flag::default();
        let (f, l) = (flag.clone(), log.clone());
        let urgent = spawn_with_priority(0, async move {
            l.borrow_mut().push("urgent parked");
            f.wait().await;
            l.borrow_mut().push("urgent");
        })
        .unwrap();
        let mut handles = Vec::new();
        for name in ["low1", "low2", "low3"] {
            let (f, l) = (flag.clone(), log.clone());
            handles.push(
                spawn_with_priority(2, async move {
                    l.borrow_mut().push(name);
                    if name == "low1" {
                        f.set();
                    }
                })
                .unwrap(),
            );
        }
        urgent.await.unwrap();
        for h in handles {
            h.await.unwrap();
        }
    });
    assert_eq!(
        *log.borrow(),
        vec!["urgent parked", "low1", "low2", "low3", "urgent"]
    );
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ev {
    Low,
    Write,
    Urgent,
}

/// Many always-ready priority-1 tasks; one of them writes to a socket now
/// and then, which wakes a priority-0 reader. Returns, for each write, how
/// many priority-1 tasks ran between the write and the reader.
fn urgent_io_latencies(builder: Builder) -> Vec<usize> {
    const ROUNDS: usize = 20;
    const LOW_TASKS: usize = 50;
    let rt = builder.priorities(2).unwrap().build().unwrap();
    let log: Rc<RefCell<Vec<Ev>>> = Rc::default();
    rt.block_on(async {
        let (a, b) = pair();
        let outstanding = Rc::new(Cell::new(false));
        let stop = Rc::new(Cell::new(false));
        let (l, o, s) = (log.clone(), outstanding.clone(), stop.clone());
        let urgent = spawn_with_priority(0, async move {
            let reg = Registration::new(a.try_clone().unwrap()).unwrap();
            let mut buf = [0u8; 64];
            for _ in 0..ROUNDS {
                let n = reg
                    .io(Direction::Read, || (&a).read(&mut buf))
                    .await
                    .unwrap();
                assert_eq!(n, 1);
                l.borrow_mut().push(Ev::Urgent);
                o.set(false);
            }
            s.set(true);
        })
        .unwrap();
        let b = Rc::new(b);
        for i in 0..LOW_TASKS {
            let (l, o, s, b) = (log.clone(), outstanding.clone(), stop.clone(), b.clone());
            drop(spawn_with_priority(1, async move {
                let mut runs = 0u32;
                while !s.get() {
                    runs += 1;
                    if i == 0 && runs.is_multiple_of(3) && !o.get() {
                        (&*b).write_all(&[1]).unwrap();
                        o.set(true);
                        l.borrow_mut().push(Ev::Write);
                    } else {
                        l.borrow_mut().push(Ev::Low);
                    }
                    yield_now().await;
                }
            }));
        }
        bounded("urgent reader", urgent).await.unwrap();
    });
    let log = log.borrow();
    let mut gaps = Vec::new();
    let mut since_write: Option<usize> = None;
    for ev in log.iter() {
        match (ev, since_write) {
            (Ev::Low, None) => {}
            (Ev::Write, None) => since_write = Some(0),
            (Ev::Low, Some(n)) => since_write = Some(n + 1),
            (Ev::Urgent, Some(n)) => {
                gaps.push(n);
                since_write = None;
            }
            (e, s) => panic!("unexpected {e:?} with {s:?} in {log:?}"),
        }
    }
    assert_eq!(gaps.len(), ROUNDS);
    gaps
}

#[test]
#[cfg_attr(miri, ignore = "Miri cannot emulate recv/ioctl on a socketpair")]
fn max_dispatch_interval_bounds_latency_of_urgent_io() {
    let limited = urgent_io_latencies(Builder::new().max_dispatch_interval(None, 1, 1));
    assert!(
        limited.iter().all(|&g| g <= 1),
        "with max_dispatch_interval(None, 1, 1) an urgent task waited behind more \
         than one less urgent task: {limited:?}"
    );
    let unlimited = urgent_io_latencies(Builder::new());
    assert!(
        unlimited.iter().any(|&g| g > 1),
        "without the limit the urgent task should wait for the next reactor turn: {unlimited:?}"
    );
    // The time limit alone (zero interval: check after every task) also bounds it.
    let timed = urgent_io_latencies(Builder::new().max_dispatch_interval(
        Some(Duration::ZERO),
        usize::MAX,
        1,
    ));
    assert!(timed.iter().all(|&g| g <= 1), "{timed:?}");
}

// ---------------------------------------------------------------------------------------------
// Shutdown

#[test]
#[cfg_attr(miri, ignore = "Miri cannot emulate recv/ioctl on a socketpair")]
fn shutdown_drops_remaining_tasks_on_the_runtime_thread() {
    let drops = Drops::default();
    let me = thread::current().id();
    let (a, b) = pair();
    let rt = Runtime::new().unwrap();
    rt.block_on(async {
        let g = drops.guard();
        drop(spawn(async move {
            let _g = g;
            let reg = Registration::new(a.try_clone().unwrap()).unwrap();
            let mut buf = [0u8; 8];
            let _ = reg.io(Direction::Read, || (&a).read(&mut buf)).await;
        }));
        let g = drops.guard();
        drop(spawn(async move {
            let _g = g;
            sleep(Duration::from_secs(3600)).await;
        }));
        let g = drops.guard();
        drop(spawn(async move {
            let _g = g;
            pending::<()>().await;
        }));
        // One never polled at all.
        let g = drops.guard();
        drop(spawn(async move {
            let _g = g;
        }));
        yield_now().await;
        // One spawned by a task.
        let g = drops.guard();
        spawn(async move {
            drop(spawn(async move {
                let _g = g;
                pending::<()>().await;
            }));
        })
        .await
        .unwrap();
    });
    assert_eq!(rt.alive_tasks(), 4);
    assert_eq!(drops.count(), 1, "only the finished task's future is gone");
    drop(rt);
    assert_eq!(drops.threads(), vec![me; 5]);
    drop(b);

    // The same with the free function.
    let drops = Drops::default();
    block_on(async {
        let g = drops.guard();
        drop(spawn(async move {
            let _g = g;
            pending::<()>().await;
        }));
        yield_now().await;
        assert_eq!(drops.count(), 0);
    });
    assert_eq!(drops.threads(), vec![me]);
}

#[test]
fn join_handle_of_a_task_dropped_at_shutdown_reports_cancelled() {
    let drops = Drops::default();
    let rt = Runtime::new().unwrap();
    let g = drops.guard();
    let h = rt.spawn(async move {
        let _g = g;
        pending::<u32>().await
    });
    drop(rt);
    assert_eq!(drops.count(), 1);
    assert!(h.is_finished());
    // Awaited later, from another runtime.
    let err = block_on(h).unwrap_err();
    assert!(err.is_cancelled(), "{err:?}");
}

#[test]
#[cfg_attr(miri, ignore = "Miri cannot spawn a child process")]
fn shutdown_closes_descriptors() {
    run_child("child_shutdown_closes_descriptors");
}

#[test]
#[ignore = "run in a child process by shutdown_closes_descriptors"]
fn child_shutdown_closes_descriptors() {
    if !is_child("child_shutdown_closes_descriptors") {
        return;
    }
    let drops = Drops::default();
    let me = thread::current().id();
    let before = count_fds();
    let rt = Runtime::new().unwrap();
    let during = rt.block_on(async {
        for _ in 0..4 {
            let (a, b) = pair();
            let g = drops.guard();
            drop(spawn(async move {
                let _g = g;
                let ra = Registration::new(a.try_clone().unwrap()).unwrap();
                let rb = Registration::new(b.try_clone().unwrap()).unwrap();
                let mut buf = [0u8; 8];
                let _ = ra.io(Direction::Read, || (&a).read(&mut buf)).await;
                let _ = rb.io(Direction::Read, || (&b).read(&mut buf)).await;
            }));
        }
        // TCP on 127.0.0.1: a listener task and a connected pair.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Flag::default();
        let (g, acc) = (drops.guard(), accepted.clone());
        drop(spawn(async move {
            let _g = g;
            let reg = Registration::new(listener.try_clone().unwrap()).unwrap();
            let (conn, _) = reg.io(Direction::Read, || listener.accept()).await.unwrap();
            conn.set_nonblocking(true).unwrap();
            let creg = Registration::new(conn.try_clone().unwrap()).unwrap();
            acc.set();
            let mut buf = [0u8; 8];
            let _ = creg.io(Direction::Read, || (&conn).read(&mut buf)).await;
            // Still listening.
            let _ = reg.io(Direction::Read, || listener.accept()).await;
        }));
        let client = TcpStream::connect(addr).unwrap();
        client.set_nonblocking(true).unwrap();
        let g = drops.guard();
        drop(spawn(async move {
            let _g = g;
            let reg = Registration::new(client.try_clone().unwrap()).unwrap();
            let mut buf = [0u8; 8];
            let _ = reg.io(Direction::Read, || (&client).read(&mut buf)).await;
        }));
        let g = drops.guard();
        drop(spawn(async move {
            let _g = g;
            sleep(Duration::from_secs(3600)).await;
        }));
        bounded("accept", accepted.wait()).await;
        let reactor = Reactor::current().unwrap();
        // Every task has run up to its first await.
        yield_until(100, || {
            reactor.registrations() == 4 * 2 + 3 && reactor.pending_timers() == 1
        })
        .await;
        count_fds()
    });
    // epoll + notify + 8 socketpair ends + listener + 2 TCP ends.
    assert!(during >= before + 11, "{before} -> {during}");
    assert_eq!(rt.alive_tasks(), 7);
    drop(rt);
    assert_eq!(drops.threads(), vec![me; 7]);
    let after = count_fds();
    assert_eq!(after, before, "descriptors leaked by the runtime");
}

#[test]
#[cfg_attr(miri, ignore = "Miri cannot spawn a child process")]
fn descriptors_closed_once_an_outliving_waker_is_dropped() {
    run_child("child_descriptors_closed_once_an_outliving_waker_is_dropped");
}

#[test]
#[ignore = "run in a child process by descriptors_closed_once_an_outliving_waker_is_dropped"]
fn child_descriptors_closed_once_an_outliving_waker_is_dropped() {
    if !is_child("child_descriptors_closed_once_an_outliving_waker_is_dropped") {
        return;
    }
    let before = count_fds();
    let rt = Runtime::new().unwrap();
    let (waker, handle) = rt.block_on(async {
        let (tx, rx) = mpsc::channel::<Waker>();
        let mut sent = false;
        let h = spawn(poll_fn(move |cx| {
            if !sent {
                tx.send(cx.waker().clone()).unwrap();
                sent = true;
            }
            Poll::<()>::Pending
        }));
        yield_now().await;
        (rx.recv().unwrap(), h)
    });
    drop(rt);
    let with_waker = count_fds();
    // Waking a task of a dropped runtime, from another thread: harmless.
    let w = waker.clone();
    thread::spawn(move || w.wake()).join().unwrap();
    waker.wake_by_ref();
    assert!(block_on(handle).unwrap_err().is_cancelled());
    drop(waker);
    let after = count_fds();
    eprintln!(
        "fds: before {before}, while a waker outlives the runtime {with_waker}, after {after}"
    );
    assert_eq!(after, before, "descriptors leaked");
}

struct SpawnOnDrop {
    try_spawn_failed: Rc<Cell<Option<bool>>>,
    plain_spawn: bool,
}

impl Drop for SpawnOnDrop {
    fn drop(&mut self) {
        let res = try_spawn(async {});
        self.try_spawn_failed.set(Some(res.is_err()));
        if self.plain_spawn {
            // Panics during shutdown ("the runtime is shutting down"); the
            // executor catches panics from a task's destructor.
            drop(spawn(async {}));
        }
    }
}

#[test]
fn spawn_from_a_task_drop_during_shutdown_neither_panics_nor_hangs() {
    let (tx, rx) = mpsc::channel();
    // In a thread of its own so that a hang is detected.
    thread::spawn(move || {
        let result = catch_unwind(|| {
            let failed = Rc::new(Cell::new(None));
            let rt = Runtime::new().unwrap();
            rt.block_on(async {
                for plain_spawn in [false, true] {
                    let d = SpawnOnDrop {
                        try_spawn_failed: failed.clone(),
                        plain_spawn,
                    };
                    drop(spawn(async move {
                        let _d = d;
                        pending::<()>().await;
                    }));
                }
                yield_now().await;
            });
            drop(rt);
            failed.get()
        });
        let _ = tx.send(result.map_err(|p| payload_message(&*p)));
    });
    let result = rx.recv_timeout(BOUND).expect("dropping the runtime hung");
    let failed = result.expect("dropping the runtime panicked");
    assert_eq!(failed, Some(true), "try_spawn during shutdown must fail");
}

#[test]
fn spawn_from_an_aborted_task_drop_works() {
    block_on(async {
        let slot: Rc<RefCell<Option<JoinHandle<u32>>>> = Rc::default();
        struct Spawner(Rc<RefCell<Option<JoinHandle<u32>>>>);
        impl Drop for Spawner {
            fn drop(&mut self) {
                *self.0.borrow_mut() = Some(spawn(async { 11 }));
            }
        }
        let s = Spawner(slot.clone());
        let h = spawn(async move {
            let _s = s;
            pending::<()>().await;
        });
        yield_now().await;
        h.abort();
        assert!(h.await.unwrap_err().is_cancelled());
        let spawned = slot.borrow_mut().take().expect("spawned from Drop");
        assert_eq!(bounded("spawned from Drop", spawned).await.unwrap(), 11);
    });
}

// ---------------------------------------------------------------------------------------------
// Runtime

#[test]
fn runtime_spawn_before_block_on_runs_there() {
    let rt = Runtime::new().unwrap();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let h = rt.spawn(async move {
        r.set(true);
        sleep(Duration::from_millis(1)).await;
        "spawned early"
    });
    assert!(!ran.get(), "nothing runs before block_on");
    assert_eq!(rt.alive_tasks(), 1);
    assert_eq!(rt.block_on(h).unwrap(), "spawned early");
    assert!(ran.get());
    assert_eq!(rt.alive_tasks(), 0);
}

#[test]
#[cfg_attr(miri, ignore = "Miri cannot emulate recv/ioctl on a socketpair")]
fn runtime_reused_for_two_block_on_calls_keeps_its_tasks() {
    let rt = Runtime::new().unwrap();
    let progress = Rc::new(Cell::new(0u32));
    let p = progress.clone();
    let (h, (a, b)) = rt.block_on(async move {
        let (a, b) = pair();
        let a2 = a.try_clone().unwrap();
        let h = spawn(async move {
            p.set(1);
            let reg = Registration::new(a2.try_clone().unwrap()).unwrap();
            let mut buf = [0u8; 8];
            let n = reg
                .io(Direction::Read, || (&a2).read(&mut buf))
                .await
                .unwrap();
            p.set(2);
            sleep(Duration::from_millis(1)).await;
            buf[..n].to_vec()
        });
        yield_now().await;
        (h, (a, b))
    });
    assert_eq!(progress.get(), 1);
    assert_eq!(rt.alive_tasks(), 1);
    // Data arrives while no loop runs; the task picks it up in the next one.
    (&b).write_all(b"hi").unwrap();
    let out = rt.block_on(async { bounded("task across block_on calls", h).await.unwrap() });
    assert_eq!(out, b"hi");
    assert_eq!(progress.get(), 2);
    drop((a, b));
}

#[test]
fn main_future_panic_leaves_the_runtime_usable() {
    let rt = Runtime::new().unwrap();
    let h = rt.spawn(async {
        sleep(Duration::from_millis(2)).await;
        8
    });
    let res = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(async {
            yield_now().await;
            panic!("main future panics");
        })
    }));
    assert_eq!(payload_message(&*res.unwrap_err()), "main future panics");
    assert!(Reactor::current().is_none());
    assert_eq!(rt.block_on(h).unwrap(), 8);
}
