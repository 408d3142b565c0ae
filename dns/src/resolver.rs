//! [`Resolver`]: evdns as futures.

use crate::answer::{Answer, Entry};
use crate::cache::{Cache, Negative};
use crate::config::ResolverConfig;
use crate::error::Error;
use crate::expect::Expected;
use crate::limit::{Limiter, Shutdown};
use crate::random;
use crate::reverse::reverse_name;
use crate::socket_pool::{PoolConfig, SocketPool, Ticket};
use crate::transport;
use crate::wire::{randomize_case_in_place, Message, Name, RData, Rcode, RecordType};
use runtime_net::RecvBatch;
use runtime_reactor::time::{sleep, timeout};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The longest CNAME chain followed inside one reply.
const MAX_CNAME_HOPS: usize = 16;

/// An asynchronous stub resolver (libevent's `evdns_base`): nameservers
/// with failover, the search list, a cap on requests in flight, 0x20,
/// TCP fallback and a cache.
///
/// It belongs to the thread that made it (its sockets are registered with
/// that thread's reactor); cloning gives another handle to the same
/// resolver. Each thread has a default one, built lazily from the system
/// configuration: see [`thread_resolver`](crate::thread_resolver).
///
/// ```no_run
/// use runtime::dns::{Resolver, ResolverConfig, wire::RecordType};
/// # runtime::block_on(async {
/// let cfg = ResolverConfig::new().with_nameserver("127.0.0.1:5353".parse().unwrap());
/// let r = Resolver::new(cfg);
/// for e in r.resolve_ipv4("host.test").await? {
///     println!("{} ttl {}", e.value, e.ttl);
/// }
/// let mx = r.query("test", RecordType::MX).await?;
/// # Ok::<_, runtime::dns::Error>(()) });
/// ```
#[derive(Clone)]
pub struct Resolver {
    inner: Rc<Inner>,
}

struct Inner {
    config: ResolverConfig,
    servers: Vec<Server>,
    next_server: Cell<usize>,
    limiter: Limiter,
    cache: RefCell<Cache>,
    shutdown: Shutdown,
    pool_config: PoolConfig,
    /// The receive buffers of whichever query is reading a socket now
    /// (one at a time on this thread), made on first use.
    recv_batch: RefCell<Option<RecvBatch>>,
}

/// A nameserver: its sockets and its health, as evdns tracks it.
struct Server {
    addr: SocketAddr,
    pool: SocketPool,
    timeouts: Cell<u32>,
    down: Cell<bool>,
    probing: Cell<bool>,
    probes: Cell<u32>,
}

/// A nameserver's state, as [`Resolver::nameservers`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameserverStatus {
    /// Its address.
    pub addr: SocketAddr,
    /// Marked down after too many timeouts (being probed).
    pub down: bool,
    /// Consecutive timeouts.
    pub timeouts: u32,
    /// Probes sent since it was marked down.
    pub probes: u32,
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolver")
            .field("nameservers", &self.inner.config.nameservers)
            .field("search", &self.inner.config.search)
            .finish_non_exhaustive()
    }
}

impl Resolver {
    /// A resolver for `config`.
    pub fn new(config: ResolverConfig) -> Resolver {
        let servers = config
            .nameservers
            .iter()
            .map(|&addr| Server {
                addr,
                pool: SocketPool::new(addr),
                timeouts: Cell::new(0),
                down: Cell::new(false),
                probing: Cell::new(false),
                probes: Cell::new(0),
            })
            .collect();
        Resolver {
            inner: Rc::new(Inner {
                limiter: Limiter::new(config.max_inflight),
                cache: RefCell::new(Cache::new(config.cache_size)),
                servers,
                next_server: Cell::new(0),
                shutdown: Shutdown::new(),
                pool_config: PoolConfig {
                    sockets: config.udp_sockets,
                    max_queries: config.udp_socket_queries,
                    lifetime: config.udp_socket_lifetime,
                    bind: config.bind_address,
                    recv_size: if config.edns0 {
                        (config.udp_size as usize).max(512)
                    } else {
                        512
                    },
                },
                recv_batch: RefCell::new(None),
                config,
            }),
        }
    }

    /// A resolver from `/etc/resolv.conf` and `/etc/hosts`.
    pub fn from_system() -> Resolver {
        Resolver::new(ResolverConfig::from_system())
    }

    /// The configuration.
    pub fn config(&self) -> &ResolverConfig {
        &self.inner.config
    }

    /// Each nameserver's health.
    pub fn nameservers(&self) -> Vec<NameserverStatus> {
        self.inner
            .servers
            .iter()
            .map(|s| NameserverStatus {
                addr: s.addr,
                down: s.down.get(),
                timeouts: s.timeouts.get(),
                probes: s.probes.get(),
            })
            .collect()
    }

    /// Entries in the cache.
    pub fn cache_len(&self) -> usize {
        self.inner.cache.borrow().len()
    }

    /// Cache hits and misses so far.
    pub fn cache_stats(&self) -> (u64, u64) {
        self.inner.cache.borrow().stats()
    }

    /// Empties the cache.
    pub fn clear_cache(&self) {
        self.inner.cache.borrow_mut().clear();
    }

    /// Requests waiting for a slot (over `max_inflight`).
    pub fn queued(&self) -> usize {
        self.inner.limiter.queued()
    }

    /// Ends every pending request and any later one with
    /// [`Error::Cancelled`] (evdns_base_free with fail_requests).
    pub fn shutdown(&self) {
        self.inner.shutdown.trigger();
    }

    /// IPv4 addresses of `name`: a literal address as itself, then the
    /// hosts table, then A records through the search list.
    pub async fn resolve_ipv4(&self, name: &str) -> Result<Answer<Ipv4Addr>, Error> {
        if let Ok(a) = name.parse::<Ipv4Addr>() {
            return Ok(literal(name, a));
        }
        if let Some(a) = self.hosts_answer(name, |h, n| h.ipv4(n).to_vec())? {
            return Ok(a);
        }
        let a = self.query(name, RecordType::A).await?;
        Ok(a.map(|d| match d {
            RData::A(a) => Some(a),
            _ => None,
        }))
    }

    /// IPv6 addresses of `name` (AAAA), like [`resolve_ipv4`](Self::resolve_ipv4).
    pub async fn resolve_ipv6(&self, name: &str) -> Result<Answer<Ipv6Addr>, Error> {
        if let Ok(a) = name.parse::<Ipv6Addr>() {
            return Ok(literal(name, a));
        }
        if let Some(a) = self.hosts_answer(name, |h, n| h.ipv6(n).to_vec())? {
            return Ok(a);
        }
        let a = self.query(name, RecordType::AAAA).await?;
        Ok(a.map(|d| match d {
            RData::Aaaa(a) => Some(a),
            _ => None,
        }))
    }

    /// Names of `ip` (PTR in `in-addr.arpa` or `ip6.arpa`); the hosts table
    /// first.
    pub async fn resolve_reverse(&self, ip: IpAddr) -> Result<Answer<Name>, Error> {
        let rname = reverse_name(ip);
        let names = self.inner.config.hosts.names(ip);
        if !names.is_empty() {
            let entries = names
                .iter()
                .map(|n| Entry {
                    value: n.clone(),
                    ttl: 0,
                })
                .collect();
            return Ok(Answer::new(rname, entries));
        }
        let a = self.lookup_fqdn(&rname, RecordType::PTR).await?;
        Ok(a.map(|d| match d {
            RData::Ptr(n) => Some(n),
            _ => None,
        }))
    }

    /// Socket addresses for `name` and `port`, the getaddrinfo way: a
    /// literal address passes through, the hosts table comes first, then
    /// A and AAAA are asked in parallel (IPv4 addresses first in the
    /// result). It fails only if both fail (with the A error).
    pub async fn lookup_host(&self, name: &str, port: u16) -> Result<Vec<SocketAddr>, Error> {
        let host = name
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .unwrap_or(name);
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let n = Name::from_ascii(host).map_err(Error::InvalidName)?;
        let hosts = &self.inner.config.hosts;
        if hosts.contains(&n) {
            let v4 = hosts
                .ipv4(&n)
                .iter()
                .map(|&a| SocketAddr::new(a.into(), port));
            let v6 = hosts
                .ipv6(&n)
                .iter()
                .map(|&a| SocketAddr::new(a.into(), port));
            return Ok(v4.chain(v6).collect());
        }
        let (v4, v6) = Join2::new(
            self.query(host, RecordType::A),
            self.query(host, RecordType::AAAA),
        )
        .await;
        let mut out = Vec::new();
        let v4_err = match v4 {
            Ok(a) => {
                out.extend(a.values().filter_map(|d| match d {
                    RData::A(a) => Some(SocketAddr::new((*a).into(), port)),
                    _ => None,
                }));
                None
            }
            Err(e) => Some(e),
        };
        if let Ok(a) = v6 {
            out.extend(a.values().filter_map(|d| match d {
                RData::Aaaa(a) => Some(SocketAddr::new((*a).into(), port)),
                _ => None,
            }));
        }
        match (out.is_empty(), v4_err) {
            (false, _) => Ok(out),
            (true, Some(e)) => Err(e),
            (true, None) => Err(Error::NoData),
        }
    }

    /// Records of `qtype` for `name` through the search list (CNAME chains
    /// inside the reply are followed; `Answer::name` is where they end).
    pub async fn query(&self, name: &str, qtype: RecordType) -> Result<Answer<RData>, Error> {
        let n = Name::from_ascii(name).map_err(Error::InvalidName)?;
        if name.ends_with('.') || self.inner.config.search.is_empty() || n.is_root() {
            return self.lookup_fqdn(&n, qtype).await;
        }
        let candidates = self.candidates(n);
        let mut nodata = false;
        for c in &candidates {
            match self.lookup_fqdn(c, qtype).await {
                Ok(a) => return Ok(a),
                Err(Error::NxDomain) => {}
                Err(Error::NoData) => nodata = true,
                Err(e) => return Err(e),
            }
        }
        Err(if nodata {
            Error::NoData
        } else {
            Error::NxDomain
        })
    }

    /// The fully qualified names to try for the relative name `n`, in
    /// order: as given first if it has at least `ndots` dots, else after
    /// the search list.
    fn candidates(&self, n: Name) -> Vec<Name> {
        let search = &self.inner.config.search;
        let dots = n.label_count() - 1;
        let with_search = search.iter().filter_map(|s| n.concat(s).ok());
        if dots >= self.inner.config.ndots {
            let mut v = vec![n.clone()];
            v.extend(with_search);
            v
        } else {
            let mut v: Vec<Name> = with_search.collect();
            v.push(n);
            v
        }
    }

    fn hosts_answer<T>(
        &self,
        name: &str,
        get: impl Fn(&crate::Hosts, &Name) -> Vec<T>,
    ) -> Result<Option<Answer<T>>, Error> {
        let hosts = &self.inner.config.hosts;
        if hosts.is_empty() {
            return Ok(None);
        }
        let n = Name::from_ascii(name).map_err(Error::InvalidName)?;
        let v = get(hosts, &n);
        if v.is_empty() {
            return Ok(None);
        }
        Ok(Some(Answer::new(
            n,
            v.into_iter().map(|value| Entry { value, ttl: 0 }).collect(),
        )))
    }

    /// One fully qualified name: the cache, else the nameservers.
    async fn lookup_fqdn(&self, name: &Name, qtype: RecordType) -> Result<Answer<RData>, Error> {
        let inner = &self.inner;
        if inner.shutdown.is_triggered() {
            return Err(Error::Cancelled);
        }
        if inner.cache.borrow().enabled() {
            if let Some(hit) = inner.cache.borrow_mut().get(name, qtype, Instant::now()) {
                return hit.map_err(|n| match n {
                    Negative::NxDomain => Error::NxDomain,
                    Negative::NoData => Error::NoData,
                });
            }
        }
        let reply = match inner.shutdown.guard(self.exchange(name, qtype)).await {
            Some(r) => r?,
            None => return Err(Error::Cancelled),
        };
        let (result, neg_ttl) = interpret(reply, name, qtype);
        let mut cache = inner.cache.borrow_mut();
        if cache.enabled() {
            let now = Instant::now();
            match &result {
                Ok(a) => cache.put_positive(name, qtype, a, now),
                Err(Error::NxDomain) => {
                    cache.put_negative(name, qtype, Negative::NxDomain, neg_ttl, now)
                }
                Err(Error::NoData) => {
                    cache.put_negative(name, qtype, Negative::NoData, neg_ttl, now)
                }
                Err(_) => {}
            }
        }
        result
    }

    /// Sends the question to the nameservers (each attempt to the next
    /// one) until an answer that is not SERVFAIL or REFUSED arrives.
    async fn exchange(&self, name: &Name, qtype: RecordType) -> Result<Message, Error> {
        let inner = &self.inner;
        let cfg = &inner.config;
        if inner.servers.is_empty() {
            return Err(Error::NoNameservers);
        }
        let _permit = inner.limiter.acquire().await;
        let first = if cfg.rotate {
            let n = inner.next_server.get();
            inner.next_server.set(n.wrapping_add(1));
            n
        } else {
            0
        };
        let mut last = Error::Timeout;
        for attempt in 0..cfg.attempts.max(1) as usize {
            let idx = self.pick_server(first + attempt);
            let server = &inner.servers[idx];
            let edns = cfg.edns0.then_some(cfg.udp_size);
            // The id is set by the socket's table; 0x20 is applied to the
            // name in place.
            let mut bytes = Message::query_bytes(0, name, qtype, edns);
            if cfg.randomize_case {
                let mut bits = random::Bits::new();
                randomize_case_in_place(&mut bytes[12..12 + name.wire_len()], || bits.next_bit());
            }
            let ticket =
                match Ticket::new(&server.pool, &inner.pool_config, bytes, cfg.randomize_case) {
                    Ok(t) => t,
                    Err(e) => {
                        last = e;
                        continue;
                    }
                };
            let udp = ticket.reply(&inner.recv_batch, inner.pool_config.recv_size);
            let reply = match timeout(cfg.timeout, udp).await {
                Ok(Ok(m)) => m,
                Ok(Err(e @ Error::Malformed(_))) => {
                    self.server_answered(idx);
                    return Err(e);
                }
                Ok(Err(e)) => {
                    last = e;
                    continue;
                }
                Err(_) => {
                    self.server_timed_out(idx);
                    last = Error::Timeout;
                    continue;
                }
            };
            self.server_answered(idx);
            let reply = if reply.header.tc {
                let query = ticket.query();
                drop(ticket);
                let Some(expect) = Expected::new(&query, cfg.randomize_case) else {
                    // Cannot happen: query_bytes writes one plain question.
                    last = Error::Io(std::io::ErrorKind::InvalidData.into());
                    continue;
                };
                // Boxed: the rare TCP path would otherwise double the size
                // of every lookup's future (moved on each call).
                let tcp = Box::pin(transport::tcp(server.addr, cfg.bind_address, &expect));
                match timeout(cfg.timeout, tcp).await {
                    Ok(Ok(m)) => m,
                    Ok(Err(e @ Error::Malformed(_))) => return Err(e),
                    Ok(Err(e)) => {
                        last = e;
                        continue;
                    }
                    Err(_) => {
                        last = Error::Timeout;
                        continue;
                    }
                }
            } else {
                reply
            };
            match reply.rcode() {
                Rcode::SERVFAIL => last = Error::ServerFailure,
                Rcode::REFUSED => last = Error::Refused,
                _ => return Ok(reply),
            }
        }
        Err(last)
    }

    /// The `n`th server to use (counting from the rotation point), skipping
    /// those marked down unless all are.
    fn pick_server(&self, n: usize) -> usize {
        let servers = &self.inner.servers;
        let up = servers.iter().filter(|s| !s.down.get()).count();
        if up == 0 {
            return n % servers.len();
        }
        let k = n % up;
        servers
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.down.get())
            .nth(k)
            .map_or(0, |(i, _)| i)
    }

    fn server_answered(&self, idx: usize) {
        let s = &self.inner.servers[idx];
        s.timeouts.set(0);
        s.down.set(false);
    }

    fn server_timed_out(&self, idx: usize) {
        let s = &self.inner.servers[idx];
        s.timeouts.set(s.timeouts.get().saturating_add(1));
        if s.timeouts.get() >= self.inner.config.max_timeouts && !s.down.get() {
            s.down.set(true);
            s.probes.set(0);
            if !s.probing.get() {
                s.probing.set(true);
                let weak = Rc::downgrade(&self.inner);
                let delay = self.inner.config.probe_initial;
                if runtime_executor::try_spawn(probe(weak, idx, delay)).is_err() {
                    s.probing.set(false);
                }
            }
        }
    }
}

/// Probes a nameserver marked down, with doubling delays, until it
/// answers (then it is up again) or the resolver is gone.
async fn probe(weak: Weak<Inner>, idx: usize, mut delay: Duration) {
    loop {
        sleep(delay).await;
        let Some(inner) = weak.upgrade() else { return };
        if inner.shutdown.is_triggered() {
            return;
        }
        let s = &inner.servers[idx];
        if !s.down.get() {
            s.probing.set(false);
            return;
        }
        s.probes.set(s.probes.get() + 1);
        let edns = inner.config.edns0.then_some(inner.config.udp_size);
        let query = Message::query_bytes(0, &Name::root(), RecordType::NS, edns);
        let answered = match Ticket::new(&s.pool, &inner.pool_config, query, false) {
            Ok(ticket) => {
                let udp = ticket.reply(&inner.recv_batch, inner.pool_config.recv_size);
                matches!(
                    timeout(inner.config.timeout, udp).await,
                    Ok(Ok(_)) | Ok(Err(Error::Malformed(_)))
                )
            }
            Err(_) => false,
        };
        if answered {
            s.timeouts.set(0);
            s.down.set(false);
            s.probing.set(false);
            return;
        }
        delay = (delay * 2).min(inner.config.probe_max);
    }
}

/// The answer for `name`/`qtype` in `reply`, following CNAMEs, and the
/// negative-caching TTL (from the SOA in the authority section, 0 if none).
/// The record data is moved out of the reply, not copied.
fn interpret(
    reply: Message,
    name: &Name,
    qtype: RecordType,
) -> (Result<Answer<RData>, Error>, u32) {
    let neg_ttl = reply
        .authorities
        .iter()
        .find_map(|r| match &r.data {
            RData::Soa { minimum, .. } => Some(r.ttl.min(*minimum)),
            _ => None,
        })
        .unwrap_or(0);
    match reply.rcode() {
        Rcode::NOERROR => {}
        Rcode::NXDOMAIN => return (Err(Error::NxDomain), neg_ttl),
        Rcode::SERVFAIL => return (Err(Error::ServerFailure), 0),
        Rcode::REFUSED => return (Err(Error::Refused), 0),
        r => return (Err(Error::Rcode(r)), 0),
    }
    // Where the CNAME chain (if any) ends, and the smallest TTL along it.
    let answers = &reply.answers;
    let has = |owner: &Name| {
        answers
            .iter()
            .any(|r| r.name == *owner && r.record_type() == qtype)
    };
    let mut owner: Option<&Name> = None;
    let mut cname_ttl = u32::MAX;
    let mut found = has(name);
    for _ in 0..MAX_CNAME_HOPS {
        if found {
            break;
        }
        let current = owner.unwrap_or(name);
        let next = answers.iter().find_map(|r| match &r.data {
            RData::Cname(target) if r.name == *current => Some((target, r.ttl)),
            _ => None,
        });
        match next {
            Some((target, ttl)) => {
                owner = Some(target);
                cname_ttl = cname_ttl.min(ttl);
                found = has(target);
            }
            None => break,
        }
    }
    if !found {
        return (Err(Error::NoData), neg_ttl);
    }
    let owner = owner.unwrap_or(name).clone();
    let entries = reply
        .answers
        .into_iter()
        .filter(|r| r.name == owner && r.record_type() == qtype)
        .map(|r| Entry {
            ttl: r.ttl.min(cname_ttl),
            value: r.data,
        })
        .collect();
    (Ok(Answer::new(owner, entries)), 0)
}

fn literal<T>(name: &str, value: T) -> Answer<T> {
    Answer::new(
        Name::from_ascii(name).unwrap_or_else(|_| Name::root()),
        vec![Entry { value, ttl: 0 }],
    )
}

/// Runs two futures at once; ready when both are.
struct Join2<A: Future, B: Future> {
    a: Pin<Box<A>>,
    b: Pin<Box<B>>,
    ra: Option<A::Output>,
    rb: Option<B::Output>,
}

impl<A: Future, B: Future> Join2<A, B> {
    fn new(a: A, b: B) -> Self {
        Join2 {
            a: Box::pin(a),
            b: Box::pin(b),
            ra: None,
            rb: None,
        }
    }
}

impl<A: Future, B: Future> Unpin for Join2<A, B> {}

impl<A: Future, B: Future> Future for Join2<A, B> {
    type Output = (A::Output, B::Output);
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if this.ra.is_none() {
            if let Poll::Ready(v) = this.a.as_mut().poll(cx) {
                this.ra = Some(v);
            }
        }
        if this.rb.is_none() {
            if let Poll::Ready(v) = this.b.as_mut().poll(cx) {
                this.rb = Some(v);
            }
        }
        match (this.ra.take(), this.rb.take()) {
            (Some(a), Some(b)) => Poll::Ready((a, b)),
            (a, b) => {
                this.ra = a;
                this.rb = b;
                Poll::Pending
            }
        }
    }
}
