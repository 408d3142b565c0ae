//! The blocking pool: `spawn_blocking` results and panics, the thread bound
//! and queueing, the idle keep-alive, the process-wide pool outside any
//! runtime, and awaiting from workers and from the main thread.

use runtime::{spawn_blocking, BlockingHandle, Builder, Runtime};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

/// Polls `cond` every millisecond until it holds or `limit` passes.
fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn blocking_handle_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<BlockingHandle<Vec<u8>>>();
}

#[test]
fn results_and_panics() {
    let rt = Runtime::new().unwrap();
    rt.block_on(async {
        let v = spawn_blocking(|| {
            thread::sleep(Duration::from_millis(5));
            6 * 7
        })
        .await
        .unwrap();
        assert_eq!(v, 42);

        let name = spawn_blocking(|| thread::current().name().map(str::to_owned))
            .await
            .unwrap()
            .unwrap();
        assert!(name.starts_with("runtime-blocking-"), "{name}");

        let err = spawn_blocking(|| -> u32 { panic!("blocking boom") })
            .await
            .unwrap_err();
        assert!(err.is_panic());
        assert_eq!(err.panic_message(), Some("blocking boom"));

        // The pool survives the panic.
        assert_eq!(spawn_blocking(|| "again").await.unwrap(), "again");
    });
}

#[test]
fn the_loop_keeps_running_while_a_closure_blocks() {
    let rt = Runtime::new().unwrap();
    rt.block_on(async {
        let slow = spawn_blocking(|| thread::sleep(Duration::from_millis(100)));
        let ticks = runtime::spawn(async {
            let mut n = 0;
            for _ in 0..10 {
                runtime::time::sleep(Duration::from_millis(1)).await;
                n += 1;
            }
            n
        });
        assert_eq!(ticks.await.unwrap(), 10);
        assert!(
            !slow.is_finished(),
            "the timers ran while the closure blocked"
        );
        slow.await.unwrap();
    });
}

#[test]
fn more_jobs_than_threads_queue_and_all_complete() {
    let rt = Builder::new().max_blocking_threads(2).build().unwrap();
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    rt.block_on(async {
        let handles: Vec<_> = (0..12)
            .map(|i| {
                let running = running.clone();
                let peak = peak.clone();
                spawn_blocking(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    thread::sleep(Duration::from_millis(10));
                    running.fetch_sub(1, Ordering::SeqCst);
                    i
                })
            })
            .collect();
        let handle = runtime::Handle::current().unwrap();
        assert!(handle.blocking_threads() <= 2);
        assert!(handle.blocking_queued() > 0, "the rest waits in the queue");
        for (i, h) in handles.into_iter().enumerate() {
            assert_eq!(h.await.unwrap(), i);
        }
    });
    assert_eq!(
        peak.load(Ordering::SeqCst),
        2,
        "never more than two at once"
    );
    assert_eq!(rt.blocking_threads(), 2);
}

#[test]
fn idle_threads_exit_after_the_keep_alive() {
    let keep_alive = Duration::from_millis(100);
    let rt = Builder::new()
        .blocking_keep_alive(keep_alive)
        .build()
        .unwrap();
    assert_eq!(rt.blocking_threads(), 0, "threads start on demand");
    let barrier = Arc::new(Barrier::new(4));
    let ends = rt.block_on(async {
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let barrier = barrier.clone();
                // Only four threads at once get past the barrier.
                spawn_blocking(move || {
                    barrier.wait();
                    Instant::now()
                })
            })
            .collect();
        let mut ends = Vec::new();
        for h in hs {
            ends.push(h.await.unwrap());
        }
        ends
    });
    let first_end = *ends.iter().min().unwrap();
    let alive = rt.blocking_threads();
    if first_end.elapsed() < keep_alive {
        assert_eq!(alive, 4, "idle threads wait for the keep-alive");
    }
    assert!(
        eventually(Duration::from_secs(5), || rt.blocking_threads() == 0),
        "{} threads still alive",
        rt.blocking_threads()
    );
    // No thread left before it had been idle for the keep-alive.
    assert!(first_end.elapsed() >= keep_alive);

    // The pool starts threads again afterwards.
    let v = rt.block_on(async { spawn_blocking(|| 5).await }).unwrap();
    assert_eq!(v, 5);
}

#[test]
fn an_idle_thread_is_reused() {
    let rt = Builder::new()
        .blocking_keep_alive(Duration::from_secs(30))
        .build()
        .unwrap();
    // Called inside block_on, so the runtime's pool is used.
    let first = rt
        .block_on(async { spawn_blocking(|| thread::current().id()).await })
        .unwrap();
    for _ in 0..5 {
        // Give the thread time to go back to waiting (a closure submitted
        // while it is still finishing the previous one may start another).
        thread::sleep(Duration::from_millis(20));
        let again = rt
            .block_on(async { spawn_blocking(|| thread::current().id()).await })
            .unwrap();
        assert_eq!(again, first);
    }
    assert_eq!(rt.blocking_threads(), 1);
}

#[test]
fn spawn_blocking_outside_any_runtime() {
    assert!(runtime::Handle::current().is_none());
    let h = spawn_blocking(|| thread::current().name().map(str::to_owned));
    // Awaited on a runtime created afterwards, and on a plain thread.
    let name = runtime::block_on(h).unwrap().unwrap();
    assert!(name.starts_with("runtime-blocking-"), "{name}");
    let (tx, rx) = mpsc::channel();
    let h = spawn_blocking(move || tx.send(7).unwrap());
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), 7);
    runtime::block_on(h).unwrap();
}

#[test]
fn awaited_from_a_worker_and_from_the_main_thread() {
    let rt = Builder::new()
        .threads(2)
        .max_blocking_threads(4)
        .build()
        .unwrap();
    let from_main = rt.block_on(async {
        let caller = thread::current().id();
        let ran_on = spawn_blocking(|| thread::current().id()).await.unwrap();
        assert_ne!(ran_on, caller);
        runtime::worker_index()
    });
    assert_eq!(from_main, None);
    let handle = rt.handle();
    let hs: Vec<_> = (0..2)
        .map(|i| {
            handle
                .spawn_on(i, || async {
                    let worker = thread::current().id();
                    let (ran_on, name) = spawn_blocking(|| {
                        thread::sleep(Duration::from_millis(5));
                        (
                            thread::current().id(),
                            thread::current().name().map(str::to_owned),
                        )
                    })
                    .await
                    .unwrap();
                    assert_ne!(ran_on, worker);
                    // Back on the worker after the await.
                    assert_eq!(thread::current().id(), worker);
                    (runtime::worker_index(), name.unwrap())
                })
                .unwrap()
        })
        .collect();
    for (i, h) in hs.into_iter().enumerate() {
        let (index, name) = rt.block_on(h).unwrap();
        assert_eq!(index, Some(i));
        assert!(name.starts_with("runtime-blocking-"));
    }
    // Workers and the main thread share the runtime's pool.
    assert!(rt.blocking_threads() >= 1 && rt.blocking_threads() <= 4);
    let via_handle = rt.block_on(handle.spawn_blocking(|| 11)).unwrap();
    assert_eq!(via_handle, 11);
}

#[test]
fn dropping_the_runtime_does_not_wait_for_running_closures() {
    let rt = Builder::new().max_blocking_threads(1).build().unwrap();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (started_tx, started_rx) = mpsc::channel();
    let (running, queued) = rt.block_on(async {
        let running = spawn_blocking(move || {
            started_tx.send(()).unwrap();
            release_rx.recv().unwrap();
            "finished anyway"
        });
        let queued = spawn_blocking(|| "never runs");
        (running, queued)
    });
    started_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    let start = Instant::now();
    drop(rt);
    assert!(start.elapsed() < Duration::from_secs(1));
    // The queued closure was dropped unstarted.
    assert!(runtime::block_on(queued).unwrap_err().is_cancelled());
    // The running one finishes in the background.
    release_tx.send(()).unwrap();
    assert_eq!(runtime::block_on(running).unwrap(), "finished anyway");
}

#[test]
fn zero_max_blocking_threads_is_an_error() {
    let err = Builder::new().max_blocking_threads(0).build().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn blocking_handle_awaited_on_another_thread() {
    let h = spawn_blocking(|| vec![1u8, 2, 3]);
    let v = thread::spawn(move || runtime::block_on(h).unwrap())
        .join()
        .unwrap();
    assert_eq!(v, vec![1, 2, 3]);
}
