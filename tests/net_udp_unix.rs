//! UDP over 127.0.0.1 (round trips, connect, peek, broadcast flag,
//! multicast membership on the loopback interface) and Unix sockets (pairs,
//! path and abstract listeners, datagrams). Every test is bounded in time.

use runtime::net::{UdpSocket, UnixDatagram, UnixListener, UnixStream};
use runtime::time::timeout;
use std::io::{ErrorKind, IoSlice};
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown};
use std::path::PathBuf;
use std::time::Duration;

#[path = "support/net.rs"]
mod net;
use net::bounded;

/// A fresh socket path in the temp directory, removed on drop.
struct TempPath(PathBuf);

impl TempPath {
    fn new(tag: &str) -> TempPath {
        let p = std::env::temp_dir().join(format!(
            "runtime-net-{tag}-{}-{:?}.sock",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_file(&p);
        TempPath(p)
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn unique(tag: &str) -> String {
    format!("runtime-net-{tag}-{}", std::process::id())
}

#[runtime::test]
async fn udp_send_to_and_recv_from() {
    bounded(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (aa, ba) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        assert_eq!(a.send_to(b"ping", ba).await.unwrap(), 4);
        let mut buf = [0u8; 64];
        let (n, from) = b.peek_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"ping"[..], aa));
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"ping"[..], aa));
        b.send_to(b"pong", from).await.unwrap();
        let (n, from) = a.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"pong"[..], ba));

        // Datagram boundaries are kept, and a short buffer truncates.
        a.send_to(b"first", ba).await.unwrap();
        a.send_to(b"second", ba).await.unwrap();
        let mut small = [0u8; 3];
        assert_eq!(b.recv_from(&mut small).await.unwrap().0, 3);
        assert_eq!(&small, b"fir");
        let (n, _) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"second");
    })
    .await
}

#[runtime::test]
async fn udp_waits_for_datagrams_in_another_task() {
    bounded(async {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = server.local_addr().unwrap();
        let echo = runtime::spawn(async move {
            let mut buf = [0u8; 64];
            for _ in 0..3 {
                let (n, from) = server.recv_from(&mut buf).await.unwrap();
                server.send_to(&buf[..n], from).await.unwrap();
            }
        });
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        client.connect(addr).await.unwrap();
        assert_eq!(client.peer_addr().unwrap(), addr);
        let mut buf = [0u8; 64];
        for msg in [&b"one"[..], b"two", b"three"] {
            client.send(msg).await.unwrap();
            let n = client.peek(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], msg);
            let n = client.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], msg);
        }
        echo.await.unwrap();
    })
    .await
}

#[runtime::test]
async fn udp_connected_socket_ignores_other_sources() {
    bounded(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let stranger = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        a.connect(b.local_addr().unwrap()).await.unwrap();
        stranger
            .send_to(b"spam", a.local_addr().unwrap())
            .await
            .unwrap();
        b.send_to(b"real", a.local_addr().unwrap()).await.unwrap();
        let mut buf = [0u8; 8];
        let n = a.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"real");
        // An unconnected socket has no peer.
        assert_eq!(b.peer_addr().unwrap_err().kind(), ErrorKind::NotConnected);
        // Sending without a destination on an unconnected socket: typed error.
        let err = b.send(b"where to?").await.unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::NotConnected | ErrorKind::InvalidInput
            ) || err.raw_os_error() == Some(libc::EDESTADDRREQ),
            "{err:?}"
        );
    })
    .await
}

#[runtime::test]
async fn udp_options() {
    bounded(async {
        let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        assert!(!s.broadcast().unwrap());
        s.set_broadcast(true).unwrap();
        assert!(s.broadcast().unwrap());
        s.set_broadcast(false).unwrap();
        assert!(!s.broadcast().unwrap());
        s.set_ttl(33).unwrap();
        assert_eq!(s.ttl().unwrap(), 33);
        s.set_multicast_loop_v4(false).unwrap();
        assert!(!s.multicast_loop_v4().unwrap());
        s.set_multicast_loop_v4(true).unwrap();
        assert!(s.multicast_loop_v4().unwrap());
        s.set_multicast_ttl_v4(1).unwrap();
        assert_eq!(s.multicast_ttl_v4().unwrap(), 1);
        assert!(s.take_error().unwrap().is_none());
    })
    .await
}

#[runtime::test]
async fn udp_multicast_membership_on_loopback() {
    bounded(async {
        let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let group = Ipv4Addr::new(239, 255, 42, 99);
        match s.join_multicast_v4(&group, &Ipv4Addr::LOCALHOST) {
            Ok(()) => {
                eprintln!("joined {group} on 127.0.0.1");
                // Joining twice is refused; leaving works once.
                assert_eq!(
                    s.join_multicast_v4(&group, &Ipv4Addr::LOCALHOST)
                        .unwrap_err()
                        .kind(),
                    ErrorKind::AddrInUse
                );
                s.leave_multicast_v4(&group, &Ipv4Addr::LOCALHOST).unwrap();
                assert!(s.leave_multicast_v4(&group, &Ipv4Addr::LOCALHOST).is_err());
            }
            Err(e) => {
                // The kernel refused multicast on lo: a typed error.
                eprintln!("joining {group} on 127.0.0.1 refused: {e}");
                assert!(e.raw_os_error().is_some(), "{e:?}");
            }
        }
        // Not a multicast address: a typed error.
        let err = s
            .join_multicast_v4(&Ipv4Addr::new(10, 0, 0, 1), &Ipv4Addr::LOCALHOST)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err:?}");

        // IPv6: join a group on the loopback interface, by index.
        let lo = {
            // SAFETY: a NUL-terminated literal.
            unsafe { libc::if_nametoindex(c"lo".as_ptr()) }
        };
        assert_ne!(lo, 0);
        // An IPv6 socket, still on 127.0.0.1 (v4-mapped).
        if let Ok(s6) = UdpSocket::bind("[::ffff:127.0.0.1]:0").await {
            let group6: Ipv6Addr = "ff02::4242".parse().unwrap();
            match s6.join_multicast_v6(&group6, lo) {
                Ok(()) => {
                    eprintln!("joined {group6} on lo");
                    s6.leave_multicast_v6(&group6, lo).unwrap()
                }
                Err(e) => {
                    eprintln!("joining {group6} on lo refused: {e}");
                    assert!(e.raw_os_error().is_some(), "{e:?}")
                }
            }
            s6.set_multicast_loop_v6(false).unwrap();
            assert!(!s6.multicast_loop_v6().unwrap());
        }
    })
    .await
}

#[runtime::test]
async fn udp_bad_input() {
    bounded(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let err = UdpSocket::bind(a.local_addr().unwrap()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse);
        let err = UdpSocket::bind("not an address").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        // A std socket converts both ways.
        let std = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = std.local_addr().unwrap();
        let s = UdpSocket::from_std(std).unwrap();
        assert_eq!(s.local_addr().unwrap(), addr);
        assert_eq!(s.into_std().unwrap().local_addr().unwrap(), addr);
    })
    .await
}

#[runtime::test]
async fn unix_pair_both_ways_and_half_close() {
    bounded(async {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        assert!(a.local_addr().unwrap().is_unnamed());
        assert!(a.peer_addr().unwrap().is_unnamed());
        a.write_all(b"to b").await.unwrap();
        b.write_all(b"to a").await.unwrap();
        let mut buf = [0u8; 4];
        b.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"to b");
        a.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"to a");
        let n = a
            .write_vectored(&[IoSlice::new(b"ve"), IoSlice::new(b"ct")])
            .await
            .unwrap();
        assert_eq!(n, 4);
        b.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"vect");

        a.shutdown(Shutdown::Write).unwrap();
        assert_eq!(b.read(&mut buf).await.unwrap(), 0);
        assert_eq!(
            a.write(b"no").await.unwrap_err().kind(),
            ErrorKind::BrokenPipe
        );
        // Dropping the peer: our writes fail, with an error, not SIGPIPE.
        drop(a);
        assert_eq!(
            b.write(b"gone").await.unwrap_err().kind(),
            ErrorKind::BrokenPipe
        );
    })
    .await
}

#[runtime::test]
async fn unix_large_transfer_with_split_halves() {
    bounded(async {
        let (a, b) = UnixStream::pair().unwrap();
        let (mut ar, mut aw) = a.split();
        let (mut br, mut bw) = b.into_split();
        const LEN: usize = 1 << 20;
        let data: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
        let expect = data.clone();
        let writer = runtime::spawn(async move {
            aw.write_all(&data).await.unwrap();
            aw.shutdown().unwrap();
            aw
        });
        let echo = runtime::spawn(async move {
            let mut buf = vec![0u8; 10_000];
            loop {
                let n = br.read(&mut buf).await.unwrap();
                if n == 0 {
                    bw.shutdown().unwrap();
                    return;
                }
                bw.write_all(&buf[..n]).await.unwrap();
            }
        });
        let mut got = Vec::with_capacity(LEN);
        let mut buf = vec![0u8; 5000];
        loop {
            let n = ar.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert!(got == expect);
        echo.await.unwrap();
        let aw = writer.await.unwrap();
        let a = ar.reunite(aw).unwrap();
        assert!(a.local_addr().unwrap().is_unnamed());
    })
    .await
}

#[runtime::test]
async fn unix_listener_on_a_path() {
    bounded(async {
        let path = TempPath::new("listener");
        let listener = UnixListener::bind(&path.0).unwrap();
        assert_eq!(
            listener.local_addr().unwrap().as_pathname(),
            Some(path.0.as_path())
        );
        // The path is taken now.
        assert_eq!(
            UnixListener::bind(&path.0).unwrap_err().kind(),
            ErrorKind::AddrInUse
        );

        let mut client = UnixStream::connect(&path.0).await.unwrap();
        let (mut server, peer) = listener.accept().await.unwrap();
        assert!(peer.is_unnamed());
        assert_eq!(
            client.peer_addr().unwrap().as_pathname(),
            Some(path.0.as_path())
        );
        client.write_all(b"over a path").await.unwrap();
        let mut buf = [0u8; 11];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"over a path");
        let mut peeked = [0u8; 2];
        server.write_all(b"ok").await.unwrap();
        assert_eq!(client.peek(&mut peeked).await.unwrap(), 2);
        client.read_exact(&mut peeked).await.unwrap();
        assert_eq!(&peeked, b"ok");

        // std conversions keep the socket.
        let std_listener = listener.into_std().unwrap();
        let listener = UnixListener::from_std(std_listener).unwrap();
        let _c = UnixStream::from_std(std::os::unix::net::UnixStream::connect(&path.0).unwrap())
            .unwrap();
        listener.accept().await.unwrap();
    })
    .await
}

#[runtime::test]
async fn unix_connect_errors_are_typed() {
    bounded(async {
        let path = TempPath::new("missing");
        let err = UnixStream::connect(&path.0).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        // A socket file nobody listens on any more.
        {
            let _l = UnixListener::bind(&path.0).unwrap();
        }
        let err = UnixStream::connect(&path.0).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
        let err = UnixStream::connect("").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let long = "x".repeat(200);
        assert_eq!(
            UnixListener::bind(&long).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        let err = UnixStream::connect_abstract(unique("nobody-here").as_bytes())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    })
    .await
}

#[runtime::test]
async fn unix_abstract_names() {
    bounded(async {
        let name = unique("abstract");
        let listener = UnixListener::bind_abstract(name.as_bytes()).unwrap();
        assert_eq!(
            std::os::linux::net::SocketAddrExt::as_abstract_name(&listener.local_addr().unwrap()),
            Some(name.as_bytes())
        );
        let mut c = UnixStream::connect_abstract(name.as_bytes()).await.unwrap();
        let (mut s, _) = listener.accept().await.unwrap();
        let addr = c.peer_addr().unwrap();
        assert_eq!(
            std::os::linux::net::SocketAddrExt::as_abstract_name(&addr),
            Some(name.as_bytes())
        );
        c.write_all(b"abs").await.unwrap();
        let mut buf = [0u8; 3];
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"abs");
        // The same name through std's address type.
        let _c2 = UnixStream::connect_addr(&addr).await.unwrap();
        listener.accept().await.unwrap();
    })
    .await
}

#[runtime::test]
async fn unix_datagrams() {
    bounded(async {
        let server_path = TempPath::new("dgram-server");
        let client_path = TempPath::new("dgram-client");
        let server = UnixDatagram::bind(&server_path.0).unwrap();
        let client = UnixDatagram::bind(&client_path.0).unwrap();
        client.send_to(b"hello", &server_path.0).await.unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = server.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"hello");
        assert_eq!(from.as_pathname(), Some(client_path.0.as_path()));
        server.send_to_addr(b"reply", &from).await.unwrap();
        let (n, _) = client.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"reply");

        // An unbound sender shows up unnamed, and cannot be replied to.
        let anon = UnixDatagram::unbound().unwrap();
        anon.send_to(b"anon", &server_path.0).await.unwrap();
        let (n, from) = server.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"anon");
        assert!(from.is_unnamed());
        assert_eq!(
            server.send_to_addr(b"x", &from).await.unwrap_err().kind(),
            ErrorKind::InvalidInput
        );

        // connect + send/recv.
        client.connect(&server_path.0).unwrap();
        assert_eq!(
            client.peer_addr().unwrap().as_pathname(),
            Some(server_path.0.as_path())
        );
        client.send(b"connected").await.unwrap();
        let n = server.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"connected");

        // A pair, a receiver waiting in another task.
        let (a, b) = UnixDatagram::pair().unwrap();
        let rx = runtime::spawn(async move {
            let mut buf = [0u8; 16];
            let n = b.recv(&mut buf).await.unwrap();
            buf[..n].to_vec()
        });
        runtime::yield_now().await;
        a.send(b"paired").await.unwrap();
        assert_eq!(rx.await.unwrap(), b"paired");

        // Abstract datagram sockets.
        let name = unique("dgram");
        let abs = UnixDatagram::bind_abstract(name.as_bytes()).unwrap();
        let sender = UnixDatagram::unbound().unwrap();
        sender.connect_abstract(name.as_bytes()).unwrap();
        sender.send(b"abstract").await.unwrap();
        let n = abs.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"abstract");
        sender
            .send_to_abstract(b"again", name.as_bytes())
            .await
            .unwrap();
        assert_eq!(abs.recv(&mut buf).await.unwrap(), 5);

        // Sending to a path nobody is bound to: a typed error.
        let missing = TempPath::new("dgram-missing");
        let err = anon.send_to(b"?", &missing.0).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        // After shutdown, sends fail.
        a.shutdown(Shutdown::Write).unwrap();
        assert_eq!(
            a.send(b"late").await.unwrap_err().kind(),
            ErrorKind::BrokenPipe
        );
    })
    .await
}

#[runtime::test]
async fn udp_connection_refused_then_the_socket_keeps_working() {
    bounded(async {
        let closed = {
            let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            s.local_addr().unwrap()
        };
        let s = std::rc::Rc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        s.connect(closed).await.unwrap();
        // A receiver already waiting when the ICMP port-unreachable arrives.
        let s2 = s.clone();
        let waiting = runtime::spawn(async move {
            let mut buf = [0u8; 8];
            s2.recv(&mut buf).await
        });
        runtime::time::sleep(Duration::from_millis(5)).await;
        s.send(b"anyone?").await.unwrap();
        let err = waiting.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
        // The error is consumed: the next receive waits (and a timer still
        // fires) rather than hanging the thread or repeating the error.
        let mut buf = [0u8; 8];
        let r = timeout(Duration::from_millis(50), s.recv(&mut buf)).await;
        assert!(r.is_err(), "{r:?}");
        // Pointed at a live peer, it works again.
        let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        s.connect(peer.local_addr().unwrap()).await.unwrap();
        peer.send_to(b"back", s.local_addr().unwrap())
            .await
            .unwrap();
        let n = s.recv(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"back");
    })
    .await
}

#[runtime::test]
async fn udp_recv_batch_takes_every_queued_datagram_in_one_call() {
    use runtime::net::RecvBatch;
    bounded(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (aa, ba) = (a.local_addr().unwrap(), b.local_addr().unwrap());
        let sent: Vec<Vec<u8>> = (0..5u8).map(|i| vec![i; 4 + i as usize * 4]).collect();
        for d in &sent {
            a.send_to(d, ba).await.unwrap();
        }
        // Slots of 16 bytes: the last datagram (20 bytes) is cut.
        let mut batch = RecvBatch::new(8, 16);
        assert_eq!((batch.capacity(), batch.datagram_size()), (8, 16));
        assert_eq!(b.recv_batch(&mut batch).await.unwrap(), 5);
        assert_eq!(batch.len(), 5);
        for (i, d) in sent.iter().enumerate() {
            let keep = d.len().min(16);
            assert_eq!(batch.datagram(i), &d[..keep], "datagram {i}");
            assert_eq!(batch.is_truncated(i), d.len() > 16, "datagram {i}");
            assert_eq!(batch.source(i).unwrap(), aa);
        }
        assert_eq!(batch.iter().count(), 5);
        // Nothing left: the next receive waits.
        assert!(
            timeout(Duration::from_millis(50), b.recv_batch(&mut batch))
                .await
                .is_err(),
            "no datagram is queued"
        );
        // More queued than the batch holds: taken over several calls, in
        // order, none lost.
        for i in 0..10u8 {
            a.send_to(&[i], ba).await.unwrap();
        }
        let mut small = RecvBatch::new(4, 8);
        let mut got = Vec::new();
        while got.len() < 10 {
            let n = small.capacity();
            let k = b.recv_batch(&mut small).await.unwrap();
            assert!(k >= 1 && k <= n);
            got.extend(small.iter().map(|d| d[0]));
        }
        assert_eq!(got, (0..10).collect::<Vec<u8>>());
        // Waiting first, then a datagram arrives.
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            s.send_to(b"late", ba).unwrap();
        });
        let mut batch = RecvBatch::new(2, 8);
        assert_eq!(b.recv_batch(&mut batch).await.unwrap(), 1);
        assert_eq!(batch.datagram(0), b"late");
        sender.join().unwrap();
    })
    .await;
}

#[runtime::test]
async fn udp_connected_to_hears_only_its_peer_and_reports_refusals() {
    use runtime::net::RecvBatch;
    bounded(async {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let sa = server.local_addr().unwrap();
        let c = UdpSocket::connected_to(sa, None).unwrap();
        let ca = c.local_addr().unwrap();
        assert_ne!(ca.port(), 0, "connect bound a port");
        assert_eq!(c.peer_addr().unwrap(), sa);
        // Another socket's datagram to the client's port is dropped by the
        // kernel; the peer's arrives.
        let stranger = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        stranger.send_to(b"forged", ca).await.unwrap();
        server.send_to(b"genuine", ca).await.unwrap();
        let mut batch = RecvBatch::new(4, 64);
        assert_eq!(c.recv_batch(&mut batch).await.unwrap(), 1);
        assert_eq!(batch.datagram(0), b"genuine");
        assert_eq!(batch.source(0).unwrap(), sa);
        c.send(b"hello").await.unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = server.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"hello"[..], ca));

        // Bound to a given local address first.
        let local = "127.0.0.1:0".parse().unwrap();
        let c2 = UdpSocket::connected_to(sa, Some(local)).unwrap();
        assert_eq!(c2.local_addr().unwrap().ip(), Ipv4Addr::LOCALHOST);
        // A local address this host does not have.
        let err = UdpSocket::connected_to(sa, Some("192.0.2.1:0".parse().unwrap())).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrNotAvailable);

        // A peer port nobody listens on: the ICMP error comes back as
        // ConnectionRefused from the next receive.
        let closed = {
            let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            s.local_addr().unwrap()
        };
        let lonely = UdpSocket::connected_to(closed, None).unwrap();
        lonely.send(b"anyone?").await.unwrap();
        let err = lonely.recv_batch(&mut batch).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    })
    .await;
}

#[runtime::test]
async fn udp_send_batch_sends_each_buffer_as_one_datagram() {
    use runtime::net::RecvBatch;
    bounded(async {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let sa = server.local_addr().unwrap();
        let c = UdpSocket::connected_to(sa, None).unwrap();
        let payloads: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; 1 + i as usize]).collect();
        let bufs: Vec<IoSlice<'_>> = payloads.iter().map(|p| IoSlice::new(p)).collect();
        // One call carries at most 64; all 40 go at once here.
        assert_eq!(c.send_batch(&bufs).await.unwrap(), 40);
        assert_eq!(c.send_batch(&[]).await.unwrap(), 0);
        let mut batch = RecvBatch::new(64, 64);
        let mut got = Vec::new();
        while got.len() < 40 {
            server.recv_batch(&mut batch).await.unwrap();
            for i in 0..batch.len() {
                assert_eq!(batch.source(i).unwrap(), c.local_addr().unwrap());
                got.push(batch.datagram(i).to_vec());
            }
        }
        assert_eq!(got, payloads, "boundaries and order kept");

        // Each to its own address: the kernel stops at one it refuses
        // (port 0) and the next call reports why.
        let other = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let oa = other.local_addr().unwrap();
        let zero: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let three = [IoSlice::new(b"a"), IoSlice::new(b"b"), IoSlice::new(b"c")];
        assert_eq!(
            sender.send_batch_to(&three, &[sa, zero, oa]).await.unwrap(),
            1
        );
        let err = sender
            .send_batch_to(&three[1..], &[zero, oa])
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        // The shorter slice bounds the batch.
        assert_eq!(sender.send_batch_to(&three, &[oa]).await.unwrap(), 1);
        let mut buf = [0u8; 4];
        let (n, _) = server.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"a");
        let (n, _) = other.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"a");

        // Unconnected: no peer to send to.
        let loose = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let err = loose.send_batch(&bufs[..1]).await.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EDESTADDRREQ));

        // A peer port nobody listens on: the ICMP error comes back from
        // the next call.
        let closed = {
            let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            s.local_addr().unwrap()
        };
        let lonely = UdpSocket::connected_to(closed, None).unwrap();
        assert_eq!(lonely.send_batch(&bufs[..1]).await.unwrap(), 1);
        let mut refused = None;
        for _ in 0..100 {
            match lonely.send_batch(&bufs[..1]).await {
                Ok(_) => runtime::time::sleep(Duration::from_millis(5)).await,
                Err(e) => {
                    refused = Some(e.kind());
                    break;
                }
            }
        }
        assert_eq!(refused, Some(ErrorKind::ConnectionRefused));
    })
    .await;
}
