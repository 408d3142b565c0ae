//! A single-thread `Notify`: wake one waiting task, or all of them,
//! without data; `Cell`s and a small list of wakers, no atomics.

use super::waiters::Waiters;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Wakes tasks waiting in [`Notify::notified`], with the semantics of
/// [`sync::Notify`](crate::Notify) (tokio's): [`notify_one`] wakes the
/// longest waiting task, or, if none waits, stores one permit that the
/// next `notified()` takes at once; [`notify_waiters`] wakes every task
/// waiting now and stores nothing. A `Notified` future created before
/// `notify_waiters` completes even if it was not polled yet.
///
/// Not `Sync`: share it between the tasks of one thread with `Rc`.
///
/// # Cancel safety
///
/// `notified()` is cancel safe: a `Notified` dropped after `notify_one`
/// chose it passes the notification on to the next waiter (or back to the
/// permit), so it is not lost.
///
/// [`notify_one`]: Notify::notify_one
/// [`notify_waiters`]: Notify::notify_waiters
///
/// ```
/// use runtime::sync::local::Notify;
/// use std::rc::Rc;
///
/// #[runtime::main]
/// async fn main() {
///     let notify = Rc::new(Notify::new());
///     let n = notify.clone();
///     let waiter = runtime::spawn(async move { n.notified().await; "woken" });
///     notify.notify_one();
///     assert_eq!(waiter.await.unwrap(), "woken");
/// }
/// ```
#[derive(Default)]
pub struct Notify {
    permit: Cell<bool>,
    /// Bumped by every `notify_waiters`.
    generation: Cell<u64>,
    waiters: Waiters,
    /// Ids chosen by `notify_one` whose futures have not seen it yet.
    chosen: RefCell<Vec<u64>>,
}

impl Notify {
    /// A `Notify` with no permit stored.
    pub fn new() -> Notify {
        Notify::default()
    }

    /// Wakes the longest waiting task, or stores a permit for the next.
    pub fn notify_one(&self) {
        match self.waiters.pop() {
            Some((id, w)) => {
                self.chosen.borrow_mut().push(id);
                w.wake();
            }
            None => self.permit.set(true),
        }
    }

    /// Wakes every task waiting now; stores no permit.
    pub fn notify_waiters(&self) {
        self.generation.set(self.generation.get() + 1);
        for (_, w) in self.waiters.take_all() {
            w.wake();
        }
    }

    /// A future that completes when this task is notified.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a `Notified` dropped after [`notify_one`](Self::notify_one)
    /// chose it passes the notification on.
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            notify: self,
            id: None,
            generation: self.generation.get(),
        }
    }

    /// Takes `id` out of the chosen list; whether it was there.
    fn unchoose(&self, id: u64) -> bool {
        let mut chosen = self.chosen.borrow_mut();
        match chosen.iter().position(|&c| c == id) {
            Some(i) => {
                chosen.swap_remove(i);
                true
            }
            None => false,
        }
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("local::Notify")
            .field("permit", &self.permit.get())
            .field("waiters", &self.waiters.len())
            .finish()
    }
}

/// The future of [`Notify::notified`].
#[must_use = "futures do nothing unless awaited"]
pub struct Notified<'a> {
    notify: &'a Notify,
    /// Set while registered as a waiter.
    id: Option<u64>,
    /// `Notify::generation` when this future was made.
    generation: u64,
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let n = self.notify;
        match self.id {
            None => {
                if n.generation.get() != self.generation {
                    return Poll::Ready(());
                }
                if n.permit.get() {
                    n.permit.set(false);
                    return Poll::Ready(());
                }
                self.id = Some(n.waiters.push(cx.waker()));
                Poll::Pending
            }
            Some(id) => {
                if n.unchoose(id) {
                    self.id = None;
                    return Poll::Ready(());
                }
                if n.generation.get() != self.generation {
                    // Woken by notify_waiters (which emptied the list).
                    self.id = None;
                    return Poll::Ready(());
                }
                if !n.waiters.update(id, cx.waker()) {
                    self.id = Some(n.waiters.push(cx.waker()));
                }
                Poll::Pending
            }
        }
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        let Some(id) = self.id else { return };
        if self.notify.unchoose(id) {
            // A notify_one meant for this future passes on.
            self.notify.notify_one();
        } else {
            self.notify.waiters.remove(id);
        }
    }
}

impl fmt::Debug for Notified<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("local::Notified")
            .field("waiting", &self.id.is_some())
            .finish()
    }
}
