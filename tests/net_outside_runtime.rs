//! I/O objects used outside their runtime (issue 9, item 3): a socket
//! polled inside another runtime, or after its runtime was dropped, fails
//! with a clear error instead of waiting forever; one made with no runtime
//! running fails at once. Timers and signal listeners move to the runtime
//! that polls them. Real sockets on 127.0.0.1; every wait is bounded.

use runtime::net::{AsyncRead, ListenOptions, TcpListener, TcpStream, UdpSocket};
use runtime::time::sleep;
use runtime::Runtime;
use std::future::{poll_fn, Future};
use std::io::{self, Write};
use std::pin::{pin, Pin};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// Awaits `fut` for at most 5 s; `None` when it did not complete (the
/// hang this file is about).
/// The deadline is looked at first, so a future that only completes when
/// polled after the deadline (it was never woken) counts as hung.
async fn within<F: Future>(fut: F) -> Option<F::Output> {
    let mut deadline = pin!(sleep(Duration::from_secs(5)));
    let mut fut = pin!(fut);
    poll_fn(|cx| {
        if deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        fut.as_mut().poll(cx).map(Some)
    })
    .await
}

/// Reads once from `s` (whatever is there, or waits).
async fn read_once(s: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    poll_fn(|cx| Pin::new(&mut *s).poll_read(cx, buf)).await
}

/// A connected (runtime stream, std peer) pair over 127.0.0.1, made in
/// the current runtime.
async fn tcp_pair() -> (TcpStream, std::net::TcpStream) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let client = TcpStream::connect(addr).await.unwrap();
    let (server, _) = l.accept().unwrap();
    (client, server)
}

fn assert_outside<T: std::fmt::Debug>(r: Option<io::Result<T>>, what: &str, cause: &str) {
    match r {
        None => panic!("{what}: hung (no error within 5 s)"),
        Some(Ok(v)) => panic!("{what}: completed with {v:?}, expected an error"),
        Some(Err(e)) => {
            assert_eq!(e.kind(), io::ErrorKind::Other, "{what}: {e}");
            assert!(
                e.to_string().contains(cause),
                "{what}: error {e:?} does not say {cause:?}"
            );
        }
    }
}

const OTHER: &str = "outside the runtime (reactor) that registered it";
const DROPPED: &str = "after its runtime was dropped";

#[test]
fn tcp_stream_polled_in_another_runtime() {
    let a = Runtime::new().unwrap();
    let b = Runtime::new().unwrap();
    let (mut client, mut peer) = a.block_on(tcp_pair());
    peer.write_all(b"hi").unwrap();
    b.block_on(async {
        // A call that needs no wait still works: the descriptor is fine.
        let mut buf = [0u8; 8];
        let n = within(read_once(&mut client, &mut buf)).await;
        assert_eq!(n.map(|r| r.unwrap()), Some(2));
        // One that has to wait would never be woken here.
        let r = within(read_once(&mut client, &mut buf)).await;
        assert_outside(r, "TcpStream::read in another runtime", OTHER);
    });
    // Back in its own runtime it works again.
    peer.write_all(b"back").unwrap();
    a.block_on(async {
        let mut buf = [0u8; 8];
        let n = within(read_once(&mut client, &mut buf)).await;
        assert_eq!(n.map(|r| r.unwrap()), Some(4));
        assert_eq!(&buf[..4], b"back");
    });
}

#[test]
fn udp_socket_polled_in_another_runtime() {
    let a = Runtime::new().unwrap();
    let b = Runtime::new().unwrap();
    let sock = a.block_on(async { UdpSocket::bind("127.0.0.1:0").await.unwrap() });
    let addr = sock.local_addr().unwrap();
    b.block_on(async {
        let mut buf = [0u8; 8];
        let r = within(sock.recv_from(&mut buf)).await;
        assert_outside(r, "UdpSocket::recv_from in another runtime", OTHER);
    });
    let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.send_to(b"dgram", addr).unwrap();
    a.block_on(async {
        let mut buf = [0u8; 8];
        let r = within(sock.recv_from(&mut buf)).await.unwrap().unwrap();
        assert_eq!(&buf[..r.0], b"dgram");
    });
}

#[test]
fn tcp_listener_polled_in_another_runtime() {
    let a = Runtime::new().unwrap();
    let b = Runtime::new().unwrap();
    let listener = a.block_on(async { TcpListener::bind("127.0.0.1:0").await.unwrap() });
    b.block_on(async {
        let r = within(listener.accept()).await;
        assert_outside(
            r.map(|r| r.map(|(_, a)| a)),
            "accept in another runtime",
            OTHER,
        );
    });
}

#[test]
fn tcp_stream_after_its_runtime_was_dropped() {
    let a = Runtime::new().unwrap();
    let (mut client, _peer) = a.block_on(tcp_pair());
    drop(a);
    let b = Runtime::new().unwrap();
    b.block_on(async {
        let mut buf = [0u8; 8];
        // The first read is tried at once (readiness is assumed until a
        // call says `WouldBlock`); the wait after it fails.
        let r = within(async {
            loop {
                read_once(&mut client, &mut buf).await?;
            }
        })
        .await;
        assert_outside::<()>(r, "TcpStream::read after its runtime was dropped", DROPPED);
    });
    // With no runtime at all the error is the same.
    let mut cx = Context::from_waker(Waker::noop());
    let mut buf = [0u8; 8];
    match Pin::new(&mut client).poll_read(&mut cx, &mut buf) {
        Poll::Ready(Err(e)) => assert!(e.to_string().contains(DROPPED), "{e}"),
        other => panic!("poll_read outside any runtime: {other:?}"),
    }
}

#[test]
fn udp_and_listener_after_their_runtime_was_dropped() {
    let a = Runtime::new().unwrap();
    let (sock, listener) = a.block_on(async {
        (
            UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            TcpListener::bind("127.0.0.1:0").await.unwrap(),
        )
    });
    drop(a);
    let b = Runtime::new().unwrap();
    b.block_on(async {
        let mut buf = [0u8; 8];
        let r = within(async {
            loop {
                sock.recv_from(&mut buf).await?;
            }
        })
        .await;
        assert_outside::<()>(r, "recv_from after its runtime was dropped", DROPPED);
        let r = within(async {
            loop {
                listener.accept().await?;
            }
        })
        .await;
        assert_outside::<()>(r, "accept after its runtime was dropped", DROPPED);
    });
}

/// Making an I/O object needs a running runtime: outside one it is an
/// error at once, not an object that hangs later.
#[test]
fn creating_sockets_without_a_runtime_fails() {
    let std_stream = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap()
    };
    let e = TcpStream::from_std(std_stream).unwrap_err();
    assert!(e.to_string().contains("no reactor"), "{e}");
    let addr = "127.0.0.1:0".parse().unwrap();
    let e = UdpSocket::bind_with(addr, &ListenOptions::new()).unwrap_err();
    assert!(e.to_string().contains("no reactor"), "{e}");
    let e = TcpListener::bind_now(addr, &ListenOptions::new()).unwrap_err();
    assert!(e.to_string().contains("no reactor"), "{e}");
}

/// A timer first polled in one runtime and then awaited in another moves
/// there (its deadline is all it has), instead of waiting for a reactor
/// that never turns.
#[test]
fn sleep_moves_to_the_runtime_that_polls_it() {
    let a = Runtime::new().unwrap();
    let b = Runtime::new().unwrap();
    let mut s = Box::pin(sleep(Duration::from_millis(20)));
    a.block_on(async {
        let mut cx = Context::from_waker(Waker::noop());
        assert!(s.as_mut().poll(&mut cx).is_pending(), "registered in a");
    });
    b.block_on(async {
        assert!(within(s.as_mut()).await.is_some(), "sleep completes in b");
    });
    // The same after its first runtime is gone.
    let mut s = Box::pin(sleep(Duration::from_millis(20)));
    a.block_on(async {
        let mut cx = Context::from_waker(Waker::noop());
        assert!(s.as_mut().poll(&mut cx).is_pending());
    });
    drop(a);
    b.block_on(async {
        assert!(within(s.as_mut()).await.is_some(), "sleep completes in b");
    });
}

/// A signal listener made in one runtime receives in another: the signal
/// arrives while the other runtime waits.
#[test]
fn signal_listener_moves_to_the_runtime_that_polls_it() {
    let a = Runtime::new().unwrap();
    let b = Runtime::new().unwrap();
    let mut sig = a.block_on(async { runtime::signal::signal(libc::SIGURG).unwrap() });
    drop(a);
    b.block_on(async {
        let sender = std::thread::spawn(|| {
            std::thread::sleep(Duration::from_millis(100));
            // SAFETY: kill only sends SIGURG to this process, whose handler
            // the listener installed.
            assert_eq!(unsafe { libc::kill(libc::getpid(), libc::SIGURG) }, 0);
        });
        assert!(within(sig.recv()).await.is_some(), "signal delivered in b");
        sender.join().unwrap();
    });
}
