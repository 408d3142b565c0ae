//! `Buffer` (evbuffer) costs on this runtime alone: appends and drains of
//! many small and of large chunks, line reading, a search across chunk
//! boundaries, and one `writev` of many chunks to a socketpair.
//!
//! `cargo bench --bench buffer`

use std::hint::black_box;
use std::io::Read;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use runtime::io::{Buffer, Eol};

fn add_drain(c: &mut Criterion) {
    let mut g = c.benchmark_group("buffer_add_drain");
    let small = [0x5au8; 64];
    g.throughput(Throughput::Bytes(64 * 10_000));
    g.bench_function("64B_x10000", |b| {
        let mut buf = Buffer::new();
        b.iter(|| {
            for _ in 0..10_000 {
                buf.add(black_box(&small)).unwrap();
            }
            black_box(buf.drain(usize::MAX).unwrap());
        })
    });
    let large = vec![0xa5u8; 64 * 1024];
    g.throughput(Throughput::Bytes(64 * 1024 * 64));
    g.bench_function("64KiB_x64", |b| {
        let mut buf = Buffer::new();
        b.iter(|| {
            for _ in 0..64 {
                buf.add(black_box(&large)).unwrap();
            }
            black_box(buf.drain(usize::MAX).unwrap());
        })
    });
    g.finish();
}

fn readln(c: &mut Criterion) {
    let mut g = c.benchmark_group("buffer_readln");
    let mut text = Vec::new();
    for i in 0..10_000 {
        text.extend_from_slice(format!("header-{i}: value {i}\r\n").as_bytes());
    }
    g.throughput(Throughput::Elements(10_000));
    for (name, eol) in [
        ("crlf_strict_10000_lines", Eol::CrlfStrict),
        ("any_10000_lines", Eol::Any),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let mut buf = Buffer::new();
                    buf.add(&text).unwrap();
                    buf
                },
                |mut buf| {
                    let mut n = 0;
                    while let Some(line) = buf.readln(eol).unwrap() {
                        n += line.len();
                    }
                    black_box(n)
                },
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

fn search(c: &mut Criterion) {
    let mut g = c.benchmark_group("buffer_search");
    let mut buf = Buffer::new();
    let chunk = vec![b'x'; 4096];
    for _ in 0..256 {
        buf.add_reference(chunk.clone()).unwrap();
    }
    buf.drain(4).unwrap();
    buf.add(b"\r\n\r\n").unwrap();
    assert_eq!(buf.chunk_count(), 257);
    g.throughput(Throughput::Bytes(buf.len() as u64));
    g.bench_function("4B_needle_at_end_of_1MiB_in_4KiB_chunks", |b| {
        b.iter(|| black_box(buf.search(black_box(b"\r\n\r\n")).unwrap()))
    });
    g.finish();
}

fn writev(c: &mut Criterion) {
    let mut g = c.benchmark_group("buffer_writev");
    let (a, mut peer) = UnixStream::pair().unwrap();
    let piece: Arc<[u8]> = Arc::from(&[1u8; 256][..]);
    let mut sink = vec![0u8; 64 * 256];
    g.throughput(Throughput::Bytes(64 * 256));
    g.bench_function("64_chunks_socketpair", |b| {
        let mut buf = Buffer::new();
        b.iter(|| {
            for _ in 0..64 {
                buf.add_reference(piece.clone()).unwrap();
            }
            let n = buf.write_to(&a).unwrap();
            peer.read_exact(&mut sink[..n]).unwrap();
            black_box(n)
        })
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = add_drain, readln, search, writev
}
criterion_main!(benches);
