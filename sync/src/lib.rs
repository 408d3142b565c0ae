//! Channels and locks for async code, usable from any task on any thread.
//!
//! Where the Rust ecosystem has a well-kept runtime-agnostic crate, this
//! crate re-exports it (as smol does): [`mpsc`] is `async-channel`,
//! [`broadcast`] is `async-broadcast`, and [`Mutex`], [`RwLock`],
//! [`Semaphore`] and [`Barrier`] come from `async-lock`. [`oneshot`],
//! [`watch`] and [`Notify`] are written here, with tokio's semantics.
//!
//! Every type works across threads (`Send + Sync` where the data is) and
//! needs no particular executor: a task of one thread's runtime can wake a
//! task of another.
//!
//! [`local`] holds `!Send` single-thread versions (mpsc, oneshot, `Notify`,
//! `Mutex`) without atomics, for tasks that share data on one thread (the
//! thread-per-core model).
//!
//! ```
//! use runtime::sync::{mpsc, Mutex};
//! use std::sync::Arc;
//!
//! #[runtime::main]
//! async fn main() {
//!     let (tx, rx) = mpsc::channel(16);
//!     let total = Arc::new(Mutex::new(0u32));
//!     for i in 0..4u32 {
//!         let tx = tx.clone();
//!         runtime::spawn(async move { tx.send(i).await.unwrap() });
//!     }
//!     drop(tx);
//!     while let Ok(i) = rx.recv().await {
//!         *total.lock().await += i;
//!     }
//!     assert_eq!(*total.lock().await, 6);
//! }
//! ```

#![warn(missing_docs)]

pub mod broadcast;
pub mod local;
pub mod mpsc;
mod notify;
pub mod oneshot;
pub mod watch;

pub use async_lock::{
    Barrier, BarrierWaitResult, Mutex, MutexGuard, MutexGuardArc, RwLock, RwLockReadGuard,
    RwLockUpgradableReadGuard, RwLockWriteGuard, Semaphore, SemaphoreGuard, SemaphoreGuardArc,
};
pub use notify::{Notified, Notify};
