//! A hyper 1.x hello server on tokio, the peer of the root crate's
//! `examples/http_hello.rs` in `benches/http_compare.sh`: every request is
//! answered `200 Hello, world!\n` over HTTP/1.1 with keep-alive, the way
//! hyper's own hello example does it (`service_fn`, `http1::Builder`,
//! `Full<Bytes>`), `TCP_NODELAY`, backlog 4096. With `--tls-cert FILE
//! --tls-key FILE` it serves HTTPS through tokio-rustls (rustls 0.23, ring
//! provider, ALPN `http/1.1`: what runtime's `http-hello --tls-cert` does),
//! the peer in `benches/tls_compare.sh`.
//!
//! Usage: hyper_hello [--addr 127.0.0.1:8080] [--flavor current|multi] [--threads N]
//!                    [--tls-cert FILE --tls-key FILE]
//! Prints `hyper_hello: listening on ADDR flavor=F threads=N pid=PID`; stop
//! it with a signal.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpSocket;
use tokio_rustls::rustls;

async fn hello(_req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"Hello, world!\n",
    ))))
}

fn tls_acceptor(cert: &str, key: &str) -> io::Result<tokio_rustls::TlsAcceptor> {
    use runtime::tls::pem::{load_certs, load_private_key};
    let mut config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(io::Error::other)?
    .with_no_client_auth()
    .with_single_cert(load_certs(cert)?, load_private_key(key)?)
    .map_err(io::Error::other)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config)))
}

async fn serve(
    addr: SocketAddr,
    flavor: &str,
    threads: usize,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> io::Result<()> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    let listener = socket.listen(4096)?;
    println!(
        "hyper_hello: listening on {} flavor={flavor} threads={threads} pid={}",
        listener.local_addr()?,
        std::process::id()
    );
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("hyper_hello: accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => {
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service_fn(hello))
                        .await;
                }
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service_fn(hello))
                            .await;
                    }
                }
            }
        });
    }
}

fn usage(msg: &str) -> ! {
    eprintln!(
        "hyper_hello: {msg}\nusage: hyper_hello [--addr 127.0.0.1:8080] [--flavor current|multi] [--threads N] [--tls-cert FILE --tls-key FILE]"
    );
    std::process::exit(2)
}

fn main() -> io::Result<()> {
    let mut addr: SocketAddr = "127.0.0.1:8080".parse().expect("literal");
    let mut flavor = "current".to_owned();
    let mut threads = 2usize;
    let (mut cert, mut key) = (None::<String>, None::<String>);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--addr" => addr = v.parse().unwrap_or_else(|_| usage("bad --addr")),
            "--flavor" => flavor = v,
            "--threads" => threads = v.parse().unwrap_or_else(|_| usage("bad --threads")),
            "--tls-cert" => cert = Some(v),
            "--tls-key" => key = Some(v),
            other => usage(&format!("unknown flag {other}")),
        }
    }
    let rt = match flavor.as_str() {
        "current" => {
            threads = 1;
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
        }
        "multi" => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .enable_all()
            .build()?,
        other => usage(&format!("unknown flavor {other}")),
    };
    let tls = match (cert, key) {
        (None, None) => None,
        (Some(c), Some(k)) => Some(tls_acceptor(&c, &k)?),
        _ => usage("--tls-cert and --tls-key go together"),
    };
    rt.block_on(serve(addr, &flavor, threads, tls))
}
