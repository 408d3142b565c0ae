//! A single-thread channel for exactly one value: the slot is a `Cell` in
//! an `Rc`; no atomics, no locks. Same API as
//! [`sync::oneshot`](crate::oneshot).
//!
//! # Cancel safety
//!
//! `Receiver` is a future that can be polled again after losing a
//! `select!` (pass `&mut rx`): the value stays in the channel until a poll
//! returns it. [`Sender::closed`] only waits, so it is cancel safe.
//!
//! ```
//! use runtime::sync::local::oneshot;
//!
//! #[runtime::main]
//! async fn main() {
//!     let (tx, rx) = oneshot::channel();
//!     runtime::spawn(async move { tx.send(42).unwrap() });
//!     assert_eq!(rx.await, Ok(42));
//! }
//! ```

pub use crate::oneshot::{RecvError, TryRecvError};
use std::cell::Cell;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

struct Inner<T> {
    value: Cell<Option<T>>,
    sender_gone: Cell<bool>,
    receiver_gone: Cell<bool>,
    rx_waker: Cell<Option<Waker>>,
    tx_waker: Cell<Option<Waker>>,
}

/// Sends the one value; see [`channel`].
pub struct Sender<T> {
    inner: Rc<Inner<T>>,
}

/// Receives the one value by being awaited; see [`channel`].
pub struct Receiver<T> {
    inner: Rc<Inner<T>>,
}

/// Makes a sender and receiver pair for one value.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let inner = Rc::new(Inner {
        value: Cell::new(None),
        sender_gone: Cell::new(false),
        receiver_gone: Cell::new(false),
        rx_waker: Cell::new(None),
        tx_waker: Cell::new(None),
    });
    (
        Sender {
            inner: inner.clone(),
        },
        Receiver { inner },
    )
}

/// Stores `w` in `slot` unless the waker there already wakes the same task.
fn store_waker(slot: &Cell<Option<Waker>>, w: &Waker) {
    let cur = match slot.take() {
        Some(cur) if cur.will_wake(w) => cur,
        _ => w.clone(),
    };
    slot.set(Some(cur));
}

impl<T> Sender<T> {
    /// Sends the value; gives it back if the receiver is gone (or closed).
    pub fn send(self, value: T) -> Result<(), T> {
        if self.inner.receiver_gone.get() {
            return Err(value);
        }
        self.inner.value.set(Some(value));
        // Dropping `self` marks the sender gone and wakes the receiver.
        Ok(())
    }

    /// Whether the receiver was dropped (or closed).
    pub fn is_closed(&self) -> bool {
        self.inner.receiver_gone.get()
    }

    /// Waits until the receiver is dropped or closed, so a producer can
    /// stop work nobody waits for.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits.
    pub async fn closed(&mut self) {
        poll_fn(|cx| {
            if self.inner.receiver_gone.get() {
                Poll::Ready(())
            } else {
                store_waker(&self.inner.tx_waker, cx.waker());
                Poll::Pending
            }
        })
        .await
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.inner.sender_gone.set(true);
        self.inner.tx_waker.take();
        if let Some(w) = self.inner.rx_waker.take() {
            w.wake();
        }
    }
}

impl<T> Receiver<T> {
    /// Takes the value if it was sent, without waiting.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        match self.inner.value.take() {
            Some(v) => Ok(v),
            None if self.inner.sender_gone.get() => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Refuses the value: a later `send` fails and gives it back. A value
    /// sent before can still be taken with [`try_recv`](Self::try_recv).
    pub fn close(&mut self) {
        self.inner.receiver_gone.set(true);
        if let Some(w) = self.inner.tx_waker.take() {
            w.wake();
        }
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &self.inner;
        if let Some(v) = inner.value.take() {
            return Poll::Ready(Ok(v));
        }
        if inner.sender_gone.get() {
            return Poll::Ready(Err(RecvError));
        }
        store_waker(&inner.rx_waker, cx.waker());
        Poll::Pending
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.close();
        self.inner.rx_waker.take();
        // A value sent and never received is dropped with the last `Rc`.
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("local::oneshot::Sender")
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("local::oneshot::Receiver")
            .finish_non_exhaustive()
    }
}
