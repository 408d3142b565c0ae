//! [`ResolverConfig`]: nameservers, search list and options, from
//! `/etc/resolv.conf` and `/etc/hosts` or built in code.

use crate::hosts::Hosts;
use crate::wire::Name;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

/// How a [`Resolver`](crate::Resolver) works. Defaults follow evdns and
/// glibc: timeout 5 s, 2 attempts, ndots 1, 3 timeouts before a nameserver
/// is marked down, 64 requests in flight, 0x20 on, EDNS0 with 1232 bytes,
/// a 1024-entry cache; 2 UDP sockets per nameserver, each replaced after
/// 256 queries or 10 s (see `udp_sockets`: a trade between what a lookup
/// costs and how long one source port is in use).
///
/// ```
/// use runtime::dns::ResolverConfig;
/// use std::time::Duration;
/// let mut cfg = ResolverConfig::new().with_nameserver("127.0.0.1:5353".parse().unwrap());
/// cfg.timeout = Duration::from_millis(500);
/// cfg.attempts = 3;
/// let parsed = ResolverConfig::parse_resolv_conf("nameserver 10.0.0.1\nsearch a.test b.test\noptions ndots:2 rotate\n");
/// assert_eq!(parsed.nameservers, ["10.0.0.1:53".parse().unwrap()]);
/// assert_eq!(parsed.search.len(), 2);
/// assert_eq!(parsed.ndots, 2);
/// assert!(parsed.rotate);
/// ```
#[derive(Clone, Debug)]
pub struct ResolverConfig {
    /// Nameservers, tried in order (or round-robin with `rotate`).
    pub nameservers: Vec<SocketAddr>,
    /// Domains appended to names with fewer than `ndots` dots.
    pub search: Vec<Name>,
    /// Names with at least this many dots are tried as given first.
    pub ndots: usize,
    /// How long to wait for each reply.
    pub timeout: Duration,
    /// How many times a question is sent in all (each retry goes to the
    /// next nameserver).
    pub attempts: u32,
    /// Spread requests over the nameservers round-robin.
    pub rotate: bool,
    /// Send an EDNS0 OPT record advertising `udp_size`.
    pub edns0: bool,
    /// The UDP payload size advertised with EDNS0.
    pub udp_size: u16,
    /// Consecutive timeouts after which a nameserver is marked down (and
    /// probed with back-off until it answers again).
    pub max_timeouts: u32,
    /// First probe delay for a nameserver marked down; doubles up to
    /// `probe_max`.
    pub probe_initial: Duration,
    /// Longest delay between probes.
    pub probe_max: Duration,
    /// Requests in flight at most; more wait in a queue.
    pub max_inflight: usize,
    /// Randomise the case of each query name (DNS 0x20) and require the
    /// reply to echo it exactly.
    pub randomize_case: bool,
    /// Local address the query sockets (UDP and TCP) bind to (port 0:
    /// random).
    pub bind_address: Option<IpAddr>,
    /// UDP sockets kept per nameserver; queries take them in turn and
    /// share them, replies matched by id and question. Each is connected
    /// to the nameserver from a random port chosen by the kernel.
    pub udp_sockets: usize,
    /// Queries a UDP socket carries before a new one, on a new random
    /// port, takes its place (1: a fresh socket per query).
    pub udp_socket_queries: u32,
    /// Age after which a UDP socket takes no new query (it is replaced by
    /// one on a new random port).
    pub udp_socket_lifetime: Duration,
    /// Entries the cache holds at most; 0 turns caching off.
    pub cache_size: usize,
    /// Static names, consulted before the network.
    pub hosts: Hosts,
}

impl Default for ResolverConfig {
    fn default() -> ResolverConfig {
        ResolverConfig::new()
    }
}

impl ResolverConfig {
    /// No nameserver, no search list, default options.
    pub fn new() -> ResolverConfig {
        ResolverConfig {
            nameservers: Vec::new(),
            search: Vec::new(),
            ndots: 1,
            timeout: Duration::from_secs(5),
            attempts: 2,
            rotate: false,
            edns0: true,
            udp_size: 1232,
            max_timeouts: 3,
            probe_initial: Duration::from_secs(10),
            probe_max: Duration::from_secs(600),
            max_inflight: 64,
            randomize_case: true,
            bind_address: None,
            udp_sockets: 2,
            udp_socket_queries: 256,
            udp_socket_lifetime: Duration::from_secs(10),
            cache_size: 1024,
            hosts: Hosts::new(),
        }
    }

    /// Adds a nameserver.
    pub fn with_nameserver(mut self, addr: SocketAddr) -> ResolverConfig {
        self.nameservers.push(addr);
        self
    }

    /// The system's configuration: `/etc/resolv.conf` and `/etc/hosts`
    /// (either may be missing; with no nameserver, 127.0.0.1:53 is used,
    /// as glibc does).
    pub fn from_system() -> ResolverConfig {
        ResolverConfig::from_files("/etc/resolv.conf", "/etc/hosts")
    }

    /// Like [`from_system`](Self::from_system) with other paths.
    pub fn from_files(resolv_conf: impl AsRef<Path>, hosts: impl AsRef<Path>) -> ResolverConfig {
        let text = std::fs::read_to_string(resolv_conf).unwrap_or_default();
        let mut cfg = ResolverConfig::parse_resolv_conf(&text);
        if cfg.nameservers.is_empty() {
            cfg.nameservers
                .push(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 53));
        }
        cfg.hosts = Hosts::from_file(hosts).unwrap_or_default();
        cfg
    }

    /// Parses resolv.conf text: `nameserver`, `search`, `domain` (the last
    /// of `search`/`domain` wins), `options ndots:N timeout:N attempts:N
    /// rotate edns0`; `#` and `;` start comments; unknown lines are
    /// ignored. EDNS0 is on only with `options edns0`, as in glibc.
    pub fn parse_resolv_conf(text: &str) -> ResolverConfig {
        let mut cfg = ResolverConfig::new();
        cfg.edns0 = false;
        for line in text.lines() {
            let line = line.split(['#', ';']).next().unwrap_or("");
            let mut words = line.split_ascii_whitespace();
            match words.next() {
                Some("nameserver") => {
                    if let Some(ip) = words
                        .next()
                        .and_then(|w| w.split('%').next())
                        .and_then(|w| w.parse::<IpAddr>().ok())
                    {
                        cfg.nameservers.push(SocketAddr::new(ip, 53));
                    }
                }
                Some("domain") => {
                    cfg.search = words
                        .next()
                        .and_then(|w| w.parse().ok())
                        .into_iter()
                        .collect();
                }
                Some("search") => {
                    cfg.search = words.filter_map(|w| w.parse().ok()).collect();
                }
                Some("options") => {
                    for opt in words {
                        let (key, value) = opt.split_once(':').unwrap_or((opt, ""));
                        let num = value.parse::<u64>().ok();
                        match (key, num) {
                            ("ndots", Some(n)) => cfg.ndots = n.min(15) as usize,
                            ("timeout", Some(n)) => {
                                cfg.timeout = Duration::from_secs(n.clamp(1, 30))
                            }
                            ("attempts", Some(n)) => cfg.attempts = n.clamp(1, 5) as u32,
                            ("rotate", _) => cfg.rotate = true,
                            ("edns0", _) => cfg.edns0 = true,
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        cfg
    }
}

/// Reads `/etc/resolv.conf`-format text from a file.
pub fn read_resolv_conf(path: impl AsRef<Path>) -> io::Result<ResolverConfig> {
    Ok(ResolverConfig::parse_resolv_conf(&std::fs::read_to_string(
        path,
    )?))
}
