//! The client side of evhttp: [`HttpConnection`]
//! (`struct evhttp_connection`) sending [`HttpClientRequest`]s
//! (`evhttp_request_new` + `evhttp_make_request`) one after another over
//! runtime-http's [`Client`](runtime_http::Client) (its keep-alive pool,
//! retries, timeouts and limits), each completion reported to the
//! request's callback on the loop's thread.

use super::headers::Headers;
use crate::base::{base_state, BaseHandle, BaseInner};
use crate::event::gone;
use crate::log::log_error;
use crate::owned::Owned;
use crate::task::TaskSlot;
use runtime_http::http::{Method, Request, Uri};
use runtime_http::{Body, Client, ClientConfig};
use runtime_io::Buffer;
use std::cell::{Cell, RefCell, RefMut};
use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::{Rc, Weak};
use std::task::Poll;
use std::time::Duration;

type DoneCallback = Box<dyn FnOnce(&HttpClientRequest)>;

struct ClientRequestInner {
    output_headers: RefCell<Headers>,
    output_buffer: RefCell<Buffer>,
    input_headers: RefCell<Headers>,
    input_buffer: RefCell<Buffer>,
    code: Cell<Option<u16>>,
    error: RefCell<Option<io::Error>>,
    callback: Cell<Option<DoneCallback>>,
}

/// A request to send with [`HttpConnection::make_request`]
/// (`evhttp_request_new(cb, arg)`): fill its output headers and buffer,
/// make the request, and the callback gets it back with the response in
/// its input headers and buffer — or with no response code and an
/// [`error`](HttpClientRequest::error) when it failed (evhttp passes
/// `NULL` or a code of 0).
#[derive(Clone)]
pub struct HttpClientRequest {
    inner: Rc<ClientRequestInner>,
}

impl fmt::Debug for HttpClientRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClientRequest")
            .field("response_code", &self.inner.code.get())
            .field("error", &self.inner.error.borrow())
            .finish()
    }
}

impl HttpClientRequest {
    /// A request whose completion (response or failure) calls `callback`
    /// once, on the loop's thread (`evhttp_request_new`).
    pub fn new(callback: impl FnOnce(&HttpClientRequest) + 'static) -> HttpClientRequest {
        HttpClientRequest {
            inner: Rc::new(ClientRequestInner {
                output_headers: RefCell::new(Headers::new()),
                output_buffer: RefCell::new(Buffer::new()),
                input_headers: RefCell::new(Headers::new()),
                input_buffer: RefCell::new(Buffer::new()),
                code: Cell::new(None),
                error: RefCell::new(None),
                callback: Cell::new(Some(Box::new(callback))),
            }),
        }
    }

    /// The header fields to send (`evhttp_request_get_output_headers`);
    /// `Host` is added from the connection's host when missing.
    ///
    /// # Panics
    /// When already borrowed.
    pub fn output_headers(&self) -> RefMut<'_, Headers> {
        self.inner.output_headers.borrow_mut()
    }

    /// The body to send (`evhttp_request_get_output_buffer`), with
    /// `Content-Length`.
    ///
    /// # Panics
    /// When already borrowed.
    pub fn output_buffer(&self) -> RefMut<'_, Buffer> {
        self.inner.output_buffer.borrow_mut()
    }

    /// The response's header fields (`evhttp_request_get_input_headers`).
    ///
    /// # Panics
    /// When already borrowed.
    pub fn input_headers(&self) -> RefMut<'_, Headers> {
        self.inner.input_headers.borrow_mut()
    }

    /// The response's body, read whole
    /// (`evhttp_request_get_input_buffer`).
    ///
    /// # Panics
    /// When already borrowed.
    pub fn input_buffer(&self) -> RefMut<'_, Buffer> {
        self.inner.input_buffer.borrow_mut()
    }

    /// The response's status code (`evhttp_request_get_response_code`),
    /// `None` until a response came, or when the request failed.
    pub fn response_code(&self) -> Option<u16> {
        self.inner.code.get()
    }

    /// Why the request failed (connection refused, a timeout, a response
    /// beyond the limits …), once it has.
    pub fn error(&self) -> Option<String> {
        self.inner.error.borrow().as_ref().map(|e| e.to_string())
    }

    /// The kind of the failure, once the request has failed.
    pub fn error_kind(&self) -> Option<io::ErrorKind> {
        self.inner.error.borrow().as_ref().map(io::Error::kind)
    }
}

struct Queued {
    req: HttpClientRequest,
    method: Method,
    uri: Uri,
}

pub(crate) struct ConnInner {
    base: Weak<BaseInner>,
    priority: usize,
    host: String,
    port: u16,
    config: RefCell<ClientConfig>,
    client: RefCell<Option<Client>>,
    queue: RefCell<VecDeque<Queued>>,
    /// Counted in the base's pending events while a request is queued or
    /// in flight (libevent's connection has its events then).
    counted: Cell<bool>,
    freed: Cell<bool>,
    task: TaskSlot,
}

impl Owned for ConnInner {
    fn release(self: Rc<Self>) {
        self.free();
    }
}

impl ConnInner {
    fn free(&self) {
        if self.freed.replace(true) {
            return;
        }
        self.task.abort();
        self.set_busy(false);
        let queue = std::mem::take(&mut *self.queue.borrow_mut());
        let client = self.client.borrow_mut().take();
        drop((queue, client));
    }

    fn base(&self) -> io::Result<Rc<BaseInner>> {
        if self.freed.get() {
            return Err(io::Error::other("the HttpConnection has been freed"));
        }
        let b = self.base.upgrade().ok_or_else(gone)?;
        if b.status.has(base_state::CLOSING) {
            return Err(gone());
        }
        Ok(b)
    }

    fn client(&self) -> Client {
        if let Some(c) = self.client.borrow().as_ref() {
            return c.clone();
        }
        let c = Client::with_config(self.config.borrow().clone());
        *self.client.borrow_mut() = Some(c.clone());
        c
    }

    fn next(&self) -> Option<Queued> {
        self.queue.borrow_mut().pop_front()
    }

    /// Keeps the base's count of pending events in step: busy while a
    /// request is queued or in flight, so `dispatch` waits for it.
    fn set_busy(&self, busy: bool) {
        if self.counted.replace(busy) == busy {
            return;
        }
        let Some(b) = self.base.upgrade() else {
            return;
        };
        if b.status.has(base_state::CLOSING) {
            return;
        }
        let n = b.listeners_enabled.get();
        b.listeners_enabled
            .set(if busy { n + 1 } else { n.saturating_sub(1) });
    }
}

/// Sends the queued requests one at a time, as evhttp does on one
/// connection, and calls back with each outcome.
async fn drive(conn: Weak<ConnInner>) {
    loop {
        let next = poll_fn(|_cx| {
            let Some(c) = conn.upgrade().filter(|c| !c.freed.get()) else {
                return Poll::Ready(None);
            };
            match c.next() {
                Some(q) => Poll::Ready(Some((q, c.client(), c.host.clone(), c.port))),
                None => {
                    c.set_busy(false);
                    Poll::Pending
                }
            }
        })
        .await;
        let Some((q, client, host, port)) = next else {
            return;
        };
        let outcome = exchange(&client, &host, port, &q).await;
        let Some(base) = conn.upgrade().and_then(|c| c.base.upgrade()) else {
            return;
        };
        match outcome {
            Ok(()) => {}
            Err(e) => *q.req.inner.error.borrow_mut() = Some(e),
        }
        if let Some(cb) = q.req.inner.callback.take() {
            base.note_callback();
            if let Err(p) = catch_unwind(AssertUnwindSafe(|| cb(&q.req))) {
                log_error!("evhttp request callback panicked");
                base.store_panic(p);
            }
        }
    }
}

async fn exchange(client: &Client, host: &str, port: u16, q: &Queued) -> io::Result<()> {
    let req = &q.req.inner;
    let host_part = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    let path = q.uri.path_and_query().map_or("/", |p| p.as_str());
    let url = format!("http://{host_part}:{port}{path}");
    let body = std::mem::take(&mut *req.output_buffer.borrow_mut());
    let headers = req.output_headers.borrow().as_map().clone();
    let mut http_req = Request::builder()
        .method(q.method.clone())
        .uri(url)
        .body(Body::from_buffer(body))
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    *http_req.headers_mut() = headers;
    let resp = client.request(http_req).await.map_err(io::Error::from)?;
    let (parts, mut body) = resp.into_parts();
    let mut input = Buffer::new();
    while let Some(piece) = body.chunk().await {
        let piece = piece.map_err(io::Error::from)?;
        input.add_reference(piece).map_err(io::Error::other)?;
    }
    *req.input_headers.borrow_mut() = Headers::from(parts.headers);
    *req.input_buffer.borrow_mut() = input;
    req.code.set(Some(parts.status.as_u16()));
    Ok(())
}

/// A connection to one HTTP server (`struct evhttp_connection`), on which
/// requests are made one after another; their callbacks run on the loop's
/// thread. Underneath, runtime-http's [`Client`](runtime_http::Client)
/// keeps the connection alive between requests and opens a new one when
/// the server closed it.
///
/// Dropping it (or [`free`](HttpConnection::free)) drops the requests not
/// sent yet, without calling their callbacks (`evhttp_connection_free`);
/// dropping the base does the same.
///
/// ```
/// use runtime::compat::{EventBase, Http, HttpClientRequest, HttpConnection};
/// use runtime::http::http::Method;
/// use std::cell::RefCell;
/// use std::rc::Rc;
///
/// let base = EventBase::new().unwrap();
/// let http = Http::new(&base).unwrap();
/// http.set_gencb(|req| {
///     let mut b = runtime::io::Buffer::new();
///     b.add(format!("you asked for {}", req.uri()).as_bytes()).unwrap();
///     req.send_reply(200, "OK", Some(&mut b)).unwrap();
/// })
/// .unwrap();
/// let port = http.bind_socket_with_handle("127.0.0.1", 0).unwrap().local_addr().unwrap().port();
///
/// let conn = HttpConnection::new(&base, "127.0.0.1", port).unwrap();
/// let got = Rc::new(RefCell::new(None));
/// let (g, b) = (got.clone(), base.handle());
/// let req = HttpClientRequest::new(move |req| {
///     let body = req.input_buffer().to_vec().unwrap();
///     *g.borrow_mut() = Some((req.response_code(), String::from_utf8(body).unwrap()));
///     b.loopbreak().unwrap();
/// });
/// conn.make_request(req, Method::GET, "/index.html").unwrap();
/// base.dispatch().unwrap();
/// assert_eq!(*got.borrow(), Some((Some(200), "you asked for /index.html".to_owned())));
/// ```
pub struct HttpConnection {
    inner: Rc<ConnInner>,
}

impl fmt::Debug for HttpConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpConnection")
            .field("host", &self.inner.host)
            .field("port", &self.inner.port)
            .field("queued", &self.inner.queue.borrow().len())
            .finish()
    }
}

impl Drop for HttpConnection {
    fn drop(&mut self) {
        self.inner.free();
    }
}

impl HttpConnection {
    /// A connection to `host:port` (`evhttp_connection_base_new`): `host`
    /// is a name or an IP literal; nothing is connected until a request is
    /// made.
    pub fn new(base: &BaseHandle, host: &str, port: u16) -> io::Result<HttpConnection> {
        let b = base.inner()?;
        let inner = Rc::new(ConnInner {
            base: Rc::downgrade(&b),
            priority: b.default_priority.get(),
            host: host.trim_matches(|c| c == '[' || c == ']').to_owned(),
            port,
            config: RefCell::new(ClientConfig {
                max_idle_per_host: 1,
                ..ClientConfig::default()
            }),
            client: RefCell::new(None),
            queue: RefCell::new(VecDeque::new()),
            counted: Cell::new(false),
            freed: Cell::new(false),
            task: TaskSlot::new(),
        });
        let weak: Weak<dyn Owned> = Rc::downgrade(&inner) as Weak<dyn Owned>;
        b.state.borrow_mut().owned.register(weak);
        inner
            .task
            .spawn(&b, inner.priority, drive(Rc::downgrade(&inner)))?;
        Ok(HttpConnection { inner })
    }

    /// Queues `req` as `method uri` (`evhttp_make_request`); `uri` is the
    /// path and query (`/index.html?x=1`). Requests are sent in the order
    /// made, one at a time; each one's callback runs when its response has
    /// been read whole, or when it failed.
    pub fn make_request(
        &self,
        req: HttpClientRequest,
        method: Method,
        uri: &str,
    ) -> io::Result<()> {
        self.inner.base()?;
        let uri: Uri = uri
            .parse()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        self.inner
            .queue
            .borrow_mut()
            .push_back(Queued { req, method, uri });
        self.inner.set_busy(true);
        self.inner.task.wake();
        Ok(())
    }

    fn change(&self, f: impl FnOnce(&mut ClientConfig)) -> io::Result<()> {
        self.inner.base()?;
        f(&mut self.inner.config.borrow_mut());
        self.inner.client.borrow_mut().take();
        Ok(())
    }

    /// How long to wait for a response and for each piece of its body
    /// (`evhttp_connection_set_timeout_tv`); the connect timeout too.
    pub fn set_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.change(|c| {
            c.response_timeout = Some(timeout);
            c.connect_timeout = Some(timeout);
        })
    }

    /// Times an idempotent request is sent again when the kept-alive
    /// connection turns out closed (`evhttp_connection_set_retries`).
    pub fn set_retries(&self, retries: u32) -> io::Result<()> {
        self.change(|c| c.retries = retries)
    }

    /// Largest response head (`evhttp_connection_set_max_headers_size`).
    pub fn set_max_headers_size(&self, size: usize) -> io::Result<()> {
        self.change(|c| c.max_head_size = size)
    }

    /// Largest response body (`evhttp_connection_set_max_body_size`): a
    /// larger one fails the request.
    pub fn set_max_body_size(&self, size: u64) -> io::Result<()> {
        self.change(|c| c.max_body_size = size)
    }

    /// Requests made and not completed yet (the one in flight excluded).
    pub fn queued(&self) -> usize {
        self.inner.queue.borrow().len()
    }

    /// Frees the connection now (`evhttp_connection_free`): as dropping it.
    pub fn free(self) {
        drop(self);
    }
}
