//! The seed's ROT13 server on tokio, the idiomatic way: a current-thread
//! runtime (one thread, like libevent's loop and the runtime's example),
//! one task per connection, a `BufReader` reading lines and a `BufWriter`
//! flushed once the lines already read are answered — the same batching as
//! a bufferevent (all complete lines of a read go out with one write).
//!
//! A line longer than `MAX_LINE` (16384) goes out in pieces, each ended by
//! a newline, and an unfinished last line is dropped at end of stream — the
//! seed's rules.
//!
//! Usage: tokio_rot13 [--addr 127.0.0.1:40713] (stopped by a signal)
//! Prints: "tokio_rot13: listening on ADDR pid=N".

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};

const MAX_LINE: usize = 16384;

fn rot13_char(c: u8) -> u8 {
    match c {
        b'a'..=b'm' | b'A'..=b'M' => c + 13,
        b'n'..=b'z' | b'N'..=b'Z' => c - 13,
        _ => c,
    }
}

async fn rot13_conn(conn: TcpStream) -> io::Result<()> {
    let (r, w) = conn.into_split();
    let mut reader = BufReader::with_capacity(MAX_LINE, r);
    let mut writer = BufWriter::with_capacity(MAX_LINE, w);
    let mut line = Vec::with_capacity(256);
    loop {
        line.clear();
        let n = (&mut reader)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            break;
        }
        let complete = line.last() == Some(&b'\n');
        if !complete && line.len() < MAX_LINE {
            // End of stream in the middle of a line: dropped.
            break;
        }
        for c in line.iter_mut() {
            *c = rot13_char(*c);
        }
        writer.write_all(&line).await?;
        if !complete {
            writer.write_all(b"\n").await?;
        }
        if reader.buffer().is_empty() {
            writer.flush().await?;
        }
    }
    writer.flush().await?;
    Ok(())
}

fn usage(msg: &str) -> ! {
    eprintln!("tokio_rot13: {msg}\nusage: tokio_rot13 [--addr 127.0.0.1:40713]");
    std::process::exit(2)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> io::Result<()> {
    let mut addr: SocketAddr = "127.0.0.1:40713".parse().expect("literal address");
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--addr" => {
                let v = it.next().unwrap_or_else(|| usage("--addr needs a value"));
                addr = v
                    .parse()
                    .unwrap_or_else(|_| usage(&format!("--addr: not an address: {v}")));
            }
            "-h" | "--help" => usage("the ROT13 server on tokio"),
            other => usage(&format!("unknown flag {other}")),
        }
    }
    let listener = TcpListener::bind(addr).await?;
    println!(
        "tokio_rot13: listening on {} pid={}",
        listener.local_addr()?,
        std::process::id()
    );
    loop {
        match listener.accept().await {
            Ok((conn, _)) => {
                tokio::spawn(async move {
                    if let Err(e) = rot13_conn(conn).await {
                        if e.kind() != io::ErrorKind::ConnectionReset {
                            eprintln!("tokio_rot13: connection: {e}");
                        }
                    }
                });
            }
            Err(e) => eprintln!("tokio_rot13: accept: {e}"),
        }
    }
}
