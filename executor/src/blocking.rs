//! The blocking pool: a bounded set of OS threads for closures that block
//! (file I/O, `getaddrinfo`, compression, CPU-heavy work) so they never stall
//! an event loop. Threads are started on demand up to a maximum, wait a
//! keep-alive period for more work when idle, then exit; closures queue when
//! every thread is busy.

use crate::context;
use crate::oneshot::{self, Receiver};
use crate::task::JoinError;
use parking_lot::{Condvar, Mutex};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Threads a pool starts at most unless told otherwise (tokio's default).
pub const DEFAULT_MAX_BLOCKING_THREADS: usize = 512;

/// How long an idle pool thread waits for work before it exits.
pub const DEFAULT_BLOCKING_KEEP_ALIVE: Duration = Duration::from_secs(10);

type Job = Box<dyn FnOnce() + Send + 'static>;

pub(crate) struct Pool {
    state: Mutex<State>,
    cond: Condvar,
    max_threads: usize,
    keep_alive: Duration,
}

struct State {
    queue: VecDeque<Job>,
    /// Threads alive (busy or idle).
    threads: usize,
    /// Threads waiting for work that nobody has notified yet.
    idle: usize,
    /// Notifications sent to idle threads and not yet claimed.
    notified: usize,
    shutdown: bool,
    next_name: usize,
}

thread_local! {
    /// The pool a pool thread belongs to, so nested `spawn_blocking` calls
    /// stay in it.
    static CURRENT_POOL: std::cell::RefCell<Option<Arc<Pool>>> =
        const { std::cell::RefCell::new(None) };
}

impl Pool {
    pub(crate) fn new(max_threads: usize, keep_alive: Duration) -> Arc<Pool> {
        Arc::new(Pool {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                threads: 0,
                idle: 0,
                notified: 0,
                shutdown: false,
                next_name: 0,
            }),
            cond: Condvar::new(),
            max_threads: max_threads.max(1),
            keep_alive,
        })
    }

    /// The process-wide pool used outside any runtime.
    fn global() -> Arc<Pool> {
        static GLOBAL: OnceLock<Arc<Pool>> = OnceLock::new();
        GLOBAL
            .get_or_init(|| Pool::new(DEFAULT_MAX_BLOCKING_THREADS, DEFAULT_BLOCKING_KEEP_ALIVE))
            .clone()
    }

    /// Threads alive in the pool (running a closure or idle).
    pub(crate) fn threads(&self) -> usize {
        self.state.lock().threads
    }

    /// Closures waiting for a free thread.
    pub(crate) fn queued(&self) -> usize {
        self.state.lock().queue.len()
    }

    /// Queues a job, waking an idle thread or starting a new one. After
    /// shutdown the job is dropped at once (its handle reports a cancellation).
    fn execute(self: &Arc<Self>, job: Job) {
        let mut st = self.state.lock();
        if st.shutdown {
            drop(st);
            drop(job);
            return;
        }
        st.queue.push_back(job);
        if st.idle > 0 {
            st.idle -= 1;
            st.notified += 1;
            self.cond.notify_one();
            return;
        }
        if st.threads >= self.max_threads {
            // Every thread is busy: the job waits in the queue.
            return;
        }
        st.threads += 1;
        let name = format!("runtime-blocking-{}", st.next_name);
        st.next_name += 1;
        drop(st);
        let pool = self.clone();
        let spawned = std::thread::Builder::new()
            .name(name)
            .spawn(move || pool.run());
        if spawned.is_err() {
            let mut st = self.state.lock();
            st.threads -= 1;
            if st.threads == 0 {
                // No thread will ever run the queue: cancel what waits.
                let dropped: Vec<Job> = st.queue.drain(..).collect();
                drop(st);
                drop(dropped);
            }
        }
    }

    /// A pool thread: runs jobs, waits `keep_alive` for more, exits.
    fn run(self: Arc<Self>) {
        CURRENT_POOL.with(|p| *p.borrow_mut() = Some(self.clone()));
        let mut st = self.state.lock();
        'work: loop {
            while let Some(job) = st.queue.pop_front() {
                drop(st);
                // Jobs catch their own panics; this one guards the pool's
                // bookkeeping against a panicking destructor.
                let _ = catch_unwind(AssertUnwindSafe(job));
                st = self.state.lock();
            }
            if st.shutdown {
                break;
            }
            st.idle += 1;
            let deadline = Instant::now() + self.keep_alive;
            loop {
                let timed_out = self.cond.wait_until(&mut st, deadline).timed_out();
                if st.notified > 0 {
                    // Whoever notified already took us off the idle count.
                    st.notified -= 1;
                    continue 'work;
                }
                if st.shutdown || timed_out {
                    st.idle -= 1;
                    break 'work;
                }
                // A spurious wake-up: keep waiting.
            }
        }
        st.threads -= 1;
        drop(st);
        CURRENT_POOL.with(|p| p.borrow_mut().take());
    }

    /// Stops the pool: idle threads exit, queued jobs are dropped (their
    /// handles report cancellation), running jobs finish in the background.
    pub(crate) fn shutdown(&self) {
        let dropped: Vec<Job> = {
            let mut st = self.state.lock();
            st.shutdown = true;
            st.queue.drain(..).collect()
        };
        self.cond.notify_all();
        drop(dropped);
    }
}

/// The pool `spawn_blocking` uses here: the current runtime's, the pool of
/// the pool thread we are on, or the process-wide one.
fn current_pool() -> Arc<Pool> {
    if let Some(pool) = context::with_core(|c| c.map(|c| c.handle.blocking_pool().clone())) {
        return pool;
    }
    if let Some(pool) = CURRENT_POOL.with(|p| p.borrow().clone()) {
        return pool;
    }
    Pool::global()
}

/// Runs a blocking closure on the blocking pool and returns a handle to
/// await its result, so that the event loop keeps running meanwhile.
///
/// Inside a runtime (its `block_on`, or any of its worker threads) the
/// runtime's pool is used ([`Builder::max_blocking_threads`],
/// [`Builder::blocking_keep_alive`]); outside any runtime, a process-wide
/// pool created on first use (512 threads, 10 s keep-alive). A panic in `f`
/// is caught and returned as a [`JoinError`] with
/// [`is_panic`](JoinError::is_panic).
///
/// A closure that has started always runs to completion: dropping the
/// handle detaches it, and dropping the runtime does not wait for it (a
/// closure still queued when the runtime is dropped never runs and its
/// handle reports a cancelled `JoinError`).
///
/// ```
/// let sum = runtime::block_on(async {
///     runtime::spawn_blocking(|| (1..=10u64).sum::<u64>()).await.unwrap()
/// });
/// assert_eq!(sum, 55);
/// ```
///
/// [`Builder::max_blocking_threads`]: crate::Builder::max_blocking_threads
/// [`Builder::blocking_keep_alive`]: crate::Builder::blocking_keep_alive
pub fn spawn_blocking<F, T>(f: F) -> BlockingHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    spawn_blocking_on(&current_pool(), f)
}

pub(crate) fn spawn_blocking_on<F, T>(pool: &Arc<Pool>, f: F) -> BlockingHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let (tx, rx) = oneshot::channel();
    pool.execute(Box::new(move || {
        let result = catch_unwind(AssertUnwindSafe(f)).map_err(JoinError::panic);
        tx.send(result);
    }));
    BlockingHandle { rx }
}

/// Awaits the result of a [`spawn_blocking`] closure. It is `Send`, so it
/// may be awaited on any thread; dropping it lets the closure run on.
#[must_use = "the result of the blocking closure is lost unless the handle is awaited"]
pub struct BlockingHandle<T> {
    rx: Receiver<T>,
}

impl<T> BlockingHandle<T> {
    /// Whether the closure has returned (or panicked, or was dropped
    /// unstarted at shutdown).
    pub fn is_finished(&self) -> bool {
        self.rx.is_finished()
    }
}

impl<T> Future for BlockingHandle<T> {
    type Output = Result<T, JoinError>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.rx.poll_recv(cx)
    }
}

impl<T> fmt::Debug for BlockingHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}
