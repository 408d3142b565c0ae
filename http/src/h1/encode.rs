//! Writing message heads into a [`Buffer`](runtime_io::Buffer).

use super::date::with_date;
use http::header::{CONNECTION, CONTENT_LENGTH, DATE, TRANSFER_ENCODING};
use http::{HeaderMap, Method, StatusCode, Uri, Version};

/// How a body we send is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutFraming {
    /// No body and no length header (1xx, 204, 304 responses; requests
    /// without a body).
    None,
    Length(u64),
    Chunked,
    /// Delimited by closing the connection (HTTP/1.0 peers).
    Close,
}

/// Appends `n` in decimal.
pub(crate) fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    if n < 100 {
        // Short bodies: one or two digits, no scratch buffer.
        if n >= 10 {
            out.push(b'0' + (n / 10) as u8);
        }
        out.push(b'0' + (n % 10) as u8);
        return;
    }
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&tmp[i..]);
}

/// Appends the header fields except the framing ones; returns whether a
/// `Date` was among them and whether `Connection` asked to close.
fn push_headers(out: &mut Vec<u8>, headers: &HeaderMap) -> (bool, bool) {
    if headers.is_empty() {
        return (false, false);
    }
    let mut date = false;
    let mut close = false;
    for (name, value) in headers {
        if name == CONTENT_LENGTH || name == TRANSFER_ENCODING {
            continue;
        }
        if name == CONNECTION {
            close |= value
                .as_bytes()
                .split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"));
            continue;
        }
        date |= name == DATE;
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    (date, close)
}

fn push_framing(out: &mut Vec<u8>, framing: OutFraming) {
    match framing {
        OutFraming::Length(n) => {
            out.extend_from_slice(b"content-length: ");
            push_u64(out, n);
            out.extend_from_slice(b"\r\n");
        }
        OutFraming::Chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        OutFraming::None | OutFraming::Close => {}
    }
}

/// Writes a response head: status line (with `reason`, or the status's
/// standard phrase), the headers (without `Content-Length`,
/// `Transfer-Encoding`, `Connection`, which come from `framing` and
/// `keep_alive`), `Date` unless given. Returns whether the connection
/// stays open: `keep_alive`, unless the headers hold `Connection: close`.
pub(crate) fn response_head(
    out: &mut Vec<u8>,
    status: StatusCode,
    reason: Option<&str>,
    headers: &HeaderMap,
    framing: OutFraming,
    keep_alive: bool,
    peer_version: Version,
) -> bool {
    if status == StatusCode::OK && reason.is_none() {
        out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    } else {
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(status.as_str().as_bytes());
        out.push(b' ');
        let reason = reason.or(status.canonical_reason()).unwrap_or("Unknown");
        out.extend_from_slice(reason.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let (has_date, close) = push_headers(out, headers);
    if !has_date {
        out.extend_from_slice(b"date: ");
        with_date(|d| out.extend_from_slice(d));
        out.extend_from_slice(b"\r\n");
    }
    push_framing(out, framing);
    let keep_alive = keep_alive && !close;
    if !keep_alive {
        out.extend_from_slice(b"connection: close\r\n");
    } else if peer_version == Version::HTTP_10 {
        out.extend_from_slice(b"connection: keep-alive\r\n");
    }
    out.extend_from_slice(b"\r\n");
    keep_alive
}

/// Writes a request head (client side). `uri` is sent in origin form
/// (path and query); `host` goes in `Host` unless the headers have one.
pub(crate) fn request_head(
    out: &mut Vec<u8>,
    method: &Method,
    uri: &Uri,
    host: &str,
    headers: &HeaderMap,
    framing: OutFraming,
    keep_alive: bool,
) {
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    out.extend_from_slice(if target.is_empty() {
        b"/"
    } else {
        target.as_bytes()
    });
    out.extend_from_slice(b" HTTP/1.1\r\n");
    if !headers.contains_key(http::header::HOST) {
        out.extend_from_slice(b"host: ");
        out.extend_from_slice(host.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    // The request's own `Connection` header is dropped like the other
    // framing fields: `keep_alive` decides.
    push_headers(out, headers);
    push_framing(out, framing);
    if !keep_alive {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        let mut v = Vec::new();
        for n in [0, 7, 10, 14, 99, 100, 101, 65536, u64::MAX] {
            push_u64(&mut v, n);
            v.push(b' ');
        }
        assert_eq!(v, b"0 7 10 14 99 100 101 65536 18446744073709551615 ");
    }

    /// The head without its `Date` line, which changes every second.
    fn head_of(
        status: StatusCode,
        headers: &HeaderMap,
        framing: OutFraming,
        keep_alive: bool,
        version: Version,
    ) -> (String, bool) {
        let mut v = Vec::new();
        let kept = response_head(&mut v, status, None, headers, framing, keep_alive, version);
        let text = String::from_utf8(v).unwrap();
        let dates = text.matches("date: ").count();
        assert_eq!(dates, 1, "{text}");
        let without: Vec<&str> = text
            .split_inclusive("\r\n")
            .filter(|l| !l.starts_with("date: ") || l.ends_with("given\r\n"))
            .collect();
        (without.concat(), kept)
    }

    #[test]
    fn heads_in_every_shape() {
        let none = HeaderMap::new();
        let ok = StatusCode::OK;
        assert_eq!(
            head_of(ok, &none, OutFraming::Length(14), true, Version::HTTP_11),
            ("HTTP/1.1 200 OK\r\ncontent-length: 14\r\n\r\n".into(), true)
        );
        // The longest tail: 20 digits and the keep-alive an HTTP/1.0 peer needs.
        assert_eq!(
            head_of(
                ok,
                &none,
                OutFraming::Length(u64::MAX),
                true,
                Version::HTTP_10
            ),
            (
                "HTTP/1.1 200 OK\r\ncontent-length: 18446744073709551615\r\n\
                 connection: keep-alive\r\n\r\n"
                    .into(),
                true
            )
        );
        assert_eq!(
            head_of(
                StatusCode::NOT_FOUND,
                &none,
                OutFraming::Chunked,
                false,
                Version::HTTP_11
            ),
            (
                "HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
                    .into(),
                false
            )
        );
        // The handler's own Date is kept, and no second one is added; its
        // `Connection: close` closes; framing fields of its own are dropped.
        let mut h = HeaderMap::new();
        h.insert(DATE, "given".parse().unwrap());
        h.insert(CONNECTION, "Close".parse().unwrap());
        h.insert(CONTENT_LENGTH, "99".parse().unwrap());
        h.insert("x-a", "b".parse().unwrap());
        let (text, kept) = head_of(
            StatusCode::NO_CONTENT,
            &h,
            OutFraming::None,
            true,
            Version::HTTP_11,
        );
        assert!(!kept);
        assert!(text.starts_with("HTTP/1.1 204 No Content\r\n"), "{text}");
        assert!(
            text.contains("date: given\r\n") && text.contains("x-a: b\r\n"),
            "{text}"
        );
        assert!(text.ends_with("\r\nconnection: close\r\n\r\n"), "{text}");
        assert!(!text.contains("99"), "{text}");
    }

    #[test]
    fn reason_phrase_replaces_the_standard_one() {
        let h = HeaderMap::new();
        let mut v = Vec::new();
        response_head(
            &mut v,
            StatusCode::OK,
            Some("Fine"),
            &h,
            OutFraming::Length(0),
            true,
            Version::HTTP_11,
        );
        assert!(v.starts_with(b"HTTP/1.1 200 Fine\r\n"));
        v.clear();
        response_head(
            &mut v,
            StatusCode::NOT_FOUND,
            None,
            &h,
            OutFraming::Length(0),
            true,
            Version::HTTP_11,
        );
        assert!(v.starts_with(b"HTTP/1.1 404 Not Found\r\n"));
    }
}
