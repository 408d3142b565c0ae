//! Resolver behaviour that needs a scripted server: failover and
//! nameservers marked down and probed, timeouts, spoofed replies, a table
//! of malformed replies, TC → TCP, the cache (TTL expiry, negative
//! caching, size bound), 0x20, EDNS0, search order and ndots, the cap on
//! requests in flight, cancellation.

mod support;

use runtime_dns::wire::{Message, Name, RData, Rcode, RecordType, WireError};
use runtime_dns::{Error, Resolver, ResolverConfig};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{answer, negative, run, udp_tcp_pair, FakeServer, FakeTcpServer};

const LIMIT: Duration = Duration::from_secs(20);

fn config(servers: &[SocketAddr], timeout_ms: u64) -> ResolverConfig {
    let mut c = ResolverConfig::new();
    c.nameservers = servers.to_vec();
    c.timeout = Duration::from_millis(timeout_ms);
    c
}

/// Answers every A query with 10.0.0.1, TTL `ttl`.
fn a_server(ttl: u32) -> FakeServer {
    FakeServer::start(move |req| {
        if let Some(q) = &req.msg {
            req.reply(&answer(
                q,
                Rcode::NOERROR,
                ttl,
                vec![RData::A(Ipv4Addr::new(10, 0, 0, 1))],
            ));
        }
    })
}

#[test]
fn failover_marks_down_and_probes_until_it_answers() {
    // The first nameserver reads and drops until `answering` is set.
    let answering = Arc::new(AtomicBool::new(false));
    let a2 = answering.clone();
    let flaky = FakeServer::start(move |req| {
        if let (true, Some(q)) = (a2.load(Ordering::SeqCst), &req.msg) {
            req.reply(&answer(
                q,
                Rcode::NOERROR,
                60,
                vec![RData::A(Ipv4Addr::new(10, 0, 0, 9))],
            ));
        }
    });
    let good = a_server(60);
    run(LIMIT, async {
        let mut c = config(&[flaky.addr, good.addr], 150);
        c.max_timeouts = 2;
        c.cache_size = 0;
        c.probe_initial = Duration::from_millis(100);
        let r = Resolver::new(c);
        // Attempt 1 times out on the first server, attempt 2 goes to the second.
        let t = Instant::now();
        let a = r.resolve_ipv4("x.test").await.unwrap();
        assert_eq!(a.entries[0].value, Ipv4Addr::new(10, 0, 0, 1));
        assert!(t.elapsed() >= Duration::from_millis(150));
        assert_eq!(r.nameservers()[0].timeouts, 1);
        assert!(!r.nameservers()[0].down);
        r.resolve_ipv4("y.test").await.unwrap();
        assert!(r.nameservers()[0].down, "two timeouts mark it down");
        // Now requests go straight to the good server.
        let t = Instant::now();
        r.resolve_ipv4("z.test").await.unwrap();
        assert!(
            t.elapsed() < Duration::from_millis(150),
            "{:?}",
            t.elapsed()
        );
        // Probes go on with back-off while it is silent ...
        runtime_reactor::time::sleep(Duration::from_millis(700)).await;
        let s = r.nameservers()[0];
        assert!(s.down && s.probes >= 2, "{s:?}");
        // ... and it is up again once it answers one.
        answering.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(5);
        while r.nameservers()[0].down {
            assert!(Instant::now() < deadline, "probe never brought it back");
            runtime_reactor::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            r.resolve_ipv4("w.test").await.unwrap().entries[0].value,
            Ipv4Addr::new(10, 0, 0, 9)
        );
    });
}

#[test]
fn silent_nameserver_times_out_after_timeout_times_attempts() {
    let hole = FakeServer::black_hole();
    run(LIMIT, async {
        let mut c = config(&[hole.addr], 100);
        c.attempts = 3;
        let r = Resolver::new(c);
        let t = Instant::now();
        assert!(matches!(
            r.resolve_ipv4("x.test").await,
            Err(Error::Timeout)
        ));
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_millis(1500),
            "{took:?}"
        );
        assert_eq!(hole.count(), 3);
    });
}

#[test]
fn spoofed_replies_are_ignored_and_the_genuine_one_accepted() {
    let server = FakeServer::start(|req| {
        let Some(q) = &req.msg else { return };
        let bad = RData::A(Ipv4Addr::new(6, 6, 6, 6));
        // Wrong source port: the same reply from another socket.
        let other = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        other
            .send_to(&answer(q, Rcode::NOERROR, 60, vec![bad.clone()]), req.from)
            .unwrap();
        // Wrong id.
        let mut wrong_id = q.clone();
        wrong_id.header.id = q.header.id.wrapping_add(1);
        req.reply(&answer(&wrong_id, Rcode::NOERROR, 60, vec![bad.clone()]));
        // Wrong question name, wrong type.
        let mut wrong_q = q.clone();
        wrong_q.questions[0].name = Name::from_ascii("evil.test").unwrap();
        req.reply(&answer(&wrong_q, Rcode::NOERROR, 60, vec![bad.clone()]));
        let mut wrong_t = q.clone();
        wrong_t.questions[0].qtype = RecordType::AAAA;
        req.reply(&answer(&wrong_t, Rcode::NOERROR, 60, vec![bad.clone()]));
        // Wrong case under 0x20: every letter flipped.
        let mut wrong_case = q.clone();
        let flipped: Vec<Vec<u8>> = q.questions[0]
            .name
            .labels()
            .map(|l| {
                l.iter()
                    .map(|b| {
                        if b.is_ascii_uppercase() {
                            b.to_ascii_lowercase()
                        } else {
                            b.to_ascii_uppercase()
                        }
                    })
                    .collect()
            })
            .collect();
        wrong_case.questions[0].name = Name::from_labels(&flipped).unwrap();
        req.reply(&answer(&wrong_case, Rcode::NOERROR, 60, vec![bad.clone()]));
        // Not a response (QR clear).
        let mut not_resp = Message::parse(&answer(q, Rcode::NOERROR, 60, vec![bad])).unwrap();
        not_resp.header.qr = false;
        req.reply(&not_resp.to_bytes());
        // Garbage with another id.
        req.reply(&[(q.header.id ^ 0xFFFF) as u8, 0, 1, 2, 3]);
        // The genuine answer.
        req.reply(&answer(
            q,
            Rcode::NOERROR,
            60,
            vec![RData::A(Ipv4Addr::new(1, 2, 3, 4))],
        ));
    });
    run(LIMIT, async {
        let r = Resolver::new(config(&[server.addr], 2000));
        for name in ["spoof.example.test", "another.example.test"] {
            let a = r.resolve_ipv4(name).await.unwrap();
            assert_eq!(
                a.values().collect::<Vec<_>>(),
                [&Ipv4Addr::new(1, 2, 3, 4)],
                "{name}"
            );
        }
        assert_eq!(server.count(), 2, "one query each: nothing was retried");
    });
}

#[test]
fn malformed_replies_are_typed_errors_and_the_resolver_keeps_serving() {
    /// Keeps the query's id and flips QR on, then appends `tail` after a
    /// header with the given counts.
    fn reply(q: &[u8], counts: [u16; 4], tail: &[u8]) -> Vec<u8> {
        let mut v = vec![q[0], q[1], 0x81, 0x80];
        for c in counts {
            v.extend_from_slice(&c.to_be_bytes());
        }
        v.extend_from_slice(tail);
        v
    }
    type Build = fn(&[u8]) -> Vec<u8>;
    let cases: Vec<(&str, Build, WireError)> = vec![
        (
            "header only, one question promised",
            |q| reply(q, [1, 0, 0, 0], &[]),
            WireError::CountOverrun,
        ),
        (
            "header cut short",
            |q| q[..6].to_vec(),
            WireError::Truncated,
        ),
        (
            "pointer to itself",
            |q| reply(q, [1, 0, 0, 0], &[0xC0, 12, 0, 1, 0, 1]),
            WireError::PointerLoop,
        ),
        (
            "forward pointer",
            |q| reply(q, [1, 0, 0, 0], &[0xC0, 14, 1, b'a', 0, 0, 1, 0, 1]),
            WireError::PointerForward,
        ),
        (
            "pointer past the end",
            |q| reply(q, [1, 0, 0, 0], &[0xC0, 200, 0, 1, 0, 1]),
            WireError::PointerOutOfBounds,
        ),
        (
            "bad label type",
            |q| reply(q, [1, 0, 0, 0], &[0x80, 0, 0, 1, 0, 1]),
            WireError::BadLabelType,
        ),
        (
            "rdlength past the end",
            |q| {
                let question = &q[12..];
                let mut v = reply(q, [1, 1, 0, 0], question);
                v.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 9, 0, 200, 1, 2, 3, 4]);
                v
            },
            WireError::RdataOverrun,
        ),
        (
            "A record of 3 bytes",
            |q| {
                let end = 12 + q[12..].iter().position(|&b| b == 0).unwrap() + 5;
                let mut v = reply(q, [1, 1, 0, 0], &q[12..end]);
                v.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 9, 0, 3, 1, 2, 3]);
                v
            },
            WireError::RdataLength,
        ),
    ];
    let which = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let w2 = which.clone();
    let builders: Vec<Build> = cases.iter().map(|c| c.1).collect();
    let server = FakeServer::start(move |req| {
        let i = w2.load(Ordering::SeqCst);
        match builders.get(i) {
            Some(b) => req.reply(&b(req.raw)),
            None => {
                let q = req.msg.as_ref().unwrap();
                req.reply(&answer(
                    q,
                    Rcode::NOERROR,
                    5,
                    vec![RData::A(Ipv4Addr::new(10, 0, 0, 1))],
                ));
            }
        }
    });
    run(LIMIT, async {
        let mut c = config(&[server.addr], 2000);
        c.cache_size = 0;
        // Without EDNS the question runs to the end of the query, which
        // some cases reuse.
        c.edns0 = false;
        let r = Resolver::new(c);
        for (i, (what, _, want)) in cases.iter().enumerate() {
            which.store(i, Ordering::SeqCst);
            match r.resolve_ipv4("m.test").await {
                Err(Error::Malformed(e)) => assert_eq!(e, *want, "{what}"),
                other => panic!("{what}: {other:?}"),
            }
        }
        which.store(usize::MAX, Ordering::SeqCst);
        assert_eq!(
            r.resolve_ipv4("m.test").await.unwrap().entries[0].value,
            Ipv4Addr::new(10, 0, 0, 1)
        );
    });
}

#[test]
fn truncated_reply_is_retried_over_tcp() {
    let many: Vec<RData> = (0..100)
        .map(|i| RData::A(Ipv4Addr::new(10, 0, 1, i)))
        .collect();
    let many2 = many.clone();
    let (udp_sock, tcp_listener) = udp_tcp_pair();
    let udp = FakeServer::start_on(udp_sock, move |req| {
        let q = req.msg.as_ref().unwrap();
        let full = Message::parse(&answer(q, Rcode::NOERROR, 60, many2.clone())).unwrap();
        let (bytes, truncated) = full.to_bytes_limited(512);
        assert!(truncated);
        req.reply(&bytes);
    });
    let tcp = FakeTcpServer::start_on(tcp_listener, move |q| {
        answer(q, Rcode::NOERROR, 60, many.clone())
    });
    assert_eq!(tcp.addr, udp.addr);
    run(LIMIT, async {
        let r = Resolver::new(config(&[udp.addr], 2000));
        let a = r.resolve_ipv4("big.test").await.unwrap();
        assert_eq!(a.len(), 100);
        assert_eq!(a.entries[99].value, Ipv4Addr::new(10, 0, 1, 99));
    });
}

#[test]
fn cache_hits_ttl_expiry_negative_caching_and_bound() {
    let server = FakeServer::start(|req| {
        let q = req.msg.as_ref().unwrap();
        let name = q.questions[0].name.to_string().to_ascii_lowercase();
        let bytes = if name.starts_with("gone") {
            negative(q, Rcode::NXDOMAIN, 1)
        } else if name.starts_with("empty") {
            negative(q, Rcode::NOERROR, 1)
        } else {
            answer(
                q,
                Rcode::NOERROR,
                1,
                vec![RData::A(Ipv4Addr::new(10, 0, 0, 1))],
            )
        };
        req.reply(&bytes);
    });
    run(LIMIT, async {
        let mut c = config(&[server.addr], 2000);
        c.cache_size = 3;
        let r = Resolver::new(c);
        let first = r.resolve_ipv4("c.test").await.unwrap();
        assert_eq!(first.entries[0].ttl, 1);
        assert_eq!(server.count(), 1);
        // A hit: no query, case ignored.
        r.resolve_ipv4("C.TEST").await.unwrap();
        assert_eq!(server.count(), 1);
        // Negative answers are cached for the SOA's TTL.
        assert!(matches!(
            r.resolve_ipv4("gone.test").await,
            Err(Error::NxDomain)
        ));
        assert!(matches!(
            r.resolve_ipv4("gone.test").await,
            Err(Error::NxDomain)
        ));
        assert!(matches!(
            r.resolve_ipv4("empty.test").await,
            Err(Error::NoData)
        ));
        assert!(matches!(
            r.resolve_ipv4("empty.test").await,
            Err(Error::NoData)
        ));
        assert_eq!(server.count(), 3);
        assert_eq!(r.cache_stats().0, 3);
        // Expiry: after the TTL the server is asked again.
        runtime_reactor::time::sleep(Duration::from_millis(1100)).await;
        r.resolve_ipv4("c.test").await.unwrap();
        assert!(matches!(
            r.resolve_ipv4("gone.test").await,
            Err(Error::NxDomain)
        ));
        assert_eq!(server.count(), 5);
        // The bound: 3 entries at most.
        for n in ["d1.test", "d2.test", "d3.test", "d4.test"] {
            r.resolve_ipv4(n).await.unwrap();
        }
        assert!(r.cache_len() <= 3, "{}", r.cache_len());
    });
    // Off: every lookup asks.
    run(LIMIT, async {
        let mut c = config(&[server.addr], 2000);
        c.cache_size = 0;
        let r = Resolver::new(c);
        let before = server.count();
        r.resolve_ipv4("c.test").await.unwrap();
        r.resolve_ipv4("c.test").await.unwrap();
        assert_eq!(server.count(), before + 2);
    });
}

#[test]
fn zero_x20_edns_and_random_ports() {
    let ports = Arc::new(std::sync::Mutex::new(Vec::new()));
    let p2 = ports.clone();
    let server = FakeServer::start(move |req| {
        p2.lock().unwrap().push(req.from);
        let q = req.msg.as_ref().unwrap();
        req.reply(&answer(
            q,
            Rcode::NOERROR,
            60,
            vec![RData::A(Ipv4Addr::new(10, 0, 0, 1))],
        ));
    });
    let name = "abcdefghijklmnopqrstuvwxyz.test";
    run(LIMIT, async {
        let mut c = config(&[server.addr], 2000);
        c.cache_size = 0;
        c.udp_size = 1400;
        c.bind_address = Some("127.0.0.1".parse().unwrap());
        let r = Resolver::new(c.clone());
        for _ in 0..4 {
            r.resolve_ipv4(name).await.unwrap();
        }
        let log = server.log.lock().unwrap().clone();
        assert!(log
            .iter()
            .all(|m| m.edns.as_ref().map(|e| e.udp_size) == Some(1400)));
        let cases: Vec<String> = log
            .iter()
            .map(|m| m.questions[0].name.to_string())
            .collect();
        assert!(
            cases
                .iter()
                .any(|n| n.bytes().any(|b| b.is_ascii_uppercase())),
            "{cases:?}"
        );
        assert!(
            cases.windows(2).any(|w| w[0] != w[1]),
            "case differs between queries: {cases:?}"
        );
        let ports = ports.lock().unwrap().clone();
        assert!(ports.iter().all(|p| p.ip() == c.bind_address.unwrap()));
        assert!(
            ports.windows(2).any(|w| w[0].port() != w[1].port()),
            "{ports:?}"
        );
        let ids: Vec<u16> = log.iter().map(|m| m.header.id).collect();
        assert!(ids.windows(2).any(|w| w[0] != w[1]), "{ids:?}");

        // 0x20 and EDNS0 off: the name goes out as given, no OPT.
        c.randomize_case = false;
        c.edns0 = false;
        let r = Resolver::new(c);
        r.resolve_ipv4(name).await.unwrap();
        let last = server.log.lock().unwrap().last().unwrap().clone();
        assert!(last.questions[0]
            .name
            .eq_case_sensitive(&Name::from_ascii(name).unwrap()));
        assert!(last.edns.is_none());
    });
}

#[test]
fn search_order_follows_ndots() {
    let server = FakeServer::start(|req| {
        let q = req.msg.as_ref().unwrap();
        req.reply(&negative(q, Rcode::NXDOMAIN, 0));
    });
    run(LIMIT, async {
        let mut c = config(&[server.addr], 2000);
        c.randomize_case = false;
        c.search = vec![
            Name::from_ascii("s1.test").unwrap(),
            Name::from_ascii("s2.test").unwrap(),
        ];
        c.ndots = 2;
        assert!(matches!(
            Resolver::new(c.clone()).resolve_ipv4("x.y").await,
            Err(Error::NxDomain)
        ));
        c.ndots = 1;
        assert!(matches!(
            Resolver::new(c.clone()).resolve_ipv4("x.y").await,
            Err(Error::NxDomain)
        ));
        assert!(matches!(
            Resolver::new(c).resolve_ipv4("abs.").await,
            Err(Error::NxDomain)
        ));
        assert_eq!(
            server.names(),
            [
                "x.y.s1.test.",
                "x.y.s2.test.",
                "x.y.", // ndots 2: search first
                "x.y.",
                "x.y.s1.test.",
                "x.y.s2.test.", // ndots 1: as given first
                "abs.",
            ]
        );
    });
}

#[test]
fn requests_over_the_cap_queue_and_cancel() {
    let hole = FakeServer::black_hole();
    run(LIMIT, async {
        let mut c = config(&[hole.addr], 10_000);
        c.max_inflight = 2;
        c.attempts = 1;
        let r = Resolver::new(c);
        let mut tasks = Vec::new();
        for i in 0..5 {
            let r = r.clone();
            tasks.push(runtime_executor::spawn(async move {
                r.resolve_ipv4(&format!("q{i}.test")).await
            }));
        }
        runtime_reactor::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(hole.count(), 2, "only two in flight");
        assert_eq!(r.queued(), 3);
        // Dropping a queued request's future leaves the queue.
        tasks.pop().unwrap().abort();
        runtime_reactor::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(r.queued(), 2);
        // Dropping one in flight frees its slot for the next in line.
        tasks.remove(0).abort();
        runtime_reactor::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(hole.count(), 3);
        assert_eq!(r.queued(), 1);
        // Shutdown ends everything pending with Cancelled.
        r.shutdown();
        for t in tasks {
            assert!(matches!(t.await.unwrap(), Err(Error::Cancelled)));
        }
        assert!(matches!(
            r.resolve_ipv4("late.test").await,
            Err(Error::Cancelled)
        ));
    });
}

#[test]
fn servfail_and_refused_try_the_next_server() {
    let failing = FakeServer::start(|req| {
        let q = req.msg.as_ref().unwrap();
        req.reply(&answer(q, Rcode::SERVFAIL, 0, vec![]));
    });
    let refusing = FakeServer::start(|req| {
        let q = req.msg.as_ref().unwrap();
        req.reply(&answer(q, Rcode::REFUSED, 0, vec![]));
    });
    let good = a_server(60);
    run(LIMIT, async {
        let r = Resolver::new(config(&[failing.addr, good.addr], 2000));
        assert!(r.resolve_ipv4("a.test").await.is_ok());
        let r = Resolver::new(config(&[failing.addr], 2000));
        assert!(matches!(
            r.resolve_ipv4("a.test").await,
            Err(Error::ServerFailure)
        ));
        let r = Resolver::new(config(&[refusing.addr], 2000));
        assert!(matches!(
            r.resolve_ipv4("a.test").await,
            Err(Error::Refused)
        ));
        let r = Resolver::new(ResolverConfig::new());
        assert!(matches!(
            r.resolve_ipv4("a.test").await,
            Err(Error::NoNameservers)
        ));
        assert!(matches!(
            r.resolve_ipv4("a..test").await,
            Err(Error::InvalidName(WireError::EmptyLabel))
        ));
    });
}

#[test]
fn rotate_spreads_requests_over_the_nameservers() {
    let (one, two) = (a_server(60), a_server(60));
    run(LIMIT, async {
        let mut c = config(&[one.addr, two.addr], 2000);
        c.cache_size = 0;
        let r = Resolver::new(c.clone());
        for i in 0..4 {
            r.resolve_ipv4(&format!("r{i}.test")).await.unwrap();
        }
        assert_eq!(
            (one.count(), two.count()),
            (4, 0),
            "in order without rotate"
        );
        c.rotate = true;
        let r = Resolver::new(c);
        for i in 0..6 {
            r.resolve_ipv4(&format!("s{i}.test")).await.unwrap();
        }
        assert_eq!(
            (one.count(), two.count()),
            (7, 3),
            "round-robin with rotate"
        );
    });
}
