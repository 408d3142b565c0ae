//! Rate limits of `runtime::io::BufferedStream` over 127.0.0.1: a stream's
//! own read and write token buckets and a group's shared bucket, checked by
//! counting the bytes that got through in a one-second window (expected:
//! the first tick's tokens plus `rate` per tick begun, within ±20% plus one
//! burst). Every test is bounded in time.

use runtime::io::{BufferedStream, RateLimit, RateLimitGroup};
use runtime::net::TcpStream;
use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

#[path = "support/net.rs"]
mod net;
use net::{bounded_for, tcp_pair};

/// Longer than the shared 20 s: each test measures one-second windows.
const LIMIT: Duration = Duration::from_secs(30);
const WINDOW: Duration = Duration::from_secs(1);
const TICK: Duration = Duration::from_millis(50);

/// Bytes a bucket of `rate` per tick lets through in `elapsed` for a
/// reader that always wants more: the first tick's worth, then `rate` at
/// every tick boundary.
fn expected(rate: usize, elapsed: Duration) -> f64 {
    let ticks = (elapsed.as_nanos() / TICK.as_nanos()) as f64;
    rate as f64 * (1.0 + ticks)
}

fn assert_within(what: &str, got: usize, want: f64, burst: usize) {
    let slack = 0.2 * want + burst as f64;
    eprintln!("{what}: {got} bytes, expected {want:.0} ± {slack:.0}");
    assert!(
        (got as f64 - want).abs() <= slack,
        "{what}: {got} bytes, expected {want:.0} ± {slack:.0}"
    );
}

/// Writes as fast as the socket takes, until it fails.
fn flood(mut s: TcpStream) {
    runtime::spawn(async move {
        let junk = vec![b'f'; 64 * 1024];
        while s.write_all(&junk).await.is_ok() {}
    });
}

/// Reads from `s` until `WINDOW` has passed since `start`; returns the
/// bytes read before the deadline.
async fn count_reads(s: &mut BufferedStream<TcpStream>, start: Instant) -> usize {
    let mut total = 0;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = s.read(&mut buf).await.unwrap();
        if start.elapsed() >= WINDOW {
            return total;
        }
        assert!(n > 0);
        total += n;
    }
}

/// Reads raw from `s` until `WINDOW` has passed since `start`.
async fn count_raw_reads(mut s: TcpStream, start: Instant) -> usize {
    let mut total = 0;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = s.read(&mut buf).await.unwrap();
        if start.elapsed() >= WINDOW {
            return total;
        }
        assert!(n > 0);
        total += n;
    }
}

/// Writes into `s` (keeping its output non-empty) forever.
fn write_forever(mut s: BufferedStream<TcpStream>) {
    runtime::spawn(async move {
        let junk = vec![b'w'; 32 * 1024];
        loop {
            if s.write_all(&junk).await.is_err() || s.flush().await.is_err() {
                return;
            }
        }
    });
}

#[runtime::test]
async fn a_stream_read_limit_bounds_bytes_per_second() {
    bounded_for(LIMIT, async {
        const RATE: usize = 20_000; // per 50 ms: 400 kB/s
        const BURST: usize = 2 * RATE;
        let (client, server) = tcp_pair().await;
        flood(client);
        let mut s = BufferedStream::new(server);
        let start = Instant::now();
        s.set_read_limit(Some(RateLimit::new(RATE, BURST, TICK)));
        assert_eq!(s.rate_limits().0, Some(RateLimit::new(RATE, BURST, TICK)));
        let got = count_reads(&mut s, start).await;
        assert_within(
            "stream read limit",
            got,
            expected(RATE, start.elapsed()),
            BURST,
        );
        // Removing the limit lets the flood through at full speed.
        s.set_read_limit(None);
        assert_eq!(s.read_tokens(), None);
        let start = Instant::now();
        let mut fast = 0;
        let mut buf = vec![0u8; 64 * 1024];
        while start.elapsed() < Duration::from_millis(200) {
            fast += s.read(&mut buf).await.unwrap();
        }
        assert!(
            fast > 5 * RATE * 4,
            "unlimited read got only {fast} bytes in 200 ms"
        );
    })
    .await
}

#[runtime::test]
async fn a_stream_write_limit_bounds_bytes_per_second() {
    bounded_for(LIMIT, async {
        const RATE: usize = 10_000; // per 50 ms: 200 kB/s
        const BURST: usize = 2 * RATE;
        let (client, server) = tcp_pair().await;
        let mut s = BufferedStream::new(server);
        let start = Instant::now();
        s.set_write_limit(Some(RateLimit::new(RATE, BURST, TICK)));
        write_forever(s);
        let got = count_raw_reads(client, start).await;
        assert_within(
            "stream write limit",
            got,
            expected(RATE, start.elapsed()),
            BURST,
        );
    })
    .await
}

#[runtime::test]
async fn a_group_read_limit_is_shared_by_three_streams() {
    bounded_for(LIMIT, async {
        const RATE: usize = 30_000; // per 50 ms for the whole group: 600 kB/s
        const BURST: usize = 2 * RATE;
        let group = RateLimitGroup::new(Some(RateLimit::new(RATE, BURST, TICK)), None);
        let start = Instant::now();
        let counts: Vec<Rc<Cell<usize>>> = (0..3).map(|_| Rc::new(Cell::new(0))).collect();
        let mut tasks = Vec::new();
        for count in &counts {
            let (client, server) = tcp_pair().await;
            flood(client);
            let mut s = BufferedStream::new(server);
            s.set_rate_limit_group(Some(&group));
            let count = count.clone();
            tasks.push(runtime::spawn(async move {
                count.set(count_reads(&mut s, start).await);
                s
            }));
        }
        assert_eq!(group.members(), 3);
        let mut streams = Vec::new();
        for t in tasks {
            streams.push(t.await.unwrap());
        }
        let elapsed = start.elapsed();
        let per: Vec<usize> = counts.iter().map(|c| c.get()).collect();
        let total: usize = per.iter().sum();
        assert_within("group of 3, read", total, expected(RATE, elapsed), BURST);
        for (i, &n) in per.iter().enumerate() {
            assert!(n * 10 >= total, "stream {i} got {n} of {total}: starved");
        }
        let (read, written) = group.totals();
        assert!(read as usize >= total && written == 0);
        group.reset_totals();
        assert_eq!(group.totals(), (0, 0));
        drop(streams);
        assert_eq!(group.members(), 0);
    })
    .await
}

#[runtime::test]
async fn a_group_write_limit_is_shared_by_three_streams() {
    bounded_for(LIMIT, async {
        const RATE: usize = 15_000; // per 50 ms for the whole group: 300 kB/s
        const BURST: usize = 2 * RATE;
        let group = RateLimitGroup::new(None, Some(RateLimit::new(RATE, BURST, TICK)));
        group.set_min_share(1024);
        let start = Instant::now();
        let mut readers = Vec::new();
        for _ in 0..3 {
            let (client, server) = tcp_pair().await;
            let mut s = BufferedStream::new(server);
            s.set_rate_limit_group(Some(&group));
            write_forever(s);
            readers.push(runtime::spawn(count_raw_reads(client, start)));
        }
        let mut per = Vec::new();
        for r in readers {
            per.push(r.await.unwrap());
        }
        let total: usize = per.iter().sum();
        assert_within(
            "group of 3, write",
            total,
            expected(RATE, start.elapsed()),
            BURST,
        );
        for (i, &n) in per.iter().enumerate() {
            assert!(n * 10 >= total, "stream {i} got {n} of {total}: starved");
        }
    })
    .await
}

#[runtime::test]
async fn a_stream_takes_from_both_its_own_and_its_groups_bucket() {
    bounded_for(LIMIT, async {
        // The group allows 1 MB/s, the stream's own bucket 100 kB/s: the
        // tighter one wins.
        const OWN: usize = 5_000;
        let group = RateLimitGroup::new(Some(RateLimit::new(50_000, 100_000, TICK)), None);
        let (client, server) = tcp_pair().await;
        flood(client);
        let mut s = BufferedStream::new(server);
        let start = Instant::now();
        s.set_read_limit(Some(RateLimit::new(OWN, 2 * OWN, TICK)));
        s.set_rate_limit_group(Some(&group));
        assert!(s.rate_limit_group().is_some());
        let got = count_reads(&mut s, start).await;
        assert_within(
            "own limit within a group",
            got,
            expected(OWN, start.elapsed()),
            2 * OWN,
        );
        // The group counted the same bytes.
        assert!(group.totals().0 as usize >= got);
        s.set_rate_limit_group(None);
        assert_eq!(group.members(), 0);
    })
    .await
}
