//! Record types and record data: [`RecordType`], [`RData`].

use super::name::{Compression, Name};
use super::WireError;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The Internet class.
pub const CLASS_IN: u16 = 1;

/// A record type (QTYPE/TYPE), any 16-bit value; the common ones are
/// associated constants.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordType(pub u16);

impl RecordType {
    /// IPv4 address.
    pub const A: RecordType = RecordType(1);
    /// Authoritative name server.
    pub const NS: RecordType = RecordType(2);
    /// Canonical name (alias).
    pub const CNAME: RecordType = RecordType(5);
    /// Start of authority.
    pub const SOA: RecordType = RecordType(6);
    /// Domain name pointer (reverse lookups).
    pub const PTR: RecordType = RecordType(12);
    /// Mail exchange.
    pub const MX: RecordType = RecordType(15);
    /// Text strings.
    pub const TXT: RecordType = RecordType(16);
    /// IPv6 address.
    pub const AAAA: RecordType = RecordType(28);
    /// Service location.
    pub const SRV: RecordType = RecordType(33);
    /// EDNS0 pseudo-record.
    pub const OPT: RecordType = RecordType(41);
    /// Any type (query only).
    pub const ANY: RecordType = RecordType(255);

    /// The mnemonic (`"A"`, `"AAAA"` …), if this type has one here.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            RecordType::A => "A",
            RecordType::NS => "NS",
            RecordType::CNAME => "CNAME",
            RecordType::SOA => "SOA",
            RecordType::PTR => "PTR",
            RecordType::MX => "MX",
            RecordType::TXT => "TXT",
            RecordType::AAAA => "AAAA",
            RecordType::SRV => "SRV",
            RecordType::OPT => "OPT",
            RecordType::ANY => "ANY",
            _ => return None,
        })
    }

    /// Parses a mnemonic (case ignored) or `TYPEnnn`.
    pub fn from_name(s: &str) -> Option<RecordType> {
        let up = s.to_ascii_uppercase();
        for t in [
            RecordType::A,
            RecordType::NS,
            RecordType::CNAME,
            RecordType::SOA,
            RecordType::PTR,
            RecordType::MX,
            RecordType::TXT,
            RecordType::AAAA,
            RecordType::SRV,
            RecordType::OPT,
            RecordType::ANY,
        ] {
            if t.name() == Some(up.as_str()) {
                return Some(t);
            }
        }
        up.strip_prefix("TYPE")?.parse().ok().map(RecordType)
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "TYPE{}", self.0),
        }
    }
}

impl fmt::Debug for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The data of a resource record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RData {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
    /// The canonical name of an alias.
    Cname(Name),
    /// A name server.
    Ns(Name),
    /// A pointer (reverse lookups).
    Ptr(Name),
    /// A mail exchange.
    Mx {
        /// Lower is preferred.
        preference: u16,
        /// The mail server.
        exchange: Name,
    },
    /// Character strings, each at most 255 bytes.
    Txt(Vec<Vec<u8>>),
    /// A service location (RFC 2782).
    Srv {
        /// Lower is tried first.
        priority: u16,
        /// Share among equal priorities.
        weight: u16,
        /// The service port.
        port: u16,
        /// The host giving the service.
        target: Name,
    },
    /// Start of a zone of authority.
    Soa {
        /// Primary name server.
        mname: Name,
        /// Mailbox of the responsible person.
        rname: Name,
        /// Zone serial.
        serial: u32,
        /// Refresh interval.
        refresh: u32,
        /// Retry interval.
        retry: u32,
        /// Expiry.
        expire: u32,
        /// Negative-caching TTL (RFC 2308).
        minimum: u32,
    },
    /// EDNS0 options: (code, data) pairs.
    Opt(Vec<(u16, Vec<u8>)>),
    /// Any other type, kept as bytes.
    Unknown(RecordType, Vec<u8>),
}

impl RData {
    /// The record type this data belongs to.
    pub fn record_type(&self) -> RecordType {
        match self {
            RData::A(_) => RecordType::A,
            RData::Aaaa(_) => RecordType::AAAA,
            RData::Cname(_) => RecordType::CNAME,
            RData::Ns(_) => RecordType::NS,
            RData::Ptr(_) => RecordType::PTR,
            RData::Mx { .. } => RecordType::MX,
            RData::Txt(_) => RecordType::TXT,
            RData::Srv { .. } => RecordType::SRV,
            RData::Soa { .. } => RecordType::SOA,
            RData::Opt(_) => RecordType::OPT,
            RData::Unknown(t, _) => *t,
        }
    }

    /// Reads the data of a record of type `rtype` occupying
    /// `msg[start..start + len]` (names may point anywhere before).
    pub(crate) fn read(
        msg: &[u8],
        rtype: RecordType,
        start: usize,
        len: usize,
    ) -> Result<RData, WireError> {
        let end = start + len;
        let data = &msg[start..end];
        let name_at = |pos: usize| -> Result<(Name, usize), WireError> {
            // A name inside RDATA must end inside RDATA.
            let (n, next) = Name::read(&msg[..end], pos).map_err(|e| match e {
                WireError::Truncated => WireError::RdataLength,
                e => e,
            })?;
            Ok((n, next))
        };
        let exact = |next: usize| {
            if next == end {
                Ok(())
            } else {
                Err(WireError::RdataLength)
            }
        };
        let u16_at = |p: usize| -> Result<u16, WireError> {
            msg.get(p..p + 2)
                .filter(|_| p + 2 <= end)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
                .ok_or(WireError::RdataLength)
        };
        let u32_at = |p: usize| -> Result<u32, WireError> {
            msg.get(p..p + 4)
                .filter(|_| p + 4 <= end)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                .ok_or(WireError::RdataLength)
        };
        Ok(match rtype {
            RecordType::A => {
                let b: [u8; 4] = data.try_into().map_err(|_| WireError::RdataLength)?;
                RData::A(Ipv4Addr::from(b))
            }
            RecordType::AAAA => {
                let b: [u8; 16] = data.try_into().map_err(|_| WireError::RdataLength)?;
                RData::Aaaa(Ipv6Addr::from(b))
            }
            RecordType::CNAME | RecordType::NS | RecordType::PTR => {
                let (n, next) = name_at(start)?;
                exact(next)?;
                match rtype {
                    RecordType::CNAME => RData::Cname(n),
                    RecordType::NS => RData::Ns(n),
                    _ => RData::Ptr(n),
                }
            }
            RecordType::MX => {
                let preference = u16_at(start)?;
                let (exchange, next) = name_at(start + 2)?;
                exact(next)?;
                RData::Mx {
                    preference,
                    exchange,
                }
            }
            RecordType::SRV => {
                let priority = u16_at(start)?;
                let weight = u16_at(start + 2)?;
                let port = u16_at(start + 4)?;
                let (target, next) = name_at(start + 6)?;
                exact(next)?;
                RData::Srv {
                    priority,
                    weight,
                    port,
                    target,
                }
            }
            RecordType::SOA => {
                let (mname, p) = name_at(start)?;
                let (rname, p) = name_at(p)?;
                let v = [
                    u32_at(p)?,
                    u32_at(p + 4)?,
                    u32_at(p + 8)?,
                    u32_at(p + 12)?,
                    u32_at(p + 16)?,
                ];
                exact(p + 20)?;
                RData::Soa {
                    mname,
                    rname,
                    serial: v[0],
                    refresh: v[1],
                    retry: v[2],
                    expire: v[3],
                    minimum: v[4],
                }
            }
            RecordType::TXT => {
                let mut strings = Vec::new();
                let mut p = 0;
                while p < data.len() {
                    let l = data[p] as usize;
                    let s = data.get(p + 1..p + 1 + l).ok_or(WireError::RdataLength)?;
                    strings.push(s.to_vec());
                    p += 1 + l;
                }
                RData::Txt(strings)
            }
            RecordType::OPT => {
                let mut opts = Vec::new();
                let mut p = 0;
                while p < data.len() {
                    let h = data.get(p..p + 4).ok_or(WireError::RdataLength)?;
                    let code = u16::from_be_bytes([h[0], h[1]]);
                    let l = u16::from_be_bytes([h[2], h[3]]) as usize;
                    let v = data.get(p + 4..p + 4 + l).ok_or(WireError::RdataLength)?;
                    opts.push((code, v.to_vec()));
                    p += 4 + l;
                }
                RData::Opt(opts)
            }
            t => RData::Unknown(t, data.to_vec()),
        })
    }

    /// Appends the data (without RDLENGTH); names of the RFC 1035 types
    /// are compressed, others (SRV) are not, as RFC 3597 requires.
    pub(crate) fn write(&self, out: &mut Vec<u8>, base: usize, map: &mut Compression) {
        match self {
            RData::A(a) => out.extend_from_slice(&a.octets()),
            RData::Aaaa(a) => out.extend_from_slice(&a.octets()),
            RData::Cname(n) | RData::Ns(n) | RData::Ptr(n) => n.write_compressed(out, base, map),
            RData::Mx {
                preference,
                exchange,
            } => {
                out.extend_from_slice(&preference.to_be_bytes());
                exchange.write_compressed(out, base, map);
            }
            RData::Srv {
                priority,
                weight,
                port,
                target,
            } => {
                out.extend_from_slice(&priority.to_be_bytes());
                out.extend_from_slice(&weight.to_be_bytes());
                out.extend_from_slice(&port.to_be_bytes());
                target.write_uncompressed(out);
            }
            RData::Soa {
                mname,
                rname,
                serial,
                refresh,
                retry,
                expire,
                minimum,
            } => {
                mname.write_compressed(out, base, map);
                rname.write_compressed(out, base, map);
                for v in [serial, refresh, retry, expire, minimum] {
                    out.extend_from_slice(&v.to_be_bytes());
                }
            }
            RData::Txt(strings) => {
                for s in strings {
                    // Longer strings are split in 255-byte pieces.
                    if s.is_empty() {
                        out.push(0);
                    }
                    for piece in s.chunks(255) {
                        out.push(piece.len() as u8);
                        out.extend_from_slice(piece);
                    }
                }
            }
            RData::Opt(opts) => {
                for (code, v) in opts {
                    out.extend_from_slice(&code.to_be_bytes());
                    out.extend_from_slice(&(v.len() as u16).to_be_bytes());
                    out.extend_from_slice(v);
                }
            }
            RData::Unknown(_, bytes) => out.extend_from_slice(bytes),
        }
    }
}

impl fmt::Display for RData {
    /// Presentation format, as `dig` prints the data column.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RData::A(a) => write!(f, "{a}"),
            RData::Aaaa(a) => write!(f, "{a}"),
            RData::Cname(n) | RData::Ns(n) | RData::Ptr(n) => write!(f, "{n}"),
            RData::Mx {
                preference,
                exchange,
            } => write!(f, "{preference} {exchange}"),
            RData::Srv {
                priority,
                weight,
                port,
                target,
            } => write!(f, "{priority} {weight} {port} {target}"),
            RData::Soa {
                mname,
                rname,
                serial,
                refresh,
                retry,
                expire,
                minimum,
            } => write!(
                f,
                "{mname} {rname} {serial} {refresh} {retry} {expire} {minimum}"
            ),
            RData::Txt(strings) => {
                for (i, s) in strings.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    f.write_str("\"")?;
                    for &b in s {
                        match b {
                            b'"' | b'\\' => write!(f, "\\{}", b as char)?,
                            0x20..=0x7E => write!(f, "{}", b as char)?,
                            _ => write!(f, "\\{b:03}")?,
                        }
                    }
                    f.write_str("\"")?;
                }
                Ok(())
            }
            RData::Opt(opts) => write!(f, "OPT {} options", opts.len()),
            RData::Unknown(_, bytes) => {
                write!(f, "\\# {}", bytes.len())?;
                for b in bytes {
                    write!(f, " {b:02x}")?;
                }
                Ok(())
            }
        }
    }
}
