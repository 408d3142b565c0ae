//! The one scheduling policy of the executor, libevent's, obeyed alike by
//! [`Runtime::block_on`](crate::Runtime::block_on) and
//! [`Runtime::run_once`](crate::Runtime::run_once): one run queue per
//! priority, and loop *iterations*.
//!
//! An iteration runs the tasks of the most urgent non-empty priority that
//! were ready when it started, in the order they were woken, each polled at
//! most once; tasks woken while it runs (the ones it polled included) wait
//! for the next iteration, and so do the tasks of less urgent priorities.
//! When the priority it runs is [`MaxDispatch::min_priority`] or less
//! urgent, the iteration also stops after [`MaxDispatch::callbacks`] polls
//! or once [`MaxDispatch::interval`] has passed. Tasks left behind that way
//! are *held back*: the loop looks at the reactor (without waiting) before
//! the next iteration, so newly ready urgent I/O goes first, as libevent's
//! `event_base_loop` re-polls its backend after running one priority.

use crate::task::{Header, TaskRef};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Dispatch limits of one loop iteration (libevent's
/// `event_config_set_max_dispatch_interval`): when an iteration runs tasks
/// of priority `min_priority` or a less urgent one, it stops after
/// `callbacks` task polls or once `interval` has passed since it started,
/// whichever comes first, and the loop checks for new events before the
/// next one. More urgent priorities are never limited.
///
/// ```
/// use runtime::MaxDispatch;
/// use std::time::Duration;
///
/// let md = MaxDispatch::new(Some(Duration::from_millis(5)), 16, 1);
/// assert_eq!(md.interval(), Some(Duration::from_millis(5)));
/// assert_eq!(md.callbacks(), 16);
/// assert_eq!(md.min_priority(), 1);
/// assert_eq!(MaxDispatch::UNLIMITED.callbacks(), usize::MAX);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxDispatch {
    interval: Option<Duration>,
    callbacks: usize,
    min_priority: usize,
}

impl MaxDispatch {
    /// No limit (libevent's default: no interval, `INT_MAX` callbacks).
    pub const UNLIMITED: MaxDispatch = MaxDispatch {
        interval: None,
        callbacks: usize::MAX,
        min_priority: 0,
    };

    /// Limits for iterations that run priority `min_priority` or a less
    /// urgent one: at most `callbacks` polls (0 counts as 1) and, if given,
    /// no new poll once `interval` has passed.
    pub fn new(interval: Option<Duration>, callbacks: usize, min_priority: usize) -> MaxDispatch {
        MaxDispatch {
            interval,
            callbacks: callbacks.max(1),
            min_priority,
        }
    }

    /// The time limit of an iteration, if any.
    pub fn interval(&self) -> Option<Duration> {
        self.interval
    }

    /// The most task polls of a limited iteration.
    pub fn callbacks(&self) -> usize {
        self.callbacks
    }

    /// The most urgent priority the limits apply to.
    pub fn min_priority(&self) -> usize {
        self.min_priority
    }
}

impl Default for MaxDispatch {
    fn default() -> Self {
        MaxDispatch::UNLIMITED
    }
}

/// The run queues: one FIFO per priority, index 0 most urgent.
pub(crate) struct RunQueues {
    queues: Vec<VecDeque<TaskRef>>,
    len: usize,
    /// While an iteration runs: its priority, and how many of the tasks
    /// at the front of that queue it still has to poll (0 otherwise).
    running: Option<usize>,
    cur_left: usize,
}

impl RunQueues {
    pub(crate) fn new(priorities: usize) -> RunQueues {
        RunQueues {
            queues: (0..priorities).map(|_| VecDeque::new()).collect(),
            len: 0,
            running: None,
            cur_left: 0,
        }
    }

    /// Queues a woken task at the back of its priority's queue (a
    /// priority out of range, which `set_priority` never stores, goes to
    /// the least urgent queue).
    #[inline]
    pub(crate) fn push(&mut self, priority: usize, task: TaskRef) {
        let last = self.queues.len() - 1;
        self.queues[priority.min(last)].push_back(task);
        self.len += 1;
    }

    /// The priority of the iteration that is running, if one is.
    pub(crate) fn running(&self) -> Option<usize> {
        self.running
    }

    /// Number of queued tasks over all priorities.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn most_urgent(&self) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        self.queues.iter().position(|q| !q.is_empty())
    }

    /// The next task the running iteration polls, if it has any left.
    #[inline]
    fn pop_current(&mut self) -> Option<TaskRef> {
        let prio = self.running?;
        if self.cur_left == 0 {
            return None;
        }
        let t = self.queues[prio].pop_front()?;
        self.cur_left -= 1;
        self.len -= 1;
        Some(t)
    }

    /// Moves the queued task whose header is `task` to the back of the
    /// `priority` queue (its priority changed while it was queued). A task
    /// the running iteration was still to poll leaves that iteration.
    /// Returns whether it was found.
    pub(crate) fn requeue(&mut self, task: &Header, priority: usize) -> bool {
        let last = self.queues.len() - 1;
        let target = priority.min(last);
        for p in 0..self.queues.len() {
            let Some(i) = self.queues[p]
                .iter()
                .position(|t| std::ptr::eq(t.header(), task))
            else {
                continue;
            };
            if p == target {
                return true;
            }
            if self.running == Some(p) && i < self.cur_left {
                self.cur_left -= 1;
            }
            if let Some(t) = self.queues[p].remove(i) {
                self.queues[target].push_back(t);
            }
            return true;
        }
        false
    }

    /// Empties every queue (shutdown).
    pub(crate) fn drain_all(&mut self) -> Vec<TaskRef> {
        self.len = 0;
        self.queues.iter_mut().flat_map(|q| q.drain(..)).collect()
    }
}

/// What one iteration did.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Iteration {
    /// Task polls made.
    pub(crate) ran: usize,
    /// Tasks that were ready when the iteration started and were not polled.
    pub(crate) held_back: usize,
    /// `interrupt` stopped it (not the policy).
    pub(crate) interrupted: bool,
}

/// Runs one iteration over `queues` (see the module docs). `interrupt` is
/// asked after each poll whether to stop early (the main future of
/// `block_on` was woken, or the loop owes the reactor a look); the tasks
/// not polled then stay queued, first in line.
pub(crate) fn run_iteration(
    queues: &RefCell<RunQueues>,
    limits: &MaxDispatch,
    mut interrupt: impl FnMut() -> bool,
) -> Iteration {
    let mut q = queues.borrow_mut();
    let Some(prio) = q.most_urgent() else {
        return Iteration::default();
    };
    let (ready, total) = (q.queues[prio].len(), q.len);
    let limited = prio >= limits.min_priority;
    let max = if limited {
        limits.callbacks
    } else {
        usize::MAX
    };
    let deadline = match (limited, limits.interval) {
        (true, Some(d)) => Some((Instant::now(), d)),
        _ => None,
    };
    q.running = Some(prio);
    q.cur_left = ready.min(max);
    drop(q);
    let mut it = Iteration::default();
    loop {
        // The borrow ends before the poll: the task may wake others, or
        // move a queued one to another priority.
        let Some(task) = queues.borrow_mut().pop_current() else {
            break;
        };
        task.run();
        it.ran += 1;
        if deadline.is_some_and(|(t0, d)| t0.elapsed() >= d) {
            break;
        }
        if queues.borrow().cur_left > 0 && interrupt() {
            it.interrupted = true;
            break;
        }
    }
    {
        let mut q = queues.borrow_mut();
        q.running = None;
        q.cur_left = 0;
    }
    // Tasks moved out of the iteration's queue by `requeue` are still
    // ready: they count as held back like the others left over.
    it.held_back = total.saturating_sub(it.ran);
    it
}
