//! evhttp's shape: [`Http`] (`struct evhttp`), [`HttpRequest`]
//! (`struct evhttp_request`), [`Headers`] (`struct evkeyvalq`) and
//! [`BoundSocket`] (`struct evhttp_bound_socket`) — over runtime-http's
//! [`Server`](runtime_http::Server), so a libevent HTTP program ports line
//! for line and gets that server's framing, limits, timeouts and
//! request-smuggling defences.
//!
//! | evhttp | here |
//! |---|---|
//! | `evhttp_new(base)`, `evhttp_free` | [`Http::new`]`(&base)`, [`Http::free`] or drop |
//! | `evhttp_bind_socket(_with_handle)`, `evhttp_accept_socket(_with_handle)` | [`Http::bind_socket`], [`Http::bind_socket_with_handle`], [`Http::accept_socket`] |
//! | `evhttp_del_accept_socket`, `evhttp_bound_socket_get_fd` | [`Http::del_accept_socket`], [`BoundSocket::fd`] |
//! | `evhttp_set_cb`, `evhttp_del_cb`, `evhttp_set_gencb` | [`Http::set_cb`], [`Http::del_cb`], [`Http::set_gencb`] |
//! | `evhttp_add_virtual_host`, `evhttp_add_server_alias` | [`Http::add_virtual_host`], [`Http::add_server_alias`] |
//! | `evhttp_set_allowed_methods`, `_max_headers_size`, `_max_body_size`, `_max_connections` | [`Http::set_allowed_methods`], [`Http::set_max_headers_size`], [`Http::set_max_body_size`], [`Http::set_max_connections`] |
//! | `evhttp_set_timeout(_tv)`, `evhttp_set_default_content_type` | [`Http::set_timeout`], [`Http::set_default_content_type`] |
//! | `evhttp_request_get_command/_uri/_host`, `evhttp_connection_get_peer` | [`HttpRequest::command`], [`HttpRequest::uri`], [`HttpRequest::host`], [`HttpRequest::peer`] |
//! | `evhttp_request_get_input_headers/_output_headers/_input_buffer/_output_buffer` | [`HttpRequest::input_headers`] … |
//! | `evhttp_send_reply`, `evhttp_send_error` | [`HttpRequest::send_reply`], [`HttpRequest::send_error`] |
//! | `evhttp_send_reply_start/_chunk/_end` | [`HttpRequest::send_reply_start`], [`HttpRequest::send_reply_chunk`], [`HttpRequest::send_reply_end`] |
//! | `evhttp_find_header`, `evhttp_add_header` | [`Headers::find`], [`Headers::add`] |
//! | `evhttp_connection_base_new`, `evhttp_request_new`, `evhttp_make_request` | [`HttpConnection::new`], [`HttpClientRequest::new`], [`HttpConnection::make_request`] |
//!
//! Each connection is a task of the base's executor running the server's
//! connection loop (keep-alive, pipelining, `Expect: 100-continue`, HEAD);
//! each request a task that reads the whole body (as evhttp does before
//! calling back) and then calls the callback on the loop's thread, under
//! the base's callback policy (priorities, dispatch limits, `loopbreak`).
//! Where this differs from evhttp, it is on the safe side: default limits
//! and timeouts are on (see [`Limits`](runtime_http::Limits),
//! [`Timeouts`](runtime_http::Timeouts)); a method not allowed is answered
//! `405` with `Allow` (evhttp: `501`); a request dropped unanswered gets
//! `500` (evhttp leaves the client waiting).

mod bound;
mod client;
mod headers;
mod reply;
mod request;
mod routes;
mod serve;

pub use bound::BoundSocket;
pub use client::{HttpClientRequest, HttpConnection};
pub use headers::Headers;
pub use request::HttpRequest;

use crate::base::{base_state, BaseHandle, BaseInner};
use crate::event::gone;
use crate::log::log_warn;
use crate::owned::Owned;
use crate::state::Status;
use bound::BoundInner;
use reply::ReplySlot;
use routes::{RequestCallback, Routes};
use runtime_executor::AbortHandle;
use runtime_http::http::{HeaderValue, Method};
use runtime_http::{Limits, Server, Timeouts};
use runtime_net::{ListenOptions, TcpListener, TcpStream};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::{Rc, Weak};
use std::time::Duration;

/// The bits of the `Status` of this file's type.
mod http_state {
    /// Freed (`evhttp_free`, a drop, or its base dropped).
    pub(super) const FREED: u16 = 1 << 0;
}

/// What the server is built from; changing it rebuilds the server that new
/// connections get.
struct Settings {
    limits: Limits,
    timeouts: Timeouts,
    /// Connections served at once (`evhttp_set_max_connections`), 0 for no
    /// limit beyond the server's own.
    max_connections: usize,
    default_content_type: Option<HeaderValue>,
}

pub(crate) struct HttpInner {
    status: Status,
    me: Weak<HttpInner>,
    pub(crate) base: Weak<BaseInner>,
    /// Priority of its tasks and callbacks: the base's default when made.
    pub(crate) priority: usize,
    pub(crate) routes: RefCell<Routes>,
    settings: RefCell<Settings>,
    /// The server new connections are served by, rebuilt after a setting
    /// changed.
    server: RefCell<Option<Server>>,
    sockets: RefCell<Vec<Rc<BoundInner>>>,
    conns: RefCell<HashMap<u64, AbortHandle>>,
    next_conn: Cell<u64>,
    /// Requests not answered yet, abandoned when it is freed.
    pending: RefCell<Vec<Weak<ReplySlot>>>,
}

impl Owned for HttpInner {
    fn release(self: Rc<Self>) {
        self.free();
    }
}

/// Removes a connection from its `Http` when its task ends or is dropped.
struct ConnGuard {
    http: Weak<HttpInner>,
    id: u64,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        let Some(h) = self.http.upgrade() else {
            return;
        };
        let removed = match h.conns.try_borrow_mut() {
            Ok(mut c) => c.remove(&self.id),
            Err(_) => None,
        };
        drop(removed);
        if h.settings.borrow().max_connections > 0 {
            let sockets: Vec<_> = h.sockets.borrow().clone();
            for s in sockets {
                s.wake();
            }
        }
    }
}

impl HttpInner {
    pub(crate) fn is_freed(&self) -> bool {
        self.status.has(http_state::FREED)
    }

    pub(crate) fn base(&self) -> io::Result<Rc<BaseInner>> {
        if self.is_freed() {
            return Err(freed());
        }
        let b = self.base.upgrade().ok_or_else(gone)?;
        if b.status.has(base_state::CLOSING) {
            return Err(gone());
        }
        Ok(b)
    }

    /// Whether requests must be matched by host name (virtual hosts or
    /// aliases exist).
    pub(crate) fn has_hosts(&self) -> bool {
        let r = self.routes.borrow();
        !r.vhosts.is_empty() || !r.aliases.is_empty()
    }

    pub(crate) fn default_content_type(&self) -> Option<HeaderValue> {
        self.settings.borrow().default_content_type.clone()
    }

    /// Remembers an unanswered request, to abandon it at free.
    pub(crate) fn track(&self, slot: &Rc<ReplySlot>) {
        let mut p = self.pending.borrow_mut();
        if p.len() >= 64 && p.len().is_power_of_two() {
            p.retain(|w| w.upgrade().is_some_and(|s| s.is_waiting()));
        }
        p.push(Rc::downgrade(slot));
    }

    pub(crate) fn at_capacity(&self) -> bool {
        let max = self.settings.borrow().max_connections;
        max > 0 && self.conns.borrow().len() >= max
    }

    fn server(&self) -> Server {
        if let Some(s) = self.server.borrow().as_ref() {
            return s.clone();
        }
        let s = {
            let st = self.settings.borrow();
            Server::new()
                .limits(st.limits.clone())
                .timeouts(st.timeouts.clone())
                .fallback(serve::Dispatch {
                    http: self.me.clone(),
                })
        };
        *self.server.borrow_mut() = Some(s.clone());
        s
    }

    fn change(&self, f: impl FnOnce(&mut Settings)) -> io::Result<()> {
        if self.is_freed() {
            return Err(freed());
        }
        f(&mut self.settings.borrow_mut());
        self.server.borrow_mut().take();
        Ok(())
    }

    /// Serves an accepted connection in a task of its own.
    pub(crate) fn serve(&self, stream: TcpStream, peer: SocketAddr) {
        let Ok(base) = self.base() else {
            return;
        };
        let _ = stream.set_nodelay(true);
        let id = self.next_conn.get();
        self.next_conn.set(id + 1);
        let guard = ConnGuard {
            http: self.me.clone(),
            id,
        };
        let server = self.server();
        let task = base.spawn_task(self.priority, async move {
            let _guard = guard;
            server.serve_connection_from(stream, peer).await;
        });
        match task {
            Ok(t) => {
                self.conns.borrow_mut().insert(id, t.abort_handle());
            }
            Err(e) => log_warn!("evhttp: cannot serve a connection from {peer}: {e}"),
        }
    }

    fn add_socket(&self, listener: TcpListener) -> io::Result<BoundSocket> {
        let me = self.me.upgrade().ok_or_else(freed)?;
        if self.routes.borrow().pattern.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a virtual host cannot have sockets of its own",
            ));
        }
        let inner = BoundInner::new(&me, listener)?;
        self.sockets.borrow_mut().push(inner.clone());
        Ok(BoundSocket { inner })
    }

    /// `evhttp_free`: sockets closed, connections ended, requests not
    /// answered yet abandoned, callbacks dropped.
    fn free(&self) {
        if self.status.replace(http_state::FREED, true) {
            return;
        }
        let sockets = std::mem::take(&mut *self.sockets.borrow_mut());
        for s in &sockets {
            s.close();
        }
        let conns = std::mem::take(&mut *self.conns.borrow_mut());
        for a in conns.values() {
            a.abort();
        }
        let pending = std::mem::take(&mut *self.pending.borrow_mut());
        for p in pending.iter().filter_map(Weak::upgrade) {
            p.abandon();
        }
        let server = self.server.borrow_mut().take();
        let routes = std::mem::take(&mut *self.routes.borrow_mut());
        // User destructors (in callbacks) run here, with no borrow held.
        drop((sockets, conns, server, routes));
    }
}

fn freed() -> io::Error {
    io::Error::other("the Http has been freed")
}

/// An HTTP server on an [`EventBase`](crate::EventBase): libevent's
/// `struct evhttp`. Its callbacks run on the loop's thread when the base
/// dispatches; its sockets count as pending events, so `dispatch` keeps
/// running while it has one.
///
/// It owns its sockets, connections and callbacks: dropping it (or
/// [`free`](Http::free)) closes the listening sockets, ends its
/// connections (at the loop's next turn) and drops its callbacks; so does
/// dropping the base, after which every call fails.
///
/// ```
/// use runtime::compat::{EventBase, Http, EVLOOP_NONBLOCK};
/// use std::io::{Read, Write};
///
/// let base = EventBase::new().unwrap();
/// let http = Http::new(&base).unwrap();
/// http.set_cb("/hello", |req| {
///     let mut buf = runtime::io::Buffer::new();
///     buf.add(b"Hello, world!\n").unwrap();
///     req.send_reply(200, "OK", Some(&mut buf)).unwrap();
/// })
/// .unwrap();
/// let bound = http.bind_socket_with_handle("127.0.0.1", 0).unwrap();
/// let addr = bound.local_addr().unwrap();
/// let client = std::thread::spawn(move || {
///     let mut s = std::net::TcpStream::connect(addr).unwrap();
///     s.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
///     let mut text = String::new();
///     s.read_to_string(&mut text).unwrap();
///     text
/// });
/// while !client.is_finished() {
///     base.run_loop(EVLOOP_NONBLOCK).unwrap();
///     std::thread::sleep(std::time::Duration::from_millis(1));
/// }
/// let text = client.join().unwrap();
/// assert!(text.starts_with("HTTP/1.1 200 OK\r\n"));
/// assert!(text.ends_with("Hello, world!\n"));
/// ```
pub struct Http {
    inner: Rc<HttpInner>,
}

impl fmt::Debug for Http {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.inner.routes.borrow();
        f.debug_struct("Http")
            .field(
                "callbacks",
                &r.callbacks.iter().map(|c| &c.0).collect::<Vec<_>>(),
            )
            .field("gencb", &r.gencb.is_some())
            .field("sockets", &self.inner.sockets.borrow().len())
            .field("connections", &self.inner.conns.borrow().len())
            .field("freed", &self.inner.is_freed())
            .finish()
    }
}

impl Drop for Http {
    fn drop(&mut self) {
        self.inner.free();
    }
}

/// The address `evhttp_bind_socket` takes: an IP literal, or `localhost`.
fn bind_address(address: &str, port: u16) -> io::Result<SocketAddr> {
    let ip: IpAddr = match address {
        "localhost" => Ipv4Addr::LOCALHOST.into(),
        a => a
            .trim_matches(|c| c == '[' || c == ']')
            .parse()
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("not an IP address: {address:?}"),
                )
            })?,
    };
    Ok(SocketAddr::new(ip, port))
}

impl Http {
    /// A server with no socket and no callback (`evhttp_new`): every
    /// request would get `404`. Default limits and timeouts are runtime-http's.
    pub fn new(base: &BaseHandle) -> io::Result<Http> {
        let b = base.inner()?;
        let inner = Rc::new_cyclic(|me| HttpInner {
            status: Status::new(0),
            me: me.clone(),
            base: Rc::downgrade(&b),
            priority: b.default_priority.get(),
            routes: RefCell::new(Routes::default()),
            settings: RefCell::new(Settings {
                limits: Limits::default(),
                timeouts: Timeouts::default(),
                max_connections: 0,
                default_content_type: Some(HeaderValue::from_static(
                    "text/html; charset=ISO-8859-1",
                )),
            }),
            server: RefCell::new(None),
            sockets: RefCell::new(Vec::new()),
            conns: RefCell::new(HashMap::new()),
            next_conn: Cell::new(0),
            pending: RefCell::new(Vec::new()),
        });
        let weak: Weak<dyn Owned> = Rc::downgrade(&inner) as Weak<dyn Owned>;
        b.state.borrow_mut().owned.register(weak);
        Ok(Http { inner })
    }

    /// Binds `address:port` and accepts on it (`evhttp_bind_socket`):
    /// `SO_REUSEADDR`, backlog 128, close-on-exec, as evhttp. `address` is
    /// an IP literal or `localhost`; port 0 picks a free port (see
    /// [`bind_socket_with_handle`](Http::bind_socket_with_handle) to learn
    /// it).
    pub fn bind_socket(&self, address: &str, port: u16) -> io::Result<()> {
        self.bind_socket_with_handle(address, port).map(drop)
    }

    /// [`bind_socket`](Http::bind_socket), returning the socket's handle
    /// (`evhttp_bind_socket_with_handle`).
    pub fn bind_socket_with_handle(&self, address: &str, port: u16) -> io::Result<BoundSocket> {
        let b = self.inner.base()?;
        let addr = bind_address(address, port)?;
        let opts = ListenOptions::new().backlog(128).reuse_address(true);
        let listener = {
            let rt = b.rt.borrow();
            let _enter = rt.reactor().enter();
            TcpListener::bind_now(addr, &opts)
        }
        .inspect_err(|e| log_warn!("evhttp_bind_socket: {addr}: {e}"))?;
        self.inner.add_socket(listener)
    }

    /// Accepts on a socket that is already listening
    /// (`evhttp_accept_socket_with_handle`); it is closed when deleted or
    /// when the server is freed.
    pub fn accept_socket(&self, listener: std::net::TcpListener) -> io::Result<BoundSocket> {
        let b = self.inner.base()?;
        let listener = {
            let rt = b.rt.borrow();
            let _enter = rt.reactor().enter();
            TcpListener::from_std(listener)
        }?;
        self.inner.add_socket(listener)
    }

    /// Stops accepting on `bound` and closes it
    /// (`evhttp_del_accept_socket`); connections already accepted go on.
    /// Errors when `bound` is not one of this server's sockets.
    pub fn del_accept_socket(&self, bound: &BoundSocket) -> io::Result<()> {
        let removed = {
            let mut s = self.inner.sockets.borrow_mut();
            let at = s.iter().position(|x| Rc::ptr_eq(x, &bound.inner));
            at.map(|i| s.remove(i))
        };
        match removed {
            Some(b) => {
                b.close();
                Ok(())
            }
            None => Err(io::Error::new(
                io::ErrorKind::NotFound,
                "not a socket of this Http",
            )),
        }
    }

    /// The sockets it accepts on (`evhttp_foreach_bound_socket`).
    pub fn bound_sockets(&self) -> Vec<BoundSocket> {
        self.inner
            .sockets
            .borrow()
            .iter()
            .map(|i| BoundSocket { inner: i.clone() })
            .collect()
    }

    /// Calls `callback` for requests whose decoded path is exactly `path`
    /// (`evhttp_set_cb`; the query does not take part). Errors with
    /// `AlreadyExists` when `path` has a callback already (evhttp's `-1`).
    pub fn set_cb(
        &self,
        path: &str,
        callback: impl FnMut(&HttpRequest) + 'static,
    ) -> io::Result<()> {
        self.inner.base()?;
        let mut r = self.inner.routes.borrow_mut();
        if r.callbacks.iter().any(|(p, _)| p == path) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{path} has a callback already"),
            ));
        }
        let cb: RequestCallback = Rc::new(RefCell::new(callback));
        r.callbacks.push((path.to_owned(), cb));
        Ok(())
    }

    /// Removes the callback for `path` (`evhttp_del_cb`); `NotFound` when
    /// there is none.
    pub fn del_cb(&self, path: &str) -> io::Result<()> {
        let removed = {
            let mut r = self.inner.routes.borrow_mut();
            let at = r.callbacks.iter().position(|(p, _)| p == path);
            at.map(|i| r.callbacks.remove(i))
        };
        match removed {
            Some(cb) => {
                drop(cb);
                Ok(())
            }
            None => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no callback for {path}"),
            )),
        }
    }

    /// Calls `callback` for the requests no [`set_cb`](Http::set_cb)
    /// path matches (`evhttp_set_gencb`), replacing the previous one.
    pub fn set_gencb(&self, callback: impl FnMut(&HttpRequest) + 'static) -> io::Result<()> {
        self.inner.base()?;
        let cb: RequestCallback = Rc::new(RefCell::new(callback));
        let old = self.inner.routes.borrow_mut().gencb.replace(cb);
        drop(old);
        Ok(())
    }

    /// Removes the generic callback (`evhttp_set_gencb(http, NULL, NULL)`):
    /// unmatched requests get `404` again.
    pub fn unset_gencb(&self) {
        let old = self.inner.routes.borrow_mut().gencb.take();
        drop(old);
    }

    /// Serves the requests for hosts matching `pattern` (`*` matches any
    /// run of characters, case-insensitive) with `vhost`'s callbacks
    /// (`evhttp_add_virtual_host`); the limits and sockets stay this
    /// server's. `vhost` stays owned by the caller: once freed it is
    /// skipped. Errors, as evhttp: `vhost` is a virtual host already, has
    /// sockets, or is this server.
    pub fn add_virtual_host(&self, pattern: &str, vhost: &Http) -> io::Result<()> {
        self.inner.base()?;
        if Rc::ptr_eq(&self.inner, &vhost.inner) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a server cannot be its own virtual host",
            ));
        }
        if vhost.inner.routes.borrow().pattern.is_some() || !vhost.inner.sockets.borrow().is_empty()
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "already a virtual host, or has sockets of its own",
            ));
        }
        vhost.inner.routes.borrow_mut().pattern = Some(pattern.to_ascii_lowercase());
        self.inner
            .routes
            .borrow_mut()
            .vhosts
            .push(Rc::downgrade(&vhost.inner));
        Ok(())
    }

    /// Stops serving `vhost` as a virtual host
    /// (`evhttp_remove_virtual_host`); `NotFound` when it is not one of
    /// this server's.
    pub fn remove_virtual_host(&self, vhost: &Http) -> io::Result<()> {
        let target = Rc::downgrade(&vhost.inner);
        let found = {
            let mut r = self.inner.routes.borrow_mut();
            let at = r.vhosts.iter().position(|w| w.ptr_eq(&target));
            at.map(|i| r.vhosts.remove(i)).is_some()
        };
        if !found {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "not a virtual host of this server",
            ));
        }
        vhost.inner.routes.borrow_mut().pattern = None;
        Ok(())
    }

    /// Another host name this server answers to, exactly
    /// (case-insensitive) (`evhttp_add_server_alias`): a virtual host with
    /// an alias gets the requests for that name.
    pub fn add_server_alias(&self, alias: &str) -> io::Result<()> {
        self.inner.base()?;
        self.inner
            .routes
            .borrow_mut()
            .aliases
            .push(alias.to_ascii_lowercase());
        Ok(())
    }

    /// Removes an alias (`evhttp_remove_server_alias`); `NotFound` when
    /// there is no such alias.
    pub fn remove_server_alias(&self, alias: &str) -> io::Result<()> {
        let alias = alias.to_ascii_lowercase();
        let mut r = self.inner.routes.borrow_mut();
        match r.aliases.iter().position(|a| *a == alias) {
            Some(i) => {
                r.aliases.remove(i);
                Ok(())
            }
            None => Err(io::Error::new(io::ErrorKind::NotFound, "no such alias")),
        }
    }

    /// The methods served (`evhttp_set_allowed_methods`); others are
    /// answered `405 Method Not Allowed` with an `Allow` header and the
    /// connection closed. Default: GET, HEAD, POST, PUT, DELETE, OPTIONS,
    /// PATCH. Applies to connections accepted from then on.
    pub fn set_allowed_methods(&self, methods: &[Method]) -> io::Result<()> {
        self.inner
            .change(|s| s.limits.allowed_methods = methods.to_vec())
    }

    /// Largest request line and header fields, in bytes
    /// (`evhttp_set_max_headers_size`); beyond it, `431` and close.
    /// Default 16 KiB.
    pub fn set_max_headers_size(&self, size: usize) -> io::Result<()> {
        self.inner.change(|s| s.limits.max_head_size = size)
    }

    /// Largest request body (`evhttp_set_max_body_size`); beyond it, `413`
    /// and close (a `Content-Length` too large is refused before the body
    /// is read, a chunked body as soon as it grows past it). Default 64 MiB.
    pub fn set_max_body_size(&self, size: u64) -> io::Result<()> {
        self.inner.change(|s| s.limits.max_body_size = size)
    }

    /// Most connections served at once (`evhttp_set_max_connections`), 0
    /// for no limit but the server's own (10,000); beyond it, new
    /// connections wait in the listen backlog until one ends.
    pub fn set_max_connections(&self, max: usize) -> io::Result<()> {
        self.inner.change(|s| s.max_connections = max)
    }

    /// Connections being served (`evhttp_get_connection_count`).
    pub fn connection_count(&self) -> usize {
        self.inner.conns.borrow().len()
    }

    /// The read and write timeouts (`evhttp_set_timeout_tv`): how long a
    /// request head or body may take to arrive, a kept-alive connection
    /// may stay idle, and a reply may wait for the client to read. Applies
    /// to connections accepted from then on.
    pub fn set_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.inner.change(|s| {
            s.timeouts.header_read = Some(timeout);
            s.timeouts.body_read = Some(timeout);
            s.timeouts.keep_alive = Some(timeout);
            s.timeouts.write = Some(timeout);
        })
    }

    /// The read timeout alone (`evhttp_set_read_timeout_tv`).
    pub fn set_read_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.inner.change(|s| {
            s.timeouts.header_read = Some(timeout);
            s.timeouts.body_read = Some(timeout);
            s.timeouts.keep_alive = Some(timeout);
        })
    }

    /// The write timeout alone (`evhttp_set_write_timeout_tv`).
    pub fn set_write_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.inner.change(|s| s.timeouts.write = Some(timeout))
    }

    /// The whole of runtime-http's limits, for what has no evhttp setter
    /// (header count, URI length, strict line ends).
    pub fn set_limits(&self, limits: Limits) -> io::Result<()> {
        self.inner.change(|s| s.limits = limits)
    }

    /// The `Content-Type` given to replies with a body that have none
    /// (`evhttp_set_default_content_type`); `None` for none. Default
    /// `text/html; charset=ISO-8859-1`, as evhttp. `InvalidInput` for a
    /// value with control characters.
    pub fn set_default_content_type(&self, content_type: Option<&str>) -> io::Result<()> {
        let value = match content_type {
            Some(ct) => Some(HeaderValue::from_str(ct).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("invalid content type {ct:?}"),
                )
            })?),
            None => None,
        };
        self.inner.change(|s| s.default_content_type = value)
    }

    /// A handle to the base (`evhttp` has none; for symmetry with the
    /// other objects).
    pub fn base(&self) -> BaseHandle {
        BaseHandle {
            inner: self.inner.base.clone(),
        }
    }

    /// Frees the server now (`evhttp_free`): as dropping it.
    pub fn free(self) {
        drop(self);
    }

    /// Whether it was freed (by its base being dropped).
    pub fn is_freed(&self) -> bool {
        self.inner.is_freed()
    }
}
