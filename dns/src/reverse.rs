//! Reverse-lookup names: `4.3.2.1.in-addr.arpa.` and the nibbles of an
//! IPv6 address under `ip6.arpa.`, both ways.

use crate::wire::Name;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The reverse-lookup (PTR) name of `ip`.
///
/// ```
/// use runtime::dns::{reverse_name, ip_from_reverse_name};
/// let n = reverse_name("192.0.2.1".parse().unwrap());
/// assert_eq!(n.to_string(), "1.2.0.192.in-addr.arpa.");
/// assert_eq!(ip_from_reverse_name(&n), Some("192.0.2.1".parse().unwrap()));
/// let v6 = reverse_name("2001:db8::1".parse().unwrap());
/// assert!(v6.to_string().starts_with("1.0.0.0."));
/// assert_eq!(ip_from_reverse_name(&v6), Some("2001:db8::1".parse().unwrap()));
/// ```
pub fn reverse_name(ip: IpAddr) -> Name {
    let mut labels: Vec<Vec<u8>> = Vec::with_capacity(34);
    match ip {
        IpAddr::V4(a) => {
            for o in a.octets().iter().rev() {
                labels.push(o.to_string().into_bytes());
            }
            labels.push(b"in-addr".to_vec());
        }
        IpAddr::V6(a) => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            for b in a.octets().iter().rev() {
                labels.push(vec![HEX[(b & 0xF) as usize]]);
                labels.push(vec![HEX[(b >> 4) as usize]]);
            }
            labels.push(b"ip6".to_vec());
        }
    }
    labels.push(b"arpa".to_vec());
    Name::from_labels(&labels).expect("a reverse name is at most 74 bytes")
}

/// The address a complete reverse-lookup name stands for (`None` for any
/// other name, including partial ones like `2.0.192.in-addr.arpa.`).
pub fn ip_from_reverse_name(name: &Name) -> Option<IpAddr> {
    let labels: Vec<&[u8]> = name.labels().collect();
    let n = labels.len();
    if n < 2 || !labels[n - 1].eq_ignore_ascii_case(b"arpa") {
        return None;
    }
    let zone = labels[n - 2];
    if zone.eq_ignore_ascii_case(b"in-addr") && n == 6 {
        let mut o = [0u8; 4];
        for (i, l) in labels[..4].iter().enumerate() {
            let s = std::str::from_utf8(l).ok()?;
            if s.len() > 1 && s.starts_with('0') {
                return None;
            }
            o[3 - i] = s.parse().ok()?;
        }
        return Some(IpAddr::V4(Ipv4Addr::from(o)));
    }
    if zone.eq_ignore_ascii_case(b"ip6") && n == 34 {
        let mut o = [0u8; 16];
        for (i, l) in labels[..32].iter().enumerate() {
            if l.len() != 1 {
                return None;
            }
            let v = (l[0] as char).to_digit(16)? as u8;
            let byte = 15 - i / 2;
            o[byte] |= if i % 2 == 0 { v } else { v << 4 };
        }
        return Some(IpAddr::V6(Ipv6Addr::from(o)));
    }
    None
}
