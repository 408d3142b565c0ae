//! What the base adds to the executor's scheduling policy. Which
//! callbacks run in a loop iteration — one priority level per iteration,
//! the `max_dispatch_interval` limits — is decided by the executor alone
//! (`runtime_executor`'s `dispatch` module): each event, bufferevent and
//! listener is a task at its own priority, and the base configures the
//! executor ([`EventConfig`](crate::EventConfig)). The base only keeps
//! what is its own: the count of callbacks run (for `EVLOOP_ONCE` and
//! `EVLOOP_NONBLOCK`); `loopbreak`, `loopcontinue` and the activation of an
//! event more urgent than the running iteration, which end the iteration
//! after the running callback; and a panic to resume in `dispatch`.

use crate::base::{base_state, BaseInner};
use std::any::Any;

impl BaseInner {
    /// Counts a callback that is about to run.
    pub(crate) fn note_callback(&self) {
        self.callbacks_run.set(self.callbacks_run.get() + 1);
    }

    /// Whether the running iteration must end after the running callback
    /// (`loopbreak`, `loopcontinue`, a panic). The executor asks after
    /// each task poll; a task that runs several callbacks in one poll (a
    /// bufferevent's read, write and event callbacks) asks between them
    /// and leaves the rest to its next poll.
    pub(crate) fn ends_iteration(&self) -> bool {
        self.status.has(base_state::GOT_BREAK) || self.status.has(base_state::GOT_CONTINUE)
    }

    /// An event of `priority` was made active: if that is more urgent than
    /// the iteration running (a callback activated it), the iteration ends
    /// after the running callback, so the loop polls and runs it before the
    /// rest of the less urgent ones, as libevent's `event_active` sets
    /// `event_continue` then.
    pub(crate) fn more_urgent_activated(&self, priority: usize) {
        if !self.status.has(base_state::IN_LOOP) {
            return;
        }
        let running = self.rt.borrow().running_priority();
        if running.is_some_and(|r| priority < r) {
            self.status.set(base_state::GOT_CONTINUE, true);
        }
    }

    pub(crate) fn store_panic(&self, p: Box<dyn Any + Send + 'static>) {
        let mut slot = self.panic.borrow_mut();
        if slot.is_none() {
            *slot = Some(p);
        }
        self.status.set(base_state::GOT_BREAK, true);
    }

    pub(crate) fn has_events(&self) -> bool {
        !self.state.borrow().members.is_empty() || self.listeners_enabled.get() > 0
    }
}
