//! Calls the RPC `Message` of `rpc-server` (or of a libevent evrpc server
//! with the same `.rpc` file) through a pool of keep-alive connections.
//!
//! ```text
//! cargo run --example rpc-client -- --addr 127.0.0.1:8090 --count 3
//! rpc-client: reply weapon=dagger action="wave at rpc-client" how_often=[1]
//! rpc-client: 3 calls, 0 failed, 2 connections
//! ```
//!
//! A failed call prints its `EVRPC_STATUS_*` code; the exit status is 1 if
//! any call failed. `SIGINT` stops the calls early and exits 0.

include!("../rpc/tests/support/regress.rs");

use runtime::rpc::{Pool, RpcError};
use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::task::Poll;
use std::time::Duration;

fn usage(msg: &str, code: i32) -> ! {
    let text = format!(
        "rpc-client: {msg}\nusage: rpc-client [--addr 127.0.0.1:8090] [--count N] \
         [--connections N] [--timeout SECS]\n\
         Calls the RPC Message N times (default 1). Ctrl-C stops early."
    );
    if code == 0 {
        println!("{text}");
    } else {
        eprintln!("{text}");
    }
    std::process::exit(code)
}

fn request() -> Msg {
    Msg {
        from_name: Some("rpc-client".into()),
        to_name: Some("rpc-server".into()),
        attack: Some(Kill {
            weapon: Some("feather".into()),
            action: Some("tickle".into()),
            how_often: vec![3],
        }),
        run: vec![Run {
            how: Some("very fast".into()),
            fixed_bytes: Some(*b"0123456789abcdefghijklmn"),
            notes: vec!["first".into()],
            large_number: Some(1 << 40),
            ..Run::default()
        }],
    }
}

fn main() {
    let mut addr: SocketAddr = "127.0.0.1:8090".parse().expect("literal");
    let mut count = 1u64;
    let mut connections = 2usize;
    let mut timeout = Some(Duration::from_secs(10));
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value"), 2))
        };
        let number = |v: String| -> u64 {
            v.parse()
                .unwrap_or_else(|_| usage(&format!("not a number: {v}"), 2))
        };
        match flag.as_str() {
            "--addr" => {
                let v = value();
                addr = v
                    .parse()
                    .unwrap_or_else(|_| usage(&format!("not an address: {v}"), 2));
            }
            "--count" => count = number(value()),
            "--connections" => connections = number(value()).max(1) as usize,
            "--timeout" => {
                timeout = Some(Duration::from_secs(number(value()))).filter(|d| !d.is_zero())
            }
            "-h" | "--help" => usage("an evrpc-compatible RPC client", 0),
            other => usage(&format!("unknown flag {other}"), 2),
        }
    }
    let failed = runtime::block_on(async move {
        let pool = Pool::new(addr, connections);
        pool.set_timeout(timeout);
        let mut int = runtime::signal::signal(libc::SIGINT).expect("SIGINT handler");
        let (mut done, mut failed) = (0u64, 0u64);
        let req = request();
        while done < count {
            let call = pool.call::<_, Kill>("Message", &req);
            let mut call = std::pin::pin!(call);
            let outcome = poll_fn(|cx| {
                if int.poll_recv(cx).is_ready() {
                    return Poll::Ready(None);
                }
                call.as_mut().poll(cx).map(Some)
            })
            .await;
            let Some(outcome) = outcome else {
                println!("rpc-client: interrupted");
                break;
            };
            done += 1;
            match outcome {
                Ok(kill) if done == 1 => println!(
                    "rpc-client: reply weapon={} action={:?} how_often={:?}",
                    kill.weapon.unwrap_or_default(),
                    kill.action.unwrap_or_default(),
                    kill.how_often
                ),
                Ok(_) => {}
                Err(e) => {
                    failed += 1;
                    print_error(&e);
                }
            }
        }
        println!("rpc-client: {done} calls, {failed} failed, {connections} connections");
        failed
    });
    std::process::exit(i32::from(failed > 0));
}

fn print_error(e: &RpcError) {
    eprintln!(
        "rpc-client: failed with EVRPC_STATUS {} ({:?}): {e}",
        e.status() as u8,
        e.status()
    );
}
