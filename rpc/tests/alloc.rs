//! A hostile length never allocates more than the message holds: a global
//! allocator records the largest allocation while the decoder runs.

include!("support/regress.rs");

use runtime_rpc::Message;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Largest;
static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; the
// wrapper only records sizes.
unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Largest = Largest;

#[test]
fn hostile_lengths_allocate_nothing_large() {
    let mut hostile = Vec::new();
    // Lengths of 2^32-1, 2^31 and 1 MiB over a few bytes, for a string, a
    // bytes field and a nested struct.
    for len in [
        [0x7f, 0xff, 0xff, 0xff, 0xf0],
        [0x70, 0x00, 0x00, 0x00, 0x80],
        [0x50, 0x00, 0x00, 0x10, 0x00],
    ] {
        for tag in [1u8, 3, 4] {
            let mut m = vec![tag];
            m.extend_from_slice(&len);
            m.extend_from_slice(b"abcdefgh");
            hostile.push(m);
        }
    }
    // A valid message whose nested struct claims more than it has.
    let mut inner = vec![0x01, 0x01, b'a', 0x02, 0x01, b'b', 0x04, 0x0a];
    inner.extend_from_slice(&[0x01, 0x7f, 0xff, 0xff, 0xff, 0xf0, b'x', b'y', b'z', b'w']);
    hostile.push(inner);
    LARGEST.store(0, Ordering::Relaxed);
    for m in &hostile {
        assert!(Msg::unmarshal(m).is_err(), "{m:x?}");
    }
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(largest <= 64, "largest allocation {largest} bytes");
}
