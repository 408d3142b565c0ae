//! The libevent book's last ROT13 server — the one with bufferevents
//! (seed 002) — ported almost line for line to the callback layer,
//! `runtime::compat`. The listening socket is a persistent read event
//! whose callback accepts one connection and wraps it in a
//! [`BufferEvent`] (`bufferevent_socket_new(base, fd,
//! BEV_OPT_CLOSE_ON_FREE)`); the bufferevent's read callback answers every
//! complete line with its ROT13, its event callback frees it on end of
//! stream, error or timeout.
//!
//! ```text
//! cargo run --example compat_rot13_bufferevent                 # 0.0.0.0:40713, as the seed
//! cargo run --example compat_rot13_bufferevent -- --addr 127.0.0.1:0
//! compat_rot13_bufferevent: listening on 127.0.0.1:40713 (epoll) pid=12345
//! $ printf 'Hello, World!\n' | nc -q1 127.0.0.1 40713
//! Uryyb, Jbeyq!
//! ```
//!
//! Flags: `--addr ADDR` (default `0.0.0.0:40713`, every interface, as the
//! seed; port 0 picks a free port), `--method epoll|poll|select`. `SIGINT`
//! or `SIGTERM` stops the server (exit status 0), as the `rot13` example.
//!
//! As in the seed: the read high watermark is `MAX_LINE`
//! (`bufferevent_setwatermark(bev, EV_READ, 0, MAX_LINE)`), lines are read
//! with `Eol::Lf` (`evbuffer_readln(input, &n, EVBUFFER_EOL_LF)`), and when
//! the input holds `MAX_LINE` bytes without a newline, all of it is
//! ROT13'd and written out in 1 KiB pieces followed by a newline, so the
//! buffer never grows without bound. Descriptors above `FD_SETSIZE` are
//! closed at once, as the C does. Differences from the C: errors are
//! `Result`s, and the listener's `SO_REUSEADDR` comes with std's `bind`.

use runtime::compat::{
    BevEvent, BufferEvent, Event, EventBase, EventConfig, BEV_EVENT_EOF, BEV_EVENT_ERROR,
    BEV_EVENT_TIMEOUT, BEV_OPT_CLOSE_ON_FREE, EV_PERSIST, EV_READ, EV_WRITE,
};
use runtime::io::Eol;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::rc::Rc;

const MAX_LINE: usize = 16384;

fn rot13_char(c: u8) -> u8 {
    // We don't want to use is_ascii_alphabetic here: only the 26 ASCII
    // letters, as in the C.
    match c {
        b'a'..=b'm' | b'A'..=b'M' => c + 13,
        b'n'..=b'z' | b'N'..=b'Z' => c - 13,
        _ => c,
    }
}

fn readcb(bev: &BufferEvent) {
    let mut input = bev.input();
    let mut output = bev.output();

    while let Ok(Some(mut line)) = input.readln(Eol::Lf) {
        for c in line.iter_mut() {
            *c = rot13_char(*c);
        }
        let _ = output.add(&line);
        let _ = output.add(b"\n");
    }

    if input.len() >= MAX_LINE {
        // Too long; just process what there is and go on so that the buffer
        // doesn't grow infinitely long.
        let mut buf = [0u8; 1024];
        while !input.is_empty() {
            let n = input.remove(&mut buf).unwrap_or(0);
            if n == 0 {
                break;
            }
            for c in &mut buf[..n] {
                *c = rot13_char(*c);
            }
            let _ = output.add(&buf[..n]);
        }
        let _ = output.add(b"\n");
    }
}

fn errorcb(bev: &BufferEvent, error: BevEvent) {
    if error.contains(BEV_EVENT_EOF) {
        // connection has been closed, do any clean up here
        // ...
    } else if error.contains(BEV_EVENT_ERROR) {
        // check take_error() to see what error occurred
        // ...
    } else if error.contains(BEV_EVENT_TIMEOUT) {
        // must be a timeout event handle, handle it
        // ...
    }
    bev.free();
}

fn do_accept(base: &EventBase, listener: &TcpListener) {
    match listener.accept() {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        Err(e) => eprintln!("accept: {e}"),
        Ok((stream, _ss)) if stream.as_raw_fd() > libc::FD_SETSIZE as i32 => drop(stream),
        Ok((stream, _ss)) => {
            let bev =
                match BufferEvent::socket_new(base, Some(stream.into()), BEV_OPT_CLOSE_ON_FREE) {
                    Ok(bev) => bev,
                    Err(e) => {
                        eprintln!("bufferevent_socket_new: {e}");
                        return;
                    }
                };
            let setup = bev
                .setcb(Some(Box::new(readcb)), None, Some(Box::new(errorcb)))
                .and_then(|()| bev.setwatermark(EV_READ, 0, MAX_LINE))
                .and_then(|()| bev.enable(EV_READ | EV_WRITE));
            if let Err(e) = setup {
                eprintln!("bufferevent setup: {e}");
                bev.free();
            }
        }
    }
}

fn usage(msg: &str) -> ! {
    eprintln!(
        "compat_rot13_bufferevent: {msg}\n\
         usage: compat_rot13_bufferevent [--addr 0.0.0.0:40713] [--method epoll|poll|select]"
    );
    std::process::exit(2)
}

fn run(addr: SocketAddr, method: Option<String>) -> io::Result<()> {
    let mut config = EventConfig::new();
    if let Some(m) = &method {
        config = config.method(m);
    }
    // The base outlives the bufferevents the accept callback creates: it is
    // shared with the callback through an Rc.
    let base = Rc::new(config.build()?);

    // std sets SO_REUSEADDR on Unix, as the C does by hand.
    let listener = TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;

    let lfd = listener.as_raw_fd();
    let b = Rc::downgrade(&base);
    let listener_event = Event::new(&base, lfd, EV_READ | EV_PERSIST, move |_fd, _what| {
        if let Some(base) = b.upgrade() {
            do_accept(&base, &listener);
        }
    })?;
    listener_event.add(None)?;

    // SIGINT and SIGTERM end the loop (the C runs until killed).
    let mut signals = Vec::new();
    for (signum, name) in [(libc::SIGINT, "SIGINT"), (libc::SIGTERM, "SIGTERM")] {
        let h = base.handle();
        let ev = Event::new_signal(&base, signum, move |_sig, _what| {
            eprintln!("compat_rot13_bufferevent: {name}: exiting");
            let _ = h.loopbreak();
        })?;
        ev.add(None)?;
        signals.push(ev);
    }

    // The banner last: once it is out, the server serves and stops on
    // SIGINT/SIGTERM.
    println!(
        "compat_rot13_bufferevent: listening on {} ({}) pid={}",
        addr,
        base.method()?,
        std::process::id()
    );
    base.dispatch()?;
    Ok(())
}

fn main() -> io::Result<()> {
    let mut addr: SocketAddr = "0.0.0.0:40713".parse().expect("literal address");
    let mut method = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--addr" => {
                let v = it.next().unwrap_or_else(|| usage("--addr needs a value"));
                addr = v
                    .parse()
                    .unwrap_or_else(|_| usage(&format!("--addr: not an address: {v}")));
            }
            "--method" => {
                method = Some(it.next().unwrap_or_else(|| usage("--method needs a value")))
            }
            "-h" | "--help" => usage("the seed's bufferevent ROT13 server"),
            other => usage(&format!("unknown flag {other}")),
        }
    }
    run(addr, method)
}
