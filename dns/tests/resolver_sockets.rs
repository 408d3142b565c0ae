//! The resolver's sockets: queries in flight sharing a pooled UDP socket
//! each get their own answer while forged replies are ignored; sockets are
//! replaced on new ports after their share of queries, after their
//! lifetime, and when a new runtime runs; the bind-to address holds for
//! UDP and for the TCP fallback.

mod support;

use runtime_dns::wire::{Message, Name, RData, Rcode, RecordType};
use runtime_dns::{Error, Resolver, ResolverConfig};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{answer, run, udp_tcp_pair, FakeServer, FakeTcpServer};

const LIMIT: Duration = Duration::from_secs(20);

fn config(server: SocketAddr) -> ResolverConfig {
    let mut c = ResolverConfig::new().with_nameserver(server);
    c.timeout = Duration::from_secs(3);
    c.cache_size = 0;
    c
}

/// `q` with every letter's case flipped (a reply failing the 0x20 check).
fn flip_case(name: &Name) -> Name {
    let labels: Vec<Vec<u8>> = name
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
    Name::from_labels(&labels).unwrap()
}

/// Answers every A query with 10.0.0.1 and records where queries came from.
fn recording_server() -> (FakeServer, Arc<Mutex<Vec<SocketAddr>>>) {
    let from = Arc::new(Mutex::new(Vec::new()));
    let f2 = from.clone();
    let server = FakeServer::start(move |req| {
        f2.lock().unwrap().push(req.from);
        if let Some(q) = &req.msg {
            req.reply(&answer(
                q,
                Rcode::NOERROR,
                60,
                vec![RData::A(Ipv4Addr::new(10, 0, 0, 1))],
            ));
        }
    });
    (server, from)
}

#[test]
fn queries_sharing_a_socket_get_their_own_answers_and_forgeries_are_ignored() {
    // Holds the first query until the second arrives, then answers both
    // at once, the genuine replies last and in reverse order, after a
    // forgery of every kind for each.
    let mut held: Vec<(Message, SocketAddr)> = Vec::new();
    let sources = Arc::new(Mutex::new(Vec::new()));
    let s2 = sources.clone();
    let server = FakeServer::start(move |req| {
        let Some(q) = req.msg.clone() else { return };
        s2.lock().unwrap().push(req.from);
        held.push((q, req.from));
        if held.len() < 2 {
            return;
        }
        let bad = || vec![RData::A(Ipv4Addr::new(6, 6, 6, 6))];
        let good = |q: &Message| {
            let last = if q.questions[0].name == Name::from_ascii("a.share.test").unwrap() {
                1
            } else {
                2
            };
            answer(
                q,
                Rcode::NOERROR,
                60,
                vec![RData::A(Ipv4Addr::new(10, 0, 0, last))],
            )
        };
        let (q1, from) = held[0].clone();
        let (q2, _) = held[1].clone();
        for (me, other) in [(&q1, &q2), (&q2, &q1)] {
            // My id with the other query's question.
            let mut swapped = other.clone();
            swapped.header.id = me.header.id;
            req.sock
                .send_to(&answer(&swapped, Rcode::NOERROR, 60, bad()), from)
                .unwrap();
            // My id and name with the case flipped (0x20).
            let mut wrong_case = me.clone();
            wrong_case.questions[0].name = flip_case(&me.questions[0].name);
            req.sock
                .send_to(&answer(&wrong_case, Rcode::NOERROR, 60, bad()), from)
                .unwrap();
            // My id and question, the wrong type.
            let mut wrong_type = me.clone();
            wrong_type.questions[0].qtype = RecordType::AAAA;
            req.sock
                .send_to(&answer(&wrong_type, Rcode::NOERROR, 60, bad()), from)
                .unwrap();
            // The exact reply, from another port.
            let other_port = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            other_port
                .send_to(&answer(me, Rcode::NOERROR, 60, bad()), from)
                .unwrap();
            // An id neither query has.
            let mut stray = me.clone();
            stray.header.id = q1.header.id ^ q2.header.id ^ 0x5a5a;
            if stray.header.id != q1.header.id && stray.header.id != q2.header.id {
                req.sock
                    .send_to(&answer(&stray, Rcode::NOERROR, 60, bad()), from)
                    .unwrap();
            }
        }
        req.sock.send_to(&good(&q2), from).unwrap();
        req.sock.send_to(&good(&q1), from).unwrap();
    });
    run(LIMIT, async {
        let mut c = config(server.addr);
        c.udp_sockets = 1;
        let r = Resolver::new(c);
        let (r1, r2) = (r.clone(), r.clone());
        let a = runtime_executor::spawn(async move { r1.resolve_ipv4("a.share.test").await });
        let b = runtime_executor::spawn(async move { r2.resolve_ipv4("b.share.test").await });
        let a = a.await.unwrap().unwrap();
        let b = b.await.unwrap().unwrap();
        assert_eq!(
            a.values().collect::<Vec<_>>(),
            [&Ipv4Addr::new(10, 0, 0, 1)]
        );
        assert_eq!(
            b.values().collect::<Vec<_>>(),
            [&Ipv4Addr::new(10, 0, 0, 2)]
        );
    });
    let sources = sources.lock().unwrap().clone();
    assert_eq!(sources.len(), 2, "one query each, nothing retried");
    assert_eq!(sources[0], sources[1], "both queries left from one socket");
    let ids: Vec<u16> = server
        .log
        .lock()
        .unwrap()
        .iter()
        .map(|m| m.header.id)
        .collect();
    assert_ne!(ids[0], ids[1], "ids are unique on a shared socket");
}

#[test]
fn sockets_are_replaced_after_their_queries_their_lifetime_and_a_new_runtime() {
    let (server, from) = recording_server();
    let mut c = config(server.addr);
    c.udp_sockets = 1;
    c.udp_socket_queries = 3;
    c.udp_socket_lifetime = Duration::from_millis(300);
    let r = Resolver::new(c);
    run(LIMIT, async {
        for i in 0..7 {
            r.resolve_ipv4(&format!("n{i}.test")).await.unwrap();
        }
    });
    let ports: Vec<u16> = from.lock().unwrap().iter().map(|a| a.port()).collect();
    assert_eq!(ports.len(), 7);
    assert!(ports[0] == ports[1] && ports[1] == ports[2], "{ports:?}");
    assert!(ports[3] == ports[4] && ports[4] == ports[5], "{ports:?}");
    assert_ne!(ports[2], ports[3], "a new port after 3 queries: {ports:?}");
    assert_ne!(ports[5], ports[6], "{ports:?}");

    // The resolver outlives that runtime: the next one gets a socket of
    // its own (the old one was registered with a reactor that is gone).
    run(LIMIT, async {
        r.resolve_ipv4("again.test").await.unwrap();
        // Past the lifetime, a socket takes no new query.
        r.resolve_ipv4("again2.test").await.unwrap();
        runtime_reactor::time::sleep(Duration::from_millis(400)).await;
        r.resolve_ipv4("later.test").await.unwrap();
    });
    let ports: Vec<u16> = from.lock().unwrap().iter().map(|a| a.port()).collect();
    assert_eq!(ports.len(), 10);
    assert_ne!(ports[6], ports[7], "new runtime, new socket: {ports:?}");
    assert_eq!(ports[7], ports[8], "{ports:?}");
    assert_ne!(ports[8], ports[9], "lifetime over, new socket: {ports:?}");
}

#[test]
fn default_pool_spreads_queries_over_ports_and_one_per_query_is_possible() {
    let (server, from) = recording_server();
    let pool = ResolverConfig::new().udp_sockets;
    assert!(pool >= 2, "the default pool has several sockets");
    run(LIMIT, async {
        let r = Resolver::new(config(server.addr));
        for i in 0..8 {
            r.resolve_ipv4(&format!("p{i}.test")).await.unwrap();
        }
        let mut c = config(server.addr);
        c.udp_socket_queries = 1;
        let r = Resolver::new(c);
        for i in 0..5 {
            r.resolve_ipv4(&format!("q{i}.test")).await.unwrap();
        }
    });
    let ports: Vec<u16> = from.lock().unwrap().iter().map(|a| a.port()).collect();
    let mut pooled = ports[..8].to_vec();
    pooled.sort_unstable();
    pooled.dedup();
    assert_eq!(
        pooled.len(),
        pool,
        "the pool's sockets taken in turn: {ports:?}"
    );
    assert!(ports[..8].windows(2).all(|w| w[0] != w[1]), "{ports:?}");
    let mut fresh = ports[8..].to_vec();
    fresh.sort_unstable();
    fresh.dedup();
    assert_eq!(fresh.len(), 5, "a fresh port per query: {ports:?}");
}

#[test]
fn tcp_fallback_leaves_from_the_bind_address() {
    let bind: IpAddr = "127.0.0.2".parse().unwrap();
    let many: Vec<RData> = (0..100)
        .map(|i| RData::A(Ipv4Addr::new(10, 0, 2, i)))
        .collect();
    let many2 = many.clone();
    let udp_from = Arc::new(Mutex::new(Vec::new()));
    let u2 = udp_from.clone();
    let (udp_sock, tcp_listener) = udp_tcp_pair();
    let udp = FakeServer::start_on(udp_sock, move |req| {
        u2.lock().unwrap().push(req.from);
        let q = req.msg.as_ref().unwrap();
        let full = Message::parse(&answer(q, Rcode::NOERROR, 60, many2.clone())).unwrap();
        let (bytes, truncated) = full.to_bytes_limited(512);
        assert!(truncated);
        req.reply(&bytes);
    });
    let tcp = FakeTcpServer::start_on(tcp_listener, move |q| {
        answer(q, Rcode::NOERROR, 60, many.clone())
    });
    run(LIMIT, async {
        let mut c = config(udp.addr);
        c.bind_address = Some(bind);
        let r = Resolver::new(c);
        let a = r.resolve_ipv4("big.test").await.unwrap();
        assert_eq!(a.len(), 100);
    });
    let udp_from = udp_from.lock().unwrap().clone();
    let tcp_from = tcp.peers.lock().unwrap().clone();
    assert_eq!(udp_from.len(), 1);
    assert_eq!(tcp_from.len(), 1);
    assert_eq!(udp_from[0].ip(), bind, "UDP from the bind address");
    assert_eq!(tcp_from[0].ip(), bind, "TCP from the bind address");
}

#[test]
fn a_bind_address_that_cannot_be_bound_is_an_error_not_a_hang() {
    let (server, _from) = recording_server();
    run(LIMIT, async {
        let mut c = config(server.addr);
        // TEST-NET-1: not an address of this host.
        c.bind_address = Some("192.0.2.1".parse().unwrap());
        c.attempts = 1;
        let r = Resolver::new(c);
        match r.resolve_ipv4("x.test").await {
            Err(Error::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::AddrNotAvailable),
            other => panic!("{other:?}"),
        }
    });
    assert_eq!(server.count(), 0);
}

#[test]
fn ipv6_nameserver() {
    let Ok(sock) = std::net::UdpSocket::bind("[::1]:0") else {
        eprintln!("skipping: no IPv6 loopback");
        return;
    };
    let from = Arc::new(Mutex::new(Vec::new()));
    let f2 = from.clone();
    let server = FakeServer::start_on(sock, move |req| {
        f2.lock().unwrap().push(req.from);
        if let Some(q) = &req.msg {
            req.reply(&answer(
                q,
                Rcode::NOERROR,
                60,
                vec![RData::A(Ipv4Addr::new(10, 0, 0, 6))],
            ));
        }
    });
    run(LIMIT, async {
        let r = Resolver::new(config(server.addr));
        let a = r.resolve_ipv4("six.test").await.unwrap();
        assert_eq!(a.entries[0].value, Ipv4Addr::new(10, 0, 0, 6));
    });
    let from = from.lock().unwrap().clone();
    assert!(
        from.iter()
            .all(|a| a.ip() == IpAddr::from(std::net::Ipv6Addr::LOCALHOST)),
        "{from:?}"
    );
}

/// Answers `nI.test` with 10.0.I/256.I%256, so each answer says which
/// question it is for.
fn numbered_server() -> FakeServer {
    FakeServer::start(|req| {
        let Some(q) = &req.msg else { return };
        let name = q.questions[0].name.to_string().to_ascii_lowercase();
        let Some(i) = name
            .strip_prefix('n')
            .and_then(|r| r.strip_suffix(".test."))
            .and_then(|n| n.parse::<u16>().ok())
        else {
            return;
        };
        req.reply(&answer(
            q,
            Rcode::NOERROR,
            60,
            vec![RData::A(Ipv4Addr::new(10, 0, (i >> 8) as u8, i as u8))],
        ));
    })
}

#[test]
fn many_lookups_in_flight_each_get_their_own_answer() {
    let server = numbered_server();
    run(LIMIT, async {
        let r = Resolver::new(config(server.addr));
        let tasks: Vec<_> = (0..300u16)
            .map(|i| {
                let r = r.clone();
                runtime_executor::spawn(
                    async move { (i, r.resolve_ipv4(&format!("n{i}.test")).await) },
                )
            })
            .collect();
        for t in tasks {
            let (i, a) = t.await.unwrap();
            let a = a.unwrap();
            assert_eq!(
                a.values().collect::<Vec<_>>(),
                [&Ipv4Addr::new(10, 0, (i >> 8) as u8, i as u8)],
                "n{i}.test"
            );
        }
    });
    assert_eq!(server.count(), 300, "each sent once");
}

/// Wakes one future of a hand-made join: sets its flag, then wakes the
/// task, so only futures actually woken are polled again.
struct Flag {
    woken: std::sync::atomic::AtomicBool,
    task: std::task::Waker,
}

impl std::task::Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.woken.store(true, std::sync::atomic::Ordering::SeqCst);
        self.task.wake_by_ref();
    }
}

#[test]
fn a_query_dropped_before_its_batch_went_out_passes_the_sending_on() {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::task::{Context, Poll, Waker};
    let server = numbered_server();
    run(LIMIT, async {
        let mut c = config(server.addr);
        c.udp_sockets = 1;
        let r = Resolver::new(c);
        let t = std::time::Instant::now();
        type Lookup<'a> =
            Pin<Box<dyn Future<Output = Result<runtime_dns::Answer<Ipv4Addr>, Error>> + 'a>>;
        let names: Vec<String> = (0..5).map(|i| format!("n{i}.test")).collect();
        let mut futs: Vec<Option<Lookup<'_>>> = names
            .iter()
            .map(|n| Some(Box::pin(r.resolve_ipv4(n)) as Lookup<'_>))
            .collect();
        let mut flags: Vec<Arc<Flag>> = Vec::new();
        let mut results = [None; 5];
        std::future::poll_fn(|cx| {
            if flags.is_empty() {
                // Each polled once, in order: n0 is queued first on the
                // socket, so it is the one to send the batch when polled
                // again ...
                for f in &mut futs {
                    let flag = Arc::new(Flag {
                        woken: AtomicBool::new(false),
                        task: cx.waker().clone(),
                    });
                    let w = Waker::from(flag.clone());
                    assert!(f
                        .as_mut()
                        .unwrap()
                        .as_mut()
                        .poll(&mut Context::from_waker(&w))
                        .is_pending());
                    flags.push(flag);
                }
                // ... but it is dropped first: the next in line must be
                // woken to send.
                futs[0] = None;
            }
            for i in 1..5 {
                if !flags[i].woken.swap(false, Ordering::SeqCst) {
                    continue;
                }
                let Some(f) = &mut futs[i] else { continue };
                let w = Waker::from(flags[i].clone());
                if let Poll::Ready(a) = f.as_mut().poll(&mut Context::from_waker(&w)) {
                    results[i] = Some(a.unwrap().entries[0].value);
                    futs[i] = None;
                }
            }
            if futs.iter().all(Option::is_none) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
        for (i, a) in results.iter().enumerate().skip(1) {
            assert_eq!(*a, Some(Ipv4Addr::new(10, 0, 0, i as u8)));
        }
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "answered at once, not after a timeout and a retry: {:?}",
            t.elapsed()
        );
    });
    let names = server.names();
    assert_eq!(
        names.len(),
        4,
        "the dropped query was never sent: {names:?}"
    );
    assert!(
        !names.iter().any(|n| n.eq_ignore_ascii_case("n0.test.")),
        "{names:?}"
    );
}
