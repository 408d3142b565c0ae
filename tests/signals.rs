//! Signals through the public API, once per backend. Signals are
//! process-wide, so this is a separate test binary and every test takes
//! one lock: no two tests listen, raise or change dispositions at once.

use runtime::signal::{ctrl_c, signal};
use runtime::time::timeout;
use runtime::{spawn, yield_now, Builder, Runtime};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

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

async fn bounded<F: Future>(secs: u64, what: &str, fut: F) -> F::Output {
    match timeout(Duration::from_secs(secs), fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {secs} s: {what}"),
    }
}

fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    Pin::new(f).poll(&mut cx)
}

fn raise(sig: i32) {
    // SAFETY: raise only sends a signal to the calling thread.
    assert_eq!(unsafe { libc::raise(sig) }, 0);
}

/// The current disposition's handler address.
fn disposition(sig: i32) -> libc::sighandler_t {
    // SAFETY: zeroed sigaction is valid storage for sigaction to fill.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: a null new action only queries; `old` is live.
    assert_eq!(
        unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) },
        0
    );
    old.sa_sigaction
}

static CUSTOM_HITS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn custom_handler(_: libc::c_int) {
    CUSTOM_HITS.fetch_add(1, Ordering::SeqCst);
}

/// The disposition of `sig`, `None` for a number the kernel refuses.
fn try_disposition(sig: i32) -> Option<libc::sighandler_t> {
    // SAFETY: zeroed sigaction is valid storage for sigaction to fill.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: a null new action only queries; `old` is live.
    let r = unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) };
    (r == 0).then_some(old.sa_sigaction)
}

/// Whether the runtime's handler is installed for `sig`: the disposition is
/// none of the others these tests set (default, ignore, `custom_handler`).
fn is_handler_installed(sig: i32) -> bool {
    let custom = custom_handler as extern "C" fn(libc::c_int) as libc::sighandler_t;
    try_disposition(sig).is_some_and(|d| ![libc::SIG_DFL, libc::SIG_IGN, custom].contains(&d))
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

backend_tests!(
    raise_reaches_listener,
    several_listeners,
    two_runtimes,
    restores_previous_disposition,
    invalid_signals,
    ctrl_c_on_sigint,
);

/// A raised signal reaches a `signal()` stream: once with the loop
/// running, once sent by another thread while the loop is blocked.
fn raise_reaches_listener(method: &str) {
    let _g = serial();
    let sig = libc::SIGUSR1;
    let rt = rt(method);
    rt.block_on(async {
        let mut s = signal(sig).unwrap();
        assert_eq!(s.signum(), sig);
        assert!(is_handler_installed(sig));
        assert!(poll_once(&mut Box::pin(s.recv())).is_pending());
        raise(sig);
        bounded(2, "raised signal", s.recv()).await;
        // Nothing more is pending.
        assert!(poll_once(&mut Box::pin(s.recv())).is_pending());
        let t = std::thread::spawn(|| {
            std::thread::sleep(Duration::from_millis(20));
            // SAFETY: sends a signal to this process.
            unsafe { libc::kill(libc::getpid(), libc::SIGUSR1) };
        });
        bounded(2, "signal sent by a thread while the loop blocks", s.recv()).await;
        t.join().unwrap();
        // The Stream interface yields `Some(())` per delivery.
        raise(sig);
        let item = bounded(
            2,
            "stream item",
            std::future::poll_fn(|cx| futures_core::Stream::poll_next(Pin::new(&mut s), cx)),
        )
        .await;
        assert_eq!(item, Some(()));
    });
    assert!(!is_handler_installed(sig));
}

/// Several listeners on one signal in one runtime each get the delivery; a
/// listener created after the delivery does not.
fn several_listeners(method: &str) {
    let _g = serial();
    let sig = libc::SIGUSR2;
    let rt = rt(method);
    rt.block_on(async {
        let mut ls: Vec<_> = (0..3).map(|_| signal(sig).unwrap()).collect();
        // One of them waits in a task, blocked in the reactor.
        let mut first = ls.remove(0);
        let waiter = spawn(async move {
            first.recv().await;
            first
        });
        yield_now().await;
        yield_now().await;
        raise(sig);
        let mut late = signal(sig).unwrap();
        for s in ls.iter_mut() {
            bounded(2, "each listener gets it", s.recv()).await;
        }
        let first = bounded(2, "listener in a task", waiter).await.unwrap();
        assert!(
            poll_once(&mut Box::pin(late.recv())).is_pending(),
            "a listener created after the delivery saw it"
        );
        // Dropping some listeners keeps the others working.
        drop(first);
        drop(ls);
        assert!(is_handler_installed(sig));
        raise(sig);
        bounded(2, "remaining listener", late.recv()).await;
    });
    assert!(!is_handler_installed(sig));
}

/// Listeners on two runtimes on two threads (this backend and another) both
/// get one raise.
fn two_runtimes(method: &str) {
    let _g = serial();
    let sig = libc::SIGWINCH;
    let other = match method {
        "epoll" => "poll",
        "poll" => "select",
        _ => "epoll",
    };
    let barrier = std::sync::Arc::new(Barrier::new(3));
    let got = std::sync::Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = [method.to_string(), other.to_string()]
        .into_iter()
        .map(|m| {
            let barrier = barrier.clone();
            let got = got.clone();
            std::thread::spawn(move || {
                let rt = rt(&m);
                rt.block_on(async {
                    let mut s = signal(sig).unwrap();
                    barrier.wait();
                    bounded(2, "signal on a second runtime", s.recv()).await;
                    got.fetch_add(1, Ordering::SeqCst);
                    barrier.wait(); // keep listening until both got it
                });
            })
        })
        .collect();
    barrier.wait();
    raise(sig);
    barrier.wait();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(got.load(Ordering::SeqCst), 2);
    assert!(!is_handler_installed(sig));
}

/// The disposition a signal had before the first listener comes back when
/// the last listener goes: `SIG_IGN`, and a user handler.
fn restores_previous_disposition(method: &str) {
    let _g = serial();
    let sig = libc::SIGUSR1;
    let rt = rt(method);
    // SAFETY: installs SIG_IGN for a signal only this test uses now.
    unsafe { libc::signal(sig, libc::SIG_IGN) };
    assert_eq!(disposition(sig), libc::SIG_IGN);
    rt.block_on(async {
        let mut s1 = signal(sig).unwrap();
        assert_ne!(disposition(sig), libc::SIG_IGN);
        let s2 = signal(sig).unwrap();
        raise(sig);
        bounded(2, "signal over SIG_IGN", s1.recv()).await;
        drop(s1);
        assert!(is_handler_installed(sig), "one listener is left");
        assert_ne!(disposition(sig), libc::SIG_IGN);
        drop(s2);
    });
    assert!(!is_handler_installed(sig));
    assert_eq!(disposition(sig), libc::SIG_IGN, "SIG_IGN not restored");
    raise(sig); // ignored again: harmless

    // A user handler is restored too, and works afterwards.
    let h = custom_handler as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: installs an async-signal-safe handler (one atomic add).
    unsafe { libc::signal(sig, h) };
    let before = CUSTOM_HITS.load(Ordering::SeqCst);
    rt.block_on(async {
        let mut s = signal(sig).unwrap();
        raise(sig);
        bounded(2, "signal over a user handler", s.recv()).await;
    });
    assert_eq!(
        CUSTOM_HITS.load(Ordering::SeqCst),
        before,
        "ours replaced it"
    );
    assert_eq!(disposition(sig), h, "user handler not restored");
    raise(sig);
    assert_eq!(CUSTOM_HITS.load(Ordering::SeqCst), before + 1);
    // SAFETY: back to the default for the next test.
    unsafe { libc::signal(sig, libc::SIG_DFL) };
}

/// Numbers out of range and signals that cannot be caught (or must not be,
/// as synchronous faults) are `InvalidInput`; nothing gets installed.
fn invalid_signals(method: &str) {
    let _g = serial();
    let rt = rt(method);
    rt.block_on(async {
        for sig in [
            0,
            -1,
            65,
            999,
            i32::MAX,
            libc::SIGKILL,
            libc::SIGSTOP,
            libc::SIGSEGV,
        ] {
            let before = try_disposition(sig);
            let e = signal(sig).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "signal {sig}: {e}");
            assert_eq!(
                try_disposition(sig),
                before,
                "signal {sig}: disposition changed"
            );
        }
    });
    // Outside a runtime: an error, and no handler left behind.
    let e = signal(libc::SIGUSR2).unwrap_err();
    assert_ne!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
    assert!(!is_handler_installed(libc::SIGUSR2));
    assert_eq!(disposition(libc::SIGUSR2), libc::SIG_DFL);
}

/// `ctrl_c()` completes on SIGINT, and SIGINT's default disposition is
/// back afterwards.
fn ctrl_c_on_sigint(method: &str) {
    let _g = serial();
    let rt = rt(method);
    assert_eq!(disposition(libc::SIGINT), libc::SIG_DFL);
    rt.block_on(async {
        let h = spawn(ctrl_c());
        // ctrl_c installs its handler at its first poll: never raise
        // SIGINT before that (the default action would end the process).
        bounded(2, "ctrl_c installs its handler", async {
            while !is_handler_installed(libc::SIGINT) {
                yield_now().await;
            }
        })
        .await;
        raise(libc::SIGINT);
        bounded(2, "ctrl_c", h).await.unwrap().unwrap();
    });
    assert!(!is_handler_installed(libc::SIGINT));
    assert_eq!(disposition(libc::SIGINT), libc::SIG_DFL);
}
