//! The seed's ROT13 server, the bufferevent way (the seed's last
//! program): listens on port 40713 and, for each connection, a
//! [`BufferedStream`] over the `TcpStream` answers every line with its
//! ROT13 as soon as the line is complete. One task per connection, so many
//! connections are served at once.
//!
//! ```text
//! cargo run --example rot13
//! rot13: listening on 127.0.0.1:40713 pid=12345
//! $ printf 'Hello, World!\n' | nc 127.0.0.1 40713
//! Uryyb, Jbeyq!
//! ```
//!
//! Flags: `--addr ADDR` (127.0.0.1:40713; `0.0.0.0:40713` listens on every
//! interface as the seed does; port 0 picks a free port), `--method NAME`.
//! `SIGINT` or `SIGTERM` stops the server (exit status 0).
//!
//! As in the seed: the read high watermark is [`MAX_LINE`]
//! (`bufferevent_setwatermark(bev, EV_READ, 0, MAX_LINE)`), the lines are
//! read with `Eol::Lf` (`evbuffer_readln(input, &n, EVBUFFER_EOL_LF)`),
//! and when the input holds `MAX_LINE` bytes without a newline, all of it is
//! ROT13'd and written out (in 1 KiB pieces) followed by a newline, so the
//! buffer never grows without bound. An unfinished last line is dropped at
//! end of stream. Every line already buffered is answered before the
//! output is flushed, so all the lines one read brought go out with one
//! `writev` — what the bufferevent's write event does after `readcb`.

use runtime::io::{BufferError, BufferedStream, Eol};
use runtime::net::{TcpListener, TcpStream};
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::task::Poll;

/// The longest line kept whole (the seed's `MAX_LINE`), also the read high
/// watermark.
pub const MAX_LINE: usize = 16384;

/// ROT13 of one byte: ASCII letters rotate by 13, everything else stays
/// (no locale, as in the seed).
pub fn rot13_char(c: u8) -> u8 {
    match c {
        b'a'..=b'm' | b'A'..=b'M' => c + 13,
        b'n'..=b'z' | b'N'..=b'Z' => c - 13,
        _ => c,
    }
}

fn is_line_too_long(e: &io::Error) -> bool {
    matches!(
        e.get_ref().and_then(|i| i.downcast_ref::<BufferError>()),
        Some(BufferError::LineTooLong)
    )
}

/// The seed's `MAX_LINE` rule: the input holds `MAX_LINE` bytes and no
/// newline, so all of it goes out, ROT13'd, followed by a newline.
fn too_long(bev: &mut BufferedStream<TcpStream>) -> io::Result<()> {
    let (input, output) = bev.buffers_mut();
    let mut buf = [0u8; 1024];
    while !input.is_empty() {
        let n = input.remove(&mut buf)?;
        for c in &mut buf[..n] {
            *c = rot13_char(*c);
        }
        output.add(&buf[..n])?;
    }
    output.add(b"\n")?;
    Ok(())
}

/// Serves one connection (the seed's `do_accept` + `readcb` + `errorcb`).
pub async fn rot13_conn(conn: TcpStream) -> io::Result<()> {
    let mut bev = BufferedStream::new(conn);
    bev.set_read_watermarks(0, MAX_LINE);
    bev.set_max_line(MAX_LINE);
    // One vector for every line of the connection: no allocation per line
    // (the `_into` readers append, so it is cleared before each line).
    let mut line = Vec::new();
    loop {
        line.clear();
        // A line already in the input is answered at once; only when none
        // is left does the output go out (one writev for all the answers)
        // and the task wait for more input.
        let next = match bev.try_read_line_into(Eol::Lf, &mut line) {
            Ok(None) => {
                bev.flush().await?;
                bev.read_line_into(Eol::Lf, &mut line).await
            }
            other => other,
        };
        match next {
            Ok(Some(_)) => {
                for c in &mut line {
                    *c = rot13_char(*c);
                }
                bev.output_mut().add_vectored(&[&line, b"\n"])?;
            }
            // End of stream (errorcb with BEV_EVENT_EOF).
            Ok(None) => break,
            Err(e) if is_line_too_long(&e) => too_long(&mut bev)?,
            // End of stream in the middle of a line: the seed drops it.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e),
        }
    }
    bev.flush().await
}

/// Accepts connections forever, one [`rot13_conn`] task each.
pub async fn serve(listener: TcpListener) -> io::Result<()> {
    loop {
        match listener.accept().await {
            Ok((conn, _peer)) => {
                runtime::spawn(async move {
                    match rot13_conn(conn).await {
                        Ok(()) => {}
                        // The client went away without reading: as normal
                        // an end as the seed's BEV_EVENT_ERROR.
                        Err(e)
                            if matches!(
                                e.kind(),
                                io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
                            ) => {}
                        Err(e) => eprintln!("rot13: connection: {e}"),
                    }
                });
            }
            Err(e) => eprintln!("rot13: accept: {e}"),
        }
    }
}

fn usage(msg: &str) -> ! {
    eprintln!("rot13: {msg}\nusage: rot13 [--addr 127.0.0.1:40713] [--method epoll|poll|select]");
    std::process::exit(2)
}

fn main() -> io::Result<()> {
    let mut addr: SocketAddr = "127.0.0.1:40713".parse().expect("literal address");
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
            "-h" | "--help" => usage("the ROT13 server"),
            other => usage(&format!("unknown flag {other}")),
        }
    }
    let mut builder = runtime::Builder::new();
    if let Some(m) = &method {
        builder = builder.method(m)?;
    }
    let rt = builder.build()?;
    let signal = rt.block_on(async {
        let mut int = runtime::signal::signal(libc::SIGINT)?;
        let mut term = runtime::signal::signal(libc::SIGTERM)?;
        let listener = TcpListener::bind(addr).await?;
        println!(
            "rot13: listening on {} pid={}",
            listener.local_addr()?,
            std::process::id()
        );
        let server = runtime::spawn(serve(listener));
        let signal = poll_fn(|cx| {
            if int.poll_recv(cx).is_ready() {
                Poll::Ready("SIGINT")
            } else if term.poll_recv(cx).is_ready() {
                Poll::Ready("SIGTERM")
            } else {
                Poll::Pending
            }
        })
        .await;
        server.abort();
        Ok::<_, io::Error>(signal)
    })?;
    eprintln!("rot13: {signal}: exiting");
    Ok(())
}
