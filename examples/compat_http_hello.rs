//! `http-hello` through the callback layer: an evhttp-shaped server
//! (`runtime::compat::Http`) whose generic callback answers every request
//! `200 Hello, world!\n` with `send_reply` — the C program one writes with
//! `evhttp_set_gencb` + `evhttp_send_reply`, ported. The benchmark target
//! that measures what the callback shape costs over runtime-http's server
//! (`http-hello`) and against libevent's evhttp.
//!
//! ```text
//! cargo run --release --example compat_http_hello -- --addr 127.0.0.1:8080
//! compat_http_hello: listening on 127.0.0.1:8080 pid=12345
//! ```
//!
//! `SIGINT`/`SIGTERM` end the loop (exit status 0).

use runtime::compat::{Event, EventBase, Http};
use runtime::io::Buffer;
use std::net::SocketAddr;

const USAGE: &str = "usage: compat_http_hello [--addr 127.0.0.1:8080]";

fn usage(msg: &str, code: i32) -> ! {
    let text = format!(
        "compat_http_hello: {msg}\n{USAGE}\nAnswers every request 200 Hello, world! through the evhttp-shaped API. Ctrl-C stops it."
    );
    if code == 0 {
        println!("{text}");
    } else {
        eprintln!("{text}");
    }
    std::process::exit(code)
}

fn main() -> std::io::Result<()> {
    let mut addr: SocketAddr = "127.0.0.1:8080".parse().expect("literal address");
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--addr" => {
                let v = it
                    .next()
                    .unwrap_or_else(|| usage("--addr needs a value", 2));
                addr = v
                    .parse()
                    .unwrap_or_else(|_| usage(&format!("--addr: not an address: {v}"), 2));
            }
            "-h" | "--help" => usage("hello server on the callback layer", 0),
            other => usage(&format!("unknown flag {other}"), 2),
        }
    }
    let base = EventBase::new()?;
    let http = Http::new(&base)?;
    http.set_gencb(|req| {
        let mut buf = Buffer::new();
        let _ = buf.add(b"Hello, world!\n");
        let _ = req.send_reply(200, "OK", Some(&mut buf));
    })?;
    let bound = http.bind_socket_with_handle(&addr.ip().to_string(), addr.port())?;
    let mut signals = Vec::new();
    for signum in [libc::SIGINT, libc::SIGTERM] {
        let b = base.handle();
        let ev = Event::new_signal(&base, signum, move |_, _| {
            let _ = b.loopbreak();
        })?;
        ev.add(None)?;
        signals.push(ev);
    }
    println!(
        "compat_http_hello: listening on {} pid={}",
        bound.local_addr()?,
        std::process::id()
    );
    base.dispatch()?;
    drop(http);
    Ok(())
}
