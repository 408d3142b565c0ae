//! [`Hosts`]: a hosts file (`/etc/hosts` format) as lookup tables.

use crate::wire::Name;
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// Addresses by name and names by address, from a hosts-format text:
/// `ADDRESS NAME [ALIAS...]` per line, `#` comments, spaces or tabs, IPv4
/// and IPv6 (a `%zone` suffix is dropped); a name may appear on several
/// lines (its addresses accumulate). Lines whose address does not parse
/// are skipped and counted in [`Hosts::skipped`].
///
/// ```
/// use runtime::dns::Hosts;
/// let h = Hosts::parse("127.0.0.1\tlocalhost loopback # me\n::1 localhost\n");
/// let name = "LOCALHOST".parse().unwrap();
/// assert_eq!(h.ipv4(&name), &["127.0.0.1".parse::<std::net::Ipv4Addr>().unwrap()]);
/// assert_eq!(h.ipv6(&name).len(), 1);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Hosts {
    v4: HashMap<Name, Vec<Ipv4Addr>>,
    v6: HashMap<Name, Vec<Ipv6Addr>>,
    names: HashMap<IpAddr, Vec<Name>>,
    skipped: usize,
}

impl Hosts {
    /// An empty table.
    pub fn new() -> Hosts {
        Hosts::default()
    }

    /// Parses hosts-format text.
    pub fn parse(text: &str) -> Hosts {
        let mut h = Hosts::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut fields = line.split_ascii_whitespace();
            let Some(addr) = fields.next() else { continue };
            let addr = addr.split('%').next().unwrap_or(addr);
            let Ok(ip) = addr.parse::<IpAddr>() else {
                h.skipped += 1;
                continue;
            };
            for name in fields {
                match Name::from_ascii(name) {
                    Ok(n) => h.insert(n, ip),
                    Err(_) => h.skipped += 1,
                }
            }
        }
        h
    }

    /// Reads and parses a hosts file.
    pub fn from_file(path: impl AsRef<Path>) -> io::Result<Hosts> {
        Ok(Hosts::parse(&std::fs::read_to_string(path)?))
    }

    /// Adds one name → address mapping (and the reverse one).
    pub fn insert(&mut self, name: Name, ip: IpAddr) {
        match ip {
            IpAddr::V4(a) => push_unique(self.v4.entry(name.clone()).or_default(), a),
            IpAddr::V6(a) => push_unique(self.v6.entry(name.clone()).or_default(), a),
        }
        push_unique(self.names.entry(ip).or_default(), name);
    }

    /// IPv4 addresses of `name` (case ignored), in file order.
    pub fn ipv4(&self, name: &Name) -> &[Ipv4Addr] {
        self.v4.get(name).map_or(&[], Vec::as_slice)
    }

    /// IPv6 addresses of `name`, in file order.
    pub fn ipv6(&self, name: &Name) -> &[Ipv6Addr] {
        self.v6.get(name).map_or(&[], Vec::as_slice)
    }

    /// Whether `name` has any address here.
    pub fn contains(&self, name: &Name) -> bool {
        self.v4.contains_key(name) || self.v6.contains_key(name)
    }

    /// Names of `ip`, the first being the canonical one.
    pub fn names(&self, ip: IpAddr) -> &[Name] {
        self.names.get(&ip).map_or(&[], Vec::as_slice)
    }

    /// Number of distinct names.
    pub fn len(&self) -> usize {
        let mut n = self.v4.len();
        n += self.v6.keys().filter(|k| !self.v4.contains_key(*k)).count();
        n
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// Lines or names that could not be read.
    pub fn skipped(&self) -> usize {
        self.skipped
    }
}

fn push_unique<T: PartialEq>(v: &mut Vec<T>, x: T) {
    if !v.contains(&x) {
        v.push(x);
    }
}
