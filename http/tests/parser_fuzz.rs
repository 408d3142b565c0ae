//! A property test on stable: random and mutated requests into the head
//! parser and the chunked decoder. Nothing may panic, every decode call
//! makes progress (no hang), and valid input still parses. Bounded: a fixed
//! number of cases from a fixed seed (override with HTTP_FUZZ_CASES).

use runtime_http::h1::{parse_request, ChunkedDecoder, Decoded, HeadLimits};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const SEEDS: &[&[u8]] = &[
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"POST /x?y=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
    b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;e=1\r\nhello\r\n0\r\nT: v\r\n\r\n",
    b"GET / HTTP/1.0\r\nConnection: keep-alive\r\nExpect: 100-continue\r\n\r\n",
];

const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b":",
    b" ",
    b"\t",
    b"\0",
    b"\x7f",
    b"\xff",
    b"chunked",
    b",",
    b";",
    b"Content-Length: ",
    b"Transfer-Encoding: ",
    b"0\r\n\r\n",
    b"ffffffffffffffff",
    b"HTTP/1.1",
];

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(6) {
        let pos = if v.is_empty() { 0 } else { rng.below(v.len()) };
        match rng.below(5) {
            0 if !v.is_empty() => v[pos] = rng.next() as u8,
            1 if !v.is_empty() => {
                v.remove(pos);
            }
            2 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                v.splice(pos..pos, t.iter().copied());
            }
            3 if !v.is_empty() => {
                let end = (pos + rng.below(16)).min(v.len());
                let dup = v[pos..end].to_vec();
                v.splice(pos..pos, dup);
            }
            _ => v.insert(pos, rng.next() as u8),
        }
    }
    v
}

fn check_chunked(data: &[u8], rng: &mut Rng) {
    let mut dec = ChunkedDecoder::new();
    let mut rest = data;
    // Fed in random pieces; every call uses bytes or asks for more.
    while !rest.is_empty() {
        let piece = &rest[..1 + rng.below(rest.len())];
        match dec.decode(piece) {
            Err(_) => return,
            Ok((used, Decoded::NeedMore)) => {
                assert_eq!(used, piece.len(), "NeedMore must use the whole piece");
                rest = &rest[used..];
            }
            Ok((used, Decoded::Data(d))) => {
                assert!(used > 0 && !d.is_empty() && used <= piece.len());
                rest = &rest[used..];
            }
            Ok((used, Decoded::Done)) => {
                assert!(used <= piece.len());
                return;
            }
        }
    }
}

#[test]
fn random_and_mutated_requests_never_panic_or_hang() {
    let cases: usize = std::env::var("HTTP_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let limits = HeadLimits::default();
    let strict = HeadLimits {
        strict: true,
        ..HeadLimits::default()
    };
    let t0 = std::time::Instant::now();
    for i in 0..cases {
        let input = if i % 4 == 0 {
            (0..rng.below(256)).map(|_| rng.next() as u8).collect()
        } else {
            let seed = SEEDS[rng.below(SEEDS.len())];
            mutate(&mut rng, seed)
        };
        for l in [&limits, &strict] {
            if let Ok(Some((head, len))) = parse_request(&input, l) {
                assert!(len <= input.len());
                let _ = head.framing;
            }
        }
        check_chunked(&input, &mut rng);
        if let Some(p) = input.windows(4).position(|w| w == b"\r\n\r\n") {
            check_chunked(&input[p + 4..], &mut rng);
        }
    }
    // Valid input still parses after all that.
    for s in SEEDS {
        assert!(parse_request(s, &limits).unwrap().is_some());
    }
    assert!(t0.elapsed().as_secs() < 120);
}
