//! The callback table of an [`Http`](crate::Http) (`evhttp_set_cb`,
//! `evhttp_set_gencb`), its virtual hosts and aliases, and evhttp's rule
//! for picking the callback of a request.

use super::request::HttpRequest;
use super::HttpInner;
use std::cell::RefCell;
use std::rc::{Rc, Weak};

/// A request callback, shared so that the table can change while it runs.
pub(crate) type RequestCallback = Rc<RefCell<dyn FnMut(&HttpRequest)>>;

/// What an `Http` answers, and the servers it delegates to by host name.
#[derive(Default)]
pub(crate) struct Routes {
    /// Exact (decoded) paths, in the order they were set.
    pub(crate) callbacks: Vec<(String, RequestCallback)>,
    pub(crate) gencb: Option<RequestCallback>,
    /// Virtual hosts: each another `Http`, owned by its creator; a freed
    /// one is skipped.
    pub(crate) vhosts: Vec<Weak<HttpInner>>,
    /// Other names this `Http` answers to (exact, case-insensitive).
    pub(crate) aliases: Vec<String>,
    /// The pattern under which this `Http` is a virtual host of another.
    pub(crate) pattern: Option<String>,
}

impl Routes {
    fn live_vhosts(&self) -> Vec<Rc<HttpInner>> {
        self.vhosts
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|v| !v.is_freed())
            .collect()
    }
}

/// The `Http` in the tree under `root` that answers `host`, as
/// `evhttp_find_vhost`: an exact alias anywhere in the tree first, then
/// the first virtual host whose pattern matches, descending while one
/// matches; `root` when nothing does.
pub(crate) fn find_vhost(root: &Rc<HttpInner>, host: &str) -> Rc<HttpInner> {
    let host = host.to_ascii_lowercase();
    if let Some(h) = find_alias(root, &host) {
        return h;
    }
    let mut cur = root.clone();
    'descend: loop {
        let vhosts = cur.routes.borrow().live_vhosts();
        for v in vhosts {
            let matched = v
                .routes
                .borrow()
                .pattern
                .as_deref()
                .is_some_and(|p| runtime_http::wildcard_match(p, &host));
            if matched {
                cur = v;
                continue 'descend;
            }
        }
        return cur;
    }
}

fn find_alias(http: &Rc<HttpInner>, host: &str) -> Option<Rc<HttpInner>> {
    let (hit, vhosts) = {
        let r = http.routes.borrow();
        (r.aliases.iter().any(|a| a == host), r.live_vhosts())
    };
    if hit {
        return Some(http.clone());
    }
    vhosts.iter().find_map(|v| find_alias(v, host))
}

/// The callback of `http` for the decoded `path`, else its generic
/// callback (`evhttp_dispatch_callback`, then the gencb).
pub(crate) fn find_callback(http: &HttpInner, path: &str) -> Option<RequestCallback> {
    let r = http.routes.borrow();
    r.callbacks
        .iter()
        .find(|(p, _)| p == path)
        .map(|(_, cb)| cb.clone())
        .or_else(|| r.gencb.clone())
}
