//! Cooperative budget: each task poll gets a number of resource operations
//! (I/O readiness checks, timer polls); once spent, resources answer
//! `Pending` after waking the task, so a task that is always ready yields to
//! the loop and cannot starve I/O or timers.
//!
//! Resources call [`poll_proceed`] before reporting readiness; executors
//! run each task poll inside [`with_task_budget`]; code that must not be
//! made to yield (a benchmark loop, a test driving a future by hand) runs
//! inside [`unconstrained`]. Outside all of these (no executor) the budget
//! is unlimited.

use std::cell::Cell;
use std::task::{Context, Poll};

/// Operations a task may perform per poll before it is made to yield.
pub const DEFAULT_BUDGET: u32 = 128;

/// The budget value that means "no limit".
const UNLIMITED: u32 = u32::MAX;

thread_local! {
    static BUDGET: Cell<u32> = const { Cell::new(UNLIMITED) };
}

/// Runs `f` with a budget of `budget` operations, restoring the previous
/// one afterwards (also when `f` panics).
fn with_budget<R>(budget: u32, f: impl FnOnce() -> R) -> R {
    struct Restore(u32);
    impl Drop for Restore {
        fn drop(&mut self) {
            BUDGET.with(|b| b.set(self.0));
        }
    }
    let prev = BUDGET.with(|b| b.replace(budget));
    let _restore = Restore(prev);
    f()
}

/// Runs `f` — one poll of a task — with a fresh budget of
/// [`DEFAULT_BUDGET`] operations, restoring the previous budget afterwards.
/// Executors call this around each task poll.
///
/// ```
/// use runtime_reactor::coop;
/// coop::with_task_budget(|| assert!(coop::has_budget_remaining()));
/// ```
pub fn with_task_budget<R>(f: impl FnOnce() -> R) -> R {
    with_budget(DEFAULT_BUDGET, f)
}

/// Runs `f` without a budget: resources polled inside never make it yield
/// for having spent one (as outside any executor). The previous budget is
/// restored afterwards.
///
/// ```
/// use runtime_reactor::coop;
/// use std::task::{Context, Waker};
/// let mut cx = Context::from_waker(Waker::noop());
/// coop::with_task_budget(|| {
///     coop::unconstrained(|| {
///         for _ in 0..10 * coop::DEFAULT_BUDGET {
///             assert!(coop::poll_proceed(&mut cx).is_ready());
///         }
///     })
/// });
/// ```
pub fn unconstrained<R>(f: impl FnOnce() -> R) -> R {
    with_budget(UNLIMITED, f)
}

/// Spends one unit of budget. When none is left, wakes the task and returns
/// `Pending`; resources call this before reporting readiness.
#[inline]
pub fn poll_proceed(cx: &mut Context<'_>) -> Poll<()> {
    BUDGET.with(|b| {
        let left = b.get();
        if left == UNLIMITED {
            Poll::Ready(())
        } else if left == 0 {
            cx.waker().wake_by_ref();
            Poll::Pending
        } else {
            b.set(left - 1);
            Poll::Ready(())
        }
    })
}

/// Whether the current task still has budget (always true outside an executor).
pub fn has_budget_remaining() -> bool {
    BUDGET.with(|b| b.get() != 0)
}
