//! The single-threaded runtime: one reactor and one executor on the calling
//! thread. `block_on` runs the main future, spawned tasks and the reactor
//! until the main future completes.

use crate::context::{self, Core, CoreGuard};
use crate::shared::Shared;
use crate::task::{JoinHandle, TaskRef};
use runtime_reactor::{coop, Features, Method, PollerConfig, Reactor, ReactorConfig};
use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

/// Tasks polled between two non-blocking looks at the reactor while the
/// run queue stays busy (tokio's `event_interval`).
pub const DEFAULT_EVENT_INTERVAL: u32 = 61;

/// Builds a [`Runtime`]: the event method, timer behaviour, priorities and
/// dispatch limits (libevent's `event_config`).
///
/// ```
/// let rt = runtime_executor::Builder::new()
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
}

#[derive(Clone, Copy, Debug)]
struct MaxDispatch {
    interval: Option<Duration>,
    callbacks: usize,
    min_priority: usize,
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
            max_dispatch: MaxDispatch {
                interval: None,
                callbacks: usize::MAX,
                min_priority: 0,
            },
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
    /// Priority 0 runs first; tasks spawned without one get the middle
    /// priority `n / 2`, as in libevent.
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

    /// libevent's `event_config_set_max_dispatch_interval`: after running
    /// `max_callbacks` tasks of priority `min_priority` or lower urgency, or
    /// after `max_interval` has passed, the loop checks for new events before
    /// running more, so newly ready urgent tasks are not stuck behind a long
    /// queue of less urgent ones.
    pub fn max_dispatch_interval(
        mut self,
        max_interval: Option<Duration>,
        max_callbacks: usize,
        min_priority: usize,
    ) -> Builder {
        self.max_dispatch = MaxDispatch {
            interval: max_interval,
            callbacks: max_callbacks.max(1),
            min_priority,
        };
        self
    }

    /// Creates the runtime (the reactor is created now, on this thread).
    pub fn build(self) -> io::Result<Runtime> {
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
            .poller(self.poller)
            .precise_timer(self.precise_timer)
            .timer_slack(self.timer_slack);
        let reactor = Reactor::with_config(cfg)?;
        let shared = Arc::new(Shared::new(reactor.notifier()));
        let core = Core::new(shared, self.priorities, default_priority);
        Ok(Runtime {
            reactor,
            core,
            event_interval: self.event_interval,
            max_dispatch: self.max_dispatch,
        })
    }
}

/// A single-threaded runtime: a reactor and an executor on this thread.
/// Spawned futures need not be `Send`; they run on this thread only.
/// Dropping the runtime drops every unfinished task here, then the reactor.
///
/// ```
/// let rt = runtime_executor::Runtime::new().unwrap();
/// let v = rt.block_on(async {
///     let h = runtime_executor::spawn(async { 1 + 1 });
///     h.await.unwrap()
/// });
/// assert_eq!(v, 2);
/// ```
pub struct Runtime {
    reactor: Reactor,
    core: Core,
    event_interval: u32,
    max_dispatch: MaxDispatch,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("method", &self.method())
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

    /// Number of tasks spawned and not yet finished.
    pub fn alive_tasks(&self) -> usize {
        self.core.tasks.borrow().len()
    }

    /// Spawns a task from outside `block_on`; it starts running at the
    /// next `block_on`.
    pub fn spawn<F: Future + 'static>(&self, future: F) -> JoinHandle<F::Output> {
        let _g = CoreGuard::enter(&self.core);
        self.core
            .spawn(self.core.default_priority, future)
            .expect("default priority is in range")
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
        let mut since_turn: u32 = 0;
        loop {
            if main.woken.swap(false, Ordering::AcqRel) {
                let res = coop::with_budget(coop::DEFAULT_BUDGET, || future.as_mut().poll(&mut cx));
                if let Poll::Ready(v) = res {
                    return v;
                }
                since_turn += 1;
            }
            let mut limited = false;
            let dispatch = self.max_dispatch;
            let started = dispatch.interval.map(|_| Instant::now());
            let mut counted = 0usize;
            while since_turn < self.event_interval {
                let Some(task) = self.core.pop() else { break };
                let prio = task.header().priority;
                task.run();
                since_turn += 1;
                if prio >= dispatch.min_priority {
                    counted += 1;
                    let late = match (dispatch.interval, started) {
                        (Some(max), Some(t0)) => t0.elapsed() >= max,
                        _ => false,
                    };
                    if counted >= dispatch.callbacks || late {
                        limited = true;
                        break;
                    }
                }
                if main.woken.load(Ordering::Acquire) {
                    break;
                }
            }
            let idle = !self.core.has_work() && !main.woken.load(Ordering::Acquire);
            if idle && !self.has_injected() {
                self.turn(None);
                since_turn = 0;
            } else if limited || since_turn >= self.event_interval {
                self.turn(Some(Duration::ZERO));
                since_turn = 0;
            }
            self.drain_inject(&mut ready);
        }
    }

    fn has_injected(&self) -> bool {
        let mut tmp = Vec::new();
        self.core.shared.drain_inject(&mut tmp);
        let any = !tmp.is_empty();
        for t in tmp {
            self.core.push_local(t);
        }
        any
    }

    fn turn(&self, max_wait: Option<Duration>) {
        if let Err(e) = self.reactor.turn(max_wait) {
            panic!("runtime: the reactor failed: {e}");
        }
        self.core.shared.reset_notified();
    }

    fn drain_inject(&self, buf: &mut Vec<TaskRef>) {
        self.core.shared.drain_inject(buf);
        for t in buf.drain(..) {
            self.core.push_local(t);
        }
    }

    fn shutdown(&mut self) {
        let _reactor = self.reactor.enter();
        let _core = CoreGuard::enter(&self.core);
        self.core.shutting_down.set(true);
        // Dropping a future may wake or drop other tasks; repeat until the
        // registry is empty.
        loop {
            let tasks: Vec<TaskRef> = {
                let reg = self.core.tasks.borrow();
                let all: Vec<TaskRef> = reg.iter().map(|(_, t)| t.clone()).collect();
                all
            };
            if tasks.is_empty() {
                break;
            }
            for t in tasks {
                t.shutdown();
            }
        }
        let queued: Vec<_> = self
            .core
            .queues
            .borrow_mut()
            .iter_mut()
            .flat_map(|q| q.drain(..))
            .collect();
        drop(queued);
        let mut rest = Vec::new();
        self.core.shared.drain_inject(&mut rest);
        drop(rest);
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown();
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
/// let v = runtime_executor::block_on(async { 40 + 2 });
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
/// runtime_executor::block_on(async {
///     let a = runtime_executor::spawn(async { "hello" });
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
/// let rt = runtime_executor::Builder::new().priorities(2).unwrap().build().unwrap();
/// rt.block_on(async {
///     let h = runtime_executor::spawn_with_priority(0, async { 1 }).unwrap();
///     assert!(runtime_executor::spawn_with_priority(5, async { 1 }).is_err());
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
