//! The per-thread executor: N worker threads, each running its own reactor
//! and single-threaded executor (thread-per-core, as libevent runs one
//! `event_base` per thread). Tasks never move between threads; other
//! threads hand a worker a closure through its job queue, and the closure
//! builds the task's future on the worker.
//!
//! A [`Handle`] reaches the workers from any thread; it also carries the
//! runtime's graceful-shutdown signal and its blocking pool.

use crate::blocking::{self, BlockingHandle, Pool};
use crate::context;
use crate::oneshot::{self, Receiver, Sender};
use crate::runtime::Builder;
use crate::shared::{Job, Shared};
use crate::task::JoinError;
use parking_lot::Mutex;
use runtime_reactor::slab::Slab;
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, OnceLock};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle as ThreadHandle;
use std::time::Instant;

/// What every handle of one runtime shares.
struct Inner {
    /// The workers' cross-thread halves, set once they have all started.
    workers: OnceLock<Box<[Arc<Shared>]>>,
    nworkers: usize,
    /// Round-robin cursor of [`Handle::spawn`].
    next: AtomicUsize,
    /// Set by shutdown: spawns are refused and waiters are woken.
    shutdown: AtomicBool,
    /// When the workers stop waiting for their tasks.
    deadline: Mutex<Option<Instant>>,
    /// Wakers of pending [`WaitForShutdown`] futures.
    waiters: Mutex<Slab<Waker>>,
    blocking: Arc<Pool>,
}

/// A `Send + Sync` handle to a runtime: spawns onto its worker threads from
/// any thread, observes its graceful shutdown and reaches its blocking pool.
///
/// Get one with [`Runtime::handle`](crate::Runtime::handle) or, on a thread
/// that runs the runtime (a worker, or the thread inside its `block_on`),
/// with [`Handle::current`].
///
/// ```
/// let rt = runtime::Builder::new().threads(2).build().unwrap();
/// let handle = rt.handle();
/// let on_one = handle
///     .spawn_on(1, || async { runtime::worker_index() })
///     .unwrap();
/// assert_eq!(rt.block_on(on_one).unwrap(), Some(1));
/// ```
#[derive(Clone)]
pub struct Handle {
    inner: Arc<Inner>,
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("workers", &self.inner.nworkers)
            .field("shutdown_requested", &self.shutdown_requested())
            .finish()
    }
}

fn shut_down_error() -> io::Error {
    io::Error::other("the runtime is shut down (or shutting down)")
}

impl Handle {
    pub(crate) fn new(nworkers: usize, blocking: Arc<Pool>) -> Handle {
        Handle {
            inner: Arc::new(Inner {
                workers: OnceLock::new(),
                nworkers,
                next: AtomicUsize::new(0),
                shutdown: AtomicBool::new(false),
                deadline: Mutex::new(None),
                waiters: Mutex::new(Slab::new()),
                blocking,
            }),
        }
    }

    /// The handle of the runtime running on this thread: inside a worker
    /// thread, or inside `block_on` (or [`Runtime::spawn`]) of any runtime.
    /// `None` elsewhere, including on blocking-pool threads.
    ///
    /// [`Runtime::spawn`]: crate::Runtime::spawn
    pub fn current() -> Option<Handle> {
        context::with_core(|c| c.map(|c| c.handle.clone()))
    }

    /// Number of worker threads (0 for a single-threaded runtime).
    pub fn workers(&self) -> usize {
        self.inner.nworkers
    }

    /// Sends `f` to worker `worker`, which calls it there and runs the
    /// future it returns as a task of its own executor. The future need not
    /// be `Send`: it is created on the worker and never leaves it (only `f`
    /// and the output cross threads).
    ///
    /// Called on worker `worker` itself, the task is spawned at once
    /// without the queue. A panic in `f` or in the future becomes a
    /// [`JoinError`]. Errors: `InvalidInput` when `worker >= workers()`, and
    /// an error once the runtime is shutting down.
    ///
    /// ```
    /// use std::rc::Rc;
    /// let rt = runtime::Builder::new().threads(2).build().unwrap();
    /// let h = rt
    ///     .handle()
    ///     .spawn_on(0, || {
    ///         let local = Rc::new(20); // !Send, built on worker 0
    ///         async move { *local + 22 }
    ///     })
    ///     .unwrap();
    /// assert_eq!(rt.block_on(h).unwrap(), 42);
    /// ```
    pub fn spawn_on<F, Fut, T>(&self, worker: usize, f: F) -> io::Result<RemoteHandle<T>>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = T> + 'static,
        T: Send + 'static,
    {
        if worker >= self.inner.nworkers {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "worker {worker} out of range: this runtime has {} worker threads",
                    self.inner.nworkers
                ),
            ));
        }
        if self.inner.shutdown.load(Ordering::Acquire) {
            return Err(shut_down_error());
        }
        let Some(workers) = self.inner.workers.get() else {
            return Err(shut_down_error());
        };
        let shared = &workers[worker];
        let (tx, rx) = oneshot::channel();
        let handle = RemoteHandle { rx, worker };
        if context::is_inside(shared) {
            run_remote(f, tx);
            return Ok(handle);
        }
        let job: Job = Box::new(move || run_remote(f, tx));
        match shared.push_job(job) {
            Ok(()) => Ok(handle),
            Err(job) => {
                // Dropping the job drops its sender, so nothing dangles.
                drop(job);
                Err(shut_down_error())
            }
        }
    }

    /// Like [`spawn_on`](Handle::spawn_on) on a worker chosen round-robin
    /// (a shared counter, so consecutive spawns from any thread go to
    /// workers 0, 1, …, n-1, 0, …). An error on a runtime without workers.
    ///
    /// ```
    /// let rt = runtime::Builder::new().threads(2).build().unwrap();
    /// let handle = rt.handle();
    /// let hs: Vec<_> = (0..4)
    ///     .map(|i| handle.spawn(move || async move { i * 2 }).unwrap())
    ///     .collect();
    /// rt.block_on(async {
    ///     for (i, h) in hs.into_iter().enumerate() {
    ///         assert_eq!(h.await.unwrap(), i * 2);
    ///     }
    /// });
    /// ```
    pub fn spawn<F, Fut, T>(&self, f: F) -> io::Result<RemoteHandle<T>>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = T> + 'static,
        T: Send + 'static,
    {
        let n = self.inner.nworkers;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "this runtime has no worker threads (build it with Builder::threads)",
            ));
        }
        let worker = self.inner.next.fetch_add(1, Ordering::Relaxed) % n;
        self.spawn_on(worker, f)
    }

    /// Runs a blocking closure on this runtime's blocking pool (see
    /// [`spawn_blocking`](crate::spawn_blocking)).
    pub fn spawn_blocking<F, T>(&self, f: F) -> BlockingHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        blocking::spawn_blocking_on(&self.inner.blocking, f)
    }

    /// Threads currently alive in the runtime's blocking pool (running a
    /// closure or idle within their keep-alive).
    pub fn blocking_threads(&self) -> usize {
        self.inner.blocking.threads()
    }

    /// Blocking closures waiting for a free pool thread.
    pub fn blocking_queued(&self) -> usize {
        self.inner.blocking.queued()
    }

    /// Whether a shutdown has started ([`Runtime::shutdown_timeout`] or the
    /// runtime being dropped). Long-running tasks such as accept loops
    /// should stop taking new work when it has.
    ///
    /// [`Runtime::shutdown_timeout`]: crate::Runtime::shutdown_timeout
    pub fn shutdown_requested(&self) -> bool {
        self.inner.shutdown.load(Ordering::Acquire)
    }

    /// A future that completes when a shutdown starts (at once if it has).
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = runtime::Builder::new().threads(1).build().unwrap();
    /// let handle = rt.handle();
    /// let h = handle.spawn(|| async {
    ///     let handle = runtime::Handle::current().unwrap();
    ///     handle.wait_for_shutdown().await; // e.g. stop an accept loop
    ///     "stopped cleanly"
    /// }).unwrap();
    /// rt.shutdown_timeout(Duration::from_secs(5));
    /// assert!(h.is_finished());
    /// ```
    pub fn wait_for_shutdown(&self) -> WaitForShutdown {
        WaitForShutdown {
            inner: self.inner.clone(),
            key: None,
        }
    }

    pub(crate) fn blocking_pool(&self) -> &Arc<Pool> {
        &self.inner.blocking
    }

    pub(crate) fn set_workers(&self, workers: Vec<Arc<Shared>>) {
        let _ = self.inner.workers.set(workers.into_boxed_slice());
    }

    /// Refuses new spawns, records the deadline (the first one given wins)
    /// and wakes every [`WaitForShutdown`].
    pub(crate) fn request_shutdown(&self, deadline: Instant) {
        {
            let mut d = self.inner.deadline.lock();
            if d.is_none() {
                *d = Some(deadline);
            }
        }
        self.inner.shutdown.store(true, Ordering::Release);
        let waiters = std::mem::take(&mut *self.inner.waiters.lock());
        for (_, w) in waiters.iter() {
            w.wake_by_ref();
        }
    }

    /// The deadline of the shutdown in progress.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        *self.inner.deadline.lock()
    }
}

/// The future returned by [`Handle::wait_for_shutdown`].
#[must_use = "futures do nothing unless awaited"]
pub struct WaitForShutdown {
    inner: Arc<Inner>,
    key: Option<usize>,
}

impl fmt::Debug for WaitForShutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitForShutdown")
            .field("requested", &self.inner.shutdown.load(Ordering::Acquire))
            .finish()
    }
}

impl Future for WaitForShutdown {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.inner.shutdown.load(Ordering::Acquire) {
            self.key = None;
            return Poll::Ready(());
        }
        let inner = self.inner.clone();
        let mut waiters = inner.waiters.lock();
        // Checked again under the lock: `request_shutdown` sets the flag
        // before it takes the lock to wake the waiters.
        if inner.shutdown.load(Ordering::Acquire) {
            self.key = None;
            return Poll::Ready(());
        }
        match self.key.and_then(|k| waiters.get_mut(k)) {
            Some(w) if w.will_wake(cx.waker()) => {}
            Some(w) => *w = cx.waker().clone(),
            None => self.key = Some(waiters.insert(cx.waker().clone())),
        }
        Poll::Pending
    }
}

impl Drop for WaitForShutdown {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            let mut waiters = self.inner.waiters.lock();
            // Once the flag is set the table has been (or is about to be)
            // emptied, and `key` may name someone else's entry.
            if !self.inner.shutdown.load(Ordering::Acquire) {
                waiters.remove(key);
            }
        }
    }
}

/// Awaits a task spawned with [`Handle::spawn_on`] or [`Handle::spawn`].
/// Unlike [`JoinHandle`](crate::JoinHandle) it is `Send`: await it on any
/// thread. Dropping it detaches the task.
#[must_use = "dropping a RemoteHandle detaches the task; await it to get the output"]
pub struct RemoteHandle<T> {
    rx: Receiver<T>,
    worker: usize,
}

impl<T> RemoteHandle<T> {
    /// Cancels the task: it is dropped on its worker (or never started if
    /// the worker has not picked it up yet) and the handle yields a
    /// cancelled [`JoinError`]. No effect on a finished task.
    pub fn abort(&self) {
        self.rx.abort();
    }

    /// Whether the task has finished (completed, panicked or been cancelled).
    pub fn is_finished(&self) -> bool {
        self.rx.is_finished()
    }

    /// The worker the task runs on.
    pub fn worker(&self) -> usize {
        self.worker
    }
}

impl<T> Future for RemoteHandle<T> {
    type Output = Result<T, JoinError>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.rx.poll_recv(cx)
    }
}

impl<T> fmt::Debug for RemoteHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteHandle")
            .field("worker", &self.worker)
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// On the target worker: builds the future and spawns it as a local task
/// that sends its output (or its panic) to the remote handle. The sender
/// travels inside the task, so dropping the task (abort, shutdown) reports
/// a cancellation.
fn run_remote<F, Fut, T>(f: F, tx: Sender<T>)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = T> + 'static,
    T: Send + 'static,
{
    if tx.is_aborted() {
        return;
    }
    let future = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(fut) => fut,
        Err(p) => {
            tx.send(Err(JoinError::panic(p)));
            return;
        }
    };
    let registrar = tx.registrar();
    let task = async move {
        let out = {
            let mut future = pin!(future);
            poll_fn(
                |cx| match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
                    Ok(Poll::Pending) => Poll::Pending,
                    Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
                    Err(p) => Poll::Ready(Err(JoinError::panic(p))),
                },
            )
            .await
            // The future is dropped here, before the output is sent.
        };
        tx.send(out);
    };
    // On failure (the worker is shutting down) the task, and with it the
    // sender, is dropped: the handle reports a cancellation.
    if let Ok(join) = context::spawn(task) {
        if !registrar.set_abort(join.abort_handle()) {
            join.abort();
        }
    }
}

/// The main future of a worker: idle until shutdown, then wait for the
/// worker's tasks to finish until the deadline.
async fn worker_main(handle: Handle) {
    handle.wait_for_shutdown().await;
    let deadline = handle.deadline().unwrap_or_else(Instant::now);
    drain_until(deadline).await;
}

/// Completes when the current executor has no task left (and no job
/// queued), or at `deadline`.
pub(crate) async fn drain_until(deadline: Instant) {
    let mut sleep = pin!(runtime_reactor::time::sleep_until(deadline));
    poll_fn(|cx| {
        if context::poll_idle(cx).is_ready() {
            return Poll::Ready(());
        }
        sleep.as_mut().poll(cx)
    })
    .await
}

type Ready = (usize, io::Result<Arc<Shared>>);

/// Starts the worker threads and waits until each has built its runtime.
/// On failure the started ones are stopped and joined.
pub(crate) fn start(
    builder: &Builder,
    n: usize,
    pin_cpus: bool,
    handle: &Handle,
) -> io::Result<Vec<ThreadHandle<()>>> {
    let cpus = if pin_cpus {
        Some(allowed_cpus()?)
    } else {
        None
    };
    let (ready_tx, ready_rx) = mpsc::channel::<Ready>();
    let mut threads = Vec::with_capacity(n);
    let mut failure = None;
    for i in 0..n {
        let builder = builder.clone();
        let handle = handle.clone();
        let ready = ready_tx.clone();
        let cpu = cpus.as_ref().map(|c| c[i % c.len()]);
        let spawned = std::thread::Builder::new()
            .name(format!("runtime-worker-{i}"))
            .spawn(move || worker_thread(i, builder, handle, cpu, ready));
        match spawned {
            Ok(t) => threads.push(t),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    drop(ready_tx);
    let mut shareds: Vec<Option<Arc<Shared>>> = vec![None; threads.len()];
    for _ in 0..threads.len() {
        match ready_rx.recv() {
            Ok((i, Ok(shared))) => shareds[i] = Some(shared),
            Ok((_, Err(e))) => {
                failure.get_or_insert(e);
            }
            Err(_) => {
                failure.get_or_insert_with(|| io::Error::other("a worker thread died at start"));
                break;
            }
        }
    }
    if let Some(e) = failure {
        handle.request_shutdown(Instant::now());
        for t in threads {
            let _ = t.join();
        }
        return Err(e);
    }
    handle.set_workers(shareds.into_iter().map(|s| s.expect("reported")).collect());
    Ok(threads)
}

fn worker_thread(
    index: usize,
    builder: Builder,
    handle: Handle,
    cpu: Option<usize>,
    ready: mpsc::Sender<Ready>,
) {
    if let Some(cpu) = cpu {
        if let Err(e) = pin_to_cpu(cpu) {
            let _ = ready.send((index, Err(e)));
            return;
        }
    }
    let rt = match builder.build_worker(handle.clone(), index) {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send((index, Err(e)));
            return;
        }
    };
    let _ = ready.send((index, Ok(rt.shared().clone())));
    drop(ready);
    rt.block_on(worker_main(handle));
    // Dropping the runtime refuses further jobs and drops the tasks still
    // alive, here on their own thread.
    drop(rt);
}

/// The CPUs this process may run on.
fn allowed_cpus() -> io::Result<Vec<usize>> {
    // SAFETY: cpu_set_t is a plain bit array; all zeroes is a valid value.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a live cpu_set_t and the size passed is its size.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let cpus: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `c` is below CPU_SETSIZE, inside the set.
        .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .collect();
    if cpus.is_empty() {
        return Err(io::Error::other("the process may run on no CPU"));
    }
    Ok(cpus)
}

/// Pins the calling thread to one CPU.
fn pin_to_cpu(cpu: usize) -> io::Result<()> {
    // SAFETY: cpu_set_t is a plain bit array; all zeroes is a valid value.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` comes from `allowed_cpus`, so it is below CPU_SETSIZE.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a live cpu_set_t and the size passed is its size;
    // pid 0 means the calling thread.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The index of the worker thread this code runs on, `None` outside the
/// workers (on the thread that called `block_on`, on a single-threaded
/// runtime, on blocking-pool threads, outside any runtime).
///
/// ```
/// let rt = runtime::Builder::new().threads(3).build().unwrap();
/// assert_eq!(rt.block_on(async { runtime::worker_index() }), None);
/// let h = rt.handle().spawn_on(2, || async { runtime::worker_index() }).unwrap();
/// assert_eq!(rt.block_on(h).unwrap(), Some(2));
/// ```
pub fn worker_index() -> Option<usize> {
    context::with_core(|c| c.and_then(|c| c.worker))
}
