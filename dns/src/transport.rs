//! One question to one nameserver, over UDP or TCP, with the spoofing
//! checks: a reply counts only from the queried address and port, with
//! the query's id and the same question (case included under 0x20);
//! anything else is ignored while the real reply is still awaited.

use crate::error::Error;
use crate::wire::{Message, Name, RecordType};
use runtime_net::{TcpStream, UdpSocket};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

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

/// Datagrams read while waiting for one reply, at most (a flood of
/// spoofed datagrams cannot keep a request alive past its timeout anyway;
/// this only bounds the work).
const MAX_IGNORED: usize = 10_000;

/// Sends `query` from a fresh socket on a random port and waits for the
/// matching reply (the caller bounds the wait).
pub(crate) async fn udp(
    server: SocketAddr,
    bind: Option<IpAddr>,
    query: &[u8],
    expect: &Expect<'_>,
    recv_size: usize,
) -> Result<Message, Error> {
    let local = match (bind, server) {
        (Some(ip), _) => SocketAddr::new(ip, 0),
        (None, SocketAddr::V4(_)) => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        (None, SocketAddr::V6(_)) => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
    };
    let sock = UdpSocket::bind(local).await?;
    sock.send_to(query, server).await?;
    let mut buf = vec![0u8; recv_size.max(512)];
    for _ in 0..MAX_IGNORED {
        let (n, from) = match sock.recv_from(&mut buf).await {
            Ok(x) => x,
            // An ICMP error for an earlier datagram: keep waiting.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
            Err(e) => return Err(e.into()),
        };
        if from != server || n < 2 || u16::from_be_bytes([buf[0], buf[1]]) != expect.id {
            continue;
        }
        let m = Message::parse(&buf[..n]).map_err(Error::Malformed)?;
        if expect.matches(&m) {
            return Ok(m);
        }
    }
    Err(Error::Timeout)
}

/// Asks over TCP (after a truncated UDP reply): a 2-byte length, then the
/// message, both ways.
pub(crate) async fn tcp(
    server: SocketAddr,
    query: &[u8],
    expect: &Expect<'_>,
) -> Result<Message, Error> {
    let mut conn = TcpStream::connect(server).await?;
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
