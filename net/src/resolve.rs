//! Turning [`ToSocketAddrs`] values into addresses without blocking the loop:
//! literal addresses (a `SocketAddr`, `"127.0.0.1:80"`, `("::1", 80)` …)
//! are parsed in place; a host name goes to the resolver installed with
//! [`set_name_resolver`] (runtime-dns installs its asynchronous one), or
//! else runs `getaddrinfo` on the blocking pool, off the loop thread.

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::pin::Pin;
use std::sync::OnceLock;

/// An asynchronous host-name lookup: `(host, port)` to addresses, run on
/// the calling thread. See [`set_name_resolver`].
pub type NameResolver =
    fn(host: String, port: u16) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>>>>;

static NAME_RESOLVER: OnceLock<NameResolver> = OnceLock::new();

/// Makes every socket of this process look host names up with `resolver`
/// instead of `getaddrinfo` on the blocking pool (for `"host:port"`,
/// `(host, port)` and their `String` forms). It can be set once; returns whether this call set it.
/// The networking layer cannot depend on the DNS crate (which depends on
/// it), so the DNS crate installs itself through this hook:
/// `runtime::dns::install_net_resolver()`.
pub fn set_name_resolver(resolver: NameResolver) -> bool {
    NAME_RESOLVER.set(resolver).is_ok()
}

/// What a [`ToSocketAddrs`] value names: addresses, or a host name and a
/// port still to be looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddrTarget {
    /// Literal addresses, used as they are.
    Addrs(Vec<SocketAddr>),
    /// A host name and a port: looked up by the installed
    /// [`NameResolver`], or by `getaddrinfo` on the blocking pool.
    Host(String, u16),
}

/// Anything a socket can connect or bind to: a `SocketAddr`, `"ip:port"`
/// or `"host:port"` as `&str`, `String` or `&String`, `(ip, port)` and
/// `(host, port)` tuples, a slice or `Vec` of addresses, and a reference
/// to any of these. Unlike std's trait of the same name, borrowed values
/// work: nothing needs to be `'static`, and no lookup blocks the loop.
///
/// ```
/// use runtime::net::{TcpListener, TcpStream};
///
/// #[runtime::main]
/// async fn main() -> std::io::Result<()> {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let addr: String = listener.local_addr()?.to_string();
///     let _conn = TcpStream::connect(&addr).await?;
///     Ok(())
/// }
/// ```
pub trait ToSocketAddrs {
    /// The addresses, or the host name to look up; a string that is
    /// neither `ip:port` nor `host:port` is an `InvalidInput` error.
    fn to_target(&self) -> io::Result<AddrTarget>;
}

fn host_port(s: &str) -> io::Result<AddrTarget> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(AddrTarget::Addrs(vec![a]));
    }
    let bad = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid socket address {s:?}"),
        )
    };
    let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() {
        return Err(bad());
    }
    Ok(host_and_port(host, port))
}

fn host_and_port(host: &str, port: u16) -> AddrTarget {
    match host.parse::<IpAddr>() {
        Ok(ip) => AddrTarget::Addrs(vec![SocketAddr::new(ip, port)]),
        Err(_) => AddrTarget::Host(host.to_owned(), port),
    }
}

impl ToSocketAddrs for SocketAddr {
    fn to_target(&self) -> io::Result<AddrTarget> {
        Ok(AddrTarget::Addrs(vec![*self]))
    }
}

impl ToSocketAddrs for SocketAddrV4 {
    fn to_target(&self) -> io::Result<AddrTarget> {
        Ok(AddrTarget::Addrs(vec![SocketAddr::V4(*self)]))
    }
}

impl ToSocketAddrs for SocketAddrV6 {
    fn to_target(&self) -> io::Result<AddrTarget> {
        Ok(AddrTarget::Addrs(vec![SocketAddr::V6(*self)]))
    }
}

impl ToSocketAddrs for (IpAddr, u16) {
    fn to_target(&self) -> io::Result<AddrTarget> {
        Ok(AddrTarget::Addrs(vec![SocketAddr::new(self.0, self.1)]))
    }
}

impl ToSocketAddrs for (Ipv4Addr, u16) {
    fn to_target(&self) -> io::Result<AddrTarget> {
        Ok(AddrTarget::Addrs(vec![SocketAddr::new(
            self.0.into(),
            self.1,
        )]))
    }
}

impl ToSocketAddrs for (Ipv6Addr, u16) {
    fn to_target(&self) -> io::Result<AddrTarget> {
        Ok(AddrTarget::Addrs(vec![SocketAddr::new(
            self.0.into(),
            self.1,
        )]))
    }
}

impl ToSocketAddrs for (&str, u16) {
    fn to_target(&self) -> io::Result<AddrTarget> {
        Ok(host_and_port(self.0, self.1))
    }
}

impl ToSocketAddrs for (String, u16) {
    fn to_target(&self) -> io::Result<AddrTarget> {
        Ok(host_and_port(&self.0, self.1))
    }
}

impl ToSocketAddrs for str {
    fn to_target(&self) -> io::Result<AddrTarget> {
        host_port(self)
    }
}

impl ToSocketAddrs for String {
    fn to_target(&self) -> io::Result<AddrTarget> {
        host_port(self)
    }
}

impl ToSocketAddrs for [SocketAddr] {
    fn to_target(&self) -> io::Result<AddrTarget> {
        Ok(AddrTarget::Addrs(self.to_vec()))
    }
}

impl ToSocketAddrs for Vec<SocketAddr> {
    fn to_target(&self) -> io::Result<AddrTarget> {
        Ok(AddrTarget::Addrs(self.clone()))
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {
    fn to_target(&self) -> io::Result<AddrTarget> {
        (**self).to_target()
    }
}

/// Resolves `addr`; an empty result is an `InvalidInput` error.
pub(crate) async fn resolve<A: ToSocketAddrs>(addr: A) -> io::Result<Vec<SocketAddr>> {
    let addrs = match addr.to_target()? {
        AddrTarget::Addrs(a) => a,
        AddrTarget::Host(host, port) => match NAME_RESOLVER.get() {
            Some(lookup) => lookup(host, port).await?,
            None => {
                offload(move || {
                    std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
                        .map(|it| it.collect::<Vec<_>>())
                })
                .await?
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_need_no_lookup() {
        let a: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let lit = AddrTarget::Addrs(vec![a]);
        assert_eq!(a.to_target().unwrap(), lit);
        assert_eq!("127.0.0.1:80".to_target().unwrap(), lit);
        assert_eq!(String::from("127.0.0.1:80").to_target().unwrap(), lit);
        assert_eq!(("127.0.0.1", 80u16).to_target().unwrap(), lit);
        assert_eq!((Ipv4Addr::LOCALHOST, 80u16).to_target().unwrap(), lit);
        assert_eq!(
            "localhost:80".to_target().unwrap(),
            AddrTarget::Host("localhost".into(), 80)
        );
        assert_eq!(
            "[::1]:80".to_target().unwrap(),
            AddrTarget::Addrs(vec!["[::1]:80".parse().unwrap()])
        );
        for bad in ["no port here", "host:99999", ":80", "host:"] {
            let e = bad.to_target().unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad}");
        }
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
