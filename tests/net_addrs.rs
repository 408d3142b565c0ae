//! Sockets accept borrowed addresses: `&String`, a `&str` borrowed from a
//! local `String`, `(&str, port)` of a local, slices of addresses; bad
//! strings are `InvalidInput` errors.

use runtime::block_on;
use runtime::net::{TcpListener, TcpStream, UdpSocket};
use std::io::ErrorKind;
use std::net::SocketAddr;

#[test]
fn connect_and_bind_take_borrowed_strings() {
    block_on(async {
        let host = String::from("127.0.0.1");
        let bind_at = format!("{host}:0");
        let listener = TcpListener::bind(&bind_at).await.unwrap();
        let addr: String = listener.local_addr().unwrap().to_string();

        // connect(&String)
        let s = TcpStream::connect(&addr).await.unwrap();
        assert_eq!(s.peer_addr().unwrap().to_string(), addr);
        // connect(&str) borrowed from a local String
        let s2 = TcpStream::connect(addr.as_str()).await.unwrap();
        assert_eq!(s2.peer_addr().unwrap(), s.peer_addr().unwrap());
        // (host, port) with a borrowed host
        let port = listener.local_addr().unwrap().port();
        let s3 = TcpStream::connect((host.as_str(), port)).await.unwrap();
        assert_eq!(s3.peer_addr().unwrap().port(), port);
        // a slice of addresses: the first that works is used
        let addrs: Vec<SocketAddr> = vec![listener.local_addr().unwrap()];
        TcpStream::connect(&addrs[..]).await.unwrap();
        TcpStream::connect(&addrs).await.unwrap();
        // a host name, borrowed ("localhost" is in /etc/hosts)
        let name = format!("localhost:{port}");
        let by_name = TcpStream::connect(&name).await;
        // localhost may resolve to ::1 first where nothing listens; an
        // IPv4 answer connects.
        if let Ok(c) = by_name {
            assert!(c.peer_addr().unwrap().ip().is_loopback());
        }
        for _ in 0..3 {
            listener.accept().await.unwrap();
        }

        // UDP: bind(&String) and connect(&String)
        let a = UdpSocket::bind(&bind_at).await.unwrap();
        let b = UdpSocket::bind(&bind_at).await.unwrap();
        let b_addr = b.local_addr().unwrap().to_string();
        a.connect(&b_addr).await.unwrap();
        a.send(b"hi").await.unwrap();
        let mut buf = [0u8; 8];
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"hi"[..], a.local_addr().unwrap()));
    });
}

#[test]
fn bad_address_strings_are_invalid_input() {
    block_on(async {
        for bad in [
            String::from("127.0.0.1"),
            "nohost".into(),
            "1.2.3.4:port".into(),
            ":80".into(),
        ] {
            let e = TcpStream::connect(&bad).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad}");
            let e = TcpListener::bind(&bad).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad}");
            let e = UdpSocket::bind(&bad).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad}");
        }
        let empty: &[SocketAddr] = &[];
        let e = TcpStream::connect(empty).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
    });
}
