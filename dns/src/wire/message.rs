//! [`Message`]: header, question, answer, authority and additional
//! sections, with the EDNS0 OPT record lifted out into [`Edns`].

use super::name::{Compression, Name};
use super::rdata::{RData, RecordType, CLASS_IN};
use super::WireError;

/// The header's OPCODE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opcode(pub u8);

impl Opcode {
    /// A standard query.
    pub const QUERY: Opcode = Opcode(0);
}

/// A response code (the header's 4 bits, extended to 12 by EDNS0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rcode(pub u16);

impl Rcode {
    /// No error.
    pub const NOERROR: Rcode = Rcode(0);
    /// The server could not read the query.
    pub const FORMERR: Rcode = Rcode(1);
    /// The server failed.
    pub const SERVFAIL: Rcode = Rcode(2);
    /// The name does not exist.
    pub const NXDOMAIN: Rcode = Rcode(3);
    /// The server does not implement the request.
    pub const NOTIMP: Rcode = Rcode(4);
    /// The server refuses to answer.
    pub const REFUSED: Rcode = Rcode(5);
}

/// The fixed 12-byte header, counts excluded (they follow the sections).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Query id, echoed by the response.
    pub id: u16,
    /// This is a response.
    pub qr: bool,
    /// Kind of query.
    pub opcode: Opcode,
    /// Authoritative answer.
    pub aa: bool,
    /// Truncated: the answer did not fit (retry over TCP).
    pub tc: bool,
    /// Recursion desired.
    pub rd: bool,
    /// Recursion available.
    pub ra: bool,
    /// Authentic data (DNSSEC).
    pub ad: bool,
    /// Checking disabled (DNSSEC).
    pub cd: bool,
    /// The low 4 bits of the response code.
    pub rcode: u8,
}

impl Header {
    fn flags(&self) -> u16 {
        (self.qr as u16) << 15
            | ((self.opcode.0 as u16) & 0xF) << 11
            | (self.aa as u16) << 10
            | (self.tc as u16) << 9
            | (self.rd as u16) << 8
            | (self.ra as u16) << 7
            | (self.ad as u16) << 5
            | (self.cd as u16) << 4
            | (self.rcode as u16 & 0xF)
    }

    fn from_flags(id: u16, f: u16) -> Header {
        Header {
            id,
            qr: f & 0x8000 != 0,
            opcode: Opcode(((f >> 11) & 0xF) as u8),
            aa: f & 0x0400 != 0,
            tc: f & 0x0200 != 0,
            rd: f & 0x0100 != 0,
            ra: f & 0x0080 != 0,
            ad: f & 0x0020 != 0,
            cd: f & 0x0010 != 0,
            rcode: (f & 0xF) as u8,
        }
    }
}

/// An entry of the question section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    /// The name asked about.
    pub name: Name,
    /// The type asked for.
    pub qtype: RecordType,
    /// The class (1 = IN).
    pub qclass: u16,
}

/// A resource record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The owner name.
    pub name: Name,
    /// The class (1 = IN).
    pub class: u16,
    /// Seconds the record may be cached.
    pub ttl: u32,
    /// The type and data.
    pub data: RData,
}

impl Record {
    /// An IN-class record.
    pub fn new(name: Name, ttl: u32, data: RData) -> Record {
        Record {
            name,
            class: CLASS_IN,
            ttl,
            data,
        }
    }

    /// The record's type.
    pub fn record_type(&self) -> RecordType {
        self.data.record_type()
    }
}

/// EDNS0 (RFC 6891) parameters carried by the OPT pseudo-record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edns {
    /// Largest UDP payload the sender can receive.
    pub udp_size: u16,
    /// The upper 8 bits of the 12-bit response code.
    pub ext_rcode: u8,
    /// EDNS version (0).
    pub version: u8,
    /// DNSSEC OK.
    pub dnssec_ok: bool,
    /// Options (code, data).
    pub options: Vec<(u16, Vec<u8>)>,
}

impl Edns {
    /// Version 0 with a payload size and no options.
    pub fn new(udp_size: u16) -> Edns {
        Edns {
            udp_size,
            ext_rcode: 0,
            version: 0,
            dnssec_ok: false,
            options: Vec::new(),
        }
    }
}

/// A DNS message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The header.
    pub header: Header,
    /// The question section.
    pub questions: Vec<Question>,
    /// The answer section.
    pub answers: Vec<Record>,
    /// The authority section.
    pub authorities: Vec<Record>,
    /// The additional section, OPT excluded.
    pub additionals: Vec<Record>,
    /// The OPT pseudo-record, if present.
    pub edns: Option<Edns>,
}

const HEADER_LEN: usize = 12;
/// Smallest possible record: root name, type, class, ttl, rdlength.
const MIN_RECORD: usize = 11;
/// Smallest possible question: root name, type, class.
const MIN_QUESTION: usize = 5;

impl Message {
    /// A recursive query for one question, with a fresh header.
    pub fn query(id: u16, name: Name, qtype: RecordType) -> Message {
        Message {
            header: Header {
                id,
                qr: false,
                opcode: Opcode::QUERY,
                aa: false,
                tc: false,
                rd: true,
                ra: false,
                ad: false,
                cd: false,
                rcode: 0,
            },
            questions: vec![Question {
                name,
                qtype,
                qclass: CLASS_IN,
            }],
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
            edns: None,
        }
    }

    /// The wire form of [`Message::query`]`(id, name, qtype)` with an OPT
    /// record advertising `edns_udp_size` if given: the same bytes as
    /// building the message and calling [`to_bytes`](Self::to_bytes),
    /// without the message (one name needs no compression).
    ///
    /// ```
    /// use runtime::dns::wire::{Edns, Message, Name, RecordType};
    /// let name = Name::from_ascii("WwW.example.com").unwrap();
    /// let mut m = Message::query(7, name.clone(), RecordType::AAAA);
    /// m.edns = Some(Edns::new(1232));
    /// assert_eq!(Message::query_bytes(7, &name, RecordType::AAAA, Some(1232)), m.to_bytes());
    /// ```
    pub fn query_bytes(
        id: u16,
        name: &Name,
        qtype: RecordType,
        edns_udp_size: Option<u16>,
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + name.wire_len() + 4 + 11);
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&0x0100u16.to_be_bytes()); // RD
        let ar = edns_udp_size.is_some() as u16;
        for c in [1, 0, 0, ar] {
            out.extend_from_slice(&c.to_be_bytes());
        }
        out.extend_from_slice(name.as_wire());
        out.extend_from_slice(&qtype.0.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        if let Some(size) = edns_udp_size {
            write_opt(&mut out, &Edns::new(size));
        }
        out
    }

    /// A response to `query`: same id, opcode, RD and question; QR set.
    pub fn response_to(query: &Message, rcode: Rcode) -> Message {
        let mut m = Message {
            header: Header {
                id: query.header.id,
                qr: true,
                opcode: query.header.opcode,
                aa: false,
                tc: false,
                rd: query.header.rd,
                ra: false,
                ad: false,
                cd: query.header.cd,
                rcode: 0,
            },
            questions: query.questions.clone(),
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
            edns: query.edns.as_ref().map(|_| Edns::new(4096)),
        };
        m.set_rcode(rcode);
        m
    }

    /// The full response code (EDNS0 extended bits included).
    pub fn rcode(&self) -> Rcode {
        let ext = self.edns.as_ref().map_or(0, |e| e.ext_rcode as u16);
        Rcode(ext << 4 | self.header.rcode as u16)
    }

    /// Sets the response code (the upper bits go to EDNS0 if present).
    pub fn set_rcode(&mut self, rcode: Rcode) {
        self.header.rcode = (rcode.0 & 0xF) as u8;
        if let Some(e) = &mut self.edns {
            e.ext_rcode = (rcode.0 >> 4) as u8;
        }
    }

    /// Reads a message. Trailing bytes after the last section are ignored.
    pub fn parse(msg: &[u8]) -> Result<Message, WireError> {
        Message::parse_with(msg, true)
    }

    /// [`parse`](Self::parse) with the question section checked but not
    /// kept (`questions` left empty): for a reply whose question the caller
    /// has already compared byte for byte.
    pub(crate) fn parse_skipping_questions(msg: &[u8]) -> Result<Message, WireError> {
        Message::parse_with(msg, false)
    }

    fn parse_with(msg: &[u8], keep_questions: bool) -> Result<Message, WireError> {
        if msg.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let be16 = |p: usize| u16::from_be_bytes([msg[p], msg[p + 1]]);
        let header = Header::from_flags(be16(0), be16(2));
        let counts = [be16(4), be16(6), be16(8), be16(10)];
        // Capacity never exceeds what the message could hold, so a huge
        // count costs nothing before it is found out.
        let room = |min: usize, count: u16| (count as usize).min(msg.len() / min);
        let mut pos = HEADER_LEN;
        let mut questions = Vec::with_capacity(if keep_questions {
            room(MIN_QUESTION, counts[0])
        } else {
            0
        });
        for _ in 0..counts[0] {
            if pos >= msg.len() {
                return Err(WireError::CountOverrun);
            }
            if !keep_questions {
                let p = Name::skip(msg, pos)?;
                msg.get(p..p + 4).ok_or(WireError::Truncated)?;
                pos = p + 4;
                continue;
            }
            let (name, p) = Name::read(msg, pos)?;
            let f = msg.get(p..p + 4).ok_or(WireError::Truncated)?;
            questions.push(Question {
                name,
                qtype: RecordType(u16::from_be_bytes([f[0], f[1]])),
                qclass: u16::from_be_bytes([f[2], f[3]]),
            });
            pos = p + 4;
        }
        let mut sections: [Vec<Record>; 3] = Default::default();
        let mut edns = None;
        for (i, section) in sections.iter_mut().enumerate() {
            let count = counts[i + 1];
            // The additional section often holds only the OPT record,
            // which is lifted out: no room reserved for it up front.
            if i < 2 {
                section.reserve(room(MIN_RECORD, count));
            }
            for _ in 0..count {
                if pos >= msg.len() {
                    return Err(WireError::CountOverrun);
                }
                let (name, p) = Name::read(msg, pos)?;
                let f = msg.get(p..p + 10).ok_or(WireError::Truncated)?;
                let rtype = RecordType(u16::from_be_bytes([f[0], f[1]]));
                let class = u16::from_be_bytes([f[2], f[3]]);
                let ttl = u32::from_be_bytes([f[4], f[5], f[6], f[7]]);
                let rdlen = u16::from_be_bytes([f[8], f[9]]) as usize;
                let start = p + 10;
                if start + rdlen > msg.len() {
                    return Err(WireError::RdataOverrun);
                }
                let data = RData::read(msg, rtype, start, rdlen)?;
                pos = start + rdlen;
                if rtype == RecordType::OPT {
                    if i != 2 || edns.is_some() || !name.is_root() {
                        return Err(WireError::BadOpt);
                    }
                    let options = match data {
                        RData::Opt(o) => o,
                        _ => Vec::new(),
                    };
                    edns = Some(Edns {
                        udp_size: class,
                        ext_rcode: (ttl >> 24) as u8,
                        version: (ttl >> 16) as u8,
                        dnssec_ok: ttl & 0x8000 != 0,
                        options,
                    });
                    continue;
                }
                section.push(Record {
                    name,
                    class,
                    ttl,
                    data,
                });
            }
        }
        let [answers, authorities, additionals] = sections;
        Ok(Message {
            header,
            questions,
            answers,
            authorities,
            additionals,
            edns,
        })
    }

    /// Writes the message, names compressed.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        self.write(&mut out);
        out
    }

    /// Appends the message to `out` (names compressed against this
    /// message only). Messages over 65535 bytes are the caller's to avoid
    /// (see [`Message::to_bytes_limited`]).
    pub fn write(&self, out: &mut Vec<u8>) {
        let base = out.len();
        let mut map = Compression::default();
        out.extend_from_slice(&self.header.id.to_be_bytes());
        out.extend_from_slice(&self.header.flags().to_be_bytes());
        let ar = self.additionals.len() + self.edns.is_some() as usize;
        for c in [
            self.questions.len(),
            self.answers.len(),
            self.authorities.len(),
            ar,
        ] {
            out.extend_from_slice(&(c.min(0xFFFF) as u16).to_be_bytes());
        }
        for q in &self.questions {
            q.name.write_compressed(out, base, &mut map);
            out.extend_from_slice(&q.qtype.0.to_be_bytes());
            out.extend_from_slice(&q.qclass.to_be_bytes());
        }
        for r in self
            .answers
            .iter()
            .chain(&self.authorities)
            .chain(&self.additionals)
        {
            write_record(out, base, &mut map, r);
        }
        if let Some(e) = &self.edns {
            write_opt(out, e);
        }
    }

    /// Writes the message in at most `limit` bytes (512 for plain UDP, or
    /// the client's EDNS0 size): if the whole message is longer, the
    /// answer, authority and additional records are dropped and TC is set
    /// (the client then asks again over TCP). Returns the bytes and
    /// whether they were truncated.
    pub fn to_bytes_limited(&self, limit: usize) -> (Vec<u8>, bool) {
        let full = self.to_bytes();
        if full.len() <= limit {
            return (full, false);
        }
        let mut short = Message {
            header: self.header.clone(),
            questions: self.questions.clone(),
            answers: Vec::new(),
            authorities: Vec::new(),
            additionals: Vec::new(),
            edns: self.edns.clone(),
        };
        short.header.tc = true;
        (short.to_bytes(), true)
    }
}

fn write_record(out: &mut Vec<u8>, base: usize, map: &mut Compression, r: &Record) {
    r.name.write_compressed(out, base, map);
    out.extend_from_slice(&r.record_type().0.to_be_bytes());
    out.extend_from_slice(&r.class.to_be_bytes());
    out.extend_from_slice(&r.ttl.to_be_bytes());
    let len_at = out.len();
    out.extend_from_slice(&[0, 0]);
    r.data.write(out, base, map);
    let len = (out.len() - len_at - 2).min(0xFFFF) as u16;
    out[len_at..len_at + 2].copy_from_slice(&len.to_be_bytes());
}

fn write_opt(out: &mut Vec<u8>, e: &Edns) {
    out.push(0); // root owner
    out.extend_from_slice(&RecordType::OPT.0.to_be_bytes());
    out.extend_from_slice(&e.udp_size.to_be_bytes());
    let ttl = (e.ext_rcode as u32) << 24 | (e.version as u32) << 16 | (e.dnssec_ok as u32) << 15;
    out.extend_from_slice(&ttl.to_be_bytes());
    let len_at = out.len();
    out.extend_from_slice(&[0, 0]);
    RData::Opt(e.options.clone()).write(out, 0, &mut Compression::default());
    let len = (out.len() - len_at - 2) as u16;
    out[len_at..len_at + 2].copy_from_slice(&len.to_be_bytes());
}
