//! A single-thread async `Mutex`: a `Cell<bool>` and a small FIFO list of
//! wakers, no atomics.

use super::waiters::Waiters;
use std::cell::{Cell, UnsafeCell};
use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll};

/// An async mutex for the tasks of one thread: a task holds the guard
/// across `.await`s while the others wait.
///
/// Fair: when the holder unlocks while tasks wait, the lock goes straight
/// to the longest waiting one (a task that locks again at once queues
/// behind it), so no task starves.
///
/// Not `Sync`: share it between the tasks of one thread with `Rc`.
///
/// # Cancel safety
///
/// [`lock`](Mutex::lock) is cancel safe: a lock future dropped while
/// waiting leaves the queue, and one dropped after the lock was handed to
/// it passes the lock to the next waiter (or unlocks).
///
/// ```
/// use runtime::sync::local::Mutex;
/// use std::rc::Rc;
///
/// #[runtime::main]
/// async fn main() {
///     let log = Rc::new(Mutex::new(Vec::new()));
///     let tasks: Vec<_> = (0..3)
///         .map(|i| {
///             let log = log.clone();
///             runtime::spawn(async move {
///                 let mut g = log.lock().await;
///                 g.push(i);
///                 runtime::yield_now().await; // others wait, still held
///                 g.push(i);
///             })
///         })
///         .collect();
///     for t in tasks {
///         t.await.unwrap();
///     }
///     assert_eq!(*log.lock().await, [0, 0, 1, 1, 2, 2]);
/// }
/// ```
pub struct Mutex<T: ?Sized> {
    locked: Cell<bool>,
    /// The waiter the lock was handed to, until its future takes it.
    handoff: Cell<Option<u64>>,
    waiters: Waiters,
    value: UnsafeCell<T>,
}

impl<T> Mutex<T> {
    /// A new unlocked mutex.
    pub fn new(value: T) -> Mutex<T> {
        Mutex {
            locked: Cell::new(false),
            handoff: Cell::new(None),
            waiters: Waiters::default(),
            value: UnsafeCell::new(value),
        }
    }

    /// The value (no guard can exist: the mutex is owned).
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Waits for the lock and returns its guard.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: see the [type's documentation](Mutex).
    pub fn lock(&self) -> Lock<'_, T> {
        Lock {
            mutex: self,
            id: None,
        }
    }

    /// The guard if the lock is free now (it is never free while tasks
    /// wait: an unlock hands it to the first of them).
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        if self.locked.get() {
            None
        } else {
            self.locked.set(true);
            Some(MutexGuard { mutex: self })
        }
    }

    /// The value, through a unique borrow (no lock needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    /// Whether a guard is alive (or the lock is being handed to a waiter).
    pub fn is_locked(&self) -> bool {
        self.locked.get()
    }

    fn unlock(&self) {
        match self.waiters.pop() {
            Some((id, w)) => {
                // Stays locked: the lock now belongs to that waiter.
                self.handoff.set(Some(id));
                w.wake();
            }
            None => self.locked.set(false),
        }
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T: ?Sized> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("local::Mutex")
            .field("locked", &self.locked.get())
            .field("waiters", &self.waiters.len())
            .finish_non_exhaustive()
    }
}

/// The future of [`Mutex::lock`].
#[must_use = "futures do nothing unless awaited"]
pub struct Lock<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    /// Set while queued.
    id: Option<u64>,
}

impl<'a, T: ?Sized> Future for Lock<'a, T> {
    type Output = MutexGuard<'a, T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<MutexGuard<'a, T>> {
        let m = self.mutex;
        match self.id {
            None => {
                if !m.locked.get() {
                    m.locked.set(true);
                    return Poll::Ready(MutexGuard { mutex: m });
                }
                self.id = Some(m.waiters.push(cx.waker()));
                Poll::Pending
            }
            Some(id) => {
                if m.handoff.get() == Some(id) {
                    m.handoff.set(None);
                    self.id = None;
                    return Poll::Ready(MutexGuard { mutex: m });
                }
                m.waiters.update(id, cx.waker());
                Poll::Pending
            }
        }
    }
}

impl<T: ?Sized> Drop for Lock<'_, T> {
    fn drop(&mut self) {
        let Some(id) = self.id else { return };
        let m = self.mutex;
        if m.handoff.get() == Some(id) {
            // Handed the lock but gone before taking it: pass it on.
            m.handoff.set(None);
            m.unlock();
        } else {
            m.waiters.remove(id);
        }
    }
}

impl<T: ?Sized> fmt::Debug for Lock<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("local::Lock")
            .field("waiting", &self.id.is_some())
            .finish()
    }
}

/// Holds the lock of a [`Mutex`]; unlocks when dropped.
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a guard exists only while `locked` is set, and only one:
        // `lock`/`try_lock` make one only after finding the lock free (or
        // handed to them), and the mutex is `!Sync`, so no other thread
        // can reach the value.
        unsafe { &*self.mutex.value.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this borrow unique.
        unsafe { &mut *self.mutex.value.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
