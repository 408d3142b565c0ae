//! The cross-thread part of an executor: the inject queue that wakes from
//! other threads land in, the job queue that [`Handle::spawn_on`] sends
//! closures through, and the notifier that wakes its reactor.
//!
//! [`Handle::spawn_on`]: crate::Handle::spawn_on

use crate::task::TaskRef;
use parking_lot::Mutex;
use runtime_reactor::Notifier;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

/// A closure sent from another thread, run by the owner's loop (it builds a
/// future there and spawns it).
pub(crate) type Job = Box<dyn FnOnce() + Send + 'static>;

struct Jobs {
    queue: Vec<Job>,
    /// Set when the owner shut down: nothing will run new jobs.
    closed: bool,
}

pub(crate) struct Shared {
    pub(crate) id: usize,
    /// Number of task priorities of the executor (fixed at build).
    pub(crate) priorities: usize,
    inject: Mutex<Vec<TaskRef>>,
    has_inject: AtomicBool,
    jobs: Mutex<Jobs>,
    has_jobs: AtomicBool,
    /// Set when a wake-up has been written to the reactor since the loop
    /// last turned it: later remote wakes skip the system call.
    notified: AtomicBool,
    notifier: Notifier,
}

impl Shared {
    pub(crate) fn new(notifier: Notifier, priorities: usize) -> Shared {
        Shared {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            priorities,
            inject: Mutex::new(Vec::new()),
            has_inject: AtomicBool::new(false),
            jobs: Mutex::new(Jobs {
                queue: Vec::new(),
                closed: false,
            }),
            has_jobs: AtomicBool::new(false),
            notified: AtomicBool::new(false),
            notifier,
        }
    }

    /// Queues a task from outside the owner's loop and wakes the loop.
    pub(crate) fn push_remote(&self, task: TaskRef) {
        self.inject.lock().push(task);
        self.has_inject.store(true, Ordering::Release);
        self.wake_loop();
    }

    /// Wakes the loop if it might be sleeping.
    pub(crate) fn wake_loop(&self) {
        if !self.notified.swap(true, Ordering::AcqRel) {
            // A failed write means the descriptor is gone (shutdown): nothing to wake.
            let _ = self.notifier.notify();
        }
    }

    /// Called by the loop after every reactor turn, before draining the
    /// inject queue, so a wake that lands afterwards writes again.
    pub(crate) fn reset_notified(&self) {
        self.notified.store(false, Ordering::Release);
    }

    /// Moves remotely woken tasks into `out`.
    pub(crate) fn drain_inject(&self, out: &mut Vec<TaskRef>) {
        if !self.has_inject.load(Ordering::Acquire) {
            return;
        }
        let mut q = self.inject.lock();
        self.has_inject.store(false, Ordering::Release);
        out.append(&mut q);
    }

    /// Queues a job for the owner's loop and wakes it; gives the job back
    /// when the owner has shut down.
    pub(crate) fn push_job(&self, job: Job) -> Result<(), Job> {
        {
            let mut jobs = self.jobs.lock();
            if jobs.closed {
                return Err(job);
            }
            jobs.queue.push(job);
            self.has_jobs.store(true, Ordering::Release);
        }
        self.wake_loop();
        Ok(())
    }

    /// Whether jobs or remotely woken tasks are waiting.
    pub(crate) fn has_pending(&self) -> bool {
        self.has_inject.load(Ordering::Acquire) || self.has_jobs.load(Ordering::Acquire)
    }

    /// Whether jobs are waiting.
    pub(crate) fn has_jobs(&self) -> bool {
        self.has_jobs.load(Ordering::Acquire)
    }

    /// Moves the queued jobs into `out`.
    pub(crate) fn drain_jobs(&self, out: &mut Vec<Job>) {
        if !self.has_jobs.load(Ordering::Acquire) {
            return;
        }
        let mut jobs = self.jobs.lock();
        self.has_jobs.store(false, Ordering::Release);
        out.append(&mut jobs.queue);
    }

    /// Refuses further jobs and returns those still queued (the owner
    /// drops them, which cancels their handles).
    pub(crate) fn close_jobs(&self) -> Vec<Job> {
        let mut jobs = self.jobs.lock();
        jobs.closed = true;
        self.has_jobs.store(false, Ordering::Release);
        std::mem::take(&mut jobs.queue)
    }
}
