//! A tokio TCP echo server, the peer of the root crate's `examples/echo.rs`
//! in `benches/echo_compare.sh`: the same shape (a task per connection, a
//! 16 KiB buffer allocated when the connection first has data, read then
//! `write_all`, `TCP_NODELAY`, backlog 4096).
//!
//! Usage: tokio_echo [--addr 127.0.0.1:7878] [--flavor current|multi] [--threads N]
//! Prints `tokio_echo: listening on ADDR flavor=F threads=N pid=PID`; stop
//! it with a signal.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const BUF_SIZE: usize = 16 * 1024;

async fn echo_conn(mut conn: TcpStream) {
    // Wait for the first bytes before allocating the buffer (a 1-byte
    // peek: tokio's `readable()` reports a fresh socket ready at once).
    let mut probe = [0u8; 1];
    match conn.peek(&mut probe).await {
        Ok(1..) => {}
        Ok(0) | Err(_) => return,
    }
    let mut buf = vec![0u8; BUF_SIZE];
    loop {
        let n = match conn.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if conn.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
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
        "tokio_echo: listening on {} flavor={flavor} threads={threads} pid={}",
        listener.local_addr()?,
        std::process::id()
    );
    loop {
        match listener.accept().await {
            Ok((conn, _)) => {
                let _ = conn.set_nodelay(true);
                tokio::spawn(echo_conn(conn));
            }
            Err(e) => {
                eprintln!("tokio_echo: accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

fn usage(msg: &str) -> ! {
    eprintln!("tokio_echo: {msg}\nusage: tokio_echo [--addr 127.0.0.1:7878] [--flavor current|multi] [--threads N]");
    std::process::exit(2)
}

fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills a live rlimit struct; setrlimit reads it.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

fn main() -> io::Result<()> {
    let mut addr: SocketAddr = "127.0.0.1:7878".parse().expect("literal");
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
    raise_fd_limit();
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
