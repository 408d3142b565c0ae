//! # runtime-dns
//!
//! Asynchronous DNS for `runtime`, what libevent's evdns does, as futures.
//!
//! - [`wire`]: the DNS message codec (RFC 1035, AAAA, SRV, TXT, EDNS0),
//!   strict on input: hostile messages are typed [`wire::WireError`]s.

#![warn(missing_docs)]

pub mod wire;
