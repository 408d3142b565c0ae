//! One server connection: read a head, run the handler in its own task,
//! write the response, repeat while keep-alive holds.
//!
//! System calls per keep-alive request: the read that brings the request
//! (into the connection's one contiguous input buffer, where the head is
//! parsed in place), one write for head and body (written into the output
//! vector and sent straight from it; pipelined requests already buffered are
//! answered together, in order, with one write), and the `epoll_wait` in
//! between; the socket's registration never changes. See
//! [`ConnIo`](crate::h1::io::ConnIo) for the I/O path.

use super::{status_response, ConnFlags, ConnGuard, ReasonPhrase, RemoteAddr, Server};
use crate::body::{Body, BodySource, Incoming, Kind};
use crate::error::Error;
use crate::future_slot::{CellFuture, FutureSlot};
use crate::h1::chunked::chunk_header;
use crate::h1::encode::{response_head, OutFraming};
use crate::h1::head::{parse_request_in, HeadArena, HeadRules};
use crate::h1::io::ConnIo;
use crate::h1::Framing;
use crate::router::Handler;
use http::header::{ALLOW, CONTENT_LENGTH, HOST};
use http::{Method, Request, Response, StatusCode, Version};
use runtime_io::{AsyncRead, AsyncWrite, BufferedStream, DeadlineTimer};
use runtime_reactor::time::now;
use std::cell::RefCell;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

/// Output size beyond which a response is flushed at once even when more
/// pipelined requests wait.
const FLUSH_AT: usize = 64 * 1024;
/// Response bodies up to this size are copied next to their head (one
/// piece of output, one write); larger ones are referenced.
const INLINE_BODY: usize = 16 * 1024;
/// Bytes of request body left unread by a handler that are read and
/// dropped to keep the connection; beyond, it is closed.
const MAX_DISCARD: u64 = 256 * 1024;
/// Longest lingering close: reading what the client still sends after an
/// error answer, so the kernel does not reset the connection before the
/// client has read the answer.
const LINGER: Duration = Duration::from_secs(2);

type Shared<S> = Rc<RefCell<ConnIo<S>>>;

/// What [`serve`] keeps from request to request, together: one value in
/// the connection's future rather than locals the compiler places apart,
/// so that a request touches few cache lines of it. `repr(C)`, in an order
/// chosen by measurement (callgrind's cache simulation): the slow paths'
/// fields first or last both cost a request more misses than this order.
#[repr(C)]
struct Hot<S> {
    conn: Shared<S>,
    source: Rc<RefCell<dyn BodySource>>,
    server: Server,
    flags: Rc<ConnFlags>,
    peer: Option<SocketAddr>,
    wait: HeadWait,
    deadline: DeadlineTimer,
    /// The cell of the last handler future, for the next.
    slot: FutureSlot,
    /// Where `answer_buffered` leaves an exchange to go on with.
    later: Option<Start>,
    queued: Option<Queued>,
    arena: HeadArena,
    head_buf: Vec<u8>,
    /// Removes the connection from the server's state when the future
    /// ends or is dropped (`None` for a connection the caller serves
    /// itself, outside the server's accept loop).
    _guard: Option<ConnGuard>,
}

/// Serves one connection over `bs`, which the caller made with `sendfile`
/// on for plain sockets (never for an encrypted stream).
///
/// Not an `async fn`: the connection's state is set up here, before the
/// future exists, and the future holds it once (the [`Hot`] its block
/// captures). An async fn moves its arguments into its body and keeps room
/// for both copies; the buffered stream, which moves on into the
/// connection, left about a kilobyte of dead room behind twice.
pub(super) fn serve<S>(
    mut bs: BufferedStream<S>,
    server: Server,
    flags: Rc<ConnFlags>,
    peer: Option<SocketAddr>,
    guard: Option<ConnGuard>,
) -> impl std::future::Future<Output = ()>
where
    S: AsyncRead + AsyncWrite + Unpin + 'static,
{
    bs.set_timeouts(None, server.config.timeouts.write);
    let conn: Shared<S> = Rc::new(RefCell::new(ConnIo::new(bs)));
    let mut h = Hot {
        source: conn.clone(),
        conn,
        server,
        flags,
        peer,
        wait: HeadWait {
            first: true,
            since: None,
            started: None,
            fill: None,
        },
        deadline: DeadlineTimer::default(),
        slot: FutureSlot::default(),
        later: None,
        queued: None,
        arena: HeadArena::default(),
        head_buf: Vec::with_capacity(256),
        _guard: guard,
    };
    // An `async move` block rather than an `async fn` taking `h`, for the
    // same reason.
    async move {
        loop {
            // Requests answered at once and the waits for more input
            // between them all happen in this one poll function, so that a
            // keep-alive request reads no other state of this future.
            let fast = poll_fn(|cx| h.poll_fast(cx)).await;
            let done = match fast {
                Fast::Closing => break,
                Fast::Ended => {
                    let _ = flush(&h.conn).await;
                    break;
                }
                Fast::InputFailed(e) | Fast::Step(Step::Bad(e)) => {
                    Box::pin(answer_error(&h.conn, &e, &mut h.head_buf)).await;
                    break;
                }
                Fast::Step(Step::Queued) => match h.queued.take() {
                    Some(q) => after_queue(&h.conn, q).await,
                    None => Ok(false),
                },
                Fast::Step(Step::Exchange) => match h.later.take() {
                    Some(start) => exchange(&h.conn, &h.server, start, &mut h.head_buf).await,
                    None => Ok(false),
                },
                Fast::Step(Step::Failed(e)) => Err(e),
                // `poll_fast` goes on by itself after these.
                Fast::Step(Step::NeedInput | Step::Answered) => Ok(true),
            };
            h.wait = HeadWait::NEXT;
            match done {
                Ok(true) => {}
                Ok(false) | Err(_) => break,
            }
        }
        let conn = h.conn;
        let _ = poll_fn(|cx| conn.borrow_mut().poll_finish(cx)).await;
    }
}

async fn flush<S: AsyncRead + AsyncWrite + Unpin>(conn: &Shared<S>) -> Result<(), Error> {
    poll_fn(|cx| poll_flush(conn, cx)).await
}

/// Sends what is queued, if anything.
fn poll_flush<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &Shared<S>,
    cx: &mut Context<'_>,
) -> Poll<Result<(), Error>> {
    if conn.borrow().out_len() == 0 {
        return Poll::Ready(Ok(()));
    }
    conn.borrow_mut()
        .poll_flush(cx)
        .map_err(|e| Error::from_io(e, "write"))
}

/// What [`answer_buffered`] came to.
enum Step {
    /// No complete request head is buffered.
    NeedInput,
    /// A bad head: answer the error and close.
    Bad(Error),
    /// Answered: the response is queued, the connection stays.
    Answered,
    /// The response is queued; sending it (or what follows) waits: see
    /// the `Queued` left.
    Queued,
    /// The rest of the exchange waits (for the handler, the body, ...): see
    /// the `Start` left.
    Exchange,
    /// Queueing the response failed: close.
    Failed(Error),
}

/// What [`Hot::poll_fast`] came to.
enum Fast {
    /// The server is closing and no request is buffered.
    Closing,
    /// The client closed, or the keep-alive wait ended, between requests
    /// (or the server is closing and the connection was idle).
    Ended,
    /// Waiting for a head failed (a read error, the header-read timeout,
    /// a close mid-head): answer it and close.
    InputFailed(Error),
    /// A step that needs more than answering at once.
    Step(Step),
}

/// The waits for one request head: the timeouts count from when the
/// connection started waiting (keep-alive, or a new connection's first
/// request) and from the head's first byte (header read).
struct HeadWait {
    first: bool,
    since: Option<Instant>,
    started: Option<Instant>,
    /// Set once what was answered has been flushed and the connection
    /// waits for input; cleared when that wait ends.
    fill: Option<FillWait>,
}

impl HeadWait {
    /// The wait for the head of a request after the first.
    const NEXT: HeadWait = HeadWait {
        first: false,
        since: None,
        started: None,
        fill: None,
    };
}

/// A wait for input under way: whether the connection was idle (between
/// requests) when it began, and when it times out.
#[derive(Clone, Copy)]
struct FillWait {
    idle: bool,
    target: Option<Instant>,
}

impl<S: AsyncRead + AsyncWrite + Unpin + 'static> Hot<S> {
    /// Answers buffered requests and waits for more input, as long as
    /// each request is answered at once.
    fn poll_fast(&mut self, cx: &mut Context<'_>) -> Poll<Fast> {
        loop {
            if self.server.state.closing.get() && self.conn.borrow().input().is_empty() {
                return Poll::Ready(Fast::Closing);
            }
            match answer_buffered(cx, self) {
                Step::NeedInput => match self.poll_more_input(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(true)) => {}
                    Poll::Ready(Ok(false)) => return Poll::Ready(Fast::Ended),
                    Poll::Ready(Err(e)) => return Poll::Ready(Fast::InputFailed(e)),
                },
                Step::Answered => self.wait = HeadWait::NEXT,
                step => return Poll::Ready(Fast::Step(step)),
            }
        }
    }

    /// Waits for more input, no complete head being buffered; what is
    /// answered goes out first. `Ok(false)`: the client closed (or the
    /// keep-alive wait ended, or the server is closing) between requests.
    fn poll_more_input(&mut self, cx: &mut Context<'_>) -> Poll<Result<bool, Error>> {
        let r = self.poll_more_input_in(cx);
        if r.is_ready() {
            self.wait.fill = None;
        }
        r
    }

    fn poll_more_input_in(&mut self, cx: &mut Context<'_>) -> Poll<Result<bool, Error>> {
        let conn = &self.conn;
        let wait = &mut self.wait;
        let fill = match wait.fill {
            Some(fill) => fill,
            None => {
                // The reactor's cached clock. Polled again while the flush
                // waits, the first instant stays.
                let t = now();
                let since = *wait.since.get_or_insert(t);
                if !conn.borrow().input().is_empty() {
                    wait.started.get_or_insert(t);
                }
                if let Err(e) = ready!(poll_flush(conn, cx)) {
                    return Poll::Ready(Err(e));
                }
                let idle = conn.borrow().input().is_empty();
                self.flags.idle.set(idle);
                if idle && self.server.state.closing.get() {
                    return Poll::Ready(Ok(false));
                }
                let timeouts = &self.server.config.timeouts;
                let target = match (wait.started, idle) {
                    (Some(t), false) => timeouts.header_read.map(|d| t + d),
                    _ if wait.first => timeouts.header_read.map(|d| since + d),
                    _ => timeouts.keep_alive.map(|d| since + d),
                };
                *wait.fill.insert(FillWait { idle, target })
            }
        };
        let got = match conn.borrow_mut().poll_fill(cx) {
            Poll::Ready(r) => r.map_err(|e| Error::from_io(e, "read")),
            Poll::Pending => match fill.target {
                Some(t) if self.deadline.poll_expired(cx, t) => Err(Error::Timeout("header read")),
                _ => return Poll::Pending,
            },
        };
        Poll::Ready(match got {
            Ok(0) => {
                if conn.borrow().input().is_empty() {
                    return Poll::Ready(Ok(false));
                }
                Err(Error::ConnectionClosed)
            }
            Ok(_) => Ok(true),
            Err(Error::Timeout(_)) if fill.idle => Ok(false),
            Err(e) => Err(e),
        })
    }
}

/// Answers the request whose head is buffered, if any, as far as can be
/// done without waiting: parses the head, makes the request, polls its
/// handler once and, when it answers at once, queues the response.
fn answer_buffered<S>(cx: &mut Context<'_>, h: &mut Hot<S>) -> Step
where
    S: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let Hot {
        conn,
        source,
        server,
        flags,
        peer,
        slot,
        later,
        queued,
        arena,
        head_buf,
        ..
    } = h;
    let peer = *peer;
    let mut c = conn.borrow_mut();
    let input = c.input();
    if input.is_empty() {
        return Step::NeedInput;
    }
    // A request is 288 bytes (and a response 176), each move of one a
    // `memcpy`: the head is parsed into the request in place, which is then
    // moved once to the handler.
    let mut req = Request::new(Body::empty());
    let r = &mut req;
    let rules = {
        flags.idle.set(false);
        match parse_request_in(input, &server.config.head_limits, arena, r) {
            Ok(Some((rules, len))) => {
                c.consume(len);
                rules
            }
            Ok(None) => return Step::NeedInput,
            Err(e) => return Step::Bad(e),
        }
    };
    drop(c);
    let head_only = r.method() == Method::HEAD;
    let version = r.version();
    let keep_alive = rules.keep_alive;
    let has_body = rules.framing != Framing::Empty;
    let mut slow = |next: Next| {
        *later = Some(Start {
            next,
            head_only,
            version,
            keep_alive,
            has_body,
        });
        Step::Exchange
    };
    let handler = match prepare_exchange(conn, source, server, r, rules, peer) {
        Ok(h) => h,
        Err(refused) => return slow(refused.into()),
    };
    let mut fut = match catch_unwind(AssertUnwindSafe(|| handler.call_in(req, slot))) {
        Ok(fut) => fut,
        Err(_) => return slow(Next::Answer(None)),
    };
    // Polled here first: a handler that answers at once is done without a
    // task of its own.
    let mut resp = None;
    match catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll_into(cx, &mut resp))) {
        Ok(Poll::Ready(())) => {}
        Ok(Poll::Pending) => return slow(Next::Waiting(fut)),
        Err(_) => return slow(Next::Answer(None)),
    }
    slot.give_back(fut);
    let Some(r) = resp.as_mut() else {
        // Not reached: a ready poll puts the answer there.
        return slow(Next::Answer(None));
    };
    if has_body || server.state.closing.get() || conn.borrow().error.is_some() {
        return slow(Next::Answer(resp.take()));
    }
    match queue_response(conn, r, head_only, version, keep_alive, head_buf) {
        Ok((true, None)) if conn.borrow().out_len() < FLUSH_AT => {
            end_body(conn, has_body);
            Step::Answered
        }
        Ok((keep_alive, streamed)) => {
            *queued = Some(Queued {
                keep_alive,
                streamed,
                has_body,
            });
            Step::Queued
        }
        Err(e) => Step::Failed(e),
    }
}

/// Answers a protocol error and closes (with a lingering close, so the
/// client gets the answer).
async fn answer_error<S>(conn: &Shared<S>, e: &Error, head_buf: &mut Vec<u8>)
where
    S: AsyncRead + AsyncWrite + Unpin + 'static,
{
    if matches!(e, Error::Io(_) | Error::ConnectionClosed) {
        return;
    }
    let resp = status_response(e.status());
    if Box::pin(write_response(
        conn,
        resp,
        false,
        Version::HTTP_11,
        false,
        head_buf,
    ))
    .await
    .is_err()
    {
        return;
    }
    linger(conn).await;
}

/// Shuts down the write side, then reads and drops what the client still
/// sends, for a while.
async fn linger<S: AsyncRead + AsyncWrite + Unpin>(conn: &Shared<S>) {
    if poll_fn(|cx| conn.borrow_mut().poll_finish(cx))
        .await
        .is_err()
    {
        return;
    }
    let until = now() + LINGER;
    let mut deadline = DeadlineTimer::default();
    let mut total = 0usize;
    loop {
        let r = poll_fn(|cx| {
            let mut c = conn.borrow_mut();
            let len = c.input().len();
            c.consume(len);
            match c.poll_fill(cx) {
                Poll::Ready(r) => Poll::Ready(r.ok()),
                Poll::Pending if deadline.poll_expired(cx, until) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            }
        })
        .await;
        match r {
            Some(n @ 1..) if total < (1 << 20) => total += n,
            _ => return,
        }
    }
}

/// What is done with a request once its head is read.
enum Next {
    /// The handler answered at once (`None`: it panicked).
    Answer(Option<Response<Body>>),
    /// The handler waits: it goes on in a task of its own.
    Waiting(CellFuture),
    /// No route: 404.
    NotFound,
    /// The method is not allowed: 405 with `Allow`, and close.
    MethodNotAllowed,
    /// The stated body is over the limit: 413, and close.
    TooLarge,
}

/// A request whose head is read: its handler's future made, and what the
/// answer needs to know of the request.
struct Start {
    next: Next,
    head_only: bool,
    version: Version,
    keep_alive: bool,
    has_body: bool,
}

/// Why a request is answered without a handler.
#[derive(Clone, Copy)]
enum Refused {
    NotFound,
    MethodNotAllowed,
    TooLarge,
}

impl From<Refused> for Next {
    fn from(r: Refused) -> Next {
        match r {
            Refused::NotFound => Next::NotFound,
            Refused::MethodNotAllowed => Next::MethodNotAllowed,
            Refused::TooLarge => Next::TooLarge,
        }
    }
}

/// Checks a request, starts reading its body and finds its handler; `Err`
/// says how the request is answered without one.
fn prepare_exchange<S>(
    conn: &Shared<S>,
    source: &Rc<RefCell<dyn BodySource>>,
    server: &Server,
    req: &mut Request<Body>,
    rules: HeadRules,
    peer: Option<SocketAddr>,
) -> Result<Rc<dyn Handler>, Refused>
where
    S: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let cfg = &server.config;
    let has_body = rules.framing != Framing::Empty;
    if !cfg.limits.allowed_methods.contains(req.method()) {
        return Err(Refused::MethodNotAllowed);
    }
    if let Framing::Length(n) = rules.framing {
        if n > cfg.limits.max_body_size {
            return Err(Refused::TooLarge);
        }
    }
    let len = match rules.framing {
        Framing::Length(n) => Some(n),
        Framing::Empty => Some(0),
        _ => None,
    };
    let gen = {
        let mut c = conn.borrow_mut();
        let gen = c.start_body(
            rules.framing,
            cfg.limits.max_body_size,
            cfg.limits.max_head_size,
        );
        c.continue_pending = rules.expect_continue && has_body;
        if has_body {
            // Counts while the body is read, not while the next request
            // is awaited (see `end_body`).
            c.set_read_timeout(cfg.timeouts.body_read);
        }
        gen
    };
    if has_body {
        *req.body_mut() = Body::incoming(Incoming::new(source.clone(), gen, len));
    }
    if let Some(peer) = peer {
        req.extensions_mut().insert(RemoteAddr(peer));
    }
    // The host only matters to virtual hosts.
    let host = if cfg.router.has_virtual_hosts() {
        req.uri()
            .authority()
            .map(|a| a.as_str())
            .or_else(|| req.headers().get(HOST).and_then(|h| h.to_str().ok()))
    } else {
        None
    };
    cfg.router
        .find(host, req.uri().path())
        .cloned()
        .ok_or(Refused::NotFound)
}

/// One request: the handler (in the connection's task, or its own if it
/// waits), the response. `Ok(true)` to keep the connection.
async fn exchange<S>(
    conn: &Shared<S>,
    server: &Server,
    start: Start,
    head_buf: &mut Vec<u8>,
) -> Result<bool, Error>
where
    S: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let cfg = &server.config;
    let Start {
        next,
        head_only,
        version,
        mut keep_alive,
        has_body,
    } = start;
    let mut resp = match next {
        Next::MethodNotAllowed => {
            let mut resp = status_response(StatusCode::METHOD_NOT_ALLOWED);
            resp.headers_mut().insert(ALLOW, cfg.allow_header.clone());
            Box::pin(write_response(
                conn, resp, head_only, version, false, head_buf,
            ))
            .await?;
            linger(conn).await;
            return Ok(false);
        }
        Next::TooLarge => {
            Box::pin(answer_error(conn, &Error::BodyTooLarge, head_buf)).await;
            return Ok(false);
        }
        Next::NotFound => status_response(StatusCode::NOT_FOUND),
        Next::Answer(resp) => match resp {
            Some(r) => r,
            None => {
                // The handler panicked: 500, and the connection closes
                // (its body may be half read).
                keep_alive = false;
                status_response(StatusCode::INTERNAL_SERVER_ERROR)
            }
        },
        Next::Waiting(fut) => match runtime_executor::spawn(fut).await.ok() {
            Some(r) => r,
            None => {
                // The handler panicked: 500, and the connection closes
                // (its body may be half read).
                keep_alive = false;
                status_response(StatusCode::INTERNAL_SERVER_ERROR)
            }
        },
    };
    // A body the handler failed to read decides the answer.
    let body_error = conn.borrow_mut().error.take();
    if let Some(e) = body_error {
        if matches!(e, Error::Io(_) | Error::ConnectionClosed) {
            end_body(conn, has_body);
            return Ok(false);
        }
        resp = status_response(e.status());
        keep_alive = false;
    }
    {
        let c = conn.borrow();
        if !c.body_done() && (c.continue_pending || c.error.is_some()) {
            // The client waits for 100 Continue we will not send, or the
            // body is broken: the connection cannot carry another request.
            keep_alive = false;
        }
    }
    if server.state.closing.get() {
        keep_alive = false;
    }
    let (keep_alive, streamed) =
        queue_response(conn, &mut resp, head_only, version, keep_alive, head_buf)?;
    after_queue(
        conn,
        Queued {
            keep_alive,
            streamed,
            has_body,
        },
    )
    .await
}

/// A response in the output, with what remains to do for it.
struct Queued {
    /// Whether the connection stays open.
    keep_alive: bool,
    /// A body still to stream.
    streamed: Option<(Body, OutFraming)>,
    /// The request had a body.
    has_body: bool,
}

/// Sends a queued response (and its streamed body), reads the rest of a
/// request body the handler left if small, and ends the exchange.
/// `Ok(true)` to keep the connection.
async fn after_queue<S>(conn: &Shared<S>, q: Queued) -> Result<bool, Error>
where
    S: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let Queued {
        keep_alive,
        streamed,
        has_body,
    } = q;
    let keep_alive = match streamed {
        // Boxed: a streamed body is the rare case, and its state would
        // otherwise make every connection's future larger.
        Some((body, framing)) => Box::pin(stream_body(conn, body, framing, keep_alive)).await?,
        None => finish_write(conn, keep_alive).await?,
    };
    // The rest of a body the handler did not read, if small.
    let mut keep = keep_alive;
    if keep && !conn.borrow().body_done() {
        // The answer goes out first: the client may wait for it before
        // sending the rest.
        flush(conn).await?;
        keep = discard_body(conn).await;
    }
    end_body(conn, has_body);
    if !keep {
        if !keep_alive {
            flush(conn).await?;
        }
        linger(conn).await;
    }
    Ok(keep)
}

/// Ends the exchange's body: later reads through it get nothing, and the
/// body-read timeout stops counting.
fn end_body<S>(conn: &Shared<S>, had_body: bool) {
    let mut c = conn.borrow_mut();
    c.retire();
    if had_body {
        c.set_read_timeout(None);
    }
}

/// Reads and drops the rest of the request body, up to [`MAX_DISCARD`].
async fn discard_body<S: AsyncRead + AsyncWrite + Unpin>(conn: &Shared<S>) -> bool {
    let mut dropped = 0u64;
    loop {
        let r = poll_fn(|cx| conn.borrow_mut().poll_body(cx)).await;
        match r {
            None => return true,
            Some(Ok(d)) => {
                dropped += d.len() as u64;
                if dropped > MAX_DISCARD {
                    return false;
                }
            }
            Some(Err(_)) => return false,
        }
    }
}

/// Writes a response; returns whether the connection stays open.
pub(crate) async fn write_response<S>(
    conn: &Shared<S>,
    mut resp: Response<Body>,
    head_only: bool,
    version: Version,
    keep_alive: bool,
    head_buf: &mut Vec<u8>,
) -> Result<bool, Error>
where
    S: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let (keep_alive, streamed) =
        queue_response(conn, &mut resp, head_only, version, keep_alive, head_buf)?;
    match streamed {
        // Boxed: a streamed body is the rare case, and its state would
        // otherwise make every connection's future larger.
        Some((body, framing)) => Box::pin(stream_body(conn, body, framing, keep_alive)).await,
        None => finish_write(conn, keep_alive).await,
    }
}

/// Puts a response's head, and its body unless streamed, in the output;
/// returns whether the connection stays open and the body to stream
/// (taken from `resp`, which keeps the rest: it is read where it lies).
fn queue_response<S>(
    conn: &Shared<S>,
    resp: &mut Response<Body>,
    head_only: bool,
    version: Version,
    mut keep_alive: bool,
    head_buf: &mut Vec<u8>,
) -> Result<(bool, Option<(Body, OutFraming)>), Error>
where
    S: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let status = resp.status();
    let bodiless = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let framing = if bodiless {
        OutFraming::None
    } else if let Some(n) = resp.body().size_hint() {
        if head_only && n == 0 {
            // A HEAD handler may state the length itself.
            match resp
                .headers()
                .get(CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()?.parse().ok())
            {
                Some(n) => OutFraming::Length(n),
                None => OutFraming::Length(0),
            }
        } else {
            OutFraming::Length(n)
        }
    } else if version == Version::HTTP_11 {
        OutFraming::Chunked
    } else {
        keep_alive = false;
        OutFraming::Close
    };
    let reason = resp
        .extensions()
        .get::<ReasonPhrase>()
        .map(ReasonPhrase::as_str);
    let mut c = conn.borrow_mut();
    let c = &mut *c;
    // The head is written straight into the output when nothing is
    // waiting in its buffer; else behind it.
    let direct = c.out_vec();
    let in_vec = direct.is_some();
    let out = match direct {
        Some(v) => v,
        None => {
            head_buf.clear();
            &mut *head_buf
        }
    };
    // `Connection: close` from the handler ends the connection too.
    let keep_alive = response_head(
        out,
        status,
        reason,
        resp.headers(),
        framing,
        keep_alive,
        version,
    );
    let mut kind = if head_only || bodiless {
        Kind::Empty
    } else {
        std::mem::replace(&mut resp.body_mut().kind, Kind::Empty)
    };
    if let Kind::Bytes(b) = &kind {
        if b.len() <= INLINE_BODY {
            // Head and a small body leave as one piece of the output.
            out.extend_from_slice(b.as_bytes());
            kind = Kind::Empty;
        }
    }
    if !in_vec {
        c.out_add(head_buf)?;
    }
    let streamed = match kind {
        Kind::Empty => None,
        Kind::Bytes(b) => {
            c.out_buffer()?.add_reference(b)?;
            None
        }
        Kind::File { seg, pos } => {
            c.out_buffer()?.add_file_segment(&seg, pos, None)?;
            None
        }
        Kind::Buffer(mut b) => {
            c.out_buffer()?.add_buffer(&mut b)?;
            None
        }
        other => {
            let body = resp.body_mut();
            body.kind = other;
            Some((std::mem::take(body), framing))
        }
    };
    Ok((keep_alive, streamed))
}

async fn finish_write<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &Shared<S>,
    keep_alive: bool,
) -> Result<bool, Error> {
    if keep_alive && conn.borrow().out_len() < FLUSH_AT {
        // Left for the wait for the next head, which flushes first:
        // pipelined requests already buffered are answered in the same
        // write.
        return Ok(true);
    }
    flush(conn).await?;
    Ok(keep_alive)
}

/// Sends a streamed body: chunked, length-checked, or until close.
async fn stream_body<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &Shared<S>,
    mut body: Body,
    framing: OutFraming,
    keep_alive: bool,
) -> Result<bool, Error> {
    let mut sent = 0u64;
    let mut hdr = [0u8; 18];
    loop {
        // Whatever waits in the output goes out while the body has nothing.
        let item = match poll_fn(|cx| Poll::Ready(body.poll_chunk(cx))).await {
            Poll::Ready(item) => item,
            Poll::Pending => {
                flush(conn).await?;
                body.chunk().await
            }
        };
        let data = match item {
            None => break,
            Some(Ok(d)) => d,
            Some(Err(e)) => {
                // Cut: the client sees the body unfinished.
                flush(conn).await.ok();
                return Err(e);
            }
        };
        if data.is_empty() {
            continue;
        }
        sent += data.len() as u64;
        {
            let mut c = conn.borrow_mut();
            let out = c.out_buffer()?;
            match framing {
                OutFraming::Chunked => {
                    out.add(chunk_header(data.len(), &mut hdr))?;
                    out.add_reference(data)?;
                    out.add(b"\r\n")?;
                }
                OutFraming::Length(n) if sent > n => {
                    return Err(Error::Invalid("body longer than its stated length".into()));
                }
                _ => out.add_reference(data)?,
            }
        }
        if conn.borrow().out_len() >= FLUSH_AT {
            // Backpressure: wait until the client takes the bytes.
            flush(conn).await?;
        }
    }
    match framing {
        OutFraming::Chunked => conn.borrow_mut().out_add(b"0\r\n\r\n")?,
        OutFraming::Length(n) if sent != n => {
            flush(conn).await.ok();
            return Err(Error::Invalid("body shorter than its stated length".into()));
        }
        _ => {}
    }
    flush(conn).await?;
    Ok(keep_alive)
}
