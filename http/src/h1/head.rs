//! Message heads: request heads parsed with `httparse` and checked for
//! framing attacks, response heads for the client, and the rules that pick
//! a body's framing.
//!
//! # Bare LF and obs-fold
//!
//! By default ([`HeadLimits::strict`] off) a bare LF ends a head line like
//! CRLF does — RFC 9112 §2.2 lets a recipient do so, and old clients send
//! them. A header continued on the next line (obs-fold, §5.2) is always
//! refused with 400. In strict mode, a bare LF anywhere in the head is
//! refused with 400 too. Chunked framing always wants CRLF.

use super::intern;
use crate::error::Error;
use bytes::{Bytes, BytesMut};
use http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, Version};
use std::mem::MaybeUninit;

/// How a message's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// The chunked transfer coding.
    Chunked,
    /// Everything until the connection closes (responses only).
    UntilClose,
}

/// Limits the head parser applies.
#[derive(Debug, Clone)]
pub struct HeadLimits {
    /// Most bytes of request line plus header fields (431 beyond).
    pub max_head_size: usize,
    /// Most header fields (431 beyond).
    pub max_headers: usize,
    /// Longest request target (414 beyond).
    pub max_uri_len: usize,
    /// Refuse bare LF line ends (400).
    pub strict: bool,
    /// Refuse an HTTP/1.1 request without `Host` (400), as RFC 9112
    /// requires. libevent's clients (evhttp, evrpc) send none; turn this
    /// off to serve them.
    pub require_host: bool,
}

impl Default for HeadLimits {
    fn default() -> Self {
        HeadLimits {
            max_head_size: 16 * 1024,
            max_headers: 64,
            max_uri_len: 8 * 1024,
            strict: false,
            require_host: true,
        }
    }
}

/// A parsed, checked request head.
#[derive(Debug)]
pub struct RequestHead {
    /// The request method.
    pub method: Method,
    /// The request target.
    pub uri: Uri,
    /// HTTP/1.0 or HTTP/1.1.
    pub version: Version,
    /// The header fields.
    pub headers: HeaderMap,
    /// How the body is delimited.
    pub framing: Framing,
    /// Whether the connection may be reused after this exchange.
    pub keep_alive: bool,
    /// `Expect: 100-continue` was sent.
    pub expect_continue: bool,
}

fn too_large(why: &'static str) -> Error {
    Error::Protocol(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, why)
}

fn uri_too_long() -> Error {
    Error::Protocol(StatusCode::URI_TOO_LONG, "request target too long")
}

fn map_httparse(e: httparse::Error) -> Error {
    match e {
        httparse::Error::TooManyHeaders => too_large("too many header fields"),
        httparse::Error::Version => Error::Protocol(
            StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            "unsupported HTTP version",
        ),
        httparse::Error::HeaderName => Error::bad("invalid header name"),
        httparse::Error::HeaderValue => Error::bad("invalid header value"),
        httparse::Error::NewLine => Error::bad("invalid line end"),
        httparse::Error::Token => Error::bad("invalid token in request line"),
        _ => Error::bad("malformed message head"),
    }
}

/// Whether `head` holds an LF not preceded by CR.
fn has_bare_lf(head: &[u8]) -> bool {
    head.iter()
        .enumerate()
        .any(|(i, &b)| b == b'\n' && (i == 0 || head[i - 1] != b'\r'))
}

/// Where the bytes of parsed request heads with more than a few fields
/// live: each such head is copied once into a shared buffer, and the
/// request target and header values are slices of it (no allocation per
/// value). The buffer is reclaimed when
/// the requests made from it are gone, so a keep-alive connection parses
/// head after head without allocating for them.
#[derive(Default)]
pub(crate) struct HeadArena {
    buf: BytesMut,
}

/// Smallest arena allocation.
const ARENA_MIN: usize = 2048;

/// Most header values (plus a target other than `/`) a request head may
/// have for each to get a buffer of its own instead of a slice of the
/// arena's copy of the head (see `parse_request_in`).
const OWN_COPIES_MAX: usize = 4;

impl HeadArena {
    /// `head` copied into the arena.
    fn share(&mut self, head: &[u8]) -> Bytes {
        if self.buf.capacity() < head.len() {
            self.buf.reserve(head.len().max(ARENA_MIN));
        }
        self.buf.extend_from_slice(head);
        self.buf.split().freeze()
    }
}

/// Parses a request head from the front of `buf`: `Ok(None)` when more
/// bytes are needed, else the head and its length in bytes. Every error
/// carries the status to answer with; after one the connection must close.
///
/// ```
/// use runtime::http::h1::{parse_request, Framing, HeadLimits};
///
/// let req = b"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc";
/// let (head, len) = parse_request(req, &HeadLimits::default()).unwrap().unwrap();
/// assert_eq!(head.framing, Framing::Length(3));
/// assert_eq!(&req[len..], b"abc");
/// let smuggle = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n";
/// assert_eq!(parse_request(smuggle, &HeadLimits::default()).unwrap_err().status(), 400);
/// ```
pub fn parse_request(
    buf: &[u8],
    limits: &HeadLimits,
) -> Result<Option<(RequestHead, usize)>, Error> {
    let mut req = http::Request::new(());
    let Some((rules, len)) = parse_request_in(buf, limits, &mut HeadArena::default(), &mut req)?
    else {
        return Ok(None);
    };
    let (parts, ()) = req.into_parts();
    Ok(Some((
        RequestHead {
            method: parts.method,
            uri: parts.uri,
            version: parts.version,
            headers: parts.headers,
            framing: rules.framing,
            keep_alive: rules.keep_alive,
            expect_continue: rules.expect_continue,
        },
        len,
    )))
}

/// What a request head says beyond its method, target, version and fields.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeadRules {
    /// How the body is delimited.
    pub(crate) framing: Framing,
    /// Whether the connection may be reused after this exchange.
    pub(crate) keep_alive: bool,
    /// `Expect: 100-continue` was sent.
    pub(crate) expect_continue: bool,
}

/// [`parse_request`] keeping the head's bytes in `arena` and writing the
/// method, target, version and fields straight into `out` (a fresh
/// request: its target `/`, its field map empty), so the head is not moved
/// from value to value on its way to the handler. `Ok(None)` leaves `out`
/// untouched; after an error it is half filled.
pub(crate) fn parse_request_in<B>(
    buf: &[u8],
    limits: &HeadLimits,
    arena: &mut HeadArena,
    out: &mut http::Request<B>,
) -> Result<Option<(HeadRules, usize)>, Error> {
    // The request line alone may not exceed the URI limit (plus room for
    // method and version): 414 rather than 431. Looked at only when the
    // head is not complete (a complete one has its target checked below).
    let line_too_long = || {
        let line_room = limits.max_uri_len.saturating_add(32);
        buf.len() > line_room && memchr(b'\n', &buf[..line_room.saturating_add(1)]).is_none()
    };
    // Uninitialised slots: httparse writes those it fills.
    let mut stack = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; 128];
    let mut heap;
    let slots: &mut [MaybeUninit<httparse::Header<'_>>] = if limits.max_headers <= stack.len() {
        &mut stack[..limits.max_headers]
    } else {
        heap = Vec::with_capacity(limits.max_headers);
        heap.resize_with(limits.max_headers, MaybeUninit::uninit);
        &mut heap[..]
    };
    let mut req = httparse::Request::new(&mut []);
    let len = match req.parse_with_uninit_headers(buf, slots) {
        Ok(httparse::Status::Complete(n)) => n,
        _ if line_too_long() => return Err(uri_too_long()),
        Ok(httparse::Status::Partial) => {
            if buf.len() > limits.max_head_size {
                return Err(too_large("request head too large"));
            }
            return Ok(None);
        }
        Err(e) => return Err(map_httparse(e)),
    };
    if len > limits.max_head_size {
        return Err(too_large("request head too large"));
    }
    if limits.strict && has_bare_lf(&buf[..len]) {
        return Err(Error::bad("bare LF in message head"));
    }
    let path = req.path.unwrap_or("");
    if path.len() > limits.max_uri_len {
        return Err(uri_too_long());
    }
    let method = match req.method.unwrap_or("") {
        // The commonest without `from_bytes`'s length dispatch.
        "GET" => Method::GET,
        m => Method::from_bytes(m.as_bytes()).map_err(|_| Error::bad("invalid method"))?,
    };
    let version = match req.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    let raw: &[httparse::Header<'_>] = req.headers;
    // The framing and connection rules read the fields as parsed, before
    // any map is built.
    let fields = Fields::scan(raw);
    let framing = request_framing(&fields, raw, version)?;
    match fields.hosts {
        0 if version == Version::HTTP_11 && limits.require_host => {
            return Err(Error::bad("missing Host header"))
        }
        0 | 1 => {}
        _ => return Err(Error::bad("more than one Host header")),
    }
    let keep_alive = fields.keep_alive(raw, version);
    let expect_continue = match fields.values(raw, Field::Expect).next() {
        None => false,
        Some(v) if v.eq_ignore_ascii_case(b"100-continue") => version == Version::HTTP_11,
        Some(_) => {
            return Err(Error::Protocol(
                StatusCode::EXPECTATION_FAILED,
                "unsupported expectation",
            ))
        }
    };
    // The target (when not `/`) and the values: with a few of them, each is
    // copied into a buffer of its own; with more, they are slices of one
    // copy of the head in the arena. A shared buffer's reference count costs
    // an atomic read-modify-write per slice made and dropped (four per
    // request with one field), more time than a small allocation from the
    // thread's cache; but past a few same-sized allocations per request the
    // allocator's cache overflows and the shared copy is cheaper again.
    let copies = raw.len() + usize::from(path != "/");
    let shared = (copies > OWN_COPIES_MAX).then(|| arena.share(&buf[..len]));
    let slice_of = |part: &[u8]| -> Bytes {
        let Some(shared) = &shared else {
            return Bytes::copy_from_slice(part);
        };
        let off = (part.as_ptr() as usize).wrapping_sub(buf.as_ptr() as usize);
        if part.is_empty() || off > len || len - off < part.len() {
            Bytes::copy_from_slice(part)
        } else {
            shared.slice(off..off + part.len())
        }
    };
    if path != "/" {
        // (The default target is `/`.)
        *out.uri_mut() = Uri::from_maybe_shared(slice_of(path.as_bytes()))
            .map_err(|_| Error::bad("invalid request target"))?;
    }
    let headers = out.headers_mut();
    if raw.len() > 6 {
        // The first append makes room for six; more are made room for at
        // once rather than by growing.
        headers.reserve(raw.len());
    }
    for h in raw {
        let field = Field::of(h.name);
        let name = match field {
            // The common fields without a lookup.
            Some(f) => f.name(),
            None => HeaderName::from_bytes(h.name.as_bytes())
                .map_err(|_| Error::bad("invalid header name"))?,
        };
        // `Host` takes a few values on a server: those are interned.
        let interned = match field {
            Some(Field::Host) => intern::host(h.value),
            _ => None,
        };
        let value = if let Some(v) = interned {
            v
        } else if h.value.is_ascii() {
            // SAFETY: httparse let through only tab, space, visible ASCII
            // and obs-text (0x80-0xFF) in a value: ASCII ones are valid
            // UTF-8 and a valid header value, all this call asks.
            unsafe { HeaderValue::from_maybe_shared_unchecked(slice_of(h.value)) }
        } else {
            HeaderValue::from_maybe_shared(slice_of(h.value))
                .map_err(|_| Error::bad("invalid header value"))?
        };
        headers.append(name, value);
    }
    *out.method_mut() = method;
    *out.version_mut() = version;
    Ok(Some((
        HeadRules {
            framing,
            keep_alive,
            expect_continue,
        },
        len,
    )))
}

/// The fields the framing and connection rules look at.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    TransferEncoding,
    ContentLength,
    Host,
    Connection,
    Expect,
}

impl Field {
    fn of(name: &str) -> Option<Field> {
        let (field, text) = match name.len() {
            4 => (Field::Host, "host"),
            6 => (Field::Expect, "expect"),
            10 => (Field::Connection, "connection"),
            14 => (Field::ContentLength, "content-length"),
            17 => (Field::TransferEncoding, "transfer-encoding"),
            _ => return None,
        };
        lower_eq(name.as_bytes(), text.as_bytes()).then_some(field)
    }

    /// The field's name.
    fn name(self) -> HeaderName {
        match self {
            Field::TransferEncoding => header::TRANSFER_ENCODING,
            Field::ContentLength => header::CONTENT_LENGTH,
            Field::Host => header::HOST,
            Field::Connection => header::CONNECTION,
            Field::Expect => header::EXPECT,
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// Whether the field name `name` is `lower` (lowercase letters and `-`, the
/// same length) in any case, eight bytes at a time. Or-ing 0x20 lowers the
/// letters and leaves `-` alone; another byte matches only if it is a
/// control character (`-` | 0x20 is `-`, so CR would match it), which a
/// parsed field name, a token, never holds.
fn lower_eq(name: &[u8], lower: &[u8]) -> bool {
    if name.len() != lower.len() {
        return false;
    }
    let mut a = name.chunks_exact(8);
    let mut b = lower.chunks_exact(8);
    for (x, y) in a.by_ref().zip(b.by_ref()) {
        let x = u64::from_le_bytes(x.try_into().unwrap_or([0; 8]));
        let y = u64::from_le_bytes(y.try_into().unwrap_or([0; 8]));
        if x | 0x2020_2020_2020_2020 != y {
            return false;
        }
    }
    a.remainder()
        .iter()
        .zip(b.remainder())
        .all(|(&x, &y)| x | 0x20 == y)
}

/// Which of the [`Field`]s a head has: one pass over the parsed fields, so
/// those absent cost nothing more.
struct Fields {
    present: u8,
    /// `Host` fields seen (at most 2 counted).
    hosts: u8,
}

impl Fields {
    fn scan(raw: &[httparse::Header<'_>]) -> Fields {
        let mut present = 0;
        let mut hosts = 0u8;
        for h in raw {
            if let Some(f) = Field::of(h.name) {
                present |= f.bit();
                if f == Field::Host {
                    hosts = hosts.saturating_add(1).min(2);
                }
            }
        }
        Fields { present, hosts }
    }

    fn has(&self, f: Field) -> bool {
        self.present & f.bit() != 0
    }

    /// The values of field `f`, in order.
    fn values<'a>(
        &self,
        raw: &'a [httparse::Header<'a>],
        f: Field,
    ) -> impl Iterator<Item = &'a [u8]> + 'a {
        let any = self.has(f);
        raw.iter()
            .take(if any { raw.len() } else { 0 })
            .filter(move |h| Field::of(h.name) == Some(f))
            .map(|h| h.value)
    }

    fn keep_alive(&self, raw: &[httparse::Header<'_>], version: Version) -> bool {
        if !self.has(Field::Connection) {
            return version == Version::HTTP_11;
        }
        let has = |token: &[u8]| {
            self.values(raw, Field::Connection)
                .any(|v| list_has(v, token))
        };
        if version == Version::HTTP_11 {
            !has(b"close")
        } else {
            has(b"keep-alive") && !has(b"close")
        }
    }
}

/// Whether the comma-separated list `v` holds `token` (any case).
fn list_has(v: &[u8], token: &[u8]) -> bool {
    v.split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

/// The `Content-Length`, if any: every value (repeated fields, comma lists)
/// must be the same run of 1 to 19 digits.
fn content_length<'a>(values: impl Iterator<Item = &'a [u8]>) -> Result<Option<u64>, Error> {
    let mut found: Option<u64> = None;
    for v in values {
        for part in v.split(|&b| b == b',') {
            let part = part.trim_ascii();
            if part.is_empty() || part.len() > 19 || !part.iter().all(u8::is_ascii_digit) {
                return Err(Error::bad("malformed Content-Length"));
            }
            let n = part
                .iter()
                .fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0'));
            match found {
                Some(prev) if prev != n => return Err(Error::bad("conflicting Content-Length")),
                _ => found = Some(n),
            }
        }
    }
    Ok(found)
}

/// Whether the `Transfer-Encoding` fields end in `chunked` (checked: no
/// coding repeated, `chunked` only last; any other coding is 501).
fn transfer_chunked<'a>(
    values: impl Iterator<Item = &'a [u8]>,
    is_request: bool,
) -> Result<Option<bool>, Error> {
    let mut codings = 0;
    let mut chunked_at = None;
    let mut any = false;
    for v in values {
        any = true;
        for part in v.split(|&b| b == b',') {
            let part = part.trim_ascii();
            if part.is_empty() {
                return Err(Error::bad("empty transfer coding"));
            }
            if part.eq_ignore_ascii_case(b"chunked") {
                if chunked_at.is_some() {
                    return Err(Error::bad("chunked applied more than once"));
                }
                chunked_at = Some(codings);
            } else if is_request {
                let known = [
                    &b"gzip"[..],
                    b"deflate",
                    b"compress",
                    b"x-gzip",
                    b"identity",
                ]
                .iter()
                .any(|k| part.eq_ignore_ascii_case(k));
                return Err(if known {
                    Error::Protocol(
                        StatusCode::NOT_IMPLEMENTED,
                        "transfer coding not implemented",
                    )
                } else {
                    Error::Protocol(StatusCode::NOT_IMPLEMENTED, "unknown transfer coding")
                });
            }
            codings += 1;
        }
    }
    if !any {
        return Ok(None);
    }
    match chunked_at {
        Some(i) if i + 1 == codings => Ok(Some(true)),
        Some(_) => Err(Error::bad("chunked is not the last transfer coding")),
        None if is_request => Err(Error::bad("request body coding without chunked")),
        None => Ok(Some(false)),
    }
}

fn request_framing(
    fields: &Fields,
    raw: &[httparse::Header<'_>],
    version: Version,
) -> Result<Framing, Error> {
    if !fields.has(Field::TransferEncoding) && !fields.has(Field::ContentLength) {
        // Most requests: neither field, no body.
        return Ok(Framing::Empty);
    }
    let te = transfer_chunked(fields.values(raw, Field::TransferEncoding), true)?;
    let cl = content_length(fields.values(raw, Field::ContentLength))?;
    match (te, cl) {
        (Some(_), Some(_)) => Err(Error::bad("both Content-Length and Transfer-Encoding")),
        (Some(_), None) if version == Version::HTTP_10 => {
            Err(Error::bad("Transfer-Encoding in an HTTP/1.0 request"))
        }
        (Some(_), None) => Ok(Framing::Chunked),
        (None, Some(0)) | (None, None) => Ok(Framing::Empty),
        (None, Some(n)) => Ok(Framing::Length(n)),
    }
}

/// The parsed fields as a map (values copied).
fn to_header_map(parsed: &[httparse::Header<'_>]) -> Result<HeaderMap, Error> {
    let mut headers = HeaderMap::with_capacity(parsed.len());
    for h in parsed {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| Error::bad("invalid header name"))?;
        let value =
            HeaderValue::from_bytes(h.value).map_err(|_| Error::bad("invalid header value"))?;
        headers.append(name, value);
    }
    Ok(headers)
}

/// A parsed response head (client side).
#[derive(Debug)]
pub struct ResponseHead {
    /// The status code.
    pub status: StatusCode,
    /// HTTP/1.0 or HTTP/1.1.
    pub version: Version,
    /// The header fields.
    pub headers: HeaderMap,
    /// How the body is delimited (given the request method).
    pub framing: Framing,
    /// Whether the connection may be reused after this response.
    pub keep_alive: bool,
}

/// Parses a response head from the front of `buf` (see
/// [`parse_request`]); `method` is the request's, for HEAD.
pub fn parse_response(
    buf: &[u8],
    method: &Method,
    limits: &HeadLimits,
) -> Result<Option<(ResponseHead, usize)>, Error> {
    let mut stack = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; 128];
    let mut heap;
    let slots: &mut [MaybeUninit<httparse::Header<'_>>] = if limits.max_headers <= stack.len() {
        &mut stack[..limits.max_headers]
    } else {
        heap = Vec::with_capacity(limits.max_headers);
        heap.resize_with(limits.max_headers, MaybeUninit::uninit);
        &mut heap[..]
    };
    let mut res = httparse::Response::new(&mut []);
    let len = match httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut res, buf, slots)
    {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            if buf.len() > limits.max_head_size {
                return Err(too_large("response head too large"));
            }
            return Ok(None);
        }
        Err(e) => return Err(map_httparse(e)),
    };
    if len > limits.max_head_size {
        return Err(too_large("response head too large"));
    }
    let status = StatusCode::from_u16(res.code.unwrap_or(0))
        .map_err(|_| Error::bad("invalid status code"))?;
    let version = match res.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    let raw: &[httparse::Header<'_>] = res.headers;
    let fields = Fields::scan(raw);
    let headers = to_header_map(raw)?;
    let no_body = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || *method == Method::HEAD;
    let te = transfer_chunked(fields.values(raw, Field::TransferEncoding), false)?;
    let cl = content_length(fields.values(raw, Field::ContentLength))?;
    let mut keep_alive = fields.keep_alive(raw, version);
    let framing = if no_body {
        Framing::Empty
    } else {
        match (te, cl) {
            (Some(_), Some(_)) => {
                return Err(Error::bad("both Content-Length and Transfer-Encoding"))
            }
            (Some(true), None) => Framing::Chunked,
            (Some(false), None) | (None, None) => {
                keep_alive = false;
                Framing::UntilClose
            }
            (None, Some(0)) => Framing::Empty,
            (None, Some(n)) => Framing::Length(n),
        }
    };
    Ok(Some((
        ResponseHead {
            status,
            version,
            headers,
            framing,
            keep_alive,
        },
        len,
    )))
}

/// Position of the first `b` in `hay`.
pub(crate) fn memchr(b: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&c| c == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &[u8]) -> Result<Option<(RequestHead, usize)>, Error> {
        parse_request(s, &HeadLimits::default())
    }

    #[test]
    fn simple_and_partial() {
        let (h, n) = parse(b"GET /a?b HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(n, 30);
        assert_eq!(h.method, Method::GET);
        assert_eq!(h.uri.path(), "/a");
        assert!(h.keep_alive);
        assert_eq!(h.framing, Framing::Empty);
        assert!(parse(b"GET /a HTTP/1.1\r\nHost: x\r\n").unwrap().is_none());
        let (h, _) = parse(b"GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert!(!h.keep_alive);
        let (h, _) = parse(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(h.keep_alive);
    }

    #[test]
    fn field_names_in_any_case() {
        for (name, f) in [
            ("Host", Some(Field::Host)),
            ("HOST", Some(Field::Host)),
            ("hosT", Some(Field::Host)),
            ("Hos", None),
            ("Hosts", None),
            ("Content-Length", Some(Field::ContentLength)),
            ("content-LENGTH", Some(Field::ContentLength)),
            ("Content_Length", None),
            ("Content-Lengtx", None),
            ("Transfer-Encoding", Some(Field::TransferEncoding)),
            ("transfer-encodinG", Some(Field::TransferEncoding)),
            ("Transfer-Encodinh", None),
            ("Connection", Some(Field::Connection)),
            ("Expect", Some(Field::Expect)),
            ("Expecu", None),
        ] {
            assert!(Field::of(name) == f, "{name}");
        }
        let (h, _) = parse(b"GET / HTTP/1.1\r\nhOsT: x\r\nCONNECTION: close\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(h.headers[header::HOST], "x");
        assert!(!h.keep_alive);
    }

    #[test]
    fn values_and_targets_on_both_sides_of_the_own_copies_limit() {
        // With up to OWN_COPIES_MAX values (and target) each is a buffer of
        // its own, past it a slice of the arena's copy: the request is the
        // same either way, and independent of the input bytes.
        for target in ["/", "/p/q?r=s"] {
            for extra in 0..=OWN_COPIES_MAX + 2 {
                let mut head = format!("GET {target} HTTP/1.1\r\nHost: h.example:81\r\n");
                for i in 0..extra {
                    head.push_str(&format!("X-F{i}: value {i}\r\n"));
                }
                head.push_str("X-Empty:\r\nX-Obs: caf\u{e9}\r\n\r\n");
                let mut buf = head.into_bytes();
                let (h, n) = parse(&buf).unwrap().unwrap();
                assert_eq!(n, buf.len());
                buf.fill(b'#');
                assert_eq!(h.uri, target, "{extra}");
                assert_eq!(h.headers.len(), extra + 3);
                assert_eq!(h.headers[header::HOST], "h.example:81");
                for i in 0..extra {
                    assert_eq!(h.headers[format!("x-f{i}").as_str()], format!("value {i}"));
                }
                assert_eq!(h.headers["x-empty"], "");
                assert_eq!(h.headers["x-obs"].as_bytes(), "caf\u{e9}".as_bytes());
            }
        }
    }

    #[test]
    fn field_values_ascii_and_obs_text_and_targets() {
        let (h, _) =
            parse(b"GET /a/b?c=d HTTP/1.1\r\nHost: x\r\nX-A: tab\there\r\nX-B: caf\xe9\r\n\r\n")
                .unwrap()
                .unwrap();
        assert_eq!(h.uri, "/a/b?c=d");
        assert_eq!(h.headers["x-a"].as_bytes(), b"tab\there");
        assert_eq!(h.headers["x-b"].as_bytes(), b"caf\xe9");
        assert!(h.headers["x-b"].to_str().is_err());
        let (h, _) = parse(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(h.uri, "/");
        assert_eq!(h.uri.path(), "/");
        // A control character in a value is refused.
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nHost: x\r\nX-C: a\x01b\r\n\r\n")
                .unwrap_err()
                .status(),
            400
        );
    }

    #[test]
    fn bare_lf_is_lenient_unless_strict() {
        let req = b"GET / HTTP/1.1\nHost: x\n\n";
        assert!(parse(req).unwrap().is_some());
        let strict = HeadLimits {
            strict: true,
            ..HeadLimits::default()
        };
        assert_eq!(parse_request(req, &strict).unwrap_err().status(), 400);
    }

    #[test]
    fn framing_attacks() {
        let cases: &[(&[u8], u16)] = &[
            (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 501),
            (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n", 501),
            (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: x\x01\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHo(st: x\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
            (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
            (b"GET / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n", 417),
        ];
        for (req, status) in cases {
            let e = parse(req).unwrap_err();
            assert_eq!(
                e.status().as_u16(),
                *status,
                "{}",
                String::from_utf8_lossy(req)
            );
        }
    }

    #[test]
    fn limits() {
        let l = HeadLimits {
            max_uri_len: 100,
            max_headers: 3,
            max_head_size: 300,
            strict: false,
            require_host: true,
        };
        let long = format!("GET /{} HTTP/1.1\r\n", "a".repeat(200));
        assert_eq!(
            parse_request(long.as_bytes(), &l).unwrap_err().status(),
            414
        );
        let many = "GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
        assert_eq!(
            parse_request(many.as_bytes(), &l).unwrap_err().status(),
            431
        );
        let big = format!("GET / HTTP/1.1\r\nHost: x\r\nA: {}\r\n", "b".repeat(300));
        assert_eq!(parse_request(big.as_bytes(), &l).unwrap_err().status(), 431);
    }

    #[test]
    fn responses() {
        let m = Method::GET;
        let l = HeadLimits::default();
        let (r, _) = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", &m, &l)
            .unwrap()
            .unwrap();
        assert_eq!(r.framing, Framing::Length(5));
        let (r, _) = parse_response(b"HTTP/1.1 200 OK\r\n\r\n", &m, &l)
            .unwrap()
            .unwrap();
        assert_eq!(r.framing, Framing::UntilClose);
        assert!(!r.keep_alive);
        let (r, _) = parse_response(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
            &Method::HEAD,
            &l,
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.framing, Framing::Empty);
    }
}
