//! One question to one nameserver over TCP (after a truncated UDP reply),
//! with the same checks as over UDP (see `socket_pool`): the query's id
//! and the same question (case included under 0x20); anything else is
//! ignored while the real reply is still awaited.

use crate::error::Error;
use crate::wire::{Message, Name, RecordType};
use runtime_net::TcpStream;
use std::net::{IpAddr, SocketAddr};

/// What a reply must match.
pub(crate) struct Expect<'a> {
    pub id: u16,
    pub name: &'a Name,
    pub qtype: RecordType,
    /// Compare the question name byte for byte (0x20).
    pub exact_case: bool,
}

impl Expect<'_> {
    fn matches(&self, m: &Message) -> bool {
        if !m.header.qr || m.header.id != self.id || m.questions.len() != 1 {
            return false;
        }
        let q = &m.questions[0];
        let same_name = if self.exact_case {
            q.name.eq_case_sensitive(self.name)
        } else {
            q.name == *self.name
        };
        same_name && q.qtype == self.qtype && q.qclass == crate::wire::CLASS_IN
    }
}

/// Asks over TCP (after a truncated UDP reply): a 2-byte length, then the
/// message, both ways.
/// With `bind`, the connection leaves from that address.
pub(crate) async fn tcp(
    server: SocketAddr,
    bind: Option<IpAddr>,
    query: &[u8],
    expect: &Expect<'_>,
) -> Result<Message, Error> {
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
        if buf.len() < 2 || u16::from_be_bytes([buf[0], buf[1]]) != expect.id {
            continue;
        }
        let m = Message::parse(&buf).map_err(Error::Malformed)?;
        if expect.matches(&m) {
            return Ok(m);
        }
    }
}
