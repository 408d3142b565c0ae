//! # runtime
//!
//! An async/await runtime that does with futures everything libevent does
//! with callbacks. This crate only re-exports the layers:
//!
//! | module | what |
//! |---|---|
//! | [`reactor`] | poll backends (epoll, poll, select), registrations, the per-thread reactor |
//! | [`time`] | `sleep`, `timeout`, `interval` with microsecond resolution |
//! | [`signal`] | Unix signals as streams, `ctrl_c` |
//! | [`net`] | TCP, UDP and Unix sockets as `futures-io` streams; listeners with an accept loop |
//! | [`dns`] | DNS: wire codec, resolver (resolv.conf, hosts, search, failover, cache), server ports |
//! | [`http`] | HTTP/1.1 server and client (evhttp), `http` crate types |
//! | [`rpc`] | RPC (evrpc): the evtag wire format, messages declared with `message!` |
//! | [`sync`] | channels (`mpsc`, `oneshot`, `broadcast`, `watch`) and locks (`Mutex`, `RwLock`, `Semaphore`, `Notify`, `Barrier`) |
//! | [`tls`] | TLS streams over rustls (bufferevent_openssl): acceptor, connector, PEM files, SNI, ALPN |
//! | [`io`] | [`io::Buffer`] (evbuffer): a chunk chain with zero-copy moves, `readln` in every EOL style, file segments, `writev`/`readv` |
//! | crate root | `block_on`, `spawn`, `JoinHandle`, `Runtime`, `Builder`, `#[runtime::main]` |
//!
//! ```
//! use std::time::Duration;
//!
//! #[runtime::main]
//! async fn main() {
//!     let task = runtime::spawn(async {
//!         runtime::time::sleep(Duration::from_millis(1)).await;
//!         "done"
//!     });
//!     assert_eq!(task.await.unwrap(), "done");
//! }
//! ```

#![warn(missing_docs)]

pub use runtime_executor::MaxDispatch;
pub use runtime_executor::{
    block_on, reinit, spawn, spawn_with_priority, try_spawn, yield_now, AbortHandle, Builder,
    JoinError, JoinHandle, Runtime, YieldNow,
};
pub use runtime_executor::{join, select, try_join, JoinSet};
pub use runtime_executor::{
    spawn_blocking, worker_index, BlockingHandle, Handle, RemoteHandle, WaitForShutdown,
};
pub use runtime_macros::{main, test};

/// `spawn` under the name tokio users look for: every task of this
/// runtime stays on the thread that spawned it, so `spawn` already takes
/// `!Send` futures.
pub use runtime_executor::spawn as spawn_local;

/// Combining futures: `zip`, `try_zip`, `race`; `timeout` and `yield_now`
/// for any future. The macros [`join!`], [`try_join!`] and [`select!`]
/// are at the crate root.
pub mod future {
    pub use runtime_executor::future::*;
    pub use runtime_executor::{yield_now, YieldNow};
    pub use runtime_reactor::time::{timeout, Timeout};
}

/// Channels and locks: `mpsc`, `oneshot`, `broadcast`, `watch`, `Mutex`,
/// `RwLock`, `Semaphore`, `Notify`, `Barrier` — usable across tasks and
/// threads.
pub mod sync {
    pub use runtime_sync::*;
}

/// The event reactor: poll backends, registrations, the per-thread loop.
pub mod reactor {
    pub use runtime_reactor::{
        coop, slab, supported_methods, Direction, EnterGuard, Event, Features, Interest, Method,
        Notifier, Poller, PollerConfig, Reactor, ReactorConfig, Readiness, ReadyEvent,
        Registration, WaitKey, WaitList, Waiter,
    };
}

/// Timers: microsecond-precise, never early.
pub mod time {
    pub use runtime_reactor::time::*;
}

/// Unix signals as streams.
pub mod signal {
    pub use runtime_reactor::signal::*;
}

/// Sockets: TCP, UDP and Unix, non-blocking and registered with the thread's reactor.
pub mod net {
    pub use runtime_net::*;
}

/// TLS streams (bufferevent_openssl's job) over rustls: `TlsAcceptor`,
/// `TlsConnector`, `TlsStream`, PEM loading.
pub mod tls {
    pub use runtime_tls::*;
}

/// Buffers: [`io::Buffer`] (libevent's evbuffer), a chain of chunks.
pub mod io {
    pub use runtime_io::*;
}

/// HTTP/1.1 server and client (evhttp): handlers as tasks, keep-alive,
/// pipelining, streamed bodies, limits and smuggling defences.
pub mod http {
    pub use runtime_http::*;
}

/// RPC (libevent's evrpc): the evtag wire format and message definitions.
pub mod rpc {
    pub use runtime_rpc::*;
}

/// libevent's callback API: `EventBase`, `Event` (`EV_READ | EV_PERSIST`),
/// timers, signals, `event_base_once`, `ConnListener` — each event a task.
pub mod compat {
    pub use runtime_compat::*;
}

/// Asynchronous DNS (libevent's evdns): the wire codec, the resolver and
/// server ports.
pub mod dns {
    pub use runtime_dns::*;
}

#[doc = include_str!("macros_doc.md")]
pub mod macros_doc {}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
