//! The load client of `benches/tls_compare.sh` (tokio-rustls, rustls 0.23,
//! ring provider), the same for every server it is pointed at. The client
//! forces TLS 1.3 with `TLS13_AES_128_GCM_SHA256` and X25519 (the only
//! suite and group it offers) and never resumes a session, so every
//! connection is a full handshake with the same suite whichever server
//! answers. It speaks the protocol of `tls_server_runtime.rs` /
//! `tls_server_tokio.rs`.
//!
//! Modes (each runs for --duration seconds, then prints one line):
//! - `handshake`: --conns loops, each: TCP connect, full handshake, `e` and
//!   one byte echoed back, `close_notify`, read to the server's close.
//!   Prints `handshakes=N secs=S suite=... group=...`.
//! - `upload`: one connection; `s` commands of --chunk-mib MiB each, sent
//!   in 64 KiB writes, each acknowledged. Prints `bytes=N secs=S ...`.
//! - `download`: one connection; `g` commands of --chunk-mib MiB, read in
//!   64 KiB reads. Prints `bytes=N secs=S ...`.
//!
//! Usage: tls_load --addr ADDR --ca FILE --mode handshake|upload|download
//!                 [--duration SECS] [--conns N] [--chunk-mib N]

use runtime::tls::pem::load_certs;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls::{self, pki_types::ServerName};
use tokio_rustls::TlsConnector;

struct Args {
    addr: SocketAddr,
    ca: String,
    mode: String,
    duration: Duration,
    conns: usize,
    chunk: usize,
}

fn usage(msg: &str) -> ! {
    eprintln!(
        "tls_load: {msg}\nusage: tls_load --addr ADDR --ca FILE --mode handshake|upload|download [--duration SECS] [--conns N] [--chunk-mib N]"
    );
    std::process::exit(2)
}

fn args() -> Args {
    let mut a = Args {
        addr: "127.0.0.1:0".parse().expect("literal"),
        ca: String::new(),
        mode: String::new(),
        duration: Duration::from_secs(5),
        conns: 4,
        chunk: 16 << 20,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        let num = |v: &str| {
            v.parse::<u64>()
                .unwrap_or_else(|_| usage(&format!("bad {flag}")))
        };
        match flag.as_str() {
            "--addr" => a.addr = v.parse().unwrap_or_else(|_| usage("bad --addr")),
            "--ca" => a.ca = v,
            "--mode" => a.mode = v,
            "--duration" => a.duration = Duration::from_secs(num(&v).max(1)),
            "--conns" => a.conns = num(&v).max(1) as usize,
            "--chunk-mib" => a.chunk = (num(&v).max(1) as usize) << 20,
            other => usage(&format!("unknown flag {other}")),
        }
    }
    if a.ca.is_empty() || a.mode.is_empty() {
        usage("--ca and --mode are required");
    }
    a
}

fn connector(ca: &str) -> io::Result<TlsConnector> {
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites = vec![rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256];
    provider.kx_groups = vec![rustls::crypto::ring::kx_group::X25519];
    let mut roots = rustls::RootCertStore::empty();
    for c in load_certs(ca)? {
        roots.add(c).map_err(io::Error::other)?;
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    Ok(TlsConnector::from(Arc::new(config)))
}

type Stream = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

async fn connect(c: &TlsConnector, addr: SocketAddr) -> io::Result<Stream> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    c.connect(ServerName::try_from("localhost").expect("literal"), tcp)
        .await
}

fn negotiated(s: &Stream) -> String {
    let c = s.get_ref().1;
    format!(
        "suite={:?} group={:?}",
        c.negotiated_cipher_suite().map(|s| s.suite()),
        c.negotiated_key_exchange_group().map(|g| g.name())
    )
}

async fn one_handshake(c: &TlsConnector, addr: SocketAddr) -> io::Result<Stream> {
    let mut s = connect(c, addr).await?;
    s.write_all(b"ex").await?;
    s.flush().await?;
    let mut b = [0u8; 1];
    s.read_exact(&mut b).await?;
    if b[0] != b'x' {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "bad echo"));
    }
    s.shutdown().await?;
    let mut rest = [0u8; 16];
    while s.read(&mut rest).await? > 0 {}
    Ok(s)
}

async fn run(a: Args) -> io::Result<()> {
    let c = connector(&a.ca)?;
    let start = Instant::now();
    let end = start + a.duration;
    match a.mode.as_str() {
        "handshake" => {
            let first = one_handshake(&c, a.addr).await?;
            let note = negotiated(&first);
            drop(first);
            let start = Instant::now();
            let end = start + a.duration;
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..a.conns {
                let c = c.clone();
                let addr = a.addr;
                tasks.spawn_local(async move {
                    let mut n = 0u64;
                    while Instant::now() < end {
                        one_handshake(&c, addr).await?;
                        n += 1;
                    }
                    Ok::<u64, io::Error>(n)
                });
            }
            let mut total = 0;
            while let Some(r) = tasks.join_next().await {
                total += r.map_err(io::Error::other)??;
            }
            println!(
                "handshakes={total} secs={:.3} {note}",
                start.elapsed().as_secs_f64()
            );
        }
        "upload" | "download" => {
            let mut s = connect(&c, a.addr).await?;
            let note = negotiated(&s);
            let block = vec![0x5au8; 64 * 1024];
            let mut buf = vec![0u8; 64 * 1024];
            let mut bytes = 0u64;
            while Instant::now() < end {
                let upload = a.mode == "upload";
                s.write_all(if upload { b"s" } else { b"g" }).await?;
                s.write_all(&(a.chunk as u64).to_le_bytes()).await?;
                let mut left = a.chunk;
                if upload {
                    while left > 0 {
                        let n = left.min(block.len());
                        s.write_all(&block[..n]).await?;
                        left -= n;
                    }
                    s.flush().await?;
                    let mut k = [0u8; 1];
                    s.read_exact(&mut k).await?;
                } else {
                    s.flush().await?;
                    while left > 0 {
                        let want = left.min(buf.len());
                        let n = s.read(&mut buf[..want]).await?;
                        if n == 0 {
                            return Err(io::ErrorKind::UnexpectedEof.into());
                        }
                        left -= n;
                    }
                }
                bytes += a.chunk as u64;
            }
            s.shutdown().await?;
            println!(
                "bytes={bytes} secs={:.3} {note}",
                start.elapsed().as_secs_f64()
            );
        }
        other => usage(&format!("unknown mode {other}")),
    }
    Ok(())
}

fn main() -> io::Result<()> {
    let a = args();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, run(a))
}
