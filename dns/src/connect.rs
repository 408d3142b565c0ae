//! Connecting by host name through the resolver: [`connect`] and the hook
//! that makes `net::TcpStream::connect("host:port")` use it
//! ([`install_net_resolver`]).

use crate::error::Error;
use runtime_net::TcpStream;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

/// How long one address gets before the next one is tried alongside it
/// (RFC 8305's "connection attempt delay").
pub const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// Connects to `host:port`: a literal address directly, a name through the
/// thread's resolver ([`lookup_host`](crate::lookup_host): hosts file,
/// then A and AAAA in parallel). The addresses are tried in turn, each
/// given [`ATTEMPT_DELAY`] before the next starts alongside it (happy
/// eyeballs, RFC 8305), IPv6 and IPv4 interleaved; the first connection
/// made wins and the others are dropped. With none made, the last error is
/// returned.
///
/// ```no_run
/// # runtime::block_on(async {
/// let stream = runtime::dns::connect("example.com", 80).await?;
/// # Ok::<_, std::io::Error>(()) });
/// ```
pub async fn connect(host: &str, port: u16) -> io::Result<TcpStream> {
    let addrs = crate::lookup_host(host, port)
        .await
        .map_err(io::Error::from)?;
    connect_any(interleave(addrs)).await
}

/// Connects to one of `addrs`, already resolved, the way [`connect`] does
/// after its lookup: each address given [`ATTEMPT_DELAY`] before the next
/// starts alongside it, IPv6 and IPv4 interleaved, the first connection
/// made wins. For callers that resolve themselves (with a resolver of
/// their own, or to keep the lookup's typed [`Error`]).
///
/// ```no_run
/// # runtime::block_on(async {
/// let resolver = runtime::dns::thread_resolver();
/// let addrs = resolver.lookup_host("example.com", 80).await?;
/// let stream = runtime::dns::connect_addrs(addrs).await?;
/// # Ok::<_, Box<dyn std::error::Error>>(()) });
/// ```
pub async fn connect_addrs(addrs: Vec<SocketAddr>) -> io::Result<TcpStream> {
    connect_any(interleave(addrs)).await
}

/// IPv6 and IPv4 addresses alternated, each family keeping its order,
/// starting with the family of the first address.
fn interleave(addrs: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let first_v6 = addrs.first().is_some_and(SocketAddr::is_ipv6);
    let (mut a, mut b): (Vec<_>, Vec<_>) = addrs.into_iter().partition(|x| x.is_ipv6() == first_v6);
    a.reverse();
    b.reverse();
    let mut out = Vec::with_capacity(a.len() + b.len());
    loop {
        match (a.pop(), b.pop()) {
            (None, None) => return out,
            (x, y) => out.extend(x.into_iter().chain(y)),
        }
    }
}

type Attempt = Pin<Box<dyn Future<Output = io::Result<TcpStream>>>>;

/// Races connection attempts started [`ATTEMPT_DELAY`] apart.
async fn connect_any(addrs: Vec<SocketAddr>) -> io::Result<TcpStream> {
    let mut pending = addrs.into_iter();
    let mut running: Vec<Attempt> = Vec::new();
    let mut last: Option<io::Error> = None;
    let mut delay = runtime_reactor::time::sleep(ATTEMPT_DELAY);
    if let Some(a) = pending.next() {
        running.push(Box::pin(TcpStream::connect(a)));
    }
    std::future::poll_fn(|cx| loop {
        let mut i = 0;
        while i < running.len() {
            match running[i].as_mut().poll(cx) {
                std::task::Poll::Ready(Ok(s)) => return std::task::Poll::Ready(Ok(s)),
                std::task::Poll::Ready(Err(e)) => {
                    last = Some(e);
                    drop(running.swap_remove(i));
                }
                std::task::Poll::Pending => i += 1,
            }
        }
        // Start the next address when the delay is over or nothing runs.
        let due = running.is_empty() || delay.poll_sleep(cx).is_ready();
        if due {
            if let Some(a) = pending.next() {
                running.push(Box::pin(TcpStream::connect(a)));
                delay.reset(std::time::Instant::now() + ATTEMPT_DELAY);
                continue;
            }
        }
        if running.is_empty() {
            return std::task::Poll::Ready(Err(last.take().unwrap_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "no addresses to connect to")
            })));
        }
        return std::task::Poll::Pending;
    })
    .await
}

fn lookup_for_net(
    host: String,
    port: u16,
) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>>>> {
    Box::pin(async move {
        crate::lookup_host(&host, port)
            .await
            .map_err(|e: Error| io::Error::from(e))
    })
}

/// Makes `net::TcpStream::connect("host:port")` (and every other socket
/// of the process given a host name) resolve through this crate's
/// resolver, the calling thread's default one, instead of `getaddrinfo`.
/// Returns `false` if a resolver hook was already installed.
pub fn install_net_resolver() -> bool {
    runtime_net::set_name_resolver(lookup_for_net)
}

#[cfg(test)]
mod tests {
    use super::interleave;
    use std::net::SocketAddr;

    #[test]
    fn families_alternate_in_order() {
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        let v = vec![
            a("10.0.0.1:1"),
            a("10.0.0.2:1"),
            a("[fd00::1]:1"),
            a("10.0.0.3:1"),
            a("[fd00::2]:1"),
        ];
        assert_eq!(
            interleave(v),
            [
                a("10.0.0.1:1"),
                a("[fd00::1]:1"),
                a("10.0.0.2:1"),
                a("[fd00::2]:1"),
                a("10.0.0.3:1")
            ]
        );
        assert!(interleave(Vec::new()).is_empty());
    }
}
