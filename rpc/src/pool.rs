//! The client side (`evrpc_pool`): a pool of keep-alive HTTP connections
//! to one server, a per-pool timeout, and requests queued in order when
//! every connection is busy.

use crate::hook::{Direction, Hooks, Meta, Verdict};
use crate::message::Message;
use crate::server::rpc_path;
use crate::status::RpcError;
use runtime_http::http::{header, HeaderMap, Request, StatusCode};
use runtime_http::{Body, Client, ClientConfig};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// A pool of connections to one RPC server (`evrpc_pool_new` plus
/// `evrpc_pool_add_connection` per connection). Each connection carries
/// one request at a time; further requests wait in the pool, first come
/// first served, until a connection frees up. Cheap to clone (clones share
/// the pool); lives on one thread.
#[derive(Clone)]
pub struct Pool {
    inner: Rc<Inner>,
}

struct Inner {
    client: Client,
    base: String,
    connections: usize,
    hooks: Hooks,
    timeout: Cell<Option<Duration>>,
    busy: Cell<usize>,
    queue: RefCell<VecDeque<Rc<Waiter>>>,
}

struct Waiter {
    granted: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("server", &self.inner.base)
            .field("connections", &self.inner.connections)
            .field("busy", &self.inner.busy.get())
            .field("queued", &self.queued())
            .finish()
    }
}

impl Pool {
    /// A pool of `connections` connections (at least one) to the RPC
    /// server at `addr`, opened when first needed and kept alive.
    pub fn new(addr: SocketAddr, connections: usize) -> Pool {
        let connections = connections.max(1);
        let client = Client::with_config(ClientConfig {
            max_idle_per_host: connections,
            // The pool's own timeout covers the whole exchange.
            response_timeout: None,
            retries: 0,
            ..ClientConfig::default()
        });
        Pool {
            inner: Rc::new(Inner {
                client,
                base: format!("http://{addr}"),
                connections,
                hooks: Hooks::new(),
                timeout: Cell::new(None),
                busy: Cell::new(0),
                queue: RefCell::new(VecDeque::new()),
            }),
        }
    }

    /// Sets the longest wait for a reply, counted from when the request
    /// gets a connection (`evrpc_pool_set_timeout`); `None` waits forever.
    /// A request that times out fails with [`RpcError::Timeout`] and its
    /// connection is closed.
    pub fn set_timeout(&self, timeout: Option<Duration>) {
        self.inner.timeout.set(timeout);
    }

    /// The pool's hooks (`evrpc_add_hook` on an `evrpc_pool`): output
    /// hooks run on each encoded request once it has a connection, before
    /// it is sent (the pool's timeout starts after them); input hooks run
    /// on each reply before it is decoded. A hook terminating fails the
    /// call with [`RpcError::HookAborted`].
    pub fn hooks(&self) -> &Hooks {
        &self.inner.hooks
    }

    /// Requests waiting for a connection.
    pub fn queued(&self) -> usize {
        self.inner.queue.borrow().len()
    }

    /// Requests in progress on a connection.
    pub fn busy(&self) -> usize {
        self.inner.busy.get()
    }

    /// Calls the RPC `name` with `request` and awaits the reply
    /// (`EVRPC_MAKE_REQUEST`). Outcomes, with their `EVRPC_STATUS_*`
    /// ([`RpcError::status`]): the reply; [`RpcError::Timeout`] or
    /// [`RpcError::Transport`] (timeout); [`RpcError::HttpStatus`] or
    /// [`RpcError::BadPayload`] (bad payload); [`RpcError::Unstarted`].
    pub async fn call<Req: Message, Reply: Message>(
        &self,
        name: &str,
        request: &Req,
    ) -> Result<Reply, RpcError> {
        self.call_with_meta(name, request, Meta::default())
            .await
            .map(|(reply, _)| reply)
    }

    /// [`Pool::call`] with metadata for the hooks to start from; returns
    /// the metadata as the input hooks left it, with the reply.
    pub async fn call_with_meta<Req: Message, Reply: Message>(
        &self,
        name: &str,
        request: &Req,
        mut meta: Meta,
    ) -> Result<(Reply, Meta), RpcError> {
        let uri = format!("{}{}", self.inner.base, rpc_path(name));
        let mut body = request.marshal();
        let _permit = self.acquire().await;
        let hooks = &self.inner.hooks;
        let mut headers = HeaderMap::new();
        if !hooks.is_empty(Direction::Output) {
            let verdict = hooks
                .run(Direction::Output, name, &mut headers, &mut body, &mut meta)
                .await;
            if verdict == Verdict::Terminate {
                return Err(RpcError::HookAborted);
            }
        }
        let mut req = Request::post(uri)
            .body(Body::from(body))
            .map_err(|e| RpcError::Unstarted(e.to_string()))?;
        if !headers.contains_key(header::CONTENT_TYPE) {
            headers.insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/octet-stream"),
            );
        }
        *req.headers_mut() = headers;
        let exchange = async {
            let res = self
                .inner
                .client
                .request(req)
                .await
                .map_err(RpcError::Transport)?;
            let (parts, body) = res.into_parts();
            let body = body.collect().await.map_err(RpcError::Transport)?;
            Ok((parts, body))
        };
        let (mut parts, mut body) = match self.inner.timeout.get() {
            None => exchange.await,
            Some(limit) => runtime_reactor::time::timeout(limit, exchange)
                .await
                .unwrap_or(Err(RpcError::Timeout)),
        }?;
        if !hooks.is_empty(Direction::Input) {
            let verdict = hooks
                .run(
                    Direction::Input,
                    name,
                    &mut parts.headers,
                    &mut body,
                    &mut meta,
                )
                .await;
            if verdict == Verdict::Terminate {
                return Err(RpcError::HookAborted);
            }
        }
        if parts.status != StatusCode::OK {
            return Err(RpcError::HttpStatus(parts.status));
        }
        Ok((Reply::unmarshal(&body)?, meta))
    }

    fn acquire(&self) -> Acquire<'_> {
        Acquire {
            pool: self,
            waiter: None,
        }
    }

    fn release(&self) {
        // Hand the connection straight to the first waiter, so a newcomer
        // cannot overtake the queue.
        let next = self.inner.queue.borrow_mut().pop_front();
        match next {
            Some(w) => {
                w.granted.set(true);
                if let Some(waker) = w.waker.borrow_mut().take() {
                    waker.wake();
                }
            }
            None => self.inner.busy.set(self.inner.busy.get() - 1),
        }
    }
}

/// One connection's worth of the pool, given back on drop.
struct Permit<'a> {
    pool: &'a Pool,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.pool.release();
    }
}

struct Acquire<'a> {
    pool: &'a Pool,
    waiter: Option<Rc<Waiter>>,
}

impl<'a> Future for Acquire<'a> {
    type Output = Permit<'a>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Permit<'a>> {
        let pool = self.pool;
        let inner = &pool.inner;
        match &self.waiter {
            None => {
                if inner.busy.get() < inner.connections {
                    inner.busy.set(inner.busy.get() + 1);
                    return Poll::Ready(Permit { pool });
                }
                let w = Rc::new(Waiter {
                    granted: Cell::new(false),
                    waker: RefCell::new(Some(cx.waker().clone())),
                });
                inner.queue.borrow_mut().push_back(w.clone());
                self.waiter = Some(w);
                Poll::Pending
            }
            Some(w) if w.granted.get() => {
                self.waiter = None;
                Poll::Ready(Permit { pool })
            }
            Some(w) => {
                *w.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        let Some(w) = self.waiter.take() else { return };
        if w.granted.get() {
            // Granted but never taken: pass the connection on.
            self.pool.release();
        } else {
            self.pool
                .inner
                .queue
                .borrow_mut()
                .retain(|q| !Rc::ptr_eq(q, &w));
        }
    }
}
