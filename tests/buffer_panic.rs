//! `Buffer` is panic-safe: after a panic in a user callback — the cleanup
//! of bytes added by reference, the cleanup of a file segment, an
//! `on_change` callback — the buffer is still consistent: `len()` equals
//! the bytes it holds, the contents are right, the counters agree, and it
//! keeps working.
//!
//! Each test makes one callback panic inside one operation, catches the
//! panic with `catch_unwind`, and checks the state the operation would
//! have left without the panic.

use std::fs::File;
use std::io::{BufRead, Read};
use std::os::unix::net::UnixStream;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Once};

use runtime::io::{Buffer, BufferChange, Eol, FileSegment, Shared};

/// The payload of every panic these tests provoke.
const BOOM: &str = "boom from a user callback";

/// Silences the provoked panics' messages (and only those).
fn quiet_provoked_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&BOOM) {
                default(info);
            }
        }));
    });
}

/// Runs `f`, which must panic with [`BOOM`].
fn expect_boom<R>(f: impl FnOnce() -> R) {
    quiet_provoked_panics();
    let err = match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(_) => panic!("the callback did not panic"),
        Err(e) => e,
    };
    assert_eq!(err.downcast_ref::<&str>(), Some(&BOOM), "another panic");
}

/// `len()` agrees with the contents, with `copyout` and with the counters;
/// the contents are `want`; and the buffer still works.
fn assert_consistent(buf: &mut Buffer, want: &[u8]) {
    let v = buf.to_vec().unwrap();
    assert_eq!(buf.len(), v.len(), "len() against to_vec()");
    assert_eq!(v, want, "contents");
    let mut out = vec![0u8; want.len() + 4];
    assert_eq!(buf.copyout(&mut out).unwrap(), want.len());
    assert_eq!(&out[..want.len()], want);
    let peeked: usize = buf.peek(usize::MAX).map(<[u8]>::len).sum();
    assert!(peeked <= buf.len());
    let (added, drained) = buf.counters();
    assert_eq!(added - drained, buf.len() as u64, "counters against len()");
    // Still usable: add, read everything back, empty.
    buf.add(b"!").unwrap();
    let mut all = want.to_vec();
    all.push(b'!');
    let mut got = vec![0u8; all.len()];
    assert_eq!(buf.remove(&mut got).unwrap(), all.len());
    assert_eq!(got, all);
    assert!(buf.is_empty());
    assert_eq!(buf.to_vec().unwrap(), b"");
}

/// A reference whose cleanup counts its call, then panics.
fn panicking_ref(data: &'static [u8], calls: &Arc<AtomicUsize>) -> Shared {
    let calls = calls.clone();
    Shared::from(data).with_cleanup(move || {
        calls.fetch_add(1, Ordering::SeqCst);
        panic::panic_any(BOOM);
    })
}

/// "aaaaaaaaaa" by reference (cleanup panics), then "0123456789" by copy.
fn two_chunks(calls: &Arc<AtomicUsize>) -> Buffer {
    let mut buf = Buffer::new();
    buf.add_reference(panicking_ref(b"aaaaaaaaaa", calls))
        .unwrap();
    buf.add(b"0123456789").unwrap();
    assert_eq!(buf.chunk_count(), 2);
    buf
}

#[test]
fn drain_across_a_reference_whose_cleanup_panics() {
    // The case from the issue: draining 15 bytes of "aaaaaaaaaa" +
    // "0123456789" used to leave len() == 5 with "01234" inside.
    let calls = Arc::new(AtomicUsize::new(0));
    let mut buf = two_chunks(&calls);
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let s = seen.clone();
    buf.on_change(move |c| s.lock().unwrap().push(*c));
    expect_boom(|| buf.drain(15));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(buf.counters(), (20, 15));
    // The change callbacks ran although the cleanup panicked.
    assert_eq!(
        *seen.lock().unwrap(),
        [BufferChange {
            orig_size: 20,
            added: 0,
            deleted: 15
        }]
    );
    assert_consistent(&mut buf, b"56789");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "cleanup ran once");
}

#[test]
fn drain_exactly_the_reference_and_everything() {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut buf = two_chunks(&calls);
    expect_boom(|| buf.drain(10));
    assert_consistent(&mut buf, b"0123456789");

    let mut buf = two_chunks(&calls);
    expect_boom(|| buf.clear());
    assert_consistent(&mut buf, b"");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[test]
fn remove_read_and_consume_across_a_panicking_cleanup() {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut buf = two_chunks(&calls);
    let mut out = [0u8; 12];
    expect_boom(|| buf.remove(&mut out));
    assert_eq!(&out, b"aaaaaaaaaa01", "the bytes were copied out first");
    assert_consistent(&mut buf, b"23456789");

    let mut buf = two_chunks(&calls);
    expect_boom(|| Read::read(&mut buf, &mut [0u8; 13]));
    assert_consistent(&mut buf, b"3456789");

    let mut buf = two_chunks(&calls);
    assert_eq!(buf.fill_buf().unwrap(), b"aaaaaaaaaa");
    expect_boom(|| buf.consume(10));
    assert_consistent(&mut buf, b"0123456789");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[test]
fn readln_across_a_panicking_cleanup() {
    let calls = Arc::new(AtomicUsize::new(0));
    for eol in [Eol::Lf, Eol::Any, Eol::Crlf] {
        let mut buf = Buffer::new();
        buf.add_reference(panicking_ref(b"line", &calls)).unwrap();
        buf.add(b"\nnext\n").unwrap();
        let mut line = Vec::new();
        expect_boom(|| buf.readln_into(eol, &mut line));
        assert_eq!(line, b"line", "{eol:?}");
        assert_consistent(&mut buf, b"next\n");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[test]
fn pullup_across_a_panicking_cleanup() {
    // pullup copies the first bytes into one chunk and frees the chunks
    // they came from: the content must not change.
    let calls = Arc::new(AtomicUsize::new(0));
    let mut buf = Buffer::with_chunk_size(4);
    buf.add(b"ab").unwrap();
    buf.add_reference(panicking_ref(b"cdef", &calls)).unwrap();
    buf.add(b"ghij").unwrap();
    expect_boom(|| buf.pullup(8).map(<[u8]>::to_vec));
    assert_consistent(&mut buf, b"abcdefghij");

    // The other way: the first chunk is not owned, a new one is made.
    let mut buf = Buffer::with_chunk_size(4);
    buf.add_reference(panicking_ref(b"abc", &calls)).unwrap();
    buf.add(b"defgh").unwrap();
    expect_boom(|| buf.pullup(5).map(<[u8]>::to_vec));
    assert_consistent(&mut buf, b"abcdefgh");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[test]
#[cfg_attr(
    miri,
    ignore = "Miri cannot emulate socket calls (recv/readv/writev) on a socketpair"
)]
fn write_to_a_socket_across_a_panicking_cleanup() {
    let calls = Arc::new(AtomicUsize::new(0));
    let (a, mut b) = UnixStream::pair().unwrap();
    let mut buf = two_chunks(&calls);
    expect_boom(|| buf.write_atmost(&a, 14));
    let mut got = [0u8; 14];
    b.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"aaaaaaaaaa0123", "the bytes went out once");
    assert_consistent(&mut buf, b"456789");
}

#[test]
fn a_moved_reference_panics_in_the_buffer_that_frees_it() {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut src = two_chunks(&calls);
    let mut dst = Buffer::new();
    dst.add(b"head:").unwrap();
    // Half of the reference moves (split, no copy), then the rest.
    assert_eq!(src.remove_buffer(&mut dst, 5).unwrap(), 5);
    assert_eq!(src.remove_buffer(&mut dst, 7).unwrap(), 7);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert_consistent(&mut src, b"23456789");
    // Both halves are in dst now: the cleanup runs when the second goes.
    // dst: "head:" + "aaaaa" + "aaaaa" (two pieces of one reference) + "01".
    dst.drain(8).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    expect_boom(|| dst.drain(7));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_consistent(&mut dst, b"01");
}

fn temp_file(bytes: &[u8]) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "runtime-buffer-panic-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn drain_across_a_file_segment_whose_cleanup_panics() {
    let path = temp_file(b"FFFFFFFF");
    let calls = Arc::new(AtomicUsize::new(0));
    let mut buf = Buffer::new();
    {
        let seg = FileSegment::new(File::open(&path).unwrap(), 0, None).unwrap();
        let c = calls.clone();
        seg.set_cleanup(move || {
            c.fetch_add(1, Ordering::SeqCst);
            panic::panic_any(BOOM);
        });
        buf.add_file_segment(&seg, 0, None).unwrap();
    }
    buf.add(b"0123456789").unwrap();
    expect_boom(|| buf.drain(12));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_consistent(&mut buf, b"456789");
    std::fs::remove_file(&path).unwrap();
}

/// An `on_change` callback that panics on its next call once armed (and
/// disarms itself).
fn panicking_callback(buf: &mut Buffer) -> Arc<AtomicBool> {
    let armed = Arc::new(AtomicBool::new(false));
    let a = armed.clone();
    buf.on_change(move |_| {
        if a.swap(false, Ordering::SeqCst) {
            panic::panic_any(BOOM);
        }
    });
    armed
}

#[test]
fn change_callback_panics_in_every_kind_of_operation() {
    let mut buf = Buffer::with_chunk_size(4);
    let armed = panicking_callback(&mut buf);
    type Op = fn(&mut Buffer);
    // Each operation with the callback panicking in it, and the contents
    // it leaves.
    let ops: [(&str, Op, &[u8]); 9] = [
        ("add", |b| b.add(b"abcdef").unwrap(), b"abcdef"),
        ("prepend", |b| b.prepend(b"xy").unwrap(), b"xyabcdef"),
        (
            "add_reference",
            |b| b.add_reference(&b"RE\n"[..]).unwrap(),
            b"xyabcdefRE\n",
        ),
        (
            "drain",
            |b| assert_eq!(b.drain(3).unwrap(), 3),
            b"bcdefRE\n",
        ),
        (
            "reserve+commit",
            |b| {
                b.reserve(2).unwrap().copy_from_slice(b"rc");
                b.commit(2).unwrap();
            },
            b"bcdefRE\nrc",
        ),
        ("readln", |b| drop(b.readln(Eol::Lf).unwrap()), b"rc"),
        (
            "write!",
            |b| {
                use std::fmt::Write;
                write!(b, "{}-{}", 1, 2).unwrap();
            },
            b"rc1-2",
        ),
        (
            "remove",
            |b| assert_eq!(b.remove(&mut [0u8; 2]).unwrap(), 2),
            b"1-2",
        ),
        ("drain 1", |b| assert_eq!(b.drain(1).unwrap(), 1), b"-2"),
    ];
    for (name, op, want) in ops {
        armed.store(true, Ordering::SeqCst);
        expect_boom(|| op(&mut buf));
        assert!(!armed.load(Ordering::SeqCst), "{name}: callback ran");
        let v = buf.to_vec().unwrap();
        assert_eq!(buf.len(), v.len(), "{name}");
        assert_eq!(v, want, "{name}");
        let (added, drained) = buf.counters();
        assert_eq!(added - drained, buf.len() as u64, "{name}: counters");
    }
    assert_consistent(&mut buf, b"-2");
}

#[test]
fn change_callback_panics_when_moving_between_buffers() {
    // add_buffer: the destination's callback panics; the source was
    // emptied and its counters say so.
    let mut a = Buffer::new();
    let mut b = Buffer::new();
    a.add(b"head").unwrap();
    b.add(b"body").unwrap();
    panicking_callback(&mut a).store(true, Ordering::SeqCst);
    expect_boom(|| a.add_buffer(&mut b));
    assert_consistent(&mut b, b"");
    assert_consistent(&mut a, b"headbody");

    // remove_buffer: the destination's callback panics before the source
    // is notified; the source's counters are right anyway.
    let mut a = Buffer::new();
    let mut b = Buffer::new();
    a.add(b"0123456789").unwrap();
    panicking_callback(&mut b).store(true, Ordering::SeqCst);
    expect_boom(|| a.remove_buffer(&mut b, 4));
    assert_consistent(&mut a, b"456789");
    assert_consistent(&mut b, b"0123");

    // prepend_buffer.
    let mut a = Buffer::new();
    let mut b = Buffer::new();
    a.add(b"tail").unwrap();
    b.add(b"head").unwrap();
    panicking_callback(&mut a).store(true, Ordering::SeqCst);
    expect_boom(|| a.prepend_buffer(&mut b));
    assert_consistent(&mut b, b"");
    assert_consistent(&mut a, b"headtail");
}

#[test]
#[cfg_attr(
    miri,
    ignore = "Miri cannot emulate socket calls (recv/readv/writev) on a socketpair"
)]
fn read_from_a_socket_with_a_panicking_callback() {
    let (a, mut b) = UnixStream::pair().unwrap();
    std::io::Write::write_all(&mut b, b"from the socket").unwrap();
    let mut buf = Buffer::with_chunk_size(4);
    buf.add(b"xy").unwrap();
    panicking_callback(&mut buf).store(true, Ordering::SeqCst);
    expect_boom(|| buf.read_from(&a, 64));
    assert_consistent(&mut buf, b"xyfrom the socket");
}

#[test]
fn dropping_a_buffer_runs_every_cleanup_even_if_one_panics() {
    let calls = Arc::new(AtomicUsize::new(0));
    let quiet = Arc::new(AtomicUsize::new(0));
    let mut buf = Buffer::new();
    buf.add_reference(panicking_ref(b"first", &calls)).unwrap();
    let q = quiet.clone();
    buf.add_reference_with_cleanup(&b"second"[..], move || {
        q.fetch_add(1, Ordering::SeqCst);
    })
    .unwrap();
    expect_boom(move || drop(buf));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(quiet.load(Ordering::SeqCst), 1, "the second cleanup ran");
}
