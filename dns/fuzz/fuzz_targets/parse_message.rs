//! Fuzzes the message parser: no input may panic or hang, and whatever
//! parses must re-encode to bytes that parse back to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runtime_dns::wire::Message;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::parse(data) {
        let bytes = m.to_bytes();
        let back = Message::parse(&bytes).expect("re-encoded message parses");
        assert_eq!(m, back);
        assert_eq!(bytes, back.to_bytes());
    }
});
