//! [`HttpRequest`]: libevent's `struct evhttp_request` on the server side —
//! what the client sent (command, URI, headers, the body in an input
//! [`Buffer`]) and the reply being built (output headers and buffer), with
//! `evhttp_send_reply`, `evhttp_send_error` and the streamed
//! `evhttp_send_reply_start` / `_chunk` / `_end`.

use super::headers::Headers;
use super::reply::{ChunkQueue, ChunkStream, ReplySlot};
use runtime_http::http::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HOST};
use runtime_http::http::{HeaderValue, Method, Response, StatusCode, Uri, Version};
use runtime_http::{Body, ReasonPhrase};
use runtime_io::Buffer;
use std::borrow::Cow;
use std::cell::{Cell, OnceCell, Ref, RefCell, RefMut};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;

/// Where a request's reply stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No reply yet.
    Waiting,
    /// `send_reply_start` was called; chunks may follow.
    Streaming,
    /// The reply is complete (or the request can no longer be answered).
    Done,
}

pub(crate) struct RequestInner {
    method: Method,
    uri: Uri,
    uri_text: OnceCell<String>,
    version: Version,
    peer: Option<SocketAddr>,
    input_headers: RefCell<Headers>,
    output_headers: RefCell<Headers>,
    input_buffer: RefCell<Buffer>,
    output_buffer: RefCell<Buffer>,
    default_content_type: Option<HeaderValue>,
    code: Cell<Option<u16>>,
    phase: Cell<Phase>,
    slot: Rc<ReplySlot>,
    chunks: RefCell<Option<Rc<RefCell<ChunkQueue>>>>,
}

impl Drop for RequestInner {
    fn drop(&mut self) {
        match self.phase.get() {
            // Dropped unanswered: the handler task answers 500 and closes.
            Phase::Waiting => self.slot.abandon(),
            // Dropped mid-stream: the client sees the body cut.
            Phase::Streaming => {
                if let Some(q) = self.chunks.get_mut().take() {
                    q.borrow_mut().abort();
                }
            }
            Phase::Done => {}
        }
    }
}

/// A request received by an [`Http`](crate::Http) server, as its callbacks
/// see it (`struct evhttp_request`): a cheap handle, `Clone`, that stays
/// valid after the callback returns, so the reply may be sent later — from
/// a timer's callback, say — as evhttp allows.
///
/// The callback (or code it hands the request to) must eventually answer
/// with [`send_reply`](HttpRequest::send_reply),
/// [`send_error`](HttpRequest::send_error) or
/// [`send_reply_start`](HttpRequest::send_reply_start) …
/// [`send_reply_end`](HttpRequest::send_reply_end). A request whose every
/// handle is dropped unanswered is answered `500` and its connection
/// closed (evhttp would leave the client waiting); one dropped in the
/// middle of a streamed reply has its body cut, so the client sees an
/// incomplete reply, not a complete one.
///
/// Borrowing: [`input_headers`](HttpRequest::input_headers),
/// [`output_headers`](HttpRequest::output_headers),
/// [`input_buffer`](HttpRequest::input_buffer) and
/// [`output_buffer`](HttpRequest::output_buffer) lend the request's parts
/// (`RefCell` guards); drop the guard before a `send_*` call, which
/// otherwise fails with `WouldBlock` rather than panicking.
#[derive(Clone)]
pub struct HttpRequest {
    pub(crate) inner: Rc<RequestInner>,
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRequest")
            .field("command", &self.inner.method)
            .field("uri", &self.uri())
            .field("peer", &self.inner.peer)
            .field("phase", &self.inner.phase.get())
            .finish()
    }
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.into())
}

fn busy(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::WouldBlock,
        format!("the request's {what} is borrowed: drop the guard first"),
    )
}

/// Percent-decodes `s` as evhttp does (`evhttp_decode_uri_internal`): a
/// `%` not followed by two hex digits stays as it is; `+` becomes a space
/// everywhere with `plus == Some(true)`, after the first `?` with `None`,
/// never with `Some(false)`.
pub(crate) fn uri_decode(s: &str, plus: Option<bool>) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut in_query = plus == Some(true);
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'?' && plus.is_none() {
            in_query = true;
        }
        let hex = |x: u8| (x as char).to_digit(16);
        match c {
            b'+' if in_query => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(c),
            },
            _ => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl HttpRequest {
    pub(crate) fn new(
        parts: runtime_http::http::request::Parts,
        body: Buffer,
        peer: Option<SocketAddr>,
        default_content_type: Option<HeaderValue>,
        slot: Rc<ReplySlot>,
    ) -> HttpRequest {
        HttpRequest {
            inner: Rc::new(RequestInner {
                method: parts.method,
                uri: parts.uri,
                uri_text: OnceCell::new(),
                version: parts.version,
                peer,
                input_headers: RefCell::new(Headers::from(parts.headers)),
                output_headers: RefCell::new(Headers::new()),
                input_buffer: RefCell::new(body),
                output_buffer: RefCell::new(Buffer::new()),
                default_content_type,
                code: Cell::new(None),
                phase: Cell::new(Phase::Waiting),
                slot,
                chunks: RefCell::new(None),
            }),
        }
    }

    /// The method (`evhttp_request_get_command`): match it against
    /// `Method::GET`, `Method::POST` … where C switches on
    /// `EVHTTP_REQ_GET` ….
    pub fn command(&self) -> &Method {
        &self.inner.method
    }

    /// The request target as the client sent it (`evhttp_request_get_uri`):
    /// `/path?query` (or the whole URL for an absolute-form target).
    pub fn uri(&self) -> &str {
        let u = &self.inner.uri;
        if u.scheme().is_none() && u.authority().is_none() {
            return u.path_and_query().map_or("/", |p| p.as_str());
        }
        self.inner.uri_text.get_or_init(|| u.to_string())
    }

    /// The target parsed (`evhttp_request_get_evhttp_uri`).
    pub fn parsed_uri(&self) -> &Uri {
        &self.inner.uri
    }

    /// The path of the target, still percent-encoded
    /// (`evhttp_uri_get_path`).
    pub fn path(&self) -> &str {
        self.inner.uri.path()
    }

    /// The query of the target, without the `?` (`evhttp_uri_get_query`).
    pub fn query(&self) -> Option<&str> {
        self.inner.uri.query()
    }

    /// The target percent-decoded (`evhttp_decode_uri`): `%XX` escapes
    /// decoded (invalid ones kept as they are), `+` a space in the query.
    pub fn decoded_uri(&self) -> String {
        uri_decode(self.uri(), None)
    }

    /// The path percent-decoded (`evhttp_uridecode(path, 0, …)`): what the
    /// callbacks of [`Http::set_cb`](crate::Http::set_cb) are matched against.
    pub fn decoded_path(&self) -> String {
        self.decoded_path_cow().into_owned()
    }

    /// [`decoded_path`](HttpRequest::decoded_path), borrowed when there is
    /// nothing to decode.
    pub(crate) fn decoded_path_cow(&self) -> Cow<'_, str> {
        let p = self.path();
        if p.contains('%') {
            Cow::Owned(uri_decode(p, Some(false)))
        } else {
            Cow::Borrowed(p)
        }
    }

    /// The HTTP version of the request.
    pub fn version(&self) -> Version {
        self.inner.version
    }

    /// The host the request is for (`evhttp_request_get_host`): the
    /// target's host for an absolute-form target, else the `Host` header
    /// without its port.
    pub fn host(&self) -> Option<String> {
        if let Some(h) = self.inner.uri.host() {
            return Some(h.to_owned());
        }
        let headers = self.inner.input_headers.borrow();
        let v = headers.as_map().get(HOST)?.to_str().ok()?;
        Some(strip_port(v).to_owned())
    }

    /// The client's address (`evhttp_connection_get_peer` of
    /// `evhttp_request_get_connection`).
    pub fn peer(&self) -> Option<SocketAddr> {
        self.inner.peer
    }

    /// The header fields received (`evhttp_request_get_input_headers`).
    pub fn input_headers(&self) -> Ref<'_, Headers> {
        self.inner.input_headers.borrow()
    }

    /// The header fields of the reply (`evhttp_request_get_output_headers`),
    /// to add to before sending it. `Content-Length`,
    /// `Transfer-Encoding` and `Connection: keep-alive` are the server's
    /// to set (a `Content-Length` given before `send_reply_start` makes the
    /// streamed reply length-delimited instead of chunked; `Connection:
    /// close` closes the connection after the reply).
    ///
    /// # Panics
    /// When the headers are already borrowed (a guard from an earlier call
    /// still alive).
    pub fn output_headers(&self) -> RefMut<'_, Headers> {
        self.inner.output_headers.borrow_mut()
    }

    /// The request body, read whole before the callback runs
    /// (`evhttp_request_get_input_buffer`); the callback may drain it.
    ///
    /// # Panics
    /// When the buffer is already borrowed.
    pub fn input_buffer(&self) -> RefMut<'_, Buffer> {
        self.inner.input_buffer.borrow_mut()
    }

    /// The reply body being built (`evhttp_request_get_output_buffer`):
    /// what it holds is sent by [`send_reply`](HttpRequest::send_reply)
    /// ahead of the buffer given to it.
    ///
    /// # Panics
    /// When the buffer is already borrowed.
    pub fn output_buffer(&self) -> RefMut<'_, Buffer> {
        self.inner.output_buffer.borrow_mut()
    }

    /// The status code of the reply, once one was sent
    /// (`evhttp_request_get_response_code`).
    pub fn response_code(&self) -> Option<u16> {
        self.inner.code.get()
    }

    /// Whether the reply is complete (or the request can no longer be
    /// answered).
    pub fn is_done(&self) -> bool {
        self.inner.phase.get() == Phase::Done
    }

    /// Whether a streamed reply has nowhere to go any more: the client
    /// went away or its connection was closed (chunks sent then are
    /// dropped). A timer feeding a stream can stop on it.
    pub fn is_closed(&self) -> bool {
        match self.inner.chunks.borrow().as_ref() {
            Some(q) => q.borrow().is_closed(),
            None => false,
        }
    }

    fn check_waiting(&self) -> io::Result<()> {
        match self.inner.phase.get() {
            Phase::Waiting if self.inner.slot.is_waiting() => Ok(()),
            Phase::Waiting => {
                self.inner.phase.set(Phase::Done);
                Err(io::Error::new(
                    io::ErrorKind::NotConnected,
                    "the request can no longer be answered (its server was freed)",
                ))
            }
            _ => Err(invalid("the request was already answered")),
        }
    }

    /// The status and reason checked, before anything changes.
    fn status(code: u16, reason: Option<&str>) -> io::Result<(StatusCode, Option<ReasonPhrase>)> {
        let status = StatusCode::from_u16(code)
            .map_err(|_| invalid(format!("invalid status code {code}")))?;
        let phrase = match reason {
            Some(r) if Some(r) != status.canonical_reason() => {
                Some(ReasonPhrase::new(r).ok_or_else(|| invalid(format!("invalid reason {r:?}")))?)
            }
            _ => None,
        };
        Ok((status, phrase))
    }

    /// Whether a reply with `status` carries a body
    /// (`evhttp_response_needs_body`).
    fn needs_body(&self, status: StatusCode) -> bool {
        !(status.is_informational()
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
            || self.inner.method == Method::HEAD)
    }

    fn response(
        &self,
        status: StatusCode,
        phrase: Option<ReasonPhrase>,
        body: Body,
        mut headers: runtime_http::http::HeaderMap,
    ) -> Response<Body> {
        if self.needs_body(status) && !headers.contains_key(CONTENT_TYPE) {
            if let Some(ct) = &self.inner.default_content_type {
                headers.insert(CONTENT_TYPE, ct.clone());
            }
        }
        let mut resp = Response::new(body);
        *resp.status_mut() = status;
        *resp.headers_mut() = headers;
        if let Some(p) = phrase {
            resp.extensions_mut().insert(p);
        }
        resp
    }

    /// Sends the reply (`evhttp_send_reply`): status `code`, `reason` (or
    /// the code's standard phrase for `None`), the output headers, and as
    /// body the output buffer followed by `body` (both drained: their
    /// chunks move to the connection without a copy, file segments added
    /// with [`Buffer::add_file`] go out with `sendfile`). The reply is
    /// length-delimited, so the connection stays open for the next
    /// request unless the client or a `Connection: close` output header
    /// says otherwise. Without a `Content-Type` the server's default is
    /// added ([`Http::set_default_content_type`](crate::Http::set_default_content_type)).
    ///
    /// Errors: an invalid code or reason (`InvalidInput`; nothing sent), a
    /// request already answered, a server freed meanwhile.
    pub fn send_reply<'a>(
        &self,
        code: u16,
        reason: impl Into<Option<&'a str>>,
        body: Option<&mut Buffer>,
    ) -> io::Result<()> {
        let (status, phrase) = Self::status(code, reason.into())?;
        self.check_waiting()?;
        let mut out = self
            .inner
            .output_buffer
            .try_borrow_mut()
            .map_err(|_| busy("output buffer"))?;
        let mut headers = self
            .inner
            .output_headers
            .try_borrow_mut()
            .map_err(|_| busy("output headers"))?;
        if let Some(b) = body {
            out.add_buffer(b).map_err(io::Error::other)?;
        }
        let data = std::mem::take(&mut *out);
        let map = headers.take_map();
        drop((out, headers));
        let resp = self.response(status, phrase, Body::from_buffer(data), map);
        self.inner.code.set(Some(code));
        self.inner.phase.set(Phase::Done);
        self.inner.slot.fill(resp);
        Ok(())
    }

    /// Sends an error page (`evhttp_send_error`): status `code` with its
    /// standard phrase, a small HTML body naming it, followed by `reason`
    /// when given (evhttp also puts `reason` in the status line; here it
    /// goes in the page only), and `Connection: close`. The output headers
    /// are replaced, as evhttp does.
    pub fn send_error<'a>(&self, code: u16, reason: impl Into<Option<&'a str>>) -> io::Result<()> {
        let (status, _) = Self::status(code, None)?;
        let heading = status.canonical_reason().unwrap_or("Error");
        let page = format!(
            "<html><head><title>{code} {heading}</title></head><body><h1>{code} {heading}</h1>{}</body></html>",
            reason.into().unwrap_or("")
        );
        {
            let mut h = self
                .inner
                .output_headers
                .try_borrow_mut()
                .map_err(|_| busy("output headers"))?;
            let mut out = self
                .inner
                .output_buffer
                .try_borrow_mut()
                .map_err(|_| busy("output buffer"))?;
            self.check_waiting()?;
            h.clear();
            h.as_map_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
            h.as_map_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
            out.clear().map_err(io::Error::other)?;
            out.add(page.as_bytes()).map_err(io::Error::other)?;
        }
        self.send_reply(code, None, None)
    }

    /// The `404 Not Found` page evhttp sends when no callback matches.
    pub(crate) fn send_not_found(&self) -> io::Result<()> {
        let url = runtime_http::encoding::html_escape(self.uri());
        let reason = format!("<p>The requested URL {url} was not found on this server.</p>");
        self.send_error(404, reason.as_str())
    }

    /// Starts a streamed reply (`evhttp_send_reply_start`): the status line
    /// and output headers go out now; the body follows with
    /// [`send_reply_chunk`](HttpRequest::send_reply_chunk) and ends with
    /// [`send_reply_end`](HttpRequest::send_reply_end). Chunked for
    /// HTTP/1.1 clients; with a `Content-Length` output header, exactly
    /// that many bytes must follow (the connection is closed otherwise);
    /// HTTP/1.0 clients get a body delimited by closing the connection.
    pub fn send_reply_start<'a>(
        &self,
        code: u16,
        reason: impl Into<Option<&'a str>>,
    ) -> io::Result<()> {
        let (status, phrase) = Self::status(code, reason.into())?;
        self.check_waiting()?;
        let map = self
            .inner
            .output_headers
            .try_borrow_mut()
            .map_err(|_| busy("output headers"))?
            .take_map();
        let length = map
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
        let queue = Rc::new(RefCell::new(ChunkQueue::default()));
        let stream = ChunkStream(queue.clone());
        let body = match length {
            Some(n) => Body::sized_stream(n, stream),
            None => Body::from_stream(stream),
        };
        let resp = self.response(status, phrase, body, map);
        *self.inner.chunks.borrow_mut() = Some(queue);
        self.inner.code.set(Some(code));
        self.inner.phase.set(Phase::Streaming);
        self.inner.slot.fill(resp);
        Ok(())
    }

    /// Sends the contents of `buf` as the next piece of a streamed reply
    /// (`evhttp_send_reply_chunk`), draining it. As evhttp, nothing waits:
    /// the chunk is queued for the connection (a client that does not read
    /// makes the queue grow; see [`is_closed`](HttpRequest::is_closed) to
    /// stop feeding a client that went away). An empty buffer sends
    /// nothing.
    pub fn send_reply_chunk(&self, buf: &mut Buffer) -> io::Result<()> {
        if self.inner.phase.get() != Phase::Streaming {
            return Err(invalid("send_reply_chunk without send_reply_start"));
        }
        let data = buf.to_vec().map_err(io::Error::other)?;
        buf.clear().map_err(io::Error::other)?;
        if let Some(q) = self.inner.chunks.borrow().as_ref() {
            q.borrow_mut().push(data);
        }
        Ok(())
    }

    /// Ends a streamed reply (`evhttp_send_reply_end`); the connection
    /// then serves the client's next request.
    pub fn send_reply_end(&self) -> io::Result<()> {
        if self.inner.phase.get() != Phase::Streaming {
            return Err(invalid("send_reply_end without send_reply_start"));
        }
        self.inner.phase.set(Phase::Done);
        if let Some(q) = self.inner.chunks.borrow_mut().take() {
            q.borrow_mut().finish();
        }
        Ok(())
    }
}

/// `host` without a trailing `:digits` (`evhttp_request_get_host`).
fn strip_port(host: &str) -> &str {
    let digits = host.bytes().rev().take_while(u8::is_ascii_digit).count();
    let cut = host.len() - digits;
    if cut > 1 && host.as_bytes()[cut - 1] == b':' {
        &host[..cut - 1]
    } else {
        host
    }
}

#[cfg(test)]
mod tests {
    use super::{strip_port, uri_decode};

    #[test]
    fn decoding_as_evhttp() {
        assert_eq!(uri_decode("/a%20b?x=1+2", None), "/a b?x=1 2");
        assert_eq!(uri_decode("/a+b?x", None), "/a+b?x");
        assert_eq!(uri_decode("/a+b", Some(true)), "/a b");
        assert_eq!(uri_decode("/a+b?c+d", Some(false)), "/a+b?c+d");
        assert_eq!(uri_decode("/%zz%4", None), "/%zz%4");
        assert_eq!(uri_decode("/%41%4a", None), "/AJ");
    }

    #[test]
    fn ports_stripped() {
        assert_eq!(strip_port("example.com:8080"), "example.com");
        assert_eq!(strip_port("example.com"), "example.com");
        assert_eq!(strip_port("[::1]:80"), "[::1]");
        assert_eq!(strip_port(":80"), ":80");
    }
}
