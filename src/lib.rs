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
//! | [`sync`] | channels (`mpsc`, `oneshot`, `broadcast`, `watch`) and locks (`Mutex`, `RwLock`, `Semaphore`, `Notify`, `Barrier`); [`sync::local`]: `!Send` single-thread `mpsc`, `oneshot`, `Notify`, `Mutex` without atomics |
//! | [`tls`] | TLS streams over rustls (bufferevent_openssl): acceptor, connector, PEM files, SNI, ALPN |
//! | [`io`] | [`io::Buffer`] (evbuffer): a chunk chain with zero-copy moves, `readln` in every EOL style, file segments, `writev`/`readv`; [`io::BufferedStream`] (bufferevent), [`io::BufferedReader`] / [`io::BufferedWriter`] for split halves; async [`io::stdin`], [`io::stdout`], [`io::stderr`] |
//! | [`future`] | `zip`, `try_zip`, `race`, `timeout`, `yield_now`; the macros [`select!`], [`join!`], [`try_join!`] are at the root |
//! | [`compat`] | libevent's callback API: `EventBase`, `Event` (`EV_READ \| EV_PERSIST`), timers, signals, bufferevents, listeners, evhttp and evrpc shapes |
//! | [`task`] | named tasks ([`task::Builder`]), task [`task::Id`]s, `spawn`, `JoinHandle`, `AbortHandle`, `JoinError`, `JoinSet` |
//! | crate root | `block_on`, `spawn` (alias `spawn_local`), `JoinHandle`, [`JoinSet`], `Runtime`, `Builder`, `#[runtime::main]` |
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
//!
//! # Getting started
//!
//! Every example below is a whole program: paste it into `src/main.rs` of
//! a crate that depends on `runtime`.
//!
//! ## Tasks
//!
//! [`spawn`] runs a future as a task on the current thread (tasks never
//! move between threads, so they need not be `Send`); [`JoinSet`] holds
//! many and returns them as they finish; [`select!`] waits for the first
//! of several futures. [`task::Builder`] names a task: the name shows in
//! the `Debug` output of its handles and in the error of a panic.
//!
//! ```
//! use runtime::JoinSet;
//!
//! #[runtime::main]
//! async fn main() {
//!     let mut set = JoinSet::new();
//!     for i in 0..3u32 {
//!         set.spawn(async move { i * 10 });
//!     }
//!     let mut sum = 0;
//!     while let Some(r) = set.join_next().await {
//!         sum += r.unwrap();
//!     }
//!     assert_eq!(sum, 30);
//! }
//! ```
//!
//! ## Time
//!
//! ```
//! use runtime::time::{interval, sleep, timeout};
//! use std::time::Duration;
//!
//! #[runtime::main]
//! async fn main() -> std::io::Result<()> {
//!     sleep(Duration::from_millis(1)).await;
//!     let slow = sleep(Duration::from_secs(10));
//!     assert!(timeout(Duration::from_millis(5), slow).await.is_err());
//!     let mut tick = interval(Duration::from_millis(2))?;
//!     for _ in 0..3 {
//!         tick.tick().await;
//!     }
//!     Ok(())
//! }
//! ```
//!
//! ## Net and io
//!
//! A line echo server and a client over 127.0.0.1: the server splits each
//! connection and reads lines from the read half.
//!
//! ```
//! use runtime::io::{BufferedReader, BufferedStream, BufferedWriter, Eol};
//! use runtime::net::{TcpListener, TcpStream};
//!
//! #[runtime::main]
//! async fn main() -> std::io::Result<()> {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     runtime::spawn(async move {
//!         let (conn, _) = listener.accept().await?;
//!         let (rd, wr) = conn.into_split();
//!         let mut lines = BufferedReader::from_reader(rd).lines(Eol::Crlf);
//!         let mut out = BufferedWriter::from_writer(wr);
//!         while let Some(line) = lines.next_line().await? {
//!             out.write_all(format!("echo: {line}\n").as_bytes()).await?;
//!             out.flush().await?;
//!         }
//!         Ok::<_, std::io::Error>(())
//!     });
//!     let mut client = BufferedStream::new(TcpStream::connect(addr).await?);
//!     client.write_all(b"hello\n").await?;
//!     client.flush().await?;
//!     let reply = client.read_line(Eol::Lf).await?.unwrap();
//!     assert_eq!(reply, b"echo: hello");
//!     Ok(())
//! }
//! ```
//!
//! Standard input and output: [`io::stdin`]`().lines()` and
//! [`io::stdout`]`().write_all(..)`.
//!
//! ## Signals
//!
//! ```no_run
//! use runtime::signal::{signal, SignalKind};
//!
//! #[runtime::main]
//! async fn main() -> std::io::Result<()> {
//!     let mut hangup = signal(SignalKind::hangup())?;
//!     loop {
//!         runtime::select! {
//!             _ = hangup.recv() => println!("reloading"),
//!             r = runtime::signal::ctrl_c() => return r,
//!         }
//!     }
//! }
//! ```
//!
//! ## Sync
//!
//! ```
//! use runtime::sync::{mpsc, watch};
//!
//! #[runtime::main]
//! async fn main() {
//!     let (tx, rx) = mpsc::channel(8);
//!     let (state_tx, mut state) = watch::channel("idle");
//!     runtime::spawn(async move {
//!         state_tx.send("busy").unwrap();
//!         for i in 0..3 {
//!             tx.send(i).await.unwrap();
//!         }
//!     });
//!     state.changed().await.unwrap();
//!     assert_eq!(*state.borrow(), "busy");
//!     let mut got = Vec::new();
//!     while let Ok(i) = rx.recv().await {
//!         got.push(i);
//!     }
//!     assert_eq!(got, [0, 1, 2]);
//! }
//! ```
//!
//! Tasks that share data on one thread (every task stays on the thread
//! that spawned it) can use [`sync::local`]: the same primitives without
//! atomics, several times cheaper.
//!
//! ```
//! use runtime::sync::local::{mpsc, Mutex};
//! use std::rc::Rc;
//!
//! #[runtime::main]
//! async fn main() {
//!     let (tx, mut rx) = mpsc::channel(8);
//!     let seen = Rc::new(Mutex::new(0));
//!     let s = seen.clone();
//!     let consumer = runtime::spawn(async move {
//!         while let Some(i) = rx.recv().await {
//!             *s.lock().await += i;
//!         }
//!     });
//!     for i in 1..=3 {
//!         tx.send(i).await.unwrap();
//!     }
//!     drop(tx);
//!     consumer.await.unwrap();
//!     assert_eq!(*seen.lock().await, 6);
//! }
//! ```
//!
//! ## Compat: libevent's callbacks
//!
//! ```
//! use runtime::compat::{Event, EventBase};
//! use std::cell::Cell;
//! use std::rc::Rc;
//! use std::time::Duration;
//!
//! fn main() {
//!     let base = EventBase::new().unwrap();
//!     let fired = Rc::new(Cell::new(false));
//!     let f = fired.clone();
//!     let timer = Event::new_timer(&base, move |_, _| f.set(true)).unwrap();
//!     timer.add(Some(Duration::from_millis(1))).unwrap();
//!     base.dispatch().unwrap(); // returns once no event is pending
//!     assert!(fired.get());
//! }
//! ```
//!
//! # Cancel safety
//!
//! A future dropped before it completes (the losing branches of
//! [`select!`], a [`time::timeout`] that fired) must not lose data. The
//! methods documented with a "Cancel safety" section say whether they are
//! safe: among them the channel receivers of [`sync`],
//! [`sync::Notify::notified`], [`JoinSet::join_next`],
//! `TcpListener::accept`, `Signal::recv` and line reading on
//! [`io::BufferedStream`] / [`io::Lines`].

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

/// Tasks: spawning them (named with [`task::Builder`]), awaiting them
/// ([`task::JoinHandle`], [`task::JoinSet`]), cancelling them
/// ([`task::AbortHandle`]) and their [`task::Id`]s.
///
/// ```
/// use runtime::task::{self, Builder};
///
/// #[runtime::main]
/// async fn main() -> std::io::Result<()> {
///     let mut set = task::JoinSet::new();
///     for i in 0..3 {
///         let name = format!("conn-{i}");
///         set.build_task().name(&name).spawn(async move {
///             if i == 1 {
///                 panic!("bad request");
///             }
///         })?;
///     }
///     let other = Builder::new().name("janitor").spawn_local(async {})?;
///     assert_eq!(other.name(), Some("janitor"));
///     while let Some(res) = set.join_next().await {
///         if let Err(e) = res {
///             // "task 2 \"conn-1\" panicked: bad request"
///             eprintln!("{e}");
///             assert_eq!(e.name(), Some("conn-1"));
///         }
///     }
///     Ok(())
/// }
/// ```
pub mod task {
    pub use runtime_executor::task::{
        current_name, id, try_id, AbortHandle, Builder, Id, JoinError, JoinHandle,
    };
    pub use runtime_executor::{
        spawn, spawn_blocking, spawn_with_priority, try_spawn, yield_now, JoinSet, JoinSetBuilder,
    };

    /// `spawn` under the name tokio users look for: every task of this
    /// runtime stays on the thread that spawned it, so `spawn` already
    /// takes `!Send` futures.
    pub use runtime_executor::spawn as spawn_local;
}

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
/// threads; [`sync::local`](crate::sync::local) holds `!Send`
/// single-thread versions (mpsc, oneshot, `Notify`, `Mutex`) without
/// atomics.
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
