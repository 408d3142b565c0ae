//! The bridge from runtime-http's [`Server`](runtime_http::Server) to the
//! callbacks: the server's handler (one task per request) reads the whole
//! body into the request's input buffer, as evhttp does before calling
//! back, calls the callback on the loop's thread, and awaits the reply the
//! callback (or a later one) sends. The task runs at the base's default
//! priority (the runtime's default, where the server spawns it), as
//! evhttp's callbacks run from events of the default priority: the
//! executor applies the base's policy (priorities, dispatch limits,
//! `loopbreak`) to it as to every callback's task.

use super::reply::{plain, ReplySlot};
use super::request::HttpRequest;
use super::routes::{find_callback, find_vhost};
use super::HttpInner;
use crate::log::log_error;
use runtime_http::http::{Request, Response, StatusCode};
use runtime_http::{Body, Handler, HandlerFuture, RemoteAddr};
use runtime_io::Buffer;
use std::future::poll_fn;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::{Rc, Weak};

/// The server's one handler: every request goes through the `Http`'s own
/// tables, looked up when its callback is about to run (so `set_cb` and
/// `del_cb` take effect at once).
pub(crate) struct Dispatch {
    pub(crate) http: Weak<HttpInner>,
}

impl Handler for Dispatch {
    fn call(&self, req: Request<Body>) -> HandlerFuture {
        Box::pin(answer(self.http.clone(), req))
    }
}

async fn answer(http: Weak<HttpInner>, req: Request<Body>) -> Response<Body> {
    let (parts, mut body) = req.into_parts();
    // The whole body first, as evhttp: limits and read errors are the
    // server's to answer (413, 408 …), whatever this returns.
    let mut input = Buffer::new();
    while let Some(piece) = body.chunk().await {
        match piece {
            Ok(data) => {
                if input.add_reference(data).is_err() {
                    return plain(StatusCode::INTERNAL_SERVER_ERROR, true);
                }
            }
            Err(e) => return plain(e.status(), true),
        }
    }
    drop(body);
    let slot = Rc::new(ReplySlot::new());
    {
        let Some(h) = http.upgrade().filter(|h| !h.is_freed()) else {
            return plain(StatusCode::SERVICE_UNAVAILABLE, true);
        };
        let Some(base) = h.base.upgrade() else {
            return plain(StatusCode::SERVICE_UNAVAILABLE, true);
        };
        h.track(&slot);
        let peer = parts.extensions.get::<RemoteAddr>().map(|r| r.0);
        let req = HttpRequest::new(parts, input, peer, h.default_content_type(), slot.clone());
        let host = if h.has_hosts() { req.host() } else { None };
        let target = match host {
            Some(host) => find_vhost(&h, &host),
            None => h.clone(),
        };
        let cb = find_callback(&target, &req.decoded_path_cow());
        drop((h, target));
        base.note_callback();
        match cb {
            Some(cb) => {
                let r = catch_unwind(AssertUnwindSafe(|| match cb.try_borrow_mut() {
                    Ok(mut f) => f(&req),
                    // Only a callback calling the loop again could get
                    // here, which the base refuses: answer, do not hang.
                    Err(_) => {
                        let _ = req.send_error(500, None);
                    }
                }));
                if let Err(p) = r {
                    log_error!("evhttp callback for {} panicked", req.uri());
                    base.store_panic(p);
                }
            }
            None => {
                let _ = req.send_not_found();
            }
        }
        // `req` is dropped here: unless the callback kept a handle, an
        // unanswered request is abandoned now.
    }
    poll_fn(|cx| slot.poll_response(cx)).await
}
