//! Tasks and executors of `runtime`: [`spawn`] for `'static` futures
//! without a `Send` bound, [`JoinHandle`] with [`abort`](JoinHandle::abort),
//! panics turned into [`JoinError`]s, [`block_on`], [`yield_now`], task
//! priorities and a cooperative budget; the per-thread executor
//! ([`Builder::threads`], [`Handle::spawn_on`]: one reactor and executor per
//! worker thread, tasks never move between threads) with graceful shutdown;
//! and the blocking pool ([`spawn_blocking`]).

#![warn(missing_docs)]

mod blocking;
mod context;
mod dispatch;
pub mod future;
mod join_set;
mod oneshot;
mod runtime;
// Public only because the `select!` macro's expansion names it (through
// `__private`) from other crates; not part of the API.
#[doc(hidden)]
pub mod select;
mod shared;
pub mod task;
mod task_builder;
mod workers;
mod yield_now;

pub use blocking::{
    spawn_blocking, BlockingHandle, DEFAULT_BLOCKING_KEEP_ALIVE, DEFAULT_MAX_BLOCKING_THREADS,
};
pub use dispatch::MaxDispatch;
pub use join_set::{JoinSet, JoinSetBuilder};
pub use runtime::{
    block_on, reinit, spawn, spawn_with_priority, try_spawn, Builder, Runtime,
    DEFAULT_EVENT_INTERVAL,
};
pub use task::{AbortHandle, JoinError, JoinHandle};

/// What the macros expand to; not a public API.
// The paths macro expansions use (`$crate::__private::...`); not part of
// the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::select;
}
pub use workers::{worker_index, Handle, RemoteHandle, WaitForShutdown};
pub use yield_now::{yield_now, YieldNow};
