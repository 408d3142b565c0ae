//! libevent's callback API on top of `runtime`: [`EventBase`] (the loop),
//! [`Event`] (`event_new`, `evtimer_new`, `evsignal_new`, user events,
//! `event_base_once`), [`ConnListener`] (`evconnlistener`), [`Http`]
//! (`evhttp`, server and client), the flags
//! (`EV_READ | EV_PERSIST`, `EVLOOP_ONCE`, `LEV_OPT_*`) and the log
//! callback — for code written the libevent way.
//!
//! Underneath, an `EventBase` owns a [`Runtime`](runtime_executor::Runtime)
//! and drives it one iteration at a time
//! ([`Runtime::run_once`](runtime_executor::Runtime::run_once)); each event
//! is a task of that runtime which waits for its descriptor's readiness
//! (one shared reactor registration per descriptor), its timeout, its
//! signal or a manual activation, then calls the callback on the loop's
//! thread, with libevent's semantics:
//!
//! | libevent | here |
//! |---|---|
//! | `event_base_new`, `event_config_*` | [`EventBase::new`], [`EventConfig`] |
//! | `event_base_dispatch`, `event_base_loop(flags)` | [`EventBase::dispatch`], [`EventBase::run_loop`] |
//! | `event_base_loopexit/loopbreak/loopcontinue` | [`BaseHandle::loopexit`] … |
//! | `event_new(base, fd, what, cb, arg)` | [`Event::new`]`(&base, fd, what, closure)` |
//! | `event_self_cbarg()` | [`Event::new_with_self`] |
//! | `event_add(ev, tv)`, `event_del`, `event_free` | [`Event::add`], [`Event::del`], [`Event::free`] |
//! | `event_active`, `event_pending`, `event_priority_set` | [`Event::active`], [`Event::pending`], [`Event::set_priority`] |
//! | `evtimer_new`, `evsignal_new`, `evuser_new` | [`Event::new_timer`], [`Event::new_signal`], [`Event::new_user`] |
//! | `event_base_once` | [`BaseHandle::once`] |
//! | `evconnlistener_new_bind` | [`ConnListener::bind`] |
//! | `event_set_log_callback` | [`set_log_callback`] |
//! | `bufferevent_socket_new`, `_socket_connect`, `_pair_new` | [`BufferEvent`] |
//! | `evhttp_new`, `evhttp_set_cb`, `evhttp_send_reply`, `evhttp_make_request` | [`Http`], [`HttpRequest`], [`HttpConnection`] (over runtime-http's server and client) |
//! | `EVRPC_REGISTER`, `EVRPC_REQUEST_DONE`, `evrpc_pool`, `EVRPC_MAKE_REQUEST` | [`rpc::RpcHttpExt::rpc_register`], [`rpc::RpcRequest::done`], [`rpc::RpcPool::make_request`] (over runtime-rpc) |
//!
//! Each event, bufferevent and listener is a task of the base's executor,
//! at its priority ([`Event::set_priority`], [`BufferEvent::set_priority`];
//! listeners get the base's default priority), and the executor's one
//! scheduling policy decides when each runs, for callbacks and futures
//! alike: one priority level per loop iteration (the ready tasks of the
//! most urgent priority that has any; less urgent ones wait) and the
//! [`max_dispatch_interval`](EventConfig::max_dispatch_interval) limits,
//! which [`EventConfig`] hands to the executor. What is held back runs at
//! the next iteration, in order. The base adds `loopbreak` and
//! `loopcontinue`, which end an iteration after the running callback.
//!
//! Errors are `io::Result`s where libevent returns -1; nothing here panics
//! on bad input. A panic inside a callback stops the loop and resumes in
//! `dispatch`.
//!
//! Descriptor events are level-triggered, as libevent's are by default:
//! their descriptors get a level registration in the reactor
//! ([`Registration::level`](runtime_reactor::Registration::level)),
//! watching exactly what the inserted events want (one `epoll_ctl` when
//! that changes, as libevent's changelist), so a descriptor still ready
//! after its callback is reported again by the next wait and fires at the
//! next iteration, with no extra system call. `EV_ET` events use the
//! edge-triggered registration the futures API uses and fire once per edge
//! (one zero-timeout `poll(2)` when such an event is added tells whether it
//! is ready already).
//!
//! ```
//! use runtime::compat::{Event, EventBase, EV_PERSIST, EV_READ, EV_TIMEOUT};
//! use std::io::Write;
//! use std::os::fd::AsRawFd;
//! use std::time::Duration;
//!
//! let base = EventBase::new().unwrap();
//! let (mut tx, rx) = std::os::unix::net::UnixStream::pair().unwrap();
//! rx.set_nonblocking(true).unwrap();
//!
//! // A read event with a timeout: the callback learns which came first.
//! let b = base.handle();
//! let ev = Event::new(&base, rx.as_raw_fd(), EV_READ | EV_PERSIST, move |fd, what| {
//!     if what.contains(EV_TIMEOUT) {
//!         b.loopbreak().unwrap();
//!         return;
//!     }
//!     let mut buf = [0u8; 64];
//!     let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
//!     println!("read {n} bytes");
//! })
//! .unwrap();
//! ev.add(Some(Duration::from_millis(20))).unwrap();
//! tx.write_all(b"ping").unwrap();
//! base.dispatch().unwrap(); // reads "ping", then times out 20 ms later
//! ```

#![warn(missing_docs)]

mod base;
mod bufferevent;
mod config;
mod dispatch;
mod event;
mod fd;
mod flags;
mod http;
mod listener;
mod log;
mod owned;
pub mod rpc;
mod state;
mod task;

pub use base::{BaseHandle, EventBase};
pub use bufferevent::{
    BufferEvent, BufferGuard, DataCallback, EventCallback, TlsRole, BEV_FINISHED, BEV_FLUSH,
    BEV_NORMAL,
};
pub use config::{CommonTimeout, EventConfig, LoopExit, MAX_COMMON_TIMEOUTS, MAX_PRIORITIES};
pub use event::Event;
pub use flags::{
    BevEvent, BevOptions, CountFlags, EventFlags, ListenerFlags, LoopFlags, BEV_EVENT_CONNECTED,
    BEV_EVENT_EOF, BEV_EVENT_ERROR, BEV_EVENT_READING, BEV_EVENT_TIMEOUT, BEV_EVENT_WRITING,
    BEV_OPT_CLOSE_ON_FREE, BEV_OPT_DEFER_CALLBACKS, BEV_OPT_THREADSAFE, BEV_OPT_UNLOCK_CALLBACKS,
    EVENT_BASE_COUNT_ACTIVE, EVENT_BASE_COUNT_ADDED, EVENT_BASE_COUNT_VIRTUAL, EVLOOP_NONBLOCK,
    EVLOOP_NO_EXIT_ON_EMPTY, EVLOOP_ONCE, EV_CLOSED, EV_ET, EV_PERSIST, EV_READ, EV_SIGNAL,
    EV_TIMEOUT, EV_WRITE, LEV_OPT_BIND_IPV4_AND_IPV6, LEV_OPT_BIND_IPV6ONLY, LEV_OPT_CLOSE_ON_EXEC,
    LEV_OPT_CLOSE_ON_FREE, LEV_OPT_DEFERRED_ACCEPT, LEV_OPT_DISABLED,
    LEV_OPT_LEAVE_SOCKETS_BLOCKING, LEV_OPT_REUSEABLE, LEV_OPT_REUSEABLE_PORT, LEV_OPT_THREADSAFE,
};
pub use http::{BoundSocket, Headers, Http, HttpClientRequest, HttpConnection, HttpRequest};
pub use listener::{AcceptCallback, ConnListener, ErrorCallback};
pub use log::{enable_debug_logging, set_log_callback, LogCallback, Severity};
pub use runtime_reactor::Features;
