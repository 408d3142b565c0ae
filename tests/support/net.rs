//! Small async helpers shared by the network tests (`#[path =
//! "support/net.rs"] mod net;`). Not every test file uses every helper.

#![allow(dead_code)]

use runtime::net::{TcpListener, TcpStream};
use runtime::time::timeout;
use std::future::Future;
use std::io;
use std::time::Duration;

/// How long [`bounded`] lets a test run.
pub const LIMIT: Duration = Duration::from_secs(20);

/// Runs `f`, failing the test if it takes longer than [`LIMIT`].
pub async fn bounded<F: Future>(f: F) -> F::Output {
    bounded_for(LIMIT, f).await
}

/// Runs `f`, failing the test if it takes longer than `limit`.
pub async fn bounded_for<F: Future>(limit: Duration, f: F) -> F::Output {
    timeout(limit, f).await.expect("test ran out of time")
}

/// A connected `(client, server)` pair over 127.0.0.1, with default
/// socket options. Checks that the peer address the listener reports is
/// the client's local address.
pub async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, peer) = listener.accept().await.unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    (client, server)
}

/// [`tcp_pair`] with `TCP_NODELAY` set on both ends.
pub async fn tcp_pair_nodelay() -> (TcpStream, TcpStream) {
    let (client, server) = tcp_pair().await;
    client.set_nodelay(true).unwrap();
    server.set_nodelay(true).unwrap();
    (client, server)
}

/// Reads `s` until end of stream, in reads of up to 64 KiB.
pub async fn read_to_end(s: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match s.read(&mut buf).await? {
            0 => return Ok(out),
            n => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// `len` deterministic test bytes (period 256), shifted by `seed` so that
/// different seeds give different data.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}
