//! An echo server whose output passes through a line-oriented uppercase
//! filter: libevent's `bufferevent_filter`, as a `BufferedStream` over a
//! `Filtered` transport.
//!
//! ```text
//! cargo run --example uppercase_filter -- --addr 127.0.0.1:40714
//! uppercase_filter: listening on 127.0.0.1:40714 pid=12345
//! $ printf 'hello\nworld\n' | nc -q1 127.0.0.1 40714
//! HELLO
//! WORLD
//! ```
//!
//! Each connection is a task: what arrives is moved, without copying, from
//! the stream's input buffer to its output buffer, and every flush runs the
//! output filter, which uppercases whole lines and keeps an unfinished line
//! until its end arrives (or the client closes its side: the stream is then
//! *finished*, and the filter lets the partial line through). A line longer
//! than 16 KiB is passed on in pieces, so memory stays bounded.
//!
//! Flags: `--addr ADDR` (127.0.0.1:40714; port 0 picks a free port).

use runtime::io::{Buffer, BufferedStream, Eol, Filter, FilterResult, FlushMode, Passthrough};
use runtime::net::{TcpListener, TcpStream};
use runtime::signal::{signal, SignalKind};
use std::io;
use std::net::SocketAddr;

/// A partial line longer than this is passed on without waiting for its
/// end.
const MAX_LINE: usize = 16 * 1024;

/// Uppercases ASCII letters, one whole line at a time.
#[derive(Debug, Default)]
struct UpperLines;

impl UpperLines {
    /// Moves the first `n` bytes of `src` to `dst`, uppercased.
    fn pass(src: &mut Buffer, dst: &mut Buffer, n: usize) -> io::Result<()> {
        let mut bytes = vec![0u8; n];
        let got = src.remove(&mut bytes)?;
        bytes.truncate(got);
        bytes.make_ascii_uppercase();
        dst.add(&bytes)?;
        Ok(())
    }

    fn run(src: &mut Buffer, dst: &mut Buffer, mode: FlushMode) -> io::Result<bool> {
        let mut produced = false;
        // Every complete line, end of line included.
        while let Some((pos, eol_len)) = src.search_eol(0, Eol::Lf)? {
            UpperLines::pass(src, dst, pos + eol_len)?;
            produced = true;
        }
        // The unfinished rest: only at the end, or when it is too long to
        // keep.
        if !src.is_empty() && (mode == FlushMode::Finished || src.len() > MAX_LINE) {
            UpperLines::pass(src, dst, src.len())?;
            produced = true;
        }
        Ok(produced)
    }
}

impl Filter for UpperLines {
    fn filter(&mut self, src: &mut Buffer, dst: &mut Buffer, mode: FlushMode) -> FilterResult {
        match UpperLines::run(src, dst, mode) {
            Ok(true) => FilterResult::Ok,
            Ok(false) if src.is_empty() => FilterResult::Ok,
            Ok(false) => FilterResult::NeedMore,
            Err(e) => FilterResult::Error(e),
        }
    }
}

/// Echoes one connection through the filter until end of stream.
pub async fn serve_conn(conn: TcpStream) -> io::Result<()> {
    conn.set_nodelay(true)?;
    let mut s = BufferedStream::filtered(conn, Passthrough, UpperLines);
    loop {
        let n = s.fill().await?;
        if n == 0 && s.is_eof() {
            break;
        }
        // Echo: the input's chunks move to the output as they are.
        let (input, output) = s.buffers_mut();
        output.add_buffer(input)?;
        s.flush().await?;
    }
    // Finished: the filter passes on an unfinished last line too, then the
    // write half is shut down.
    s.finish().await
}

/// Accepts connections forever, one [`serve_conn`] task each.
pub async fn serve(listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((conn, _peer)) => {
                runtime::spawn(async move {
                    if let Err(e) = serve_conn(conn).await {
                        eprintln!("uppercase_filter: connection: {e}");
                    }
                });
            }
            Err(e) => eprintln!("uppercase_filter: accept: {e}"),
        }
    }
}

fn usage(msg: &str) -> ! {
    eprintln!("uppercase_filter: {msg}\nusage: uppercase_filter [--addr 127.0.0.1:40714]");
    std::process::exit(2)
}

#[runtime::main]
async fn main() -> io::Result<()> {
    let mut addr: SocketAddr = "127.0.0.1:40714".parse().expect("literal address");
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--addr" => {
                let v = it.next().unwrap_or_else(|| usage("--addr needs a value"));
                addr = v
                    .parse()
                    .unwrap_or_else(|_| usage(&format!("--addr: not an address: {v}")));
            }
            "-h" | "--help" => {
                println!("an echo server with an uppercase output filter\nusage: uppercase_filter [--addr 127.0.0.1:40714]\nCtrl-C or SIGTERM stops it.");
                return Ok(());
            }
            other => usage(&format!("unknown flag {other}")),
        }
    }
    let listener = TcpListener::bind(addr).await?;
    println!(
        "uppercase_filter: listening on {} pid={}",
        listener.local_addr()?,
        std::process::id()
    );
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let why = runtime::select! {
        _ = serve(listener) => "accept loop ended",
        _ = interrupt.recv() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
    };
    eprintln!("uppercase_filter: {why}: exiting");
    Ok(())
}
