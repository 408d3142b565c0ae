//! A stable property test of the wire codec, with its own seeded PRNG
//! (xorshift64*) and bounded counts: random messages round-trip exactly;
//! random bytes and mutations of valid messages never panic, and whatever
//! parses re-encodes to a message that parses back the same.

use runtime_dns::wire::{Edns, Header, Message, Name, Opcode, Question, RData, Record, RecordType};
use std::time::{Duration, Instant};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bool(&mut self) -> bool {
        self.next() & 1 == 1
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// A name from a small vocabulary (so compression kicks in), sometimes
/// with odd bytes and mixed case.
fn name(r: &mut Rng) -> Name {
    const WORDS: [&[u8]; 6] = [b"www", b"Example", b"com", b"a", b"mail", b"x-y_z"];
    let n = r.below(5) as usize;
    let mut labels: Vec<Vec<u8>> = Vec::new();
    for _ in 0..n {
        let l = match r.below(8) {
            0 => {
                let len = 1 + r.below(63) as usize;
                r.bytes(len)
            }
            _ => WORDS[r.below(WORDS.len() as u64) as usize].to_vec(),
        };
        labels.push(l);
    }
    Name::from_labels(&labels).unwrap_or_else(|_| Name::root())
}

fn rdata(r: &mut Rng) -> RData {
    match r.below(11) {
        0 => RData::A((r.next() as u32).into()),
        1 => RData::Aaaa((r.next() as u128 * r.next() as u128).into()),
        2 => RData::Cname(name(r)),
        3 => RData::Ns(name(r)),
        4 => RData::Ptr(name(r)),
        5 => RData::Mx {
            preference: r.next() as u16,
            exchange: name(r),
        },
        6 => {
            let n = r.below(4) as usize;
            RData::Txt(
                (0..n)
                    .map(|_| {
                        let len = r.below(256) as usize;
                        r.bytes(len)
                    })
                    .collect(),
            )
        }
        7 => RData::Srv {
            priority: r.next() as u16,
            weight: r.next() as u16,
            port: r.next() as u16,
            target: name(r),
        },
        8 => RData::Soa {
            mname: name(r),
            rname: name(r),
            serial: r.next() as u32,
            refresh: r.next() as u32,
            retry: r.next() as u32,
            expire: r.next() as u32,
            minimum: r.next() as u32,
        },
        9 => {
            let len = r.below(40) as usize;
            RData::Unknown(RecordType(100 + r.below(100) as u16), r.bytes(len))
        }
        _ => RData::A([127, 0, 0, 1].into()),
    }
}

fn records(r: &mut Rng, max: u64) -> Vec<Record> {
    (0..r.below(max))
        .map(|_| Record {
            name: name(r),
            class: 1,
            ttl: r.next() as u32,
            data: rdata(r),
        })
        .collect()
}

fn message(r: &mut Rng) -> Message {
    Message {
        header: Header {
            id: r.next() as u16,
            qr: r.bool(),
            opcode: Opcode(r.below(16) as u8),
            aa: r.bool(),
            tc: r.bool(),
            rd: r.bool(),
            ra: r.bool(),
            ad: r.bool(),
            cd: r.bool(),
            rcode: r.below(16) as u8,
        },
        questions: (0..r.below(3))
            .map(|_| Question {
                name: name(r),
                qtype: RecordType(r.next() as u16),
                qclass: 1,
            })
            .collect(),
        answers: records(r, 6),
        authorities: records(r, 3),
        additionals: records(r, 3),
        edns: if r.bool() {
            Some(Edns {
                udp_size: r.next() as u16,
                ext_rcode: r.next() as u8,
                version: 0,
                dnssec_ok: r.bool(),
                options: vec![(10, r.bytes(8))],
            })
        } else {
            None
        },
    }
}

/// Exact equality, name case included (Name's `==` ignores case).
fn same_bytes(a: &Message, b: &Message) -> bool {
    a == b && a.to_bytes() == b.to_bytes()
}

const BUDGET: Duration = Duration::from_secs(20);

#[test]
fn random_messages_round_trip() {
    let start = Instant::now();
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    for i in 0..3000 {
        let m = message(&mut r);
        let bytes = m.to_bytes();
        let back = Message::parse(&bytes).unwrap_or_else(|e| panic!("case {i}: {e}: {m:?}"));
        assert!(same_bytes(&m, &back), "case {i}: {m:?}\n{back:?}");
        // Case survives exactly (0x20 relies on it).
        for (q, bq) in m.questions.iter().zip(&back.questions) {
            assert!(q.name.eq_case_sensitive(&bq.name));
        }
        assert!(start.elapsed() < BUDGET, "property test over budget");
    }
}

#[test]
fn compression_shrinks_repeated_names() {
    let n = Name::from_ascii("www.example.com").unwrap();
    let mut m = Message::query(1, n.clone(), RecordType::A);
    for i in 0..10 {
        m.answers
            .push(Record::new(n.clone(), 60, RData::A([10, 0, 0, i].into())));
    }
    let bytes = m.to_bytes();
    // 12 header + 21 question + 10 x (2 pointer + 10 fixed + 4 data).
    assert_eq!(bytes.len(), 12 + 21 + 10 * 16);
}

fn check_no_panic_and_stable(bytes: &[u8]) {
    if let Ok(m) = Message::parse(bytes) {
        let again = m.to_bytes();
        let back = Message::parse(&again).expect("a parsed message re-encodes to a valid one");
        assert!(same_bytes(&m, &back));
    }
}

#[test]
fn random_bytes_and_mutations_never_panic() {
    let start = Instant::now();
    let mut r = Rng(0xD1B5_4A32_D192_ED03);
    for _ in 0..5000 {
        let len = r.below(300) as usize;
        check_no_panic_and_stable(&r.bytes(len));
    }
    for _ in 0..1500 {
        let valid = message(&mut r).to_bytes();
        for _ in 0..10 {
            let mut b = valid.clone();
            match r.below(5) {
                0 => {
                    let at = r.below(b.len() as u64) as usize;
                    b[at] = r.next() as u8;
                }
                1 => {
                    let at = r.below(b.len() as u64) as usize;
                    b.truncate(at);
                }
                2 => {
                    // A random compression pointer anywhere.
                    let at = r.below(b.len() as u64 - 1) as usize;
                    b[at] = 0xC0 | (r.below(4) as u8);
                    b[at + 1] = r.next() as u8;
                }
                3 => {
                    let at = r.below(b.len() as u64) as usize;
                    let n = 1 + r.below(8) as usize;
                    let extra = r.bytes(n);
                    b.splice(at..at, extra);
                }
                _ => {
                    // Counts scrambled.
                    let at = 4 + r.below(8) as usize;
                    b[at] = r.next() as u8;
                }
            }
            check_no_panic_and_stable(&b);
        }
        assert!(start.elapsed() < BUDGET, "property test over budget");
    }
}
