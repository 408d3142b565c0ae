//! `fork()` + `runtime::reinit()`, once per backend, in a separate test
//! binary. Inside `block_on` the test registers a socket, arms a timer and
//! listens for a signal, then forks. The child calls `reinit()` and checks
//! that the registration, the timer, the signal listener and new
//! registrations all work; it reports through its exit code and leaves with
//! `_exit` (never returning into the test harness). The parent feeds the
//! child a byte, waits for it and checks that its own loop still works.

use runtime::reactor::{Direction, Registration};
use runtime::signal::signal;
use runtime::time::{sleep, timeout};
use runtime::{Builder, Runtime};
use std::future::Future;
use std::io::{self, Write};
use std::os::fd::RawFd;
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// One fork at a time (and no other test of this binary running its loop
/// meanwhile): the child inherits only the forking thread.
static LOCK: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn rt(method: &str) -> Runtime {
    let rt = Builder::new()
        .ignore_env(true)
        .method(method)
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(rt.method().name(), method);
    rt
}

fn pair() -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
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

async fn read_some(reg: &Registration, buf: &mut [u8]) -> io::Result<usize> {
    let fd = reg.fd();
    reg.io(Direction::Read, || read_fd(fd, buf)).await
}

fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    Pin::new(f).poll(&mut cx)
}

/// In the child: leaves the process with `code` if dropped during a panic,
/// so a failing child never unwinds into the test harness.
struct ExitOnUnwind;

impl Drop for ExitOnUnwind {
    fn drop(&mut self) {
        // SAFETY: _exit ends the child immediately, running no atexit
        // handlers and flushing nothing shared with the parent.
        unsafe { libc::_exit(99) };
    }
}

const CHILD_CODES: &[(i32, &str)] = &[
    (0, "ok"),
    (10, "reinit failed"),
    (11, "read through the old registration timed out"),
    (12, "read through the old registration failed"),
    (13, "read returned the wrong data"),
    (14, "timer armed before fork never fired"),
    (15, "timer armed before fork fired early"),
    (16, "new sleep timed out"),
    (17, "new sleep fired early"),
    (18, "signal listener created before fork got nothing"),
    (19, "new registration failed"),
    (20, "new registration read timed out"),
    (99, "child panicked"),
];

fn describe(code: i32) -> &'static str {
    CHILD_CODES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or("unknown", |(_, d)| d)
}

/// Everything the child checks; returns its exit code.
async fn child_checks(
    reg: &Registration,
    armed: &mut runtime::time::Sleep,
    sig: &mut runtime::signal::Signal,
) -> i32 {
    if runtime::reinit().is_err() {
        return 10;
    }
    // The parent writes one byte after the fork.
    let mut buf = [0u8; 8];
    match timeout(Duration::from_secs(3), read_some(reg, &mut buf)).await {
        Err(_) => return 11,
        Ok(Err(_)) => return 12,
        Ok(Ok(n)) if &buf[..n] != b"F" => return 13,
        Ok(Ok(_)) => {}
    }
    // The timer armed before the fork.
    let deadline = armed.deadline();
    if timeout(Duration::from_secs(3), &mut *armed).await.is_err() {
        return 14;
    }
    if Instant::now() < deadline {
        return 15;
    }
    // A new timer.
    let start = Instant::now();
    if timeout(Duration::from_secs(3), sleep(Duration::from_millis(5)))
        .await
        .is_err()
    {
        return 16;
    }
    if start.elapsed() < Duration::from_millis(5) {
        return 17;
    }
    // The signal listener (the raise reaches only this process).
    // SAFETY: raise sends the signal to the calling thread.
    unsafe { libc::raise(sig.signum()) };
    if timeout(Duration::from_secs(3), sig.recv()).await.is_err() {
        return 18;
    }
    // A registration made after reinit.
    let (c, d) = pair();
    let Ok(reg2) = Registration::new(c) else {
        return 19;
    };
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(5));
        (&d).write_all(b"n").unwrap();
        d
    });
    let r = timeout(Duration::from_secs(3), read_some(&reg2, &mut buf)).await;
    let _ = t.join();
    if !matches!(r, Ok(Ok(1))) {
        return 20;
    }
    0
}

/// Waits for `pid` at most `limit`; kills it on timeout. Returns the exit
/// code (or 128 + signal).
fn wait_child(pid: libc::pid_t, limit: Duration) -> i32 {
    let start = Instant::now();
    loop {
        let mut status = 0;
        // SAFETY: `status` is live; WNOHANG makes this non-blocking.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        assert!(r >= 0, "waitpid: {}", io::Error::last_os_error());
        if r == pid {
            if libc::WIFEXITED(status) {
                return libc::WEXITSTATUS(status);
            }
            if libc::WIFSIGNALED(status) {
                return 128 + libc::WTERMSIG(status);
            }
        }
        if start.elapsed() > limit {
            // SAFETY: kills and reaps our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            panic!("child {pid} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod epoll {
            $( #[test] fn $name() { super::$name("epoll") } )*
        }
        mod poll {
            $( #[test] fn $name() { super::$name("poll") } )*
        }
        mod select {
            $( #[test] fn $name() { super::$name("select") } )*
        }
    };
}

backend_tests!(fork_and_reinit);

fn fork_and_reinit(method: &str) {
    let _g = serial();
    let rt = rt(method);
    let (a, b) = pair();
    let code = rt.block_on(async {
        let reg = Registration::new(a).unwrap();
        // Make the registration wait: read until WouldBlock, so readiness
        // is cleared and the backend is watching the descriptor.
        let mut buf = [0u8; 8];
        assert!(
            timeout(Duration::from_millis(2), read_some(&reg, &mut buf))
                .await
                .is_err(),
            "nothing was written yet"
        );
        let mut armed = sleep(Duration::from_millis(30));
        assert!(poll_once(&mut armed).is_pending());
        let mut sig = signal(libc::SIGUSR2).unwrap();
        // Nothing buffered may be flushed twice (parent and child).
        let _ = io::stdout().flush();
        let _ = io::stderr().flush();

        // SAFETY: the child only runs this runtime's code on this thread
        // and leaves with _exit; the parent only waits for it.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", io::Error::last_os_error());
        if pid == 0 {
            let guard = ExitOnUnwind;
            let code = child_checks(&reg, &mut armed, &mut sig).await;
            std::mem::forget(guard);
            // SAFETY: ends the child without returning into the harness.
            unsafe { libc::_exit(code) };
        }
        std::thread::sleep(Duration::from_millis(20));
        (&b).write_all(b"F").unwrap();
        let code = wait_child(pid, Duration::from_secs(15));

        // The parent's loop is unharmed by the child's reinit.
        (&b).write_all(b"P").unwrap();
        let n = timeout(Duration::from_secs(3), read_some(&reg, &mut buf))
            .await
            .expect("parent read after the fork timed out")
            .unwrap();
        assert_eq!(&buf[..n], b"P", "the child must have consumed the F");
        timeout(Duration::from_secs(3), &mut armed)
            .await
            .expect("parent timer after the fork");
        // SAFETY: the signal goes to this (parent) thread.
        unsafe { libc::raise(libc::SIGUSR2) };
        timeout(Duration::from_secs(3), sig.recv())
            .await
            .expect("parent signal after the fork");
        code
    });
    assert_eq!(code, 0, "child failed with {code}: {}", describe(code));
}
