//! The evtag codec against the byte sequences of libevent 2.1.12
//! (reference §1.9), and its failure paths.

use runtime_rpc::tag::{self, Reader};
use runtime_rpc::DecodeError;

fn int(v: u32) -> Vec<u8> {
    let mut out = Vec::new();
    tag::encode_int(&mut out, v);
    out
}

fn int64(v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    tag::encode_int64(&mut out, v);
    out
}

fn tag_bytes(t: u32) -> Vec<u8> {
    let mut out = Vec::new();
    tag::encode_tag(&mut out, t);
    out
}

#[test]
fn integers_match_libevent() {
    let cases: &[(u32, &[u8])] = &[
        (0, &[0x00]),
        (1, &[0x01]),
        (0xf, &[0x0f]),
        (0x10, &[0x10, 0x10]),
        (0x12, &[0x12, 0x10]),
        (0xff, &[0x1f, 0xf0]),
        (0x123, &[0x23, 0x21]),
        (300, &[0x2c, 0x21]),
        (0x1000, &[0x30, 0x00, 0x10]),
        (0xdead_beef, &[0x7f, 0xee, 0xbd, 0xae, 0xd0]),
        (0xffff_ffff, &[0x7f, 0xff, 0xff, 0xff, 0xf0]),
    ];
    for &(v, bytes) in cases {
        assert_eq!(int(v), bytes, "{v:#x}");
        assert_eq!(tag::int_len(u64::from(v)), bytes.len());
        let mut r = Reader::new(bytes);
        assert_eq!(r.read_int().unwrap(), v);
        assert!(r.is_empty());
    }
    let max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf0];
    assert_eq!(int64(u64::MAX), max);
    assert_eq!(Reader::new(&max).read_int64().unwrap(), u64::MAX);
}

#[test]
fn tags_match_libevent() {
    let cases: &[(u32, &[u8])] = &[
        (1, &[0x01]),
        (0x7f, &[0x7f]),
        (0x80, &[0x80, 0x01]),
        (0x166, &[0xe6, 0x02]),
        (0x10121, &[0xa1, 0x82, 0x04]),
        (u32::MAX, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
    ];
    for &(t, bytes) in cases {
        assert_eq!(tag_bytes(t), bytes, "{t:#x}");
        let mut r = Reader::new(bytes);
        assert_eq!(r.peek_tag().unwrap(), t);
        assert_eq!(r.read_tag().unwrap(), t);
        assert!(r.is_empty());
    }
}

#[test]
fn tagged_elements_match_libevent() {
    let mut out = Vec::new();
    tag::marshal_int(&mut out, 1, 300);
    assert_eq!(out, [0x01, 0x02, 0x2c, 0x21]);
    assert_eq!(Reader::new(&out).read_tagged_int(1).unwrap(), 300);

    out.clear();
    tag::marshal_string(&mut out, 2, "hi");
    assert_eq!(out, [0x02, 0x02, 0x68, 0x69]);
    assert_eq!(Reader::new(&out).read_tagged_string(2).unwrap(), "hi");

    out.clear();
    tag::marshal_timeval(&mut out, 3, 5, 250_000);
    assert_eq!(out, [0x03, 0x04, 0x05, 0x40, 0x90, 0xd3]);
    assert_eq!(
        Reader::new(&out).read_tagged_timeval(3).unwrap(),
        (5, 250_000)
    );

    // regress evtag/peek: element sizes 3 and 13.
    out.clear();
    tag::marshal_int(&mut out, 30, 0);
    assert_eq!(out, [0x1e, 0x01, 0x00]);
    tag::marshal_string(&mut out, 40, "Hello world");
    assert_eq!(&out[3..5], [0x28, 0x0b]);
    assert_eq!(out.len(), 3 + 13);
    let mut r = Reader::new(&out);
    assert_eq!(r.peek_tag().unwrap(), 30);
    r.skip().unwrap();
    assert_eq!(r.remaining().len(), 13);
    assert_eq!(r.read_tagged_string(40).unwrap(), "Hello world");
}

#[test]
fn nested_blob_matches_libevent() {
    // kill { weapon = 0x10121: "sword", action = 2: "slash" } as tag 3.
    let mut out = Vec::new();
    tag::marshal_with(&mut out, 3, |out| {
        tag::marshal_string(out, 0x10121, "sword");
        tag::marshal_string(out, 2, "slash");
    });
    let mut want = vec![0x03, 0x10, 0x10, 0xa1, 0x82, 0x04, 0x05];
    want.extend_from_slice(b"sword");
    want.extend_from_slice(&[0x02, 0x05]);
    want.extend_from_slice(b"slash");
    assert_eq!(out, want);
    // A payload of 16 bytes or more has a two-byte length: the splice in
    // marshal_with must move the body.
    out.clear();
    tag::marshal_with(&mut out, 7, |out| out.extend_from_slice(&[9; 300]));
    assert_eq!(&out[..3], [0x07, 0x2c, 0x21]);
    assert_eq!(out.len(), 3 + 300);
    assert_eq!(Reader::new(&out).read_expected(7).unwrap(), &[9u8; 300][..]);
}

#[test]
fn non_minimal_integers_are_accepted() {
    // 5 written with 3 nibbles: header 2, nibbles 5, 0, 0.
    assert_eq!(Reader::new(&[0x25, 0x00]).read_int().unwrap(), 5);
}

#[test]
fn bad_input_gives_typed_errors() {
    // A length beyond what remains.
    let mut r = Reader::new(&[0x01, 0x05, b'a', b'b']);
    assert_eq!(
        r.read_element(),
        Err(DecodeError::LengthBeyondMessage {
            length: 5,
            remaining: 2
        })
    );
    // A hostile length of 0xffffffff over a tiny message.
    let hostile = [0x01, 0x7f, 0xff, 0xff, 0xff, 0xf0, 0x00];
    assert!(matches!(
        Reader::new(&hostile).read_element(),
        Err(DecodeError::LengthBeyondMessage {
            length: u32::MAX,
            remaining: 1
        })
    ));
    // Tags over 32 bits: a fifth byte above 15, or a sixth byte.
    assert_eq!(
        Reader::new(&[0xff, 0xff, 0xff, 0xff, 0x10]).read_tag(),
        Err(DecodeError::TagTooLarge)
    );
    assert_eq!(
        Reader::new(&[0x80, 0x80, 0x80, 0x80, 0x81, 0x00]).read_tag(),
        Err(DecodeError::TagTooLarge)
    );
    // A tag cut short.
    assert!(matches!(
        Reader::new(&[0x80, 0x80]).read_tag(),
        Err(DecodeError::Truncated { .. })
    ));
    assert!(matches!(
        Reader::new(&[]).read_tag(),
        Err(DecodeError::Truncated { .. })
    ));
    // Integers with too many nibbles: 9 for 32 bits, 17 is impossible (the
    // header holds at most 16) so check 64-bit accepts 16.
    let nine = [0x81, 0, 0, 0, 0];
    assert_eq!(
        Reader::new(&nine).read_int(),
        Err(DecodeError::IntegerTooLong { nibbles: 9, max: 8 })
    );
    assert_eq!(Reader::new(&nine).read_int64().unwrap(), 1);
    // An integer cut short.
    assert_eq!(
        Reader::new(&[0x7f, 0xff]).read_int(),
        Err(DecodeError::Truncated {
            needed: 5,
            remaining: 2
        })
    );
    // A tagged int whose encoding runs past its payload.
    assert!(matches!(
        Reader::new(&[0x01, 0x01, 0x12, 0x10]).read_tagged_int(1),
        Err(DecodeError::Truncated { .. })
    ));
    // The wrong tag.
    assert_eq!(
        Reader::new(&[0x02, 0x01, 0x00]).read_tagged_int(1),
        Err(DecodeError::UnexpectedTag {
            expected: 1,
            found: 2
        })
    );
    // A string that is not UTF-8.
    assert_eq!(
        Reader::new(&[0x02, 0x02, 0xff, 0xfe]).read_tagged_string(2),
        Err(DecodeError::InvalidUtf8 { tag: 2 })
    );
    // A timeval with one integer.
    assert!(Reader::new(&[0x03, 0x01, 0x05])
        .read_tagged_timeval(3)
        .is_err());
}
