//! The runtime: one reactor and one executor on the calling thread, plus,
//! when built with [`Builder::threads`], worker threads that each run their
//! own reactor and executor. `block_on` runs the main future, spawned tasks
//! and the reactor until the main future completes.

use crate::blocking::{Pool, DEFAULT_BLOCKING_KEEP_ALIVE, DEFAULT_MAX_BLOCKING_THREADS};
use crate::context::{self, Core, CoreGuard};
use crate::dispatch::{self, MaxDispatch};
use crate::shared::{Job, Shared};
use crate::task::{JoinHandle, TaskRef};
use crate::workers::{self, Handle};
use runtime_reactor::{coop, Features, Method, PollerConfig, Reactor, ReactorConfig};
use std::cell::Cell;
use std::future::Future;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

/// Tasks polled between two non-blocking looks at the reactor while the
/// run queue stays busy (tokio's `event_interval`).
pub const DEFAULT_EVENT_INTERVAL: u32 = 61;

/// Builds a [`Runtime`]: the event method, timer behaviour, priorities and
/// dispatch limits (libevent's `event_config`), worker threads and the
/// blocking pool.
///
/// ```
/// let rt = runtime::Builder::new()
///     .ignore_env(true) // no EVENT_NO* veto in this example
///     .method("poll").unwrap()
///     .priorities(3).unwrap()
///     .build().unwrap();
/// assert_eq!(rt.method().name(), "poll");
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    poller: PollerConfig,
    precise_timer: bool,
    timer_slack: Option<Duration>,
    priorities: usize,
    default_priority: Option<usize>,
    event_interval: u32,
    max_dispatch: MaxDispatch,
    threads: Option<usize>,
    pin_cpus: bool,
    max_blocking_threads: usize,
    blocking_keep_alive: Duration,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            poller: PollerConfig::new(),
            precise_timer: false,
            timer_slack: ReactorConfig::default_timer_slack(),
            priorities: 1,
            default_priority: None,
            event_interval: DEFAULT_EVENT_INTERVAL,
            max_dispatch: MaxDispatch::UNLIMITED,
            threads: None,
            pin_cpus: false,
            max_blocking_threads: DEFAULT_MAX_BLOCKING_THREADS,
            blocking_keep_alive: DEFAULT_BLOCKING_KEEP_ALIVE,
        }
    }
}

impl Builder {
    /// Defaults: the fastest backend, one priority, cached clock.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Uses exactly this backend (`"epoll"`, `"poll"`, `"select"`); an
    /// unknown name is an `InvalidInput` error.
    pub fn method(mut self, name: &str) -> io::Result<Builder> {
        self.poller = self.poller.method(name)?;
        Ok(self)
    }

    /// Never uses this backend (`event_config_avoid_method`).
    pub fn avoid_method(mut self, name: &str) -> io::Result<Builder> {
        self.poller = self.poller.avoid_method(name)?;
        Ok(self)
    }

    /// Requires backend features (`event_config_require_features`); `build`
    /// fails with `Unsupported` when no backend has them.
    pub fn require_features(mut self, features: Features) -> Builder {
        self.poller = self.poller.require_features(features);
        self
    }

    /// Ignores the `EVENT_NO*` environment variables.
    pub fn ignore_env(mut self, yes: bool) -> Builder {
        self.poller = self.poller.ignore_env(yes);
        self
    }

    /// Reads the clock per timer check instead of once per loop iteration.
    pub fn precise_timer(mut self, yes: bool) -> Builder {
        self.precise_timer = yes;
        self
    }

    /// The kernel timer slack of the loop thread (see [`ReactorConfig::timer_slack`]).
    pub fn timer_slack(mut self, slack: Option<Duration>) -> Builder {
        self.timer_slack = slack;
        self
    }

    /// Number of task priorities, 1 to 256 (`event_base_priority_init`).
    /// Priority 0 is the most urgent; tasks spawned without one get the
    /// middle priority `n / 2`, as in libevent. Each loop iteration polls
    /// the ready tasks of the most urgent priority that has any; less
    /// urgent ones wait for an iteration in which no more urgent task is
    /// ready (strict priorities, as libevent's: a busy urgent task starves
    /// the others). See [`Runtime::run_once`].
    pub fn priorities(mut self, n: usize) -> io::Result<Builder> {
        if n == 0 || n > 256 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("priorities must be 1..=256, got {n}"),
            ));
        }
        self.priorities = n;
        Ok(self)
    }

    /// The priority of tasks spawned with plain [`spawn`](crate::spawn).
    pub fn default_priority(mut self, p: usize) -> Builder {
        self.default_priority = Some(p);
        self
    }

    /// Tasks polled before the loop looks at the reactor again while tasks
    /// keep being ready (at least 1).
    pub fn event_interval(mut self, n: u32) -> Builder {
        self.event_interval = n.max(1);
        self
    }

    /// libevent's `event_config_set_max_dispatch_interval`: a loop
    /// iteration that runs tasks of priority `min_priority` or a less urgent
    /// one stops after `max_callbacks` task polls, or once `max_interval`
    /// has passed, and the loop checks for new events before running more,
    /// so newly ready urgent tasks are not stuck behind a long queue of less
    /// urgent ones. The same as [`max_dispatch`](Builder::max_dispatch)
    /// with [`MaxDispatch::new`].
    pub fn max_dispatch_interval(
        self,
        max_interval: Option<Duration>,
        max_callbacks: usize,
        min_priority: usize,
    ) -> Builder {
        self.max_dispatch(MaxDispatch::new(max_interval, max_callbacks, min_priority))
    }

    /// Sets the dispatch limits of every loop iteration (default
    /// [`MaxDispatch::UNLIMITED`]); obeyed by [`Runtime::block_on`] and
    /// [`Runtime::run_once`] alike.
    ///
    /// ```
    /// use runtime::{Builder, MaxDispatch};
    /// let md = MaxDispatch::new(None, 4, 1);
    /// let rt = Builder::new().priorities(2).unwrap().max_dispatch(md).build().unwrap();
    /// assert_eq!(rt.max_dispatch(), md);
    /// ```
    pub fn max_dispatch(mut self, limits: MaxDispatch) -> Builder {
        self.max_dispatch = limits;
        self
    }

    /// Starts `n` worker threads (the per-thread executor): each runs its
    /// own reactor and single-threaded executor with this builder's
    /// configuration, as libevent runs one `event_base` per thread. Tasks
    /// sent to a worker with [`Handle::spawn_on`] stay on it. `block_on`
    /// still runs its future on the calling thread. `n == 0` makes
    /// [`build`](Builder::build) fail with `InvalidInput`.
    ///
    /// ```
    /// let rt = runtime::Builder::new().threads(2).build().unwrap();
    /// assert_eq!(rt.handle().workers(), 2);
    /// assert!(runtime::Builder::new().threads(0).build().is_err());
    /// ```
    pub fn threads(mut self, n: usize) -> Builder {
        self.threads = Some(n);
        self
    }

    /// One worker thread per CPU ([`std::thread::available_parallelism`],
    /// 1 if unknown).
    pub fn threads_auto(self) -> Builder {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        self.threads(n)
    }

    /// Pins worker `i` to the `i % n`-th of the `n` CPUs this process may
    /// run on (`sched_setaffinity`). No effect without worker threads.
    pub fn pin_cpus(mut self, yes: bool) -> Builder {
        self.pin_cpus = yes;
        self
    }

    /// The most threads the blocking pool starts (default 512); more
    /// closures than that wait in a queue. 0 makes `build` fail.
    pub fn max_blocking_threads(mut self, n: usize) -> Builder {
        self.max_blocking_threads = n;
        self
    }

    /// How long an idle blocking-pool thread waits for work before it
    /// exits (default 10 s).
    pub fn blocking_keep_alive(mut self, keep_alive: Duration) -> Builder {
        self.blocking_keep_alive = keep_alive;
        self
    }

    /// Creates the runtime (the reactor is created now, on this thread),
    /// and starts the worker threads if [`threads`](Builder::threads) was
    /// set; it returns once every worker has built its reactor.
    pub fn build(self) -> io::Result<Runtime> {
        if self.threads == Some(0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "threads must be at least 1",
            ));
        }
        if self.max_blocking_threads == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "max_blocking_threads must be at least 1",
            ));
        }
        let pool = Pool::new(self.max_blocking_threads, self.blocking_keep_alive);
        let nworkers = self.threads.unwrap_or(0);
        let handle = Handle::new(nworkers, pool);
        let mut rt = self.build_local(handle.clone(), None)?;
        rt.owner = true;
        if nworkers == 0 {
            handle.set_workers(Vec::new());
        } else {
            rt.threads = workers::start(&self, nworkers, self.pin_cpus, &handle)?;
        }
        Ok(rt)
    }

    /// Builds worker `index`'s runtime, on that worker's thread.
    pub(crate) fn build_worker(&self, handle: Handle, index: usize) -> io::Result<Runtime> {
        self.build_local(handle, Some(index))
    }

    /// A reactor and executor on this thread, belonging to `handle`'s runtime.
    fn build_local(&self, handle: Handle, worker: Option<usize>) -> io::Result<Runtime> {
        let default_priority = self.default_priority.unwrap_or(self.priorities / 2);
        if default_priority >= self.priorities {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "default priority {default_priority} out of range 0..{}",
                    self.priorities
                ),
            ));
        }
        let cfg = ReactorConfig::new()
            .poller(self.poller.clone())
            .precise_timer(self.precise_timer)
            .timer_slack(self.timer_slack);
        let reactor = Reactor::with_config(cfg)?;
        let shared = Arc::new(Shared::new(reactor.notifier(), self.priorities));
        let core = Core::new(shared, default_priority, handle, worker);
        Ok(Runtime {
            reactor,
            core,
            event_interval: self.event_interval,
            max_dispatch: self.max_dispatch,
            held_back: Cell::new(0),
            threads: Vec::new(),
            owner: false,
        })
    }
}

/// A runtime: a reactor and an executor on this thread, and, when built
/// with [`Builder::threads`], worker threads each running their own.
/// Spawned futures need not be `Send`; they run on the thread that spawned
/// them only.
///
/// Dropping the runtime is a shutdown with a zero deadline (see
/// [`shutdown_timeout`](Runtime::shutdown_timeout)): the workers drop their
/// unfinished tasks on their own threads and are joined, then the tasks of
/// this thread are dropped here, then the reactor. Closures running on the
/// blocking pool are not waited for (they finish in the background, as in
/// tokio); those still queued are dropped without running.
///
/// ```
/// let rt = runtime::Runtime::new().unwrap();
/// let v = rt.block_on(async {
///     let h = runtime::spawn(async { 1 + 1 });
///     h.await.unwrap()
/// });
/// assert_eq!(v, 2);
/// ```
pub struct Runtime {
    reactor: Reactor,
    core: Core,
    event_interval: u32,
    max_dispatch: MaxDispatch,
    /// What the last `run_once` left behind (see [`Runtime::held_back`]).
    held_back: Cell<usize>,
    /// The worker threads (top-level runtime only).
    threads: Vec<std::thread::JoinHandle<()>>,
    /// Set on the runtime `build` returned (not on a worker's): it owns the
    /// shutdown of the workers and of the blocking pool.
    owner: bool,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("method", &self.method())
            .field("workers", &self.core.handle.workers())
            .finish()
    }
}

struct MainWaker {
    woken: AtomicBool,
    shared: Arc<Shared>,
}

impl Wake for MainWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        if !context::is_inside(&self.shared) {
            self.shared.wake_loop();
        }
    }
}

impl Runtime {
    /// A runtime with the default configuration.
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    /// The backend in use (`event_base_get_method`).
    pub fn method(&self) -> Method {
        self.reactor.method()
    }

    /// The backend's features (`event_base_get_features`).
    pub fn features(&self) -> Features {
        self.reactor.features()
    }

    /// The runtime's reactor.
    pub fn reactor(&self) -> &Reactor {
        &self.reactor
    }

    /// Number of task priorities.
    pub fn priorities(&self) -> usize {
        self.core.priorities()
    }

    /// The priority of tasks spawned without one.
    pub fn default_priority(&self) -> usize {
        self.core.default_priority
    }

    /// The dispatch limits of a loop iteration (see [`Builder::max_dispatch`]).
    pub fn max_dispatch(&self) -> MaxDispatch {
        self.max_dispatch
    }

    /// Number of tasks woken and not yet polled: the next iteration runs
    /// (some of) them.
    pub fn ready_tasks(&self) -> usize {
        self.core.queued()
    }

    /// The priority of the loop iteration that is running, while one is
    /// (asked from a task it polls): libevent's running priority, which
    /// makes `event_active` of a more urgent event end the iteration.
    /// `None` outside iterations (the main future of `block_on` is polled
    /// outside them).
    ///
    /// ```
    /// use std::rc::Rc;
    /// use std::cell::Cell;
    /// let rt = Rc::new(runtime::Builder::new().priorities(3).unwrap().build().unwrap());
    /// let seen = Rc::new(Cell::new(None));
    /// let (w, s) = (Rc::downgrade(&rt), seen.clone());
    /// rt.spawn_with_priority(2, async move { s.set(w.upgrade().unwrap().running_priority()) })
    ///     .unwrap();
    /// assert_eq!(rt.running_priority(), None);
    /// rt.run_once(false);
    /// assert_eq!(seen.get(), Some(2));
    /// ```
    pub fn running_priority(&self) -> Option<usize> {
        self.core.queues.borrow().running()
    }

    /// Number of tasks that were ready when the last [`run_once`]
    /// iteration started and that it did not poll: tasks of a less urgent
    /// priority than the one it ran, or left over by the
    /// [`max_dispatch`](Builder::max_dispatch) limits. Tasks woken during
    /// the iteration are not counted. 0 before the first `run_once`, and
    /// after a `block_on` returns.
    ///
    /// [`run_once`]: Runtime::run_once
    pub fn held_back(&self) -> usize {
        self.held_back.get()
    }

    /// Number of tasks spawned on this thread's executor and not yet
    /// finished (the workers' tasks are not counted).
    pub fn alive_tasks(&self) -> usize {
        self.core.tasks.borrow().len()
    }

    /// A `Send + Sync` handle to this runtime: spawns onto its workers,
    /// observes shutdown, reaches its blocking pool.
    pub fn handle(&self) -> Handle {
        self.core.handle.clone()
    }

    /// Number of worker threads (0 for a single-threaded runtime).
    pub fn workers(&self) -> usize {
        self.core.handle.workers()
    }

    /// Threads currently alive in the runtime's blocking pool.
    pub fn blocking_threads(&self) -> usize {
        self.core.handle.blocking_threads()
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.core.shared
    }

    /// Shuts the runtime down gracefully: new [`Handle::spawn_on`] calls
    /// fail, [`Handle::shutdown_requested`] turns true and
    /// [`Handle::wait_for_shutdown`] futures complete (so accept loops and
    /// the like can stop), then every worker — and this thread's executor —
    /// keeps running its tasks until none is left or `timeout` has passed.
    /// Tasks still alive then are dropped on their own threads, the worker
    /// threads are joined and the runtime is dropped. Returns at most about
    /// `timeout` after the call, unless a task blocks its thread.
    ///
    /// This thread's tasks only get the grace period when the call is not
    /// made from inside another runtime's `block_on`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let rt = runtime::Builder::new().threads(2).build().unwrap();
    /// let forever = rt.handle().spawn(|| std::future::pending::<()>()).unwrap();
    /// let start = Instant::now();
    /// rt.shutdown_timeout(Duration::from_millis(50));
    /// assert!(start.elapsed() >= Duration::from_millis(50));
    /// assert!(forever.is_finished()); // dropped: it reports a cancellation
    /// ```
    pub fn shutdown_timeout(mut self, timeout: Duration) {
        self.stop(timeout);
    }

    /// Signals shutdown, gives the tasks until the deadline and joins the
    /// workers (top-level runtime only; a second call does nothing).
    fn stop(&mut self, timeout: Duration) {
        if !self.owner || self.core.handle.shutdown_requested() {
            return;
        }
        let start = Instant::now();
        let deadline = start
            .checked_add(timeout)
            .unwrap_or_else(|| start + Duration::from_secs(86400 * 365));
        self.core.handle.request_shutdown(deadline);
        let nested = context::with_core(|c| c.is_some());
        if !timeout.is_zero() && !nested && self.alive_tasks() > 0 {
            self.block_on(workers::drain_until(deadline));
        }
        for t in self.threads.drain(..) {
            // A worker only panics when its reactor fails; its runtime has
            // been dropped during the unwinding, so there is nothing to do.
            let _ = t.join();
        }
    }

    /// Spawns a task onto this runtime (whichever runtime is current, and
    /// also outside any); it first runs at the next `block_on` or
    /// `run_once` of this runtime, or at the next iteration when called
    /// from one of its tasks.
    ///
    /// # Panics
    /// While the runtime is being dropped.
    pub fn spawn<F: Future + 'static>(&self, future: F) -> JoinHandle<F::Output> {
        match self.spawn_with_priority(self.core.default_priority, future) {
            Ok(h) => h,
            Err(e) => panic!("runtime: spawn failed: {e}"),
        }
    }

    /// Spawns a task with a priority (0 runs first) on this runtime, from
    /// anywhere on its thread: outside `block_on`, inside it, or while
    /// another runtime is running (the task always goes to this one).
    /// A priority out of range is an `InvalidInput` error; spawning while
    /// the runtime shuts down is an error too.
    ///
    /// ```
    /// let rt = runtime::Builder::new().priorities(2).unwrap().build().unwrap();
    /// let other = runtime::Runtime::new().unwrap();
    /// // Spawned while `other` runs: still a task of `rt`.
    /// let h = other.block_on(async { rt.spawn_with_priority(0, async { 5 }) }).unwrap();
    /// assert!(rt.spawn_with_priority(2, async { 5 }).is_err());
    /// assert_eq!(rt.block_on(h).unwrap(), 5);
    /// ```
    pub fn spawn_with_priority<F: Future + 'static>(
        &self,
        priority: usize,
        future: F,
    ) -> io::Result<JoinHandle<F::Output>> {
        // Core::spawn queues on this core directly, whichever is current.
        self.core.spawn(priority, None, future)
    }

    /// Spawns a named task on this runtime ([`task::Builder::spawn_on`]).
    ///
    /// [`task::Builder::spawn_on`]: crate::task::Builder::spawn_on
    pub(crate) fn spawn_named<F: Future + 'static>(
        &self,
        priority: Option<usize>,
        name: Option<Arc<str>>,
        future: F,
    ) -> io::Result<JoinHandle<F::Output>> {
        let priority = priority.unwrap_or(self.core.default_priority);
        self.core.spawn(priority, name, future)
    }

    /// Runs `future` to completion on this thread, together with the
    /// spawned tasks and the reactor.
    ///
    /// # Panics
    /// When called from inside another `block_on` on the same thread (the
    /// outer loop would be frozen), or when the reactor fails (for example
    /// `epoll_wait` returning an error other than `EINTR`).
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        let nested = context::with_core(|c| c.is_some());
        assert!(!nested, "runtime: block_on called from inside a running runtime (this would freeze the outer loop)");
        let _reactor = self.reactor.enter();
        let _core = CoreGuard::enter(&self.core);
        let main = Arc::new(MainWaker {
            woken: AtomicBool::new(true),
            shared: self.core.shared.clone(),
        });
        let waker = Waker::from(main.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        let mut ready = Vec::new();
        let mut jobs = Vec::new();
        let mut since_turn: u32 = 0;
        let interval = self.event_interval;
        loop {
            let mut yielded = false;
            if main.woken.swap(false, Ordering::AcqRel) {
                let res = coop::with_task_budget(|| future.as_mut().poll(&mut cx));
                if let Poll::Ready(v) = res {
                    return v;
                }
                since_turn += 1;
                // Woken during its own poll (`yield_now`, a spent budget):
                // it goes behind the tasks that are ready, like a task.
                yielded = main.woken.load(Ordering::Acquire);
            }
            // One iteration of the scheduling policy. It yields to the main
            // future as soon as that is woken by something else, and to the
            // reactor once `event_interval` polls ran since its last look.
            let mut polls = since_turn;
            let it = dispatch::run_iteration(&self.core.queues, &self.max_dispatch, || {
                polls += 1;
                polls >= interval || (!yielded && main.woken.load(Ordering::Acquire))
            });
            since_turn = since_turn.saturating_add(it.ran as u32);
            let idle = !self.core.has_work() && !main.woken.load(Ordering::Acquire);
            if idle && !self.drain_inject(&mut ready, &mut jobs) {
                self.turn(None);
                since_turn = 0;
            } else if since_turn >= interval || (it.held_back > 0 && !it.interrupted) {
                // Tasks left behind by the policy (less urgent ones, or over
                // the dispatch limits) wait for a look at the reactor, as
                // in libevent, where every iteration polls the backend.
                self.turn(Some(Duration::ZERO));
                since_turn = 0;
            }
            self.drain_inject(&mut ready, &mut jobs);
        }
    }

    /// One loop iteration without a main future, as libevent's
    /// `event_base_loop` with `EVLOOP_ONCE` (`block = true`) or
    /// `EVLOOP_NONBLOCK` (`block = false`): looks at the reactor (waiting,
    /// when `block` is set and no task is ready, until a descriptor, a timer
    /// or another thread wakes it), then runs one iteration of the
    /// scheduling policy: polls, once each, the tasks of the most urgent
    /// priority that were ready by then, within the
    /// [`max_dispatch`](Builder::max_dispatch) limits. Tasks woken meanwhile
    /// (a task that wakes itself included) and less urgent ones wait for the
    /// next call; [`held_back`](Runtime::held_back) tells how many ready
    /// ones it left. Returns how many task polls it made; a blocking call
    /// can return 0 after a wake-up that readied nothing.
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// let h = rt.spawn(async { 7 });
    /// assert_eq!(rt.run_once(false), 1);
    /// assert!(h.is_finished());
    /// ```
    ///
    /// # Panics
    /// Inside a running `block_on` on this thread, or when the reactor fails.
    pub fn run_once(&self, block: bool) -> usize {
        self.run_once_until(block, || false)
    }

    /// [`run_once`](Runtime::run_once), asking `stop` after each task poll
    /// whether to end the iteration there (libevent's `loopbreak` and
    /// `loopcontinue` after a callback): the ready tasks not polled yet
    /// stay queued, first in line, and count in
    /// [`held_back`](Runtime::held_back).
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// let rt = runtime::Runtime::new().unwrap();
    /// let stop = Rc::new(Cell::new(false));
    /// let s = stop.clone();
    /// let first = rt.spawn(async move { s.set(true) });
    /// let second = rt.spawn(async {});
    /// assert_eq!(rt.run_once_until(false, || stop.get()), 1);
    /// assert!(first.is_finished() && !second.is_finished());
    /// assert_eq!(rt.held_back(), 1);
    /// assert_eq!(rt.run_once(false), 1);
    /// assert!(second.is_finished());
    /// ```
    ///
    /// # Panics
    /// As [`run_once`](Runtime::run_once).
    pub fn run_once_until(&self, block: bool, mut stop: impl FnMut() -> bool) -> usize {
        let nested = context::with_core(|c| c.is_some());
        assert!(
            !nested,
            "runtime: run_once called from inside a running runtime"
        );
        let _reactor = self.reactor.enter();
        let _core = CoreGuard::enter(&self.core);
        let mut ready = Vec::new();
        let mut jobs = Vec::new();
        self.drain_inject(&mut ready, &mut jobs);
        let wait = if block && !self.core.has_work() {
            None
        } else {
            Some(Duration::ZERO)
        };
        self.turn(wait);
        self.drain_inject(&mut ready, &mut jobs);
        let it = dispatch::run_iteration(&self.core.queues, &self.max_dispatch, &mut stop);
        self.held_back.set(it.held_back);
        it.ran
    }

    /// Changes the priority of a task of this runtime, as
    /// [`JoinHandle::set_priority`] does, and moves it at once to the back
    /// of its new priority's queue if it is queued (woken and not polled
    /// yet): libevent's `event_priority_set` on an event that is not
    /// active yet. Called from one of its tasks during an iteration, a task
    /// moved out of the iteration's priority is not polled by it. A task of
    /// another runtime, or a priority out of range, is an `InvalidInput`
    /// error.
    ///
    /// ```
    /// let rt = runtime::Builder::new().priorities(2).unwrap().build().unwrap();
    /// let lazy = rt.spawn_with_priority(1, async {}).unwrap();
    /// let urgent = rt.spawn_with_priority(1, async {}).unwrap();
    /// rt.set_task_priority(&urgent, 0).unwrap(); // spawned, so queued: moved
    /// assert_eq!(rt.run_once(false), 1);
    /// assert!(urgent.is_finished() && !lazy.is_finished());
    /// ```
    pub fn set_task_priority<T>(&self, task: &JoinHandle<T>, priority: usize) -> io::Result<()> {
        let header = task.header();
        if !Arc::ptr_eq(&header.shared, &self.core.shared) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "set_task_priority: the task belongs to another runtime",
            ));
        }
        task.set_priority(priority)?;
        if header.is_scheduled() {
            // Woken from another thread, it is in the inject queue and
            // goes to its new queue when drained: `requeue` finds nothing.
            self.core.queues.borrow_mut().requeue(header, priority);
        }
        Ok(())
    }

    fn turn(&self, max_wait: Option<Duration>) {
        if let Err(e) = self.reactor.turn(max_wait) {
            panic!("runtime: the reactor failed: {e}");
        }
        self.core.shared.reset_notified();
    }

    /// Moves remotely woken tasks to the run queues and runs the jobs sent
    /// by other threads (each spawns a task here). Returns whether there
    /// was anything.
    fn drain_inject(&self, buf: &mut Vec<TaskRef>, jobs: &mut Vec<Job>) -> bool {
        let shared = &self.core.shared;
        if !shared.has_pending() {
            return false;
        }
        shared.drain_inject(buf);
        let mut any = !buf.is_empty();
        for t in buf.drain(..) {
            self.core.push_local(t);
        }
        shared.drain_jobs(jobs);
        if !jobs.is_empty() {
            any = true;
            for job in jobs.drain(..) {
                // Jobs catch their own panics; this guards the loop against
                // a panicking destructor.
                let _ = catch_unwind(AssertUnwindSafe(job));
            }
            self.core.notify_if_idle();
        }
        any
    }

    fn shutdown(&mut self) {
        let _reactor = self.reactor.enter();
        let _core = CoreGuard::enter(&self.core);
        // Refuse further jobs from other threads; dropping the queued ones
        // cancels their handles.
        let jobs = self.core.shared.close_jobs();
        drop(jobs);
        self.core.shutting_down.set(true);
        // Dropping a future may wake or drop other tasks; repeat until the
        // registry is empty.
        loop {
            // Take the entries out, so a task that cannot complete (its
            // destructor panicked half-way) is never visited twice.
            let tasks: Vec<TaskRef> = {
                let mut reg = self.core.tasks.borrow_mut();
                let keys: Vec<usize> = reg.iter().map(|(k, _)| k).collect();
                keys.into_iter().filter_map(|k| reg.remove(k)).collect()
            };
            if tasks.is_empty() {
                break;
            }
            for t in tasks {
                t.shutdown();
            }
        }
        let queued = self.core.queues.borrow_mut().drain_all();
        drop(queued);
        let mut rest = Vec::new();
        self.core.shared.drain_inject(&mut rest);
        drop(rest);
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop(Duration::ZERO);
        self.shutdown();
        if self.owner {
            self.core.handle.blocking_pool().shutdown();
        }
    }
}

/// Runs `future` on a new single-threaded runtime with the default
/// configuration, then drops the runtime (and every task still alive).
///
/// # Panics
/// When the runtime cannot be created (for example no descriptor is left
/// for epoll); use [`Runtime::new`] to handle that error.
///
/// ```
/// let v = runtime::block_on(async { 40 + 2 });
/// assert_eq!(v, 42);
/// ```
pub fn block_on<F: Future>(future: F) -> F::Output {
    let rt = match Runtime::new() {
        Ok(rt) => rt,
        Err(e) => panic!("runtime: cannot create the runtime: {e}"),
    };
    rt.block_on(future)
}

/// Spawns a task on the current thread's runtime. The future need not be
/// `Send`: it stays on this thread.
///
/// # Panics
/// Outside a runtime; use [`try_spawn`] to get an error instead.
///
/// ```
/// runtime::block_on(async {
///     let a = runtime::spawn(async { "hello" });
///     assert_eq!(a.await.unwrap(), "hello");
/// });
/// ```
pub fn spawn<F: Future + 'static>(future: F) -> JoinHandle<F::Output> {
    match context::spawn(future) {
        Ok(h) => h,
        Err(e) => panic!("runtime: spawn failed: {e}"),
    }
}

/// Like [`spawn`], but outside a runtime (or during shutdown) it returns an
/// error instead of panicking.
pub fn try_spawn<F: Future + 'static>(future: F) -> io::Result<JoinHandle<F::Output>> {
    context::spawn(future)
}

/// Spawns with a priority (0 runs first); out of range is an `InvalidInput`
/// error.
///
/// ```
/// let rt = runtime::Builder::new().priorities(2).unwrap().build().unwrap();
/// rt.block_on(async {
///     let h = runtime::spawn_with_priority(0, async { 1 }).unwrap();
///     assert!(runtime::spawn_with_priority(5, async { 1 }).is_err());
///     assert_eq!(h.await.unwrap(), 1);
/// });
/// ```
pub fn spawn_with_priority<F: Future + 'static>(
    priority: usize,
    future: F,
) -> io::Result<JoinHandle<F::Output>> {
    context::spawn_with_priority(priority, future)
}

/// Rebuilds the current thread's reactor after `fork()` (libevent's
/// `event_reinit`); registrations, timers and signal listeners survive.
pub fn reinit() -> io::Result<()> {
    match Reactor::current() {
        Some(r) => r.reinit(),
        None => Err(context::outside()),
    }
}
