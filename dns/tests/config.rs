//! Configuration: resolv.conf and hosts parsing, and system files read
//! from given paths.

use runtime_dns::wire::Name;
use runtime_dns::{Hosts, ResolverConfig};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

#[test]
fn resolv_conf() {
    let c = ResolverConfig::parse_resolv_conf(
        "# comment\n; other comment\nnameserver 10.0.0.1\nnameserver fe80::1%eth0\nnameserver bogus\n\
         domain old.test\nsearch a.test\tb.test   # trailing\n\
         options ndots:3 timeout:2 attempts:4 rotate edns0 unknown:7\nsortlist 1.2.3.4\n",
    );
    let ns: Vec<SocketAddr> = vec![
        "10.0.0.1:53".parse().unwrap(),
        "[fe80::1]:53".parse().unwrap(),
    ];
    assert_eq!(c.nameservers, ns);
    assert_eq!(
        c.search,
        [
            Name::from_ascii("a.test").unwrap(),
            Name::from_ascii("b.test").unwrap()
        ]
    );
    assert_eq!(c.ndots, 3);
    assert_eq!(c.timeout, Duration::from_secs(2));
    assert_eq!(c.attempts, 4);
    assert!(c.rotate && c.edns0);
    // `domain` after `search` wins (the last one counts), limits clamp.
    let c = ResolverConfig::parse_resolv_conf(
        "search a.test\ndomain d.test\noptions ndots:99 attempts:0 timeout:999\n",
    );
    assert_eq!(c.search, [Name::from_ascii("d.test").unwrap()]);
    assert_eq!(
        (c.ndots, c.attempts, c.timeout),
        (15, 1, Duration::from_secs(30))
    );
    assert!(!c.edns0, "EDNS0 only with options edns0, as glibc");
}

#[test]
fn system_files_from_paths() {
    let dir = std::env::temp_dir().join(format!("runtime-dns-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rc = dir.join("resolv.conf");
    let hosts = dir.join("hosts");
    std::fs::write(&rc, "search x.test\n").unwrap();
    std::fs::write(&hosts, "127.0.0.1 me\n").unwrap();
    let c = ResolverConfig::from_files(&rc, &hosts);
    // No nameserver line: 127.0.0.1:53, as glibc.
    assert_eq!(
        c.nameservers,
        ["127.0.0.1:53".parse::<SocketAddr>().unwrap()]
    );
    assert_eq!(
        c.hosts.ipv4(&Name::from_ascii("me").unwrap()),
        [Ipv4Addr::LOCALHOST]
    );
    // Missing files are not an error.
    let c = ResolverConfig::from_files(dir.join("none"), dir.join("none"));
    assert_eq!(c.nameservers.len(), 1);
    assert!(c.hosts.is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn hosts_format() {
    let h = Hosts::parse(
        "# header\n127.0.0.1\tlocalhost\tloopback\n\
         10.0.0.1 a.test b.test   # two names\n\
         10.0.0.2 a.test\n\
         ::1 localhost ip6-localhost\n\
         fe80::1%lo link.test\n\
         not-an-address c.test\n\
         10.0.0.3 bad..name good.test\n\
         \n   \t\n",
    );
    let n = |s: &str| Name::from_ascii(s).unwrap();
    assert_eq!(
        h.ipv4(&n("A.TEST")),
        [Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)]
    );
    assert_eq!(h.ipv4(&n("b.test")), [Ipv4Addr::new(10, 0, 0, 1)]);
    assert_eq!(h.ipv6(&n("localhost")), [Ipv6Addr::LOCALHOST]);
    assert_eq!(
        h.ipv6(&n("link.test")),
        ["fe80::1".parse::<Ipv6Addr>().unwrap()]
    );
    assert_eq!(
        h.names(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))),
        [n("a.test"), n("b.test")]
    );
    assert_eq!(
        h.names(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        [n("localhost"), n("loopback")]
    );
    assert!(h.contains(&n("good.test")) && !h.contains(&n("c.test")));
    assert_eq!(h.skipped(), 2, "the bad address line and the bad name");
}
