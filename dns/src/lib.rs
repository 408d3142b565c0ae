//! # runtime-dns
//!
//! Asynchronous DNS for `runtime`: what libevent's evdns does, as futures.
//!
//! - [`wire`]: the DNS message codec (RFC 1035, AAAA, SRV, TXT, EDNS0),
//!   strict on input: hostile messages are typed [`wire::WireError`]s.
//! - [`Resolver`]: a stub resolver configured from `/etc/resolv.conf` and
//!   `/etc/hosts` or in code ([`ResolverConfig`]): the search list and
//!   ndots, timeout and attempts with failover, nameservers marked down
//!   after repeated timeouts and probed with back-off, rotate, a cap on
//!   requests in flight, 0x20 case randomisation, EDNS0, TCP after a
//!   truncated reply, and a TTL-respecting cache with negative caching.
//!   Queries go out over a few long-lived UDP sockets per nameserver, each
//!   connected from a random port and replaced after a number of queries
//!   or seconds, shared by the queries in flight and read with one
//!   `recvmmsg` per wake-up. Replies are accepted only from the address
//!   and port queried, with the query's random id and the same question.
//!   Dropping a lookup's future cancels it.
//! - [`DnsServer`]: server ports (evdns_add_server_port) on UDP and TCP
//!   answering through an async handler, with TC truncation and FORMERR.
//! - [`connect`]: a TCP connection by host name (happy eyeballs;
//!   [`connect_addrs`] for addresses already resolved);
//!   [`install_net_resolver`] makes `net::TcpStream::connect("host:port")`
//!   resolve through this crate too.
//! - The free functions ([`resolve_ipv4`], [`lookup_host`], [`query`] …)
//!   use the thread's default resolver, built lazily from the system
//!   configuration, so this works with no set-up:
//!
//! ```no_run
//! # runtime::block_on(async {
//! let addrs = runtime::dns::resolve_ipv4("example.com").await?;
//! for a in &addrs {
//!     println!("{} (ttl {})", a.value, a.ttl);
//! }
//! # Ok::<_, runtime::dns::Error>(()) });
//! ```

#![warn(missing_docs)]

mod answer;
mod cache;
mod config;
mod connect;
mod error;
mod expect;
mod hosts;
mod id_hash;
mod limit;
mod random;
mod resolver;
mod reverse;
mod server;
mod socket_pool;
mod transport;
pub mod wire;

pub use answer::{Answer, Entry};
pub use config::{read_resolv_conf, ResolverConfig};
pub use connect::{connect, connect_addrs, install_net_resolver, ATTEMPT_DELAY};
pub use error::Error;
pub use hosts::Hosts;
pub use resolver::{NameserverStatus, Resolver};
pub use reverse::{ip_from_reverse_name, reverse_name};
pub use server::{DnsServer, Request, ServerStats, Transport, TCP_IDLE, UDP_LIMIT};

use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use wire::{Name, RData, RecordType};

thread_local! {
    static DEFAULT: RefCell<Option<Resolver>> = const { RefCell::new(None) };
}

/// This thread's default resolver, built from `/etc/resolv.conf` and
/// `/etc/hosts` on first use (or the one given to
/// [`set_thread_resolver`]).
pub fn thread_resolver() -> Resolver {
    DEFAULT.with(|d| {
        d.borrow_mut()
            .get_or_insert_with(Resolver::from_system)
            .clone()
    })
}

/// Makes `resolver` this thread's default (used by the free functions).
pub fn set_thread_resolver(resolver: Resolver) {
    DEFAULT.with(|d| *d.borrow_mut() = Some(resolver));
}

/// [`Resolver::resolve_ipv4`] on the thread's default resolver.
pub async fn resolve_ipv4(name: &str) -> Result<Answer<Ipv4Addr>, Error> {
    thread_resolver().resolve_ipv4(name).await
}

/// [`Resolver::resolve_ipv6`] on the thread's default resolver.
pub async fn resolve_ipv6(name: &str) -> Result<Answer<Ipv6Addr>, Error> {
    thread_resolver().resolve_ipv6(name).await
}

/// [`Resolver::resolve_reverse`] on the thread's default resolver.
pub async fn resolve_reverse(ip: IpAddr) -> Result<Answer<Name>, Error> {
    thread_resolver().resolve_reverse(ip).await
}

/// [`Resolver::lookup_host`] on the thread's default resolver.
pub async fn lookup_host(name: &str, port: u16) -> Result<Vec<SocketAddr>, Error> {
    thread_resolver().lookup_host(name, port).await
}

/// [`Resolver::query`] on the thread's default resolver.
pub async fn query(name: &str, qtype: RecordType) -> Result<Answer<RData>, Error> {
    thread_resolver().query(name, qtype).await
}
