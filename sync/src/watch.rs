//! A single value that many receivers watch: each sees the latest value
//! and can wait for the next change (intermediate values may be skipped).
//!
//! # Cancel safety
//!
//! [`Receiver::changed`] is cancel safe: losing a `select!` marks nothing
//! as seen.
//!
//! ```
//! use runtime::sync::watch;
//!
//! #[runtime::main]
//! async fn main() {
//!     let (tx, mut rx) = watch::channel("starting");
//!     runtime::spawn(async move { tx.send("running").unwrap() });
//!     rx.changed().await.unwrap();
//!     assert_eq!(*rx.borrow_and_update(), "running");
//! }
//! ```

use event_listener::Event;
use parking_lot::{RwLock, RwLockReadGuard};
use std::fmt;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// The sender is gone (for [`Receiver::changed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvError;

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("watch sender dropped")
    }
}

impl std::error::Error for RecvError {}

/// Every receiver is gone; the value that could not be sent is inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("every watch receiver dropped")
    }
}

impl<T: fmt::Debug> std::error::Error for SendError<T> {}

struct Shared<T> {
    value: RwLock<T>,
    /// Bumped on every change.
    version: AtomicU64,
    receivers: AtomicUsize,
    sender_gone: AtomicBool,
    /// Receivers waiting for a change.
    changed: Event,
    /// The sender waiting for the last receiver to go.
    closed: Event,
}

/// Sets the value; see [`channel`].
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// Reads the value and waits for changes; see [`channel`].
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    seen: u64,
}

/// A read lock on the value: hold it briefly (the sender waits for it).
pub struct Ref<'a, T> {
    guard: RwLockReadGuard<'a, T>,
}

impl<T> Deref for Ref<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

/// Makes a watch channel holding `init`; the receiver has seen it.
pub fn channel<T>(init: T) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        value: RwLock::new(init),
        version: AtomicU64::new(0),
        receivers: AtomicUsize::new(1),
        sender_gone: AtomicBool::new(false),
        changed: Event::new(),
        closed: Event::new(),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared, seen: 0 },
    )
}

impl<T> Sender<T> {
    /// Sets the value and wakes the receivers; fails (giving `value`
    /// back) if there are none.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        if self.shared.receivers.load(Ordering::Acquire) == 0 {
            return Err(SendError(value));
        }
        self.send_replace(value);
        Ok(())
    }

    /// Sets the value whether or not anyone watches; returns the old one.
    pub fn send_replace(&self, value: T) -> T {
        let mut guard = self.shared.value.write();
        let old = std::mem::replace(&mut *guard, value);
        // Bumped under the lock, so a reader sees value and version match.
        self.shared.version.fetch_add(1, Ordering::Release);
        drop(guard);
        self.shared.changed.notify(usize::MAX);
        old
    }

    /// Changes the value in place; `modify` returns whether it changed
    /// anything (receivers are woken only then).
    pub fn send_if_modified(&self, modify: impl FnOnce(&mut T) -> bool) -> bool {
        let mut guard = self.shared.value.write();
        let changed = modify(&mut guard);
        if changed {
            self.shared.version.fetch_add(1, Ordering::Release);
        }
        drop(guard);
        if changed {
            self.shared.changed.notify(usize::MAX);
        }
        changed
    }

    /// The current value.
    pub fn borrow(&self) -> Ref<'_, T> {
        Ref {
            guard: self.shared.value.read(),
        }
    }

    /// A new receiver that has seen the current value.
    pub fn subscribe(&self) -> Receiver<T> {
        self.shared.receivers.fetch_add(1, Ordering::AcqRel);
        Receiver {
            shared: self.shared.clone(),
            seen: self.shared.version.load(Ordering::Acquire),
        }
    }

    /// How many receivers there are.
    pub fn receiver_count(&self) -> usize {
        self.shared.receivers.load(Ordering::Acquire)
    }

    /// Waits until every receiver is gone.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits.
    pub async fn closed(&self) {
        loop {
            if self.shared.receivers.load(Ordering::Acquire) == 0 {
                return;
            }
            let listener = self.shared.closed.listen();
            if self.shared.receivers.load(Ordering::Acquire) == 0 {
                return;
            }
            listener.await;
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.shared.sender_gone.store(true, Ordering::Release);
        self.shared.changed.notify(usize::MAX);
    }
}

impl<T> Receiver<T> {
    /// The current value, without marking it seen.
    pub fn borrow(&self) -> Ref<'_, T> {
        Ref {
            guard: self.shared.value.read(),
        }
    }

    /// The current value, marking it seen.
    pub fn borrow_and_update(&mut self) -> Ref<'_, T> {
        let guard = self.shared.value.read();
        // Read under the lock: a send waits for the write lock, so the
        // version read here is the one of the value under the guard.
        self.seen = self.shared.version.load(Ordering::Acquire);
        Ref { guard }
    }

    /// Whether the value changed since this receiver last marked it seen;
    /// an error if the sender is gone.
    pub fn has_changed(&self) -> Result<bool, RecvError> {
        if self.shared.sender_gone.load(Ordering::Acquire) {
            return Err(RecvError);
        }
        Ok(self.shared.version.load(Ordering::Acquire) != self.seen)
    }

    /// Waits for a value not yet seen and marks it seen; an error once the
    /// sender is gone (a change sent before that is still reported).
    pub async fn changed(&mut self) -> Result<(), RecvError> {
        loop {
            let v = self.shared.version.load(Ordering::Acquire);
            if v != self.seen {
                self.seen = v;
                return Ok(());
            }
            if self.shared.sender_gone.load(Ordering::Acquire) {
                return Err(RecvError);
            }
            let listener = self.shared.changed.listen();
            let v = self.shared.version.load(Ordering::Acquire);
            if v != self.seen || self.shared.sender_gone.load(Ordering::Acquire) {
                continue;
            }
            listener.await;
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.shared.receivers.fetch_add(1, Ordering::AcqRel);
        Receiver {
            shared: self.shared.clone(),
            seen: self.seen,
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if self.shared.receivers.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.closed.notify(usize::MAX);
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("watch::Sender")
            .field("value", &*self.borrow())
            .finish()
    }
}

impl<T: fmt::Debug> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("watch::Receiver")
            .field("value", &*self.borrow())
            .field("seen", &self.seen)
            .finish()
    }
}
