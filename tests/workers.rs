//! The per-thread executor: worker threads each running their own reactor
//! and executor, `Handle::spawn_on`/`spawn`, `RemoteHandle`, graceful
//! shutdown, CPU pinning and `#[runtime::test(threads = N)]`.

use runtime::{Builder, Handle, JoinError, RemoteHandle, Runtime};
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

fn threaded(n: usize) -> Runtime {
    Builder::new().threads(n).build().unwrap()
}

/// Records the thread it is dropped on.
struct DropGuard(mpsc::Sender<ThreadId>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        let _ = self.0.send(thread::current().id());
    }
}

/// Pending forever, holding a guard.
async fn forever(guard: DropGuard) {
    let _guard = guard;
    std::future::pending::<()>().await;
}

fn assert_send_sync<T: Send + Sync>() {}
fn assert_send<T: Send>() {}

#[test]
fn handle_and_remote_handle_are_send() {
    assert_send_sync::<Handle>();
    assert_send::<RemoteHandle<u32>>();
    assert_send::<runtime::WaitForShutdown>();
}

#[test]
fn spawn_on_runs_on_the_chosen_worker() {
    let rt = threaded(3);
    assert_eq!(rt.workers(), 3);
    let handle = rt.handle();
    assert_eq!(handle.workers(), 3);
    let main_id = thread::current().id();
    let mut ids = HashSet::new();
    for i in 0..3 {
        let h = handle
            .spawn_on(i, || async {
                (
                    runtime::worker_index(),
                    thread::current().id(),
                    thread::current().name().map(str::to_owned),
                    Handle::current().map(|h| h.workers()),
                )
            })
            .unwrap();
        assert_eq!(h.worker(), i);
        let (index, id, name, workers) = rt.block_on(h).unwrap();
        assert_eq!(index, Some(i));
        assert_ne!(id, main_id);
        assert_eq!(
            name.as_deref(),
            Some(format!("runtime-worker-{i}").as_str())
        );
        assert_eq!(workers, Some(3));
        ids.insert(id);
    }
    assert_eq!(ids.len(), 3, "each worker is its own thread");
    // The same worker is the same thread every time.
    let again = handle
        .spawn_on(1, || async { thread::current().id() })
        .unwrap();
    let first = handle
        .spawn_on(1, || async { thread::current().id() })
        .unwrap();
    assert_eq!(rt.block_on(again).unwrap(), rt.block_on(first).unwrap());
}

#[test]
fn block_on_runs_on_the_calling_thread() {
    let rt = threaded(2);
    let main_id = thread::current().id();
    let (index, id, spawned) = rt.block_on(async {
        let local = runtime::spawn(async { (runtime::worker_index(), thread::current().id()) });
        (
            runtime::worker_index(),
            thread::current().id(),
            local.await.unwrap(),
        )
    });
    assert_eq!(index, None);
    assert_eq!(id, main_id);
    assert_eq!(spawned, (None, main_id));
    assert_eq!(runtime::worker_index(), None);
    assert!(
        Handle::current().is_none(),
        "no runtime runs here outside block_on"
    );
}

#[test]
fn non_send_future_is_built_on_the_worker() {
    let rt = threaded(2);
    let h = rt
        .handle()
        .spawn_on(0, || {
            let counter = Rc::new(Cell::new(0u32));
            let log = Rc::new(RefCell::new(Vec::new()));
            async move {
                let mut tasks = Vec::new();
                for i in 0..10 {
                    let counter = counter.clone();
                    let log = log.clone();
                    tasks.push(runtime::spawn(async move {
                        runtime::yield_now().await;
                        counter.set(counter.get() + 1);
                        log.borrow_mut().push(i);
                    }));
                }
                for t in tasks {
                    t.await.unwrap();
                }
                let sum: u32 = log.borrow().iter().sum();
                (counter.get(), sum)
            }
        })
        .unwrap();
    assert_eq!(rt.block_on(h).unwrap(), (10, 45));
}

#[test]
fn tasks_spawned_inside_a_worker_stay_on_it() {
    let rt = threaded(3);
    let h = rt
        .handle()
        .spawn_on(2, || async {
            let outer = thread::current().id();
            let mut inner = Vec::new();
            for _ in 0..20 {
                inner.push(runtime::spawn(async {
                    runtime::time::sleep(Duration::from_millis(1)).await;
                    runtime::yield_now().await;
                    (runtime::worker_index(), thread::current().id())
                }));
            }
            let mut seen = Vec::new();
            for t in inner {
                seen.push(t.await.unwrap());
            }
            (outer, seen)
        })
        .unwrap();
    let (outer, seen) = rt.block_on(h).unwrap();
    assert_eq!(seen.len(), 20);
    for (index, id) in seen {
        assert_eq!(index, Some(2));
        assert_eq!(id, outer);
    }
}

#[test]
fn balanced_spawn_spreads_over_all_workers() {
    let n = 4;
    let rt = threaded(n);
    let handle = rt.handle();
    let handles: Vec<_> = (0..100)
        .map(|i| {
            handle
                .spawn(move || async move {
                    runtime::yield_now().await;
                    (i, runtime::worker_index().unwrap())
                })
                .unwrap()
        })
        .collect();
    let mut per_worker = vec![0usize; n];
    rt.block_on(async {
        for (i, h) in handles.into_iter().enumerate() {
            let expected_worker = h.worker();
            let (j, w) = h.await.unwrap();
            assert_eq!(j, i);
            assert_eq!(w, expected_worker);
            per_worker[w] += 1;
        }
    });
    assert_eq!(per_worker.iter().sum::<usize>(), 100);
    // Round-robin: an even spread.
    assert_eq!(per_worker, vec![25; n]);
}

#[test]
fn remote_handle_output_panic_and_abort() {
    let rt = threaded(2);
    let handle = rt.handle();

    // Output, awaited from the main thread.
    let h = handle
        .spawn_on(0, || async { String::from("from worker 0") })
        .unwrap();
    assert_eq!(rt.block_on(h).unwrap(), "from worker 0");

    // A panic in the future.
    let h = handle
        .spawn_on(1, || async {
            runtime::yield_now().await;
            panic!("boom on a worker");
        })
        .unwrap();
    let err: JoinError = rt.block_on(h).unwrap_err();
    assert!(err.is_panic());
    assert_eq!(err.panic_message(), Some("boom on a worker"));

    // A panic in the closure that builds the future.
    let h = handle
        .spawn_on(1, || -> std::future::Ready<u32> {
            panic!("boom in the closure")
        })
        .unwrap();
    let err = rt.block_on(h).unwrap_err();
    assert!(err.is_panic());
    assert_eq!(err.panic_message(), Some("boom in the closure"));

    // The worker survived both panics.
    let h = handle
        .spawn_on(1, || async { runtime::worker_index() })
        .unwrap();
    assert_eq!(rt.block_on(h).unwrap(), Some(1));

    // Abort a running task: its future is dropped on its worker.
    let worker_id = rt
        .block_on(
            handle
                .spawn_on(0, || async { thread::current().id() })
                .unwrap(),
        )
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let started = Arc::new(AtomicBool::new(false));
    let started2 = started.clone();
    let h = handle
        .spawn_on(0, move || async move {
            started2.store(true, Ordering::SeqCst);
            forever(DropGuard(tx)).await
        })
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !started.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "the task never started");
        thread::sleep(Duration::from_millis(1));
    }
    assert!(!h.is_finished());
    h.abort();
    let dropped_on = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(dropped_on, worker_id);
    let err = rt.block_on(h).unwrap_err();
    assert!(err.is_cancelled());

    // Abort before the worker even got to it: the closure never runs.
    let ran = Arc::new(AtomicBool::new(false));
    let ran2 = ran.clone();
    let blocker = handle
        .spawn_on(1, || async { thread::sleep(Duration::from_millis(100)) })
        .unwrap();
    let h = handle
        .spawn_on(1, move || {
            ran2.store(true, Ordering::SeqCst);
            async {}
        })
        .unwrap();
    h.abort();
    assert!(rt.block_on(h).unwrap_err().is_cancelled());
    rt.block_on(blocker).unwrap();
    assert!(!ran.load(Ordering::SeqCst));
}

#[test]
fn remote_handle_awaited_on_another_worker() {
    let rt = threaded(2);
    let handle = rt.handle();
    let h = handle
        .spawn_on(0, || async {
            let handle = Handle::current().unwrap();
            let inner = handle
                .spawn_on(1, || async {
                    runtime::time::sleep(Duration::from_millis(2)).await;
                    runtime::worker_index()
                })
                .unwrap();
            (runtime::worker_index(), inner.await.unwrap())
        })
        .unwrap();
    assert_eq!(rt.block_on(h).unwrap(), (Some(0), Some(1)));
}

#[test]
fn spawn_on_own_worker_runs_locally() {
    let rt = threaded(2);
    let h = rt
        .handle()
        .spawn_on(1, || async {
            let here = thread::current().id();
            let h = Handle::current()
                .unwrap()
                .spawn_on(1, || async { thread::current().id() })
                .unwrap();
            (here, h.await.unwrap())
        })
        .unwrap();
    let (a, b) = rt.block_on(h).unwrap();
    assert_eq!(a, b);
}

#[test]
fn worker_task_panics_are_join_errors_and_the_worker_lives_on() {
    let rt = threaded(1);
    let h = rt
        .handle()
        .spawn_on(0, || async {
            let bad = runtime::spawn(async { panic!("local panic") });
            let err = bad.await.unwrap_err();
            let good = runtime::spawn(async { 7 });
            (err.is_panic(), good.await.unwrap())
        })
        .unwrap();
    assert_eq!(rt.block_on(h).unwrap(), (true, 7));
}

#[test]
fn threads_zero_and_bad_worker_index_are_errors() {
    let err = Builder::new().threads(0).build().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);

    let rt = threaded(2);
    let err = rt.handle().spawn_on(2, || async {}).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);

    // A single-threaded runtime has a handle without workers.
    let single = Runtime::new().unwrap();
    let handle = single.handle();
    assert_eq!(handle.workers(), 0);
    assert!(handle.spawn(|| async {}).is_err());
    assert_eq!(
        handle.spawn_on(0, || async {}).unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
    assert!(single.block_on(async { Handle::current().is_some() }));
}

#[test]
fn threads_auto_starts_one_worker_per_cpu() {
    let cpus = thread::available_parallelism().map_or(1, |n| n.get());
    let rt = Builder::new().threads_auto().build().unwrap();
    assert_eq!(rt.workers(), cpus);
}

#[test]
fn workers_use_the_configured_backend() {
    let rt = Builder::new()
        .ignore_env(true)
        .method("poll")
        .unwrap()
        .threads(2)
        .build()
        .unwrap();
    assert_eq!(rt.method().name(), "poll");
    for i in 0..2 {
        let h = rt
            .handle()
            .spawn_on(i, || async {
                runtime::reactor::Reactor::current()
                    .unwrap()
                    .method()
                    .name()
                    .to_string()
            })
            .unwrap();
        assert_eq!(rt.block_on(h).unwrap(), "poll");
    }
}

#[test]
fn graceful_shutdown_finishes_quick_tasks_and_drops_the_rest_on_their_thread() {
    let rt = threaded(2);
    let handle = rt.handle();
    let worker_ids: Vec<ThreadId> = (0..2)
        .map(|i| {
            rt.block_on(
                handle
                    .spawn_on(i, || async { thread::current().id() })
                    .unwrap(),
            )
            .unwrap()
        })
        .collect();

    let finished = Arc::new(AtomicBool::new(false));
    let f2 = finished.clone();
    let quick = handle
        .spawn_on(0, move || async move {
            runtime::time::sleep(Duration::from_millis(50)).await;
            f2.store(true, Ordering::SeqCst);
            "done"
        })
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stuck = handle.spawn_on(1, move || forever(DropGuard(tx))).unwrap();
    // Let both start.
    thread::sleep(Duration::from_millis(10));

    let timeout = Duration::from_millis(300);
    let start = Instant::now();
    rt.shutdown_timeout(timeout);
    let elapsed = start.elapsed();

    assert!(
        finished.load(Ordering::SeqCst),
        "the quick task ran to its end"
    );
    assert!(
        elapsed >= timeout,
        "returned after {elapsed:?}, before the deadline"
    );
    assert!(
        elapsed < timeout + Duration::from_secs(2),
        "took {elapsed:?}"
    );
    let dropped_on = rx.try_recv().expect("the stuck task was dropped");
    assert_eq!(
        dropped_on, worker_ids[1],
        "dropped on its own worker thread"
    );

    assert!(quick.is_finished() && stuck.is_finished());
    assert_eq!(runtime::block_on(quick).unwrap(), "done");
    assert!(runtime::block_on(stuck).unwrap_err().is_cancelled());

    // The runtime is gone: spawning through a surviving handle fails.
    assert!(handle.shutdown_requested());
    assert!(handle.spawn_on(0, || async {}).is_err());
    assert!(handle.spawn(|| async {}).is_err());
}

#[test]
fn shutdown_returns_early_when_tasks_finish() {
    let rt = threaded(2);
    let hs: Vec<_> = (0..10)
        .map(|_| {
            rt.handle()
                .spawn(|| runtime::time::sleep(Duration::from_millis(20)))
                .unwrap()
        })
        .collect();
    let start = Instant::now();
    rt.shutdown_timeout(Duration::from_secs(30));
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    for h in hs {
        assert!(runtime::block_on(h).is_ok());
    }
}

#[test]
fn shutdown_gives_the_main_thread_tasks_the_grace_period_too() {
    let rt = threaded(1);
    let done = Rc::new(Cell::new(false));
    let d2 = done.clone();
    let _local = rt.spawn(async move {
        runtime::time::sleep(Duration::from_millis(30)).await;
        d2.set(true);
    });
    rt.shutdown_timeout(Duration::from_secs(10));
    assert!(done.get());
}

#[test]
fn tasks_observe_the_shutdown_signal() {
    let rt = threaded(2);
    let handle = rt.handle();
    assert!(!handle.shutdown_requested());
    let accepted = Arc::new(AtomicUsize::new(0));
    // An "accept loop" per worker: takes work until shutdown, then stops
    // and reports that spawning is refused from then on.
    let loops: Vec<_> = (0..2)
        .map(|i| {
            let accepted = accepted.clone();
            handle
                .spawn_on(i, move || async move {
                    let handle = Handle::current().unwrap();
                    let mut stop = std::pin::pin!(handle.wait_for_shutdown());
                    loop {
                        let tick = runtime::time::sleep(Duration::from_millis(1));
                        if let Some(()) = first(stop.as_mut(), tick).await {
                            break;
                        }
                        accepted.fetch_add(1, Ordering::SeqCst);
                    }
                    assert!(handle.shutdown_requested());
                    handle.spawn_on(0, || async {}).is_err()
                })
                .unwrap()
        })
        .collect();
    thread::sleep(Duration::from_millis(30));
    let start = Instant::now();
    rt.shutdown_timeout(Duration::from_secs(10));
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(accepted.load(Ordering::SeqCst) > 0);
    for l in loops {
        assert!(
            runtime::block_on(l).unwrap(),
            "spawn during shutdown must fail"
        );
    }
}

/// Polls `a` then `b`; `Some` when `a` completed first, `None` for `b`.
async fn first<A: Future<Output = ()> + Unpin, B: Future<Output = ()>>(a: A, b: B) -> Option<()> {
    let mut a = a;
    let mut b = std::pin::pin!(b);
    std::future::poll_fn(|cx: &mut Context<'_>| {
        if Pin::new(&mut a).poll(cx).is_ready() {
            return Poll::Ready(Some(()));
        }
        if b.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

#[test]
fn dropping_the_runtime_drops_worker_tasks_promptly() {
    let rt = threaded(2);
    let (tx, rx) = mpsc::channel();
    let mut hs = Vec::new();
    for i in 0..2 {
        let tx = tx.clone();
        hs.push(
            rt.handle()
                .spawn_on(i, move || forever(DropGuard(tx)))
                .unwrap(),
        );
    }
    drop(tx);
    thread::sleep(Duration::from_millis(10));
    let start = Instant::now();
    drop(rt);
    assert!(start.elapsed() < Duration::from_secs(2));
    let threads: HashSet<ThreadId> = rx.iter().collect();
    assert_eq!(threads.len(), 2, "each task dropped on its own worker");
    assert!(!threads.contains(&thread::current().id()));
    for h in hs {
        assert!(runtime::block_on(h).unwrap_err().is_cancelled());
    }
}

#[test]
fn jobs_queued_at_drop_are_cancelled_not_leaked() {
    let rt = threaded(1);
    let handle = rt.handle();
    // Keep the worker busy so later jobs stay queued.
    let busy = handle
        .spawn_on(0, || async { thread::sleep(Duration::from_millis(100)) })
        .unwrap();
    let queued: Vec<_> = (0..5)
        .map(|_| handle.spawn_on(0, || async { 1 }).unwrap())
        .collect();
    drop(rt);
    drop(busy);
    for h in queued {
        // Either it ran before the worker stopped, or it was cancelled:
        // never left hanging.
        match runtime::block_on(h) {
            Ok(v) => assert_eq!(v, 1),
            Err(e) => assert!(e.is_cancelled()),
        }
    }
}

#[test]
fn pin_cpus_pins_each_worker_to_one_cpu() {
    let allowed = allowed_cpus();
    let n = 2;
    let rt = Builder::new().threads(n).pin_cpus(true).build().unwrap();
    for i in 0..n {
        let h = rt
            .handle()
            .spawn_on(i, || async { allowed_cpus() })
            .unwrap();
        let mask = rt.block_on(h).unwrap();
        assert_eq!(mask, vec![allowed[i % allowed.len()]], "worker {i}");
    }
    // The calling thread is left alone.
    assert_eq!(allowed_cpus(), allowed);
}

fn allowed_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is a plain bit array; zeroes are a valid value, and
    // sched_getaffinity writes at most the size passed.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        assert_eq!(
            libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set),
            0
        );
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect()
    }
}

#[runtime::test(threads = 2)]
async fn test_macro_with_threads() {
    let handle = Handle::current().expect("a runtime runs the test body");
    assert_eq!(handle.workers(), 2);
    assert_eq!(runtime::worker_index(), None);
    let here = thread::current().id();
    let local = runtime::spawn(async { thread::current().id() });
    assert_eq!(local.await.unwrap(), here);
    let remote = handle
        .spawn_on(1, || async { runtime::worker_index() })
        .unwrap();
    assert_eq!(remote.await.unwrap(), Some(1));
}

#[runtime::test(threads = "auto", method = "poll")]
async fn test_macro_with_threads_auto_and_method() {
    let handle = Handle::current().unwrap();
    let cpus = thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(handle.workers(), cpus);
    let h = handle
        .spawn(|| async {
            runtime::reactor::Reactor::current()
                .unwrap()
                .method()
                .name()
                .to_string()
        })
        .unwrap();
    assert_eq!(h.await.unwrap(), "poll");
}

#[test]
fn many_remote_spawns_from_many_threads() {
    let rt = threaded(2);
    let handle = rt.handle();
    let total = Arc::new(AtomicUsize::new(0));
    let spawners: Vec<_> = (0..4)
        .map(|_| {
            let handle = handle.clone();
            let total = total.clone();
            thread::spawn(move || {
                let hs: Vec<_> = (0..250)
                    .map(|i| {
                        let total = total.clone();
                        handle
                            .spawn(move || async move {
                                total.fetch_add(1, Ordering::SeqCst);
                                i
                            })
                            .unwrap()
                    })
                    .collect();
                let mut sum = 0;
                for h in hs {
                    sum += runtime::block_on(h).unwrap();
                }
                sum
            })
        })
        .collect();
    for s in spawners {
        assert_eq!(s.join().unwrap(), (0..250).sum::<usize>());
    }
    assert_eq!(total.load(Ordering::SeqCst), 1000);
}
