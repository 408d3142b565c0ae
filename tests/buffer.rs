//! `runtime::io::Buffer` (evbuffer) through its public API: line styles,
//! searches across chunks, references, file segments over real sockets
//! (sendfile and the pread + write fallback), writev/readv, freezing,
//! callbacks and size limits.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use runtime::io::{Buffer, BufferChange, BufferError, Eol, FileSegment, Segment, Shared, Side};

struct TempFile(PathBuf);

impl TempFile {
    fn new(contents: &[u8]) -> TempFile {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "runtime-buffer-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::write(&path, contents).unwrap();
        TempFile(path)
    }
    fn open(&self) -> File {
        File::open(&self.0).unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Pseudo-random bytes (an LCG), so windows do not repeat.
fn pattern(len: usize) -> Vec<u8> {
    let mut state = len as u64 ^ 0x0005_DEEC_E66D;
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as u8
        })
        .collect()
}

/// An end-of-line style, the bytes sent, the lines expected.
type LineCase = (Eol, &'static [u8], &'static [&'static [u8]]);

fn line(buf: &mut Buffer, eol: Eol) -> Option<Vec<u8>> {
    buf.readln(eol).unwrap()
}

// ---------------------------------------------------------------- lines

#[test]
fn readln_any() {
    let mut buf = Buffer::new();
    buf.add(b"one\r\n\n\r\n\n\rtwo\nthree\r").unwrap();
    assert_eq!(line(&mut buf, Eol::Any).unwrap(), b"one");
    assert_eq!(line(&mut buf, Eol::Any).unwrap(), b"two");
    assert_eq!(line(&mut buf, Eol::Any).unwrap(), b"three");
    assert!(buf.is_empty());
    // CR and LF arriving separately are two ends of line.
    buf.add(b"four\r").unwrap();
    assert_eq!(line(&mut buf, Eol::Any).unwrap(), b"four");
    buf.add(b"\nfive\n").unwrap();
    assert_eq!(line(&mut buf, Eol::Any).unwrap(), b"");
    assert_eq!(line(&mut buf, Eol::Any).unwrap(), b"five");
}

#[test]
fn readln_crlf() {
    let mut buf = Buffer::new();
    buf.add(b"a\r\nb\nc\rd\n\r\r\n\n").unwrap();
    assert_eq!(line(&mut buf, Eol::Crlf).unwrap(), b"a");
    assert_eq!(line(&mut buf, Eol::Crlf).unwrap(), b"b");
    assert_eq!(line(&mut buf, Eol::Crlf).unwrap(), b"c\rd");
    assert_eq!(line(&mut buf, Eol::Crlf).unwrap(), b"\r");
    assert_eq!(line(&mut buf, Eol::Crlf).unwrap(), b"");
    assert!(buf.is_empty());
    // A trailing CR is data until its LF shows up.
    buf.add(b"e\r").unwrap();
    assert_eq!(line(&mut buf, Eol::Crlf), None);
    buf.add(b"\n").unwrap();
    assert_eq!(line(&mut buf, Eol::Crlf).unwrap(), b"e");
}

#[test]
fn readln_crlf_strict() {
    let mut buf = Buffer::new();
    buf.add(b"a\r\nb\nc\r\n\r\r\n").unwrap();
    assert_eq!(line(&mut buf, Eol::CrlfStrict).unwrap(), b"a");
    assert_eq!(line(&mut buf, Eol::CrlfStrict).unwrap(), b"b\nc");
    assert_eq!(line(&mut buf, Eol::CrlfStrict).unwrap(), b"\r");
    assert!(buf.is_empty());
    buf.add(b"d\r").unwrap();
    assert_eq!(
        line(&mut buf, Eol::CrlfStrict),
        None,
        "trailing CR waits for LF"
    );
    assert_eq!(buf.len(), 2);
    buf.add(b"\n").unwrap();
    assert_eq!(line(&mut buf, Eol::CrlfStrict).unwrap(), b"d");
}

#[test]
fn readln_lf_and_nul() {
    let mut buf = Buffer::new();
    buf.add(b"a\r\nb\n").unwrap();
    assert_eq!(line(&mut buf, Eol::Lf).unwrap(), b"a\r");
    assert_eq!(line(&mut buf, Eol::Lf).unwrap(), b"b");
    buf.add(b"x\ny\0z\0").unwrap();
    assert_eq!(line(&mut buf, Eol::Nul).unwrap(), b"x\ny");
    assert_eq!(line(&mut buf, Eol::Nul).unwrap(), b"z");
    assert!(buf.is_empty());
}

#[test]
fn crlf_split_across_two_chunks() {
    for eol in [Eol::Any, Eol::Crlf, Eol::CrlfStrict] {
        let mut buf = Buffer::with_chunk_size(4);
        buf.add(b"abc\r").unwrap();
        buf.add_reference(&b"\ndef\r\n"[..]).unwrap();
        assert_eq!(buf.chunk_count(), 2);
        assert_eq!(buf.search_eol(0, eol).unwrap(), Some((3, 2)), "{eol:?}");
        assert_eq!(line(&mut buf, eol).unwrap(), b"abc", "{eol:?}");
        assert_eq!(line(&mut buf, eol).unwrap(), b"def", "{eol:?}");
        assert!(buf.is_empty());
    }
    // Split over one-byte chunks.
    let mut buf = Buffer::with_chunk_size(1);
    for &b in b"xy\r\nz\r\n" {
        buf.add_reference(Shared::from(vec![b])).unwrap();
    }
    assert_eq!(buf.chunk_count(), 7);
    assert_eq!(line(&mut buf, Eol::CrlfStrict).unwrap(), b"xy");
    assert_eq!(line(&mut buf, Eol::CrlfStrict).unwrap(), b"z");
}

#[test]
fn nul_inside_a_line() {
    for eol in [Eol::Any, Eol::Crlf, Eol::CrlfStrict, Eol::Lf] {
        let mut buf = Buffer::new();
        buf.add(b"a\0b\0\r\n").unwrap();
        let got = line(&mut buf, eol).unwrap();
        let want: &[u8] = if eol == Eol::Lf {
            b"a\0b\0\r"
        } else {
            b"a\0b\0"
        };
        assert_eq!(got, want, "{eol:?}");
    }
}

#[test]
fn line_never_ends() {
    for eol in [Eol::Any, Eol::Crlf, Eol::CrlfStrict, Eol::Lf, Eol::Nul] {
        let mut buf = Buffer::with_chunk_size(3);
        buf.add(b"no end of line here").unwrap();
        assert_eq!(buf.readln(eol).unwrap(), None, "{eol:?}");
        assert_eq!(buf.to_vec().unwrap(), b"no end of line here");
        assert_eq!(buf.search_eol(0, eol).unwrap(), None);
    }
    let mut empty = Buffer::new();
    assert_eq!(empty.readln(Eol::Any).unwrap(), None);
}

#[test]
fn readln_max_refuses_long_lines() {
    let mut buf = Buffer::with_chunk_size(5);
    buf.add(b"short\r\n").unwrap();
    buf.add(b"this line is far too long\r\n").unwrap();
    assert_eq!(
        buf.readln_max(Eol::CrlfStrict, 8).unwrap().unwrap(),
        b"short"
    );
    let before = buf.to_vec().unwrap();
    let err = buf.readln_max(Eol::CrlfStrict, 8).unwrap_err();
    assert!(matches!(err, BufferError::LineTooLong));
    assert_eq!(buf.to_vec().unwrap(), before, "buffer unchanged");
    assert_eq!(std::io::Error::from(err).kind(), ErrorKind::InvalidData);
    // The same line fits a larger cap.
    assert_eq!(
        buf.readln_max(Eol::CrlfStrict, 100).unwrap().unwrap(),
        b"this line is far too long"
    );

    // No end of line yet: wait while the line may still fit, refuse once
    // it cannot.
    let mut buf = Buffer::new();
    buf.add(b"12345678").unwrap();
    assert_eq!(buf.readln_max(Eol::Lf, 8).unwrap(), None);
    buf.add(b"9").unwrap();
    assert!(matches!(
        buf.readln_max(Eol::Lf, 8),
        Err(BufferError::LineTooLong)
    ));
    // With CRLF, a CR right at the cap may still be followed by its LF.
    let mut buf = Buffer::new();
    buf.add(b"12345678\r").unwrap();
    assert_eq!(buf.readln_max(Eol::CrlfStrict, 8).unwrap(), None);
    buf.add(b"\n").unwrap();
    assert_eq!(
        buf.readln_max(Eol::CrlfStrict, 8).unwrap().unwrap(),
        b"12345678"
    );
    // Only max + 2 bytes are scanned, however long the buffer.
    let mut buf = Buffer::new();
    buf.add(&vec![b'x'; 1 << 20]).unwrap();
    buf.add(b"\n").unwrap();
    assert!(matches!(
        buf.readln_max(Eol::Lf, 64),
        Err(BufferError::LineTooLong)
    ));
    assert_eq!(buf.len(), (1 << 20) + 1);
}

#[test]
fn readln_into_appends_and_reuses_the_vector() {
    // Every style, over one-byte chunks, so each end of line straddles a
    // chunk boundary.
    let cases: [LineCase; 5] = [
        (
            Eol::Any,
            b"one\r\n\n\rtwo\nthree\r",
            &[b"one", b"two", b"three"],
        ),
        (
            Eol::Crlf,
            b"a\r\nb\nc\rd\n\r\r\n",
            &[b"a", b"b", b"c\rd", b"\r"],
        ),
        (
            Eol::CrlfStrict,
            b"a\r\nb\nc\r\n\r\r\n",
            &[b"a", b"b\nc", b"\r"],
        ),
        (Eol::Lf, b"a\r\n\nb\n", &[b"a\r", b"", b"b"]),
        (Eol::Nul, b"x\ny\0\0z\0", &[b"x\ny", b"", b"z"]),
    ];
    for (eol, data, want) in cases {
        let mut buf = Buffer::with_chunk_size(1);
        for &b in data {
            buf.add_reference(Shared::from(vec![b])).unwrap();
        }
        let mut out = b"prefix:".to_vec();
        let mut expect = out.clone();
        for &w in want {
            let n = buf.readln_into(eol, &mut out).unwrap();
            assert_eq!(n, Some(w.len()), "{eol:?}");
            expect.extend_from_slice(w);
            assert_eq!(out, expect, "{eol:?}: appended to what was there");
        }
        assert!(buf.is_empty(), "{eol:?}");
        assert_eq!(buf.readln_into(eol, &mut out).unwrap(), None);
        assert_eq!(out, expect, "{eol:?}: None leaves the vector alone");
    }

    // Cleared between lines, one vector serves every line without
    // reallocating once it is large enough.
    let mut buf = Buffer::with_chunk_size(7);
    let long = vec![b'L'; 300];
    buf.add(&long).unwrap();
    buf.add(b"\nshort\n\nmid line\n").unwrap();
    let mut out = Vec::new();
    assert_eq!(buf.readln_into(Eol::Lf, &mut out).unwrap(), Some(300));
    assert_eq!(out, long);
    let (ptr, cap) = (out.as_ptr(), out.capacity());
    for want in [&b"short"[..], b"", b"mid line"] {
        out.clear();
        assert_eq!(
            buf.readln_into(Eol::Lf, &mut out).unwrap(),
            Some(want.len())
        );
        assert_eq!(out, want);
        assert_eq!(
            (out.as_ptr(), out.capacity()),
            (ptr, cap),
            "no reallocation"
        );
    }
    // The Vec-returning form gives the same lines.
    buf.add(b"again\r\n").unwrap();
    assert_eq!(buf.readln(Eol::Crlf).unwrap().unwrap(), b"again");
}

#[test]
fn readln_max_into_has_readln_max_bounds() {
    let mut buf = Buffer::with_chunk_size(5);
    buf.add(b"short\r\n").unwrap();
    buf.add(b"this line is far too long\r\n").unwrap();
    let mut out = Vec::new();
    assert_eq!(
        buf.readln_max_into(Eol::CrlfStrict, 8, &mut out).unwrap(),
        Some(5)
    );
    assert_eq!(out, b"short");
    let before = buf.to_vec().unwrap();
    assert!(matches!(
        buf.readln_max_into(Eol::CrlfStrict, 8, &mut out),
        Err(BufferError::LineTooLong)
    ));
    assert_eq!(buf.to_vec().unwrap(), before, "buffer unchanged");
    assert_eq!(out, b"short", "vector unchanged on error");
    out.clear();
    assert_eq!(
        buf.readln_max_into(Eol::CrlfStrict, 100, &mut out).unwrap(),
        Some(25)
    );
    assert_eq!(out, b"this line is far too long");

    // No end of line yet: None while the line may still fit, then refused.
    let mut buf = Buffer::new();
    let mut out = Vec::new();
    buf.add(b"12345678").unwrap();
    assert_eq!(buf.readln_max_into(Eol::Lf, 8, &mut out).unwrap(), None);
    buf.add(b"9").unwrap();
    assert!(matches!(
        buf.readln_max_into(Eol::Lf, 8, &mut out),
        Err(BufferError::LineTooLong)
    ));
    assert!(out.is_empty());
    // A CR right at the cap may still be followed by its LF.
    let mut buf = Buffer::new();
    buf.add(b"12345678\r").unwrap();
    assert_eq!(buf.readln_max_into(Eol::Crlf, 8, &mut out).unwrap(), None);
    buf.add(b"\n").unwrap();
    assert_eq!(
        buf.readln_max_into(Eol::Crlf, 8, &mut out).unwrap(),
        Some(8)
    );
    assert_eq!(out, b"12345678");
    // A frozen front is refused, the vector untouched.
    let mut buf = Buffer::new();
    buf.add(b"x\n").unwrap();
    buf.freeze(Side::Front, true);
    assert!(buf.readln_max_into(Eol::Lf, 8, &mut out).is_err());
    assert!(buf.readln_into(Eol::Lf, &mut out).is_err());
    assert_eq!(out, b"12345678");
    assert_eq!(buf.len(), 2);
}

// ---------------------------------------------------------------- search

#[test]
fn search_across_chunks() {
    let mut buf = Buffer::with_chunk_size(4);
    for part in [&b"abcd"[..], b"efgh", b"ijkl", b"mnop"] {
        buf.add_reference(Shared::from(part.to_vec())).unwrap();
    }
    assert_eq!(buf.chunk_count(), 4);
    assert_eq!(buf.search(b"defghij").unwrap(), Some(3));
    assert_eq!(buf.search(b"p").unwrap(), Some(15));
    assert_eq!(buf.search(b"pq").unwrap(), None);
    assert_eq!(buf.search(b"").unwrap(), Some(0));
    assert_eq!(buf.search_from(b"gh", 6).unwrap(), Some(6));
    assert_eq!(buf.search_from(b"gh", 7).unwrap(), None);
    assert_eq!(buf.search_from(b"a", 17).unwrap(), None);
    assert_eq!(buf.search_range(b"hijk", 0, 10).unwrap(), None);
    assert_eq!(buf.search_range(b"hijk", 0, 11).unwrap(), Some(7));
    assert_eq!(buf.search_range(b"hijk", 8, 16).unwrap(), None);
}

#[test]
fn search_inside_file_segments() {
    let data = pattern(200_000);
    let file = TempFile::new(&data);
    let mut buf = Buffer::new();
    buf.add(b"head").unwrap();
    buf.add_file(file.open(), 0, None).unwrap();
    buf.add(b"tail").unwrap();
    let needle = &data[150_000..150_010];
    assert_eq!(buf.search(needle).unwrap(), Some(150_004));
    assert_eq!(buf.search(b"dtail").unwrap(), None);
    let mut cross = data[199_998..].to_vec();
    cross.extend_from_slice(b"ta");
    assert_eq!(buf.search(&cross).unwrap(), Some(200_002));
    let mut out = [0u8; 8];
    assert_eq!(buf.copyout_from(2, &mut out).unwrap(), 8);
    assert_eq!(&out[..2], b"ad");
    assert_eq!(&out[2..], &data[..6]);
}

// ---------------------------------------------------------------- references

#[test]
fn add_reference_cleanup_runs_once() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let mut a = Buffer::new();
    let mut b = Buffer::new();
    a.add(b"<").unwrap();
    a.add_reference_with_cleanup(vec![b'x'; 100], move || {
        c.fetch_add(1, Ordering::SeqCst);
    })
    .unwrap();
    a.add(b">").unwrap();
    // Split the referenced chunk between two buffers: no copy, one cleanup
    // once both halves are gone.
    assert_eq!(a.remove_buffer(&mut b, 51).unwrap(), 51);
    assert_eq!(b.to_vec().unwrap(), [&b"<"[..], &[b'x'; 50]].concat());
    b.drain(51).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    a.drain(49).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    a.drain(1).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    a.drain(1).unwrap();
    drop(a);
    drop(b);
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // Dropping the buffer also runs it, once.
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let mut a = Buffer::new();
    a.add_reference_with_cleanup(&b"static"[..], move || {
        c.fetch_add(1, Ordering::SeqCst);
    })
    .unwrap();
    let mut b = Buffer::new();
    b.add_buffer(&mut a).unwrap();
    drop(a);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    drop(b);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn add_reference_does_not_copy() {
    let data: Arc<[u8]> = Arc::from(&pattern(10_000)[..]);
    let mut buf = Buffer::new();
    buf.add_reference(data.clone()).unwrap();
    let first = buf.peek(usize::MAX).next().unwrap();
    assert_eq!(first.as_ptr(), data.as_ptr());
    let mut dst = Buffer::new();
    buf.remove_buffer(&mut dst, 5000).unwrap();
    assert_eq!(dst.peek(usize::MAX).next().unwrap().as_ptr(), data.as_ptr());
    assert_eq!(
        buf.peek(usize::MAX).next().unwrap().as_ptr(),
        data[5000..].as_ptr()
    );
}

#[test]
fn add_buffer_moves_chunks_without_copying() {
    let mut a = Buffer::with_chunk_size(16);
    let mut b = Buffer::with_chunk_size(16);
    a.add(b"0123456789abcdef").unwrap();
    b.add(b"ghijklmnopqrstuv").unwrap();
    b.add(b"wxyz").unwrap();
    let ptrs: Vec<*const u8> = b.peek(usize::MAX).map(<[u8]>::as_ptr).collect();
    a.add_buffer(&mut b).unwrap();
    assert!(b.is_empty());
    let moved: Vec<*const u8> = a.peek(usize::MAX).skip(1).map(<[u8]>::as_ptr).collect();
    assert_eq!(moved, ptrs);
    assert_eq!(a.to_vec().unwrap(), b"0123456789abcdefghijklmnopqrstuvwxyz");
    // prepend_buffer too.
    let mut c = Buffer::new();
    c.add(b"<<").unwrap();
    a.prepend_buffer(&mut c).unwrap();
    assert_eq!(&a.to_vec().unwrap()[..4], b"<<01");
}

// ---------------------------------------------------------------- file segments

fn read_all(mut s: impl Read) -> Vec<u8> {
    let mut v = Vec::new();
    s.read_to_end(&mut v).unwrap();
    v
}

/// Writes `buf` out completely to a blocking descriptor.
fn write_all(buf: &mut Buffer, fd: impl std::os::fd::AsFd) {
    while !buf.is_empty() {
        let n = buf.write_to(&fd).unwrap();
        assert!(n > 0);
    }
}

#[test]
#[cfg_attr(miri, ignore = "Miri cannot emulate TCP sockets")]
fn file_segment_over_tcp_with_sendfile() {
    let data = pattern(3 * 1024 * 1024 + 17);
    let file = TempFile::new(&data);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let reader = thread::spawn(move || read_all(listener.accept().unwrap().0));
    let out = TcpStream::connect(addr).unwrap();

    let seg = FileSegment::new(file.open(), 0, None).unwrap();
    let mut buf = Buffer::new();
    buf.add(b"HEAD").unwrap();
    buf.add_file_segment(&seg, 0, None).unwrap();
    buf.add(b"TAIL").unwrap();
    assert_eq!(buf.len(), data.len() + 8);
    write_all(&mut buf, &out);
    assert!(seg.sendfile_enabled(), "sendfile was not refused");
    drop(out);
    let got = reader.join().unwrap();
    assert_eq!(got.len(), data.len() + 8);
    assert!(got == [&b"HEAD"[..], &data, b"TAIL"].concat());
}

#[test]
#[cfg_attr(miri, ignore = "Miri cannot call sendfile")]
fn file_segment_over_socketpair_with_offsets() {
    let data = pattern(100_000);
    let file = TempFile::new(&data);
    let (a, b) = UnixStream::pair().unwrap();
    let reader = thread::spawn(move || read_all(b));
    let mut buf = Buffer::new();
    buf.add_file(file.open(), 1000, Some(50_000)).unwrap();
    let seg = FileSegment::new(file.open(), 10, None).unwrap();
    buf.add_file_segment(&seg, 5, Some(7)).unwrap();
    write_all(&mut buf, &a);
    drop(a);
    let got = reader.join().unwrap();
    assert!(got == [&data[1000..51_000], &data[15..22]].concat());
}

#[test]
#[cfg_attr(
    miri,
    ignore = "Miri cannot emulate socket calls (recv/readv/writev) on a socketpair"
)]
fn file_segment_fallback_when_sendfile_disabled() {
    let data = pattern(300_000);
    let file = TempFile::new(&data);
    for how in ["buffer", "segment"] {
        let (a, b) = UnixStream::pair().unwrap();
        let reader = thread::spawn(move || read_all(b));
        let seg = FileSegment::new(file.open(), 0, None).unwrap();
        let mut buf = Buffer::new();
        if how == "buffer" {
            buf.set_sendfile(false);
        } else {
            seg.set_sendfile(false);
        }
        buf.add_file_segment(&seg, 0, None).unwrap();
        write_all(&mut buf, &a);
        drop(a);
        assert!(reader.join().unwrap() == data, "{how}");
    }
}

#[test]
#[cfg_attr(miri, ignore = "Miri cannot call sendfile")]
fn file_segment_fallback_when_kernel_refuses_sendfile() {
    // sendfile(2) refuses an O_APPEND destination with EINVAL: the buffer
    // falls back to pread + write and remembers it for the segment.
    let data = pattern(200_000);
    let src = TempFile::new(&data);
    let dst = TempFile::new(b"");
    let out = OpenOptions::new().append(true).open(&dst.0).unwrap();
    let seg = FileSegment::new(src.open(), 0, None).unwrap();
    let mut buf = Buffer::new();
    buf.add(b"[").unwrap();
    buf.add_file_segment(&seg, 0, None).unwrap();
    buf.add(b"]").unwrap();
    write_all(&mut buf, &out);
    assert!(!seg.sendfile_enabled(), "fallback was taken");
    let got = std::fs::read(&dst.0).unwrap();
    assert!(got == [&b"["[..], &data, b"]"].concat());
}

#[test]
#[cfg_attr(miri, ignore = "Miri cannot call sendfile")]
fn file_segment_to_regular_file() {
    let data = pattern(70_000);
    let src = TempFile::new(&data);
    let dst = TempFile::new(b"");
    let out = File::create(&dst.0).unwrap();
    let mut buf = Buffer::new();
    buf.add_file(src.open(), 0, None).unwrap();
    write_all(&mut buf, &out);
    assert!(std::fs::read(&dst.0).unwrap() == data);
}

#[test]
fn file_segment_read_paths() {
    let data = pattern(100_000);
    let file = TempFile::new(&data);
    let closed = Arc::new(AtomicUsize::new(0));
    let seg = FileSegment::new(file.open(), 0, None).unwrap();
    let c = closed.clone();
    seg.set_cleanup(move || {
        c.fetch_add(1, Ordering::SeqCst);
    });
    let mut buf = Buffer::with_chunk_size(16);
    buf.add(b"ab").unwrap();
    buf.add_file_segment(&seg, 0, None).unwrap();
    drop(seg);
    // copyout, pullup, remove, BufRead, remove_buffer all read it on demand.
    let mut out = [0u8; 6];
    assert_eq!(buf.copyout(&mut out).unwrap(), 6);
    assert_eq!(out, [b'a', b'b', data[0], data[1], data[2], data[3]]);
    assert_eq!(
        buf.pullup(10).unwrap(),
        &[&b"ab"[..], &data[..8]].concat()[..]
    );
    assert!(matches!(buf.segments().nth(1), Some(Segment::File { .. })));
    let mut out = [0u8; 100];
    assert_eq!(buf.remove(&mut out).unwrap(), 100);
    assert_eq!(&out[2..], &data[..98]);
    let first = buf.fill_buf().unwrap().to_vec();
    assert_eq!(first, &data[98..98 + first.len()]);
    let mut other = Buffer::new();
    assert_eq!(buf.remove_buffer(&mut other, 1000).unwrap(), 1000);
    assert!(other.to_vec().unwrap() == data[98..1098]);
    let rest = buf.to_vec().unwrap();
    assert!(rest == data[1098..]);
    assert_eq!(closed.load(Ordering::SeqCst), 0);
    drop(other);
    buf.clear().unwrap();
    assert_eq!(
        closed.load(Ordering::SeqCst),
        1,
        "segment released once drained"
    );
}

#[test]
#[cfg_attr(miri, ignore = "Miri cannot call sendfile")]
fn truncated_file_is_an_error_not_a_panic() {
    let file = TempFile::new(b"short");
    let mut buf = Buffer::new();
    buf.add_file(file.open(), 0, Some(100)).unwrap();
    assert!(
        matches!(buf.to_vec(), Err(BufferError::Io(e)) if e.kind() == ErrorKind::UnexpectedEof)
    );
    let (a, _b) = UnixStream::pair().unwrap();
    assert_eq!(buf.write_to(&a).unwrap(), 5);
    assert_eq!(
        buf.write_to(&a).unwrap_err().kind(),
        ErrorKind::UnexpectedEof
    );
    assert_eq!(buf.len(), 95);
    // Invalid ranges.
    assert!(FileSegment::new(file.open(), u64::MAX, Some(1)).is_err());
    assert!(FileSegment::new(file.open(), 6, None).is_err());
    let seg = FileSegment::new(file.open(), 0, None).unwrap();
    assert!(matches!(
        buf.add_file_segment(&seg, 6, None),
        Err(BufferError::OutOfRange)
    ));
    assert!(matches!(
        buf.add_file_segment(&seg, 2, Some(4)),
        Err(BufferError::OutOfRange)
    ));
}

// ---------------------------------------------------------------- writev / readv

#[test]
#[cfg_attr(
    miri,
    ignore = "Miri cannot emulate socket calls (recv/readv/writev) on a socketpair"
)]
fn write_to_sends_many_chunks_in_one_writev() {
    let (a, mut b) = UnixStream::pair().unwrap();
    let mut buf = Buffer::with_chunk_size(16);
    let mut want = Vec::new();
    for i in 0..100u8 {
        let chunk = vec![i; 16];
        buf.add(&chunk).unwrap();
        want.extend_from_slice(&chunk);
    }
    assert_eq!(buf.chunk_count(), 100);
    let n = buf.write_to(&a).unwrap();
    assert_eq!(n, 1600, "one call wrote all 100 chunks");
    assert!(buf.is_empty());
    let mut got = vec![0u8; 1600];
    b.read_exact(&mut got).unwrap();
    assert_eq!(got, want);
}

#[test]
#[cfg_attr(
    miri,
    ignore = "Miri cannot emulate socket calls (recv/readv/writev) on a socketpair"
)]
fn write_to_stops_at_iov_max() {
    let (a, mut b) = UnixStream::pair().unwrap();
    let mut buf = Buffer::new();
    for i in 0..2000u32 {
        buf.add_reference(Shared::from(i.to_be_bytes().to_vec()))
            .unwrap();
    }
    assert_eq!(buf.chunk_count(), 2000);
    assert_eq!(buf.write_to(&a).unwrap(), 1024 * 4);
    assert_eq!(buf.chunk_count(), 2000 - 1024);
    let mut got = vec![0u8; 4096];
    b.read_exact(&mut got).unwrap();
    assert_eq!(&got[4092..], &1023u32.to_be_bytes());
    assert_eq!(buf.write_atmost(&a, 6).unwrap(), 6);
    assert_eq!(buf.len(), (2000 - 1024) * 4 - 6);
}

#[test]
#[cfg_attr(
    miri,
    ignore = "Miri cannot emulate socket calls (recv/readv/writev) on a socketpair"
)]
fn write_to_would_block_and_broken_pipe_leave_buffer_intact() {
    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    let mut buf = Buffer::new();
    let data = vec![7u8; 64 * 1024];
    loop {
        buf.add(&data).unwrap();
        match buf.write_to(&a) {
            Ok(_) => continue,
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::WouldBlock);
                break;
            }
        }
    }
    let len = buf.len();
    assert!(len >= data.len());
    drop(b);
    let e = buf.write_to(&a).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BrokenPipe);
    assert_eq!(buf.len(), len);
}

#[test]
#[cfg_attr(
    miri,
    ignore = "Miri cannot emulate socket calls (recv/readv/writev) on a socketpair"
)]
fn read_from_socketpair_into_reserved_space() {
    let (mut a, b) = UnixStream::pair().unwrap();
    let mut buf = Buffer::new();
    a.write_all(b"hello").unwrap();
    assert_eq!(buf.read_from(&b, 4096).unwrap(), 5);
    a.write_all(b" world").unwrap();
    assert_eq!(buf.read_from(&b, 4096).unwrap(), 6);
    assert_eq!(buf.chunk_count(), 1, "second read landed in the same chunk");
    assert_eq!(buf.to_vec().unwrap(), b"hello world");

    // A read larger than the tail's free space spans it and a new chunk.
    let big = pattern(10_000);
    a.write_all(&big).unwrap();
    let mut got = 0;
    while got < big.len() {
        got += buf.read_from(&b, Buffer::DEFAULT_MAX_READ).unwrap();
    }
    assert!(buf.chunk_count() >= 2);
    assert!(buf.to_vec().unwrap() == [&b"hello world"[..], &big].concat());

    // The cap is honoured.
    a.write_all(b"0123456789").unwrap();
    assert_eq!(buf.read_from(&b, 3).unwrap(), 3);
    assert_eq!(buf.read_from(&b, 0).unwrap(), 0);

    // Nothing to read on a non-blocking socket: WouldBlock, unchanged.
    buf.drain(buf.len()).unwrap();
    assert_eq!(buf.read_from(&b, 100).unwrap(), 7);
    b.set_nonblocking(true).unwrap();
    let e = buf.read_from(&b, 100).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WouldBlock);
    assert_eq!(buf.to_vec().unwrap(), b"3456789");

    // End of file.
    drop(a);
    assert_eq!(buf.read_from(&b, 100).unwrap(), 0);
    assert_eq!(buf.len(), 7);
}

#[test]
#[cfg_attr(
    miri,
    ignore = "Miri cannot emulate socket calls (recv/readv/writev) on a socketpair"
)]
fn reserve_and_commit_from_a_reader() {
    let (mut a, mut b) = UnixStream::pair().unwrap();
    a.write_all(b"direct").unwrap();
    let mut buf = Buffer::new();
    buf.add(b">").unwrap();
    let space = buf.reserve(100).unwrap();
    let ptr = space.as_ptr();
    let n = b.read(space).unwrap();
    buf.commit(n).unwrap();
    assert_eq!(buf.to_vec().unwrap(), b">direct");
    assert_eq!(buf.chunk_count(), 1);
    // The bytes were read in place, right after the '>'.
    assert_eq!(buf.pullup(7).unwrap()[1..].as_ptr(), ptr);
    assert!(matches!(buf.commit(1), Err(BufferError::InvalidCommit)));
    // Another change cancels a reservation.
    buf.reserve(8).unwrap();
    buf.add(b"!").unwrap();
    assert!(matches!(buf.commit(1), Err(BufferError::InvalidCommit)));
    assert_eq!(buf.to_vec().unwrap(), b">direct!");
}

// ---------------------------------------------------------------- freeze, callbacks

#[test]
fn freeze_front_and_back() {
    let mut buf = Buffer::new();
    buf.add(b"line\nmore").unwrap();
    buf.freeze(Side::Front, true);
    assert!(buf.is_frozen(Side::Front));
    let front = |r: Result<(), BufferError>| matches!(r, Err(BufferError::Frozen(Side::Front)));
    assert!(front(buf.drain(1).map(drop)));
    assert!(front(buf.remove(&mut [0; 2]).map(drop)));
    assert!(front(buf.prepend(b"x")));
    assert!(front(buf.readln(Eol::Lf).map(drop)));
    let (a, _b) = UnixStream::pair().unwrap();
    assert_eq!(
        buf.write_to(&a).unwrap_err().kind(),
        ErrorKind::PermissionDenied
    );
    buf.add(b"!").unwrap();
    buf.freeze(Side::Front, false);

    buf.freeze(Side::Back, true);
    let back = |r: Result<(), BufferError>| matches!(r, Err(BufferError::Frozen(Side::Back)));
    assert!(back(buf.add(b"x")));
    assert!(back(buf.add_reference(&b"x"[..])));
    assert!(back(buf.reserve(1).map(drop)));
    let mut other = Buffer::new();
    other.add(b"o").unwrap();
    assert!(back(buf.add_buffer(&mut other)));
    assert!(back(other.remove_buffer(&mut buf, 1).map(drop)));
    assert_eq!(other.len(), 1);
    assert_eq!(
        buf.read_from(&a, 10).unwrap_err().kind(),
        ErrorKind::PermissionDenied
    );
    assert_eq!(buf.readln(Eol::Lf).unwrap().unwrap(), b"line");
    buf.freeze(Side::Back, false);
    buf.add(b"?").unwrap();
    assert_eq!(buf.to_vec().unwrap(), b"more!?");
}

#[test]
fn change_callbacks_and_counters() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    let mut buf = Buffer::new();
    let id = buf.on_change(move |c| l.lock().unwrap().push(*c));
    buf.add(b"abcdef").unwrap();
    buf.drain(2).unwrap();
    let mut other = Buffer::new();
    other.add(b"xyz").unwrap();
    buf.add_buffer(&mut other).unwrap();
    buf.readln(Eol::Lf).unwrap(); // no line: no change, no call
    buf.set_callback_enabled(id, false);
    buf.add(b"-").unwrap();
    buf.set_callback_enabled(id, true);
    buf.remove_buffer(&mut other, 3).unwrap();
    let change = |orig_size, added, deleted| BufferChange {
        orig_size,
        added,
        deleted,
    };
    assert_eq!(
        *log.lock().unwrap(),
        [
            change(0, 6, 0),
            change(6, 0, 2),
            change(4, 3, 0),
            change(8, 0, 3)
        ]
    );
    assert_eq!(buf.counters(), (6 + 3 + 1, 2 + 3));
    assert!(buf.remove_callback(id));
    assert!(!buf.remove_callback(id));
}

// ---------------------------------------------------------------- limits

#[test]
#[cfg_attr(
    miri,
    ignore = "Miri aborts on an impossible allocation instead of failing it"
)]
fn overflow_and_size_limits_are_refused() {
    let mut buf = Buffer::new();
    assert!(matches!(
        buf.reserve(usize::MAX),
        Err(BufferError::TooLarge)
    ));
    // Within max_size (isize::MAX) but impossible to allocate: refused, no abort.
    assert!(matches!(
        buf.reserve(isize::MAX as usize),
        Err(BufferError::TooLarge)
    ));
    assert!(matches!(buf.reserve(1 << 62), Err(BufferError::TooLarge)));
    assert!(buf.is_empty());

    buf.set_max_size(10);
    buf.add(b"0123456789").unwrap();
    assert!(matches!(buf.add(b"x"), Err(BufferError::TooLarge)));
    assert!(matches!(buf.prepend(b"x"), Err(BufferError::TooLarge)));
    assert!(matches!(
        buf.add_reference(&b"x"[..]),
        Err(BufferError::TooLarge)
    ));
    assert!(matches!(buf.reserve(1), Err(BufferError::TooLarge)));
    let mut other = Buffer::new();
    other.add(b"x").unwrap();
    assert!(matches!(
        buf.add_buffer(&mut other),
        Err(BufferError::TooLarge)
    ));
    assert!(matches!(
        other.remove_buffer(&mut buf, 1),
        Err(BufferError::TooLarge)
    ));
    assert_eq!(other.len(), 1);
    let (mut a, b) = UnixStream::pair().unwrap();
    a.write_all(b"x").unwrap();
    assert_eq!(
        buf.read_from(&b, 10).unwrap_err().kind(),
        ErrorKind::OutOfMemory
    );
    assert_eq!(buf.len(), 10);
    let e: std::io::Error = buf.add(b"x").unwrap_err().into();
    assert_eq!(e.kind(), ErrorKind::OutOfMemory);
    assert!(matches!(
        e.get_ref().and_then(|e| e.downcast_ref::<BufferError>()),
        Some(BufferError::TooLarge)
    ));

    // A huge (sparse, never read) file segment fills the length space:
    // anything more would overflow and is refused.
    let file = TempFile::new(b"tiny");
    let mut buf = Buffer::new();
    let huge = FileSegment::new(file.open(), 0, Some(isize::MAX as u64)).unwrap();
    buf.add_file_segment(&huge, 0, None).unwrap();
    assert_eq!(buf.len(), isize::MAX as usize);
    assert!(matches!(buf.add(b"x"), Err(BufferError::TooLarge)));
    assert!(matches!(
        buf.add_file_segment(&huge, 0, Some(1)),
        Err(BufferError::TooLarge)
    ));
    let mut small = Buffer::new();
    small.add(b"x").unwrap();
    assert!(matches!(
        small.add_buffer(&mut buf),
        Err(BufferError::TooLarge)
    ));
    assert!(matches!(
        buf.add_buffer(&mut small),
        Err(BufferError::TooLarge)
    ));
    assert!(matches!(
        buf.pullup(usize::MAX),
        Err(BufferError::OutOfRange)
    ));
    assert!(matches!(
        buf.copyout_from(usize::MAX, &mut [0; 4]),
        Err(BufferError::OutOfRange)
    ));
    assert!(
        matches!(buf.pullup(100), Err(BufferError::Io(_))),
        "past the real end of file"
    );
    assert!(
        matches!(buf.search(b"tiny"), Err(BufferError::Io(_))),
        "past the real end of file"
    );
    assert_eq!(buf.drain(usize::MAX).unwrap(), isize::MAX as usize);
    assert!(buf.is_empty());
}

#[test]
fn drain_remove_and_copyout_edges() {
    let mut buf = Buffer::with_chunk_size(3);
    assert_eq!(buf.drain(10).unwrap(), 0);
    assert_eq!(buf.remove(&mut [0; 4]).unwrap(), 0);
    assert_eq!(buf.copyout_from(0, &mut [0; 4]).unwrap(), 0);
    assert!(matches!(
        buf.copyout_from(1, &mut [0; 4]),
        Err(BufferError::OutOfRange)
    ));
    assert_eq!(buf.pullup(0).unwrap(), b"");
    buf.add(b"abcdefgh").unwrap();
    buf.prepend(b"012").unwrap();
    let mut out = [0u8; 4];
    assert_eq!(buf.copyout_from(9, &mut out).unwrap(), 2);
    assert_eq!(&out[..2], b"gh");
    assert_eq!(buf.copyout_from(11, &mut out).unwrap(), 0);
    let mut s = String::new();
    buf.read_to_string(&mut s).unwrap();
    assert_eq!(s, "012abcdefgh");
    write!(buf, "{}-two", 1).unwrap();
    assert_eq!(buf.to_vec().unwrap(), b"1-two");
    let slices = buf.io_slices(8);
    assert_eq!(slices.iter().map(|s| s.len()).sum::<usize>(), 5);
}
