//! The bottom layer of `runtime`: poll backends (epoll, poll, select) chosen
//! at start the way libevent chooses, readiness registrations that wake
//! `Waker`s, a microsecond timing wheel, signals, the cached clock and the
//! cross-thread notifier. One [`Reactor`] per thread; executors drive it with
//! [`Reactor::turn`].

#![warn(missing_docs)]

pub mod coop;
mod driver;
mod notify;
mod poller;
mod registration;
pub mod signal;
// Public for the workspace's executor (task registry) and callback layer
// (event tables), which would otherwise each carry a copy of this small
// container; not part of the API: the facade does not re-export it and it
// may change with them.
#[doc(hidden)]
pub mod slab;
pub mod time;
mod token;
mod waiters;

pub use driver::{EnterGuard, Notifier, Reactor, ReactorConfig};
pub use poller::{supported_methods, Event, Features, Interest, Method, Poller, PollerConfig};
pub use registration::{Direction, Readiness, ReadyEvent, Registration, Waiter};
pub use waiters::{WaitKey, WaitList};
