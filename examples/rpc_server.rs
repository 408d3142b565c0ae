//! An RPC server in the shape of libevent's regress tests: the RPC
//! `Message` takes a `msg` (a nested `kill`, an array of `run`s, optional
//! fields) and answers a `kill`.
//!
//! ```text
//! cargo run --example rpc-server -- --addr 127.0.0.1:8090
//! rpc-server: listening on 127.0.0.1:8090 pid=12345
//! ```
//!
//! Served as `POST /.rpc.Message` with an evtag body, so libevent's evrpc
//! clients call it too. `SIGINT`/`SIGTERM` stop it (exit status 0).

include!("../rpc/tests/support/regress.rs");

use runtime::http::{Limits, Server, Shutdown};
use runtime::rpc::{RpcError, RpcServerExt};
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::task::Poll;
use std::time::Duration;

fn usage(msg: &str, code: i32) -> ! {
    let text = format!(
        "rpc-server: {msg}\nusage: rpc-server [--addr 127.0.0.1:8090]\n\
         Serves the RPC Message (msg -> kill) at POST /.rpc.Message. Ctrl-C stops it."
    );
    if code == 0 {
        println!("{text}");
    } else {
        eprintln!("{text}");
    }
    std::process::exit(code)
}

/// regress_rpc.c's `MessageCb`: answers with a `kill`, counting the runs.
async fn message(req: Msg) -> Result<Kill, RpcError> {
    Ok(Kill {
        weapon: Some("dagger".into()),
        action: Some(format!("wave at {}", req.from_name.unwrap_or_default())),
        how_often: vec![req.run.len() as u32],
    })
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
    let mut addr: SocketAddr = "127.0.0.1:8090".parse().expect("literal");
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--addr" => {
                let v = it
                    .next()
                    .unwrap_or_else(|| usage("--addr needs a value", 2));
                addr = v
                    .parse()
                    .unwrap_or_else(|_| usage(&format!("not an address: {v}"), 2));
            }
            "-h" | "--help" => usage("an evrpc-compatible RPC server", 0),
            other => usage(&format!("unknown flag {other}"), 2),
        }
    }
    let shutdown = Shutdown::new();
    runtime::block_on(async {
        let listener = runtime::net::TcpListener::bind(addr).await?;
        println!(
            "rpc-server: listening on {} pid={}",
            listener.local_addr()?,
            std::process::id()
        );
        let sd = shutdown.clone();
        runtime::spawn(async move {
            if signals().await.is_ok() {
                sd.trigger();
            }
        });
        Server::new()
            .rpc("Message", message)
            // libevent's evrpc clients send HTTP/1.1 requests without Host.
            .limits(Limits {
                require_host: false,
                ..Limits::default()
            })
            .with_shutdown(&shutdown, Duration::from_secs(5))
            .serve(listener)
            .await
    })
}
