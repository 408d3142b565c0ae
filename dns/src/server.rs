//! [`DnsServer`]: DNS server ports (libevent's `evdns_add_server_port`)
//! on UDP and TCP, answering through an async handler.

use crate::wire::{Message, Opcode, Rcode, Record};
use runtime_net::{ListenOptions, RecvBatch, TcpListener, TcpStream, UdpSocket};
use runtime_reactor::time::timeout;
use std::cell::Cell;
use std::future::{poll_fn, Future};
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

/// Largest UDP answer without EDNS0 (RFC 1035).
pub const UDP_LIMIT: usize = 512;
/// Largest UDP answer whatever the client's EDNS0 size says.
const EDNS_CAP: usize = 4096;
/// How long a TCP connection may sit idle (or trickle one message) before
/// it is closed.
pub const TCP_IDLE: Duration = Duration::from_secs(10);

/// How a request arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// A UDP datagram.
    Udp,
    /// A TCP connection.
    Tcp,
}

/// A query handed to the handler: the parsed message, who sent it, how.
#[derive(Clone, Debug)]
pub struct Request {
    /// The query (exactly one question, opcode QUERY).
    pub message: Message,
    /// The client.
    pub peer: SocketAddr,
    /// UDP or TCP.
    pub transport: Transport,
}

impl Request {
    /// The question.
    pub fn question(&self) -> &crate::wire::Question {
        &self.message.questions[0]
    }

    /// An authoritative response with `rcode` and no records.
    pub fn response(&self, rcode: Rcode) -> Message {
        let mut m = Message::response_to(&self.message, rcode);
        m.header.aa = true;
        m
    }

    /// An authoritative NOERROR response carrying `answers`.
    pub fn answer(&self, answers: Vec<Record>) -> Message {
        let mut m = self.response(Rcode::NOERROR);
        m.answers = answers;
        m
    }
}

/// Counters of a running server.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Queries answered.
    pub answered: Cell<u64>,
    /// UDP answers sent truncated (TC).
    pub truncated: Cell<u64>,
    /// Malformed queries (answered FORMERR, or dropped if unreadable).
    pub malformed: Cell<u64>,
}

/// A DNS server port: a UDP socket and a TCP listener on the same address,
/// each query handed to an async handler.
///
/// UDP answers over 512 bytes (or the client's EDNS0 size, at most 4096)
/// go out truncated with TC set; the client asks again over TCP, where
/// each connection is its own task (an idle or slow client blocks nobody
/// and is closed after [`TCP_IDLE`]). Malformed queries get FORMERR when
/// their header is readable and are dropped otherwise; responses and
/// non-QUERY opcodes are not answered (NOTIMP for other opcodes).
///
/// ```no_run
/// use runtime::dns::wire::{RData, Record};
/// use runtime::dns::DnsServer;
/// # runtime::block_on(async {
/// let server = DnsServer::bind("127.0.0.1:5353".parse().unwrap()).await?;
/// server
///     .serve(|req| async move {
///         let name = req.question().name.clone();
///         req.answer(vec![Record::new(name, 60, RData::A([127, 0, 0, 1].into()))])
///     })
///     .await
/// # }).unwrap();
/// ```
pub struct DnsServer {
    udp: Option<UdpSocket>,
    tcp: Option<TcpListener>,
    stats: Rc<ServerStats>,
}

impl DnsServer {
    /// UDP and TCP on `addr` (port 0: one free port for both).
    pub async fn bind(addr: SocketAddr) -> io::Result<DnsServer> {
        DnsServer::bind_with(addr, false).await
    }

    /// Like [`bind`](Self::bind), with `SO_REUSEPORT` when `reuse_port`
    /// (one server per thread on the same port).
    pub async fn bind_with(addr: SocketAddr, reuse_port: bool) -> io::Result<DnsServer> {
        let opts = ListenOptions::new().reuse_port(reuse_port);
        // With port 0 the TCP port is chosen first; UDP takes the same
        // number (retried a few times if it is taken for UDP).
        for _ in 0..16 {
            let tcp = TcpListener::bind_with(addr, opts.clone()).await?;
            let local = tcp.local_addr()?;
            match UdpSocket::bind_with(local, &opts) {
                Ok(udp) => return Ok(DnsServer::from_sockets(Some(udp), Some(tcp))),
                Err(e) if addr.port() == 0 && e.kind() == io::ErrorKind::AddrInUse => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "no port free for both UDP and TCP",
        ))
    }

    /// A server on sockets made elsewhere (either may be absent).
    pub fn from_sockets(udp: Option<UdpSocket>, tcp: Option<TcpListener>) -> DnsServer {
        DnsServer {
            udp,
            tcp,
            stats: Rc::new(ServerStats::default()),
        }
    }

    /// The address served (the UDP socket's, else the listener's).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match (&self.udp, &self.tcp) {
            (Some(u), _) => u.local_addr(),
            (None, Some(t)) => t.local_addr(),
            (None, None) => Err(io::Error::new(io::ErrorKind::NotConnected, "no socket")),
        }
    }

    /// The server's counters (shared with the running server).
    pub fn stats(&self) -> Rc<ServerStats> {
        self.stats.clone()
    }

    /// Serves until an unrecoverable socket error. `handler` gets each
    /// query and returns the response (its id, question and EDNS0 are the
    /// caller's: start from [`Request::response`] or [`Request::answer`]).
    pub async fn serve<H, F>(self, handler: H) -> io::Result<()>
    where
        H: Fn(Request) -> F + 'static,
        F: Future<Output = Message> + 'static,
    {
        let handler = Rc::new(handler);
        let tcp_task = self.tcp.map(|l| {
            let handler = handler.clone();
            let stats = self.stats.clone();
            runtime_executor::spawn(accept_loop(l, handler, stats))
        });
        let result = match self.udp {
            Some(u) => udp_loop(Rc::new(u), handler, self.stats).await,
            None => match tcp_task {
                Some(t) => {
                    return t
                        .await
                        .unwrap_or_else(|e| Err(io::Error::other(e.to_string())))
                }
                None => Ok(()),
            },
        };
        if let Some(t) = tcp_task {
            t.abort();
        }
        result
    }
}

/// What to do with the bytes of one query.
enum Decoded {
    Query(Message),
    /// Answer this right away (FORMERR, NOTIMP).
    Reply(Vec<u8>),
    Drop,
}

fn decode(bytes: &[u8], stats: &ServerStats) -> Decoded {
    match Message::parse(bytes) {
        Ok(m) if m.header.qr => Decoded::Drop,
        Ok(m) if m.header.opcode != Opcode::QUERY => {
            let mut r = Message::response_to(&m, Rcode::NOTIMP);
            r.questions.clear();
            Decoded::Reply(r.to_bytes())
        }
        Ok(m) if m.questions.len() != 1 => {
            stats.malformed.set(stats.malformed.get() + 1);
            let mut r = Message::response_to(&m, Rcode::FORMERR);
            r.questions.clear();
            Decoded::Reply(r.to_bytes())
        }
        Ok(m) => Decoded::Query(m),
        Err(_) => {
            stats.malformed.set(stats.malformed.get() + 1);
            // A readable header from a client (QR clear) gets FORMERR.
            if bytes.len() >= 12 && bytes[2] & 0x80 == 0 {
                let mut r = vec![bytes[0], bytes[1], 0x80 | (bytes[2] & 0x79), 0x01];
                r.extend_from_slice(&[0; 8]);
                Decoded::Reply(r)
            } else {
                Decoded::Drop
            }
        }
    }
}

/// The UDP size limit for answering `query`.
fn udp_limit(query: &Message) -> usize {
    match &query.edns {
        Some(e) => (e.udp_size as usize).clamp(UDP_LIMIT, EDNS_CAP),
        None => UDP_LIMIT,
    }
}

/// Datagrams received (and answers sent) per system call at most.
const UDP_BATCH: usize = 32;
/// Room for one query: far above any real one (a longer datagram is cut,
/// fails to parse and gets FORMERR).
const QUERY_ROOM: usize = 4096;

async fn udp_loop<H, F>(
    sock: Rc<UdpSocket>,
    handler: Rc<H>,
    stats: Rc<ServerStats>,
) -> io::Result<()>
where
    H: Fn(Request) -> F + 'static,
    F: Future<Output = Message> + 'static,
{
    let mut batch = RecvBatch::new(UDP_BATCH, QUERY_ROOM);
    // Answers ready at once, sent together after each batch.
    let mut out: Vec<Vec<u8>> = Vec::with_capacity(UDP_BATCH);
    let mut to: Vec<SocketAddr> = Vec::with_capacity(UDP_BATCH);
    loop {
        match sock.recv_batch(&mut batch).await {
            Ok(_) => {}
            // ICMP errors for earlier answers, or a signal: go on.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionRefused
                        | io::ErrorKind::Interrupted
                        | io::ErrorKind::ConnectionReset
                ) =>
            {
                continue
            }
            Err(e) => return Err(e),
        }
        for i in 0..batch.len() {
            let Ok(peer) = batch.source(i) else { continue };
            let query = match decode(batch.datagram(i), &stats) {
                Decoded::Query(q) => q,
                Decoded::Reply(bytes) => {
                    out.push(bytes);
                    to.push(peer);
                    continue;
                }
                Decoded::Drop => continue,
            };
            let limit = udp_limit(&query);
            let request = Request {
                message: query,
                peer,
                transport: Transport::Udp,
            };
            // Poll the handler once here: a handler that answers at once
            // costs no task; one that waits continues in its own task, so
            // it blocks no other query.
            let mut fut: Pin<Box<F>> = Box::pin(handler(request));
            let first = poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await;
            match first {
                Poll::Ready(resp) => {
                    out.push(encode_udp(&resp, limit, &stats));
                    to.push(peer);
                }
                Poll::Pending => {
                    let sock = sock.clone();
                    let stats = stats.clone();
                    runtime_executor::spawn(async move {
                        let resp = fut.await;
                        let bytes = encode_udp(&resp, limit, &stats);
                        // A full socket buffer or a vanished client loses
                        // this answer only.
                        let _ = sock.send_to(&bytes, peer).await;
                    });
                }
            }
        }
        send_all(&sock, &out, &to).await;
        out.clear();
        to.clear();
    }
}

/// Sends `out[i]` to `to[i]`, as many per `sendmmsg` as fit; an answer the
/// kernel refuses (a vanished client, a full buffer) is lost alone.
async fn send_all(sock: &UdpSocket, out: &[Vec<u8>], to: &[SocketAddr]) {
    let mut done = 0;
    while done < out.len() {
        let bufs: Vec<IoSlice<'_>> = out[done..].iter().map(|b| IoSlice::new(b)).collect();
        match sock.send_batch_to(&bufs, &to[done..]).await {
            Ok(0) | Err(_) => done += 1,
            Ok(n) => done += n,
        }
    }
}

/// The bytes of `resp` for UDP within `limit` (TC set if cut), counted.
fn encode_udp(resp: &Message, limit: usize, stats: &ServerStats) -> Vec<u8> {
    let (bytes, truncated) = resp.to_bytes_limited(limit);
    if truncated {
        stats.truncated.set(stats.truncated.get() + 1);
    }
    stats.answered.set(stats.answered.get() + 1);
    bytes
}

async fn accept_loop<H, F>(
    listener: TcpListener,
    handler: Rc<H>,
    stats: Rc<ServerStats>,
) -> io::Result<()>
where
    H: Fn(Request) -> F + 'static,
    F: Future<Output = Message> + 'static,
{
    loop {
        match listener.accept().await {
            Ok((conn, peer)) => {
                let handler = handler.clone();
                let stats = stats.clone();
                runtime_executor::spawn(async move {
                    let _ = tcp_conn(conn, peer, handler, stats).await;
                });
            }
            // The listener backs off by itself when descriptors run out.
            Err(_) => continue,
        }
    }
}

async fn tcp_conn<H, F>(
    mut conn: TcpStream,
    peer: SocketAddr,
    handler: Rc<H>,
    stats: Rc<ServerStats>,
) -> io::Result<()>
where
    H: Fn(Request) -> F + 'static,
    F: Future<Output = Message> + 'static,
{
    let mut buf = Vec::new();
    loop {
        let mut len = [0u8; 2];
        // The whole message must arrive within TCP_IDLE: a client that
        // stalls mid-message or stays idle is closed.
        let read = async {
            conn.read_exact(&mut len).await?;
            buf.resize(u16::from_be_bytes(len) as usize, 0);
            conn.read_exact(&mut buf).await
        };
        match timeout(TCP_IDLE, read).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Ok(Err(e)) => return Err(e),
            Err(_) => return Ok(()),
        }
        let out = match decode(&buf, &stats) {
            Decoded::Query(q) => {
                let resp = handler(Request {
                    message: q,
                    peer,
                    transport: Transport::Tcp,
                })
                .await;
                stats.answered.set(stats.answered.get() + 1);
                resp.to_bytes_limited(65535).0
            }
            Decoded::Reply(b) => b,
            Decoded::Drop => return Ok(()),
        };
        let mut framed = Vec::with_capacity(out.len() + 2);
        framed.extend_from_slice(&(out.len() as u16).to_be_bytes());
        framed.extend_from_slice(&out);
        match timeout(TCP_IDLE, conn.write_all(&framed)).await {
            Ok(r) => r?,
            Err(_) => return Ok(()),
        }
    }
}
