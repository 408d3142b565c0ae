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
//! resolver's whole life (evdns's way) costs two (and evdns draws its ids
//! with two `getrandom` calls more), but leaves the source
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
//! # Who sends and who reads
//!
//! No task of its own runs a socket. Sending: a query is put in the
//! socket's outbox; the first one queued in a round of the executor
//! becomes the flusher and wakes its own task, which therefore runs again
//! after the tasks already woken in that round — typically those whose
//! answers just arrived, starting their next lookups — and sends the
//! whole outbox with one `sendmmsg` (at once when 32 are queued). With
//! many lookups in flight that is well under one system call per query,
//! and the nameserver is woken once per batch instead of once per query.
//!
//! Reading: the first waiting query to be polled becomes the socket's
//! reader. It receives every queued datagram with one `recvmmsg` (a short
//! batch also proves the queue empty, saving the `EAGAIN` call), hands
//! each to the query it answers and wakes that query's task. When the
//! reader's own answer arrives it hands the role over without waking
//! anyone: it reads what is queued on the next reader's behalf and leaves
//! that query's waker with the socket. A reader or flusher dropped
//! (timeout, cancellation) passes its role on and wakes the next.

use crate::error::Error;
use crate::expect::Expected;
use crate::id_hash::IdMap;
use crate::wire::Message;
use runtime_net::{RecvBatch, UdpSocket};
use runtime_reactor::Reactor;
use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// Datagrams one `recvmmsg` asks for.
const BATCH: usize = 32;

/// Datagrams one `sendmmsg` carries at most.
const SEND_BATCH: usize = 32;

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
    /// Queries waiting to be sent, in order.
    outbox: RefCell<Vec<u16>>,
    /// The id of the query whose task sends the outbox.
    flusher: Cell<Option<u16>>,
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
            outbox: RefCell::new(Vec::with_capacity(PENDING_CAPACITY)),
            flusher: Cell::new(None),
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

    /// Sends the outbox, as many datagrams per `sendmmsg` as are queued;
    /// `Pending` while the socket's buffer is full. A datagram the kernel
    /// refuses fails its own query.
    fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<()> {
        for _ in 0..MAX_BATCHES_PER_POLL {
            let sent = {
                let outbox = self.outbox.borrow();
                if outbox.is_empty() {
                    self.flusher.set(None);
                    return Poll::Ready(());
                }
                let pending = self.pending.borrow();
                let mut bufs = [IoSlice::new(&[]); SEND_BATCH];
                let n = outbox.len().min(SEND_BATCH);
                for (b, id) in bufs.iter_mut().zip(&outbox[..n]) {
                    // Dropped tickets leave the outbox at once, so every
                    // id here has its slot.
                    *b = IoSlice::new(pending.get(id).map_or(&[][..], |p| &p.query));
                }
                self.sock.poll_send_batch(cx, &bufs[..n])
            };
            match sent {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(n)) => {
                    self.outbox.borrow_mut().drain(..n);
                }
                // An ICMP error left by an earlier datagram is reported by
                // the next call: it says nothing of these.
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {}
                Poll::Ready(Err(e)) => {
                    let id = self.outbox.borrow_mut().remove(0);
                    let waker = self.pending.borrow_mut().get_mut(&id).and_then(|p| {
                        p.outcome = Some(Err(Error::Io(e)));
                        p.waker.take()
                    });
                    if let Some(w) = waker {
                        w.wake();
                    }
                }
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Takes `id` out of the outbox; if it was to send it, passes that on
    /// to the next query queued (waking its task).
    fn unqueue(&self, id: u16) {
        let next = {
            let mut outbox = self.outbox.borrow_mut();
            if let Some(i) = outbox.iter().position(|&q| q == id) {
                outbox.remove(i);
            }
            if self.flusher.get() != Some(id) {
                return;
            }
            outbox.first().copied()
        };
        self.flusher.set(next);
        let waker = next.and_then(|n| self.pending.borrow().get(&n)?.waker.clone());
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Passes the reader role from `me`, whose answer came, to another
    /// waiting query without waking its task: whatever is queued is read
    /// and handed out now, then that query's waker is left with the socket,
    /// so its task runs only when a datagram arrives (or its own answer
    /// was among those just read).
    fn hand_over(&self, me: u16, batch: &mut RecvBatch) {
        for _ in 0..MAX_BATCHES_PER_POLL {
            let next = self
                .pending
                .borrow()
                .iter()
                .find(|(id, p)| **id != me && p.outcome.is_none() && p.waker.is_some())
                .and_then(|(id, p)| Some((*id, p.waker.clone()?)));
            // With none, a query not yet waiting takes the role when it
            // first polls for its reply.
            let Some((id, waker)) = next else {
                self.reader.set(None);
                return;
            };
            self.reader.set(Some(id));
            let mut cx = Context::from_waker(&waker);
            match self.sock.poll_recv_batch(&mut cx, batch) {
                Poll::Pending => return,
                Poll::Ready(Ok(_)) => {
                    for d in batch.iter() {
                        self.dispatch(d);
                    }
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {}
                // Let the new reader meet the error in its own task.
                Poll::Ready(Err(_)) => {
                    waker.wake();
                    return;
                }
            }
        }
        // Still more to read: the new reader carries on in its own task.
        let id = self.reader.get();
        if let Some(w) = id.and_then(|id| self.pending.borrow().get(&id)?.waker.clone()) {
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
    /// Put in the socket's outbox yet.
    queued: Cell<bool>,
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
        Ok(Ticket {
            shared,
            id,
            queued: Cell::new(false),
        })
    }

    /// The query as sent (to ask again over TCP).
    pub(crate) fn query(&self) -> Vec<u8> {
        self.shared.pending.borrow()[&self.id].query.clone()
    }

    /// Sends the query and waits for the reply (the caller bounds the
    /// wait). The send is batched: the first query queued on a socket in a
    /// round of the executor sends every query queued in that round with
    /// one `sendmmsg` when its task runs again, after the others. `batch`
    /// is the resolver's receive buffer, used while this query is the
    /// reader.
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
        if !self.queued.get() {
            self.queued.set(true);
            let queued = {
                let mut outbox = sh.outbox.borrow_mut();
                outbox.push(self.id);
                outbox.len()
            };
            if sh.flusher.get().is_none() {
                sh.flusher.set(Some(self.id));
                // Back after the tasks already woken have queued theirs.
                cx.waker().wake_by_ref();
            } else if queued >= SEND_BATCH {
                // A full call's worth: send now rather than keep the
                // nameserver idle until the round ends.
                let _ = sh.poll_flush(cx);
            }
        } else if sh.flusher.get() == Some(self.id) {
            // Pending: the socket's buffer is full; its waker is kept.
            let _ = sh.poll_flush(cx);
        }
        for _ in 0..MAX_BATCHES_PER_POLL {
            {
                let mut pending = sh.pending.borrow_mut();
                let me = pending.get_mut(&self.id).expect("a ticket keeps its slot");
                if let Some(out) = me.outcome.take() {
                    drop(pending);
                    if sh.reader.get() == Some(self.id) {
                        match batch.try_borrow_mut() {
                            Ok(mut b) => {
                                let b = b.get_or_insert_with(|| RecvBatch::new(BATCH, size));
                                sh.hand_over(self.id, b);
                            }
                            Err(_) => sh.resign(self.id),
                        }
                    }
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
        self.shared.unqueue(self.id);
        self.shared.pending.borrow_mut().remove(&self.id);
        self.shared.resign(self.id);
    }
}
