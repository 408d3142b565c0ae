//! cargo-fuzz target (nightly): the request head parser, then the chunked
//! decoder on what follows the head, fed in two pieces.
//! Run: `cd http/fuzz && cargo +nightly fuzz run request`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runtime_http::h1::{parse_request, ChunkedDecoder, Decoded, HeadLimits};

fuzz_target!(|data: &[u8]| {
    let strict = HeadLimits { strict: true, ..HeadLimits::default() };
    let _ = parse_request(data, &strict);
    let body = match parse_request(data, &HeadLimits::default()) {
        Ok(Some((_, len))) => &data[len..],
        _ => data,
    };
    let split = if body.is_empty() { 0 } else { usize::from(body[0]) % body.len() };
    let mut dec = ChunkedDecoder::new();
    for mut piece in [&body[..split], &body[split..]] {
        while !piece.is_empty() {
            match dec.decode(piece) {
                Err(_) => return,
                Ok((used, Decoded::NeedMore)) => {
                    assert_eq!(used, piece.len());
                    piece = &[];
                }
                Ok((used, Decoded::Data(_))) => {
                    assert!(used > 0);
                    piece = &piece[used..];
                }
                Ok((_, Decoded::Done)) => return,
            }
        }
    }
});
