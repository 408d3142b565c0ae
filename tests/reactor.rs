//! The reactor through the public API, over real descriptors (Unix socket
//! pairs, TCP on 127.0.0.1), once per backend: every test below is a
//! function taking the method name, and `backend_tests!` stamps out
//! `epoll::name`, `poll::name` and `select::name`.
//!
//! Every test bounds itself in time (`runtime::time::timeout` or a deadline
//! loop) and fails instead of hanging.

use runtime::reactor::{
    coop, supported_methods, Direction, Features, Method, Reactor, Registration,
};
use runtime::time::{
    interval, interval_at, sleep, sleep_until, timeout, try_sleep, MissedTickBehavior, Sleep,
};
use runtime::{spawn, yield_now, Builder, Runtime};
use std::cell::RefCell;
use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A runtime on exactly this backend.
fn rt(method: &str) -> Runtime {
    // The test names its backend: the EVENT_NO* variables must not veto it.
    let rt = Builder::new()
        .ignore_env(true)
        .method(method)
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(rt.method().name(), method);
    rt
}

/// A connected, non-blocking Unix stream pair.
fn pair() -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    (a, b)
}

/// A connected, non-blocking TCP pair on 127.0.0.1.
fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (b, _) = listener.accept().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    a.set_nodelay(true).unwrap();
    b.set_nodelay(true).unwrap();
    (a, b)
}

fn read_fd(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: reads into a live buffer of the given length.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

fn write_fd(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: writes from a live buffer of the given length.
    let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Reads once through the registration, waiting for readiness as needed.
async fn read_some(reg: &Registration, buf: &mut [u8]) -> io::Result<usize> {
    let fd = reg.fd();
    reg.io(Direction::Read, || read_fd(fd, buf)).await
}

/// Reads until `n` bytes arrived or EOF.
async fn read_exact_or_eof(reg: &Registration, n: usize) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while out.len() < n {
        let got = read_some(reg, &mut buf).await?;
        if got == 0 {
            break;
        }
        out.extend_from_slice(&buf[..got]);
    }
    Ok(out)
}

/// Awaits `fut` for at most `secs` seconds, panicking with `what` otherwise.
async fn bounded<F: Future>(secs: u64, what: &str, fut: F) -> F::Output {
    match timeout(Duration::from_secs(secs), fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {secs} s: {what}"),
    }
}

/// A deterministic pseudo-random sequence (xorshift64).
fn rng(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

fn shuffle<T>(v: &mut [T], seed: &mut u64) {
    for i in (1..v.len()).rev() {
        let j = (rng(seed) % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

fn pending_timers() -> usize {
    Reactor::current()
        .expect("inside a runtime")
        .pending_timers()
}

/// Polls a future exactly once with a no-op waker.
fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    Pin::new(f).poll(&mut cx)
}

/// Raises the soft `RLIMIT_NOFILE` to at least `want` if the hard limit
/// allows; returns whether descriptors up to `want - 1` can be created.
fn ensure_nofile(want: u64) -> bool {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is live storage for getrlimit to fill.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return false;
    }
    if lim.rlim_cur >= want {
        return true;
    }
    if lim.rlim_max < want {
        return false;
    }
    lim.rlim_cur = want;
    // SAFETY: `lim` is a live, initialised rlimit.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 }
}

/// Stamps out one `#[test]` per backend for each listed test function.
/// `name [poll: "reason"]` / `name [select: "reason"]` mark that backend's
/// variant `#[ignore]`d (known library bugs, see the reasons).
macro_rules! backend_tests {
    ($( $name:ident $([poll: $preason:literal])? $([select: $sreason:literal])? ),* $(,)?) => {
        mod epoll {
            $( #[test] fn $name() { super::$name("epoll") } )*
        }
        mod poll {
            $( $(#[ignore = $preason])? #[test] fn $name() { super::$name("poll") } )*
        }
        mod select {
            $( $(#[ignore = $sreason])? #[test] fn $name() { super::$name("select") } )*
        }
    };
}

/// Yields until `cond` holds (at most 2 s). The main future of `block_on`
/// runs again after every single task, so one yield is not one full round.
async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    bounded(2, what, async {
        while !cond() {
            yield_now().await;
        }
    })
    .await
}

backend_tests!(
    readiness_task_writer,
    readiness_thread_writer,
    write_readiness,
    many_descriptors,
    lost_wakeup_threaded,
    lost_wakeup_same_poll,
    stale_ready_event,
    cross_thread_wake_task,
    cross_thread_wake_main,
    peer_close_unix,
    peer_close_tcp,
    peer_close_after_data_while_waiting,
    peer_close_while_waiting,
    timer_order,
    timer_never_early,
    sleep_until_past,
    sleep_cancel_on_drop,
    sleep_cancel_on_abort,
    sleep_reset,
    sleep_elapsed_unpolled,
    timeout_outcomes,
    interval_burst,
    interval_delay,
    interval_skip,
    interval_and_sleep_errors,
    high_fd,
    registration_closed_fd,
    clear_direction,
);

// ---------------------------------------------------------------------------
// Readiness
// ---------------------------------------------------------------------------

/// A task blocks reading; another task writes later; the reader wakes with
/// the data.
fn readiness_task_writer(method: &str) {
    let rt = rt(method);
    let (a, b) = pair();
    rt.block_on(async {
        let reg = Rc::new(Registration::new(a).unwrap());
        assert_eq!(Reactor::current().unwrap().registrations(), 1);
        let r = reg.clone();
        let reader = spawn(async move {
            let mut buf = [0u8; 64];
            let n = read_some(&r, &mut buf).await.unwrap();
            buf[..n].to_vec()
        });
        // Let the reader get WouldBlock and park in the reactor.
        for _ in 0..3 {
            yield_now().await;
        }
        assert!(!reader.is_finished());
        assert!(!reg
            .readiness()
            .contains(runtime::reactor::Readiness::READABLE));
        let writer = spawn({
            let fd = b.as_raw_fd();
            async move {
                sleep(Duration::from_millis(10)).await;
                write_fd(fd, b"hello").unwrap();
            }
        });
        let got = bounded(5, "reader never woke", reader).await.unwrap();
        assert_eq!(got, b"hello");
        writer.await.unwrap();
    });
    assert_eq!(rt.reactor().registrations(), 0);
}

/// A task blocks reading; a thread writes later, while the loop is blocked
/// in the backend; the reader wakes with the data.
fn readiness_thread_writer(method: &str) {
    let rt = rt(method);
    let (a, b) = pair();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        (&b).write_all(b"from a thread").unwrap();
        b
    });
    rt.block_on(async {
        let reg = Registration::new(a.try_clone().unwrap()).unwrap();
        let start = Instant::now();
        let got = bounded(5, "reader never woke", read_exact_or_eof(&reg, 13))
            .await
            .unwrap();
        assert_eq!(got, b"from a thread");
        assert!(start.elapsed() >= Duration::from_millis(15));
    });
    drop(t.join().unwrap());
}

/// Fill the socket until writes would block; a writer task waits for
/// write readiness; a thread drains the peer; the writer completes.
fn write_readiness(method: &str) {
    let rt = rt(method);
    let (a, b) = pair();
    rt.block_on(async {
        let reg = Registration::new(a.try_clone().unwrap()).unwrap();
        let chunk = [7u8; 4096];
        let mut filled = 0usize;
        loop {
            match write_fd(a.as_raw_fd(), &chunk) {
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(filled > 0);
        let total = filled + chunk.len();
        let drainer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            b.set_nonblocking(false).unwrap();
            let mut got = 0usize;
            let mut buf = vec![0u8; 65536];
            while got < total {
                let n = (&b).read(&mut buf).unwrap();
                assert!(n > 0, "unexpected EOF");
                assert!(buf[..n].iter().all(|&x| x == 7));
                got += n;
            }
            got
        });
        let fd = a.as_raw_fd();
        let n = bounded(
            5,
            "writer never woke",
            reg.io(Direction::Write, || write_fd(fd, &chunk)),
        )
        .await
        .unwrap();
        assert!(n > 0);
        // Write the rest of the chunk (a partial write is allowed).
        let mut off = n;
        while off < chunk.len() {
            off += bounded(
                5,
                "writer stalled",
                reg.io(Direction::Write, || write_fd(fd, &chunk[off..])),
            )
            .await
            .unwrap();
        }
        assert_eq!(drainer.join().unwrap(), total);
    });
}

/// Many registrations at once; some are dropped while others wait (table
/// bookkeeping in the level-triggered backends); the rest all wake with
/// their own data, written in a shuffled order.
fn many_descriptors(method: &str) {
    const N: usize = 64;
    let rt = rt(method);
    let pairs: Vec<(UnixStream, UnixStream)> = (0..N).map(|_| pair()).collect();
    rt.block_on(async {
        let mut readers = Vec::new();
        for (i, (a, _)) in pairs.iter().enumerate() {
            let fd = a.try_clone().unwrap();
            readers.push(spawn(async move {
                let reg = Registration::new(fd).unwrap();
                let mut buf = [0u8; 8];
                let n = read_some(&reg, &mut buf).await.unwrap();
                assert_eq!(&buf[..n], &[i as u8]);
                i
            }));
        }
        wait_until("all readers registered", || {
            Reactor::current().unwrap().registrations() == N
        })
        .await;
        // Cancel every third reader: its registration is dropped while
        // the others stay registered.
        for (i, r) in readers.iter().enumerate() {
            if i % 3 == 0 {
                r.abort();
            }
        }
        let alive: Vec<usize> = (0..N).filter(|i| i % 3 != 0).collect();
        wait_until("aborted readers deregistered", || {
            Reactor::current().unwrap().registrations() == alive.len()
        })
        .await;
        let mut order = alive.clone();
        let mut seed = 0x1234_5678_9abc_def1;
        shuffle(&mut order, &mut seed);
        for (k, &i) in order.iter().enumerate() {
            write_fd(pairs[i].1.as_raw_fd(), &[i as u8]).unwrap();
            if k % 8 == 0 {
                sleep(Duration::from_micros(200)).await;
            }
        }
        for (i, r) in readers.into_iter().enumerate() {
            let res = bounded(5, "reader never woke", r).await;
            if i % 3 == 0 {
                assert!(res.unwrap_err().is_cancelled());
            } else {
                assert_eq!(res.unwrap(), i);
            }
        }
        assert_eq!(Reactor::current().unwrap().registrations(), 0);
    });
}

// ---------------------------------------------------------------------------
// Lost wake-ups
// ---------------------------------------------------------------------------

/// A writer thread writes exactly when the reader has just got
/// `WouldBlock` (signalled from inside the I/O closure), racing the reader
/// clearing readiness and storing its waker. Every byte must arrive, and the
/// reader must never hang.
fn lost_wakeup_threaded(method: &str) {
    const ITERS: u32 = 2000;
    let rt = rt(method);
    let (a, b) = pair();
    let go = Arc::new(AtomicU32::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let go = go.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut seed = 0x9e37_79b9_7f4a_7c15u64;
            for i in 1..=ITERS {
                let mut spins = 0u32;
                while go.load(Ordering::Acquire) < i {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    spins += 1;
                    if spins < 2000 {
                        std::hint::spin_loop();
                    } else {
                        std::thread::yield_now();
                    }
                }
                // A little jitter, so the write lands at varying points of
                // the reader's clear-readiness / store-waker / wait sequence.
                for _ in 0..rng(&mut seed) % 256 {
                    std::hint::spin_loop();
                }
                (&b).write_all(&[(i % 251) as u8]).unwrap();
            }
        })
    };
    rt.block_on(async {
        let reg = Registration::new(a).unwrap();
        let fd = reg.fd();
        let res = timeout(Duration::from_secs(30), async {
            let mut buf = [0u8; 16];
            for i in 1..=ITERS {
                let mut asked = false;
                let n = reg
                    .io(Direction::Read, || {
                        let r = read_fd(fd, &mut buf);
                        if let Err(e) = &r {
                            if e.kind() == io::ErrorKind::WouldBlock && !asked {
                                asked = true;
                                go.store(i, Ordering::Release);
                            }
                        }
                        r
                    })
                    .await
                    .unwrap();
                assert!(asked, "iteration {i}: data arrived before it was written");
                assert_eq!(n, 1, "iteration {i}");
                assert_eq!(buf[0], (i % 251) as u8, "iteration {i}");
            }
        })
        .await;
        stop.store(true, Ordering::Relaxed);
        res.expect("lost wake-up: the reader hung");
    });
    writer.join().unwrap();
}

/// Reads; on `WouldBlock` writes to the peer inside the same poll, before
/// (or after) clearing readiness, then polls readiness again. The wake-up
/// for that write must not be lost.
struct ReadAfterOwnWrite<'a> {
    reg: &'a Registration,
    peer: RawFd,
    clear_before_write: bool,
    written: bool,
    buf: [u8; 8],
}

impl Future for ReadAfterOwnWrite<'_> {
    type Output = io::Result<u8>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u8>> {
        let this = &mut *self;
        loop {
            let ev = match this.reg.poll_ready(Direction::Read, cx) {
                Poll::Ready(Ok(ev)) => ev,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            match read_fd(this.reg.fd(), &mut this.buf) {
                Ok(n) => {
                    assert_eq!(n, 1);
                    return Poll::Ready(Ok(this.buf[0]));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if this.clear_before_write {
                        this.reg.clear_readiness(ev);
                    }
                    if !this.written {
                        this.written = true;
                        write_fd(this.peer, b"x").unwrap();
                    }
                    if !this.clear_before_write {
                        this.reg.clear_readiness(ev);
                    }
                    // Loop: poll_ready now stores the waker (readiness was
                    // cleared) and the reactor must deliver the write.
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

fn lost_wakeup_same_poll(method: &str) {
    let rt = rt(method);
    let (a, b) = pair();
    rt.block_on(async {
        let reg = Registration::new(a.try_clone().unwrap()).unwrap();
        for i in 0..400 {
            let fut = ReadAfterOwnWrite {
                reg: &reg,
                peer: b.as_raw_fd(),
                clear_before_write: i % 2 == 0,
                written: false,
                buf: [0; 8],
            };
            let byte = bounded(5, "lost wake-up after a write in the same poll", fut)
                .await
                .unwrap();
            assert_eq!(byte, b'x');
        }
    });
}

/// A task observes readiness, drains the socket without clearing, yields;
/// meanwhile the peer writes and the reactor turns. Clearing with the old
/// `ReadyEvent` must not erase the newer event (the tick check): the data
/// is read without a hang, and on edge-triggered epoll (which saw the
/// write as a fresh edge) readiness survives the stale clear.
fn stale_ready_event(method: &str) {
    let rt = rt(method);
    let (a, b) = pair();
    rt.block_on(async {
        let reg = Registration::new(a.try_clone().unwrap()).unwrap();
        let fd = reg.fd();
        let mut buf = [0u8; 64];
        for round in 0..50u8 {
            let ev = match poll_fn_once(|cx| reg.poll_ready(Direction::Read, cx)) {
                Poll::Ready(r) => r.unwrap(),
                Poll::Pending => {
                    // Level backends after a clear: wait for the next event.
                    bounded(2, "readiness", reg.ready(Direction::Read))
                        .await
                        .unwrap()
                }
            };
            // Drain without clearing: WouldBlock is observed but the task
            // "goes away" before calling clear_readiness.
            loop {
                match read_fd(fd, &mut buf) {
                    Ok(_) => continue,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("{e}"),
                }
            }
            write_fd(b.as_raw_fd(), &[round]).unwrap();
            // Let the reactor turn (it may report the write).
            sleep(Duration::from_micros(300)).await;
            reg.clear_readiness(ev);
            if method == "epoll" {
                assert!(
                    reg.readiness()
                        .contains(runtime::reactor::Readiness::READABLE),
                    "round {round}: a stale clear erased a newer event"
                );
            }
            let n = bounded(2, "data after a stale clear", read_some(&reg, &mut buf))
                .await
                .unwrap();
            assert_eq!(&buf[..n], &[round]);
        }
    });
}

/// Calls `f` once with a no-op waker.
fn poll_fn_once<T>(mut f: impl FnMut(&mut Context<'_>) -> Poll<T>) -> Poll<T> {
    let mut cx = Context::from_waker(Waker::noop());
    f(&mut cx)
}

// ---------------------------------------------------------------------------
// Cross-thread wake
// ---------------------------------------------------------------------------

/// Pending until `flag` is set; its first poll sends the waker away.
struct RemoteWake {
    tx: Option<mpsc::Sender<Waker>>,
    flag: Arc<AtomicBool>,
}

impl Future for RemoteWake {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.flag.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        if let Some(tx) = self.tx.take() {
            tx.send(cx.waker().clone()).unwrap();
        }
        Poll::Pending
    }
}

fn remote_waker_thread(
    rx: mpsc::Receiver<Waker>,
    flag: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let w = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        flag.store(true, Ordering::Release);
        w.wake();
    })
}

/// A spawned task's waker is woken from another thread while the loop is
/// blocked in the reactor.
fn cross_thread_wake_task(method: &str) {
    let rt = rt(method);
    let (tx, rx) = mpsc::channel();
    let flag = Arc::new(AtomicBool::new(false));
    let t = remote_waker_thread(rx, flag.clone());
    rt.block_on(async {
        let start = Instant::now();
        let h = spawn(RemoteWake { tx: Some(tx), flag });
        bounded(5, "remote wake never arrived", h).await.unwrap();
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(20), "{took:?}");
        assert!(took < Duration::from_secs(2), "{took:?}");
    });
    t.join().unwrap();
}

/// The main future of `block_on` is woken from another thread.
fn cross_thread_wake_main(method: &str) {
    let rt = rt(method);
    let (tx, rx) = mpsc::channel();
    let flag = Arc::new(AtomicBool::new(false));
    let t = remote_waker_thread(rx, flag.clone());
    let start = Instant::now();
    rt.block_on(async {
        bounded(
            5,
            "remote wake of the main future never arrived",
            RemoteWake { tx: Some(tx), flag },
        )
        .await;
    });
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(20), "{took:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
    t.join().unwrap();
}

// ---------------------------------------------------------------------------
// Peer close
// ---------------------------------------------------------------------------

/// The peer writes, then closes. With early close (epoll, poll) `closed()`
/// completes while the data is still unread; with select it completes once
/// the data has been read. Reads then return the data and EOF.
async fn peer_close_checks(reg: &Registration, peer: impl FnOnce(), early_close: bool) {
    peer();
    if early_close {
        bounded(5, "closed() with unread data pending", reg.closed())
            .await
            .unwrap();
        assert!(reg.readiness().is_read_closed(), "{:?}", reg.readiness());
        let data = bounded(5, "read after close", read_exact_or_eof(reg, 100))
            .await
            .unwrap();
        assert_eq!(data, b"goodbye");
    } else {
        let data = bounded(5, "read after close", read_exact_or_eof(reg, 100))
            .await
            .unwrap();
        assert_eq!(data, b"goodbye");
        bounded(
            5,
            "closed() after reading the data (no early close)",
            reg.closed(),
        )
        .await
        .unwrap();
    }
    let mut buf = [0u8; 16];
    let n = bounded(5, "EOF read", read_some(reg, &mut buf))
        .await
        .unwrap();
    assert_eq!(n, 0, "EOF expected");
    // Still EOF, still closed.
    assert_eq!(read_some(reg, &mut buf).await.unwrap(), 0);
    bounded(1, "closed() again", reg.closed()).await.unwrap();
}

fn peer_close_unix(method: &str) {
    let rt = rt(method);
    let early = rt.features().contains(Features::EARLY_CLOSE);
    assert_eq!(early, method != "select");
    let (a, b) = pair();
    rt.block_on(async {
        let reg = Registration::new(a).unwrap();
        peer_close_checks(
            &reg,
            move || {
                (&b).write_all(b"goodbye").unwrap();
                drop(b);
            },
            early,
        )
        .await;
    });
}

fn peer_close_tcp(method: &str) {
    let rt = rt(method);
    let early = rt.features().contains(Features::EARLY_CLOSE);
    let (a, b) = tcp_pair();
    rt.block_on(async {
        let reg = Registration::new(a).unwrap();
        peer_close_checks(
            &reg,
            move || {
                (&b).write_all(b"goodbye").unwrap();
                drop(b);
            },
            early,
        )
        .await;
    });
}

/// `closed()` is awaited first, while nothing has happened; the peer is
/// dropped later (by a thread, while the loop is blocked).
fn peer_close_while_waiting(method: &str) {
    let rt = rt(method);
    let early = rt.features().contains(Features::EARLY_CLOSE);
    let (a, b) = pair();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        drop(b);
    });
    rt.block_on(async {
        let reg = Registration::new(a).unwrap();
        if !early {
            // Without early close, only reading reveals the close.
            let mut buf = [0u8; 8];
            let n = bounded(5, "EOF read", read_some(&reg, &mut buf))
                .await
                .unwrap();
            assert_eq!(n, 0);
        }
        let start = Instant::now();
        bounded(5, "closed() never completed", reg.closed())
            .await
            .unwrap();
        if early {
            assert!(start.elapsed() >= Duration::from_millis(10));
        }
        let mut buf = [0u8; 8];
        assert_eq!(read_some(&reg, &mut buf).await.unwrap(), 0);
    });
    t.join().unwrap();
}

/// `closed()` waits (in a task) while the peer first sends data, which
/// stays unread, and closes only later. Backends with early close must
/// report the close without the data being read. (Select has no early
/// close: there only reading reveals it, covered above.)
fn peer_close_after_data_while_waiting(method: &str) {
    let rt = rt(method);
    if !rt.features().contains(Features::EARLY_CLOSE) {
        return;
    }
    let (a, b) = pair();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(10));
        (&b).write_all(b"unread").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        drop(b);
    });
    rt.block_on(async {
        let reg = Rc::new(Registration::new(a).unwrap());
        let r = reg.clone();
        let waiter = spawn(async move { r.closed().await });
        bounded(5, "closed() after data, then close", waiter)
            .await
            .unwrap()
            .unwrap();
        let data = read_exact_or_eof(&reg, 100).await.unwrap();
        assert_eq!(data, b"unread");
    });
    t.join().unwrap();
}

// ---------------------------------------------------------------------------
// Timers
// ---------------------------------------------------------------------------

/// 200 sleeps with shuffled deadlines 0..30 ms: completion order is sorted
/// by deadline, except among timers the reactor fired in the same turn
/// (identified by the reactor's cached time at completion), and none
/// completes early.
fn timer_order(method: &str) {
    const N: usize = 200;
    // A large event interval: every task woken by one reactor turn runs
    // before the next turn, so the cached time identifies the turn.
    let rt = Builder::new()
        .ignore_env(true)
        .method(method)
        .unwrap()
        .event_interval(1_000_000)
        .build()
        .unwrap();
    rt.block_on(async {
        let mut offsets: Vec<Duration> = (0..N)
            .map(|k| Duration::from_micros(150 * k as u64))
            .collect();
        let mut seed = 0xdead_beef_cafe_f00d;
        shuffle(&mut offsets, &mut seed);
        let base = Instant::now() + Duration::from_millis(1);
        let done: Rc<RefCell<Vec<(Instant, Instant, Instant)>>> = Rc::new(RefCell::new(Vec::new()));
        let mut handles = Vec::new();
        for off in offsets {
            let done = done.clone();
            handles.push(spawn(async move {
                let deadline = base + off;
                sleep_until(deadline).await;
                done.borrow_mut()
                    .push((deadline, runtime::time::now(), Instant::now()));
            }));
        }
        bounded(5, "sleeps", async {
            for h in handles {
                h.await.unwrap();
            }
        })
        .await;
        let done = done.borrow();
        assert_eq!(done.len(), N);
        for (deadline, _, real) in done.iter() {
            assert!(real >= deadline, "a timer fired early");
        }
        let mut turns = 1;
        for i in 1..N {
            if done[i].1 != done[i - 1].1 {
                turns += 1;
            }
        }
        for i in 0..N {
            for j in i + 1..N {
                let (di, ti, _) = done[i];
                let (dj, tj, _) = done[j];
                if dj < di {
                    assert_eq!(
                        ti,
                        tj,
                        "out of order across turns: deadline +{:?} completed before +{:?}",
                        di - base,
                        dj - base
                    );
                }
            }
        }
        assert!(turns > 1, "every timer fired in one turn?");
        assert_eq!(pending_timers(), 0);
    });
}

/// A few hundred random durations in 0..3 ms: each measured sleep lasts at
/// least what was asked.
fn timer_never_early(method: &str) {
    let rt = rt(method);
    rt.block_on(async {
        let mut seed = 0x0123_4567_89ab_cdef ^ method.len() as u64;
        let mut lateness = Vec::new();
        for i in 0..300 {
            let d = Duration::from_nanos(rng(&mut seed) % 3_000_000);
            let start = Instant::now();
            if i % 2 == 0 {
                sleep(d).await;
            } else {
                sleep_until(start + d).await;
            }
            let took = start.elapsed();
            assert!(took >= d, "slept {took:?} < {d:?}");
            lateness.push(took - d);
        }
        lateness.sort();
        let median = lateness[lateness.len() / 2];
        // Loose: only catches a grossly coarse timer (e.g. whole
        // milliseconds of rounding on every sleep), not scheduling noise.
        assert!(
            median < Duration::from_millis(5),
            "median lateness {median:?}"
        );
        assert_eq!(pending_timers(), 0);
    });
}

/// `sleep_until` an instant in the past completes at its first poll, also
/// after the reactor has been idle for a while; `sleep(0)` completes too.
fn sleep_until_past(method: &str) {
    let rt = rt(method);
    rt.block_on(async {
        // Fresh reactor.
        let mut s = sleep_until(Instant::now() - Duration::from_secs(1));
        assert!(poll_once(&mut s).is_ready());
        assert!(s.is_elapsed());
        assert_eq!(pending_timers(), 0);
        // After some timer activity and an idle stretch.
        sleep(Duration::from_millis(2)).await;
        std::thread::sleep(Duration::from_millis(20));
        let start = Instant::now();
        let mut s = sleep_until(Instant::now() - Duration::from_millis(1));
        bounded(1, "past sleep_until", &mut s).await;
        assert!(start.elapsed() < Duration::from_millis(200));
        sleep(Duration::ZERO).await;
        assert_eq!(pending_timers(), 0);
    });
}

/// Dropping a pending sleep removes its timer.
fn sleep_cancel_on_drop(method: &str) {
    let rt = rt(method);
    rt.block_on(async {
        assert_eq!(pending_timers(), 0);
        let mut sleeps: Vec<Sleep> = (1..=10).map(|i| sleep(Duration::from_secs(i))).collect();
        for s in sleeps.iter_mut() {
            assert!(poll_once(s).is_pending());
        }
        assert_eq!(pending_timers(), 10);
        sleeps.truncate(4);
        assert_eq!(pending_timers(), 4);
        drop(sleeps);
        assert_eq!(pending_timers(), 0);
        // A sleep that was never polled registers nothing.
        let s = sleep(Duration::from_secs(5));
        assert_eq!(pending_timers(), 0);
        drop(s);
        // The loop still runs timers normally afterwards.
        let start = Instant::now();
        sleep(Duration::from_millis(3)).await;
        assert!(start.elapsed() >= Duration::from_millis(3));
        // The wheel must not wake for the cancelled timers either: a turn
        // with nothing pending blocks until a notify/timer.
        assert_eq!(Reactor::current().unwrap().next_timer(), None);
    });
}

/// Aborting a task drops its pending sleep, which removes the timer; so
/// does dropping the runtime with the task still alive.
fn sleep_cancel_on_abort(method: &str) {
    let rt = rt(method);
    rt.block_on(async {
        let h = spawn(async {
            sleep(Duration::from_secs(10)).await;
        });
        for _ in 0..3 {
            yield_now().await;
        }
        assert_eq!(pending_timers(), 1);
        h.abort();
        let err = bounded(2, "aborted task", h).await.unwrap_err();
        assert!(err.is_cancelled());
        assert_eq!(pending_timers(), 0);
    });
    rt.spawn(async {
        sleep(Duration::from_secs(10)).await;
    });
    rt.block_on(async {
        yield_now().await;
        yield_now().await;
    });
    assert_eq!(rt.reactor().pending_timers(), 1);
    drop(rt); // drops the task and its timer, without panicking
}

/// `Sleep::reset` moves the deadline, earlier or later, and re-arms an
/// elapsed sleep.
fn sleep_reset(method: &str) {
    let rt = rt(method);
    rt.block_on(async {
        let mut s = sleep(Duration::from_secs(10));
        assert!(poll_once(&mut s).is_pending());
        assert_eq!(pending_timers(), 1);
        let start = Instant::now();
        s.reset(start + Duration::from_millis(5));
        assert_eq!(s.deadline(), start + Duration::from_millis(5));
        bounded(2, "reset sleep", &mut s).await;
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(5), "{took:?}");
        assert!(took < Duration::from_secs(2), "{took:?}");
        assert!(s.is_elapsed());
        assert_eq!(pending_timers(), 0);
        // Re-arm the elapsed sleep.
        let start = Instant::now();
        s.reset(start + Duration::from_millis(3));
        assert!(!s.is_elapsed());
        bounded(2, "re-armed sleep", &mut s).await;
        assert!(start.elapsed() >= Duration::from_millis(3));
        // Postpone a pending one: it must not fire at the old deadline.
        let mut s = sleep(Duration::from_millis(2));
        assert!(poll_once(&mut s).is_pending());
        let start = Instant::now();
        s.reset(start + Duration::from_millis(15));
        bounded(2, "postponed sleep", &mut s).await;
        assert!(start.elapsed() >= Duration::from_millis(15));
        assert_eq!(pending_timers(), 0);
    });
}

/// `is_elapsed` of a sleep its reactor has fired but nobody polled since:
/// false before the deadline, true after, with the cached clock, in precise
/// mode, and after a switch from precise to cached.
fn sleep_elapsed_unpolled(method: &str) {
    let rt = rt(method);
    rt.block_on(async {
        let reactor = Reactor::current().unwrap();
        for (precise, then_cached) in [(false, false), (true, false), (true, true)] {
            reactor.set_precise_timer(precise);
            let mut s = sleep(Duration::from_millis(3));
            assert!(poll_once(&mut s).is_pending());
            assert!(!s.is_elapsed(), "precise {precise}: elapsed at once");
            // The reactor turns (and fires `s`) while another sleep runs.
            sleep(Duration::from_millis(1)).await;
            let deadline = s.deadline();
            while Instant::now() < deadline + Duration::from_millis(2) {
                sleep(Duration::from_millis(1)).await;
            }
            if then_cached {
                reactor.set_precise_timer(false);
            }
            assert!(s.is_elapsed(), "precise {precise}: fired, not elapsed");
            assert!(poll_once(&mut s).is_ready());
        }
        reactor.set_precise_timer(false);
    });
}

/// `timeout`: the future wins, the deadline wins, and the loser's timer is
/// cleaned up either way.
fn timeout_outcomes(method: &str) {
    let rt = rt(method);
    let (a, _b) = pair();
    rt.block_on(async {
        let r = timeout(Duration::from_secs(5), async {
            sleep(Duration::from_millis(1)).await;
            7
        })
        .await;
        assert_eq!(r, Ok(7));
        assert_eq!(pending_timers(), 0);

        let start = Instant::now();
        let r = timeout(Duration::from_millis(5), sleep(Duration::from_secs(10))).await;
        assert!(r.is_err());
        assert!(start.elapsed() >= Duration::from_millis(5));
        assert_eq!(pending_timers(), 0);
        let e: io::Error = r.unwrap_err().into();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);

        // An I/O wait that never completes.
        let reg = Registration::new(a.try_clone().unwrap()).unwrap();
        let start = Instant::now();
        let mut buf = [0u8; 4];
        let r = timeout(Duration::from_millis(5), read_some(&reg, &mut buf)).await;
        assert!(r.is_err());
        assert!(start.elapsed() >= Duration::from_millis(5));

        // A ready future wins even with a zero timeout; MAX does not panic.
        assert_eq!(timeout(Duration::ZERO, async { 1 }).await, Ok(1));
        assert_eq!(timeout(Duration::MAX, async { 2 }).await, Ok(2));
        assert_eq!(pending_timers(), 0);
    });
}

const PERIOD: Duration = Duration::from_millis(20);
const BLOCK: Duration = Duration::from_millis(70);

/// Burst: ticks missed while the thread was blocked fire back to back.
fn interval_burst(method: &str) {
    let rt = rt(method);
    rt.block_on(async {
        let start = Instant::now();
        let mut iv = interval_at(start, PERIOD).unwrap();
        assert_eq!(iv.missed_tick_behavior(), MissedTickBehavior::Burst);
        assert_eq!(iv.period(), PERIOD);
        assert_eq!(iv.tick().await, start);
        std::thread::sleep(BLOCK); // misses the ticks at 20, 40 and 60 ms
        let t = Instant::now();
        for k in 1..=3u32 {
            assert_eq!(
                bounded(2, "burst tick", iv.tick()).await,
                start + PERIOD * k
            );
        }
        let burst = t.elapsed();
        assert!(burst < PERIOD, "missed ticks not back to back: {burst:?}");
        // Afterwards the schedule continues on the original grid.
        let mut k = 4u32;
        while start + PERIOD * k <= Instant::now() {
            assert_eq!(iv.tick().await, start + PERIOD * k);
            k += 1;
        }
        let next = bounded(2, "next tick", iv.tick()).await;
        assert_eq!(next, start + PERIOD * k);
        assert!(Instant::now() >= next);
    });
}

/// Delay: one late tick, then a full period from it.
fn interval_delay(method: &str) {
    let rt = rt(method);
    rt.block_on(async {
        let start = Instant::now();
        let mut iv = interval_at(start, PERIOD).unwrap();
        iv.set_missed_tick_behavior(MissedTickBehavior::Delay);
        assert_eq!(iv.missed_tick_behavior(), MissedTickBehavior::Delay);
        assert_eq!(iv.tick().await, start);
        std::thread::sleep(BLOCK);
        let late = Instant::now();
        assert_eq!(bounded(2, "late tick", iv.tick()).await, start + PERIOD);
        let second = bounded(2, "delayed tick", iv.tick()).await;
        assert!(
            second >= late + PERIOD,
            "Delay fired a missed tick: {:?} after start",
            second - start
        );
        assert!(Instant::now() >= second);
        assert!(Instant::now() - late >= PERIOD);
        // And then steady periods from there.
        let third = bounded(2, "tick", iv.tick()).await;
        assert_eq!(third, second + PERIOD);
    });
}

/// Skip: one late tick, then the next multiple of the period after now.
fn interval_skip(method: &str) {
    let rt = rt(method);
    rt.block_on(async {
        let start = Instant::now();
        let mut iv = interval_at(start, PERIOD).unwrap();
        iv.set_missed_tick_behavior(MissedTickBehavior::Skip);
        assert_eq!(iv.tick().await, start);
        std::thread::sleep(BLOCK);
        let late = Instant::now();
        assert_eq!(bounded(2, "late tick", iv.tick()).await, start + PERIOD);
        let second = bounded(2, "skipped-to tick", iv.tick()).await;
        let since = second - start;
        assert_eq!(
            since.as_nanos() % PERIOD.as_nanos(),
            0,
            "{since:?} off the grid"
        );
        assert!(second > late, "Skip fired a missed tick: {since:?}");
        assert!(second <= Instant::now());
        assert!(since >= PERIOD * 4, "{since:?}");
        let third = bounded(2, "tick", iv.tick()).await;
        assert_eq!(third, second + PERIOD);
    });
}

/// Zero period and overflowing durations are `InvalidInput` errors;
/// `sleep(Duration::MAX)` saturates instead of panicking.
fn interval_and_sleep_errors(method: &str) {
    let rt = rt(method);
    rt.block_on(async {
        let e = interval(Duration::ZERO).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let e = interval_at(Instant::now(), Duration::ZERO).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let e = interval_at(Instant::now(), Duration::MAX).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let e = try_sleep(Duration::MAX).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let mut ok = try_sleep(Duration::from_millis(1)).unwrap();
        bounded(1, "try_sleep", &mut ok).await;

        let mut forever = sleep(Duration::MAX);
        assert!(poll_once(&mut forever).is_pending());
        assert_eq!(pending_timers(), 1);
        assert!(!forever.is_elapsed());
        // The loop still serves short timers with it pending.
        let start = Instant::now();
        sleep(Duration::from_millis(2)).await;
        assert!(start.elapsed() < Duration::from_secs(1));
        drop(forever);
        assert_eq!(pending_timers(), 0);
    });
}

/// A million pending timers with deadlines between 1 s and 1 h (about
/// 0.5 s in a debug build); a short sleep still fires on time; dropping them all
/// empties the wheel. The wheel is backend-independent: epoll only.
#[test]
fn million_timers() {
    let n: usize = 1_000_000;
    let rt = rt("epoll");
    rt.block_on(async {
        let mut cx = Context::from_waker(Waker::noop());
        let mut seed = 0x5555_aaaa_3333_cccc;
        let mut sleeps: Vec<Sleep> = Vec::with_capacity(n);
        let t = Instant::now();
        // Unconstrained budget: a timer's first poll spends cooperative
        // budget, and a million polls in one task poll would run out.
        coop::unconstrained(|| {
            for _ in 0..n {
                let d =
                    Duration::from_secs(1) + Duration::from_micros(rng(&mut seed) % 3_599_000_000);
                let mut s = sleep(d);
                assert!(s.poll_sleep(&mut cx).is_pending());
                sleeps.push(s);
            }
        });
        let insert = t.elapsed();
        assert_eq!(pending_timers(), n);
        let next = Reactor::current().unwrap().next_timer().unwrap();
        assert!(
            next > Instant::now(),
            "the earliest timer is at least 1 s away"
        );

        // The best of three: a busy machine may delay one wake-up, while a
        // wheel that filed the short sleep too coarsely is late every time.
        let mut best = Duration::MAX;
        for _ in 0..3 {
            let start = Instant::now();
            bounded(
                5,
                "short sleep among a million",
                sleep(Duration::from_millis(5)),
            )
            .await;
            let took = start.elapsed();
            assert!(took >= Duration::from_millis(5));
            best = best.min(took);
        }
        assert!(
            best < Duration::from_millis(55),
            "short sleep fired late: {best:?}"
        );
        assert_eq!(pending_timers(), n);

        let t = Instant::now();
        drop(sleeps);
        let remove = t.elapsed();
        assert_eq!(pending_timers(), 0);
        assert_eq!(Reactor::current().unwrap().next_timer(), None);
        eprintln!("{n} timers: insert {insert:?}, cancel {remove:?}");
    });
}

// ---------------------------------------------------------------------------
// Descriptors
// ---------------------------------------------------------------------------

/// A descriptor >= FD_SETSIZE: select refuses it with `InvalidInput` (no
/// panic, runtime unharmed); epoll and poll take it and it works.
fn high_fd(method: &str) {
    assert!(ensure_nofile(1200), "cannot raise RLIMIT_NOFILE to 1200");
    let rt = rt(method);
    let (a, b) = pair();
    // SAFETY: F_DUPFD_CLOEXEC on a live descriptor returns a new one we own.
    let hi = unsafe { libc::fcntl(a.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 1100) };
    assert!(hi >= 1100, "{}", io::Error::last_os_error());
    // SAFETY: `hi` was just created and is owned only here.
    let hi = unsafe { OwnedFd::from_raw_fd(hi) };
    let hi_num = hi.as_raw_fd();
    rt.block_on(async {
        match Registration::new(hi) {
            Err(e) => {
                assert_eq!(method, "select", "{method} refused fd {hi_num}: {e}");
                assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
                assert_eq!(Reactor::current().unwrap().registrations(), 0);
                // The runtime keeps working: a timer and a low descriptor.
                sleep(Duration::from_millis(1)).await;
                let reg = Registration::new(a).unwrap();
                write_fd(b.as_raw_fd(), b"low").unwrap();
                let got = bounded(2, "low fd read", read_exact_or_eof(&reg, 3))
                    .await
                    .unwrap();
                assert_eq!(got, b"low");
            }
            Ok(reg) => {
                assert_ne!(method, "select", "select accepted fd {hi_num}");
                let writer = spawn({
                    let fd = b.as_raw_fd();
                    async move {
                        sleep(Duration::from_millis(5)).await;
                        write_fd(fd, b"high").unwrap();
                    }
                });
                let got = bounded(2, "high fd read", read_exact_or_eof(&reg, 4))
                    .await
                    .unwrap();
                assert_eq!(got, b"high");
                writer.await.unwrap();
            }
        }
    });
}

/// Registering a closed descriptor number (only possible through the
/// `unsafe` raw constructor: the safe ones take an `OwnedFd`) fails with
/// `EBADF` on every backend, and leaves nothing behind.
fn registration_closed_fd(method: &str) {
    let rt = rt(method);
    rt.block_on(async {
        let reactor = Reactor::current().unwrap();
        // SAFETY: the number is not open, so the call fails and no
        // registration outlives it.
        let e = unsafe { Registration::with_reactor_unowned(&reactor, -1) }.unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{e}");
        // A descriptor that was open and has been closed, at a number no
        // other test allocates (descriptors are allocated lowest first).
        let target: RawFd = match method {
            "epoll" => 5001,
            "poll" => 5002,
            _ => 5003,
        };
        if ensure_nofile(5100) {
            let (a, _b) = pair();
            // SAFETY: dup2 onto a number nothing else in this process uses.
            let fd = unsafe { libc::dup2(a.as_raw_fd(), target) };
            assert_eq!(fd, target, "{}", io::Error::last_os_error());
            // SAFETY: closes the duplicate made just above.
            unsafe { libc::close(fd) };
        }
        // SAFETY: as above: `target` is closed, the call fails.
        let e = unsafe { Registration::with_reactor_unowned(&reactor, target) }.unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EBADF), "{e}");
        assert_eq!(Reactor::current().unwrap().registrations(), 0);
        // The runtime keeps working.
        let (a, b) = pair();
        let reg = Registration::new(a).unwrap();
        write_fd(b.as_raw_fd(), b"ok").unwrap();
        let got = bounded(2, "read", read_exact_or_eof(&reg, 2))
            .await
            .unwrap();
        assert_eq!(got, b"ok");
    });
}

/// `Registration::clear` forgets one direction's cached readiness (the
/// optimistic start included) without a `ReadyEvent`, leaves the other
/// direction alone, and a later real event still wakes the waiter.
fn clear_direction(method: &str) {
    let rt = rt(method);
    rt.block_on(async {
        let (a, b) = pair();
        let reg = Registration::new(a).unwrap();
        // Fresh registrations are optimistic in both directions.
        assert!(poll_fn_once(|cx| reg.poll_ready(Direction::Read, cx)).is_ready());
        reg.clear(Direction::Read).unwrap();
        assert!(poll_fn_once(|cx| reg.poll_ready(Direction::Read, cx)).is_pending());
        assert!(poll_fn_once(|cx| reg.poll_ready(Direction::Write, cx)).is_ready());
        // A real event after the clear is seen and wakes the reader.
        write_fd(b.as_raw_fd(), b"x").unwrap();
        let ev = bounded(2, "read readiness after clear", reg.ready(Direction::Read))
            .await
            .unwrap();
        assert!(ev.ready.contains(runtime::reactor::Readiness::READABLE));
        // Clearing write readiness: pending until the backend reports it.
        reg.clear(Direction::Write).unwrap();
        assert!(poll_fn_once(|cx| reg.poll_ready(Direction::Write, cx)).is_pending());
        bounded(
            2,
            "write readiness after clear",
            reg.ready(Direction::Write),
        )
        .await
        .unwrap();
    });
}

// ---------------------------------------------------------------------------
// Configuration and bad input (backend-independent)
// ---------------------------------------------------------------------------

#[test]
fn builder_rejects_bad_input() {
    let e = Builder::new().method("kqueue-nope").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    let e = Builder::new().avoid_method("nope").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    let e = Builder::new()
        .require_features(Features::EDGE_TRIGGERED | Features::O1 | Features::ALL_FDS)
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::Unsupported, "{e}");
    // Avoiding every backend leaves nothing.
    let e = Builder::new()
        .avoid_method("epoll")
        .unwrap()
        .avoid_method("poll")
        .unwrap()
        .avoid_method("select")
        .unwrap()
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::Unsupported, "{e}");
}

#[test]
fn builder_choices_and_features() {
    assert_eq!(
        supported_methods(),
        &[Method::Epoll, Method::Poll, Method::Select]
    );
    let rt = Builder::new().ignore_env(true).build().unwrap();
    assert_eq!(rt.method(), Method::Epoll);
    let rt = Builder::new()
        .ignore_env(true)
        .avoid_method("epoll")
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(rt.method(), Method::Poll);
    let rt = Builder::new()
        .ignore_env(true)
        .require_features(Features::ALL_FDS)
        .build()
        .unwrap();
    assert_eq!(rt.method(), Method::Poll);
    let rt = Builder::new()
        .ignore_env(true)
        .avoid_method("EPOLL")
        .unwrap()
        .avoid_method("poll")
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(rt.method(), Method::Select);
    assert!(!rt.features().contains(Features::EARLY_CLOSE));
    for m in ["epoll", "poll", "select"] {
        let rt = rt_for(m);
        assert_eq!(rt.features(), rt.method().features());
        assert_eq!(rt.reactor().method().name(), m);
    }
    assert!(rt_for("epoll")
        .features()
        .contains(Features::EDGE_TRIGGERED | Features::O1 | Features::EARLY_CLOSE));
    assert!(rt_for("poll")
        .features()
        .contains(Features::ALL_FDS | Features::EARLY_CLOSE));
}

fn rt_for(m: &str) -> Runtime {
    rt(m)
}

#[test]
fn registration_outside_runtime() {
    assert!(Reactor::current().is_none());
    let (a, _b) = pair();
    let e = Registration::new(a.try_clone().unwrap()).unwrap_err();
    assert!(e.to_string().contains("no reactor"), "{e}");
    assert!(runtime::try_spawn(async {}).is_err());
    // A runtime that is not running is not current either.
    let rt = rt("epoll");
    assert!(Registration::new(a.try_clone().unwrap()).is_err());
    // But with_reactor names it explicitly.
    let reg = Registration::with_reactor(rt.reactor(), a).unwrap();
    assert_eq!(rt.reactor().registrations(), 1);
    drop(reg);
    assert_eq!(rt.reactor().registrations(), 0);
}

/// Registers `reg`'s descriptor a second time with the current reactor
/// (only the `unsafe` raw constructor can: the safe ones own theirs).
fn register_again(reg: &Registration) -> io::Result<Registration> {
    let reactor = Reactor::current().unwrap();
    // SAFETY: `reg` owns the descriptor and outlives every use here: the
    // call is expected to fail, and a registration it made would be
    // dropped by the caller before `reg`.
    unsafe { Registration::with_reactor_unowned(&reactor, reg.fd()) }
}

/// Registering the same descriptor twice in one reactor.
#[test]
fn registration_twice_is_an_error_on_level_backends() {
    for m in ["poll", "select"] {
        let rt = rt(m);
        let (a, _b) = pair();
        rt.block_on(async {
            let r1 = Registration::new(a).unwrap();
            let e = register_again(&r1).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::AlreadyExists, "{m}: {e}");
            assert_eq!(Reactor::current().unwrap().registrations(), 1);
        });
    }
    let rt = rt("epoll");
    let (a, _b) = pair();
    rt.block_on(async {
        let r1 = Registration::new(a).unwrap();
        let e = register_again(&r1).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EEXIST), "{e}");
        assert_eq!(Reactor::current().unwrap().registrations(), 1);
    });
}

// ---------------------------------------------------------------------------
// Environment variables, checked in a child process (set_var is
// process-wide and would leak into the other tests).
// ---------------------------------------------------------------------------

const CHILD_MARK: &str = "RUNTIME_REACTOR_TEST_CHILD";

/// Helper run by the `env_*` tests in a child process: prints what the
/// default builder and an `ignore_env` builder pick.
#[test]
#[ignore = "helper: run in a child process by the env_* tests"]
fn child_report_methods() {
    if std::env::var_os(CHILD_MARK).is_none() {
        return;
    }
    match Builder::new().build() {
        Ok(rt) => println!("METHOD={}", rt.method()),
        Err(e) => println!("METHOD_ERR={:?}", e.kind()),
    }
    match Builder::new().ignore_env(true).build() {
        Ok(rt) => println!("IGNORE_ENV_METHOD={}", rt.method()),
        Err(e) => println!("IGNORE_ENV_ERR={:?}", e.kind()),
    }
}

/// Runs `child_report_methods` in a child with `env`; returns (stdout, stderr).
fn run_child(env: &[(&str, &str)]) -> (String, String) {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "child_report_methods",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    for v in [
        "EVENT_NOEPOLL",
        "EVENT_NOPOLL",
        "EVENT_NOSELECT",
        "EVENT_SHOW_METHOD",
        "EVENT_PRECISE_TIMER",
    ] {
        cmd.env_remove(v);
    }
    cmd.env(CHILD_MARK, "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "child failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "helper did not run:\n{stdout}");
    (stdout, stderr)
}

/// The value of the first `KEY=value` word in `out` (the harness prints
/// "test name ... " on the same line as the helper's first output).
fn line_value<'a>(out: &'a str, key: &str) -> Option<&'a str> {
    out.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
}

#[test]
fn env_default_is_epoll() {
    let (out, err) = run_child(&[]);
    assert_eq!(line_value(&out, "METHOD"), Some("epoll"), "{out}");
    assert!(!err.contains("using event method"), "{err}");
}

#[test]
fn env_noepoll_picks_poll() {
    let (out, _) = run_child(&[("EVENT_NOEPOLL", "1")]);
    assert_eq!(line_value(&out, "METHOD"), Some("poll"), "{out}");
    assert_eq!(
        line_value(&out, "IGNORE_ENV_METHOD"),
        Some("epoll"),
        "{out}"
    );
}

#[test]
fn env_noepoll_nopoll_picks_select() {
    let (out, _) = run_child(&[("EVENT_NOEPOLL", "1"), ("EVENT_NOPOLL", "")]);
    assert_eq!(line_value(&out, "METHOD"), Some("select"), "{out}");
    let (out, _) = run_child(&[
        ("EVENT_NOEPOLL", "1"),
        ("EVENT_NOPOLL", "1"),
        ("EVENT_NOSELECT", "1"),
    ]);
    assert_eq!(line_value(&out, "METHOD_ERR"), Some("Unsupported"), "{out}");
    assert_eq!(
        line_value(&out, "IGNORE_ENV_METHOD"),
        Some("epoll"),
        "{out}"
    );
}

#[test]
fn env_show_method_prints_to_stderr() {
    let (out, err) = run_child(&[("EVENT_SHOW_METHOD", "1"), ("EVENT_NOEPOLL", "1")]);
    assert_eq!(line_value(&out, "METHOD"), Some("poll"), "{out}");
    // Both builds announce their method, the ignore_env one too.
    assert!(err.contains("using event method poll"), "stderr: {err}");
    assert!(err.contains("using event method epoll"), "stderr: {err}");
    assert!(!out.contains("using event method"), "went to stdout: {out}");
}
