//! One question to one nameserver over TCP (after a truncated UDP reply),
//! with the same checks as over UDP (see `expect`): the query's id and the
//! same question (case included under 0x20); anything else is ignored
//! while the real reply is still awaited.

use crate::error::Error;
use crate::expect::Expected;
use crate::wire::Message;
use runtime_net::TcpStream;
use std::net::{IpAddr, SocketAddr};

/// Asks over TCP (after a truncated UDP reply): a 2-byte length, then the
/// message, both ways. With `bind`, the connection leaves from that
/// address.
pub(crate) async fn tcp(
    server: SocketAddr,
    bind: Option<IpAddr>,
    expect: &Expected<'_>,
) -> Result<Message, Error> {
    let query = expect.query();
    let mut conn = match bind {
        Some(ip) => TcpStream::connect_from(SocketAddr::new(ip, 0), server).await?,
        None => TcpStream::connect(server).await?,
    };
    let mut out = Vec::with_capacity(query.len() + 2);
    out.extend_from_slice(&(query.len() as u16).to_be_bytes());
    out.extend_from_slice(query);
    conn.write_all(&out).await?;
    let mut buf = Vec::new();
    loop {
        let mut len = [0u8; 2];
        conn.read_exact(&mut len).await?;
        buf.resize(u16::from_be_bytes(len) as usize, 0);
        conn.read_exact(&mut buf).await?;
        if buf.len() < 2 || u16::from_be_bytes([buf[0], buf[1]]) != expect.id() {
            continue;
        }
        if let Some(verdict) = expect.check(&buf) {
            return verdict;
        }
    }
}
