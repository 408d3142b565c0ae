//! The HTTP client resolving host names through runtime-dns: a real
//! dnsmasq on a loopback port (its own hosts file, authoritative for
//! `.test`, no upstream) maps names to 127.0.0.1 and ::1, and the client,
//! given a resolver pointed at it, fetches from our server by name; a name
//! that does not exist is a typed error. Without dnsmasq the tests print
//! why and pass, unless `CI` is set.

#[path = "../dns/tests/support/mod.rs"]
mod dns_support;
#[path = "support/http.rs"]
mod http_support;

use dns_support::Dnsmasq;
use http_support::start;
use runtime::http::http::{header::HOST, Request, Response};
use runtime::http::{Body, Client, ClientConfig, Error, Server};
use runtime_dns::{Resolver, ResolverConfig};
use std::time::Duration;

const HOSTS: &str = "127.0.0.1 web.test\n\
                     ::1 dual.test\n\
                     127.0.0.1 dual.test\n";

fn dnsmasq() -> Option<Dnsmasq> {
    Dnsmasq::start(HOSTS, &["--local=/test/"])
}

/// A resolver that asks only `dns` and reads no system file.
fn resolver(dns: &Dnsmasq) -> Resolver {
    let mut c = ResolverConfig::new().with_nameserver(dns.addr);
    c.timeout = Duration::from_secs(2);
    Resolver::new(c)
}

/// Answers "{Host header} {path}".
async fn host_echo(req: Request<Body>) -> Response<Body> {
    let host = req
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    Response::new(Body::from(format!("{host} {}", req.uri().path())))
}

#[test]
fn client_fetches_by_name_through_the_resolver() {
    let Some(dns) = dnsmasq() else { return };
    let addr = start(|| Server::new().fallback(host_echo));
    let port = addr.port();
    let r = resolver(&dns);
    runtime::block_on(async move {
        let client = Client::with_config(ClientConfig {
            resolver: Some(r),
            ..ClientConfig::default()
        });
        let res = client
            .get(&format!("http://web.test:{port}/hello"))
            .await
            .expect("GET by name");
        assert_eq!(res.status(), 200);
        let body = res.into_body().collect().await.unwrap();
        assert_eq!(body, format!("web.test:{port} /hello").as_bytes());
        // The connection went back to the pool and is reused by name.
        assert_eq!(client.idle_connections(), 1);
        let res = client
            .get(&format!("http://web.test:{port}/again"))
            .await
            .unwrap();
        assert_eq!(
            res.into_body().collect().await.unwrap(),
            format!("web.test:{port} /again").as_bytes()
        );
        assert_eq!(client.idle_connections(), 1);
        // A name with an IPv6 and an IPv4 loopback address: the server
        // listens on 127.0.0.1 only, so whichever is tried first, the
        // other still gets through (happy eyeballs).
        let res = client
            .get(&format!("http://dual.test:{port}/both"))
            .await
            .expect("GET a name with two families");
        assert_eq!(
            res.into_body().collect().await.unwrap(),
            format!("dual.test:{port} /both").as_bytes()
        );
    });
}

#[test]
fn unknown_name_is_a_typed_resolve_error() {
    let Some(dns) = dnsmasq() else { return };
    let r = resolver(&dns);
    runtime::block_on(async move {
        let client = Client::with_config(ClientConfig {
            resolver: Some(r),
            ..ClientConfig::default()
        });
        // Port 9 (discard): never connected to, the name does not resolve.
        let err = client
            .get("http://nope.test:9/")
            .await
            .expect_err("a name that does not exist");
        assert!(
            matches!(err, Error::Resolve(runtime_dns::Error::NxDomain)),
            "{err:?}"
        );
        assert!(err.to_string().contains("NXDOMAIN"), "{err}");
        assert_eq!(err.status(), 502);
        assert_eq!(
            std::io::Error::from(err).kind(),
            std::io::ErrorKind::NotFound
        );
        assert_eq!(client.idle_connections(), 0);
    });
}

#[test]
fn literal_addresses_skip_the_resolver() {
    // A resolver pointed at a port where nothing answers: a literal
    // address must not consult it (it would time out).
    let addr = start(|| Server::new().fallback(host_echo));
    let mut c = ResolverConfig::new().with_nameserver("127.0.0.1:9".parse().unwrap());
    c.timeout = Duration::from_secs(5);
    c.attempts = 1;
    let r = Resolver::new(c);
    runtime::block_on(async move {
        let client = Client::with_config(ClientConfig {
            resolver: Some(r),
            connect_timeout: Some(Duration::from_secs(2)),
            ..ClientConfig::default()
        });
        let res = client
            .get(&format!("http://{addr}/lit"))
            .await
            .expect("literal address");
        assert_eq!(
            res.into_body().collect().await.unwrap(),
            format!("{addr} /lit").as_bytes()
        );
    });
}
