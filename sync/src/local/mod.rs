//! Channels and locks for the tasks of one thread (the thread-per-core
//! model): `Rc`, `Cell` and `RefCell` instead of atomics and locks, and
//! waiting tasks kept as a small list of wakers.
//!
//! [`mpsc`] (bounded and unbounded), [`oneshot`], [`Notify`] and
//! [`Mutex`] have the semantics of their `Send` counterparts in
//! [`runtime::sync`](crate) (the mpsc API is tokio's: `recv` returns
//! `None` once every sender is gone) and cost less where only one thread
//! uses them: BENCHMARKS.md ("Channels and locks") measures each against
//! tokio's and against the `Send` version. Every task of this runtime
//! stays on the thread that spawned it, so these can be moved into
//! `runtime::spawn`ed tasks freely.
//!
//! They cannot leave their thread: the channel ends are `!Send`, and
//! `Notify` and `Mutex` are `!Sync` (so an `Rc` or `&` to them is
//! `!Send`). This does not compile:
//!
//! ```compile_fail,E0277
//! let (tx, _rx) = runtime::sync::local::mpsc::unbounded_channel::<u32>();
//! std::thread::spawn(move || tx.send(1));
//! ```
//!
//! nor this:
//!
//! ```compile_fail,E0277
//! use std::sync::Arc;
//! let m = Arc::new(runtime::sync::local::Mutex::new(0));
//! std::thread::spawn(move || drop(m));
//! ```
//!
//! ```
//! use runtime::sync::local::{mpsc, oneshot, Mutex, Notify};
//! use std::rc::Rc;
//!
//! #[runtime::main]
//! async fn main() {
//!     let (tx, mut rx) = mpsc::unbounded_channel();
//!     let total = Rc::new(Mutex::new(0u32));
//!     let done = Rc::new(Notify::new());
//!     let (reply_tx, reply_rx) = oneshot::channel();
//!     let (t, d) = (total.clone(), done.clone());
//!     runtime::spawn(async move {
//!         while let Some(i) = rx.recv().await {
//!             *t.lock().await += i;
//!         }
//!         d.notify_one();
//!         reply_tx.send("summed").unwrap();
//!     });
//!     for i in 1..=4 {
//!         tx.send(i).unwrap();
//!     }
//!     drop(tx);
//!     done.notified().await;
//!     assert_eq!(*total.lock().await, 10);
//!     assert_eq!(reply_rx.await, Ok("summed"));
//! }
//! ```

pub mod mpsc;
mod mutex;
mod notify;
pub mod oneshot;
mod waiters;

pub use mutex::{Lock, Mutex, MutexGuard};
pub use notify::{Notified, Notify};

#[cfg(test)]
mod tests;
