//! The resolver against a real DNS server: dnsmasq on a loopback port
//! with its own records and no upstream (skipped if dnsmasq is missing,
//! a failure when `CI` is set).

mod support;

use runtime_dns::wire::{Name, RData, RecordType};
use runtime_dns::{Error, Hosts, Resolver, ResolverConfig};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use support::{run, Dnsmasq};

const HOSTS: &str = "10.1.1.1\thost1.test\n10.1.1.2 host2.test host2alias.test # two names\nfd00::1 host1.test\n10.1.1.3 deep.sub.test\n";

fn dnsmasq() -> Option<Dnsmasq> {
    Dnsmasq::start(
        HOSTS,
        &[
            "--local=/test/",
            "--cname=alias.test,host1.test",
            "--mx-host=test,mail.test,10",
            "--txt-record=txt.test,hello world,second",
            "--local=/sub/",
            "--srv-host=_http._tcp.test,host1.test,80,1,5",
        ],
    )
}

fn config(server: SocketAddr) -> ResolverConfig {
    let mut c = ResolverConfig::new().with_nameserver(server);
    c.timeout = Duration::from_secs(2);
    c
}

const LIMIT: Duration = Duration::from_secs(20);

#[test]
fn every_record_type() {
    let Some(d) = dnsmasq() else { return };
    run(LIMIT, async {
        let r = Resolver::new(config(d.addr));
        let a = r.resolve_ipv4("host1.test").await.unwrap();
        assert_eq!(
            a.values().collect::<Vec<_>>(),
            [&Ipv4Addr::new(10, 1, 1, 1)]
        );
        assert_eq!(a.entries[0].ttl, 30);
        let aaaa = r.resolve_ipv6("host1.test").await.unwrap();
        assert_eq!(
            aaaa.entries[0].value,
            "fd00::1".parse::<Ipv6Addr>().unwrap()
        );
        let ptr = r
            .resolve_reverse("10.1.1.2".parse().unwrap())
            .await
            .unwrap();
        assert_eq!(
            ptr.entries[0].value,
            Name::from_ascii("host2.test").unwrap()
        );
        let ptr6 = r.resolve_reverse("fd00::1".parse().unwrap()).await.unwrap();
        assert_eq!(
            ptr6.entries[0].value,
            Name::from_ascii("host1.test").unwrap()
        );

        // CNAME: the A query follows the alias; a CNAME query shows it.
        let via = r.resolve_ipv4("alias.test").await.unwrap();
        assert_eq!(via.name, Name::from_ascii("host1.test").unwrap());
        assert_eq!(via.entries[0].value, Ipv4Addr::new(10, 1, 1, 1));
        let cname = r.query("alias.test", RecordType::CNAME).await.unwrap();
        assert_eq!(
            cname.entries[0].value,
            RData::Cname(Name::from_ascii("host1.test").unwrap())
        );

        let mx = r.query("test", RecordType::MX).await.unwrap();
        assert_eq!(
            mx.entries[0].value,
            RData::Mx {
                preference: 10,
                exchange: Name::from_ascii("mail.test").unwrap()
            }
        );
        let txt = r.query("txt.test", RecordType::TXT).await.unwrap();
        assert_eq!(
            txt.entries[0].value,
            RData::Txt(vec![b"hello world".to_vec(), b"second".to_vec()])
        );
        let srv = r.query("_http._tcp.test", RecordType::SRV).await.unwrap();
        assert_eq!(
            srv.entries[0].value,
            RData::Srv {
                priority: 1,
                weight: 5,
                port: 80,
                target: Name::from_ascii("host1.test").unwrap()
            }
        );

        // Errors are told apart.
        assert!(matches!(
            r.resolve_ipv4("nope.test").await,
            Err(Error::NxDomain)
        ));
        assert!(matches!(
            r.resolve_ipv6("host2.test").await,
            Err(Error::NoData)
        ));
        // No upstream: dnsmasq refuses names outside its local domain.
        assert!(matches!(
            r.resolve_ipv4("example.invalid").await,
            Err(Error::Refused)
        ));

        // getaddrinfo-style: A and AAAA together, numeric pass-through.
        let mut both = r.lookup_host("host1.test", 8080).await.unwrap();
        both.sort();
        assert_eq!(
            both,
            [
                "10.1.1.1:8080".parse().unwrap(),
                "[fd00::1]:8080".parse().unwrap()
            ]
        );
        assert_eq!(
            r.lookup_host("127.0.0.1", 1).await.unwrap(),
            ["127.0.0.1:1".parse().unwrap()]
        );
        assert_eq!(
            r.lookup_host("::1", 1).await.unwrap(),
            ["[::1]:1".parse().unwrap()]
        );
        assert!(matches!(
            r.lookup_host("nope.test", 1).await,
            Err(Error::NxDomain)
        ));
    });
}

#[test]
fn search_list_and_ndots() {
    let Some(d) = dnsmasq() else { return };
    run(LIMIT, async {
        let mut c = config(d.addr);
        c.search = vec![
            Name::from_ascii("nothere.test").unwrap(),
            Name::from_ascii("test").unwrap(),
        ];
        let r = Resolver::new(c.clone());
        // Single label: the search list finds host2alias.test.
        let a = r.resolve_ipv4("host2alias").await.unwrap();
        assert_eq!(a.name, Name::from_ascii("host2alias.test").unwrap());
        // One dot, ndots 1: tried as given first, still found through the
        // list when that fails.
        let deep = r.resolve_ipv4("deep.sub").await.unwrap();
        assert_eq!(deep.name, Name::from_ascii("deep.sub.test").unwrap());
        // An absolute name is never extended.
        assert!(matches!(
            r.resolve_ipv4("host2alias.").await,
            Err(Error::Refused)
        ));
        // A name found as given is not extended.
        assert_eq!(
            r.resolve_ipv4("host1.test").await.unwrap().name,
            Name::from_ascii("host1.test").unwrap()
        );
    });
}

#[test]
fn hosts_table_comes_first() {
    let Some(d) = dnsmasq() else { return };
    run(LIMIT, async {
        let mut c = config(d.addr);
        c.hosts = Hosts::parse("192.0.2.7 host1.test\n");
        let r = Resolver::new(c);
        let a = r.resolve_ipv4("HOST1.test").await.unwrap();
        assert_eq!(
            a.entries,
            [runtime_dns::Entry {
                value: Ipv4Addr::new(192, 0, 2, 7),
                ttl: 0
            }]
        );
        assert_eq!(
            r.lookup_host("host1.test", 1).await.unwrap(),
            ["192.0.2.7:1".parse::<SocketAddr>().unwrap()]
        );
        let back = r
            .resolve_reverse(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)))
            .await
            .unwrap();
        assert_eq!(
            back.entries[0].value,
            Name::from_ascii("host1.test").unwrap()
        );
        // Names not in the table still go to the server.
        assert_eq!(
            r.resolve_ipv4("host2.test").await.unwrap().entries[0].value,
            Ipv4Addr::new(10, 1, 1, 2)
        );
    });
}

#[test]
fn thread_default_resolver_and_free_functions() {
    let Some(d) = dnsmasq() else { return };
    run(LIMIT, async {
        runtime_dns::set_thread_resolver(Resolver::new(config(d.addr)));
        let a = runtime_dns::resolve_ipv4("host2.test").await.unwrap();
        assert_eq!(a.entries[0].value, Ipv4Addr::new(10, 1, 1, 2));
        let mx = runtime_dns::query("test", RecordType::MX).await.unwrap();
        assert_eq!(mx.len(), 1);
    });
}
