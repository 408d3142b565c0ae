//! The server side (`evrpc_init`, `EVRPC_REGISTER`): RPCs as routes of a
//! `runtime_http` [`Server`], served as `POST /.rpc.<Name>`.

use crate::hook::{Direction, Hooks, Meta, Verdict};
use crate::message::Message;
use crate::status::RpcError;
use runtime_http::http::{header, HeaderMap, Method, Request, Response, StatusCode};
use runtime_http::{Body, Handler, HandlerFuture, Router, Server};
use std::future::Future;
use std::marker::PhantomData;
use std::rc::Rc;

/// The path prefix of every RPC (`EVRPC_URI_PREFIX`).
pub const URI_PREFIX: &str = "/.rpc.";

/// The path an RPC named `name` is served at: `/.rpc.<name>`.
pub fn rpc_path(name: &str) -> String {
    format!("{URI_PREFIX}{name}")
}

/// An HTTP handler serving one RPC: it decodes the request, awaits the
/// user's `async fn(Req) -> Result<Reply, RpcError>` and encodes the reply.
/// As libevent: a method other than POST, an empty or undecodable body,
/// an error from the function or an incomplete reply → `503 Service
/// Unavailable`; success → `200 OK` with `application/octet-stream`
/// (unless an output hook set a content type). Input hooks run on the
/// request before it is decoded, output hooks on the encoded reply; a
/// hook terminating → 503.
pub struct RpcHandler<Req, Reply, F> {
    f: Rc<F>,
    name: Rc<str>,
    hooks: Hooks,
    _types: PhantomData<fn(Req) -> Reply>,
}

impl<Req, Reply, F, Fut> RpcHandler<Req, Reply, F>
where
    Req: Message,
    Reply: Message,
    F: Fn(Req) -> Fut + 'static,
    Fut: Future<Output = Result<Reply, RpcError>> + 'static,
{
    /// A handler calling `f` for the RPC `name`, without hooks.
    pub fn new(name: &str, f: F) -> Self {
        RpcHandler::with_hooks(name, &Hooks::new(), f)
    }

    /// A handler calling `f` for the RPC `name`, running `hooks` (shared:
    /// hooks added later apply to later requests).
    pub fn with_hooks(name: &str, hooks: &Hooks, f: F) -> Self {
        RpcHandler {
            f: Rc::new(f),
            name: name.into(),
            hooks: hooks.clone(),
            _types: PhantomData,
        }
    }
}

/// The 503 libevent sends (`evhttp_send_error(req, HTTP_SERVUNAVAIL, NULL)`).
fn unavailable() -> Response<Body> {
    let mut res = Response::new(Body::from(
        "<HTML><HEAD>\n<TITLE>503 Service Unavailable</TITLE>\n</HEAD><BODY>\n<H1>Service Unavailable</H1>\n</BODY></HTML>\n",
    ));
    *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/html"),
    );
    res
}

impl<Req, Reply, F, Fut> Handler for RpcHandler<Req, Reply, F>
where
    Req: Message,
    Reply: Message,
    F: Fn(Req) -> Fut + 'static,
    Fut: Future<Output = Result<Reply, RpcError>> + 'static,
{
    fn call(&self, req: Request<Body>) -> HandlerFuture {
        let f = self.f.clone();
        let name = self.name.clone();
        let hooks = self.hooks.clone();
        Box::pin(async move {
            if req.method() != Method::POST {
                return unavailable();
            }
            let (parts, body) = req.into_parts();
            let mut body = match body.collect().await {
                Ok(body) if !body.is_empty() => body,
                _ => return unavailable(),
            };
            let mut meta = Meta::default();
            if !hooks.is_empty(Direction::Input) {
                let mut headers = parts.headers;
                let verdict = hooks
                    .run(Direction::Input, &name, &mut headers, &mut body, &mut meta)
                    .await;
                if verdict == Verdict::Terminate {
                    return unavailable();
                }
            }
            let Ok(request) = Req::unmarshal(&body) else {
                return unavailable();
            };
            let reply = match f(request).await {
                Ok(reply) if reply.complete() => reply,
                _ => return unavailable(),
            };
            let mut out = reply.marshal();
            let mut headers = HeaderMap::new();
            if !hooks.is_empty(Direction::Output) {
                let verdict = hooks
                    .run(Direction::Output, &name, &mut headers, &mut out, &mut meta)
                    .await;
                if verdict == Verdict::Terminate {
                    return unavailable();
                }
            }
            let mut res = Response::new(Body::from(out));
            if !headers.contains_key(header::CONTENT_TYPE) {
                headers.insert(
                    header::CONTENT_TYPE,
                    header::HeaderValue::from_static("application/octet-stream"),
                );
            }
            *res.headers_mut() = headers;
            res
        })
    }
}

/// Registers RPCs on a [`Server`] or a [`Router`] (`EVRPC_REGISTER`).
///
/// ```no_run
/// use runtime::http::Server;
/// use runtime::rpc::{message, RpcError, RpcServerExt};
///
/// message! {
///     pub struct Ping { required n: u32 = 1 }
///     pub struct Pong { required n: u32 = 1 }
/// }
///
/// let server = Server::new().rpc("Ping", |req: Ping| async move {
///     Ok::<_, RpcError>(Pong { n: req.n })
/// });
/// ```
pub trait RpcServerExt: Sized {
    /// Serves `f` as the RPC `name` at `POST /.rpc.<name>`.
    fn rpc<Req, Reply, F, Fut>(self, name: &str, f: F) -> Self
    where
        Req: Message,
        Reply: Message,
        F: Fn(Req) -> Fut + 'static,
        Fut: Future<Output = Result<Reply, RpcError>> + 'static,
    {
        self.rpc_with_hooks(name, &Hooks::new(), f)
    }

    /// Serves `f` as the RPC `name`, running `hooks` on its requests and
    /// replies (`evrpc_add_hook` on an `evrpc_base`: pass the same
    /// [`Hooks`] to every RPC of the server).
    fn rpc_with_hooks<Req, Reply, F, Fut>(self, name: &str, hooks: &Hooks, f: F) -> Self
    where
        Req: Message,
        Reply: Message,
        F: Fn(Req) -> Fut + 'static,
        Fut: Future<Output = Result<Reply, RpcError>> + 'static;
}

impl RpcServerExt for Server {
    fn rpc_with_hooks<Req, Reply, F, Fut>(self, name: &str, hooks: &Hooks, f: F) -> Server
    where
        Req: Message,
        Reply: Message,
        F: Fn(Req) -> Fut + 'static,
        Fut: Future<Output = Result<Reply, RpcError>> + 'static,
    {
        self.route(rpc_path(name), RpcHandler::with_hooks(name, hooks, f))
    }
}

impl RpcServerExt for Router {
    fn rpc_with_hooks<Req, Reply, F, Fut>(self, name: &str, hooks: &Hooks, f: F) -> Router
    where
        Req: Message,
        Reply: Message,
        F: Fn(Req) -> Fut + 'static,
        Fut: Future<Output = Result<Reply, RpcError>> + 'static,
    {
        self.route(rpc_path(name), RpcHandler::with_hooks(name, hooks, f))
    }
}
