//! cargo-fuzz target (nightly): the evtag decoder on arbitrary bytes —
//! regress.rpc's `msg` (nested `kill`, an array of `run`s with fixed and
//! variable bytes, 64-bit ints) decoded strictly and skipping unknown
//! tags, and the raw element reader walking the input. Checks: no panic;
//! whatever decodes re-encodes to bytes that decode to the same message;
//! every payload lies within the input (a hostile length allocates
//! nothing beyond it).
//! Run: `cd rpc/fuzz && cargo +nightly fuzz run decode`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runtime_rpc::tag::{self, Reader};
use runtime_rpc::{Message, Options};

include!(concat!(env!("OUT_DIR"), "/regress.rs"));

fn round_trip<M: Message + PartialEq + std::fmt::Debug>(data: &[u8]) {
    for options in [Options::default(), Options { skip_unknown: true }] {
        if let Ok(msg) = M::unmarshal_with(data, &options) {
            assert!(msg.complete());
            let again = msg.marshal();
            // Canonical (minimal) encodings: never longer than the input.
            assert!(again.len() <= data.len());
            assert_eq!(M::unmarshal(&again).expect("re-encoded message decodes"), msg);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    round_trip::<Msg>(data);
    round_trip::<Kill>(data);
    round_trip::<Run>(data);

    let mut reader = Reader::new(data);
    while !reader.is_empty() {
        let Ok((_, payload)) = reader.read_element() else { break };
        let base = data.as_ptr() as usize;
        let p = payload.as_ptr() as usize;
        assert!(p >= base && p + payload.len() <= base + data.len());
        let _ = tag::decode_int_payload(payload);
        let _ = tag::decode_int64_payload(payload);
        let _ = tag::decode_timeval_payload(payload);
    }
    let _ = tag::decode_tag_prefix(data);
    let _ = tag::decode_int_prefix(data, 16);
});
