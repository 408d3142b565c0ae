//! [`TaskSlot`]: the task behind an event, a bufferevent or a listener,
//! in one place, aborted when the object goes. The object's priority is
//! its task's executor priority: the executor alone decides when the task
//! runs.

use crate::base::BaseInner;
use runtime_executor::JoinHandle;
use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::task::Waker;

/// The task of one callback object, on its base's executor.
pub(crate) struct TaskSlot {
    handle: RefCell<Option<JoinHandle<()>>>,
}

impl TaskSlot {
    /// An empty slot (no task yet).
    pub(crate) fn new() -> TaskSlot {
        TaskSlot {
            handle: RefCell::new(None),
        }
    }

    /// Spawns `fut` at `priority` on the base's executor, replacing (and
    /// aborting) the task there was.
    pub(crate) fn spawn(
        &self,
        base: &BaseInner,
        priority: usize,
        fut: impl Future<Output = ()> + 'static,
    ) -> io::Result<()> {
        let handle = base.spawn_task(priority, fut)?;
        let old = self.handle.replace(Some(handle));
        if let Some(old) = old {
            old.abort();
        }
        Ok(())
    }

    /// Whether a task is alive.
    pub(crate) fn is_alive(&self) -> bool {
        self.handle
            .borrow()
            .as_ref()
            .is_some_and(|t| !t.is_finished())
    }

    /// Gives the task (if there is one) a new executor priority; queued,
    /// it moves to that priority's queue at once.
    pub(crate) fn set_priority(&self, base: &BaseInner, priority: usize) -> io::Result<()> {
        match self.handle.borrow().as_ref() {
            Some(t) if !t.is_finished() => base.set_task_priority(t, priority),
            _ => Ok(()),
        }
    }

    /// Wakes the task so it looks at the object's new state.
    pub(crate) fn wake(&self) {
        if let Some(w) = self.waker() {
            w.wake();
        }
    }

    /// A waker of the task (see `JoinHandle::waker`), if it has one.
    pub(crate) fn waker(&self) -> Option<Waker> {
        self.handle.borrow().as_ref().map(JoinHandle::waker)
    }

    /// Ends the task (the object was freed).
    pub(crate) fn abort(&self) {
        let handle = self.handle.borrow_mut().take();
        if let Some(t) = handle {
            t.abort();
        }
    }
}

impl Drop for TaskSlot {
    fn drop(&mut self) {
        if let Some(t) = self.handle.get_mut().take() {
            t.abort();
        }
    }
}
