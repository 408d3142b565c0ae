//! `runtime::tls` over real sockets on 127.0.0.1 with certificates made at
//! test time: `openssl s_client` against our acceptor, our connector
//! against `openssl s_server`, our two ends together (SNI, ALPN, client
//! certificates), and the failure paths: wrong hostname, expired and
//! self-signed certificates, a stalled handshake, a truncated stream,
//! garbage instead of a ClientHello. Every test is bounded in time.

use runtime::io::{BufferedStream, Eol};
use runtime::net::{AsyncRead, AsyncWrite, TcpListener, TcpStream};
use runtime::tls::{ClientConfig, ServerConfig, TlsAcceptor, TlsConnector, TlsStream, Truncated};
use std::future::poll_fn;
use std::io::{self, ErrorKind, Read, Write};
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "support/net.rs"]
mod net;
use net::{bounded, pattern, tcp_pair};

#[path = "support/tls.rs"]
mod tls_certs;
use tls_certs::{free_port, have_openssl, path_str, s_client, Certs};

async fn write_all<W: AsyncWrite + Unpin>(w: &mut W, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *w).poll_write(cx, data)).await?;
        data = &data[n..];
    }
    poll_fn(|cx| Pin::new(&mut *w).poll_flush(cx)).await
}

async fn read_some<R: AsyncRead + Unpin>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    poll_fn(|cx| Pin::new(&mut *r).poll_read(cx, buf)).await
}

async fn read_to_end<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match read_some(r, &mut buf).await? {
            0 => return Ok(out),
            n => out.extend_from_slice(&buf[..n]),
        }
    }
}

async fn close<W: AsyncWrite + Unpin>(w: &mut W) -> io::Result<()> {
    poll_fn(|cx| Pin::new(&mut *w).poll_close(cx)).await
}

fn acceptor(certs: &Certs) -> TlsAcceptor {
    let leaf = certs.leaf("server", &["localhost", "127.0.0.1"]);
    let config = ServerConfig::builder()
        .cert_pem_files(&leaf.cert, &leaf.key)
        .unwrap()
        .alpn(&[b"http/1.1"])
        .build()
        .unwrap();
    TlsAcceptor::new(config)
}

fn connector(certs: &Certs) -> TlsConnector {
    let config = ClientConfig::builder()
        .ca_file(certs.ca())
        .unwrap()
        .alpn(&[b"h2", b"http/1.1"])
        .build()
        .unwrap();
    TlsConnector::new(config)
}

/// A TLS pair over TCP: (client, server).
async fn tls_pair(
    connector: &TlsConnector,
    acceptor: &TlsAcceptor,
    name: &str,
) -> (
    io::Result<TlsStream<TcpStream>>,
    io::Result<TlsStream<TcpStream>>,
) {
    let (client, server) = tcp_pair().await;
    let acceptor = acceptor.clone();
    let server = runtime::spawn(async move { acceptor.accept(server).await });
    let client = connector.connect(name, client).await;
    (client, server.await.unwrap())
}

fn is_cert_error(e: &io::Error) -> bool {
    e.kind() == ErrorKind::InvalidData
        && e.get_ref()
            .and_then(|i| i.downcast_ref::<runtime::tls::rustls::Error>())
            .is_some_and(|r| matches!(r, runtime::tls::rustls::Error::InvalidCertificate(_)))
}

// ------------------------------------------------------------ our two ends

#[runtime::test]
async fn connector_and_acceptor_exchange_data_with_sni_and_alpn() {
    bounded(async {
        let certs = Certs::new();
        let (client, server) = tls_pair(&connector(&certs), &acceptor(&certs), "localhost").await;
        let (mut client, mut server) = (client.unwrap(), server.unwrap());
        assert_eq!(server.sni_hostname(), Some("localhost"));
        assert_eq!(client.alpn_protocol(), Some(&b"http/1.1"[..]));
        assert_eq!(server.alpn_protocol(), Some(&b"http/1.1"[..]));
        assert!(server.is_server() && !client.is_server());
        assert!(client.peer_certificates().is_some_and(|c| !c.is_empty()));
        assert!(server.peer_certificates().is_none());

        // 1 MiB each way, then a clean close: the reader sees end of stream.
        let data = pattern(1 << 20, 3);
        let expect = data.clone();
        let reader = runtime::spawn(async move { read_to_end(&mut server).await });
        write_all(&mut client, &data).await.unwrap();
        // close sends close_notify and closes TCP: the server reads a clean
        // end of stream after all the data.
        close(&mut client).await.unwrap();
        let got = reader.await.unwrap().unwrap();
        assert_eq!(got.len(), expect.len());
        assert!(got == expect);
    })
    .await
}

#[runtime::test]
async fn sni_chooses_the_certificate() {
    bounded(async {
        let certs = Certs::new();
        let default = certs.leaf("default", &["localhost"]);
        let other = certs.leaf("other", &["other.test"]);
        let config = ServerConfig::builder()
            .cert_pem_files(&default.cert, &default.key)
            .unwrap()
            .sni_cert_pem_files("other.test", &other.cert, &other.key)
            .unwrap()
            .build()
            .unwrap();
        let acceptor = TlsAcceptor::new(config);
        let connector = connector(&certs);
        for name in ["localhost", "other.test"] {
            let (client, server) = tls_pair(&connector, &acceptor, name).await;
            let (client, server) = (client.unwrap(), server.unwrap());
            assert_eq!(server.sni_hostname(), Some(name));
            assert!(client.alpn_protocol().is_none());
        }
    })
    .await
}

#[runtime::test]
async fn client_certificates_required_and_checked() {
    bounded(async {
        let certs = Certs::new();
        let leaf = certs.leaf("server", &["localhost"]);
        let client_leaf = certs.leaf("client", &["client.test"]);
        let config = ServerConfig::builder()
            .cert_pem_files(&leaf.cert, &leaf.key)
            .unwrap()
            .client_auth_pem_file(certs.ca(), true)
            .unwrap()
            .build()
            .unwrap();
        let acceptor = TlsAcceptor::new(config);

        let with_cert = TlsConnector::new(
            ClientConfig::builder()
                .ca_file(certs.ca())
                .unwrap()
                .client_cert_pem_files(&client_leaf.cert, &client_leaf.key)
                .unwrap()
                .build()
                .unwrap(),
        );
        let (client, server) = tls_pair(&with_cert, &acceptor, "localhost").await;
        let (mut client, mut server) = (client.unwrap(), server.unwrap());
        assert!(server.peer_certificates().is_some_and(|c| c.len() == 1));
        write_all(&mut client, b"hi").await.unwrap();
        let mut buf = [0u8; 2];
        assert_eq!(read_some(&mut server, &mut buf).await.unwrap(), 2);

        // Without a certificate: the server refuses. In TLS 1.3 the client
        // finishes first and learns of the refusal on its first read.
        let (client, server) = tls_pair(&connector(&certs), &acceptor, "localhost").await;
        let server_err = server.unwrap_err();
        assert_eq!(server_err.kind(), ErrorKind::InvalidData, "{server_err}");
        if let Ok(mut client) = client {
            let e = read_some(&mut client, &mut buf).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidData, "{e}");
        }
    })
    .await
}

// ------------------------------------------------------------ verification

#[runtime::test]
async fn wrong_hostname_expired_and_self_signed_are_rejected() {
    bounded(async {
        let certs = Certs::new();
        let connector = connector(&certs);
        let good = certs.leaf("good", &["localhost"]);
        let expired = certs.expired_leaf("expired", &["localhost"]);
        let self_signed = certs.self_signed_leaf("self", &["localhost"]);
        for (leaf, name, why) in [
            (&good, "wrong.test", "NotValidForName"),
            (&expired, "localhost", "Expired"),
            (&self_signed, "localhost", "UnknownIssuer"),
        ] {
            let acceptor =
                TlsAcceptor::new(ServerConfig::from_pem_files(&leaf.cert, &leaf.key).unwrap());
            let (client, server) = tls_pair(&connector, &acceptor, name).await;
            let e = client.unwrap_err();
            assert!(is_cert_error(&e), "{name}: {e}");
            assert!(format!("{e:?}").contains(why), "{why}: {e:?}");
            // The client sent an alert: the server's handshake fails too.
            assert!(server.is_err());
        }
        // The good certificate under its own name passes.
        let acceptor =
            TlsAcceptor::new(ServerConfig::from_pem_files(&good.cert, &good.key).unwrap());
        let (client, _server) = tls_pair(&connector, &acceptor, "localhost").await;
        client.unwrap();
    })
    .await
}

#[runtime::test]
async fn pem_errors_are_clear() {
    let certs = Certs::new();
    let missing = certs.dir.join("missing.pem");
    let e = ServerConfig::from_pem_files(&missing, &missing).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("missing.pem"), "{e}");
    let leaf = certs.leaf("server", &["localhost"]);
    // A key file given as the certificate and the reverse.
    let e = ServerConfig::from_pem_files(&leaf.key, &leaf.cert).unwrap_err();
    assert!(e.to_string().contains("no certificate"), "{e}");
    let e = ServerConfig::from_pem_files(&leaf.cert, &leaf.cert).unwrap_err();
    assert!(e.to_string().contains("no private key"), "{e}");
    // A key that does not match the certificate.
    let other = certs.leaf("other", &["localhost"]);
    assert!(ServerConfig::from_pem_files(&leaf.cert, &other.key).is_err());
    let garbage = certs.file("garbage.pem", "not a PEM file\n");
    assert!(ClientConfig::builder().ca_file(&garbage).is_err());
    assert!(ServerConfig::builder().build().is_err());
}

// ---------------------------------------------------- timeouts, truncation

#[runtime::test]
async fn a_stalled_handshake_is_cut_by_the_timeout() {
    bounded(async {
        let certs = Certs::new();
        // Server side: the client connects and sends nothing.
        let acceptor = acceptor(&certs).handshake_timeout(Some(Duration::from_millis(200)));
        let (_client, server) = tcp_pair().await;
        let start = Instant::now();
        let e = acceptor.accept(server).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
        assert!(start.elapsed() >= Duration::from_millis(200));

        // Client side: the server reads the ClientHello and answers nothing.
        let connector = connector(&certs).handshake_timeout(Some(Duration::from_millis(200)));
        let (client, mut server) = tcp_pair().await;
        let stall = runtime::spawn(async move {
            let mut buf = [0u8; 4096];
            let n = server.read(&mut buf).await.unwrap();
            assert!(n > 0 && buf[0] == 0x16, "a handshake record");
            runtime::time::sleep(Duration::from_secs(3)).await;
        });
        let e = connector.connect("localhost", client).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
        stall.abort();
    })
    .await
}

#[runtime::test]
async fn a_truncated_stream_is_reported_unless_dirty_shutdown_is_allowed() {
    bounded(async {
        let certs = Certs::new();
        let acceptor = acceptor(&certs);
        for allow in [false, true] {
            let connector = connector(&certs).allow_dirty_shutdown(allow);
            let (client, server) = tls_pair(&connector, &acceptor, "localhost").await;
            let (mut client, mut server) = (client.unwrap(), server.unwrap());
            write_all(&mut server, b"partial data").await.unwrap();
            // Close TCP under the session: no close_notify.
            let tcp = server.into_inner();
            tcp.shutdown(std::net::Shutdown::Both).unwrap();
            drop(tcp);
            let mut buf = [0u8; 64];
            let n = read_some(&mut client, &mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"partial data");
            let end = read_some(&mut client, &mut buf).await;
            if allow {
                assert_eq!(end.unwrap(), 0);
            } else {
                let e = end.unwrap_err();
                assert_eq!(e.kind(), ErrorKind::UnexpectedEof);
                assert!(Truncated::is(&e), "{e}");
                assert!(e.to_string().contains("close_notify"), "{e}");
            }
        }
        // A clean close is an end of stream, never Truncated.
        let (client, server) = tls_pair(&connector(&certs), &acceptor, "localhost").await;
        let (mut client, mut server) = (client.unwrap(), server.unwrap());
        write_all(&mut server, b"all").await.unwrap();
        close(&mut server).await.unwrap();
        assert_eq!(read_to_end(&mut client).await.unwrap(), b"all");
    })
    .await
}

#[runtime::test]
async fn garbage_instead_of_a_client_hello_gets_an_alert_and_the_server_keeps_serving() {
    bounded(async {
        let certs = Certs::new();
        let acceptor = acceptor(&certs);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = runtime::spawn(async move {
            let mut outcomes = Vec::new();
            for _ in 0..2 {
                let (tcp, _) = listener.accept().await.unwrap();
                match acceptor.accept(tcp).await {
                    Err(e) => outcomes.push(Err(e.kind())),
                    Ok(mut tls) => {
                        write_all(&mut tls, b"served").await.unwrap();
                        close(&mut tls).await.unwrap();
                        outcomes.push(Ok(()));
                    }
                }
            }
            outcomes
        });
        let mut raw = TcpStream::connect(addr).await.unwrap();
        raw.write(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        let n = raw.read(&mut buf).await.unwrap();
        // An alert record (type 21), then the server closes.
        assert!(n >= 7 && buf[0] == 0x15, "{:?}", &buf[..n]);
        assert_eq!(raw.read(&mut buf).await.unwrap(), 0);

        let tcp = TcpStream::connect(addr).await.unwrap();
        let mut tls = connector(&certs).connect("localhost", tcp).await.unwrap();
        assert_eq!(read_to_end(&mut tls).await.unwrap(), b"served");
        let outcomes = server.await.unwrap();
        assert_eq!(outcomes[0], Err(ErrorKind::InvalidData));
        assert_eq!(outcomes[1], Ok(()));
    })
    .await
}

// ------------------------------------------------- BufferedStream over TLS

#[runtime::test]
async fn buffered_stream_over_tls_reads_lines_with_watermarks() {
    bounded(async {
        let certs = Certs::new();
        let (client, server) = tls_pair(&connector(&certs), &acceptor(&certs), "localhost").await;
        let mut client = BufferedStream::new(client.unwrap());
        let mut server = BufferedStream::new(server.unwrap());
        server.set_read_watermarks(0, 64);
        server.set_timeouts(Some(Duration::from_secs(5)), None);
        let writer = runtime::spawn(async move {
            for i in 0..200 {
                client.write_all(format!("line {i}\r\n").as_bytes()).await?;
            }
            client.write_all(b"no end").await?;
            client.flush().await?;
            client.finish().await?;
            io::Result::Ok(())
        });
        for i in 0..200 {
            let line = server.read_line(Eol::CrlfStrict).await.unwrap().unwrap();
            assert_eq!(line, format!("line {i}").into_bytes());
            assert!(
                server.input().len() <= 64 + 16 * 1024,
                "high watermark bounds reads"
            );
        }
        writer.await.unwrap().unwrap();
        // The last bytes have no end of line: at the (clean, close_notify)
        // end of stream they stay in the input, as over TCP.
        let e = server.read_line(Eol::CrlfStrict).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnexpectedEof);
        assert!(!Truncated::is(&e), "finish sent close_notify: {e}");
        assert_eq!(server.input().len(), 6);
    })
    .await
}

#[runtime::test]
async fn buffered_stream_over_tls_read_timeout_fires() {
    bounded(async {
        let certs = Certs::new();
        let (client, server) = tls_pair(&connector(&certs), &acceptor(&certs), "localhost").await;
        let _client = client.unwrap();
        let mut server = BufferedStream::new(server.unwrap());
        server.set_timeouts(Some(Duration::from_millis(100)), None);
        let e = server.read_line(Eol::Lf).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
    })
    .await
}

// --------------------------------------------------------- openssl peers

#[runtime::test]
async fn openssl_s_client_against_our_acceptor() {
    if !have_openssl() {
        eprintln!("openssl not installed: skipped");
        return;
    }
    bounded(async {
        let certs = Certs::new();
        let acceptor = acceptor(&certs);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let ca = certs.ca();
        let client = runtime::spawn_blocking(move || {
            let mut child = s_client(port, &ca, &["-alpn", "http/1.1"], Stdio::piped());
            child.stdin.as_mut().unwrap().write_all(b"ping\n").unwrap();
            let mut out = String::new();
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            drop(child.stdin.take());
            let status = child.wait().unwrap();
            (status, out)
        });
        let (tcp, _) = listener.accept().await.unwrap();
        let tls = acceptor.accept(tcp).await.unwrap();
        assert_eq!(tls.sni_hostname(), Some("localhost"));
        assert_eq!(tls.alpn_protocol(), Some(&b"http/1.1"[..]));
        let mut tls = BufferedStream::new(tls);
        let line = tls.read_line(Eol::Lf).await.unwrap().unwrap();
        assert_eq!(line, b"ping");
        tls.write_all(b"pong: ping\n").await.unwrap();
        tls.finish().await.unwrap();
        let (status, out) = client.await.unwrap();
        assert_eq!(out, "pong: ping\n");
        assert!(status.success(), "{status}");
    })
    .await
}

#[runtime::test]
async fn our_connector_against_openssl_s_server() {
    if !have_openssl() {
        eprintln!("openssl not installed: skipped");
        return;
    }
    bounded(async {
        let certs = Certs::new();
        let leaf = certs.leaf("server", &["localhost"]);
        let port = free_port();
        let mut server = Command::new("openssl")
            .args([
                "s_server",
                "-accept",
                &format!("127.0.0.1:{port}"),
                "-rev",
                "-quiet",
            ])
            .args(["-cert", path_str(&leaf.cert), "-key", path_str(&leaf.key)])
            .args(["-alpn", "http/1.1"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let connector = connector(&certs);
        let mut tcp = None;
        for _ in 0..200 {
            match TcpStream::connect(("127.0.0.1", port)).await {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(_) => runtime::time::sleep(Duration::from_millis(20)).await,
            }
        }
        let result = async {
            let tls = connector
                .connect("localhost", tcp.expect("s_server listening"))
                .await?;
            assert_eq!(tls.alpn_protocol(), Some(&b"http/1.1"[..]));
            let mut tls = BufferedStream::new(tls);
            tls.write_all(b"hello\n").await?;
            tls.flush().await?;
            tls.read_line(Eol::Lf).await
        }
        .await;
        // A wrong name is refused against openssl's server too.
        let wrong = async {
            let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
            connector.connect("wrong.test", tcp).await.map(|_| ())
        }
        .await;
        server.kill().unwrap();
        server.wait().unwrap();
        assert_eq!(result.unwrap().unwrap(), b"olleh");
        assert!(is_cert_error(&wrong.unwrap_err()));
    })
    .await
}
