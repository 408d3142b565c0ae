//! The thread's current executor: the core a running loop publishes so
//! `spawn` and same-thread wakes reach its queues without locks.

use crate::dispatch::RunQueues;
use crate::shared::Shared;
use crate::task::{self, Header, IdBlock, JoinHandle, TaskCell, TaskRef};
use crate::workers::Handle;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

/// The owner-thread half of an executor.
pub(crate) struct Core {
    pub(crate) shared: Arc<Shared>,
    /// One run queue per priority; index 0 runs first.
    pub(crate) queues: RefCell<RunQueues>,
    /// Every live task, so shutdown can drop their futures here.
    pub(crate) tasks: RefCell<runtime_reactor::slab::Slab<TaskRef>>,
    pub(crate) default_priority: usize,
    /// Set while the tasks' queues are being torn down: new spawns are refused.
    pub(crate) shutting_down: Cell<bool>,
    /// The runtime this executor belongs to (its workers, blocking pool
    /// and shutdown signal).
    pub(crate) handle: Handle,
    /// `Some(i)` on worker thread `i` of a per-thread runtime.
    pub(crate) worker: Option<usize>,
    /// Woken when the last task finishes (graceful shutdown waits on it).
    idle_waker: RefCell<Option<Waker>>,
    /// The ids this executor gives its new tasks.
    ids: IdBlock,
}

impl Core {
    pub(crate) fn new(
        shared: Arc<Shared>,
        default_priority: usize,
        handle: Handle,
        worker: Option<usize>,
    ) -> Core {
        Core {
            queues: RefCell::new(RunQueues::new(shared.priorities)),
            shared,
            tasks: RefCell::new(runtime_reactor::slab::Slab::new()),
            default_priority,
            shutting_down: Cell::new(false),
            handle,
            worker,
            idle_waker: RefCell::new(None),
            ids: IdBlock::new(),
        }
    }

    /// Whether no task is alive and no job waits to be run.
    fn is_idle(&self) -> bool {
        self.tasks.borrow().is_empty() && !self.shared.has_jobs()
    }

    /// Wakes the graceful-shutdown waiter if the executor became idle.
    pub(crate) fn notify_if_idle(&self) {
        if self.idle_waker.borrow().is_some() && self.is_idle() {
            let waker = self.idle_waker.borrow_mut().take();
            if let Some(w) = waker {
                w.wake();
            }
        }
    }

    pub(crate) fn push_local(&self, task: TaskRef) {
        let prio = task.header().priority();
        self.queues.borrow_mut().push(prio, task);
    }

    /// Number of queued tasks over all priorities.
    pub(crate) fn queued(&self) -> usize {
        self.queues.borrow().len()
    }

    pub(crate) fn has_work(&self) -> bool {
        !self.queues.borrow().is_empty()
    }

    pub(crate) fn priorities(&self) -> usize {
        self.shared.priorities
    }

    /// Spawns `future` at `priority`, named `name` (no allocation for
    /// `None`).
    pub(crate) fn spawn<F: Future + 'static>(
        &self,
        priority: usize,
        name: Option<Arc<str>>,
        future: F,
    ) -> io::Result<JoinHandle<F::Output>> {
        if priority >= self.priorities() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "priority {priority} out of range: this runtime has {} priorities",
                    self.priorities()
                ),
            ));
        }
        if self.shutting_down.get() {
            return Err(io::Error::other("the runtime is shutting down"));
        }
        let cell = TaskCell::new(future, self.shared.clone(), priority, self.ids.next(), name);
        let key = self.tasks.borrow_mut().insert(cell.clone());
        let handle = JoinHandle::new(cell.clone());
        task::register_new(&cell, key);
        self.push_local(cell);
        Ok(handle)
    }
}

thread_local! {
    static CORE: Cell<*const Core> = const { Cell::new(std::ptr::null()) };
}

/// Publishes `core` as the thread's current executor until the guard drops.
pub(crate) struct CoreGuard {
    prev: *const Core,
}

impl CoreGuard {
    pub(crate) fn enter(core: &Core) -> CoreGuard {
        let prev = CORE.with(|c| c.replace(core as *const Core));
        CoreGuard { prev }
    }
}

impl Drop for CoreGuard {
    fn drop(&mut self) {
        CORE.with(|c| c.set(self.prev));
    }
}

/// Runs `f` with the current core, if any.
pub(crate) fn with_core<R>(f: impl FnOnce(Option<&Core>) -> R) -> R {
    let ptr = CORE.with(|c| c.get());
    // SAFETY: the pointer is published only by a CoreGuard, which borrows
    // the Core for its whole lifetime and unpublishes it on drop; the Core
    // is owned by a `!Send` Runtime on this thread.
    let core = unsafe { ptr.as_ref() };
    f(core)
}

pub(crate) fn is_inside(shared: &Shared) -> bool {
    with_core(|c| c.is_some_and(|c| c.shared.id == shared.id))
}

/// Queues a task that was just marked scheduled.
pub(crate) fn schedule(task: TaskRef) {
    let local = with_core(|core| match core {
        Some(core) if core.shared.id == task.header().shared.id => {
            core.push_local(task);
            None
        }
        _ => Some(task),
    });
    if let Some(task) = local {
        let shared = task.header().shared.clone();
        shared.push_remote(task);
    }
}

/// Removes a finished task from the registry of its executor (owner thread).
/// Only the entry that is this very task is removed (shutdown may have taken
/// it out already, and the slot may hold another task by then).
pub(crate) fn unregister(shared: &Shared, key: usize, header: &Header) {
    with_core(|core| {
        if let Some(core) = core {
            if core.shared.id == shared.id {
                // Dropping the registry's reference may drop the task's
                // last Arc; release the borrow first.
                let removed = {
                    let mut reg = core.tasks.borrow_mut();
                    let same = reg
                        .get(key)
                        .is_some_and(|t| std::ptr::eq(t.header(), header));
                    if same {
                        reg.remove(key)
                    } else {
                        None
                    }
                };
                drop(removed);
                core.notify_if_idle();
            }
        }
    });
}

/// Spawns on the current executor with its default priority.
pub(crate) fn spawn<F: Future + 'static>(future: F) -> io::Result<JoinHandle<F::Output>> {
    with_core(|core| match core {
        Some(core) => core.spawn(core.default_priority, None, future),
        None => Err(outside()),
    })
}

pub(crate) fn spawn_with_priority<F: Future + 'static>(
    priority: usize,
    future: F,
) -> io::Result<JoinHandle<F::Output>> {
    with_core(|core| match core {
        Some(core) => core.spawn(priority, None, future),
        None => Err(outside()),
    })
}

/// Spawns on the current executor, at `priority` (its default if `None`)
/// and named `name`.
pub(crate) fn spawn_named<F: Future + 'static>(
    priority: Option<usize>,
    name: Option<Arc<str>>,
    future: F,
) -> io::Result<JoinHandle<F::Output>> {
    with_core(|core| match core {
        Some(core) => core.spawn(priority.unwrap_or(core.default_priority), name, future),
        None => Err(outside()),
    })
}

/// Ready when the current executor has no task alive and no job queued;
/// otherwise remembers the waker until it has.
pub(crate) fn poll_idle(cx: &mut Context<'_>) -> Poll<()> {
    with_core(|core| match core {
        None => Poll::Ready(()),
        Some(core) => {
            if core.is_idle() {
                return Poll::Ready(());
            }
            *core.idle_waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        }
    })
}

pub(crate) fn outside() -> io::Error {
    io::Error::other("no runtime is running on this thread (call this inside runtime::block_on)")
}
