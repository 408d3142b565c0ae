//! The HTTP benchmark target: answers every request `200 Hello, world!\n`
//! with the default limits and timeouts on.
//!
//! ```text
//! cargo run --release --example http-hello -- --addr 127.0.0.1:8080 --threads 1
//! http-hello: listening on 127.0.0.1:8080 threads=1 pid=12345
//! ```
//!
//! `--tls-cert FILE --tls-key FILE` serves HTTPS (PEM chain and key, ALPN
//! `http/1.1`; one thread). `--threads N` > 1 serves on every worker of the per-thread runtime, one
//! `SO_REUSEPORT` listener each. `SIGINT`/`SIGTERM` stop it gracefully
//! (requests in flight finish, exit status 0).

use runtime::http::http::Response;
use runtime::http::{Body, Server, Shutdown};
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::task::Poll;
use std::time::Duration;

fn usage(msg: &str, code: i32) -> ! {
    let text = format!(
        "http-hello: {msg}\nusage: http-hello [--addr 127.0.0.1:8080] [--threads N] [--tls-cert FILE --tls-key FILE]\n\
         Answers every request 200 \"Hello, world!\\n\". Ctrl-C stops it."
    );
    if code == 0 {
        println!("{text}");
    } else {
        eprintln!("{text}");
    }
    std::process::exit(code)
}

fn server(shutdown: &Shutdown) -> Server {
    Server::new()
        .fallback(|_req| async { Response::new(Body::from("Hello, world!\n")) })
        .with_shutdown(shutdown, Duration::from_secs(5))
}

async fn signals() -> io::Result<()> {
    let mut int = runtime::signal::signal(libc::SIGINT)?;
    let mut term = runtime::signal::signal(libc::SIGTERM)?;
    poll_fn(|cx| {
        if int.poll_recv(cx).is_ready() || term.poll_recv(cx).is_ready() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    Ok(())
}

fn main() -> io::Result<()> {
    let mut addr: SocketAddr = "127.0.0.1:8080".parse().expect("literal");
    let mut threads = 1usize;
    let mut tls_cert: Option<PathBuf> = None;
    let mut tls_key: Option<PathBuf> = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value"), 2))
        };
        match flag.as_str() {
            "--addr" => {
                let v = value();
                addr = v
                    .parse()
                    .unwrap_or_else(|_| usage(&format!("not an address: {v}"), 2));
            }
            "--threads" => {
                let v = value();
                threads = v
                    .parse()
                    .ok()
                    .filter(|&n| n >= 1)
                    .unwrap_or_else(|| usage("--threads: a positive number", 2));
            }
            "--tls-cert" => tls_cert = Some(PathBuf::from(value())),
            "--tls-key" => tls_key = Some(PathBuf::from(value())),
            "-h" | "--help" => usage("an HTTP hello server", 0),
            other => usage(&format!("unknown flag {other}"), 2),
        }
    }
    // HTTPS when given a certificate chain and its key (PEM files).
    let tls = match (tls_cert, tls_key) {
        (None, None) => None,
        (Some(cert), Some(key)) => {
            if threads != 1 {
                usage("TLS is served with --threads 1 only", 2);
            }
            let config = runtime::tls::ServerConfig::builder()
                .cert_pem_files(&cert, &key)
                .map(|b| b.alpn(&[b"http/1.1"]))
                .and_then(|b| b.build())
                .unwrap_or_else(|e| usage(&format!("TLS: {e}"), 2));
            Some(runtime::tls::TlsAcceptor::new(config))
        }
        _ => usage("--tls-cert and --tls-key go together", 2),
    };
    let shutdown = Shutdown::new();
    if threads == 1 {
        runtime::block_on(async {
            let listener = runtime::net::TcpListener::bind(addr).await?;
            println!(
                "http-hello: listening on {} threads=1 pid={}",
                listener.local_addr()?,
                std::process::id()
            );
            let sd = shutdown.clone();
            runtime::spawn(async move {
                if signals().await.is_ok() {
                    sd.trigger();
                }
            });
            match tls {
                Some(acceptor) => server(&shutdown).serve_tls(listener, acceptor).await,
                None => server(&shutdown).serve(listener).await,
            }
        })
    } else {
        let rt = runtime::Builder::new().threads(threads).build()?;
        let sd = shutdown.clone();
        let shards = Server::serve_sharded(&rt.handle(), addr, move || server(&sd))?;
        println!(
            "http-hello: listening on {} threads={threads} pid={}",
            shards.local_addr(),
            std::process::id()
        );
        runtime::block_on(signals())?;
        shutdown.trigger();
        runtime::block_on(shards.join())
    }
}
