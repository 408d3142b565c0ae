//! The wire codec against hostile messages: a table of malformed inputs,
//! each rejected with its own typed error, plus name-text errors.

use runtime_dns::wire::{Message, Name, RData, RecordType, WireError};

/// A response header with the given section counts.
fn header(qd: u16, an: u16, ns: u16, ar: u16) -> Vec<u8> {
    let mut h = vec![0x12, 0x34, 0x81, 0x80];
    for c in [qd, an, ns, ar] {
        h.extend_from_slice(&c.to_be_bytes());
    }
    h
}

/// `a.` IN A, as a question (7 bytes).
fn question_a() -> Vec<u8> {
    vec![1, b'a', 0, 0, 1, 0, 1]
}

/// Type, class IN, TTL 60 and RDLENGTH.
fn fixed(rtype: u16, rdlen: u16) -> Vec<u8> {
    let mut v = rtype.to_be_bytes().to_vec();
    v.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
    v.extend_from_slice(&rdlen.to_be_bytes());
    v
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn long_label(n: usize) -> Vec<u8> {
    let mut v = vec![n as u8];
    v.extend(std::iter::repeat_n(b'x', n));
    v
}

#[test]
fn malformed_messages_are_typed_errors() {
    // Offsets: header 0..12, question 12..19, first answer at 19.
    let a1_pointer_name = [0xC0u8, 12];
    let mut three_63 = Vec::new();
    for _ in 0..3 {
        three_63.extend(long_label(63));
    }
    three_63.push(0);
    let cases: Vec<(&str, Vec<u8>, WireError)> = vec![
        ("short header", vec![0; 11], WireError::Truncated),
        (
            "question name cut",
            cat(&[&header(1, 0, 0, 0), &[3, b'a', b'b']]),
            WireError::Truncated,
        ),
        (
            "question type cut",
            cat(&[&header(1, 0, 0, 0), &[1, b'a', 0, 0, 1]]),
            WireError::Truncated,
        ),
        (
            "pointer to itself",
            cat(&[&header(1, 0, 0, 0), &[0xC0, 12, 0, 1, 0, 1]]),
            WireError::PointerLoop,
        ),
        (
            // Answer 2 at 35 points back to 31 (answer 1's opaque data),
            // which holds label "x" and a pointer back to 35.
            "pointer loop over two hops",
            cat(&[
                &header(1, 2, 0, 0),
                &question_a(),
                &a1_pointer_name,
                &fixed(99, 4),
                &[1, b'x', 0xC0, 35],
                &[0xC0, 31],
                &fixed(1, 4),
                &[127, 0, 0, 1],
            ]),
            WireError::PointerLoop,
        ),
        (
            "forward pointer",
            cat(&[&header(1, 0, 0, 0), &[0xC0, 14, 1, b'a', 0, 0, 1, 0, 1]]),
            WireError::PointerForward,
        ),
        (
            "pointer past the end",
            cat(&[&header(1, 0, 0, 0), &[0xC0, 0xF0, 0, 1, 0, 1]]),
            WireError::PointerOutOfBounds,
        ),
        (
            "pointer cut in half",
            cat(&[&header(1, 1, 0, 0), &question_a(), &[0xC0]]),
            WireError::Truncated,
        ),
        (
            "label of 64 bytes (type bits 01)",
            cat(&[&header(1, 0, 0, 0), &long_label(64), &[0, 0, 1, 0, 1]]),
            WireError::BadLabelType,
        ),
        (
            "label type 10",
            cat(&[&header(1, 0, 0, 0), &[0x80, 0, 0, 1, 0, 1]]),
            WireError::BadLabelType,
        ),
        (
            "name over 255 bytes",
            cat(&[
                &header(1, 0, 0, 0),
                &long_label(63),
                &long_label(63),
                &long_label(63),
                &long_label(63),
                &[0, 0, 1, 0, 1],
            ]),
            WireError::NameTooLong,
        ),
        (
            // 3 x 63 in the question (193 bytes), then 64 more through a
            // pointer: 257 bytes once expanded.
            "name over 255 bytes through compression",
            cat(&[
                &header(1, 1, 0, 0),
                &three_63,
                &[0, 1, 0, 1],
                &long_label(63),
                &[0xC0, 12],
                &fixed(1, 4),
                &[127, 0, 0, 1],
            ]),
            WireError::NameTooLong,
        ),
        (
            "answer count larger than the message",
            cat(&[&header(1, 5, 0, 0), &question_a()]),
            WireError::CountOverrun,
        ),
        (
            "question count 65535",
            cat(&[&header(0xFFFF, 0, 0, 0), &question_a()]),
            WireError::CountOverrun,
        ),
        (
            "rdlength past the end",
            cat(&[
                &header(1, 1, 0, 0),
                &question_a(),
                &a1_pointer_name,
                &fixed(1, 100),
                &[127, 0, 0, 1],
            ]),
            WireError::RdataOverrun,
        ),
        (
            "A record of 5 bytes",
            cat(&[
                &header(1, 1, 0, 0),
                &question_a(),
                &a1_pointer_name,
                &fixed(1, 5),
                &[127, 0, 0, 1, 9],
            ]),
            WireError::RdataLength,
        ),
        (
            "AAAA record of 4 bytes",
            cat(&[
                &header(1, 1, 0, 0),
                &question_a(),
                &a1_pointer_name,
                &fixed(28, 4),
                &[127, 0, 0, 1],
            ]),
            WireError::RdataLength,
        ),
        (
            "MX exchange running past its rdlength",
            cat(&[
                &header(1, 1, 0, 0),
                &question_a(),
                &a1_pointer_name,
                &fixed(15, 4),
                &[0, 10, 3, b'm', b'x', b'x', 0],
            ]),
            WireError::RdataLength,
        ),
        (
            "CNAME with bytes after its name",
            cat(&[
                &header(1, 1, 0, 0),
                &question_a(),
                &a1_pointer_name,
                &fixed(5, 4),
                &[0xC0, 12, 7, 7],
            ]),
            WireError::RdataLength,
        ),
        (
            "TXT string longer than its rdata",
            cat(&[
                &header(1, 1, 0, 0),
                &question_a(),
                &a1_pointer_name,
                &fixed(16, 3),
                &[9, b'h', b'i'],
            ]),
            WireError::RdataLength,
        ),
        (
            "SOA cut short",
            cat(&[
                &header(1, 1, 0, 0),
                &question_a(),
                &a1_pointer_name,
                &fixed(6, 6),
                &[0, 0, 0, 0, 0, 1],
            ]),
            WireError::RdataLength,
        ),
        (
            "record cut inside its fixed fields",
            cat(&[
                &header(1, 1, 0, 0),
                &question_a(),
                &a1_pointer_name,
                &[0, 1, 0, 1, 0, 0, 0, 60, 0],
            ]),
            WireError::Truncated,
        ),
        (
            "two OPT records",
            cat(&[
                &header(1, 0, 0, 2),
                &question_a(),
                &[0],
                &fixed(41, 0),
                &[0],
                &fixed(41, 0),
            ]),
            WireError::BadOpt,
        ),
        (
            "OPT in the answer section",
            cat(&[&header(1, 1, 0, 0), &question_a(), &[0], &fixed(41, 0)]),
            WireError::BadOpt,
        ),
        (
            "OPT option longer than its rdata",
            cat(&[
                &header(1, 0, 0, 1),
                &question_a(),
                &[0],
                &fixed(41, 4),
                &[0, 10, 0, 9],
            ]),
            WireError::RdataLength,
        ),
    ];
    for (what, bytes, want) in &cases {
        assert_eq!(Message::parse(bytes).err(), Some(*want), "case: {what}");
    }
}

#[test]
fn valid_message_with_compression_and_every_type_parses() {
    // The table's shapes are malformed only by the one thing each case
    // breaks: the same layout with a good answer parses.
    let good = cat(&[
        &header(1, 1, 0, 0),
        &question_a(),
        &[0xC0, 12],
        &fixed(1, 4),
        &[127, 0, 0, 1],
    ]);
    let m = Message::parse(&good).unwrap();
    assert_eq!(m.answers[0].name, Name::from_ascii("a").unwrap());
    assert_eq!(m.answers[0].data, RData::A([127, 0, 0, 1].into()));
}

#[test]
fn name_text_errors() {
    let l64 = "x".repeat(64);
    assert_eq!(Name::from_ascii(&l64).err(), Some(WireError::LabelTooLong));
    assert!(Name::from_ascii(&"x".repeat(63)).is_ok());
    let long = vec!["y".repeat(63); 4].join(".");
    assert_eq!(Name::from_ascii(&long).err(), Some(WireError::NameTooLong));
    // 3 x 64 + 62 + 1 + 1 = 256 bytes: one too many; 61 fits exactly (255).
    let edge = format!("{}.{}", vec!["y".repeat(63); 3].join("."), "z".repeat(62));
    assert_eq!(Name::from_ascii(&edge).err(), Some(WireError::NameTooLong));
    let fits = format!("{}.{}", vec!["y".repeat(63); 3].join("."), "z".repeat(61));
    assert_eq!(Name::from_ascii(&fits).unwrap().wire_len(), 255);
    assert_eq!(Name::from_ascii("a..b").err(), Some(WireError::EmptyLabel));
    assert_eq!(Name::from_ascii("a\\").err(), Some(WireError::BadEscape));
    assert_eq!(Name::from_ascii("a\\999").err(), Some(WireError::BadEscape));
    let escaped = Name::from_ascii("a\\.b.c").unwrap();
    assert_eq!(escaped.label_count(), 2);
    assert_eq!(escaped.to_string(), "a\\.b.c.");
    assert_eq!(RecordType::from_name("aaaa"), Some(RecordType::AAAA));
    assert_eq!(RecordType::from_name("TYPE65"), Some(RecordType(65)));
}
