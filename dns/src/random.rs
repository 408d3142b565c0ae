//! Unpredictable numbers for query ids and 0x20 case bits, from the
//! kernel's `getrandom(2)`, drawn in batches per thread.

use std::cell::RefCell;

const POOL: usize = 1024;

thread_local! {
    static BYTES: RefCell<([u8; POOL], usize)> = const { RefCell::new(([0; POOL], POOL)) };
}

fn refill(buf: &mut [u8; POOL]) {
    let mut filled = 0;
    while filled < POOL {
        // SAFETY: the pointer and length describe the unfilled tail of
        // `buf`, which is valid for writes for its whole length.
        let n = unsafe { libc::getrandom(buf[filled..].as_mut_ptr().cast(), POOL - filled, 0) };
        if n > 0 {
            filled += n as usize;
        } else if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            // getrandom(2) exists on every kernel this runtime supports;
            // should it fail anyway, fall back to the clock mixed through
            // a hash rather than to zeros.
            use std::hash::{BuildHasher, RandomState};
            for chunk in buf[filled..].chunks_mut(8) {
                let v = RandomState::new().hash_one(std::time::Instant::now());
                let b = v.to_le_bytes();
                chunk.copy_from_slice(&b[..chunk.len()]);
            }
            return;
        }
    }
}

/// Fills `out` with random bytes.
pub(crate) fn fill(out: &mut [u8]) {
    BYTES.with(|cell| {
        let mut pool = cell.borrow_mut();
        let (bytes, used) = &mut *pool;
        let mut out = out;
        while !out.is_empty() {
            if *used == POOL {
                refill(bytes);
                *used = 0;
            }
            let n = out.len().min(POOL - *used);
            out[..n].copy_from_slice(&bytes[*used..*used + n]);
            *used += n;
            out = &mut out[n..];
        }
    })
}

/// A random 16-bit value (query ids).
pub(crate) fn u16() -> u16 {
    let mut b = [0; 2];
    fill(&mut b);
    u16::from_ne_bytes(b)
}

/// A source of random bits, drawn 64 at a time.
pub(crate) struct Bits {
    word: u64,
    left: u8,
}

impl Bits {
    pub(crate) fn new() -> Bits {
        Bits { word: 0, left: 0 }
    }

    pub(crate) fn next_bit(&mut self) -> bool {
        if self.left == 0 {
            let mut b = [0; 8];
            fill(&mut b);
            self.word = u64::from_ne_bytes(b);
            self.left = 64;
        }
        let bit = self.word & 1 == 1;
        self.word >>= 1;
        self.left -= 1;
        bit
    }
}
