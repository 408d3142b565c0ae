//! HTTP/1.1 for `runtime` — libevent's evhttp with futures: a [`Server`]
//! whose handlers are `async fn(Request<Body>) -> Response<Body>` running
//! as tasks, keep-alive and pipelining, streamed bodies both ways with
//! backpressure, files sent with `sendfile`, limits and timeouts on by
//! default, and the request-smuggling defences evhttp lacks; a [`Client`]
//! with a keep-alive pool.
//!
//! Requests and responses are the `http` crate's types (re-exported as
//! [`http`]); heads are parsed by `httparse`.
//!
//! | evhttp | here |
//! |---|---|
//! | `evhttp_new`, `evhttp_bind_socket` | [`Server::new`], [`Server::serve`] / [`Server::bind`] |
//! | `evhttp_set_cb`, `evhttp_set_gencb` | [`Server::route`], [`Server::fallback`] |
//! | `evhttp_add_virtual_host`, `evhttp_add_server_alias` | [`Router::virtual_host`], [`Router::alias`] |
//! | `evhttp_send_reply` | return a `Response<Body>` |
//! | `evhttp_send_reply_start/chunk/end` | [`Body::channel`] |
//! | `evhttp_set_max_headers_size`, `..._body_size`, `evhttp_set_timeout` | [`Limits`], [`Timeouts`] |
//! | `evhttp_connection_base_new`, `evhttp_make_request` | [`Client`] |
//! | its `evdns_base` argument | [`ClientConfig::resolver`] (runtime-dns) |
//!
//! A request is refused with the right status **and the connection
//! closed** for: `Content-Length` with `Transfer-Encoding`, conflicting or
//! malformed `Content-Length`, unknown (501) or repeated transfer codings,
//! `chunked` not last, bad chunk sizes or chunk framing, invalid bytes in
//! header names or values, whitespace before the colon, obs-fold, a
//! missing or repeated `Host` in HTTP/1.1; and for every limit. See
//! [`h1::head`] for the bare-LF choice and the strict mode.

#![warn(missing_docs)]

mod body;
mod client;
pub mod encoding;
mod error;
#[doc(hidden)]
pub mod future_slot;
pub mod h1;
mod router;
mod server;

pub use body::{Body, BodySender, Incoming};
pub use client::{Client, ClientConfig};
pub use error::{Error, Result};
pub use router::{wildcard_match, Handler, HandlerFuture, Router};
pub use server::{Limits, ReasonPhrase, RemoteAddr, Server, Shutdown, Timeouts};

/// The `http` crate, whose types this crate uses.
pub use http;
