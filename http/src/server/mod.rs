//! The HTTP/1.1 server (evhttp): [`Server`] with its routes, limits and
//! timeouts, serving listeners on the single-threaded runtime, on every
//! worker of the per-thread runtime ([`Server::serve_sharded`]), or any
//! stream ([`Server::serve_connection`]); graceful [`Shutdown`].

mod conn;
mod shutdown;

pub use shutdown::Shutdown;

use crate::body::Body;
use crate::h1::HeadLimits;
use crate::router::{Handler, Router};
use http::Method;
use runtime_executor::{AbortHandle, Handle};
use runtime_io::AsyncRead;
use runtime_io::BufferedStream;
use runtime_net::{
    serve_sharded, ListenOptions, ShardedServer, TcpListener, TcpStream, UnixListener,
};
use runtime_tls::{ServerConfig as TlsServerConfig, TlsAcceptor};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;

/// Size limits, all on by default (the status answered when one is
/// exceeded is in brackets). The connection is closed after each.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Request line plus header fields, in bytes (431). Default 16 KiB.
    pub max_head_size: usize,
    /// Number of header fields (431). Default 64.
    pub max_headers: usize,
    /// Length of the request target (414). Default 8 KiB.
    pub max_uri_len: usize,
    /// Request body size (413): checked against `Content-Length` before the
    /// handler runs, and while a chunked body is read. Default 64 MiB.
    pub max_body_size: u64,
    /// Connections served at once per thread; beyond it, new connections
    /// wait in the listen backlog until one closes. Default 10,000.
    pub max_connections: usize,
    /// The methods accepted (405 with `Allow` for others). Default GET,
    /// HEAD, POST, PUT, DELETE, OPTIONS, PATCH.
    pub allowed_methods: Vec<Method>,
    /// Refuse bare LF line ends in heads (400); see
    /// [`h1`](crate::h1::head) for the choice made otherwise.
    pub strict: bool,
    /// Refuse an HTTP/1.1 request without `Host` (400). Default on; libevent's
    /// evhttp and evrpc clients send no `Host`, so a server for them turns
    /// it off (the `rpc-server` example does).
    pub require_host: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head_size: 16 * 1024,
            max_headers: 64,
            max_uri_len: 8 * 1024,
            max_body_size: 64 * 1024 * 1024,
            max_connections: 10_000,
            allowed_methods: vec![
                Method::GET,
                Method::HEAD,
                Method::POST,
                Method::PUT,
                Method::DELETE,
                Method::OPTIONS,
                Method::PATCH,
            ],
            strict: false,
            require_host: true,
        }
    }
}

impl Limits {
    pub(crate) fn head(&self) -> HeadLimits {
        HeadLimits {
            max_head_size: self.max_head_size,
            max_headers: self.max_headers,
            max_uri_len: self.max_uri_len,
            strict: self.strict,
            require_host: self.require_host,
        }
    }
}

/// Timeouts, all on by default (`None` turns one off).
#[derive(Debug, Clone)]
pub struct Timeouts {
    /// From the first byte of a request to the end of its head (408 and
    /// close): cuts a client trickling a byte at a time. Also how long a
    /// new connection may stay silent. Default 10 s.
    pub header_read: Option<Duration>,
    /// Longest wait for more of a request body (the handler's read fails,
    /// 408, close). Default 30 s.
    pub body_read: Option<Duration>,
    /// How long a kept-alive connection may wait for its next request
    /// (closed silently). Default 60 s.
    pub keep_alive: Option<Duration>,
    /// Longest wait for the client to take response bytes (close).
    /// Default 30 s.
    pub write: Option<Duration>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            header_read: Some(Duration::from_secs(10)),
            body_read: Some(Duration::from_secs(30)),
            keep_alive: Some(Duration::from_secs(60)),
            write: Some(Duration::from_secs(30)),
        }
    }
}

#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) router: Router,
    pub(crate) limits: Limits,
    pub(crate) head_limits: HeadLimits,
    pub(crate) timeouts: Timeouts,
    pub(crate) allow_header: http::HeaderValue,
    pub(crate) shutdown: Option<(Shutdown, Duration)>,
}

/// Per-thread state: the connections being served.
#[derive(Default)]
pub(crate) struct State {
    conns: RefCell<HashMap<u64, ConnEntry>>,
    next_id: Cell<u64>,
    /// Accept loops waiting for a free connection slot.
    slot_waiters: RefCell<Vec<Waker>>,
    /// Waiting for the connections to finish (shutdown).
    drain_waiters: RefCell<Vec<Waker>>,
    pub(crate) closing: Cell<bool>,
}

struct ConnEntry {
    abort: AbortHandle,
    flags: Rc<ConnFlags>,
}

/// What the server knows of a connection's task.
#[derive(Default)]
pub(crate) struct ConnFlags {
    /// Waiting for the next request with nothing buffered.
    pub(crate) idle: Cell<bool>,
}

/// Removes a connection from the state when its task ends (or is
/// aborted).
struct ConnGuard {
    state: Rc<State>,
    id: u64,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.state.conns.borrow_mut().remove(&self.id);
        for w in self.state.slot_waiters.borrow_mut().drain(..) {
            w.wake();
        }
        for w in self.state.drain_waiters.borrow_mut().drain(..) {
            w.wake();
        }
    }
}

/// An HTTP/1.1 server: routes, limits and timeouts, then `serve` on
/// listeners.
///
/// ```
/// use runtime::http::{Body, Server};
/// use http::Response;
/// use runtime::net::TcpListener;
///
/// runtime::block_on(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let addr = listener.local_addr()?;
///     let server = Server::new()
///         .route("/hello", |_req| async { Response::new(Body::from("Hello, world!\n")) });
///     runtime::spawn(async move { server.serve(listener).await });
///     let client = runtime::http::Client::new();
///     let res = client.get(&format!("http://{addr}/hello")).await.unwrap();
///     assert_eq!(res.status(), 200);
///     assert_eq!(res.into_body().collect().await.unwrap(), b"Hello, world!\n");
///     Ok::<(), std::io::Error>(())
/// })
/// .unwrap();
/// ```
#[derive(Clone)]
pub struct Server {
    pub(crate) config: Rc<Config>,
    pub(crate) state: Rc<State>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("router", &self.config.router)
            .field("limits", &self.config.limits)
            .field("timeouts", &self.config.timeouts)
            .finish()
    }
}

impl Default for Server {
    fn default() -> Self {
        Server::new()
    }
}

fn allow_value(methods: &[Method]) -> http::HeaderValue {
    let list: Vec<&str> = methods.iter().map(Method::as_str).collect();
    http::HeaderValue::from_str(&list.join(", ")).unwrap_or(http::HeaderValue::from_static("GET"))
}

impl Server {
    /// A server with no routes (every request gets 404), default limits
    /// and timeouts.
    pub fn new() -> Server {
        let limits = Limits::default();
        Server {
            config: Rc::new(Config {
                router: Router::new(),
                head_limits: limits.head(),
                allow_header: allow_value(&limits.allowed_methods),
                limits,
                timeouts: Timeouts::default(),
                shutdown: None,
            }),
            state: Rc::new(State::default()),
        }
    }

    fn config_mut(&mut self) -> &mut Config {
        Rc::make_mut(&mut self.config)
    }

    /// Answers `path` with `handler` (`evhttp_set_cb`).
    pub fn route(mut self, path: impl Into<String>, handler: impl Handler) -> Server {
        let c = self.config_mut();
        c.router = std::mem::take(&mut c.router).route(path, handler);
        self
    }

    /// Answers what no route matches (`evhttp_set_gencb`).
    pub fn fallback(mut self, handler: impl Handler) -> Server {
        let c = self.config_mut();
        c.router = std::mem::take(&mut c.router).fallback(handler);
        self
    }

    /// Serves hosts matching `pattern` with `router`
    /// (`evhttp_add_virtual_host`); see [`Router::virtual_host`].
    pub fn virtual_host(mut self, pattern: impl Into<String>, router: Router) -> Server {
        let c = self.config_mut();
        c.router = std::mem::take(&mut c.router).virtual_host(pattern, router);
        self
    }

    /// Replaces the whole router.
    pub fn router(mut self, router: Router) -> Server {
        self.config_mut().router = router;
        self
    }

    /// Sets the limits.
    pub fn limits(mut self, limits: Limits) -> Server {
        let c = self.config_mut();
        c.head_limits = limits.head();
        c.allow_header = allow_value(&limits.allowed_methods);
        c.limits = limits;
        self
    }

    /// Sets the timeouts.
    pub fn timeouts(mut self, timeouts: Timeouts) -> Server {
        self.config_mut().timeouts = timeouts;
        self
    }

    /// Stops serving when `shutdown` is triggered: listeners stop
    /// accepting, idle connections close, requests in flight finish (their
    /// connections close after the response) for up to `grace`, then what
    /// remains is cut.
    pub fn with_shutdown(mut self, shutdown: &Shutdown, grace: Duration) -> Server {
        self.config_mut().shutdown = Some((shutdown.clone(), grace));
        self
    }

    /// The limits in force.
    pub fn limits_ref(&self) -> &Limits {
        &self.config.limits
    }

    /// Connections being served on this thread.
    pub fn connections(&self) -> usize {
        self.state.conns.borrow().len()
    }

    /// Serves connections accepted from `listener` until the shutdown
    /// handle (if any) is triggered; each connection is a task, each
    /// request runs its handler in a task of its own.
    pub async fn serve(&self, listener: TcpListener) -> io::Result<()> {
        self.accept_loop(
            |cx| {
                listener.poll_accept(cx).map_ok(|(s, _)| {
                    let _ = s.set_nodelay(true);
                    s
                })
            },
            |s| self.spawn_conn(s),
        )
        .await
    }

    /// Serves a Unix-domain listener, like [`serve`](Server::serve).
    pub async fn serve_unix(&self, listener: UnixListener) -> io::Result<()> {
        self.accept_loop(
            |cx| listener.poll_accept(cx).map_ok(|(s, _)| s),
            |s| self.spawn_conn(s),
        )
        .await
    }

    /// Binds `addr` and serves it.
    pub async fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        let listener = TcpListener::bind(addr).await?;
        self.serve(listener).await
    }

    /// Serves `addr` on every worker of a per-thread runtime: one
    /// `SO_REUSEPORT` listener per worker, the server made on each worker
    /// by `make` (handlers need not be `Send`).
    pub fn serve_sharded<F>(handle: &Handle, addr: SocketAddr, make: F) -> io::Result<ShardedServer>
    where
        F: Fn() -> Server + Clone + Send + 'static,
    {
        serve_sharded(
            handle,
            addr,
            ListenOptions::new(),
            move |listener| async move { make().serve(listener).await },
        )
    }

    /// Serves one connection over any stream (a TLS stream, a pair ...)
    /// until it closes.
    pub async fn serve_connection<S>(&self, stream: S)
    where
        S: AsyncRead + runtime_io::AsyncWrite + Unpin + AsFd + 'static,
    {
        conn::serve(
            plain_stream(stream),
            self.clone(),
            Rc::new(ConnFlags::default()),
            None,
            None,
        )
        .await;
    }

    /// Serves one connection from `peer`, like
    /// [`serve_connection`](Server::serve_connection); each of its
    /// requests carries the peer's address as a [`RemoteAddr`] extension.
    ///
    /// ```
    /// use runtime::http::{Body, RemoteAddr, Server};
    /// use http::{Request, Response};
    /// use runtime::net::{TcpListener, TcpStream};
    ///
    /// runtime::block_on(async {
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     let addr = listener.local_addr()?;
    ///     let server = Server::new().route("/", |req: Request<Body>| async move {
    ///         let peer = req.extensions().get::<RemoteAddr>().unwrap().0;
    ///         Response::new(Body::from(peer.to_string()))
    ///     });
    ///     runtime::spawn(async move {
    ///         let (stream, peer) = listener.accept().await.unwrap();
    ///         server.serve_connection_from(stream, peer).await;
    ///     });
    ///     let client = runtime::http::Client::new();
    ///     let res = client.get(&format!("http://{addr}/")).await.unwrap();
    ///     let text = String::from_utf8(res.into_body().collect().await.unwrap()).unwrap();
    ///     assert!(text.starts_with("127.0.0.1:"));
    ///     Ok::<(), std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn serve_connection_from<S>(&self, stream: S, peer: SocketAddr)
    where
        S: AsyncRead + runtime_io::AsyncWrite + Unpin + AsFd + 'static,
    {
        let flags = Rc::new(ConnFlags::default());
        conn::serve(plain_stream(stream), self.clone(), flags, Some(peer), None).await;
    }

    async fn accept_loop<S, A, C>(&self, mut accept: A, mut on_conn: C) -> io::Result<()>
    where
        A: FnMut(&mut std::task::Context<'_>) -> Poll<io::Result<S>>,
        C: FnMut(S),
    {
        let shutdown = self.config.shutdown.clone();
        loop {
            let next = poll_fn(|cx| {
                if let Some((s, _)) = &shutdown {
                    if s.poll_triggered(cx).is_ready() {
                        return Poll::Ready(None);
                    }
                }
                if self.state.conns.borrow().len() >= self.config.limits.max_connections {
                    self.state
                        .slot_waiters
                        .borrow_mut()
                        .push(cx.waker().clone());
                    return Poll::Pending;
                }
                accept(cx).map(Some)
            })
            .await;
            match next {
                None => break,
                Some(Ok(stream)) => on_conn(stream),
                // The accept loop reports and backs off by itself (EMFILE
                // ...); the server keeps going.
                Some(Err(_)) => {}
            }
        }
        if let Some((_, grace)) = shutdown {
            self.drain(grace).await;
        }
        Ok(())
    }

    fn spawn_conn<S>(&self, stream: S)
    where
        S: AsyncRead + runtime_io::AsyncWrite + Unpin + AsFd + 'static,
    {
        // The connection's future is the task: no block around it whose
        // own state a request would touch too.
        self.spawn_conn_with(move |server, flags, guard| {
            conn::serve(plain_stream(stream), server, flags, None, Some(guard))
        });
    }

    /// Serves HTTPS on connections accepted from `listener`: each
    /// connection's task runs the TLS handshake (bounded by the acceptor's
    /// handshake timeout) and then serves HTTP/1.1 over the encrypted
    /// stream; a failed handshake closes that connection only. The
    /// acceptor's configuration should offer ALPN `http/1.1`
    /// ([`bind_tls`](Server::bind_tls) sees to it).
    pub async fn serve_tls(&self, listener: TcpListener, acceptor: TlsAcceptor) -> io::Result<()> {
        self.accept_loop(
            |cx| {
                listener.poll_accept(cx).map_ok(|(s, _)| {
                    let _ = s.set_nodelay(true);
                    s
                })
            },
            |s| self.spawn_tls_conn(s, acceptor.clone()),
        )
        .await
    }

    /// Binds `addr` and serves HTTPS with `config` (ALPN `http/1.1` is
    /// offered when the configuration names no protocol).
    pub async fn bind_tls(&self, addr: SocketAddr, config: TlsServerConfig) -> io::Result<()> {
        let listener = TcpListener::bind(addr).await?;
        self.serve_tls(listener, TlsAcceptor::new(with_http_alpn(config)))
            .await
    }

    fn spawn_tls_conn(&self, stream: TcpStream, acceptor: TlsAcceptor) {
        self.spawn_conn_with(move |server, flags, guard| async move {
            // A failed handshake (garbage, a bad certificate, the timeout)
            // ends this connection; rustls has sent its alert. (`let else`
            // rather than `if let`: the handshake's result is then not
            // kept in the task while the connection is served.)
            let Ok(tls) = acceptor.accept(stream).await else {
                return;
            };
            // No sendfile: file bodies must go through the encryption.
            conn::serve(BufferedStream::new(tls), server, flags, None, Some(guard)).await;
        });
    }

    /// Spawns the connection task `make` returns; the task must keep the
    /// guard it is given (which removes the connection from the state when
    /// the task ends) for as long as it runs. The guard goes into `make`'s
    /// future rather than into a block that awaits that future: such a
    /// block would keep room for the awaited future twice, and a request
    /// would touch its state too.
    fn spawn_conn_with<F, Fut>(&self, make: F)
    where
        F: FnOnce(Server, Rc<ConnFlags>, ConnGuard) -> Fut,
        Fut: std::future::Future<Output = ()> + 'static,
    {
        let id = self.state.next_id.get();
        self.state.next_id.set(id + 1);
        let flags = Rc::new(ConnFlags::default());
        let guard = ConnGuard {
            state: self.state.clone(),
            id,
        };
        let task = runtime_executor::spawn(make(self.clone(), flags.clone(), guard));
        self.state.conns.borrow_mut().insert(
            id,
            ConnEntry {
                abort: task.abort_handle(),
                flags,
            },
        );
    }

    /// Graceful end: idle connections are closed at once, busy ones after
    /// their response, all cut at the deadline.
    async fn drain(&self, grace: Duration) {
        self.state.closing.set(true);
        let deadline = std::time::Instant::now() + grace;
        let mut sleep = runtime_reactor::time::sleep_until(deadline);
        poll_fn(|cx| {
            // Collected first: an abort may drop the task (and its entry)
            // at once.
            let idle: Vec<AbortHandle> = self
                .state
                .conns
                .borrow()
                .values()
                .filter(|e| e.flags.idle.get())
                .map(|e| e.abort.clone())
                .collect();
            for a in idle {
                a.abort();
            }
            if self.state.conns.borrow().is_empty() {
                return Poll::Ready(());
            }
            if sleep.poll_sleep(cx).is_ready() {
                return Poll::Ready(());
            }
            self.state
                .drain_waiters
                .borrow_mut()
                .push(cx.waker().clone());
            Poll::Pending
        })
        .await;
        let rest: Vec<AbortHandle> = self
            .state
            .conns
            .borrow()
            .values()
            .map(|e| e.abort.clone())
            .collect();
        for a in rest {
            a.abort();
        }
    }
}

/// The address of the client a request came from: a request extension
/// set on the requests of connections served with
/// [`Server::serve_connection_from`] (evhttp's
/// `evhttp_connection_get_peer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteAddr(pub SocketAddr);

/// A reason phrase for a response's status line in place of the status
/// code's standard one (evhttp's `reason` argument of `evhttp_send_reply`):
/// put it in the response's extensions.
///
/// ```
/// use runtime::http::ReasonPhrase;
/// assert_eq!(ReasonPhrase::new("Everything Fine").unwrap().as_str(), "Everything Fine");
/// assert!(ReasonPhrase::new("two\r\nlines").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReasonPhrase(Box<str>);

impl ReasonPhrase {
    /// The phrase, or `None` when it holds a byte a reason phrase may not
    /// (RFC 9112: tab, space and visible characters only).
    pub fn new(text: &str) -> Option<ReasonPhrase> {
        let ok = text
            .bytes()
            .all(|b| b == b'\t' || b == b' ' || (b > 0x20 && b != 0x7f));
        ok.then(|| ReasonPhrase(text.into()))
    }

    /// The phrase.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A response with just a status (and a short text body).
pub(crate) fn status_response(status: http::StatusCode) -> http::Response<Body> {
    let text = status.canonical_reason().unwrap_or("Error");
    let mut r = http::Response::new(Body::from(format!("{} {text}\n", status.as_u16())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// A buffered stream over a plain socket: file bodies go out with
/// `sendfile` straight from the file to the socket.
fn plain_stream<S>(stream: S) -> BufferedStream<S>
where
    S: AsyncRead + runtime_io::AsyncWrite + Unpin + AsFd,
{
    let mut bs = BufferedStream::new(stream);
    bs.set_sendfile(true);
    bs
}

/// `config` offering ALPN `http/1.1` if it names no protocol.
fn with_http_alpn(config: TlsServerConfig) -> TlsServerConfig {
    if !config.alpn_protocols().is_empty() {
        return config;
    }
    let mut inner = (**config.rustls()).clone();
    inner.alpn_protocols = vec![b"http/1.1".to_vec()];
    TlsServerConfig::from_rustls(std::sync::Arc::new(inner))
}
