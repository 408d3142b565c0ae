//! Single-thread multi-producer channels, bounded and unbounded: the
//! queue is a `VecDeque` in an `Rc`, the waiting tasks a small list of
//! wakers; no atomics, no locks.
//!
//! The API is tokio's: [`Receiver::recv`] returns `None` once every
//! sender is gone and the queue is empty; a send after the receiver was
//! dropped (or [closed](Receiver::close)) returns the value in its error.
//!
//! # Cancel safety
//!
//! [`Receiver::recv`] and [`UnboundedReceiver::recv`] are cancel safe: if
//! the future loses a `select!`, no message was taken. [`Sender::send`] on
//! a full channel is cancel safe in that a dropped send future drops its
//! message, which is never delivered, and gives its turn to the next
//! waiting sender.
//!
//! ```
//! use runtime::sync::local::mpsc;
//!
//! #[runtime::main]
//! async fn main() {
//!     let (tx, mut rx) = mpsc::channel(2);
//!     for i in 0..3 {
//!         let tx = tx.clone();
//!         runtime::spawn(async move { tx.send(i).await.unwrap() });
//!     }
//!     drop(tx);
//!     let mut got = Vec::new();
//!     while let Some(v) = rx.recv().await {
//!         got.push(v);
//!     }
//!     got.sort();
//!     assert_eq!(got, [0, 1, 2]);
//! }
//! ```

use super::waiters::Waiters;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// The receiver is gone (or closed): the value comes back.
#[derive(PartialEq, Eq, Clone, Copy)]
pub struct SendError<T>(pub T);

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sending on a closed channel")
    }
}

impl<T> std::error::Error for SendError<T> {}

/// Why [`Sender::try_send`] did not send; the value comes back.
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum TrySendError<T> {
    /// The channel is full.
    Full(T),
    /// The receiver is gone (or closed).
    Closed(T),
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Closed(v) => v,
        }
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("no available capacity"),
            TrySendError::Closed(_) => f.write_str("sending on a closed channel"),
        }
    }
}

impl<T> std::error::Error for TrySendError<T> {}

/// Why `try_recv` returned no message.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum TryRecvError {
    /// Nothing queued; a sender is still alive.
    Empty,
    /// Nothing queued and every sender is gone (or the receiver closed).
    Disconnected,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("receiving on an empty channel"),
            TryRecvError::Disconnected => f.write_str("receiving on a closed channel"),
        }
    }
}

impl std::error::Error for TryRecvError {}

struct Chan<T> {
    queue: RefCell<VecDeque<T>>,
    /// `usize::MAX` for an unbounded channel.
    cap: usize,
    senders: Cell<usize>,
    /// The receiver was dropped or closed.
    closed: Cell<bool>,
    rx_waker: Cell<Option<Waker>>,
    /// Senders waiting for room (bounded channels only).
    send_waiters: Waiters,
}

impl<T> Chan<T> {
    fn new(cap: usize) -> Rc<Chan<T>> {
        Rc::new(Chan {
            queue: RefCell::new(VecDeque::new()),
            cap,
            senders: Cell::new(1),
            closed: Cell::new(false),
            rx_waker: Cell::new(None),
            send_waiters: Waiters::default(),
        })
    }

    fn wake_rx(&self) {
        if let Some(w) = self.rx_waker.take() {
            w.wake();
        }
    }

    /// Queues `value` if there is room and the receiver is alive.
    fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        if self.closed.get() {
            return Err(TrySendError::Closed(value));
        }
        {
            let mut q = self.queue.borrow_mut();
            if q.len() >= self.cap {
                return Err(TrySendError::Full(value));
            }
            q.push_back(value);
        }
        self.wake_rx();
        Ok(())
    }

    /// Room was made for one message: the longest waiting sender may send.
    fn wake_sender(&self) {
        if let Some((_, w)) = self.send_waiters.pop() {
            w.wake();
        }
    }

    fn try_recv(&self) -> Result<T, TryRecvError> {
        let v = self.queue.borrow_mut().pop_front();
        match v {
            Some(v) => {
                if self.cap != usize::MAX {
                    self.wake_sender();
                }
                Ok(v)
            }
            None if self.senders.get() == 0 || self.closed.get() => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        match self.try_recv() {
            Ok(v) => Poll::Ready(Some(v)),
            Err(TryRecvError::Disconnected) => Poll::Ready(None),
            Err(TryRecvError::Empty) => {
                let w = match self.rx_waker.take() {
                    Some(w) if w.will_wake(cx.waker()) => w,
                    _ => cx.waker().clone(),
                };
                self.rx_waker.set(Some(w));
                Poll::Pending
            }
        }
    }

    /// The receiver refuses further messages: waiting senders get theirs
    /// back.
    fn close(&self) {
        self.closed.set(true);
        for (_, w) in self.send_waiters.take_all() {
            w.wake();
        }
    }

    fn drop_sender(&self) {
        let n = self.senders.get() - 1;
        self.senders.set(n);
        if n == 0 {
            self.wake_rx();
        }
    }

    fn drop_receiver(&self) {
        self.close();
        self.rx_waker.take();
        // Dropped outside the borrow: a message's destructor may use the
        // channel (it may hold a sender).
        let queued = std::mem::take(&mut *self.queue.borrow_mut());
        drop(queued);
    }
}

/// Makes a channel holding at most `capacity` messages: `send` waits while
/// it is full. Panics if `capacity` is 0 (as tokio's).
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(capacity > 0, "mpsc bounded channel requires capacity > 0");
    let chan = Chan::new(capacity);
    (Sender { chan: chan.clone() }, Receiver { chan })
}

/// Makes a channel without a bound: `send` never waits.
pub fn unbounded_channel<T>() -> (UnboundedSender<T>, UnboundedReceiver<T>) {
    let chan = Chan::new(usize::MAX);
    (
        UnboundedSender { chan: chan.clone() },
        UnboundedReceiver { chan },
    )
}

/// Sends into a bounded channel; clone it for more producers.
pub struct Sender<T> {
    chan: Rc<Chan<T>>,
}

/// Receives from a bounded channel.
pub struct Receiver<T> {
    chan: Rc<Chan<T>>,
}

/// Sends into an unbounded channel; clone it for more producers.
pub struct UnboundedSender<T> {
    chan: Rc<Chan<T>>,
}

/// Receives from an unbounded channel.
pub struct UnboundedReceiver<T> {
    chan: Rc<Chan<T>>,
}

impl<T> Sender<T> {
    /// Sends `value`, waiting while the channel is full. An error (with the
    /// value) once the receiver is dropped or closed, including while
    /// waiting.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes drops the value (it is
    /// never delivered) and passes its turn to the next waiting sender.
    pub fn send(&self, value: T) -> SendFuture<'_, T> {
        SendFuture {
            chan: &self.chan,
            value: Some(value),
            id: None,
        }
    }

    /// Sends `value` if there is room now.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.chan.try_send(value)
    }

    /// Whether the receiver was dropped or closed.
    pub fn is_closed(&self) -> bool {
        self.chan.closed.get()
    }

    /// The number of messages the channel can take now.
    pub fn capacity(&self) -> usize {
        self.chan.cap - self.chan.queue.borrow().len()
    }

    /// The bound given to [`channel`].
    pub fn max_capacity(&self) -> usize {
        self.chan.cap
    }
}

/// The future of [`Sender::send`].
#[must_use = "futures do nothing unless awaited"]
pub struct SendFuture<'a, T> {
    chan: &'a Chan<T>,
    /// `None` once sent or given back.
    value: Option<T>,
    /// Our place in the list of waiting senders.
    id: Option<u64>,
}

impl<T> Unpin for SendFuture<'_, T> {}

impl<T> Future for SendFuture<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let value = this
            .value
            .take()
            .expect("SendFuture polled after completion");
        match this.chan.try_send(value) {
            Ok(()) => {
                if let Some(id) = this.id.take() {
                    this.chan.send_waiters.remove(id);
                }
                Poll::Ready(Ok(()))
            }
            Err(TrySendError::Closed(v)) => {
                if let Some(id) = this.id.take() {
                    this.chan.send_waiters.remove(id);
                }
                Poll::Ready(Err(SendError(v)))
            }
            Err(TrySendError::Full(v)) => {
                this.value = Some(v);
                match this.id {
                    Some(id) if this.chan.send_waiters.update(id, cx.waker()) => {}
                    _ => this.id = Some(this.chan.send_waiters.push(cx.waker())),
                }
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for SendFuture<'_, T> {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            // Woken for room but gone without sending: the next one may.
            if !self.chan.send_waiters.remove(id)
                && self.value.is_some()
                && self.chan.queue.borrow().len() < self.chan.cap
            {
                self.chan.wake_sender();
            }
        }
    }
}

impl<T> fmt::Debug for SendFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendFuture")
            .field("waiting", &self.id.is_some())
            .finish()
    }
}

impl<T> UnboundedSender<T> {
    /// Queues `value`; never waits. An error (with the value) once the
    /// receiver is dropped or closed.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.chan
            .try_send(value)
            .map_err(|e| SendError(e.into_inner()))
    }

    /// Whether the receiver was dropped or closed.
    pub fn is_closed(&self) -> bool {
        self.chan.closed.get()
    }
}

macro_rules! receiver_impl {
    ($rx:ident) => {
        impl<T> $rx<T> {
            /// Waits for the next message; `None` once every sender is
            /// gone and the queue is empty (or the receiver was closed and
            /// the queue drained).
            ///
            /// # Cancel safety
            ///
            /// Cancel safe: a `recv` that loses a `select!` took no message.
            pub async fn recv(&mut self) -> Option<T> {
                poll_fn(|cx| self.chan.poll_recv(cx)).await
            }

            /// Polls for the next message (for hand-written futures).
            pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
                self.chan.poll_recv(cx)
            }

            /// The next message if one is queued, without waiting.
            pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
                self.chan.try_recv()
            }

            /// Refuses further messages: sends fail from now on (waiting
            /// ones too, with their value back); queued messages can still
            /// be received.
            pub fn close(&mut self) {
                self.chan.close();
            }

            /// How many messages are queued.
            pub fn len(&self) -> usize {
                self.chan.queue.borrow().len()
            }

            /// Whether no message is queued.
            pub fn is_empty(&self) -> bool {
                self.chan.queue.borrow().is_empty()
            }
        }

        impl<T> Drop for $rx<T> {
            fn drop(&mut self) {
                self.chan.drop_receiver();
            }
        }

        impl<T> fmt::Debug for $rx<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($rx))
                    .field("len", &self.len())
                    .field("senders", &self.chan.senders.get())
                    .finish()
            }
        }
    };
}

receiver_impl!(Receiver);
receiver_impl!(UnboundedReceiver);

macro_rules! sender_common {
    ($tx:ident) => {
        impl<T> Clone for $tx<T> {
            fn clone(&self) -> Self {
                self.chan.senders.set(self.chan.senders.get() + 1);
                $tx {
                    chan: self.chan.clone(),
                }
            }
        }

        impl<T> Drop for $tx<T> {
            fn drop(&mut self) {
                self.chan.drop_sender();
            }
        }

        impl<T> fmt::Debug for $tx<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($tx))
                    .field("closed", &self.chan.closed.get())
                    .finish()
            }
        }
    };
}

sender_common!(Sender);
sender_common!(UnboundedSender);
