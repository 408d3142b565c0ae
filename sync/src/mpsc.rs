//! Multi-producer channels, bounded and unbounded (`async-channel`).
//!
//! Receivers can be cloned too (each message goes to one receiver).
//! [`Receiver::recv`] returns `Err(RecvError)` once every sender is gone
//! and the channel is empty (tokio's returns `None`).
//!
//! # Cancel safety
//!
//! `Receiver::recv` is cancel safe: if it loses a `select!`, no message is
//! taken. `Sender::send` on a full bounded channel is cancel safe in that
//! the message is dropped with the future and never delivered.
//!
//! ```
//! use runtime::sync::mpsc;
//!
//! #[runtime::main]
//! async fn main() {
//!     let (tx, rx) = mpsc::unbounded_channel();
//!     tx.send("hello").await.unwrap();
//!     drop(tx);
//!     assert_eq!(rx.recv().await, Ok("hello"));
//!     assert!(rx.recv().await.is_err());
//! }
//! ```

pub use async_channel::{
    bounded, unbounded, Receiver, Recv, RecvError, Send, SendError, Sender, TryRecvError,
    TrySendError,
};

/// A channel holding at most `capacity` messages: `send` waits while it is
/// full. Panics if `capacity` is 0 (as tokio's `mpsc::channel`).
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    bounded(capacity)
}

/// A channel without a bound: `send` never waits.
pub fn unbounded_channel<T>() -> (Sender<T>, Receiver<T>) {
    unbounded()
}
