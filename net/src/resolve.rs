//! Turning `impl ToSocketAddrs` into addresses without blocking the loop:
//! literal addresses (a `SocketAddr`, `"127.0.0.1:80"`, `("::1", 80)` …)
//! are parsed in place; a host name goes to the resolver installed with
//! [`set_name_resolver`] (runtime-dns installs its asynchronous one), or
//! else runs `getaddrinfo` on the blocking pool, off the loop thread.

use std::any::Any;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, ToSocketAddrs};
use std::pin::Pin;
use std::sync::OnceLock;

/// An asynchronous host-name lookup: `(host, port)` to addresses, run on
/// the calling thread. See [`set_name_resolver`].
pub type NameResolver =
    fn(host: String, port: u16) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>>>>;

static NAME_RESOLVER: OnceLock<NameResolver> = OnceLock::new();

/// Makes every socket of this process look host names up with `resolver`
/// instead of `getaddrinfo` on the blocking pool (for `"host:port"`,
/// `(host, port)` and their `String` forms; other `ToSocketAddrs` types
/// keep using std). It can be set once; returns whether this call set it.
/// The networking layer cannot depend on the DNS crate (which depends on
/// it), so the DNS crate installs itself through this hook:
/// `runtime::dns::install_net_resolver()`.
pub fn set_name_resolver(resolver: NameResolver) -> bool {
    NAME_RESOLVER.set(resolver).is_ok()
}

/// Resolves `addr`; an empty result is an `InvalidInput` error.
pub(crate) async fn resolve<A>(addr: A) -> io::Result<Vec<SocketAddr>>
where
    A: ToSocketAddrs + Send + 'static,
{
    let addrs = match literal(&addr) {
        Some(a) => vec![a],
        None => match (NAME_RESOLVER.get(), host_and_port(&addr)) {
            (Some(lookup), Some((host, port))) => lookup(host, port).await?,
            _ => offload(move || addr.to_socket_addrs().map(|it| it.collect::<Vec<_>>())).await?,
        },
    };
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "address resolved to no socket addresses",
        ));
    }
    Ok(addrs)
}

/// Runs `f` on the blocking pool.
async fn offload<T, F>(f: F) -> io::Result<T>
where
    F: FnOnce() -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    match runtime_executor::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(io::Error::other(format!("address resolution failed: {e}"))),
    }
}

/// The host and port of the common forms naming a host.
fn host_and_port(addr: &dyn Any) -> Option<(String, u16)> {
    fn split(s: &str) -> Option<(String, u16)> {
        let (host, port) = s.rsplit_once(':')?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        Some((host.to_owned(), port.parse().ok()?))
    }
    if let Some(s) = addr.downcast_ref::<&'static str>() {
        return split(s);
    }
    if let Some(s) = addr.downcast_ref::<String>() {
        return split(s);
    }
    if let Some(&(host, port)) = addr.downcast_ref::<(&'static str, u16)>() {
        return Some((host.to_owned(), port));
    }
    if let Some((host, port)) = addr.downcast_ref::<(String, u16)>() {
        return Some((host.clone(), *port));
    }
    None
}

/// The address, when `addr` is one of the common types holding a literal
/// one (no lookup needed).
fn literal(addr: &dyn Any) -> Option<SocketAddr> {
    fn parse_host(host: &str, port: u16) -> Option<SocketAddr> {
        host.parse::<IpAddr>()
            .ok()
            .map(|ip| SocketAddr::new(ip, port))
    }
    if let Some(a) = addr.downcast_ref::<SocketAddr>() {
        return Some(*a);
    }
    if let Some(a) = addr.downcast_ref::<SocketAddrV4>() {
        return Some(SocketAddr::V4(*a));
    }
    if let Some(a) = addr.downcast_ref::<SocketAddrV6>() {
        return Some(SocketAddr::V6(*a));
    }
    if let Some(&(ip, port)) = addr.downcast_ref::<(IpAddr, u16)>() {
        return Some(SocketAddr::new(ip, port));
    }
    if let Some(&(ip, port)) = addr.downcast_ref::<(Ipv4Addr, u16)>() {
        return Some(SocketAddr::new(ip.into(), port));
    }
    if let Some(&(ip, port)) = addr.downcast_ref::<(Ipv6Addr, u16)>() {
        return Some(SocketAddr::new(ip.into(), port));
    }
    if let Some(s) = addr.downcast_ref::<&'static str>() {
        return s.parse().ok();
    }
    if let Some(s) = addr.downcast_ref::<String>() {
        return s.parse().ok();
    }
    if let Some(&(host, port)) = addr.downcast_ref::<(&'static str, u16)>() {
        return parse_host(host, port);
    }
    if let Some((host, port)) = addr.downcast_ref::<(String, u16)>() {
        return parse_host(host, *port);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_need_no_lookup() {
        let a: SocketAddr = "127.0.0.1:80".parse().unwrap();
        assert_eq!(literal(&a), Some(a));
        assert_eq!(literal(&"127.0.0.1:80"), Some(a));
        assert_eq!(literal(&String::from("127.0.0.1:80")), Some(a));
        assert_eq!(literal(&("127.0.0.1", 80u16)), Some(a));
        assert_eq!(literal(&(Ipv4Addr::LOCALHOST, 80u16)), Some(a));
        assert_eq!(literal(&"localhost:80"), None);
    }

    #[test]
    fn names_resolve_on_the_blocking_pool() {
        runtime_executor::block_on(async {
            // "localhost" comes from /etc/hosts: no network needed.
            let addrs = resolve("localhost:80").await.unwrap();
            assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80));
            let err = resolve("no port here").await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        });
    }
}
