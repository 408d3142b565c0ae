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

use crate::base::BaseHandle;
use crate::http::{Http, HttpRequest};
use runtime_http::http::Method;
use runtime_io::Buffer;
use runtime_rpc::{rpc_path, Hooks, Message, Pool, RpcError};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

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

    /// Sends the reply (`EVRPC_REQUEST_DONE`): `200 OK` with the encoded
    /// reply as `application/octet-stream`, or `503` if the reply is not
    /// complete (a required field unset), as evrpc does.
    pub fn done(self) -> io::Result<()> {
        if !self.reply.complete() {
            return self.http.send_error(503, None);
        }
        let mut body = Buffer::new();
        body.add(&self.reply.marshal()).map_err(io::Error::other)?;
        {
            let mut headers = self.http.output_headers();
            if headers.find("content-type").is_none() {
                headers.add("Content-Type", "application/octet-stream")?;
            }
        }
        self.http.send_reply(200, "OK", Some(&mut body))
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

    /// Stops serving the RPC `name` (`EVRPC_UNREGISTER`).
    fn rpc_unregister(&self, name: &str) -> io::Result<()>;
}

impl RpcHttpExt for Http {
    fn rpc_register<Req, Reply>(
        &self,
        name: &str,
        mut callback: impl FnMut(RpcRequest<Req, Reply>) + 'static,
    ) -> io::Result<()>
    where
        Req: Message,
        Reply: Message,
    {
        self.set_cb(&rpc_path(name), move |req| {
            let body = if req.command() == Method::POST {
                req.input_buffer().to_vec().ok()
            } else {
                None
            };
            let request = match body {
                Some(b) if !b.is_empty() => Req::unmarshal(&b).ok(),
                _ => None,
            };
            match request {
                Some(request) => callback(RpcRequest {
                    request,
                    reply: Reply::default(),
                    http: req.clone(),
                }),
                None => {
                    let _ = req.send_error(503, None);
                }
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
