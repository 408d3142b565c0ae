//! The HTTP/1.1 client (evhttp_connection / evhttp_make_request): a
//! keep-alive pool per host and port (or Unix socket), any method, headers
//! and body, the response head then its body as a stream, connect and
//! response timeouts, a retry of idempotent requests on a pooled connection
//! the server had closed, limits on response heads and bodies. Host names
//! are resolved by runtime-dns (evhttp_connection_base_new's `evdns_base`:
//! [`ClientConfig::resolver`], or the thread's resolver) and connected to
//! happy-eyeballs fashion; a name that does not resolve is
//! [`Error::Resolve`] with the resolver's typed error.

mod stream;

use crate::body::{Body, BodySource, Incoming, Kind};
use crate::error::Error;
use crate::h1::chunked::chunk_header;
use crate::h1::encode::{request_head, OutFraming};
use crate::h1::io::ConnIo;
use crate::h1::{parse_response, Framing, HeadLimits};
use http::{HeaderMap, Method, Request, Response, Uri};
use runtime_io::BufferedStream;
use runtime_net::UnixStream;
use runtime_reactor::time::timeout;
use std::cell::RefCell;
use std::collections::HashMap;
use std::future::poll_fn;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;
use stream::ClientStream;

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Longest wait to connect. Default 10 s.
    pub connect_timeout: Option<Duration>,
    /// Longest wait for the response head after the request was sent, and
    /// between pieces of the response body. Default 30 s.
    pub response_timeout: Option<Duration>,
    /// Idle connections kept per host and port. Default 8.
    pub max_idle_per_host: usize,
    /// Times an idempotent request is sent again on a fresh connection
    /// when a pooled one turns out closed (`evhttp_connection_set_retries`).
    /// Default 1.
    pub retries: u32,
    /// Largest response head (status line and fields). Default 64 KiB.
    pub max_head_size: usize,
    /// Most response header fields. Default 100.
    pub max_headers: usize,
    /// Largest response body read through the returned body. Default
    /// unlimited.
    pub max_body_size: u64,
    /// Resolves host names (runtime-dns: hosts file, then A and AAAA in
    /// parallel; the addresses are then tried happy-eyeballs fashion).
    /// `None`, the default: the thread's resolver,
    /// [`runtime_dns::thread_resolver`], built from `/etc/resolv.conf` and
    /// `/etc/hosts` on first use. Literal addresses are never resolved.
    pub resolver: Option<runtime_dns::Resolver>,
    /// TLS settings for `https://` URLs (trusted roots, client
    /// certificate, handshake timeout). `None`, the default: the system's
    /// roots, loaded on the first `https://` request.
    pub tls: Option<runtime_tls::TlsConnector>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            connect_timeout: Some(Duration::from_secs(10)),
            response_timeout: Some(Duration::from_secs(30)),
            max_idle_per_host: 8,
            retries: 1,
            max_head_size: 64 * 1024,
            max_headers: 100,
            max_body_size: u64::MAX,
            resolver: None,
            tls: None,
        }
    }
}

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
enum Key {
    Tcp(String, u16),
    Tls(String, u16),
    Unix(PathBuf),
}

type Conn = Rc<RefCell<ConnIo<ClientStream>>>;

struct Inner {
    config: ClientConfig,
    pool: RefCell<HashMap<Key, Vec<Conn>>>,
    /// The connector for `https://`, made on first use.
    tls: RefCell<Option<runtime_tls::TlsConnector>>,
}

/// An HTTP/1.1 client with a keep-alive connection pool. Cheap to clone
/// (clones share the pool); lives on one thread.
///
/// ```no_run
/// # async fn f() -> Result<(), runtime::http::Error> {
/// let client = runtime::http::Client::new();
/// let res = client.get("http://127.0.0.1:8080/").await?;
/// println!("{}", res.status());
/// let body = res.into_body().collect().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Rc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .field("idle", &self.idle_connections())
            .finish()
    }
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

/// Where a request goes.
enum Target {
    Tcp { host: String, port: u16, tls: bool },
    Unix(PathBuf),
}

impl Client {
    /// A client with the default settings.
    pub fn new() -> Client {
        Client::with_config(ClientConfig::default())
    }

    /// A client with `config`.
    pub fn with_config(config: ClientConfig) -> Client {
        Client {
            inner: Rc::new(Inner {
                tls: RefCell::new(config.tls.clone()),
                config,
                pool: RefCell::new(HashMap::new()),
            }),
        }
    }

    /// Idle pooled connections, over all hosts.
    pub fn idle_connections(&self) -> usize {
        self.inner.pool.borrow().values().map(Vec::len).sum()
    }

    /// `GET url`.
    pub async fn get(&self, url: &str) -> Result<Response<Body>, Error> {
        let req = Request::get(url).body(Body::empty())?;
        self.request(req).await
    }

    /// Sends `req` to the host and port of its URI (`http://` or
    /// `https://`, one pool per scheme, host and port) and
    /// returns the response once its head has arrived; the body is read
    /// from the connection as it is consumed, and the connection goes back
    /// to the pool when the body has been read to its end.
    pub async fn request(&self, req: Request<Body>) -> Result<Response<Body>, Error> {
        let uri = req.uri();
        let tls = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            Some(other) => return Err(Error::Invalid(format!("unsupported scheme {other}"))),
            None => return Err(Error::Invalid("the URI has no scheme".into())),
        };
        let host = uri
            .host()
            .ok_or_else(|| Error::Invalid("the URI has no host".into()))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        self.send(Target::Tcp { host, port, tls }, req).await
    }

    /// Sends `req` over the Unix-domain socket at `path` (the URI's path
    /// and query are used; its host, if any, goes in `Host`).
    pub async fn request_unix(
        &self,
        path: impl Into<PathBuf>,
        req: Request<Body>,
    ) -> Result<Response<Body>, Error> {
        self.send(Target::Unix(path.into()), req).await
    }

    async fn send(&self, target: Target, req: Request<Body>) -> Result<Response<Body>, Error> {
        let (key, host_header) = match &target {
            Target::Tcp { host, port, tls } => {
                let h = if *port == if *tls { 443 } else { 80 } {
                    host_for_header(host)
                } else {
                    format!("{}:{port}", host_for_header(host))
                };
                let key = if *tls {
                    Key::Tls(host.clone(), *port)
                } else {
                    Key::Tcp(host.clone(), *port)
                };
                (key, h)
            }
            Target::Unix(p) => (
                Key::Unix(p.clone()),
                req.uri()
                    .authority()
                    .map_or("localhost".into(), |a| a.to_string()),
            ),
        };
        let (parts, body) = req.into_parts();
        // A body that can be sent again if a pooled connection was dead.
        let replay = match &body.kind {
            Kind::Empty => Some(None),
            Kind::Bytes(b) => Some(Some(b.clone())),
            _ => None,
        };
        let idempotent = matches!(
            parts.method,
            Method::GET
                | Method::HEAD
                | Method::PUT
                | Method::DELETE
                | Method::OPTIONS
                | Method::TRACE
        );
        let mut body = Some(body);
        let mut tries = 0;
        loop {
            let (conn, reused) = match self.take_idle(&key) {
                Some(c) => (c, true),
                // Boxed: connecting (name lookup, TCP, TLS) is the largest
                // state by far, and only a new connection needs it; inline,
                // it would make every request's future about 2.5 KB larger.
                None => (Box::pin(self.connect(&target)).await?, false),
            };
            let b = match body.take() {
                Some(b) => b,
                None => match &replay {
                    Some(Some(bytes)) => Body::bytes(bytes.clone()),
                    _ => Body::empty(),
                },
            };
            match self
                .exchange(
                    &conn,
                    &key,
                    &host_header,
                    &parts.method,
                    &parts.uri,
                    &parts.headers,
                    b,
                )
                .await
            {
                Ok(r) => return Ok(r),
                Err(Attempt::Stale(e)) => {
                    let can_retry = reused
                        && idempotent
                        && replay.is_some()
                        && tries < self.inner.config.retries;
                    if !can_retry {
                        return Err(e);
                    }
                    tries += 1;
                }
                Err(Attempt::Failed(e)) => return Err(e),
            }
        }
    }

    fn take_idle(&self, key: &Key) -> Option<Conn> {
        let mut pool = self.inner.pool.borrow_mut();
        let list = pool.get_mut(key)?;
        let c = list.pop();
        if list.is_empty() {
            pool.remove(key);
        }
        c
    }

    async fn connect(&self, target: &Target) -> Result<Conn, Error> {
        let fut = async {
            Ok::<_, Error>(match target {
                Target::Tcp { host, port, tls } => {
                    let addrs = match host.parse::<IpAddr>() {
                        Ok(ip) => vec![SocketAddr::new(ip, *port)],
                        Err(_) => {
                            let resolver = match &self.inner.config.resolver {
                                Some(r) => r.clone(),
                                None => runtime_dns::thread_resolver(),
                            };
                            resolver
                                .lookup_host(host, *port)
                                .await
                                .map_err(Error::Resolve)?
                        }
                    };
                    let s = runtime_dns::connect_addrs(addrs).await.map_err(Error::Io)?;
                    let _ = s.set_nodelay(true);
                    if *tls {
                        let connector = self.tls_connector()?;
                        let s = connector.connect(host, s).await.map_err(Error::Io)?;
                        ClientStream::Tls(Box::new(s))
                    } else {
                        ClientStream::Tcp(s)
                    }
                }
                Target::Unix(p) => {
                    ClientStream::Unix(UnixStream::connect(p).await.map_err(Error::Io)?)
                }
            })
        };
        // The timeout covers the lookup, the connection and the TLS
        // handshake.
        let stream = match self.inner.config.connect_timeout {
            Some(d) => timeout(d, fut)
                .await
                .map_err(|_| Error::Timeout("connect"))?,
            None => fut.await,
        }?;
        let plain = !matches!(stream, ClientStream::Tls(_));
        let mut bs = BufferedStream::new(stream);
        // sendfile writes to the socket itself: never under TLS.
        bs.set_sendfile(plain);
        bs.set_timeouts(None, self.inner.config.response_timeout);
        let mut conn = ConnIo::new(bs);
        conn.set_read_timeout(self.inner.config.response_timeout);
        Ok(Rc::new(RefCell::new(conn)))
    }

    fn tls_connector(&self) -> Result<runtime_tls::TlsConnector, Error> {
        let mut slot = self.inner.tls.borrow_mut();
        if let Some(c) = &*slot {
            return Ok(c.clone());
        }
        let config = runtime_tls::ClientConfig::builder()
            .alpn(&[b"http/1.1"])
            .system_roots()
            .and_then(|b| b.build())
            .map_err(Error::Io)?;
        let c = runtime_tls::TlsConnector::new(config);
        *slot = Some(c.clone());
        Ok(c)
    }

    #[allow(clippy::too_many_arguments)]
    async fn exchange(
        &self,
        conn: &Conn,
        key: &Key,
        host: &str,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        mut body: Body,
    ) -> Result<Response<Body>, Attempt> {
        let framing = match body.size_hint() {
            Some(0)
                if matches!(
                    *method,
                    Method::GET | Method::HEAD | Method::DELETE | Method::OPTIONS
                ) =>
            {
                OutFraming::None
            }
            Some(n) => OutFraming::Length(n),
            None => OutFraming::Chunked,
        };
        let mut head = Vec::with_capacity(256);
        request_head(&mut head, method, uri, host, headers, framing, true);
        let stale = |e: Error| Attempt::Stale(e);
        {
            let mut c = conn.borrow_mut();
            c.out_add(&head).map_err(|e| stale(e.into()))?;
            match std::mem::replace(&mut body.kind, Kind::Empty) {
                Kind::Empty => {}
                Kind::Bytes(b) => c
                    .out_buffer()
                    .and_then(|o| o.add_reference(b))
                    .map_err(|e| stale(e.into()))?,
                Kind::File { seg, pos } => c
                    .out_buffer()
                    .and_then(|o| o.add_file_segment(&seg, pos, None))
                    .map_err(|e| stale(e.into()))?,
                Kind::Buffer(mut b) => c
                    .out_buffer()
                    .and_then(|o| o.add_buffer(&mut b))
                    .map_err(|e| stale(e.into()))?,
                other => body.kind = other,
            }
        }
        flush(conn).await.map_err(stale)?;
        if matches!(
            body.kind,
            Kind::Stream(_) | Kind::Channel(_) | Kind::Incoming(_)
        ) {
            send_streamed(conn, &mut body, framing)
                .await
                .map_err(Attempt::Failed)?;
        }
        let limits = HeadLimits {
            max_head_size: self.inner.config.max_head_size,
            max_headers: self.inner.config.max_headers,
            max_uri_len: usize::MAX / 4,
            strict: false,
            require_host: false,
        };
        // The response head (1xx answers skipped).
        let mut got_any = false;
        let head = loop {
            let parsed = {
                let mut c = conn.borrow_mut();
                let input = c.input();
                if input.is_empty() {
                    None
                } else {
                    got_any = true;
                    match parse_response(input, method, &limits).map_err(Attempt::Failed)? {
                        Some((h, len)) => {
                            c.consume(len);
                            Some(h)
                        }
                        None => None,
                    }
                }
            };
            if let Some(h) = parsed {
                if h.status.is_informational() && h.status != http::StatusCode::SWITCHING_PROTOCOLS
                {
                    continue;
                }
                break h;
            }
            let n = poll_fn(|cx| conn.borrow_mut().poll_fill(cx)).await;
            match n {
                Ok(0) if !got_any => return Err(Attempt::Stale(Error::ConnectionClosed)),
                Ok(0) => return Err(Attempt::Failed(Error::ConnectionClosed)),
                Ok(_) => {}
                Err(e) if !got_any && e.kind() != std::io::ErrorKind::TimedOut => {
                    return Err(Attempt::Stale(Error::Io(e)))
                }
                Err(e) => return Err(Attempt::Failed(Error::from_io(e, "response"))),
            }
        };
        let gen = conn.borrow_mut().start_body(
            head.framing,
            self.inner.config.max_body_size,
            self.inner.config.max_head_size,
        );
        let len = match head.framing {
            Framing::Length(n) => Some(n),
            Framing::Empty => Some(0),
            _ => None,
        };
        let mut res = Response::new(Body::empty());
        *res.status_mut() = head.status;
        *res.version_mut() = head.version;
        *res.headers_mut() = head.headers;
        if head.framing == Framing::Empty {
            if head.keep_alive {
                self.give_back(key, conn.clone());
            }
            return Ok(res);
        }
        let source: Rc<RefCell<dyn BodySource>> = Rc::new(RefCell::new(PooledBody {
            conn: Some(conn.clone()),
            pool: Rc::downgrade(&self.inner),
            key: key.clone(),
            keep_alive: head.keep_alive,
            trailers: None,
        }));
        *res.body_mut() = Body::incoming(Incoming::new(source, gen, len));
        Ok(res)
    }

    fn give_back(&self, key: &Key, conn: Conn) {
        give_back(&self.inner, key, conn);
    }
}

fn host_for_header(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

fn give_back(inner: &Inner, key: &Key, conn: Conn) {
    {
        let c = conn.borrow();
        if !c.body_done() || !c.input().is_empty() || c.is_eof() {
            return;
        }
    }
    conn.borrow_mut().retire();
    let mut pool = inner.pool.borrow_mut();
    let list = pool.entry(key.clone()).or_default();
    if list.len() < inner.config.max_idle_per_host {
        list.push(conn);
    }
}

enum Attempt {
    /// Failed before any byte of the response: a pooled connection the
    /// server had closed.
    Stale(Error),
    Failed(Error),
}

async fn flush(conn: &Conn) -> Result<(), Error> {
    poll_fn(|cx| conn.borrow_mut().poll_flush(cx))
        .await
        .map_err(|e| Error::from_io(e, "write"))
}

async fn send_streamed(conn: &Conn, body: &mut Body, framing: OutFraming) -> Result<(), Error> {
    let mut hdr = [0u8; 18];
    while let Some(piece) = body.chunk().await {
        let piece = piece?;
        if piece.is_empty() {
            continue;
        }
        {
            let mut c = conn.borrow_mut();
            let out = c.out_buffer()?;
            if framing == OutFraming::Chunked {
                out.add(chunk_header(piece.len(), &mut hdr))?;
                out.add_reference(piece)?;
                out.add(b"\r\n")?;
            } else {
                out.add_reference(piece)?;
            }
        }
        if conn.borrow().out_len() >= 64 * 1024 {
            flush(conn).await?;
        }
    }
    if framing == OutFraming::Chunked {
        conn.borrow_mut().out_add(b"0\r\n\r\n")?;
    }
    flush(conn).await
}

/// A response body read from a pooled connection; the connection returns
/// to the pool when the body is complete.
struct PooledBody {
    conn: Option<Conn>,
    pool: Weak<Inner>,
    key: Key,
    keep_alive: bool,
    trailers: Option<HeaderMap>,
}

impl BodySource for PooledBody {
    fn poll_chunk(
        &mut self,
        gen: u64,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Vec<u8>, Error>>> {
        let Some(conn) = &self.conn else {
            return Poll::Ready(None);
        };
        let r = conn.borrow_mut().poll_chunk(gen, cx);
        if let Poll::Ready(None) = r {
            self.trailers = conn.borrow().trailers(gen);
            let conn = self.conn.take();
            if let (Some(conn), Some(inner), true) = (conn, self.pool.upgrade(), self.keep_alive) {
                give_back(&inner, &self.key, conn);
            }
        }
        r
    }

    fn trailers(&self, gen: u64) -> Option<HeaderMap> {
        match &self.conn {
            Some(c) => c.borrow().trailers(gen),
            None => self.trailers.clone(),
        }
    }
}
