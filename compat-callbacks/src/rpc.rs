//! libevent's evrpc shape over [`Http`] and `runtime_rpc`'s pool:
//! registration with a callback that answers when it likes
//! (`EVRPC_REGISTER` / `EVRPC_REQUEST_DONE`) and requests whose completion
//! runs a callback (`evrpc_pool` / `EVRPC_MAKE_REQUEST`). The wire, the
//! codec and the pool are `runtime_rpc`'s; this module only gives them
//! callbacks, driven by the [`EventBase`](crate::EventBase) loop.
//!
//! | evrpc | here |
//! |---|---|
//! | `evrpc_init(http)`, `EVRPC_REGISTER(base, Name, Req, Reply, cb, arg)` | [`RpcHttpExt::rpc_register`] |
//! | `EVRPC_UNREGISTER` | [`RpcHttpExt::rpc_unregister`] |
//! | `EVRPC_STRUCT(Name)` with `request`, `reply`; `EVRPC_REQUEST_DONE` | [`RpcRequest`], [`RpcRequest::done`] |
//! | `EVRPC_REQUEST_HTTP` | [`RpcRequest::http`] |
//! | `evrpc_pool_new`, `evrpc_pool_add_connection`, `evrpc_pool_set_timeout` | [`RpcPool::new`], [`RpcPool::set_timeout`] |
//! | `EVRPC_MAKE_REQUEST(Name, pool, req, reply, cb, arg)` | [`RpcPool::make_request`] |
//! | `evrpc_add_hook(pool, ...)` | [`RpcPool::hooks`] |
//! | `evrpc_add_hook(base, ...)` | [`RpcHttpExt::rpc_register_with_hooks`] |

use crate::base::BaseHandle;
use crate::http::{Http, HttpRequest};
use runtime_http::http::{HeaderMap, Method};
use runtime_io::Buffer;
use runtime_rpc::{rpc_path, Direction, Hooks, Message, Meta, Pool, RpcError, Verdict};
use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

/// Spawns `fut` on `base`'s executor at its default priority, detached.
fn spawn(base: &BaseHandle, fut: impl Future<Output = ()> + 'static) -> io::Result<()> {
    let b = base.inner()?;
    let task = b.spawn_task(b.default_priority.get(), fut)?;
    drop(task); // detached: it ends on its own
    Ok(())
}

/// One call of a registered RPC (`EVRPC_STRUCT(Name)`): the decoded
/// request, the reply to fill in, and the HTTP request it came in.
/// Answer with [`RpcRequest::done`], now or later (from a timer, after
/// other I/O): the call stays open until then.
pub struct RpcRequest<Req, Reply> {
    /// The decoded request.
    pub request: Req,
    /// The reply, sent by [`RpcRequest::done`]; starts as
    /// `Reply::default()`.
    pub reply: Reply,
    http: HttpRequest,
    call: Call,
}

/// What `done` needs to run the output hooks.
struct Call {
    name: Rc<str>,
    hooks: Hooks,
    meta: Meta,
    base: BaseHandle,
}

impl<Req: fmt::Debug, Reply: fmt::Debug> fmt::Debug for RpcRequest<Req, Reply> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RpcRequest")
            .field("request", &self.request)
            .field("reply", &self.reply)
            .finish()
    }
}

impl<Req, Reply: Message> RpcRequest<Req, Reply> {
    /// The HTTP request (`EVRPC_REQUEST_HTTP`): its input headers, its
    /// output headers (a content type set there is kept).
    pub fn http(&self) -> &HttpRequest {
        &self.http
    }

    /// The request's hook metadata, as the input hooks left it
    /// (`evrpc_hook_find_meta`); the output hooks see changes made here.
    pub fn meta(&mut self) -> &mut Meta {
        &mut self.call.meta
    }

    /// Sends the reply (`EVRPC_REQUEST_DONE`): `200 OK` with the encoded
    /// reply as `application/octet-stream`, or `503` if the reply is not
    /// complete (a required field unset), as evrpc does. With output hooks
    /// the reply goes out once they have run (a hook may pause); a hook
    /// terminating sends `503`.
    pub fn done(self) -> io::Result<()> {
        if !self.reply.complete() {
            return self.http.send_error(503, None);
        }
        let out = self.reply.marshal();
        let Call {
            name,
            hooks,
            mut meta,
            base,
        } = self.call;
        let http = self.http;
        if hooks.is_empty(Direction::Output) {
            return send(&http, HeaderMap::new(), out);
        }
        spawn(&base, async move {
            let (mut headers, mut out) = (HeaderMap::new(), out);
            let verdict = hooks
                .run(Direction::Output, &name, &mut headers, &mut out, &mut meta)
                .await;
            let _ = match verdict {
                Verdict::Continue => send(&http, headers, out),
                Verdict::Terminate => http.send_error(503, None),
            };
        })
    }
}

/// `200 OK` with `body`, the headers the output hooks set, and
/// `application/octet-stream` unless they set a content type.
fn send(http: &HttpRequest, headers: HeaderMap, body: Vec<u8>) -> io::Result<()> {
    let mut buf = Buffer::new();
    buf.add(&body).map_err(io::Error::other)?;
    {
        let mut out = http.output_headers();
        for (k, v) in &headers {
            let v = v
                .to_str()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            out.add(k.as_str(), v)?;
        }
        if out.find("content-type").is_none() {
            out.add("Content-Type", "application/octet-stream")?;
        }
    }
    http.send_reply(200, "OK", Some(&mut buf))
}

/// A registered RPC's callback, shared with the tasks running its hooks.
type SharedCallback<Req, Reply> = Rc<RefCell<dyn FnMut(RpcRequest<Req, Reply>)>>;

/// Decodes `body` and calls the user's callback, or answers 503.
fn dispatch<Req: Message, Reply: Message>(
    http: HttpRequest,
    body: &[u8],
    call: Call,
    callback: &RefCell<dyn FnMut(RpcRequest<Req, Reply>)>,
) {
    match Req::unmarshal(body) {
        Ok(request) => (callback.borrow_mut())(RpcRequest {
            request,
            reply: Reply::default(),
            http,
            call,
        }),
        Err(_) => {
            let _ = http.send_error(503, None);
        }
    }
}

/// evrpc registration on a callback-shaped [`Http`] server.
pub trait RpcHttpExt {
    /// Serves the RPC `name` at `POST /.rpc.<name>` (`EVRPC_REGISTER`):
    /// each request that decodes as `Req` calls `callback` with an
    /// [`RpcRequest`]. A method other than POST, an empty body or one that
    /// does not decode is answered `503` without calling it. Fails if
    /// `name` is already registered.
    fn rpc_register<Req, Reply>(
        &self,
        name: &str,
        callback: impl FnMut(RpcRequest<Req, Reply>) + 'static,
    ) -> io::Result<()>
    where
        Req: Message,
        Reply: Message;

    /// [`rpc_register`](RpcHttpExt::rpc_register) with `hooks`
    /// (`evrpc_add_hook` on the `evrpc_base`; pass the same [`Hooks`] to
    /// every RPC of the server): input hooks run on the request's headers
    /// and body before decoding, output hooks on the encoded reply in
    /// [`RpcRequest::done`]; either may pause. A hook terminating → 503.
    fn rpc_register_with_hooks<Req, Reply>(
        &self,
        name: &str,
        hooks: &Hooks,
        callback: impl FnMut(RpcRequest<Req, Reply>) + 'static,
    ) -> io::Result<()>
    where
        Req: Message,
        Reply: Message;

    /// Stops serving the RPC `name` (`EVRPC_UNREGISTER`).
    fn rpc_unregister(&self, name: &str) -> io::Result<()>;
}

impl RpcHttpExt for Http {
    fn rpc_register<Req, Reply>(
        &self,
        name: &str,
        callback: impl FnMut(RpcRequest<Req, Reply>) + 'static,
    ) -> io::Result<()>
    where
        Req: Message,
        Reply: Message,
    {
        self.rpc_register_with_hooks(name, &Hooks::new(), callback)
    }

    fn rpc_register_with_hooks<Req, Reply>(
        &self,
        name: &str,
        hooks: &Hooks,
        callback: impl FnMut(RpcRequest<Req, Reply>) + 'static,
    ) -> io::Result<()>
    where
        Req: Message,
        Reply: Message,
    {
        let callback: SharedCallback<Req, Reply> = Rc::new(RefCell::new(callback));
        let hooks = hooks.clone();
        let base = self.base();
        let name: Rc<str> = name.into();
        self.set_cb(&rpc_path(&name), move |req| {
            let body = if req.command() == Method::POST {
                req.input_buffer().to_vec().ok()
            } else {
                None
            };
            let Some(mut body) = body.filter(|b| !b.is_empty()) else {
                let _ = req.send_error(503, None);
                return;
            };
            let mut call = Call {
                name: name.clone(),
                hooks: hooks.clone(),
                meta: Meta::default(),
                base: base.clone(),
            };
            if hooks.is_empty(Direction::Input) {
                dispatch(req.clone(), &body, call, &callback);
                return;
            }
            let (http, callback) = (req.clone(), callback.clone());
            let spawned = spawn(&base, async move {
                let mut headers = http.input_headers().as_map().clone();
                let verdict = call
                    .hooks
                    .clone()
                    .run(
                        Direction::Input,
                        &call.name.clone(),
                        &mut headers,
                        &mut body,
                        &mut call.meta,
                    )
                    .await;
                match verdict {
                    Verdict::Continue => dispatch(http, &body, call, &callback),
                    Verdict::Terminate => {
                        let _ = http.send_error(503, None);
                    }
                }
            });
            if spawned.is_err() {
                let _ = req.send_error(503, None);
            }
        })
    }

    fn rpc_unregister(&self, name: &str) -> io::Result<()> {
        self.del_cb(&rpc_path(name))
    }
}

/// A pool of connections to one RPC server (`evrpc_pool`) whose requests
/// complete with a callback run by the base's loop.
pub struct RpcPool {
    base: BaseHandle,
    pool: Pool,
}

impl fmt::Debug for RpcPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RpcPool").field("pool", &self.pool).finish()
    }
}

impl RpcPool {
    /// A pool of `connections` keep-alive connections to `addr`
    /// (`evrpc_pool_new` and `evrpc_pool_add_connection`), used from
    /// `base`'s loop.
    pub fn new(base: &BaseHandle, addr: SocketAddr, connections: usize) -> io::Result<RpcPool> {
        base.inner()?;
        Ok(RpcPool {
            base: base.clone(),
            pool: Pool::new(addr, connections),
        })
    }

    /// The longest wait for a reply (`evrpc_pool_set_timeout`); `None`
    /// waits forever.
    pub fn set_timeout(&self, timeout: Option<Duration>) {
        self.pool.set_timeout(timeout);
    }

    /// The pool's hooks (`evrpc_add_hook` on a pool).
    pub fn hooks(&self) -> &Hooks {
        self.pool.hooks()
    }

    /// The futures pool underneath.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Calls the RPC `name` with `request` (`EVRPC_MAKE_REQUEST`); when it
    /// completes, the loop runs `callback` with the reply or the error
    /// ([`RpcError::status`] is the `EVRPC_STATUS_*` code). Requests beyond
    /// the pool's connections wait in the pool, in order.
    pub fn make_request<Req, Reply>(
        &self,
        name: &str,
        request: &Req,
        callback: impl FnOnce(Result<Reply, RpcError>) + 'static,
    ) -> io::Result<()>
    where
        Req: Message + Clone,
        Reply: Message,
    {
        let b = self.base.inner()?;
        let pool = self.pool.clone();
        let name = name.to_string();
        // A copy: the caller may change or drop `request` at once.
        let request = request.clone();
        let task = b.spawn_task(b.default_priority.get(), async move {
            let outcome = pool.call::<Req, Reply>(&name, &request).await;
            callback(outcome);
        })?;
        drop(task); // detached: it ends with its callback
        Ok(())
    }
}
