//! DnsServer over real sockets: answers through an async handler on UDP
//! and TCP, TC truncation with the resolver's TCP fallback, FORMERR for
//! malformed queries, garbage survived, slow TCP clients and slow handlers
//! blocking nobody.

mod support;

use runtime_dns::wire::{Edns, Message, Name, RData, Rcode, Record, RecordType};
use runtime_dns::{DnsServer, Error, Request, Resolver, ResolverConfig, Transport};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};
use support::run;

const LIMIT: Duration = Duration::from_secs(20);

/// `big.test` has 100 A records (too many for 512 bytes); `slow.test`
/// answers after 800 ms; `refused.test` is REFUSED, `fail.test` SERVFAIL,
/// anything else NXDOMAIN; `host.test` has one A.
async fn handler(req: Request) -> Message {
    let q = req.question().clone();
    let name = q.name.to_string().to_ascii_lowercase();
    match (name.as_str(), q.qtype) {
        ("big.test.", RecordType::A) => req.answer(
            (0..100)
                .map(|i| Record::new(q.name.clone(), 60, RData::A(Ipv4Addr::new(10, 9, 0, i))))
                .collect(),
        ),
        ("host.test.", RecordType::A) => req.answer(vec![Record::new(
            q.name.clone(),
            60,
            RData::A(Ipv4Addr::new(10, 0, 0, 1)),
        )]),
        ("slow.test.", RecordType::A) => {
            runtime_reactor::time::sleep(Duration::from_millis(800)).await;
            req.answer(vec![Record::new(
                q.name.clone(),
                60,
                RData::A(Ipv4Addr::new(10, 0, 0, 2)),
            )])
        }
        ("transport.test.", RecordType::TXT) => {
            let t = if req.transport == Transport::Tcp {
                "tcp"
            } else {
                "udp"
            };
            req.answer(vec![Record::new(
                q.name.clone(),
                60,
                RData::Txt(vec![t.as_bytes().to_vec()]),
            )])
        }
        ("all.test.", t) => {
            let n = |s: &str| Name::from_ascii(s).unwrap();
            let data = match t {
                RecordType::AAAA => RData::Aaaa("fd00::7".parse().unwrap()),
                RecordType::CNAME => RData::Cname(n("host.test")),
                RecordType::MX => RData::Mx {
                    preference: 5,
                    exchange: n("mx.all.test"),
                },
                RecordType::TXT => RData::Txt(vec![b"v=1".to_vec(), Vec::new()]),
                RecordType::SRV => RData::Srv {
                    priority: 1,
                    weight: 2,
                    port: 443,
                    target: n("host.test"),
                },
                RecordType::NS => RData::Ns(n("ns1.all.test")),
                RecordType::SOA => RData::Soa {
                    mname: n("ns1.all.test"),
                    rname: n("admin.all.test"),
                    serial: 7,
                    refresh: 1,
                    retry: 2,
                    expire: 3,
                    minimum: 4,
                },
                RecordType::PTR => RData::Ptr(n("host.test")),
                _ => return req.response(Rcode::NOERROR),
            };
            req.answer(vec![Record::new(q.name.clone(), 42, data)])
        }
        ("refused.test.", _) => req.response(Rcode::REFUSED),
        ("fail.test.", _) => req.response(Rcode::SERVFAIL),
        _ => req.response(Rcode::NXDOMAIN),
    }
}

fn resolver(addr: SocketAddr) -> Resolver {
    let mut c = ResolverConfig::new().with_nameserver(addr);
    c.timeout = Duration::from_secs(2);
    c.cache_size = 0;
    Resolver::new(c)
}

#[test]
fn resolver_against_our_server_with_tc_fallback() {
    run(LIMIT, async {
        let server = DnsServer::bind("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let addr = server.local_addr().unwrap();
        let stats = server.stats();
        runtime_executor::spawn(server.serve(handler));
        let r = resolver(addr);
        assert_eq!(
            r.resolve_ipv4("host.test").await.unwrap().entries[0].value,
            Ipv4Addr::new(10, 0, 0, 1)
        );
        // 100 A records: 1612 bytes, over the resolver's EDNS0 size of
        // 1232, so UDP says TC and the resolver asks again over TCP.
        let big = r.resolve_ipv4("big.test").await.unwrap();
        assert_eq!(big.len(), 100);
        assert_eq!(stats.truncated.get(), 1);
        assert!(matches!(
            r.resolve_ipv4("nope.test").await,
            Err(Error::NxDomain)
        ));
        assert!(matches!(
            r.resolve_ipv4("refused.test").await,
            Err(Error::Refused)
        ));
        assert!(matches!(
            r.resolve_ipv4("fail.test").await,
            Err(Error::ServerFailure)
        ));
        assert!(matches!(
            r.resolve_ipv6("host.test").await,
            Err(Error::NxDomain)
        ));
    });
}

/// Sends `bytes` over UDP and returns the reply, if any within 1 s.
fn udp_ask(addr: SocketAddr, bytes: &[u8]) -> Option<Vec<u8>> {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    s.send_to(bytes, addr).unwrap();
    let mut buf = vec![0u8; 65536];
    let (n, _) = s.recv_from(&mut buf).ok()?;
    Some(buf[..n].to_vec())
}

fn tcp_ask(c: &mut std::net::TcpStream, bytes: &[u8]) -> Message {
    let mut out = (bytes.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    c.write_all(&out).unwrap();
    let mut len = [0u8; 2];
    c.read_exact(&mut len).unwrap();
    let mut body = vec![0u8; u16::from_be_bytes(len) as usize];
    c.read_exact(&mut body).unwrap();
    Message::parse(&body).unwrap()
}

#[test]
fn truncation_formerr_garbage_and_slow_clients() {
    // The server runs on its own thread; this thread is the client with
    // blocking std sockets.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        runtime_executor::block_on(async move {
            let server = DnsServer::bind("127.0.0.1:0".parse().unwrap())
                .await
                .unwrap();
            tx.send(server.local_addr().unwrap()).unwrap();
            let _ = server.serve(handler).await;
        })
    });
    let addr = rx.recv().unwrap();
    let big = Message::query(1, Name::from_ascii("big.test").unwrap(), RecordType::A);

    // Plain UDP: 512 bytes at most, TC set, question kept.
    let r = Message::parse(&udp_ask(addr, &big.to_bytes()).unwrap()).unwrap();
    assert!(r.header.tc && r.answers.is_empty() && r.questions == big.questions);
    // EDNS0 with room: the whole answer over UDP.
    let mut roomy = big.clone();
    roomy.edns = Some(Edns::new(4096));
    let bytes = udp_ask(addr, &roomy.to_bytes()).unwrap();
    let r = Message::parse(&bytes).unwrap();
    assert!(!r.header.tc && r.answers.len() == 100 && bytes.len() > 512);

    // Garbage: a readable header gets FORMERR with its id; too short is
    // dropped; the server goes on.
    let mut junk = vec![0xAB, 0xCD, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    junk.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1]);
    let r = Message::parse(&udp_ask(addr, &junk).unwrap()).unwrap();
    assert_eq!((r.header.id, r.rcode()), (0xABCD, Rcode::FORMERR));
    assert!(udp_ask(addr, &[1, 2, 3]).is_none());
    let two_questions = {
        let mut m = big.clone();
        m.questions.push(m.questions[0].clone());
        m.to_bytes()
    };
    assert_eq!(
        Message::parse(&udp_ask(addr, &two_questions).unwrap())
            .unwrap()
            .rcode(),
        Rcode::FORMERR
    );

    // A slow TCP client (half a message, then silence) and an idle one
    // block nobody: UDP and other TCP clients are served meanwhile.
    let mut stalled = std::net::TcpStream::connect(addr).unwrap();
    stalled.write_all(&[0, 40, 1, 2]).unwrap();
    let _idle = std::net::TcpStream::connect(addr).unwrap();
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let r = tcp_ask(&mut c, &big.to_bytes());
    assert_eq!(r.answers.len(), 100);
    let t = Message::query(
        2,
        Name::from_ascii("transport.test").unwrap(),
        RecordType::TXT,
    );
    let r = tcp_ask(&mut c, &t.to_bytes());
    assert_eq!(r.answers[0].data, RData::Txt(vec![b"tcp".to_vec()]));
    let r = Message::parse(&udp_ask(addr, &t.to_bytes()).unwrap()).unwrap();
    assert_eq!(r.answers[0].data, RData::Txt(vec![b"udp".to_vec()]));

    // A slow handler (800 ms) does not hold up the UDP queries behind it.
    let slow = std::thread::spawn(move || {
        udp_ask(
            addr,
            &Message::query(3, Name::from_ascii("slow.test").unwrap(), RecordType::A).to_bytes(),
        )
    });
    std::thread::sleep(Duration::from_millis(50));
    let t0 = Instant::now();
    let fast = Message::query(4, Name::from_ascii("host.test").unwrap(), RecordType::A);
    assert!(udp_ask(addr, &fast.to_bytes()).is_some());
    assert!(
        t0.elapsed() < Duration::from_millis(500),
        "{:?}",
        t0.elapsed()
    );
    let r = Message::parse(&slow.join().unwrap().unwrap()).unwrap();
    assert_eq!(r.answers[0].data, RData::A(Ipv4Addr::new(10, 0, 0, 2)));
}

#[test]
fn a_burst_from_many_clients_is_answered_each_to_its_sender() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        runtime_executor::block_on(async move {
            let server = DnsServer::bind("127.0.0.1:0".parse().unwrap())
                .await
                .unwrap();
            tx.send(server.local_addr().unwrap()).unwrap();
            let _ = server.serve(handler).await;
        })
    });
    let addr = rx.recv().unwrap();
    // 100 clients send at once (more than one receive batch), each query
    // with its own id and, for a third of them, a case of its own; a few
    // are garbage with a readable header; one is longer than any real
    // query (cut on receipt: FORMERR).
    let clients: Vec<std::net::UdpSocket> = (0..100)
        .map(|_| {
            let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s
        })
        .collect();
    let name_of = |i: usize| {
        if i.is_multiple_of(3) {
            "HoSt.TeSt"
        } else {
            "host.test"
        }
    };
    for (i, c) in clients.iter().enumerate() {
        let bytes = if i % 10 == 9 {
            vec![
                (i >> 8) as u8,
                i as u8,
                0x01,
                0,
                0,
                1,
                0,
                0,
                0,
                0,
                0,
                0,
                0xC0,
                12,
            ]
        } else if i == 50 {
            let mut m = Message::query(
                i as u16,
                Name::from_ascii("host.test").unwrap(),
                RecordType::A,
            );
            m.additionals.push(Record::new(
                Name::root(),
                0,
                RData::Txt(vec![vec![b'x'; 250]; 20]),
            ));
            let b = m.to_bytes();
            assert!(b.len() > 4096);
            b
        } else {
            Message::query(
                i as u16,
                Name::from_ascii(name_of(i)).unwrap(),
                RecordType::A,
            )
            .to_bytes()
        };
        c.send_to(&bytes, addr).unwrap();
    }
    let mut buf = [0u8; 4096];
    for (i, c) in clients.iter().enumerate() {
        let (n, from) = c.recv_from(&mut buf).unwrap();
        assert_eq!(from, addr);
        let r = Message::parse(&buf[..n]).unwrap();
        assert_eq!(r.header.id, i as u16, "client {i} got its own answer");
        if i % 10 == 9 || i == 50 {
            assert_eq!(r.rcode(), Rcode::FORMERR, "client {i}");
            continue;
        }
        assert!(
            r.questions[0]
                .name
                .eq_case_sensitive(&Name::from_ascii(name_of(i)).unwrap()),
            "client {i}: question echoed as asked"
        );
        assert_eq!(r.answers[0].data, RData::A(Ipv4Addr::new(10, 0, 0, 1)));
    }
}
