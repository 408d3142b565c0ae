//! A hyper 1.x hello server on tokio, the peer of the root crate's
//! `examples/http_hello.rs` in `benches/http_compare.sh`: every request is
//! answered `200 Hello, world!\n` over HTTP/1.1 with keep-alive, the way
//! hyper's own hello example does it (`service_fn`, `http1::Builder`,
//! `Full<Bytes>`), `TCP_NODELAY`, backlog 4096.
//!
//! Usage: hyper_hello [--addr 127.0.0.1:8080] [--flavor current|multi] [--threads N]
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

async fn hello(_req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::from_static(
        b"Hello, world!\n",
    ))))
}

async fn serve(addr: SocketAddr, flavor: &str, threads: usize) -> io::Result<()> {
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
        tokio::spawn(async move {
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service_fn(hello))
                .await;
        });
    }
}

fn usage(msg: &str) -> ! {
    eprintln!(
        "hyper_hello: {msg}\nusage: hyper_hello [--addr 127.0.0.1:8080] [--flavor current|multi] [--threads N]"
    );
    std::process::exit(2)
}

fn main() -> io::Result<()> {
    let mut addr: SocketAddr = "127.0.0.1:8080".parse().expect("literal");
    let mut flavor = "current".to_owned();
    let mut threads = 2usize;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--addr" => addr = v.parse().unwrap_or_else(|_| usage("bad --addr")),
            "--flavor" => flavor = v,
            "--threads" => threads = v.parse().unwrap_or_else(|_| usage("bad --threads")),
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
    rt.block_on(serve(addr, &flavor, threads))
}
