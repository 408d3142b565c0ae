//! `runtime::io::BufferedStream` (bufferevent) over real sockets on
//! 127.0.0.1: watermarks and backpressure, read and write timeouts,
//! sendfile, every end-of-line style across chunks and reads, bounded lines
//! with a server that keeps serving, pairs, filters, finish, peer resets.
//! Every test is bounded in time. Rate limits are in `tests/ratelimit.rs`.

use runtime::io::{
    pair, AsyncBufRead, Buffer, BufferError, BufferedStream, DeadlineTimer, Eol, FilterResult,
    FlushMode, Passthrough, Watermarks,
};
use runtime::net::{AsyncRead, AsyncWrite, TcpListener, TcpStream};
use runtime::time::sleep;
use std::cell::Cell;
use std::future::poll_fn;
use std::io::{self, ErrorKind};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

#[path = "support/net.rs"]
mod net;
use net::{bounded, pattern, read_to_end, tcp_pair_nodelay};

fn is_line_too_long(e: &io::Error) -> bool {
    e.kind() == ErrorKind::InvalidData
        && matches!(
            e.get_ref().and_then(|i| i.downcast_ref::<BufferError>()),
            Some(BufferError::LineTooLong)
        )
}

// ---------------------------------------------------------------- watermarks

#[runtime::test]
async fn high_watermark_stops_reading_and_the_writer_blocks() {
    bounded(async {
        let (mut client, server) = tcp_pair_nodelay().await;
        // A fixed receive buffer (no autotuning up to 32 MB) so the writer
        // blocks soon; not a tiny one (loopback crawls on zero windows).
        server.set_recv_buffer_size(128 * 1024).unwrap();
        client.set_send_buffer_size(64 * 1024).unwrap();
        const HIGH: usize = 4096;
        const TOTAL: usize = 16 << 20;
        let mut reader = BufferedStream::new(server);
        reader.set_read_watermarks(0, HIGH);

        let written = Rc::new(Cell::new(0usize));
        let w = written.clone();
        let writer = runtime::spawn(async move {
            let data = pattern(TOTAL, 7);
            let mut off = 0;
            while off < TOTAL {
                let n = client
                    .write(&data[off..(off + 256 * 1024).min(TOTAL)])
                    .await?;
                off += n;
                w.set(off);
            }
            client.shutdown(std::net::Shutdown::Write)?;
            Ok::<_, io::Error>(())
        });

        // The reader fills up to the high watermark and then reads no more.
        let mut reads = 0;
        loop {
            let n = reader.fill().await.unwrap();
            assert!(reader.input().len() <= HIGH);
            if n == 0 {
                break;
            }
            reads += 1;
        }
        assert!(reads >= 1);
        assert!(!reader.is_eof());
        assert_eq!(
            reader.input().len(),
            HIGH,
            "memory is bounded by the watermark"
        );

        // The writer stalls: nothing is read from the socket, the kernel's
        // buffers fill and its writes block.
        let mut last = written.get();
        let mut stalled_since = Instant::now();
        while stalled_since.elapsed() < Duration::from_millis(400) {
            sleep(Duration::from_millis(50)).await;
            // Polling the reader again must not read past the watermark.
            assert_eq!(reader.fill().await.unwrap(), 0);
            if written.get() != last {
                last = written.get();
                stalled_since = Instant::now();
            }
        }
        assert!(
            last < TOTAL / 4,
            "writer got {last} bytes through a stalled reader"
        );

        // Consuming the input lets everything through, byte-exact, and the
        // input never holds more than the watermark.
        let expect = pattern(TOTAL, 7);
        let mut got = 0usize;
        loop {
            let mut chunk = [0u8; 1500];
            let n = reader.read(&mut chunk).await.unwrap();
            if n == 0 {
                break;
            }
            assert!(chunk[..n] == expect[got..got + n], "corrupted at {got}");
            got += n;
            assert!(reader.input().len() <= HIGH);
        }
        assert_eq!(got, TOTAL);
        writer.await.unwrap().unwrap();
    })
    .await
}

#[runtime::test]
async fn read_low_watermark_waits_for_enough_bytes() {
    bounded(async {
        let (mut client, server) = tcp_pair_nodelay().await;
        let mut reader = BufferedStream::new(server);
        reader.set_watermarks(Watermarks {
            read_low: 10,
            ..Watermarks::default()
        });
        let sent_rest = Rc::new(Cell::new(false));
        let flag = sent_rest.clone();
        let writer = runtime::spawn(async move {
            client.write_all(b"0123").await.unwrap();
            sleep(Duration::from_millis(50)).await;
            flag.set(true);
            client.write_all(b"456789ab").await.unwrap();
            sleep(Duration::from_millis(20)).await;
            client.write_all(b"xyz").await.unwrap();
            client
        });
        let mut buf = [0u8; 64];
        let n = reader.read(&mut buf).await.unwrap();
        assert!(sent_rest.get(), "a read returned before the low watermark");
        assert_eq!(&buf[..n], b"0123456789ab");
        // Fewer than the low watermark, then end of stream: what is there.
        let client = writer.await.unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let n = reader.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"xyz");
        assert_eq!(reader.read(&mut buf).await.unwrap(), 0);
    })
    .await
}

#[runtime::test]
async fn write_low_watermark_ends_flush_early() {
    bounded(async {
        let (mut client, server) = tcp_pair_nodelay().await;
        server.set_send_buffer_size(16 * 1024).unwrap();
        const TOTAL: usize = 2 << 20;
        const LOW: usize = 256 * 1024;
        let mut w = BufferedStream::new(server);
        w.set_write_watermark(LOW);
        w.write_all(&pattern(TOTAL, 3)).await.unwrap();
        // A slow reader.
        let reader = runtime::spawn(async move {
            let mut got = Vec::new();
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                match client.read(&mut buf).await.unwrap() {
                    0 => break got,
                    n => got.extend_from_slice(&buf[..n]),
                }
                sleep(Duration::from_micros(200)).await;
            }
        });
        w.flush().await.unwrap();
        let left = w.output().len();
        assert!(left <= LOW, "flush returned with {left} bytes buffered");
        assert!(
            left > 0,
            "flush went all the way down instead of stopping at the watermark"
        );
        w.set_write_watermark(0);
        w.flush().await.unwrap();
        assert!(w.output().is_empty());
        w.finish().await.unwrap();
        assert!(reader.await.unwrap() == pattern(TOTAL, 3));
    })
    .await
}

// ------------------------------------------------------------------ timeouts

#[runtime::test]
async fn read_timeout_fires_on_an_idle_peer() {
    bounded(async {
        let (mut client, server) = tcp_pair_nodelay().await;
        let mut s = BufferedStream::new(server);
        s.set_timeouts(Some(Duration::from_millis(250)), None);
        assert_eq!(s.timeouts(), (Some(Duration::from_millis(250)), None));
        let t = Instant::now();
        let err = s.read_line(Eol::Lf).await.unwrap_err();
        let waited = t.elapsed();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        assert!(waited >= Duration::from_millis(250), "{waited:?}");
        assert!(waited < Duration::from_secs(5), "{waited:?}");

        // Progress restarts the period: data every 50 ms keeps a 250 ms
        // timeout from firing (a wide margin: CI machines are loaded).
        let writer = runtime::spawn(async move {
            for i in 0..5 {
                sleep(Duration::from_millis(50)).await;
                client
                    .write_all(format!("line {i}\n").as_bytes())
                    .await
                    .unwrap();
            }
            client
        });
        for i in 0..5 {
            let line = s.read_line(Eol::Lf).await.unwrap().unwrap();
            assert_eq!(line, format!("line {i}").as_bytes());
        }
        let _client = writer.await.unwrap();
        // And it fires again once the peer is idle.
        assert_eq!(
            s.read_line(Eol::Lf).await.unwrap_err().kind(),
            ErrorKind::TimedOut
        );
    })
    .await
}

/// A waker that counts its wakes.
struct Counter(AtomicUsize);

impl std::task::Wake for Counter {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// The timer under the idle timeouts skips polls by the waker it already
/// holds, and only those: once its owner is polled by another task (another
/// waker), that waker is the one woken when the deadline passes.
#[runtime::test]
async fn deadline_timer_wakes_the_task_that_polled_last() {
    bounded(async {
        let a = std::sync::Arc::new(Counter(AtomicUsize::new(0)));
        let b = std::sync::Arc::new(Counter(AtomicUsize::new(0)));
        let (wa, wb) = (Waker::from(a.clone()), Waker::from(b.clone()));
        let mut t = DeadlineTimer::default();
        let target = Instant::now() + Duration::from_millis(40);
        assert!(!t.poll_expired(&mut Context::from_waker(&wa), target));
        // The same waker again: nothing to do.
        assert!(!t.poll_expired(&mut Context::from_waker(&wa), target));
        // Another task now polls it.
        assert!(!t.poll_expired(&mut Context::from_waker(&wb), target));
        sleep(Duration::from_millis(120)).await;
        assert_eq!(b.0.load(Ordering::SeqCst), 1, "the last poller is woken");
        assert_eq!(a.0.load(Ordering::SeqCst), 0);
        assert!(t.poll_expired(&mut Context::from_waker(&wb), target));
        // A later target after it passed: pending again, and woken again.
        let later = Instant::now() + Duration::from_millis(30);
        assert!(!t.poll_expired(&mut Context::from_waker(&wb), later));
        sleep(Duration::from_millis(100)).await;
        assert_eq!(b.0.load(Ordering::SeqCst), 2);
        assert!(t.poll_expired(&mut Context::from_waker(&wb), later));
    })
    .await
}

#[runtime::test]
async fn write_timeout_fires_when_the_peer_does_not_read() {
    bounded(async {
        let (client, server) = tcp_pair_nodelay().await;
        server.set_send_buffer_size(16 * 1024).unwrap();
        client.set_recv_buffer_size(64 * 1024).unwrap();
        let mut s = BufferedStream::new(server);
        s.set_timeouts(None, Some(Duration::from_millis(150)));
        s.output_mut().add(&vec![b'x'; 8 << 20]).unwrap();
        let t = Instant::now();
        let err = s.flush().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        assert!(t.elapsed() >= Duration::from_millis(150));
        assert!(
            !s.output().is_empty(),
            "the unsent bytes stay in the output"
        );
        drop(client);
    })
    .await
}

// ------------------------------------------------------------------ sendfile

struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new(contents: &[u8]) -> TempFile {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "runtime-bstream-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::write(&path, contents).unwrap();
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[runtime::test]
async fn file_segments_are_served_byte_exact_with_and_without_sendfile() {
    bounded(async {
        let body = pattern(3 << 20, 9);
        let file = TempFile::new(&body);
        for use_sendfile in [true, false] {
            let (mut client, server) = tcp_pair_nodelay().await;
            // Small socket buffers: sendfile meets a full socket many times.
            server.set_send_buffer_size(32 * 1024).unwrap();
            let mut s = BufferedStream::new(server);
            s.set_sendfile(use_sendfile);
            s.output_mut().add(b"HEADER\n").unwrap();
            s.output_mut()
                .add_file(std::fs::File::open(&file.0).unwrap(), 1000, None)
                .unwrap();
            s.output_mut().add(b"\nTRAILER").unwrap();
            let reader = runtime::spawn(async move { read_to_end(&mut client).await.unwrap() });
            s.finish().await.unwrap();
            let got = reader.await.unwrap();
            let mut want = b"HEADER\n".to_vec();
            want.extend_from_slice(&body[1000..]);
            want.extend_from_slice(b"\nTRAILER");
            assert_eq!(got.len(), want.len(), "sendfile={use_sendfile}");
            assert!(got == want, "sendfile={use_sendfile}: corrupted");
        }
    })
    .await
}

/// A TCP stream that records the largest plain `poll_write` it is given:
/// with sendfile on, that is the block a full socket made the stream read
/// from the file into memory.
struct WriteSpy {
    inner: TcpStream,
    largest_write: Rc<Cell<usize>>,
    writes: Rc<Cell<usize>>,
}

impl std::os::fd::AsFd for WriteSpy {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl AsyncRead for WriteSpy {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteSpy {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        self.largest_write
            .set(self.largest_write.get().max(buf.len()));
        self.writes.set(self.writes.get() + 1);
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_close(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

#[runtime::test]
async fn a_full_socket_under_sendfile_is_waited_for_without_copying_the_file() {
    // When sendfile finds the socket full, the stream waits for it with
    // one ordinary write; that write must be a small probe, not a block of
    // the file read into memory for a write the full socket refuses.
    bounded(async {
        let body = pattern(3 << 20, 5);
        let file = TempFile::new(&body);
        let (mut client, server) = tcp_pair_nodelay().await;
        server.set_send_buffer_size(32 * 1024).unwrap();
        let largest_write = Rc::new(Cell::new(0));
        let writes = Rc::new(Cell::new(0));
        let mut s = BufferedStream::new(WriteSpy {
            inner: server,
            largest_write: largest_write.clone(),
            writes: writes.clone(),
        });
        s.set_sendfile(true);
        s.output_mut()
            .add_file(std::fs::File::open(&file.0).unwrap(), 0, None)
            .unwrap();
        let reader = runtime::spawn(async move { read_to_end(&mut client).await.unwrap() });
        s.finish().await.unwrap();
        let got = reader.await.unwrap();
        assert!(got == body, "corrupted");
        assert!(
            writes.get() > 0,
            "the socket never filled: the test saw nothing"
        );
        assert!(
            largest_write.get() <= 4096,
            "{} bytes of the file read into memory for one write while the socket was full",
            largest_write.get()
        );
    })
    .await
}

#[runtime::test]
async fn buffer_write_to_on_the_socket_descriptor() {
    bounded(async {
        let body = pattern(256 * 1024, 4);
        let file = TempFile::new(&body);
        let (mut client, server) = tcp_pair_nodelay().await;
        let mut out = Buffer::new();
        out.add_file(std::fs::File::open(&file.0).unwrap(), 0, None)
            .unwrap();
        let reader = runtime::spawn(async move { read_to_end(&mut client).await.unwrap() });
        while !out.is_empty() {
            match out.write_to(&server) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    sleep(Duration::from_millis(1)).await
                }
                Err(e) => panic!("{e}"),
            }
        }
        server.shutdown(std::net::Shutdown::Write).unwrap();
        assert!(reader.await.unwrap() == body);
    })
    .await
}

// ----------------------------------------------------------------- read_line

/// Which line API [`lines_across_reads`] reads with.
#[derive(Clone, Copy, Debug)]
enum LineApi {
    /// `try_read_line` and `read_line`: a new vector per line.
    Owned,
    /// `try_read_line_into` and `read_line_into`: one vector throughout,
    /// holding other contents before the first line (they append).
    Into,
}

/// Sends `first`, makes the server read it (one socket read), checks no
/// line is complete yet, then sends `rest` and end of stream, reading the
/// lines with `api`.
async fn lines_across_reads(
    api: LineApi,
    style: Eol,
    first: &[u8],
    rest: &[u8],
    tiny_chunks: bool,
) -> (Option<Vec<u8>>, Vec<Vec<u8>>) {
    let (mut client, server) = tcp_pair_nodelay().await;
    let mut s = BufferedStream::new(server);
    if tiny_chunks {
        // 4-byte chunks and reads: "abc\r" and "\ndef" land in different
        // chunks of the input.
        *s.input_mut() = Buffer::with_chunk_size(4);
        s.set_max_single_read(4);
    }
    client.write_all(first).await.unwrap();
    let mut got = 0;
    while got < first.len() {
        got += s.fill().await.unwrap();
    }
    let early = match api {
        LineApi::Owned => s.try_read_line(style).unwrap(),
        LineApi::Into => {
            const BEFORE: &[u8] = b"kept from before";
            let mut line = BEFORE.to_vec();
            let early = s.try_read_line_into(style, &mut line).unwrap().map(|n| {
                assert!(line.starts_with(BEFORE), "appended, not cleared");
                assert_eq!(n, line.len() - BEFORE.len());
                line[BEFORE.len()..].to_vec()
            });
            if early.is_none() {
                assert_eq!(line, BEFORE, "Ok(None) leaves the vector unchanged");
            }
            early
        }
    };
    client.write_all(rest).await.unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();
    if tiny_chunks && early.is_none() && first.len() == 4 {
        // The next read goes into a chunk of its own: the end of line is
        // split across chunks as well as across reads.
        assert!(s.fill().await.unwrap() > 0);
        assert!(s.input().chunk_count() >= 2, "{:?}", s.input());
    }
    let lines = match api {
        LineApi::Owned => {
            let mut lines = Vec::new();
            while let Some(line) = s.read_line(style).await.unwrap() {
                lines.push(line);
            }
            lines
        }
        LineApi::Into => collect_into(&mut s, style).await,
    };
    (early, lines)
}

#[runtime::test]
async fn every_eol_style_across_chunks_and_socket_reads() {
    bounded(async {
        let v = |items: &[&str]| -> Vec<Vec<u8>> {
            items.iter().map(|s| s.as_bytes().to_vec()).collect()
        };
        for tiny in [false, true] {
            let across = |style, first: &'static [u8], rest: &'static [u8]| {
                lines_across_reads(LineApi::Owned, style, first, rest, tiny)
            };
            // CRLF split between two socket reads (and two chunks).
            let (early, lines) = across(Eol::CrlfStrict, b"abc\r", b"\ndef\r\n").await;
            assert_eq!(early, None);
            assert_eq!(lines, v(&["abc", "def"]));

            let (early, lines) = across(Eol::Crlf, b"abc\r", b"\ndef\r\nghi\n").await;
            assert_eq!(early, None);
            assert_eq!(lines, v(&["abc", "def", "ghi"]));

            let (early, lines) = across(Eol::Lf, b"abc\r", b"\ndef\r\n").await;
            assert_eq!(early, None);
            assert_eq!(lines, v(&["abc\r", "def\r"]));

            // Any: the CR ends the line as soon as it is there; the LF that
            // follows in the next read ends an empty one.
            let (early, lines) = across(Eol::Any, b"abc\r", b"\ndef\r\n\r\nx\n").await;
            assert_eq!(early, Some(b"abc".to_vec()));
            assert_eq!(lines, v(&["", "def", "x"]));

            let (early, lines) = across(Eol::Nul, b"ab", b"c\0d\ne\0").await;
            assert_eq!(early, None);
            assert_eq!(lines, v(&["abc", "d\ne"]));

            // CrlfStrict keeps a bare LF and a lone CR as data.
            let (early, lines) = across(Eol::CrlfStrict, b"a\nb\r", b"c\r\n").await;
            assert_eq!(early, None);
            assert_eq!(lines, v(&["a\nb\rc"]));
        }
    })
    .await
}

#[runtime::test]
async fn end_of_stream_mid_line_is_an_error_and_keeps_the_bytes() {
    bounded(async {
        let (mut client, server) = tcp_pair_nodelay().await;
        let mut s = BufferedStream::new(server);
        client.write_all(b"whole\npartial").await.unwrap();
        drop(client);
        assert_eq!(s.read_line(Eol::Lf).await.unwrap().unwrap(), b"whole");
        let err = s.read_line(Eol::Lf).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
        assert_eq!(s.input().to_vec().unwrap(), b"partial");
        s.input_mut().clear().unwrap();
        assert_eq!(s.read_line(Eol::Lf).await.unwrap(), None);
    })
    .await
}

#[runtime::test]
async fn read_until_a_delimiter() {
    bounded(async {
        let (mut client, server) = tcp_pair_nodelay().await;
        let mut s = BufferedStream::new(server);
        s.set_max_line(16);
        client.write_all(b"a=1;bb=22;").await.unwrap();
        client.write_all(&[b'z'; 40]).await.unwrap();
        drop(client);
        assert_eq!(s.read_until(b'=').await.unwrap().unwrap(), b"a");
        assert_eq!(s.read_until(b';').await.unwrap().unwrap(), b"1");
        assert_eq!(s.read_until(b'=').await.unwrap().unwrap(), b"bb");
        assert_eq!(s.read_until(b';').await.unwrap().unwrap(), b"22");
        assert!(is_line_too_long(&s.read_until(b';').await.unwrap_err()));
    })
    .await
}

// ------------------------------------------------------------ read_line_into

/// An end-of-line style, the bytes sent, the lines expected.
type LineCase = (Eol, &'static [u8], &'static [&'static [u8]]);

/// Reads every line with `read_line_into` into one vector until end of
/// stream, clearing it between lines (the first line is appended to other
/// contents); checks each result against the vector's contents.
async fn collect_into<S: runtime::io::Transport>(
    s: &mut BufferedStream<S>,
    eol: Eol,
) -> Vec<Vec<u8>> {
    let mut line = b"other contents".to_vec();
    let mut before = line.len();
    let mut lines = Vec::new();
    while let Some(n) = s.read_line_into(eol, &mut line).await.unwrap() {
        assert_eq!(n, line.len() - before, "n bytes appended");
        lines.push(line[before..].to_vec());
        line.clear();
        before = 0;
    }
    assert_eq!(
        line.len(),
        before,
        "end of stream leaves the vector unchanged"
    );
    lines
}

fn owned(items: &[&[u8]]) -> Vec<Vec<u8>> {
    items.iter().map(|s| s.to_vec()).collect()
}

#[runtime::test]
async fn read_line_into_several_lines_from_one_read_reuse_one_vector() {
    bounded(async {
        let (mut client, server) = tcp_pair_nodelay().await;
        let mut s = BufferedStream::new(server);
        // Longest first: a shorter line must not show the longer one's tail.
        let data = b"a rather long first line\nxy\n\nshort one\nz\n";
        client.write_all(data).await.unwrap();
        let mut got = 0;
        while got < data.len() {
            got += s.fill().await.unwrap();
        }
        let mut line = Vec::new();
        assert_eq!(s.try_read_line_into(Eol::Lf, &mut line).unwrap(), Some(24));
        assert_eq!(line, b"a rather long first line");
        let (ptr, cap) = (line.as_ptr(), line.capacity());
        for want in [&b"xy"[..], b"", b"short one", b"z"] {
            line.clear();
            let n = s.try_read_line_into(Eol::Lf, &mut line).unwrap();
            assert_eq!(n, Some(want.len()));
            assert_eq!(line, want);
            assert_eq!((line.as_ptr(), line.capacity()), (ptr, cap), "reallocated");
        }
        line.extend_from_slice(b"junk");
        assert_eq!(s.try_read_line_into(Eol::Lf, &mut line).unwrap(), None);
        assert_eq!(line, b"zjunk", "Ok(None) leaves the vector unchanged");

        // Then the async form, one read bringing several lines again.
        client.write_all(b"one\ntwo\nthree\n").await.unwrap();
        drop(client);
        assert_eq!(
            collect_into(&mut s, Eol::Lf).await,
            owned(&[b"one", b"two", b"three"])
        );
        // End of stream is sticky.
        line.push(b'!');
        assert_eq!(s.read_line_into(Eol::Lf, &mut line).await.unwrap(), None);
        assert_eq!(line, b"zjunk!");
    })
    .await
}

#[runtime::test]
async fn read_line_into_a_line_split_across_many_small_writes() {
    bounded(async {
        for (eol, ending) in [
            (Eol::Lf, &b"\n"[..]),
            (Eol::Crlf, b"\r\n"),
            (Eol::CrlfStrict, b"\r\n"),
            (Eol::Nul, b"\0"),
        ] {
            let (mut client, server) = tcp_pair_nodelay().await;
            let mut s = BufferedStream::new(server);
            // Tiny chunks and reads: the lines cross chunks, so the general
            // path (not only the first-chunk fast path) is exercised.
            *s.input_mut() = Buffer::with_chunk_size(3);
            s.set_max_single_read(2);
            let mut data = Vec::new();
            let lines = owned(&[b"the first line, in pieces", b"", b"2nd", b"last of all"]);
            for l in &lines {
                data.extend_from_slice(l);
                data.extend_from_slice(ending);
            }
            let writer = runtime::spawn(async move {
                for piece in data.chunks(3) {
                    client.write_all(piece).await.unwrap();
                    sleep(Duration::from_millis(1)).await;
                }
                client.shutdown(std::net::Shutdown::Write).unwrap();
                client
            });
            assert_eq!(collect_into(&mut s, eol).await, lines, "{eol:?}");
            drop(writer.await.unwrap());
        }
    })
    .await
}

#[runtime::test]
async fn read_line_into_every_eol_style() {
    bounded(async {
        for tiny in [false, true] {
            let across = |style, first: &'static [u8], rest: &'static [u8]| {
                lines_across_reads(LineApi::Into, style, first, rest, tiny)
            };
            let (early, lines) = across(Eol::CrlfStrict, b"abc\r", b"\ndef\r\n").await;
            assert_eq!(early, None);
            assert_eq!(lines, owned(&[b"abc", b"def"]));

            let (early, lines) = across(Eol::Crlf, b"abc\r", b"\ndef\r\nghi\n").await;
            assert_eq!(early, None);
            assert_eq!(lines, owned(&[b"abc", b"def", b"ghi"]));

            let (early, lines) = across(Eol::Lf, b"abc\r", b"\ndef\r\n").await;
            assert_eq!(early, None);
            assert_eq!(lines, owned(&[b"abc\r", b"def\r"]));

            // Any: the CR ends the line at once; the LF in the next read
            // ends an empty one.
            let (early, lines) = across(Eol::Any, b"abc\r", b"\ndef\r\n\r\nx\n").await;
            assert_eq!(early, Some(b"abc".to_vec()));
            assert_eq!(lines, owned(&[b"", b"def", b"x"]));

            // Any within one read: a whole run of CR and LF is one end.
            let (early, lines) = across(Eol::Any, b"a\r\n\n\rbb\n", b"c\r\n").await;
            assert_eq!(early, Some(b"a".to_vec()));
            assert_eq!(lines, owned(&[b"bb", b"c"]));

            let (early, lines) = across(Eol::Nul, b"ab", b"c\0d\ne\0").await;
            assert_eq!(early, None);
            assert_eq!(lines, owned(&[b"abc", b"d\ne"]));

            // CrlfStrict keeps a bare LF and a lone CR as data.
            let (early, lines) = across(Eol::CrlfStrict, b"a\nb\r", b"c\r\n").await;
            assert_eq!(early, None);
            assert_eq!(lines, owned(&[b"a\nb\rc"]));

            // Crlf: a lone CR is data, a bare LF ends a line.
            let (early, lines) = across(Eol::Crlf, b"x\ry\n", b"z\r\n").await;
            assert_eq!(early, Some(b"x\ry".to_vec()));
            assert_eq!(lines, owned(&[b"z"]));
        }
    })
    .await
}

#[runtime::test]
async fn read_line_into_end_of_stream_mid_line_and_clean_end() {
    bounded(async {
        let (mut client, server) = tcp_pair_nodelay().await;
        let mut s = BufferedStream::new(server);
        client.write_all(b"whole\r\npartial").await.unwrap();
        drop(client);
        let mut line = Vec::new();
        assert_eq!(
            s.read_line_into(Eol::CrlfStrict, &mut line).await.unwrap(),
            Some(5)
        );
        assert_eq!(line, b"whole");
        let err = s
            .read_line_into(Eol::CrlfStrict, &mut line)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
        // The same error as read_line's, the partial line in the input.
        let err2 = s.read_line(Eol::CrlfStrict).await.unwrap_err();
        assert_eq!(err.to_string(), err2.to_string());
        assert_eq!(line, b"whole", "nothing of the partial line in the vector");
        assert_eq!(s.input().to_vec().unwrap(), b"partial");
        s.input_mut().clear().unwrap();
        line.extend_from_slice(b"junk");
        assert_eq!(
            s.read_line_into(Eol::CrlfStrict, &mut line).await.unwrap(),
            None
        );
        assert_eq!(line, b"wholejunk");

        // A clean end right after a line, and on an empty stream.
        let (mut client, server) = tcp_pair_nodelay().await;
        let mut s = BufferedStream::new(server);
        client.write_all(b"last\n").await.unwrap();
        client.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(collect_into(&mut s, Eol::Lf).await, owned(&[b"last"]));
        let (client, server) = tcp_pair_nodelay().await;
        drop(client);
        let mut s = BufferedStream::new(server);
        assert_eq!(s.read_line_into(Eol::Any, &mut line).await.unwrap(), None);
        assert_eq!(s.read_line_into(Eol::Any, &mut line).await.unwrap(), None);
    })
    .await
}

#[runtime::test]
async fn read_line_into_refuses_long_lines_like_read_line() {
    bounded(async {
        let (mut client, server) = tcp_pair_nodelay().await;
        let mut s = BufferedStream::new(server);
        s.set_max_line(8);
        client
            .write_all(b"12345678\nmuch too long\nok\n1234567\r")
            .await
            .unwrap();
        let mut line = Vec::new();
        // Exactly the cap is fine.
        assert_eq!(s.read_line_into(Eol::Lf, &mut line).await.unwrap(), Some(8));
        assert_eq!(line, b"12345678");
        let err = s.read_line_into(Eol::Lf, &mut line).await.unwrap_err();
        assert!(is_line_too_long(&err), "{err:?}");
        assert_eq!(line, b"12345678", "errors leave the vector unchanged");
        line.clear();
        assert!(s.input().to_vec().unwrap().starts_with(b"much too long\n"));
        let err = s.try_read_line_into(Eol::Lf, &mut line).unwrap_err();
        assert!(is_line_too_long(&err), "{err:?}");
        // Drain the long line and go on.
        s.input_mut().drain(14).unwrap();
        assert_eq!(s.read_line_into(Eol::Lf, &mut line).await.unwrap(), Some(2));
        assert_eq!(line, b"ok");
        line.clear();
        // A CR at the cap may still be followed by its LF (Crlf).
        s.set_max_line(7);
        while s.input().len() < 8 {
            assert!(s.fill().await.unwrap() > 0);
        }
        assert_eq!(s.try_read_line_into(Eol::Crlf, &mut line).unwrap(), None);
        client.write_all(b"\n").await.unwrap();
        assert_eq!(
            s.read_line_into(Eol::Crlf, &mut line).await.unwrap(),
            Some(7)
        );
        assert_eq!(line, b"1234567");
        line.clear();

        // An input at its high watermark without an end of line cannot
        // complete a line: LineTooLong, as with read_line.
        s.set_max_line(1 << 20);
        s.set_read_watermarks(0, 16);
        client.write_all(&[b'x'; 40]).await.unwrap();
        let err = s.read_line_into(Eol::Lf, &mut line).await.unwrap_err();
        assert!(is_line_too_long(&err), "{err:?}");
        assert!(line.is_empty(), "errors leave the vector unchanged");
        assert_eq!(s.input().len(), 16);
        let err = s.try_read_line_into(Eol::Lf, &mut line).unwrap_err();
        assert!(is_line_too_long(&err), "{err:?}");
        let err = s.read_line(Eol::Lf).await.unwrap_err();
        assert!(is_line_too_long(&err), "{err:?}");
    })
    .await
}

#[runtime::test]
async fn read_line_into_over_a_pair_with_every_split() {
    bounded(async {
        // Every way of cutting the data into two writes gives the same
        // lines (Any is left out: where a CR and LF are cut apart it
        // legitimately ends an extra, empty line).
        let cases: [LineCase; 4] = [
            (Eol::Lf, b"ab\n\ncd\r\nef\n", &[b"ab", b"", b"cd\r", b"ef"]),
            (Eol::Crlf, b"ab\r\n\ncd\re\n", &[b"ab", b"", b"cd\re"]),
            (
                Eol::CrlfStrict,
                b"ab\r\n\r\nc\nd\r\n",
                &[b"ab", b"", b"c\nd"],
            ),
            (Eol::Nul, b"ab\0\0c\nd\0", &[b"ab", b"", b"c\nd"]),
        ];
        for (eol, data, want) in cases {
            for cut in 0..=data.len() {
                let (mut a, mut b) = pair();
                let mut line = Vec::new();
                let mut got = Vec::new();
                if cut > 0 {
                    a.write_all(&data[..cut]).await.unwrap();
                    a.flush().await.unwrap();
                    assert_eq!(b.fill().await.unwrap(), cut);
                }
                while let Some(n) = b.try_read_line_into(eol, &mut line).unwrap() {
                    assert_eq!(n, line.len());
                    got.push(line.clone());
                    line.clear();
                }
                a.write_all(&data[cut..]).await.unwrap();
                a.finish().await.unwrap();
                got.extend(collect_into(&mut b, eol).await);
                assert_eq!(got, owned(want), "{eol:?} cut at {cut}");
            }
        }
    })
    .await
}

#[runtime::test]
async fn read_until_into_reuses_one_vector() {
    bounded(async {
        let (mut client, server) = tcp_pair_nodelay().await;
        let mut s = BufferedStream::new(server);
        s.set_max_line(16);
        client.write_all(b"alpha=1;bb=22;").await.unwrap();
        // Appending: the fields follow each other in one vector.
        let mut f = b"kept|".to_vec();
        let mut lens = Vec::new();
        for delim in [b'=', b';', b'=', b';'] {
            let before = f.len();
            let n = s.read_until_into(delim, &mut f).await.unwrap().unwrap();
            assert_eq!(n, f.len() - before);
            lens.push(n);
            f.push(b'|');
        }
        assert_eq!(lens, [5, 1, 2, 2]);
        assert_eq!(f, b"kept|alpha|1|bb|22|");
        f.clear();
        assert_eq!(s.try_read_until_into(b';', &mut f).unwrap(), None);
        assert!(f.is_empty());
        client.write_all(b"x;").await.unwrap();
        f.extend_from_slice(b"w");
        let n = poll_fn(|cx| s.poll_read_until_into(cx, b';', &mut f)).await;
        assert_eq!(n.unwrap(), Some(1));
        assert_eq!(f, b"wx");
        // Over the cap without the delimiter: the vector is unchanged.
        client.write_all(&[b'z'; 40]).await.unwrap();
        let err = s.read_until_into(b';', &mut f).await.unwrap_err();
        assert!(is_line_too_long(&err), "{err:?}");
        assert_eq!(f, b"wx");
        f.clear();
        assert!(is_line_too_long(
            &s.try_read_until_into(b';', &mut f).unwrap_err()
        ));
        // End of stream: mid-field, then clean.
        while s.input().len() < 40 {
            assert!(s.fill().await.unwrap() > 0);
        }
        s.input_mut().clear().unwrap();
        client.write_all(b"tail").await.unwrap();
        drop(client);
        let err = s.read_until_into(b';', &mut f).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
        assert_eq!(s.input().to_vec().unwrap(), b"tail");
        s.input_mut().clear().unwrap();
        assert_eq!(s.read_until_into(b';', &mut f).await.unwrap(), None);
        assert!(f.is_empty());
    })
    .await
}

/// One `_into` rule for every line reader, on `Buffer` and on
/// `BufferedStream`: the line is appended (what the vector held stays in
/// front), `Some(n)` counts the appended bytes, and `None`, `Pending` and
/// errors leave the vector as it was.
#[runtime::test]
async fn every_into_reader_appends_and_otherwise_leaves_the_vector_alone() {
    bounded(async {
        const HELD: &[u8] = b"held:";
        let held = || HELD.to_vec();

        // Buffer::readln_into and readln_max_into.
        let mut buf = Buffer::new();
        buf.add(b"one\ntoo long\nrest").unwrap();
        let mut v = held();
        assert_eq!(buf.readln_into(Eol::Lf, &mut v).unwrap(), Some(3));
        assert_eq!(v, b"held:one");
        let mut v = held();
        assert!(buf.readln_max_into(Eol::Lf, 4, &mut v).is_err());
        assert_eq!(v, HELD);
        assert_eq!(buf.readln_max_into(Eol::Lf, 8, &mut v).unwrap(), Some(8));
        assert_eq!(v, b"held:too long");
        let mut v = held();
        assert_eq!(buf.readln_into(Eol::Lf, &mut v).unwrap(), None);
        assert_eq!(v, HELD);

        // The stream's readers, over a socket.
        let (mut client, server) = tcp_pair_nodelay().await;
        let mut s = BufferedStream::new(server);
        s.set_max_line(8);
        client.write_all(b"a\nb\nc\nd;e;").await.unwrap();
        while s.input().len() < 10 {
            assert!(s.fill().await.unwrap() > 0);
        }
        let mut v = held();
        assert_eq!(s.try_read_line_into(Eol::Lf, &mut v).unwrap(), Some(1));
        assert_eq!(v, b"held:a");
        let mut v = held();
        assert_eq!(s.read_line_into(Eol::Lf, &mut v).await.unwrap(), Some(1));
        assert_eq!(v, b"held:b");
        let mut v = held();
        let n = poll_fn(|cx| s.poll_read_line_into(cx, Eol::Lf, &mut v)).await;
        assert_eq!((n.unwrap(), &v[..]), (Some(1), &b"held:c"[..]));
        let mut v = held();
        assert_eq!(s.try_read_until_into(b';', &mut v).unwrap(), Some(1));
        assert_eq!(v, b"held:d");
        let mut v = held();
        assert_eq!(s.read_until_into(b';', &mut v).await.unwrap(), Some(1));
        assert_eq!(v, b"held:e");

        // Nothing complete: None (try_) and Pending (poll_) change nothing.
        client.write_all(b"part").await.unwrap();
        while s.input().len() < 4 {
            assert!(s.fill().await.unwrap() > 0);
        }
        let mut v = held();
        assert_eq!(s.try_read_line_into(Eol::Lf, &mut v).unwrap(), None);
        assert_eq!(s.try_read_until_into(b';', &mut v).unwrap(), None);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(s.poll_read_line_into(&mut cx, Eol::Lf, &mut v).is_pending());
        assert!(s.poll_read_until_into(&mut cx, b';', &mut v).is_pending());
        assert_eq!(v, HELD);

        // Errors change nothing: too long, then end of stream mid-line.
        client.write_all(b"-far-too-long").await.unwrap();
        assert!(is_line_too_long(
            &s.read_line_into(Eol::Lf, &mut v).await.unwrap_err()
        ));
        assert!(is_line_too_long(
            &s.read_until_into(b';', &mut v).await.unwrap_err()
        ));
        assert_eq!(v, HELD);
        s.input_mut().clear().unwrap();
        client.write_all(b"end").await.unwrap();
        drop(client);
        let err = s.read_line_into(Eol::Lf, &mut v).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
        assert_eq!(v, HELD);
        // End of stream: None, the vector unchanged.
        s.input_mut().clear().unwrap();
        assert_eq!(s.read_line_into(Eol::Lf, &mut v).await.unwrap(), None);
        assert_eq!(s.read_until_into(b';', &mut v).await.unwrap(), None);
        assert_eq!(v, HELD);
    })
    .await
}

/// A line server: echoes lines; a line over 1 KiB gets "ERR too long"
/// and the connection is finished. Records the largest input it held.
async fn line_server(listener: TcpListener, max_input: Rc<Cell<usize>>) {
    loop {
        let Ok((conn, _)) = listener.accept().await else {
            return;
        };
        let max_input = max_input.clone();
        runtime::spawn(async move {
            let mut s = BufferedStream::new(conn);
            s.set_max_line(1024);
            loop {
                let r = s.read_line(Eol::Lf).await;
                max_input.set(max_input.get().max(s.input().len()));
                match r {
                    Ok(Some(line)) => {
                        s.output_mut().add(&line).unwrap();
                        s.output_mut().add(b"\n").unwrap();
                        if s.flush().await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        assert!(is_line_too_long(&e), "{e:?}");
                        s.output_mut().add(b"ERR too long\n").unwrap();
                        break;
                    }
                }
            }
            let _ = s.finish().await;
        });
    }
}

#[runtime::test]
async fn a_line_over_the_cap_is_an_error_and_the_server_keeps_serving() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let max_input = Rc::new(Cell::new(0));
        let server = runtime::spawn(line_server(listener, max_input.clone()));

        // A good client connected before the bad one.
        let mut good = BufferedStream::new(TcpStream::connect(addr).await.unwrap());
        good.write_all(b"first\n").await.unwrap();
        good.flush().await.unwrap();
        assert_eq!(good.read_line(Eol::Lf).await.unwrap().unwrap(), b"first");

        // The bad client: 1 MiB without a newline, written while reading.
        let bad = TcpStream::connect(addr).await.unwrap();
        let (mut bad_r, mut bad_w) = bad.split();
        let flood = runtime::spawn(async move {
            let junk = vec![b'a'; 64 * 1024];
            for _ in 0..16 {
                if bad_w.write_all(&junk).await.is_err() {
                    break; // the server closed on us: fine
                }
            }
        });
        let mut reply = Vec::new();
        let mut buf = [0u8; 256];
        loop {
            match bad_r.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => reply.extend_from_slice(&buf[..n]),
            }
        }
        assert_eq!(reply, b"ERR too long\n");
        flood.await.unwrap();
        drop(bad_r);
        // Memory stayed bounded: the cap plus one read.
        assert!(max_input.get() <= 1024 + 16 * 1024, "{}", max_input.get());

        // The same server still serves, old and new connections.
        good.write_all(b"second\n").await.unwrap();
        good.flush().await.unwrap();
        assert_eq!(good.read_line(Eol::Lf).await.unwrap().unwrap(), b"second");
        let mut newer = BufferedStream::new(TcpStream::connect(addr).await.unwrap());
        newer.write_all(b"third\n").await.unwrap();
        newer.finish().await.unwrap();
        assert_eq!(newer.read_line(Eol::Lf).await.unwrap().unwrap(), b"third");
        assert_eq!(newer.read_line(Eol::Lf).await.unwrap(), None);
        server.abort();
    })
    .await
}

#[runtime::test]
async fn a_flood_faster_than_the_high_watermark_stays_bounded() {
    bounded(async {
        let (client, server) = tcp_pair_nodelay().await;
        let mut s = BufferedStream::new(server);
        s.set_read_watermarks(0, 8192);
        s.set_max_line(1 << 20); // the watermark is the tighter bound
        let (_r, mut w) = client.split();
        let flood = runtime::spawn(async move {
            let junk = vec![b'q'; 64 * 1024];
            while w.write_all(&junk).await.is_ok() {}
        });
        let err = s.read_line(Eol::Lf).await.unwrap_err();
        assert!(is_line_too_long(&err), "{err:?}");
        assert_eq!(s.input().len(), 8192);
        drop(s);
        flood.await.unwrap();
    })
    .await
}

// --------------------------------------------------------- finish, resets

#[runtime::test]
async fn finish_gives_eof_after_the_data_and_reading_goes_on() {
    bounded(async {
        let (client, server) = tcp_pair_nodelay().await;
        let mut s = BufferedStream::new(server);
        let data = pattern(300 * 1024, 5);
        s.write_all(&data).await.unwrap();
        let mut c = BufferedStream::new(client);
        let reader = runtime::spawn(async move {
            let mut got = Vec::new();
            let mut buf = vec![0u8; 10_000];
            loop {
                match c.read(&mut buf).await.unwrap() {
                    0 => break,
                    n => got.extend_from_slice(&buf[..n]),
                }
            }
            // Half-close: this direction still works.
            c.write_all(b"thanks\n").await.unwrap();
            c.finish().await.unwrap();
            got
        });
        s.finish().await.unwrap();
        assert!(s.is_write_closed());
        assert_eq!(
            s.write_all(b"late").await.unwrap_err().kind(),
            ErrorKind::BrokenPipe
        );
        assert!(reader.await.unwrap() == data);
        assert_eq!(s.read_line(Eol::Lf).await.unwrap().unwrap(), b"thanks");
        assert_eq!(s.read_line(Eol::Lf).await.unwrap(), None);
    })
    .await
}

#[runtime::test]
async fn a_peer_reset_is_an_error() {
    bounded(async {
        let (client, server) = tcp_pair_nodelay().await;
        let mut s = BufferedStream::new(server);
        client.set_linger(Some(Duration::ZERO)).unwrap();
        drop(client); // RST
        let err = s.read_line(Eol::Lf).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset);
    })
    .await
}

#[runtime::test]
async fn async_read_bufread_and_write_traits() {
    bounded(async {
        let (client, server) = tcp_pair_nodelay().await;
        let mut a = BufferedStream::new(client);
        let mut b = BufferedStream::new(server);
        poll_fn(|cx| Pin::new(&mut a).poll_write(cx, b"trait "))
            .await
            .unwrap();
        let bufs = [io::IoSlice::new(b"vectored"), io::IoSlice::new(b"\n")];
        poll_fn(|cx| Pin::new(&mut a).poll_write_vectored(cx, &bufs))
            .await
            .unwrap();
        poll_fn(|cx| Pin::new(&mut a).poll_flush(cx)).await.unwrap();
        let first = poll_fn(|cx| Pin::new(&mut b).poll_fill_buf(cx).map_ok(|s| s.to_vec()))
            .await
            .unwrap();
        // consume() drains what was looked at.
        Pin::new(&mut b).consume(0);
        assert!(b"trait vectored\n".starts_with(&first) && !first.is_empty());
        let mut all = Vec::new();
        while all.len() < 15 {
            let mut buf = [0u8; 4];
            let n = poll_fn(|cx| Pin::new(&mut b).poll_read(cx, &mut buf))
                .await
                .unwrap();
            all.extend_from_slice(&buf[..n]);
        }
        assert_eq!(all, b"trait vectored\n");
        poll_fn(|cx| Pin::new(&mut a).poll_close(cx)).await.unwrap();
        assert_eq!(b.read(&mut [0u8; 4]).await.unwrap(), 0);
    })
    .await
}

// ---------------------------------------------------------- pairs, filters

#[allow(dead_code)]
#[path = "../examples/uppercase_filter.rs"]
mod uppercase_filter;

#[runtime::test]
async fn uppercase_filter_example_serves_connections() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = runtime::spawn(uppercase_filter::serve(listener));
        let mut a = TcpStream::connect(addr).await.unwrap();
        let mut b = BufferedStream::new(TcpStream::connect(addr).await.unwrap());
        a.write_all(b"hello\nwor").await.unwrap();
        b.write_all(b"second client\n").await.unwrap();
        b.flush().await.unwrap();
        assert_eq!(
            b.read_line(Eol::Lf).await.unwrap().unwrap(),
            b"SECOND CLIENT"
        );
        let mut line = [0u8; 6];
        a.read_exact(&mut line).await.unwrap();
        assert_eq!(&line, b"HELLO\n");
        // The unfinished line is held until its end arrives...
        sleep(Duration::from_millis(30)).await;
        a.write_all(b"ld\nlast, unfinished").await.unwrap();
        a.shutdown(std::net::Shutdown::Write).unwrap();
        // ...or the client closes its side (the stream is then finished).
        assert_eq!(
            read_to_end(&mut a).await.unwrap(),
            b"WORLD\nLAST, UNFINISHED"
        );
        server.abort();
    })
    .await
}

#[runtime::test]
async fn pair_round_trip_and_eof_on_close() {
    bounded(async {
        let (mut a, mut b) = pair();
        a.write_all(b"ping\n").await.unwrap();
        a.flush().await.unwrap();
        assert_eq!(b.read_line(Eol::Lf).await.unwrap().unwrap(), b"ping");
        b.write_all(b"pong\n").await.unwrap();
        b.flush().await.unwrap();
        assert_eq!(a.read_line(Eol::Lf).await.unwrap().unwrap(), b"pong");

        // A large transfer through the bounded pipe, in two tasks.
        let data = pattern(1 << 20, 1);
        let expect = data.clone();
        let reader = runtime::spawn(async move {
            let mut got = Vec::new();
            let mut buf = vec![0u8; 9000];
            loop {
                match b.read(&mut buf).await.unwrap() {
                    0 => break,
                    n => got.extend_from_slice(&buf[..n]),
                }
            }
            (got, b)
        });
        a.write_all(&data).await.unwrap();
        a.finish().await.unwrap();
        let (got, b) = reader.await.unwrap();
        assert!(got == expect);

        // Dropping an end gives end of stream to the other, and its writes
        // fail.
        drop(b);
        assert_eq!(a.read_line(Eol::Lf).await.unwrap(), None);
    })
    .await
}

#[runtime::test]
async fn pair_drop_fails_the_writer() {
    bounded(async {
        let (mut a, b) = pair();
        drop(b);
        a.write_all(b"into the void").await.unwrap();
        assert_eq!(a.flush().await.unwrap_err().kind(), ErrorKind::BrokenPipe);
    })
    .await
}

fn upper(src: &mut Buffer, dst: &mut Buffer, mode: FlushMode) -> FilterResult {
    // Line-oriented: only whole lines, unless flushing.
    loop {
        match src.readln(Eol::Lf) {
            Ok(Some(mut line)) => {
                line.make_ascii_uppercase();
                line.push(b'\n');
                if let Err(e) = dst.add(&line) {
                    return FilterResult::Error(e.into());
                }
            }
            Ok(None) => break,
            Err(e) => return FilterResult::Error(e.into()),
        }
    }
    if mode != FlushMode::Normal && !src.is_empty() {
        let mut rest = src.to_vec().unwrap();
        rest.make_ascii_uppercase();
        let _ = src.clear();
        let _ = dst.add(&rest);
    }
    FilterResult::Ok
}

#[runtime::test]
async fn uppercase_output_filter_over_tcp() {
    bounded(async {
        let (client, server) = tcp_pair_nodelay().await;
        let mut s = BufferedStream::filtered(server, Passthrough, upper);
        let mut c = BufferedStream::new(client);
        s.write_all(b"hello, ").await.unwrap();
        s.write_all(b"world\npartial").await.unwrap();
        s.flush().await.unwrap(); // Flush mode: the partial line goes too
        s.write_all(b" and more\n").await.unwrap();
        s.finish().await.unwrap();
        assert_eq!(
            c.read_line(Eol::Lf).await.unwrap().unwrap(),
            b"HELLO, WORLD"
        );
        assert_eq!(
            c.read_line(Eol::Lf).await.unwrap().unwrap(),
            b"PARTIAL AND MORE"
        );
        assert_eq!(c.read_line(Eol::Lf).await.unwrap(), None);
    })
    .await
}

#[runtime::test]
async fn input_filter_and_filter_errors() {
    bounded(async {
        let (client, server) = tcp_pair_nodelay().await;
        // Input: uppercase; a '!' in the input is a filter error.
        let input = |src: &mut Buffer, dst: &mut Buffer, mode: FlushMode| {
            if src.search(b"!").unwrap().is_some() {
                return FilterResult::Error(io::Error::new(ErrorKind::InvalidData, "bang"));
            }
            upper(src, dst, mode)
        };
        let mut s = BufferedStream::filtered(server, input, Passthrough);
        let mut c = client;
        c.write_all(b"abc\ndef").await.unwrap();
        assert_eq!(s.read_line(Eol::Lf).await.unwrap().unwrap(), b"ABC");
        c.write_all(b"\n").await.unwrap();
        assert_eq!(s.read_line(Eol::Lf).await.unwrap().unwrap(), b"DEF");
        c.write_all(b"bad!\n").await.unwrap();
        let err = s.read_line(Eol::Lf).await.unwrap_err();
        assert_eq!(err.to_string(), "bang");

        // The underlying stream is still there.
        let under = s.get_mut().underlying_mut();
        under.input_mut().clear().unwrap();
        under.write_all(b"raw\n").await.unwrap();
        under.flush().await.unwrap();
        let mut buf = [0u8; 4];
        c.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"raw\n");
    })
    .await
}

#[runtime::test]
async fn filtered_pair_round_trip_with_finish_mode() {
    bounded(async {
        // A filter that appends a trailer when finished.
        let mut finished = 0;
        let out = move |src: &mut Buffer, dst: &mut Buffer, mode: FlushMode| {
            let _ = dst.add_buffer(src);
            if mode == FlushMode::Finished {
                finished += 1;
                assert_eq!(finished, 1, "Finished is passed once");
                let _ = dst.add(b"<END>\n");
            }
            FilterResult::Ok
        };
        let (a, mut b) = pair();
        let mut a = BufferedStream::filtered(a.into_inner(), Passthrough, out);
        a.write_all(b"body\n").await.unwrap();
        a.finish().await.unwrap();
        a.finish().await.unwrap(); // idempotent
        assert_eq!(b.read_line(Eol::Lf).await.unwrap().unwrap(), b"body");
        assert_eq!(b.read_line(Eol::Lf).await.unwrap().unwrap(), b"<END>");
        assert_eq!(b.read_line(Eol::Lf).await.unwrap(), None);
    })
    .await
}

#[runtime::test]
async fn a_large_transfer_through_a_filter_waits_for_the_socket() {
    bounded(async {
        let (mut client, server) = tcp_pair_nodelay().await;
        server.set_send_buffer_size(16 * 1024).unwrap();
        // Lowercase ASCII in, uppercase out: a byte transform, chunk by chunk.
        let upper_bytes = |src: &mut Buffer, dst: &mut Buffer, _: FlushMode| {
            let mut bytes = src.to_vec().unwrap();
            bytes.make_ascii_uppercase();
            let _ = src.clear();
            match dst.add(&bytes) {
                Ok(()) => FilterResult::Ok,
                Err(e) => FilterResult::Error(e.into()),
            }
        };
        let mut s = BufferedStream::filtered(server, Passthrough, upper_bytes);
        const TOTAL: usize = 3 << 20;
        let data: Vec<u8> = (0..TOTAL).map(|i| b'a' + (i % 26) as u8).collect();
        let reader = runtime::spawn(async move {
            let mut got = Vec::new();
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match client.read(&mut buf).await.unwrap() {
                    0 => break got,
                    n => got.extend_from_slice(&buf[..n]),
                }
                if got.len() % 7 == 0 {
                    sleep(Duration::from_micros(100)).await;
                }
            }
        });
        for piece in data.chunks(100_000) {
            s.write_all(piece).await.unwrap();
            // The underlying output never holds much more than its limit.
            assert!(s.get_ref().underlying().output().len() <= 64 * 1024 + 100_000);
        }
        s.finish().await.unwrap();
        let got = reader.await.unwrap();
        assert_eq!(got.len(), TOTAL);
        assert!(got == data.to_ascii_uppercase());
    })
    .await
}
