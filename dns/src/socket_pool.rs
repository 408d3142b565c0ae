//! The resolver's UDP sockets: a small pool per nameserver of long-lived
//! sockets, each connected to the nameserver from a random source port
//! and shared by the queries in flight on it, replies demultiplexed by
//! id and question.
//!
//! # Why a pool, and how the spoofing defences hold
//!
//! A fresh socket per query (unbound's way) costs about eight system calls
//! a lookup (`socket`, `bind`, register, `sendto`, `recvfrom` and its
//! `EAGAIN`, deregister, `close`); one socket per nameserver for the
//! resolver's whole life (evdns's way) costs two, but leaves the source
//! port fixed, so an attacker who learns it once (by an ICMP side channel,
//! as in SAD DNS) has only the 16-bit id and the 0x20 bits left to guess.
//! The pool sits between: `ResolverConfig::udp_sockets` (2) sockets per
//! nameserver, queries spread over them in turn, and each socket replaced
//! by a new one on a new random port after `udp_socket_queries` (256)
//! queries or `udp_socket_lifetime` (10 s), whichever comes first (a
//! retired socket lives on until its last query ends), so a port an
//! attacker may have learnt serves a few hundred queries at most. Opening,
//! registering and closing a socket costs about as much as five lookups
//! on it, so replacing one every 64 queries added about 8 % to a lookup's
//! CPU time, every 256 about 2 % (BENCHMARKS.md). Setting
//! `udp_socket_queries` to 1 gives a fresh socket per query.
//!
//! Each socket is `connect`ed to the nameserver, so the kernel drops any
//! datagram from another address or port before it reaches us. What
//! arrives is matched to a waiting query by its id (unique among the
//! socket's queries in flight, drawn at random) and then must carry the
//! same question — name, type and class, the name's case byte for byte
//! under 0x20 — or it is ignored and the query keeps waiting.
//!
//! # Who reads
//!
//! No task of its own runs a socket: the first waiting query to be polled
//! becomes the socket's reader. It receives every queued datagram with one
//! `recvmmsg` (a short batch also proves the queue empty, saving the
//! `EAGAIN` call), hands each to the query it answers and wakes that
//! query's task. When the reader's own answer arrives, or it is dropped
//! (timeout, cancellation), it passes the role to another waiting query.

use crate::error::Error;
use crate::expect::Expected;
use crate::id_hash::IdMap;
use crate::wire::Message;
use runtime_net::{RecvBatch, UdpSocket};
use runtime_reactor::Reactor;
use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// Datagrams one `recvmmsg` asks for.
const BATCH: usize = 32;

/// Batches a reader takes in one poll before yielding (a flood of
/// datagrams cannot hold the thread; the query's timeout still bounds it).
const MAX_BATCHES_PER_POLL: usize = 16;

/// Queries in flight a fresh socket's table holds before it grows (a
/// socket lives for a few hundred queries, so growing would be paid
/// often).
const PENDING_CAPACITY: usize = 32;

/// How the pool makes and retires sockets.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PoolConfig {
    pub sockets: usize,
    pub max_queries: u32,
    pub lifetime: Duration,
    pub bind: Option<IpAddr>,
    /// Bytes a reply may have (the EDNS0 size, or 512).
    pub recv_size: usize,
}

/// The sockets for one nameserver.
pub(crate) struct SocketPool {
    server: SocketAddr,
    slots: RefCell<Vec<Option<Rc<Shared>>>>,
    next: Cell<usize>,
}

impl SocketPool {
    pub(crate) fn new(server: SocketAddr) -> SocketPool {
        SocketPool {
            server,
            slots: RefCell::new(Vec::new()),
            next: Cell::new(crate::random::u16() as usize),
        }
    }

    /// The socket for the next query: the pool's sockets in turn, each
    /// replaced when it has carried its share of queries, grown too old,
    /// or belongs to a reactor no longer running (a resolver kept from one
    /// `block_on` to the next).
    fn pick(&self, cfg: &PoolConfig) -> Result<Rc<Shared>, Error> {
        let size = cfg.sockets.max(1);
        let mut slots = self.slots.borrow_mut();
        if slots.len() != size {
            slots.resize(size, None);
        }
        let i = self.next.get() % size;
        self.next.set(i.wrapping_add(1));
        let usable = slots[i].as_ref().is_some_and(|s| {
            s.used.get() < cfg.max_queries.max(1)
                && s.reactor.now().saturating_duration_since(s.born) < cfg.lifetime
                && s.reactor.is_current()
        });
        if !usable {
            slots[i] = Some(Rc::new(Shared::open(self.server, cfg.bind)?));
        }
        let s = slots[i].clone().expect("slot filled above");
        s.used.set(s.used.get() + 1);
        Ok(s)
    }
}

/// One socket and the queries waiting on it.
struct Shared {
    sock: UdpSocket,
    reactor: Reactor,
    born: Instant,
    used: Cell<u32>,
    pending: RefCell<IdMap<u16, Pending>>,
    /// The id of the query whose task reads the socket.
    reader: Cell<Option<u16>>,
}

/// A query waiting for its reply.
struct Pending {
    /// The query as sent (empty while a send has it).
    query: Vec<u8>,
    question_end: usize,
    exact_case: bool,
    waker: Option<Waker>,
    outcome: Option<Result<Message, Error>>,
}

impl Shared {
    fn open(server: SocketAddr, bind: Option<IpAddr>) -> Result<Shared, Error> {
        let reactor = Reactor::current()
            .ok_or_else(|| io::Error::other("a DNS query needs a running runtime"))?;
        // Without a bind address, `connect` picks the source address and a
        // random ephemeral port itself.
        let local = bind.map(|ip| SocketAddr::new(ip, 0));
        let sock = UdpSocket::connected_to(server, local)?;
        Ok(Shared {
            sock,
            born: reactor.now(),
            reactor,
            used: Cell::new(0),
            pending: RefCell::new(IdMap::with_capacity_and_hasher(
                PENDING_CAPACITY,
                Default::default(),
            )),
            reader: Cell::new(None),
        })
    }

    /// Hands one received datagram to the query it answers, if any.
    fn dispatch(&self, datagram: &[u8]) {
        if datagram.len() < 2 {
            return;
        }
        let id = u16::from_be_bytes([datagram[0], datagram[1]]);
        let waker = {
            let mut pending = self.pending.borrow_mut();
            let Some(p) = pending.get_mut(&id) else {
                return;
            };
            if p.outcome.is_some() {
                return;
            }
            if p.query.len() < p.question_end {
                return; // not sent yet: nothing can answer it
            }
            let expect = Expected::from_parts(&p.query, p.question_end, p.exact_case);
            match expect.check(datagram) {
                Some(verdict) => p.outcome = Some(verdict),
                None => return,
            }
            p.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Gives up the reader role held by `id` and wakes another waiting
    /// query to take it.
    fn resign(&self, id: u16) {
        if self.reader.get() != Some(id) {
            return;
        }
        self.reader.set(None);
        let next = self
            .pending
            .borrow_mut()
            .values_mut()
            .find(|p| p.outcome.is_none() && p.waker.is_some())
            .and_then(|p| p.waker.clone());
        if let Some(w) = next {
            w.wake();
        }
    }
}

/// One query on a pooled socket: its slot in the socket's table, removed
/// on drop (a timed-out or cancelled query leaves nothing behind).
pub(crate) struct Ticket {
    shared: Rc<Shared>,
    id: u16,
}

impl Ticket {
    /// Takes a socket from `pool` and a random id free on it for `query`
    /// (a message with one uncompressed question, as
    /// [`Message::query_bytes`] writes; its id is set here); `exact_case`
    /// asks the reply to echo the name's case (0x20).
    pub(crate) fn new(
        pool: &SocketPool,
        cfg: &PoolConfig,
        mut query: Vec<u8>,
        exact_case: bool,
    ) -> Result<Ticket, Error> {
        let question_end = Expected::new(&query, exact_case)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a DNS query"))?
            .question_end();
        let shared = pool.pick(cfg)?;
        let id = {
            let mut pending = shared.pending.borrow_mut();
            let mut id = crate::random::u16();
            while pending.contains_key(&id) {
                id = crate::random::u16();
            }
            query[..2].copy_from_slice(&id.to_be_bytes());
            pending.insert(
                id,
                Pending {
                    query,
                    question_end,
                    exact_case,
                    waker: None,
                    outcome: None,
                },
            );
            id
        };
        Ok(Ticket { shared, id })
    }

    /// The query as sent (to ask again over TCP).
    pub(crate) fn query(&self) -> Vec<u8> {
        self.shared.pending.borrow()[&self.id].query.clone()
    }

    /// Sends the query.
    pub(crate) async fn send(&self) -> Result<(), Error> {
        // The slot lends its bytes for the send (no copy); nothing can
        // answer before they are sent, and they are back before any reply
        // is read.
        let query = std::mem::take(&mut self.slot().query);
        let sent = self.send_bytes(&query).await;
        self.slot().query = query;
        sent
    }

    async fn send_bytes(&self, query: &[u8]) -> Result<(), Error> {
        match self.shared.sock.send(query).await {
            Ok(_) => Ok(()),
            // An ICMP error left by an earlier datagram on this socket is
            // reported by the next call: it says nothing of this one.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                self.shared.sock.send(query).await?;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    fn slot(&self) -> std::cell::RefMut<'_, Pending> {
        std::cell::RefMut::map(self.shared.pending.borrow_mut(), |p| {
            p.get_mut(&self.id).expect("a ticket keeps its slot")
        })
    }

    /// Waits for the reply (the caller bounds the wait). `batch` is the
    /// resolver's receive buffer, used while this query is the reader.
    pub(crate) async fn reply(
        &self,
        batch: &RefCell<Option<RecvBatch>>,
        size: usize,
    ) -> Result<Message, Error> {
        poll_fn(|cx| self.poll_reply(cx, batch, size)).await
    }

    fn poll_reply(
        &self,
        cx: &mut Context<'_>,
        batch: &RefCell<Option<RecvBatch>>,
        size: usize,
    ) -> Poll<Result<Message, Error>> {
        let sh = &*self.shared;
        for _ in 0..MAX_BATCHES_PER_POLL {
            {
                let mut pending = sh.pending.borrow_mut();
                let me = pending.get_mut(&self.id).expect("a ticket keeps its slot");
                if let Some(out) = me.outcome.take() {
                    drop(pending);
                    sh.resign(self.id);
                    return Poll::Ready(out);
                }
                match sh.reader.get() {
                    Some(r) if r != self.id => {
                        match &mut me.waker {
                            Some(w) => w.clone_from(cx.waker()),
                            None => me.waker = Some(cx.waker().clone()),
                        }
                        return Poll::Pending;
                    }
                    _ => {
                        // Keep a waker too, in case the role passes on.
                        if me.waker.is_none() {
                            me.waker = Some(cx.waker().clone());
                        }
                        sh.reader.set(Some(self.id));
                    }
                }
            }
            let Ok(mut batch) = batch.try_borrow_mut() else {
                // Another reader of this resolver is mid-dispatch (only a
                // waker that polls synchronously could cause this).
                cx.waker().wake_by_ref();
                return Poll::Pending;
            };
            let batch = batch.get_or_insert_with(|| RecvBatch::new(BATCH, size));
            match sh.sock.poll_recv_batch(cx, batch) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(_)) => {
                    for d in batch.iter() {
                        sh.dispatch(d);
                    }
                }
                // An ICMP error for an earlier datagram: keep reading.
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.shared.pending.borrow_mut().remove(&self.id);
        self.shared.resign(self.id);
    }
}
