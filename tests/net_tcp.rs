//! TCP streams over 127.0.0.1: connect/accept, both directions, half
//! closes, EOF, resets, timeouts, options, split halves, vectored I/O and
//! bad input. Every test is bounded in time.

use runtime::net::{AsyncRead, AsyncWrite, ListenOptions, TcpListener, TcpStream};
use std::future::poll_fn;
use std::io::{ErrorKind, IoSlice, IoSliceMut};
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::time::{Duration, Instant};

#[path = "support/net.rs"]
mod net;
use net::{bounded, pattern, read_to_end, tcp_pair};

#[runtime::test]
async fn accept_connect_and_talk_both_ways() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        assert_eq!(addr.ip().to_string(), "127.0.0.1");
        assert_ne!(addr.port(), 0);
        let mut client = TcpStream::connect(addr).await.unwrap();
        let (mut server, peer) = listener.accept().await.unwrap();
        assert_eq!(client.peer_addr().unwrap(), addr);
        assert_eq!(server.local_addr().unwrap(), addr);
        assert_eq!(server.peer_addr().unwrap(), peer);

        client.write_all(b"hello from client").await.unwrap();
        let mut buf = [0u8; 17];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello from client");

        server.write_all(b"hello from server").await.unwrap();
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello from server");

        // An empty read or write does nothing and does not block.
        assert_eq!(client.read(&mut []).await.unwrap(), 0);
        assert_eq!(client.write(&[]).await.unwrap(), 0);
    })
    .await
}

#[runtime::test]
async fn string_and_host_addresses_resolve() {
    bounded(async {
        let listener = TcpListener::bind(String::from("127.0.0.1:0"))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let _a = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let _b = TcpStream::connect(format!("127.0.0.1:{port}"))
            .await
            .unwrap();
        listener.accept().await.unwrap();
        listener.accept().await.unwrap();
    })
    .await
}

#[runtime::test]
async fn large_transfer_both_directions_at_once() {
    bounded(async {
        let (client, server) = tcp_pair().await;
        // Small send buffers force short writes, short reads and
        // WouldBlock. (Not a tiny receive buffer: with loopback's 64 KiB MSS
        // that makes the kernel's TCP crawl on zero-window probes.)
        client.set_send_buffer_size(4096).unwrap();
        server.set_send_buffer_size(4096).unwrap();
        const LEN: usize = 2 << 20;
        let (mut cr, mut cw) = client.split();
        let (mut sr, mut sw) = server.split();
        let up = runtime::spawn(async move {
            cw.write_all(&pattern(LEN, 1)).await.unwrap();
            cw.shutdown().unwrap();
        });
        let down = runtime::spawn(async move {
            sw.write_all(&pattern(LEN, 2)).await.unwrap();
            sw.shutdown().unwrap();
        });
        let server_reads = runtime::spawn(async move {
            let mut got = Vec::new();
            let mut buf = vec![0u8; 7000];
            loop {
                match sr.read(&mut buf).await.unwrap() {
                    0 => break got,
                    n => got.extend_from_slice(&buf[..n]),
                }
            }
        });
        let mut got = Vec::new();
        let mut buf = vec![0u8; 3000];
        loop {
            match cr.read(&mut buf).await.unwrap() {
                0 => break,
                n => got.extend_from_slice(&buf[..n]),
            }
        }
        assert!(got == pattern(LEN, 2), "client received corrupted data");
        assert!(
            server_reads.await.unwrap() == pattern(LEN, 1),
            "server received corrupted data"
        );
        up.await.unwrap();
        down.await.unwrap();
    })
    .await
}

#[runtime::test]
async fn shutdown_write_gives_peer_eof_and_later_writes_fail() {
    bounded(async {
        let (mut client, mut server) = tcp_pair().await;
        client.write_all(b"last words").await.unwrap();
        client.shutdown(Shutdown::Write).unwrap();
        assert_eq!(read_to_end(&mut server).await.unwrap(), b"last words");
        // Reading again after EOF keeps answering EOF.
        assert_eq!(server.read(&mut [0u8; 8]).await.unwrap(), 0);

        let err = client.write(b"more").await.unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::BrokenPipe | ErrorKind::NotConnected),
            "{err:?}"
        );
        let err = client.write_all(b"more").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe);
        let err = client
            .write_vectored(&[IoSlice::new(b"a"), IoSlice::new(b"b")])
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::BrokenPipe);

        // The other direction still works (a half-close).
        server.write_all(b"reply").await.unwrap();
        let mut buf = [0u8; 5];
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"reply");
    })
    .await
}

#[runtime::test]
async fn shutdown_read_and_both() {
    bounded(async {
        let (mut client, mut server) = tcp_pair().await;
        client.shutdown(Shutdown::Read).unwrap();
        assert_eq!(client.read(&mut [0u8; 8]).await.unwrap(), 0);
        // Writing still works after shutting the read half.
        client.write_all(b"x").await.unwrap();
        let mut one = [0u8; 1];
        server.read_exact(&mut one).await.unwrap();

        server.shutdown(Shutdown::Both).unwrap();
        assert_eq!(server.read(&mut [0u8; 8]).await.unwrap(), 0);
        assert_eq!(
            server.write(b"y").await.unwrap_err().kind(),
            ErrorKind::BrokenPipe
        );
        assert_eq!(read_to_end(&mut client).await.unwrap(), b"");
    })
    .await
}

#[runtime::test]
async fn async_write_close_shuts_down_the_write_half() {
    bounded(async {
        let (mut client, mut server) = tcp_pair().await;
        poll_fn(|cx| Pin::new(&mut client).poll_write(cx, b"via trait"))
            .await
            .unwrap();
        poll_fn(|cx| Pin::new(&mut client).poll_flush(cx))
            .await
            .unwrap();
        poll_fn(|cx| Pin::new(&mut client).poll_close(cx))
            .await
            .unwrap();
        // Closing twice is fine.
        poll_fn(|cx| Pin::new(&mut client).poll_close(cx))
            .await
            .unwrap();
        let mut buf = [0u8; 32];
        let mut got = Vec::new();
        loop {
            let n = poll_fn(|cx| Pin::new(&mut server).poll_read(cx, &mut buf))
                .await
                .unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"via trait");
    })
    .await
}

#[runtime::test]
async fn eof_in_the_middle_of_a_message() {
    bounded(async {
        let (mut client, mut server) = tcp_pair().await;
        server.write_all(b"half").await.unwrap();
        drop(server);
        let mut buf = [0u8; 8];
        let err = client.read_exact(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
        // The stream keeps answering EOF, it does not hang or panic.
        assert_eq!(client.read(&mut buf).await.unwrap(), 0);
    })
    .await
}

#[runtime::test]
async fn peer_reset_is_connection_reset() {
    bounded(async {
        let (mut client, server) = tcp_pair().await;
        server.set_linger(Some(Duration::ZERO)).unwrap();
        drop(server); // close with linger 0 sends RST
        let mut buf = [0u8; 8];
        let err = client.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset);
        // Afterwards: EOF on read, an error (never a signal) on write.
        assert_eq!(client.read(&mut buf).await.unwrap(), 0);
        let err = client.write(b"anyone?").await.unwrap_err();
        assert!(
            matches!(
                err.kind(),
                ErrorKind::BrokenPipe | ErrorKind::ConnectionReset
            ),
            "{err:?}"
        );
    })
    .await
}

#[runtime::test]
async fn connect_to_closed_port_is_refused() {
    bounded(async {
        let addr = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap()
        };
        let start = Instant::now();
        let err = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
        assert!(start.elapsed() < Duration::from_secs(2));
        let err = TcpStream::connect_timeout(addr, Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    })
    .await
}

/// A listener with backlog 0 that never accepts: once its accept queue is
/// full the kernel drops further SYNs, so a connect hangs in SYN_SENT and
/// `connect_timeout` really times out on loopback.
#[runtime::test]
async fn connect_timeout_times_out_against_a_full_backlog() {
    bounded(async {
        let listener = TcpListener::bind_with("127.0.0.1:0", ListenOptions::new().backlog(0))
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        listener.disable();
        let mut held = Vec::new();
        let mut timed_out = None;
        for _ in 0..8 {
            let start = Instant::now();
            match TcpStream::connect_timeout(addr, Duration::from_millis(200)).await {
                Ok(s) => held.push(s),
                Err(e) => {
                    timed_out = Some((e, start.elapsed()));
                    break;
                }
            }
        }
        let (err, took) = timed_out.expect("the backlog never filled");
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err:?}");
        assert!(took >= Duration::from_millis(200), "{took:?}");
        assert!(took < Duration::from_secs(2), "{took:?}");
        // A zero timeout is refused up front.
        let err = TcpStream::connect_timeout(addr, Duration::ZERO)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        drop(held);
    })
    .await
}

#[runtime::test]
async fn peek_does_not_consume() {
    bounded(async {
        let (mut client, mut server) = tcp_pair().await;
        client.write_all(b"peekaboo").await.unwrap();
        let mut buf = [0u8; 8];
        let mut n = 0;
        while n < 8 {
            n = server.peek(&mut buf).await.unwrap();
        }
        assert_eq!(&buf, b"peekaboo");
        let mut again = [0u8; 8];
        server.read_exact(&mut again).await.unwrap();
        assert_eq!(&again, b"peekaboo");
    })
    .await
}

#[runtime::test]
async fn socket_options_round_trip() {
    bounded(async {
        let (client, _server) = tcp_pair().await;
        client.set_nodelay(true).unwrap();
        assert!(client.nodelay().unwrap());
        client.set_nodelay(false).unwrap();
        assert!(!client.nodelay().unwrap());

        assert_eq!(client.keepalive().unwrap(), None);
        client.set_keepalive(Some(Duration::from_secs(30))).unwrap();
        assert_eq!(client.keepalive().unwrap(), Some(Duration::from_secs(30)));
        client
            .set_keepalive(Some(Duration::from_millis(1)))
            .unwrap();
        assert_eq!(client.keepalive().unwrap(), Some(Duration::from_secs(1)));
        client.set_keepalive(None).unwrap();
        assert_eq!(client.keepalive().unwrap(), None);

        assert_eq!(client.linger().unwrap(), None);
        client.set_linger(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(client.linger().unwrap(), Some(Duration::from_secs(5)));
        client.set_linger(None).unwrap();
        assert_eq!(client.linger().unwrap(), None);

        client.set_ttl(42).unwrap();
        assert_eq!(client.ttl().unwrap(), 42);
        assert!(client.take_error().unwrap().is_none());

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.set_ttl(7).unwrap();
        assert_eq!(listener.ttl().unwrap(), 7);
        assert!(listener.take_error().unwrap().is_none());
        // A TTL of 0 is invalid for IP_TTL: a typed error, not a panic.
        assert_eq!(
            client.set_ttl(0).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    })
    .await
}

#[runtime::test]
async fn split_halves_in_two_tasks() {
    bounded(async {
        let (client, server) = tcp_pair().await;
        // Server: a reader task forwards lines to a writer task through a
        // shared queue; the two halves are used concurrently.
        let (mut sr, mut sw) = server.into_split();
        assert!(sr.is_pair_of(&sw));
        assert_eq!(sr.peer_addr().unwrap(), client.local_addr().unwrap());
        assert_eq!(sw.local_addr().unwrap(), client.peer_addr().unwrap());
        let queue = std::rc::Rc::new(std::cell::RefCell::new(Vec::<u8>::new()));
        let q = queue.clone();
        let reader = runtime::spawn(async move {
            let mut buf = [0u8; 1000];
            let mut total = 0;
            loop {
                let n = sr.read(&mut buf).await.unwrap();
                if n == 0 {
                    return (total, sr);
                }
                total += n;
                q.borrow_mut().extend_from_slice(&buf[..n]);
            }
        });
        let q = queue.clone();
        let writer = runtime::spawn(async move {
            let mut sent = 0;
            while sent < 100_000 {
                let chunk: Vec<u8> = q.borrow_mut().drain(..).collect();
                if chunk.is_empty() {
                    runtime::time::sleep(Duration::from_micros(200)).await;
                    continue;
                }
                sw.write_all(&chunk).await.unwrap();
                sent += chunk.len();
            }
            sw
        });
        let (mut cr, mut cw) = client.split();
        let data = pattern(100_000, 9);
        let expect = data.clone();
        let send = runtime::spawn(async move {
            for part in data.chunks(3333) {
                cw.write_all(part).await.unwrap();
            }
            cw.shutdown().unwrap();
            cw
        });
        let mut echoed = vec![0u8; 100_000];
        cr.read_exact(&mut echoed).await.unwrap();
        assert!(echoed == expect);
        let cw = send.await.unwrap();
        let (total, sr) = reader.await.unwrap();
        assert_eq!(total, 100_000);
        let sw = writer.await.unwrap();
        let server = sr.reunite(sw).unwrap();
        let client = cr.reunite(cw).unwrap();
        assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
    })
    .await
}

#[runtime::test]
async fn reunite_rejects_halves_of_different_streams() {
    bounded(async {
        let (a, b) = tcp_pair().await;
        let (ar, aw) = a.split();
        let (br, bw) = b.split();
        assert!(!ar.is_pair_of(&bw));
        let err = ar.reunite(bw).unwrap_err();
        assert!(err.to_string().contains("not from the same stream"));
        let runtime::net::ReuniteError(ar, bw) = err;
        assert!(ar.reunite(aw).is_ok());
        assert!(br.reunite(bw).is_ok());
    })
    .await
}

#[runtime::test]
async fn vectored_writes_and_reads() {
    bounded(async {
        let (mut client, mut server) = tcp_pair().await;
        let n = client
            .write_vectored(&[
                IoSlice::new(b"one "),
                IoSlice::new(b""),
                IoSlice::new(b"two "),
                IoSlice::new(b"three"),
            ])
            .await
            .unwrap();
        assert_eq!(n, 13);
        let mut got: Vec<u8> = Vec::new();
        while got.len() < 13 {
            let mut a = [0u8; 4];
            let mut b = [0u8; 9];
            let n = server
                .read_vectored(&mut [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)])
                .await
                .unwrap();
            assert!(n > 0);
            got.extend(a.iter().chain(b.iter()).take(n));
        }
        assert_eq!(got, b"one two three");

        // Many small buffers in one call, enough to fill the socket buffer:
        // a short gathering write, then the rest.
        client.set_send_buffer_size(8192).unwrap();
        let chunks: Vec<Vec<u8>> = (0..2000).map(|i| pattern(100, i as u8)).collect();
        let all: Vec<u8> = chunks.concat();
        let reader = runtime::spawn(async move {
            let mut got = vec![0u8; all.len()];
            server.read_exact(&mut got).await.unwrap();
            assert!(got == all);
        });
        let mut offset = 0;
        let total = 2000 * 100;
        while offset < total {
            let first = offset / 100;
            let within = offset % 100;
            let mut slices: Vec<IoSlice<'_>> = vec![IoSlice::new(&chunks[first][within..])];
            slices.extend(chunks[first + 1..].iter().map(|c| IoSlice::new(c)));
            offset += client.write_vectored(&slices).await.unwrap();
        }
        reader.await.unwrap();
    })
    .await
}

#[runtime::test]
async fn incoming_is_a_stream_of_connections() {
    bounded(async {
        use futures_core::Stream;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let clients = runtime::spawn(async move {
            let mut v = Vec::new();
            for _ in 0..5 {
                v.push(TcpStream::connect(addr).await.unwrap());
            }
            v
        });
        let mut incoming = std::pin::pin!(listener.incoming());
        for _ in 0..5 {
            let s = poll_fn(|cx| incoming.as_mut().poll_next(cx)).await;
            s.expect("the stream never ends").unwrap();
        }
        clients.await.unwrap();
    })
    .await
}

#[runtime::test]
async fn ipv6_sockets_with_v4_mapped_loopback() {
    bounded(async {
        // An IPv6 listener reached over 127.0.0.1 (as ::ffff:127.0.0.1).
        let opts = ListenOptions::new().ipv6_only(false);
        let listener = TcpListener::bind_with("[::ffff:127.0.0.1]:0", opts)
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        assert!(addr.is_ipv6());
        let v4: SocketAddr = format!("127.0.0.1:{}", addr.port()).parse().unwrap();
        let mut c4 = TcpStream::connect(v4).await.unwrap();
        let (mut s4, peer) = listener.accept().await.unwrap();
        assert_eq!(
            peer.to_string(),
            format!("[::ffff:127.0.0.1]:{}", c4.local_addr().unwrap().port())
        );
        c4.write_all(b"v4").await.unwrap();
        let mut buf = [0u8; 2];
        s4.read_exact(&mut buf).await.unwrap();

        // An IPv6 client socket to the mapped address.
        let mut c6 = TcpStream::connect(addr).await.unwrap();
        assert!(c6.local_addr().unwrap().is_ipv6());
        let (mut s6, _) = listener.accept().await.unwrap();
        s6.write_all(b"v6").await.unwrap();
        c6.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"v6");
    })
    .await
}

#[runtime::test]
async fn std_conversions() {
    bounded(async {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_listener.local_addr().unwrap();
        let listener = TcpListener::from_std(std_listener).unwrap();
        let std_client = std::net::TcpStream::connect(addr).unwrap();
        let mut client = TcpStream::from_std(std_client).unwrap();
        let (server, _) = listener.accept().await.unwrap();
        client.write_all(b"ok").await.unwrap();
        let mut std_server = server.into_std().unwrap();
        std_server.set_nonblocking(false).unwrap();
        let mut buf = [0u8; 2];
        std::io::Read::read_exact(&mut std_server, &mut buf).unwrap();
        assert_eq!(&buf, b"ok");
        let back = listener.into_std().unwrap();
        assert_eq!(back.local_addr().unwrap(), addr);
        use std::os::fd::{AsFd, AsRawFd};
        assert_eq!(client.as_fd().as_raw_fd(), client.as_raw_fd());
    })
    .await
}

#[runtime::test]
async fn bad_input_gives_typed_errors_and_the_runtime_goes_on() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let err = TcpListener::bind(addr).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse);

        for bad in ["127.0.0.1:0", "0.0.0.0:0"] {
            let err = TcpStream::connect(bad).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad}: {err:?}");
        }
        for bad in ["not an address", "127.0.0.1:99999", "127.0.0.1"] {
            let err = TcpStream::connect(bad).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad}: {err:?}");
            let err = TcpListener::bind(bad).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad}: {err:?}");
        }

        // A socket used after shutdown: typed errors.
        let (mut client, _server) = {
            let c = TcpStream::connect(addr).await.unwrap();
            (c, listener.accept().await.unwrap().0)
        };
        client.shutdown(Shutdown::Both).unwrap();
        assert_eq!(
            client.write(b"x").await.unwrap_err().kind(),
            ErrorKind::BrokenPipe
        );
        assert_eq!(client.read(&mut [0u8; 4]).await.unwrap(), 0);

        // And the runtime still works.
        let mut c = TcpStream::connect(addr).await.unwrap();
        let (mut s, _) = listener.accept().await.unwrap();
        c.write_all(b"still alive").await.unwrap();
        let mut buf = [0u8; 11];
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"still alive");
    })
    .await
}

#[test]
fn streams_work_on_every_backend() {
    for method in ["epoll", "poll", "select"] {
        let Ok(builder) = runtime::Builder::new().ignore_env(true).method(method) else {
            continue;
        };
        {
            let rt = builder.build().unwrap();
            rt.block_on(bounded(async {
                let (mut client, mut server) = tcp_pair().await;
                client.set_send_buffer_size(4096).unwrap();
                let data = pattern(300_000, 3);
                let expect = data.clone();
                let w = runtime::spawn(async move {
                    client.write_all(&data).await.unwrap();
                    client.shutdown(Shutdown::Write).unwrap();
                    client
                });
                let got = read_to_end(&mut server).await.unwrap();
                assert!(got == expect, "{method}: corrupted");
                w.await.unwrap();
            }));
        }
    }
}

#[runtime::test]
async fn connect_from_leaves_from_the_given_address() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // 127.0.0.2 is loopback too, and not the listener's own address.
        let local: SocketAddr = "127.0.0.2:0".parse().unwrap();
        let c = TcpStream::connect_from(local, addr).await.unwrap();
        let (_s, peer) = listener.accept().await.unwrap();
        assert_eq!(peer.ip(), local.ip());
        assert_eq!(peer, c.local_addr().unwrap());
        assert_eq!(c.peer_addr().unwrap(), addr);

        // Failure paths: an address this host does not have, port 0 as
        // the peer, a closed port.
        let foreign: SocketAddr = "192.0.2.1:0".parse().unwrap();
        let e = TcpStream::connect_from(foreign, addr).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AddrNotAvailable);
        let zero: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let e = TcpStream::connect_from(local, zero).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        drop(listener);
        let e = TcpStream::connect_from(local, addr).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
    })
    .await;
}
