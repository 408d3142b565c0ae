//! A channel for exactly one value.
//!
//! # Cancel safety
//!
//! `Receiver` is a future that can be polled again after losing a
//! `select!` (pass `&mut rx`): the value stays in the channel until a poll
//! returns it.
//!
//! ```
//! use runtime::sync::oneshot;
//!
//! #[runtime::main]
//! async fn main() {
//!     let (tx, rx) = oneshot::channel();
//!     runtime::spawn(async move { tx.send(42).unwrap() });
//!     assert_eq!(rx.await, Ok(42));
//! }
//! ```

use parking_lot::Mutex;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

/// The sender was dropped without sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvError;

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("oneshot sender dropped without sending")
    }
}

impl std::error::Error for RecvError {}

/// Why [`Receiver::try_recv`] returned no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// No value yet; the sender is still alive.
    Empty,
    /// The sender was dropped without sending (or the value was taken).
    Closed,
}

struct State<T> {
    value: Option<T>,
    sender_gone: bool,
    receiver_gone: bool,
    rx_waker: Option<Waker>,
    tx_waker: Option<Waker>,
}

/// Sends the one value; see [`channel`].
pub struct Sender<T> {
    /// `None` once `send` has run (and told the receiver it is gone).
    shared: Option<Arc<Mutex<State<T>>>>,
}

/// Receives the one value by being awaited; see [`channel`].
pub struct Receiver<T> {
    shared: Arc<Mutex<State<T>>>,
    /// A poll returned `Ready`: the sender is gone, nothing to tell it.
    done: bool,
}

/// Makes a sender and receiver pair for one value.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Mutex::new(State {
        value: None,
        sender_gone: false,
        receiver_gone: false,
        rx_waker: None,
        tx_waker: None,
    }));
    (
        Sender {
            shared: Some(shared.clone()),
        },
        Receiver {
            shared,
            done: false,
        },
    )
}

impl<T> Sender<T> {
    /// Sends `value`; gives it back if the receiver is gone.
    pub fn send(mut self, value: T) -> Result<(), T> {
        let shared = self
            .shared
            .take()
            .expect("a Sender has its channel until send");
        // One critical section: the value is in and the sender gone, so
        // neither Drop nor the receiver needs another look.
        let waker = {
            let mut s = shared.lock();
            s.sender_gone = true;
            if s.receiver_gone {
                return Err(value);
            }
            s.value = Some(value);
            s.rx_waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// Whether the receiver was dropped (or closed).
    pub fn is_closed(&self) -> bool {
        self.shared.as_ref().is_none_or(|s| s.lock().receiver_gone)
    }

    /// Waits until the receiver is dropped or closed, so a producer can
    /// stop work nobody waits for.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only waits.
    pub async fn closed(&mut self) {
        std::future::poll_fn(|cx| {
            let Some(shared) = &self.shared else {
                return Poll::Ready(());
            };
            let mut s = shared.lock();
            if s.receiver_gone {
                Poll::Ready(())
            } else {
                s.tx_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let Some(shared) = self.shared.take() else {
            return; // `send` ran
        };
        let waker = {
            let mut s = shared.lock();
            s.sender_gone = true;
            s.rx_waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Receiver<T> {
    /// Takes the value if it was sent, without waiting.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let mut s = self.shared.lock();
        match s.value.take() {
            Some(v) => Ok(v),
            None if s.sender_gone => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
    }

    /// Refuses the value: a later `send` fails and gives it back. A value
    /// sent before can still be taken with [`try_recv`](Self::try_recv).
    pub fn close(&mut self) {
        let waker = {
            let mut s = self.shared.lock();
            s.receiver_gone = true;
            s.tx_waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut s = this.shared.lock();
        if let Some(v) = s.value.take() {
            drop(s);
            this.done = true;
            return Poll::Ready(Ok(v));
        }
        if s.sender_gone {
            drop(s);
            this.done = true;
            return Poll::Ready(Err(RecvError));
        }
        match &s.rx_waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => s.rx_waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if !self.done {
            self.close();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("oneshot::Sender").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("oneshot::Receiver").finish_non_exhaustive()
    }
}
