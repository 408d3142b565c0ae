//! Connecting by host name through the resolver: `runtime_dns::connect`
//! and `net::TcpStream::connect("name:port")` once the hook is installed
//! (the names exist only on the test's own DNS server, so getaddrinfo
//! could not have found them).

mod support;

use runtime_dns::wire::{RData, Rcode, RecordType};
use runtime_dns::{Resolver, ResolverConfig};
use runtime_net::{TcpListener, TcpStream};
use std::io;
use std::net::Ipv4Addr;
use std::time::Duration;
use support::{answer, negative, run, FakeServer};

fn server() -> FakeServer {
    FakeServer::start(|req| {
        let q = req.msg.as_ref().unwrap();
        let name = q.questions[0].name.to_string().to_ascii_lowercase();
        let bytes = match (name.as_str(), q.questions[0].qtype) {
            ("svc.test.", RecordType::A) => {
                answer(q, Rcode::NOERROR, 60, vec![RData::A(Ipv4Addr::LOCALHOST)])
            }
            ("svc.test.", _) => negative(q, Rcode::NOERROR, 60),
            _ => negative(q, Rcode::NXDOMAIN, 60),
        };
        req.reply(&bytes);
    })
}

#[test]
fn connect_by_name() {
    let dns = server();
    run(Duration::from_secs(20), async {
        let mut c = ResolverConfig::new().with_nameserver(dns.addr);
        c.timeout = Duration::from_secs(2);
        runtime_dns::set_thread_resolver(Resolver::new(c));
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        runtime_executor::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let _ = s.write_all(b"hi").await;
            }
        });

        let mut s = runtime_dns::connect("svc.test", port).await.unwrap();
        let mut buf = [0u8; 2];
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hi");
        // Literal addresses need no lookup.
        let before = dns.count();
        runtime_dns::connect("127.0.0.1", port).await.unwrap();
        assert_eq!(dns.count(), before);
        let err = runtime_dns::connect("missing.test", port)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);

        // The hook: TcpStream::connect with a name goes through the
        // resolver (and so through the thread's default, our server).
        runtime_dns::install_net_resolver();
        runtime_dns::thread_resolver().clear_cache();
        let before = dns.count();
        let mut s = TcpStream::connect(format!("svc.test:{port}"))
            .await
            .unwrap();
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hi");
        assert!(dns.count() > before);
        let mut s = TcpStream::connect(("svc.test", port)).await.unwrap();
        s.read_exact(&mut buf).await.unwrap();
        let err = TcpStream::connect(format!("missing.test:{port}"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    });
}
