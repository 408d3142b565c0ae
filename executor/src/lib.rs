//! Tasks and the single-threaded executor of `runtime`: [`spawn`] for
//! `'static` futures without a `Send` bound, [`JoinHandle`] with
//! [`abort`](JoinHandle::abort), panics turned into [`JoinError`]s,
//! [`block_on`], [`yield_now`], task priorities and a cooperative budget.

#![warn(missing_docs)]

mod context;
mod runtime;
mod shared;
mod task;
mod yield_now;

pub use runtime::{
    block_on, reinit, spawn, spawn_with_priority, try_spawn, Builder, Runtime,
    DEFAULT_EVENT_INTERVAL,
};
pub use task::{AbortHandle, JoinError, JoinHandle};
pub use yield_now::{yield_now, YieldNow};
