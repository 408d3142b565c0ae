//! Messages declared with `message!` (libevent's regress.rpc): the exact
//! bytes of a nested struct, generated-decoder semantics (duplicate and
//! unknown tags, completeness), and property tests: random messages
//! round-trip, random and mutated bytes never panic the decoder.

include!("support/regress.rs");

use runtime_rpc::{message, DecodeError, Message, Options, Timeval};

/// xorshift64*: deterministic, so a failure is reproducible from its seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn string(&mut self) -> String {
        let len = self.below(40) as usize;
        (0..len)
            .map(|_| char::from_u32(self.below(0x800) as u32 + 1).unwrap_or('x'))
            .collect()
    }
    fn bytes(&mut self, max: u64) -> Vec<u8> {
        let len = self.below(max) as usize;
        (0..len).map(|_| self.next() as u8).collect()
    }
    /// Integers of every encoded length, not only huge ones.
    fn int64(&mut self) -> u64 {
        self.next() >> self.below(64)
    }
}

fn random_msg(rng: &mut Rng) -> Msg {
    let mut msg = Msg {
        from_name: Some(rng.string()),
        to_name: Some(rng.string()),
        ..Msg::default()
    };
    if rng.below(2) == 0 {
        msg.attack = Some(Kill {
            weapon: Some(rng.string()),
            action: Some(rng.string()),
            how_often: (0..rng.below(5)).map(|_| rng.int64() as u32).collect(),
        });
    }
    for _ in 0..rng.below(4) {
        let mut fixed = [0u8; 24];
        fixed.iter_mut().for_each(|b| *b = rng.next() as u8);
        msg.run.push(Run {
            how: Some(rng.string()),
            some_bytes: (rng.below(2) == 0).then(|| rng.bytes(300)),
            fixed_bytes: Some(fixed),
            notes: (0..rng.below(3)).map(|_| rng.string()).collect(),
            large_number: (rng.below(2) == 0).then(|| rng.int64()),
            other_numbers: (0..rng.below(4)).map(|_| rng.int64() as u32).collect(),
        });
    }
    msg
}

fn kill(weapon: &str, action: &str) -> Kill {
    Kill {
        weapon: Some(weapon.into()),
        action: Some(action.into()),
        how_often: vec![],
    }
}

#[test]
fn nested_struct_bytes_match_libevent() {
    let msg = Msg {
        from_name: Some("a".into()),
        to_name: Some("b".into()),
        attack: Some(kill("sword", "slash")),
        run: vec![],
    };
    let bytes = msg.marshal();
    let mut want = vec![0x01, 0x01, b'a', 0x02, 0x01, b'b'];
    want.extend_from_slice(&[0x03, 0x10, 0x10, 0xa1, 0x82, 0x04, 0x05]);
    want.extend_from_slice(b"sword");
    want.extend_from_slice(&[0x02, 0x05]);
    want.extend_from_slice(b"slash");
    assert_eq!(bytes, want);
    assert_eq!(Msg::unmarshal(&bytes).unwrap(), msg);
}

#[test]
fn arrays_are_repeated_tags_and_optional_fields_are_omitted() {
    let k = Kill {
        how_often: vec![1, 300],
        ..kill("w", "a")
    };
    let bytes = k.marshal();
    let want: &[u8] = &[
        0xa1, 0x82, 0x04, 0x01, b'w', 0x02, 0x01, b'a', 0x03, 0x01, 0x01, 0x03, 0x02, 0x2c, 0x21,
    ];
    assert_eq!(bytes, want);
    let msg = Msg {
        from_name: Some("a".into()),
        to_name: Some("b".into()),
        ..Msg::default()
    };
    assert_eq!(msg.marshal(), [0x01, 0x01, b'a', 0x02, 0x01, b'b']);
}

#[test]
fn generated_decoder_semantics() {
    let good = [0x01, 0x01, b'a', 0x02, 0x01, b'b'];
    assert!(Msg::unmarshal(&good).is_ok());
    // A repeated non-array tag.
    let dup = [0x01, 0x01, b'a', 0x02, 0x01, b'b', 0x01, 0x01, b'c'];
    assert_eq!(
        Msg::unmarshal(&dup),
        Err(DecodeError::DuplicateTag {
            message: "Msg",
            tag: 1
        })
    );
    // An unknown tag: an error, unless skipping is asked for.
    let unknown = [0x01, 0x01, b'a', 0x09, 0x01, 0x00, 0x02, 0x01, b'b'];
    assert_eq!(
        Msg::unmarshal(&unknown),
        Err(DecodeError::UnknownTag {
            message: "Msg",
            tag: 9
        })
    );
    let skip = Options { skip_unknown: true };
    let msg = Msg::unmarshal_with(&unknown, &skip).unwrap();
    assert_eq!(msg.to_name.as_deref(), Some("b"));
    // An unknown tag whose length runs past the end is still refused.
    assert!(Msg::unmarshal_with(&[0x09, 0x05, 0x00], &skip).is_err());
    // Required fields missing, here and inside a nested struct.
    assert_eq!(
        Msg::unmarshal(&[0x01, 0x01, b'a']),
        Err(DecodeError::Incomplete {
            message: "Msg",
            field: "to_name"
        })
    );
    let mut partial = Msg::unmarshal(&good).unwrap();
    partial.attack = Some(Kill {
        weapon: Some("w".into()),
        ..Kill::default()
    });
    assert!(!partial.complete());
    assert_eq!(partial.missing_field(), Some("action"));
    assert!(matches!(
        Msg::unmarshal(&partial.marshal()),
        Err(DecodeError::Incomplete {
            message: "Kill",
            field: "action"
        })
    ));
    // A fixed-length field of the wrong size.
    let mut run = Run {
        how: Some("h".into()),
        fixed_bytes: Some([7; 24]),
        ..Run::default()
    };
    let mut bytes = run.marshal();
    bytes[4] = 23; // the fixed field's length byte: 0x17 = 23 (2 nibbles)
    bytes[5] = 0x10;
    assert!(Run::unmarshal(&bytes).is_err());
    run.clear();
    assert_eq!(run, Run::default());
}

message! {
    /// Every field type, for the round trip.
    struct Everything {
        required a: u32 = 1,
        required b: u64 = 2,
        required c: String = 3,
        required d: Vec<u8> = 4,
        required e: [u8; 3] = 5,
        required f: Timeval = 0xffff_ffff,
        optional g: Kill = 0x80,
        array h: Timeval = 7,
    }
}

#[test]
fn every_field_type_round_trips() {
    let e = Everything {
        a: Some(u32::MAX),
        b: Some(u64::MAX),
        c: Some("ünïcode".into()),
        d: Some(vec![0; 1000]),
        e: Some([1, 2, 3]),
        f: Some(Timeval::new(5, 250_000)),
        g: Some(kill("x", "y")),
        h: vec![Timeval::new(0, 0), Timeval::new(u32::MAX, 999_999)],
    };
    let bytes = e.marshal();
    assert_eq!(Everything::unmarshal(&bytes).unwrap(), e);
    assert_eq!(
        std::time::Duration::from(Timeval::new(5, 250_000)),
        std::time::Duration::from_micros(5_250_000)
    );
}

#[test]
fn random_messages_round_trip() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..2000 {
        let msg = random_msg(&mut rng);
        let bytes = msg.marshal();
        assert_eq!(Msg::unmarshal(&bytes).unwrap(), msg);
    }
}

#[test]
fn random_and_mutated_bytes_never_panic() {
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    let mut ok = 0;
    for i in 0..20_000 {
        let bytes = if i % 2 == 0 {
            rng.bytes(200)
        } else {
            let mut b = random_msg(&mut rng).marshal();
            match rng.below(4) {
                0 => {
                    let at = rng.below(b.len() as u64) as usize;
                    b[at] = rng.next() as u8;
                }
                1 => b.truncate(rng.below(b.len() as u64) as usize),
                2 => {
                    let at = rng.below(b.len() as u64 + 1) as usize;
                    b.insert(at, rng.next() as u8);
                }
                _ => {
                    let at = rng.below(b.len() as u64) as usize;
                    b[at] ^= 1 << rng.below(8);
                }
            }
            b
        };
        // Whatever decodes must re-encode to something that decodes to
        // the same message.
        for skip_unknown in [false, true] {
            if let Ok(msg) = Msg::unmarshal_with(&bytes, &Options { skip_unknown }) {
                ok += 1;
                assert_eq!(Msg::unmarshal(&msg.marshal()).unwrap(), msg);
            }
        }
    }
    // The mutations leave some messages valid; the property is not vacuous.
    assert!(ok > 0);
}
