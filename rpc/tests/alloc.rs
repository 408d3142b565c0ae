//! A hostile length never allocates more than the message holds: a global
//! allocator records the largest allocation the decoding thread makes while
//! the decoder runs. Other threads (the test harness's main thread) are not
//! counted: what they allocate meanwhile says nothing about the decoder.

include!("support/regress.rs");

use runtime_rpc::Message;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Largest;
static LARGEST: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // Const-initialised and without a destructor, so reading it from inside
    // the allocator never allocates.
    static RECORDING: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: every call is forwarded to the system allocator unchanged; the
// wrapper only records sizes.
unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if RECORDING.with(Cell::get) {
            LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        }
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
    let mut results = Vec::with_capacity(hostile.len());
    RECORDING.with(|r| r.set(true));
    for m in &hostile {
        results.push(Msg::unmarshal(m).is_err());
    }
    RECORDING.with(|r| r.set(false));
    let largest = LARGEST.load(Ordering::Relaxed);
    // The recorder sees the decoder's allocations: a valid message with a
    // 300-byte name allocates that name while recording.
    let valid = Msg {
        from_name: Some("n".repeat(300)),
        to_name: Some("t".into()),
        ..Default::default()
    }
    .marshal();
    LARGEST.store(0, Ordering::Relaxed);
    RECORDING.with(|r| r.set(true));
    let decoded = Msg::unmarshal(&valid);
    RECORDING.with(|r| r.set(false));
    assert!(decoded.is_ok());
    assert!(
        LARGEST.load(Ordering::Relaxed) >= 300,
        "the recorder missed the name"
    );
    for (m, rejected) in hostile.iter().zip(results) {
        assert!(rejected, "accepted {m:x?}");
    }
    assert!(largest <= 64, "largest allocation {largest} bytes");
}
