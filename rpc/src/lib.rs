//! RPC for `runtime` — libevent's evrpc with futures.
//!
//! * [`tag`]: the evtag wire format (tags, nibble integers, tagged
//!   elements), byte-for-byte what libevent's `evtag_*` functions write,
//!   with every read bounds-checked ([`DecodeError`]).
//! * [`message!`]: message structs with tagged fields, generating
//!   [`Message`] (`marshal`, `unmarshal`, `complete`) with the semantics of
//!   libevent's `event_rpcgen.py` output.
//! * [`RpcServerExt::rpc`]: serves `async fn(Req) -> Result<Reply,
//!   RpcError>` as `POST /.rpc.<Name>` on a `runtime_http::Server`.
//! * [`build::compile`]: libevent's `.rpc` files ([`idl`]) turned into
//!   the same `message!` definitions from a build script.
//! * [`Pool`]: the client, a pool of keep-alive connections with a
//!   timeout and a queue; failures map to `EVRPC_STATUS_*` ([`Status`]).
//!
//! | evrpc / evtag | here |
//! |---|---|
//! | `evtag_marshal_int`, `_int64`, `_string`, `_timeval`, `evtag_marshal` | [`tag::marshal_int`] … [`tag::marshal`] |
//! | `evtag_unmarshal_*`, `evtag_peek`, `evtag_consume` | [`tag::Reader`] |
//! | `.rpc` `struct Name { ... }` | [`message!`], or [`build::compile`] of the `.rpc` file |
//! | `event_rpcgen.py file.rpc` | [`build::compile`] (from `build.rs`) |
//! | `Name_marshal`, `Name_unmarshal`, `Name_complete`, `Name_clear` | [`Message`] |
//! | `evrpc_init`, `EVRPC_REGISTER` | [`RpcServerExt::rpc`] |
//! | `evrpc_pool_new`, `evrpc_pool_add_connection`, `evrpc_pool_set_timeout` | [`Pool::new`], [`Pool::set_timeout`] |
//! | `EVRPC_MAKE_REQUEST` | [`Pool::call`] |
//! | `EVRPC_STATUS_*` | [`Status`], [`RpcError::status`] |
//! | `evrpc_add_hook`, `evrpc_remove_hook` | [`Hooks::add`], [`Hooks::remove`] ([`Pool::hooks`], [`RpcServerExt::rpc_with_hooks`]) |
//! | `EVRPC_CONTINUE`, `EVRPC_TERMINATE`, `EVRPC_PAUSE`, `evrpc_resume_request` | [`HookAction`], [`hook::pause`], [`hook::Resume::resume`] |
//! | `evrpc_hook_add_meta`, `evrpc_hook_find_meta` | [`Meta::add`], [`Meta::find`] |

#![warn(missing_docs)]

pub mod build;
mod error;
mod field;
#[cfg(feature = "transport")]
pub mod hook;
pub mod idl;
mod message;
#[cfg(feature = "transport")]
mod pool;
#[cfg(feature = "transport")]
mod server;
#[cfg(feature = "transport")]
mod status;
pub mod tag;

pub use error::DecodeError;
pub use field::{Field, Options, Timeval};
#[cfg(feature = "transport")]
pub use hook::{Direction, HookAction, HookContext, HookId, Hooks, Meta, Verdict};
pub use message::Message;
#[cfg(feature = "transport")]
pub use pool::Pool;
#[cfg(feature = "transport")]
pub use server::{rpc_path, RpcHandler, RpcServerExt, URI_PREFIX};
#[cfg(feature = "transport")]
pub use status::{RpcError, Status};
