//! Encodings (evhttp's utilities): percent-encoding
//! (`evhttp_uriencode` / `evhttp_uridecode`), query strings
//! (`evhttp_parse_query_str`), HTML escaping (`evhttp_htmlescape`). URIs
//! themselves are the `http` crate's [`Uri`](http::Uri) (parse with
//! `str::parse`, build with `Uri::builder`).
//!
//! ```
//! use runtime::http::encoding::*;
//!
//! assert_eq!(percent_encode("a b/ü"), "a%20b%2F%C3%BC");
//! assert_eq!(percent_decode("a%20b%2F%C3%BC").unwrap(), "a b/ü".as_bytes());
//! let q = parse_query("q=rust+http&lang=en&flag");
//! assert_eq!(q, vec![("q".into(), "rust http".into()), ("lang".into(), "en".into()), ("flag".into(), "".into())]);
//! assert_eq!(build_query(&[("q", "a&b")]), "q=a%26b");
//! assert_eq!(html_escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
//! ```

use crate::error::Error;

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Percent-encodes every byte but the RFC 3986 unreserved ones.
pub fn percent_encode(s: impl AsRef<[u8]>) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let s = s.as_ref();
    let mut out = String::with_capacity(s.len());
    for &b in s {
        if unreserved(b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn decode(s: &[u8], plus_is_space: bool) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' => {
                let (Some(h), Some(l)) = (
                    s.get(i + 1).copied().and_then(hex),
                    s.get(i + 2).copied().and_then(hex),
                ) else {
                    return Err(Error::Invalid("bad percent escape".into()));
                };
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    Ok(out)
}

/// Decodes `%XX` escapes (a malformed escape is an error; `+` stays `+`).
pub fn percent_decode(s: impl AsRef<[u8]>) -> Result<Vec<u8>, Error> {
    decode(s.as_ref(), false)
}

/// Parses `a=1&b=x+y`: names and values percent-decoded, `+` as space;
/// malformed pairs are kept as they are (lossy UTF-8).
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    let q = q.strip_prefix('?').unwrap_or(q);
    q.split(['&', ';'])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |x: &str| {
                decode(x.as_bytes(), true)
                    .map(|d| String::from_utf8_lossy(&d).into_owned())
                    .unwrap_or_else(|_| x.to_owned())
            };
            (dec(k), dec(v))
        })
        .collect()
}

/// Builds a query string from pairs (percent-encoded).
pub fn build_query<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                percent_encode(k.as_ref()),
                percent_encode(v.as_ref())
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Escapes `<`, `>`, `&`, `"` and `'` for HTML text and attributes.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_byte() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(percent_decode(percent_encode(&all)).unwrap(), all);
    }

    #[test]
    fn bad_escapes() {
        for bad in ["%", "%4", "%zz", "a%g0"] {
            assert!(percent_decode(bad).is_err(), "{bad}");
        }
        assert_eq!(percent_decode("a+b").unwrap(), b"a+b");
        assert_eq!(parse_query("?x=%zz"), vec![("x".into(), "%zz".into())]);
    }

    #[test]
    fn uri_parse_and_build() {
        let u: http::Uri = "http://h:8080/p/a%20b?x=1".parse().unwrap();
        assert_eq!(u.host(), Some("h"));
        assert_eq!(u.port_u16(), Some(8080));
        assert_eq!(percent_decode(u.path()).unwrap(), b"/p/a b");
        let built = http::Uri::builder()
            .scheme("http")
            .authority("h:1")
            .path_and_query(format!(
                "/{}?{}",
                percent_encode("a b"),
                build_query(&[("k", "v w")])
            ))
            .build()
            .unwrap();
        assert_eq!(built.to_string(), "http://h:1/a%20b?k=v%20w");
    }
}
