//! Handlers and routing: exact paths (`evhttp_set_cb`), a fallback
//! (`evhttp_set_gencb`) and virtual hosts matched by name patterns with `*`
//! wildcards, with aliases (`evhttp_add_virtual_host`,
//! `evhttp_add_server_alias`).

use crate::body::Body;
use crate::future_slot::{CellFuture, FutureSlot};
use http::{Request, Response};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

/// A boxed handler future.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Response<Body>>>>;

/// Answers requests: implemented for every
/// `Fn(Request<Body>) -> impl Future<Output = Response<Body>>` closure, and
/// by hand for handlers with state.
///
/// ```
/// use runtime::http::{Body, Handler, HandlerFuture};
/// use http::{Request, Response};
///
/// struct Hello(&'static str);
/// impl Handler for Hello {
///     fn call(&self, _req: Request<Body>) -> HandlerFuture {
///         let text = self.0;
///         Box::pin(async move { Response::new(Body::from(text)) })
///     }
/// }
/// ```
pub trait Handler: 'static {
    /// Starts answering `req`. The future is polled in the connection's
    /// task first; if it has to wait, it goes on as a task of its own.
    fn call(&self, req: Request<Body>) -> HandlerFuture;

    /// [`call`](Handler::call) with the future placed in a cell the
    /// connection reuses from request to request. The server calls this;
    /// the default wraps `call`'s box. Not meant to be implemented: closures
    /// get an implementation that puts their future in the cell itself (no
    /// allocation per request).
    #[doc(hidden)]
    fn call_in(&self, req: Request<Body>, slot: &mut FutureSlot) -> CellFuture {
        slot.hold(self.call(req))
    }
}

impl<F, Fut> Handler for F
where
    F: Fn(Request<Body>) -> Fut + 'static,
    Fut: Future<Output = Response<Body>> + 'static,
{
    fn call(&self, req: Request<Body>) -> HandlerFuture {
        Box::pin(self(req))
    }

    fn call_in(&self, req: Request<Body>, slot: &mut FutureSlot) -> CellFuture {
        slot.hold(self(req))
    }
}

/// Routes requests by exact path, with a fallback, and by host name to
/// virtual hosts (each a `Router` of its own).
///
/// ```
/// use runtime::http::{Body, Router};
/// use http::Response;
///
/// let docs = Router::new()
///     .alias("docs.example.org")
///     .fallback(|_req| async { Response::new(Body::from("docs")) });
/// let router = Router::new()
///     .route("/", |_req| async { Response::new(Body::from("home")) })
///     .virtual_host("*.docs.example.com", docs);
/// assert!(router.find(Some("a.docs.example.com:8080"), "/x").is_some());
/// assert!(router.find(Some("docs.example.org"), "/x").is_some());
/// assert!(router.find(Some("other"), "/").is_some());
/// assert!(router.find(Some("other"), "/none").is_none());
/// ```
#[derive(Clone, Default)]
pub struct Router {
    routes: HashMap<String, Rc<dyn Handler>>,
    fallback: Option<Rc<dyn Handler>>,
    vhosts: Vec<(String, Router)>,
    aliases: Vec<String>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("routes", &self.routes.keys().collect::<Vec<_>>())
            .field("fallback", &self.fallback.is_some())
            .field(
                "vhosts",
                &self.vhosts.iter().map(|v| &v.0).collect::<Vec<_>>(),
            )
            .field("aliases", &self.aliases)
            .finish()
    }
}

impl Router {
    /// An empty router: every request gets 404.
    pub fn new() -> Router {
        Router::default()
    }

    /// Answers requests for exactly `path` (no query) with `handler`
    /// (`evhttp_set_cb`); replaces an earlier handler for the same path.
    pub fn route(mut self, path: impl Into<String>, handler: impl Handler) -> Router {
        self.routes.insert(path.into(), Rc::new(handler));
        self
    }

    /// Answers requests no route matches (`evhttp_set_gencb`).
    pub fn fallback(mut self, handler: impl Handler) -> Router {
        self.fallback = Some(Rc::new(handler));
        self
    }

    /// Serves hosts whose name matches `pattern` (case-insensitive, `*`
    /// matches any run of characters) with `router`
    /// (`evhttp_add_virtual_host`). The first matching virtual host wins.
    pub fn virtual_host(mut self, pattern: impl Into<String>, router: Router) -> Router {
        self.vhosts
            .push((pattern.into().to_ascii_lowercase(), router));
        self
    }

    /// Another name this router answers to as a virtual host
    /// (`evhttp_add_server_alias`).
    pub fn alias(mut self, name: impl Into<String>) -> Router {
        self.aliases.push(name.into().to_ascii_lowercase());
        self
    }

    fn matches_host(&self, pattern: &str, host: &str) -> bool {
        wildcard_match(pattern, host) || self.aliases.iter().any(|a| wildcard_match(a, host))
    }

    /// Whether hosts are told apart (the `Host` header is looked at).
    pub(crate) fn has_virtual_hosts(&self) -> bool {
        !self.vhosts.is_empty()
    }

    /// The handler for a request to `host` (the `Host` header, port
    /// allowed) and `path`.
    pub fn find(&self, host: Option<&str>, path: &str) -> Option<&Rc<dyn Handler>> {
        if let Some(host) = host {
            if !self.vhosts.is_empty() {
                let name = strip_port(host).to_ascii_lowercase();
                for (pattern, vhost) in &self.vhosts {
                    if vhost.matches_host(pattern, &name) {
                        return vhost.find(Some(host), path);
                    }
                }
            }
        }
        self.routes.get(path).or(self.fallback.as_ref())
    }
}

/// The host name without a trailing `:port` (IPv6 literals keep their
/// brackets).
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return match rest.find(']') {
            Some(i) => &host[..i + 2],
            None => host,
        };
    }
    match host.rfind(':') {
        Some(i) => &host[..i],
        None => host,
    }
}

/// Whether `s` matches `pattern`, in which `*` matches any run of
/// characters (possibly empty) and everything else matches itself (byte
/// for byte: lowercase both for host names). The rule of virtual-host
/// patterns.
///
/// ```
/// use runtime::http::wildcard_match;
/// assert!(wildcard_match("*.example.com", "www.example.com"));
/// assert!(!wildcard_match("*.example.com", "example.com"));
/// ```
pub fn wildcard_match(pattern: &str, s: &str) -> bool {
    let (p, s) = (pattern.as_bytes(), s.as_bytes());
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if pi < p.len() && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*.example.com", "a.example.com"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("a*b*c", "aXXbYYc"));
        assert!(!wildcard_match("*.example.com", "example.com"));
        assert!(!wildcard_match("abc", "abcd"));
        assert_eq!(strip_port("[::1]:80"), "[::1]");
        assert_eq!(strip_port("a:80"), "a");
    }
}
