//! [`Resolver`]: evdns as futures.

use crate::answer::{Answer, Entry};
use crate::cache::{Cache, Negative};
use crate::config::ResolverConfig;
use crate::error::Error;
use crate::limit::{Limiter, Shutdown};
use crate::random;
use crate::reverse::reverse_name;
use crate::transport::{self, Expect};
use crate::wire::{Edns, Message, Name, RData, Rcode, RecordType};
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
/// use runtime_dns::{Resolver, ResolverConfig, wire::RecordType};
/// # runtime_executor::block_on(async {
/// let cfg = ResolverConfig::new().with_nameserver("127.0.0.1:5353".parse().unwrap());
/// let r = Resolver::new(cfg);
/// for e in r.resolve_ipv4("host.test").await? {
///     println!("{} ttl {}", e.value, e.ttl);
/// }
/// let mx = r.query("test", RecordType::MX).await?;
/// # Ok::<_, runtime_dns::Error>(()) });
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
}

/// A nameserver's health, as evdns tracks it.
struct Server {
    addr: SocketAddr,
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
        let candidates = self.candidates(name)?;
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

    /// The fully qualified names to try for `name`, in order.
    fn candidates(&self, name: &str) -> Result<Vec<Name>, Error> {
        let n = Name::from_ascii(name).map_err(Error::InvalidName)?;
        let search = &self.inner.config.search;
        if name.ends_with('.') || search.is_empty() || n.is_root() {
            return Ok(vec![n]);
        }
        let dots = n.label_count() - 1;
        let with_search = search.iter().filter_map(|s| n.concat(s).ok());
        Ok(if dots >= self.inner.config.ndots {
            std::iter::once(n.clone()).chain(with_search).collect()
        } else {
            with_search.chain(std::iter::once(n.clone())).collect()
        })
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
        let (result, neg_ttl) = interpret(&reply, name, qtype);
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
            let qname = if cfg.randomize_case {
                let mut bits = random::Bits::new();
                name.randomize_case(|| bits.next_bit())
            } else {
                name.clone()
            };
            let id = random::u16();
            let mut query = Message::query(id, qname.clone(), qtype);
            if cfg.edns0 {
                query.edns = Some(Edns::new(cfg.udp_size));
            }
            let bytes = query.to_bytes();
            let expect = Expect {
                id,
                name: &qname,
                qtype,
                exact_case: cfg.randomize_case,
            };
            let recv_size = if cfg.edns0 {
                cfg.udp_size as usize
            } else {
                512
            };
            let udp = transport::udp(server.addr, cfg.bind_address, &bytes, &expect, recv_size);
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
                match timeout(cfg.timeout, transport::tcp(server.addr, &bytes, &expect)).await {
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
        let up: Vec<usize> = (0..servers.len())
            .filter(|&i| !servers[i].down.get())
            .collect();
        if up.is_empty() {
            n % servers.len()
        } else {
            up[n % up.len()]
        }
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
        let id = random::u16();
        let root = Name::root();
        let query = Message::query(id, root.clone(), RecordType::NS).to_bytes();
        let expect = Expect {
            id,
            name: &root,
            qtype: RecordType::NS,
            exact_case: false,
        };
        let udp = transport::udp(s.addr, inner.config.bind_address, &query, &expect, 4096);
        let answered = matches!(
            timeout(inner.config.timeout, udp).await,
            Ok(Ok(_)) | Ok(Err(Error::Malformed(_)))
        );
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
fn interpret(
    reply: &Message,
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
    let mut owner = name.clone();
    let mut cname_ttl = u32::MAX;
    for _ in 0..MAX_CNAME_HOPS {
        let entries: Vec<Entry<RData>> = reply
            .answers
            .iter()
            .filter(|r| r.name == owner && r.record_type() == qtype)
            .map(|r| Entry {
                value: r.data.clone(),
                ttl: r.ttl.min(cname_ttl),
            })
            .collect();
        if !entries.is_empty() {
            return (Ok(Answer::new(owner, entries)), 0);
        }
        let next = reply.answers.iter().find_map(|r| match &r.data {
            RData::Cname(target) if r.name == owner => Some((target.clone(), r.ttl)),
            _ => None,
        });
        match next {
            Some((target, ttl)) => {
                owner = target;
                cname_ttl = cname_ttl.min(ttl);
            }
            None => break,
        }
    }
    (Err(Error::NoData), neg_ttl)
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
