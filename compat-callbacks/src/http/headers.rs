//! [`Headers`]: libevent's `struct evkeyvalq` of header fields, with
//! `evhttp_find_header`, `evhttp_add_header`, `evhttp_remove_header` and
//! `evhttp_clear_headers` as methods, over the `http` crate's
//! [`HeaderMap`].

use runtime_http::http::header::{HeaderName, HeaderValue};
use runtime_http::http::HeaderMap;
use std::io;

/// A list of header fields (`struct evkeyvalq`): names are
/// case-insensitive, a name may repeat, fields keep their order per name.
///
/// ```
/// use runtime::compat::Headers;
///
/// let mut h = Headers::new();
/// h.add("Content-Type", "text/html").unwrap();
/// h.add("X-Tag", "a").unwrap();
/// h.add("x-tag", "b").unwrap();
/// assert_eq!(h.find("content-type"), Some("text/html"));
/// assert_eq!(h.find("X-TAG"), Some("a")); // the first one, as evhttp_find_header
/// assert_eq!(h.len(), 3);
/// // No header injection: CR and LF are refused, as by evhttp_add_header.
/// assert!(h.add("X-Evil", "a\r\nSet-Cookie: b").is_err());
/// assert!(h.remove("x-tag"));
/// assert_eq!(h.find("x-tag"), None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    map: HeaderMap,
}

impl Headers {
    /// An empty list.
    pub fn new() -> Headers {
        Headers::default()
    }

    /// The value of the first field named `key` (`evhttp_find_header`),
    /// when it is text (a value with bytes beyond ASCII is in
    /// [`as_map`](Headers::as_map)).
    pub fn find(&self, key: &str) -> Option<&str> {
        self.map.get(key).and_then(|v| v.to_str().ok())
    }

    /// Appends a field (`evhttp_add_header`). Refused with
    /// `InvalidInput`: a name that is not a token, a value with control
    /// characters (CR and LF included, so nothing can be smuggled into
    /// the head).
    pub fn add(&mut self, key: &str, value: &str) -> io::Result<()> {
        let name = HeaderName::from_bytes(key.as_bytes()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid header name {key:?}"),
            )
        })?;
        let value = HeaderValue::from_str(value).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid value for header {key}"),
            )
        })?;
        self.map.append(name, value);
        Ok(())
    }

    /// Removes every field named `key` (`evhttp_remove_header`, which
    /// removes the first); whether there was one.
    pub fn remove(&mut self, key: &str) -> bool {
        self.map.remove(key).is_some()
    }

    /// Removes every field (`evhttp_clear_headers`).
    pub fn clear(&mut self) {
        self.map.clear();
    }

    /// Number of fields (a repeated name counts each time).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there is no field.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The fields in order (walking the `TAILQ`): name in lowercase, value
    /// as bytes.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        self.map.iter().map(|(k, v)| (k.as_str(), v.as_bytes()))
    }

    /// The fields as the `http` crate's map.
    pub fn as_map(&self) -> &HeaderMap {
        &self.map
    }

    /// The fields as the `http` crate's map, to change.
    pub fn as_map_mut(&mut self) -> &mut HeaderMap {
        &mut self.map
    }

    /// The map, leaving this list empty.
    pub(crate) fn take_map(&mut self) -> HeaderMap {
        std::mem::take(&mut self.map)
    }
}

impl From<HeaderMap> for Headers {
    fn from(map: HeaderMap) -> Headers {
        Headers { map }
    }
}
