//! RPC for `runtime` — libevent's evrpc with futures.
//!
//! * [`tag`]: the evtag wire format (tags, nibble integers, tagged
//!   elements), byte-for-byte what libevent's `evtag_*` functions write,
//!   with every read bounds-checked ([`DecodeError`]).
//! * [`message!`]: message structs with tagged fields, generating
//!   [`Message`] (`marshal`, `unmarshal`, `complete`) with the semantics of
//!   libevent's `event_rpcgen.py` output.
//!
//! | evrpc / evtag | here |
//! |---|---|
//! | `evtag_marshal_int`, `_int64`, `_string`, `_timeval`, `evtag_marshal` | [`tag::marshal_int`] … [`tag::marshal`] |
//! | `evtag_unmarshal_*`, `evtag_peek`, `evtag_consume` | [`tag::Reader`] |
//! | `.rpc` `struct Name { ... }` | [`message!`] |
//! | `Name_marshal`, `Name_unmarshal`, `Name_complete`, `Name_clear` | [`Message`] |

#![warn(missing_docs)]

mod error;
mod field;
mod message;
pub mod tag;

pub use error::DecodeError;
pub use field::{Field, Options, Timeval};
pub use message::Message;
