//! The TLS server of `benches/tls_compare.sh` on runtime (runtime-tls over
//! futures-rustls, rustls 0.23 with the ring provider): the peer of
//! `tls_server_tokio.rs` (the same protocol on tokio-rustls).
//!
//! Every connection runs the server handshake (`TlsAcceptor` built with
//! `ServerConfig::from_pem_files`, the product's path, 10 s handshake
//! timeout included), then serves commands until end of stream:
//! - `e`: echo every byte after it until the client's `close_notify`;
//! - `s` + u64 LE length: read (and drop) that many bytes, answer `k`;
//! - `g` + u64 LE length: send that many bytes.
//!
//! Reads and writes go straight to the `TlsStream` (64 KiB at a time), no
//! extra buffer layer.
//!
//! Usage: tls_server_runtime --cert FILE --key FILE [--addr 127.0.0.1:0]
//! Prints `tls_server_runtime: listening on ADDR pid=PID`; stop it with a
//! signal.

use runtime::net::{AsyncRead, AsyncWrite, TcpListener};
use runtime::tls::{ServerConfig, TlsAcceptor, TlsStream};
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;

const BLOCK: usize = 64 * 1024;

async fn read<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut TlsStream<S>,
    buf: &mut [u8],
) -> io::Result<usize> {
    poll_fn(|cx| Pin::new(&mut *s).poll_read(cx, buf)).await
}

async fn read_exact<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut TlsStream<S>,
    mut buf: &mut [u8],
) -> io::Result<()> {
    while !buf.is_empty() {
        match read(s, buf).await? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => buf = &mut buf[n..],
        }
    }
    Ok(())
}

async fn write_all<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut TlsStream<S>,
    mut data: &[u8],
) -> io::Result<()> {
    while !data.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *s).poll_write(cx, data)).await?;
        data = &data[n..];
    }
    poll_fn(|cx| Pin::new(&mut *s).poll_flush(cx)).await
}

async fn close<S: AsyncRead + AsyncWrite + Unpin>(s: &mut TlsStream<S>) -> io::Result<()> {
    poll_fn(|cx| Pin::new(&mut *s).poll_close(cx)).await
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut s: TlsStream<S>) -> io::Result<()> {
    let mut buf = vec![0u8; BLOCK];
    loop {
        let mut cmd = [0u8; 1];
        if read(&mut s, &mut cmd).await? == 0 {
            return close(&mut s).await;
        }
        match cmd[0] {
            b'e' => loop {
                let n = read(&mut s, &mut buf).await?;
                if n == 0 {
                    return close(&mut s).await;
                }
                write_all(&mut s, &buf[..n]).await?;
            },
            b's' | b'g' => {
                let mut len = [0u8; 8];
                read_exact(&mut s, &mut len).await?;
                let mut left = u64::from_le_bytes(len) as usize;
                if cmd[0] == b's' {
                    while left > 0 {
                        let want = left.min(BLOCK);
                        let n = read(&mut s, &mut buf[..want]).await?;
                        if n == 0 {
                            return Err(io::ErrorKind::UnexpectedEof.into());
                        }
                        left -= n;
                    }
                    write_all(&mut s, b"k").await?;
                } else {
                    while left > 0 {
                        let n = left.min(BLOCK);
                        write_all(&mut s, &buf[..n]).await?;
                        left -= n;
                    }
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
    eprintln!("tls_server_runtime: {msg}\nusage: tls_server_runtime --cert FILE --key FILE [--addr 127.0.0.1:0]");
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
    let acceptor = TlsAcceptor::new(ServerConfig::from_pem_files(cert, key)?);
    runtime::block_on(async move {
        let listener = TcpListener::bind(addr).await?;
        println!(
            "tls_server_runtime: listening on {} pid={}",
            listener.local_addr()?,
            std::process::id()
        );
        loop {
            let (tcp, _) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("tls_server_runtime: accept: {e}");
                    runtime::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            runtime::spawn(async move {
                if let Ok(s) = acceptor.accept(tcp).await {
                    let _ = serve(s).await;
                }
            });
        }
    })
}
