//! The TLS server of `benches/tls_compare.sh` on tokio-rustls (rustls
//! 0.23 with the ring provider, the same as runtime-tls): the peer of
//! `tls_server_runtime.rs`, with the same protocol.
//!
//! Every connection runs the server handshake (rustls' `ServerConfig`
//! builder with the ring provider and one certificate, `tokio_rustls::
//! TlsAcceptor`), then serves commands until end of stream:
//! - `e`: echo every byte after it until the client's `close_notify`;
//! - `s` + u64 LE length: read (and drop) that many bytes, answer `k`;
//! - `g` + u64 LE length: send that many bytes.
//!
//! Usage: tls_server_tokio --cert FILE --key FILE [--addr 127.0.0.1:0]
//! Prints `tls_server_tokio: listening on ADDR pid=PID`; current-thread
//! runtime; stop it with a signal.

use runtime::tls::pem::{load_certs, load_private_key};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;

const BLOCK: usize = 64 * 1024;

async fn serve<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut s: S,
) -> io::Result<()> {
    let mut buf = vec![0u8; BLOCK];
    loop {
        let mut cmd = [0u8; 1];
        if s.read(&mut cmd).await? == 0 {
            return s.shutdown().await;
        }
        match cmd[0] {
            b'e' => loop {
                let n = s.read(&mut buf).await?;
                if n == 0 {
                    return s.shutdown().await;
                }
                s.write_all(&buf[..n]).await?;
                s.flush().await?;
            },
            b's' | b'g' => {
                let mut len = [0u8; 8];
                s.read_exact(&mut len).await?;
                let mut left = u64::from_le_bytes(len) as usize;
                if cmd[0] == b's' {
                    while left > 0 {
                        let want = left.min(BLOCK);
                        let n = s.read(&mut buf[..want]).await?;
                        if n == 0 {
                            return Err(io::ErrorKind::UnexpectedEof.into());
                        }
                        left -= n;
                    }
                    s.write_all(b"k").await?;
                    s.flush().await?;
                } else {
                    while left > 0 {
                        let n = left.min(BLOCK);
                        s.write_all(&buf[..n]).await?;
                        left -= n;
                    }
                    s.flush().await?;
                }
            }
            other => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("unknown command {other:#x}"),
                ))
            }
        }
    }
}

fn usage(msg: &str) -> ! {
    eprintln!("tls_server_tokio: {msg}\nusage: tls_server_tokio --cert FILE --key FILE [--addr 127.0.0.1:0]");
    std::process::exit(2)
}

fn main() -> io::Result<()> {
    let mut addr: SocketAddr = "127.0.0.1:0".parse().expect("literal");
    let (mut cert, mut key) = (None, None);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--addr" => addr = v.parse().unwrap_or_else(|_| usage("bad --addr")),
            "--cert" => cert = Some(v),
            "--key" => key = Some(v),
            other => usage(&format!("unknown flag {other}")),
        }
    }
    let (Some(cert), Some(key)) = (cert, key) else {
        usage("--cert and --key are required")
    };
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(io::Error::other)?
    .with_no_client_auth()
    .with_single_cert(load_certs(cert)?, load_private_key(key)?)
    .map_err(io::Error::other)?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        println!(
            "tls_server_tokio: listening on {} pid={}",
            listener.local_addr()?,
            std::process::id()
        );
        loop {
            let (tcp, _) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("tls_server_tokio: accept: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(s) = acceptor.accept(tcp).await {
                    let _ = serve(s).await;
                }
            });
        }
    })
}
