//! The cross-thread part of an executor: the inject queue that wakes from
//! other threads land in, and the notifier that wakes its reactor.

use crate::task::TaskRef;
use parking_lot::Mutex;
use runtime_reactor::Notifier;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

pub(crate) struct Shared {
    pub(crate) id: usize,
    inject: Mutex<Vec<TaskRef>>,
    has_inject: AtomicBool,
    /// Set when a wake-up has been written to the reactor since the loop
    /// last turned it: later remote wakes skip the system call.
    notified: AtomicBool,
    notifier: Notifier,
}

impl Shared {
    pub(crate) fn new(notifier: Notifier) -> Shared {
        Shared {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            inject: Mutex::new(Vec::new()),
            has_inject: AtomicBool::new(false),
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
}
