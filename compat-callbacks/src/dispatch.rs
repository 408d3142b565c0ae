//! The per-iteration callback policy of a base, one rule for events,
//! bufferevents and listeners (libevent runs them all from events): one
//! priority level per loop iteration, the `max_dispatch_interval` limits,
//! `loopbreak`/`loopcontinue`, and what is held back to the next
//! iteration.

use crate::base::{base_state, BaseInner};
use crate::event::{ev_state, EventInner};
use std::any::Any;
use std::task::Waker;

impl BaseInner {
    /// Whether a callback of `priority` about to run must wait for the
    /// next iteration. One rule for every source of callbacks (events,
    /// bufferevents, listeners), as libevent's are all events:
    /// `loopbreak`/`loopcontinue` were called; or a more urgent callback
    /// ran in this iteration (libevent runs one priority level per
    /// iteration; `internal` callbacks, the base's own timers, are exempt);
    /// or the dispatch limits of
    /// [`max_dispatch_interval`](EventConfig::max_dispatch_interval) are
    /// reached for this priority.
    pub(crate) fn must_defer_at(&self, priority: usize, internal: bool) -> bool {
        if !self.status.has(base_state::IN_LOOP) {
            return false;
        }
        if self.status.has(base_state::GOT_BREAK) || self.status.has(base_state::GOT_CONTINUE) {
            return true;
        }
        if !internal && self.iter_best.get() < priority {
            return true;
        }
        let md = self.max_dispatch;
        if priority >= md.min_priority {
            if self.iter_counted.get() >= md.callbacks {
                return true;
            }
            if let (Some(max), Some(t0)) = (md.interval, self.iter_start.get()) {
                if self.iter_counted.get() > 0 && t0.elapsed() >= max {
                    return true;
                }
            }
        }
        false
    }

    /// [`must_defer_at`](Self::must_defer_at) for an event about to fire.
    pub(crate) fn must_defer(&self, ev: &EventInner) -> bool {
        self.must_defer_at(ev.priority.get(), ev.internal)
    }

    /// Counts a callback of `priority` that is about to run, for
    /// [`must_defer_at`](Self::must_defer_at): the iteration's most urgent
    /// priority (unless `internal`) and the dispatch limits.
    pub(crate) fn note_callback_at(&self, priority: usize, internal: bool) {
        self.callbacks_run.set(self.callbacks_run.get() + 1);
        if !internal && priority < self.iter_best.get() {
            self.iter_best.set(priority);
        }
        if priority >= self.max_dispatch.min_priority {
            self.iter_counted.set(self.iter_counted.get() + 1);
        }
    }

    /// [`note_callback_at`](Self::note_callback_at) for an event.
    pub(crate) fn note_fired(&self, ev: &EventInner) {
        self.note_callback_at(ev.priority.get(), ev.internal);
    }

    /// Parks a task that is not an event's (a bufferevent's, a listener's)
    /// until the next iteration, after [`must_defer_at`](Self::must_defer_at)
    /// said so: its waker is woken by
    /// [`requeue_deferred`](Self::requeue_deferred) at the start of the next
    /// iteration. Waking it now instead would let the executor poll it
    /// again within the same `run_once` (a self-woken task goes back to its
    /// priority's queue, and `run_once` pops as many tasks as were queued
    /// when it started), only for it to defer again.
    pub(crate) fn defer_until_next_iteration(&self, waker: &Waker) {
        let mut list = self.deferred_wakers.borrow_mut();
        if !list.iter().any(|w| w.will_wake(waker)) {
            list.push(waker.clone());
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

    /// Wakes what was held back to this iteration: deferred events and
    /// the tasks parked by
    /// [`defer_until_next_iteration`](Self::defer_until_next_iteration).
    /// Called at the start of each iteration, before the executor runs.
    pub(crate) fn requeue_deferred(&self) {
        let list = std::mem::take(&mut self.state.borrow_mut().deferred);
        for ev in &list {
            if ev.status.replace(ev_state::DEFERRED, false) {
                ev.wake_task();
            }
        }
        drop(list);
        let wakers = std::mem::take(&mut *self.deferred_wakers.borrow_mut());
        for w in wakers {
            w.wake();
        }
    }

    /// Callbacks held back to the next iteration that `EVLOOP_ONCE` must
    /// still run: active events, and parked bufferevent/listener tasks.
    pub(crate) fn has_deferred(&self) -> bool {
        self.n_active.get() > 0 || !self.deferred_wakers.borrow().is_empty()
    }
}
