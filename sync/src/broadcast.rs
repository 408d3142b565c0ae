//! A channel whose every message reaches every receiver (`async-broadcast`).
//!
//! [`channel`] makes the tokio kind: when the buffer is full, sending drops
//! the oldest message and never waits, and a receiver that fell behind
//! gets `Err(RecvError::Overflowed(n))` once, with `n` the number of
//! messages it missed, then the oldest message still held. For a channel
//! that makes senders wait instead, use [`async_broadcast_channel`].
//!
//! # Cancel safety
//!
//! `Receiver::recv` is cancel safe: losing a `select!` takes no message.
//!
//! ```
//! use runtime::sync::broadcast;
//!
//! #[runtime::main]
//! async fn main() {
//!     let (tx, mut rx1) = broadcast::channel(4);
//!     let mut rx2 = rx1.clone();
//!     tx.broadcast("hi").await.unwrap();
//!     assert_eq!(rx1.recv().await, Ok("hi"));
//!     assert_eq!(rx2.recv().await, Ok("hi"));
//! }
//! ```

pub use async_broadcast::{
    broadcast as async_broadcast_channel, InactiveReceiver, Receiver, Recv, RecvError, SendError,
    Sender, TryRecvError, TrySendError,
};

/// A broadcast channel keeping the last `capacity` messages; a full buffer
/// drops its oldest message on send (receivers that miss it learn how many
/// they missed). Panics if `capacity` is 0.
pub fn channel<T: Clone>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let (mut tx, rx) = async_broadcast::broadcast(capacity);
    tx.set_overflow(true);
    (tx, rx)
}
