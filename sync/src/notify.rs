//! `Notify`: wake one waiting task, or all of them, without data.

use parking_lot::Mutex;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};

/// Wakes tasks waiting in [`Notify::notified`], with tokio's semantics:
/// [`notify_one`](Notify::notify_one) wakes the longest waiting task, or,
/// if none waits, stores one permit that the next `notified()` takes at
/// once; [`notify_waiters`](Notify::notify_waiters) wakes every task
/// waiting now and stores nothing.
///
/// As with tokio's, a `Notified` future created before `notify_waiters`
/// completes even if it was not polled yet.
///
/// # Cancel safety
///
/// `notified()` is cancel safe: a `Notified` dropped after `notify_one`
/// chose it passes the notification on to the next waiter (or back to
/// the permit), so it is not lost.
///
/// ```
/// use runtime::sync::Notify;
/// use std::sync::Arc;
///
/// #[runtime::main]
/// async fn main() {
///     let notify = Arc::new(Notify::new());
///     let n = notify.clone();
///     let waiter = runtime::spawn(async move { n.notified().await; "woken" });
///     notify.notify_one();
///     assert_eq!(waiter.await.unwrap(), "woken");
/// }
/// ```
#[derive(Default)]
pub struct Notify {
    state: Mutex<State>,
    /// Bumped by every `notify_waiters`, under the state lock.
    generation: AtomicU64,
}

#[derive(Default)]
struct State {
    permit: bool,
    next_id: u64,
    /// Waiting, in arrival order.
    waiters: VecDeque<Waiter>,
    /// Chosen by `notify_one` or `notify_waiters` but not yet polled.
    woken: Vec<(u64, Woken)>,
}

struct Waiter {
    id: u64,
    waker: Waker,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Woken {
    One,
    All,
}

impl State {
    fn notify_one(&mut self) -> Option<Waker> {
        match self.waiters.pop_front() {
            Some(w) => {
                self.woken.push((w.id, Woken::One));
                Some(w.waker)
            }
            None => {
                self.permit = true;
                None
            }
        }
    }
}

impl Notify {
    /// A `Notify` with no permit stored.
    pub fn new() -> Notify {
        Notify::default()
    }

    /// Wakes the longest waiting task, or stores a permit for the next.
    pub fn notify_one(&self) {
        let waker = self.state.lock().notify_one();
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Wakes every task waiting now; stores no permit.
    pub fn notify_waiters(&self) {
        let wakers: Vec<Waker> = {
            let mut s = self.state.lock();
            self.generation.fetch_add(1, Ordering::Release);
            let drained: Vec<Waiter> = s.waiters.drain(..).collect();
            drained
                .into_iter()
                .map(|w| {
                    s.woken.push((w.id, Woken::All));
                    w.waker
                })
                .collect()
        };
        for w in wakers {
            w.wake();
        }
    }

    /// A future that completes when this task is notified.
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            notify: self,
            id: None,
            generation: self.generation.load(Ordering::Acquire),
        }
    }
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.lock();
        f.debug_struct("Notify")
            .field("permit", &s.permit)
            .field("waiters", &s.waiters.len())
            .finish()
    }
}

/// The future of [`Notify::notified`].
#[must_use = "futures do nothing unless awaited"]
pub struct Notified<'a> {
    notify: &'a Notify,
    id: Option<u64>,
    /// `Notify::generation` when this future was made.
    generation: u64,
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut s = self.notify.state.lock();
        match self.id {
            None => {
                if self.notify.generation.load(Ordering::Acquire) != self.generation {
                    return Poll::Ready(());
                }
                if s.permit {
                    s.permit = false;
                    return Poll::Ready(());
                }
                let id = s.next_id;
                s.next_id += 1;
                s.waiters.push_back(Waiter {
                    id,
                    waker: cx.waker().clone(),
                });
                drop(s);
                self.id = Some(id);
                Poll::Pending
            }
            Some(id) => {
                if let Some(i) = s.woken.iter().position(|&(w, _)| w == id) {
                    s.woken.swap_remove(i);
                    drop(s);
                    self.id = None;
                    // Done: a later poll would wait anew, so mark it done
                    // by leaving no registration behind.
                    return Poll::Ready(());
                }
                if let Some(w) = s.waiters.iter_mut().find(|w| w.id == id) {
                    if !w.waker.will_wake(cx.waker()) {
                        w.waker = cx.waker().clone();
                    }
                }
                Poll::Pending
            }
        }
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        let Some(id) = self.id else { return };
        let waker = {
            let mut s = self.notify.state.lock();
            if let Some(i) = s.woken.iter().position(|&(w, _)| w == id) {
                let (_, how) = s.woken.swap_remove(i);
                // A notify_one meant for this future passes on.
                if how == Woken::One {
                    s.notify_one()
                } else {
                    None
                }
            } else {
                s.waiters.retain(|w| w.id != id);
                None
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}
