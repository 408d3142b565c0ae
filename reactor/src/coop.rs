//! Cooperative budget: each task poll gets a number of resource operations
//! (I/O readiness checks, timer polls); once spent, resources answer
//! `Pending` after waking the task, so a task that is always ready yields to
//! the loop and cannot starve I/O or timers.

use std::cell::Cell;
use std::task::{Context, Poll};

/// Operations a task may perform per poll before it is made to yield.
pub const DEFAULT_BUDGET: u32 = 128;

thread_local! {
    // u32::MAX means unconstrained (outside any executor).
    static BUDGET: Cell<u32> = const { Cell::new(u32::MAX) };
}

/// Runs `f` with a fresh budget of `budget` operations, restoring the
/// previous one afterwards. Executors call this around each task poll.
pub fn with_budget<R>(budget: u32, f: impl FnOnce() -> R) -> R {
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

/// Spends one unit of budget. When none is left, wakes the task and returns
/// `Pending`; resources call this before reporting readiness.
#[inline]
pub fn poll_proceed(cx: &mut Context<'_>) -> Poll<()> {
    BUDGET.with(|b| {
        let left = b.get();
        if left == u32::MAX {
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
