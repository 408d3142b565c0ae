//! TLS filters (`BufferEvent::tls_filter_new`, the shape of
//! `bufferevent_openssl_filter_new`): TLS over a socket bufferevent
//! against `openssl s_server` and `openssl s_client` and against our own
//! acceptor (clean `close_notify`, a truncated stream, the dirty-shutdown
//! option), TLS inside TLS over a bufferevent pair, a handshake failure
//! as an error event, a reset and a read timeout of the bufferevent
//! underneath passed on to the filter's event callback, and what freeing
//! a filter does to the bufferevent and socket beneath it. All over
//! 127.0.0.1, certificates made at test time, every test bounded.

use runtime::compat::{
    BevEvent, BufferEvent, EventBase, TlsRole, BEV_EVENT_CONNECTED, BEV_EVENT_EOF, BEV_EVENT_ERROR,
    BEV_EVENT_READING, BEV_EVENT_TIMEOUT, BEV_OPT_CLOSE_ON_FREE, EV_READ, EV_WRITE,
};
use runtime::io::{BufferedStream, Eol};
use runtime::net::{AsyncWrite, TcpListener, TcpStream};
use runtime::tls::{ClientConfig, ServerConfig, TlsAcceptor, TlsConnector, TlsStream};
use std::cell::RefCell;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::Duration;

#[path = "support/tls.rs"]
mod tls_certs;
use tls_certs::{free_port, have_openssl, path_str, Certs};

#[path = "support/thread.rs"]
mod thread;
use thread::bounded;

fn acceptor(certs: &Certs) -> TlsAcceptor {
    let leaf = certs.leaf("server", &["localhost"]);
    TlsAcceptor::new(ServerConfig::from_pem_files(&leaf.cert, &leaf.key).unwrap())
}

fn connector(certs: &Certs) -> TlsConnector {
    TlsConnector::new(
        ClientConfig::builder()
            .ca_file(certs.ca())
            .unwrap()
            .build()
            .unwrap(),
    )
}

fn connecting(connector: TlsConnector, name: &str) -> TlsRole {
    TlsRole::Connecting {
        connector,
        server_name: name.into(),
    }
}

type Events = Rc<RefCell<Vec<BevEvent>>>;
type Lines = Rc<RefCell<Vec<String>>>;

/// Callbacks of a client filter: writes `send` once connected, collects
/// the lines it reads and the events; frees itself after `want` lines
/// or at end of stream or an error.
fn client_callbacks(bev: &BufferEvent, send: &'static [u8], want: usize) -> (Events, Lines) {
    let events: Events = Rc::default();
    let lines: Lines = Rc::default();
    let (e, l) = (events.clone(), lines.clone());
    bev.setcb(
        Some(Box::new(move |bev: &BufferEvent| {
            while let Some(line) = bev.input().readln(Eol::Lf).unwrap() {
                l.borrow_mut().push(String::from_utf8(line).unwrap());
            }
            if l.borrow().len() >= want {
                bev.free();
            }
        })),
        None,
        Some(Box::new(move |bev: &BufferEvent, what: BevEvent| {
            e.borrow_mut().push(what);
            if what == BEV_EVENT_CONNECTED {
                bev.write(send).unwrap();
            } else {
                bev.free();
            }
        })),
    )
    .unwrap();
    bev.enable(EV_READ).unwrap();
    (events, lines)
}

/// A server filter answering each line upper-cased; records its events
/// and frees itself at end of stream or an error.
fn upper_server(bev: &BufferEvent) -> Events {
    let events: Events = Rc::default();
    let e = events.clone();
    bev.setcb(
        Some(Box::new(|bev: &BufferEvent| {
            while let Some(line) = bev.input().readln(Eol::Lf).unwrap() {
                let mut up = line.to_ascii_uppercase();
                up.push(b'\n');
                bev.write(&up).unwrap();
            }
        })),
        None,
        Some(Box::new(move |bev: &BufferEvent, what: BevEvent| {
            e.borrow_mut().push(what);
            if what != BEV_EVENT_CONNECTED {
                bev.free();
            }
        })),
    )
    .unwrap();
    bev.enable(EV_READ).unwrap();
    events
}

/// How our acceptor's connection ends after the client's `bye` line.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Ending {
    /// `close_notify`, then the socket's close.
    CloseNotify,
    /// The socket is dropped without `close_notify`.
    Dirty,
}

/// Our acceptor (runtime-tls, async) on a thread of its own: one
/// connection, each line answered upper-cased until `bye`, then `ending`.
/// The thread returns how the connection's reading ended (`Ok` after
/// `bye` or a clean end, the read error otherwise).
fn our_server(
    acceptor: TlsAcceptor,
    ending: Ending,
) -> (SocketAddr, std::thread::JoinHandle<io::Result<()>>) {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = std_listener.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        runtime::block_on(async move {
            let listener = TcpListener::from_std(std_listener)?;
            let (tcp, _) = listener.accept().await?;
            let tls = acceptor.accept(tcp).await?;
            let mut s = BufferedStream::new(tls);
            loop {
                let Some(line) = s.read_line(Eol::Lf).await? else {
                    return Ok(());
                };
                let mut up = line.to_ascii_uppercase();
                up.push(b'\n');
                s.write_all(&up).await?;
                s.flush().await?;
                if line == b"bye" {
                    let mut tls = s.into_inner();
                    if ending == Ending::CloseNotify {
                        poll_fn(|cx| Pin::new(&mut tls).poll_close(cx)).await?;
                    }
                    return Ok(());
                }
            }
        })
    });
    (addr, t)
}

#[test]
fn filter_over_a_socket_bufferevent_against_openssl_s_server() {
    if !have_openssl() {
        eprintln!("openssl not installed: skipped");
        return;
    }
    bounded(|| {
        let certs = Certs::new();
        let leaf = certs.leaf("server", &["localhost"]);
        let port = free_port();
        let mut server = Command::new("openssl")
            .args(["s_server", "-accept", &format!("127.0.0.1:{port}")])
            .args(["-rev", "-quiet"])
            .args(["-cert", path_str(&leaf.cert), "-key", path_str(&leaf.key)])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut tcp = None;
        for _ in 0..250 {
            match std::net::TcpStream::connect(("127.0.0.1", port)) {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        let tcp = tcp.expect("s_server listening");
        let base = EventBase::new().unwrap();
        let under =
            BufferEvent::socket_new(&base, Some(tcp.into()), BEV_OPT_CLOSE_ON_FREE).unwrap();
        let fd = under.get_fd();
        let tls = BufferEvent::tls_filter_new(
            &base,
            &under,
            connecting(connector(&certs), "localhost"),
            BEV_OPT_CLOSE_ON_FREE,
        )
        .unwrap();
        assert_eq!(tls.get_fd(), fd);
        assert_eq!(tls.underlying(), Some(under.clone()));
        let (events, lines) = client_callbacks(&tls, b"hello filter\n", 1);
        base.dispatch().unwrap();
        let _ = server.kill();
        let _ = server.wait();
        assert_eq!(*lines.borrow(), ["retlif olleh"]);
        assert_eq!(*events.borrow(), [BEV_EVENT_CONNECTED]);
        // Close-on-free freed the socket bufferevent beneath.
        assert!(tls.is_freed() && under.is_freed());
    });
}

#[test]
fn accepting_filter_over_a_socket_bufferevent_against_openssl_s_client() {
    if !have_openssl() {
        eprintln!("openssl not installed: skipped");
        return;
    }
    bounded(|| {
        let certs = Certs::new();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = tls_certs::s_client_ping(port, certs.ca());
        let (tcp, _) = listener.accept().unwrap();
        let base = EventBase::new().unwrap();
        let under =
            BufferEvent::socket_new(&base, Some(tcp.into()), BEV_OPT_CLOSE_ON_FREE).unwrap();
        let tls = BufferEvent::tls_filter_new(
            &base,
            &under,
            TlsRole::Accepting(acceptor(&certs)),
            BEV_OPT_CLOSE_ON_FREE,
        )
        .unwrap();
        let events = upper_server(&tls);
        base.dispatch().unwrap();
        assert_eq!(&client.join().unwrap(), b"PING\n");
        // s_client was killed: no close_notify, a truncated stream.
        let ev = events.borrow();
        assert_eq!(ev.len(), 2, "{ev:?}");
        assert_eq!(ev[0], BEV_EVENT_CONNECTED);
        assert_eq!(ev[1], BEV_EVENT_READING | BEV_EVENT_ERROR);
    });
}

/// A client filter over a connecting socket bufferevent against our
/// acceptor, which ends as `ending`; returns the filter's events, the
/// lines it read and the error it was left with.
fn against_our_acceptor(
    ending: Ending,
    dirty_ok: bool,
) -> (Vec<BevEvent>, Vec<String>, Option<io::Error>) {
    let certs = Certs::new();
    let (addr, server) = our_server(acceptor(&certs), ending);
    let connector = connector(&certs).allow_dirty_shutdown(dirty_ok);
    let seen = filter_client_until_event(connector, addr, b"one\ntwo\nbye\n", |_| {});
    server.join().unwrap().unwrap();
    seen
}

#[test]
fn filter_against_our_acceptor_reads_close_notify_as_end_of_stream() {
    bounded(|| {
        let (events, lines, error) = against_our_acceptor(Ending::CloseNotify, false);
        assert_eq!(lines, ["ONE", "TWO", "BYE"]);
        assert_eq!(
            events,
            [BEV_EVENT_CONNECTED, BEV_EVENT_READING | BEV_EVENT_EOF]
        );
        assert!(error.is_none(), "{error:?}");
    });
}

#[test]
fn filter_reports_a_truncated_stream_unless_dirty_shutdowns_are_allowed() {
    bounded(|| {
        let (events, lines, error) = against_our_acceptor(Ending::Dirty, false);
        assert_eq!(lines, ["ONE", "TWO", "BYE"]);
        assert_eq!(
            events,
            [BEV_EVENT_CONNECTED, BEV_EVENT_READING | BEV_EVENT_ERROR]
        );
        let e = error.expect("the truncation");
        assert!(
            e.get_ref()
                .is_some_and(|i| i.is::<runtime::tls::Truncated>()),
            "{e:?}"
        );

        let (events, lines, error) = against_our_acceptor(Ending::Dirty, true);
        assert_eq!(lines, ["ONE", "TWO", "BYE"]);
        assert_eq!(
            events,
            [BEV_EVENT_CONNECTED, BEV_EVENT_READING | BEV_EVENT_EOF]
        );
        assert!(error.is_none(), "{error:?}");
    });
}

#[test]
fn tls_inside_tls_over_a_bufferevent_pair() {
    bounded(|| {
        let certs = Certs::new();
        let base = EventBase::new().unwrap();
        let (a, b) = BufferEvent::pair_new(&base, BEV_OPT_CLOSE_ON_FREE).unwrap();
        let filter = |under: &BufferEvent, role: TlsRole| {
            BufferEvent::tls_filter_new(&base, under, role, BEV_OPT_CLOSE_ON_FREE).unwrap()
        };
        let outer_server = filter(&a, TlsRole::Accepting(acceptor(&certs)));
        let outer_client = filter(&b, connecting(connector(&certs), "localhost"));
        // A second session inside the first, on both sides.
        let inner_server = filter(&outer_server, TlsRole::Accepting(acceptor(&certs)));
        let inner_client = filter(&outer_client, connecting(connector(&certs), "localhost"));
        assert_eq!(inner_client.get_fd(), -1); // a pair has no socket
        let server_events = upper_server(&inner_server);
        // 100 KiB of lines: many records through both layers.
        let mut big = Vec::new();
        for i in 0..4000 {
            big.extend_from_slice(format!("line {i:05} of the nested session\n").as_bytes());
        }
        let big: &'static [u8] = big.leak();
        let (events, lines) = client_callbacks(&inner_client, big, 4000);
        base.dispatch().unwrap();
        assert_eq!(lines.borrow().len(), 4000);
        assert_eq!(lines.borrow()[3999], "LINE 03999 OF THE NESTED SESSION");
        assert_eq!(*events.borrow(), [BEV_EVENT_CONNECTED]);
        // The client's free went down its chain (close-on-free at each
        // level): the server chain read end of stream at the bottom, a
        // truncated session above it.
        for bev in [
            &inner_client,
            &outer_client,
            &b,
            &a,
            &outer_server,
            &inner_server,
        ] {
            assert!(bev.is_freed());
        }
        let ev = server_events.borrow();
        assert_eq!(ev[0], BEV_EVENT_CONNECTED);
        assert_eq!(ev[1], BEV_EVENT_READING | BEV_EVENT_ERROR, "{ev:?}");
    });
}

#[test]
fn a_failed_handshake_is_an_error_event_on_both_sides() {
    bounded(|| {
        let certs = Certs::new();
        let base = EventBase::new().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let tcp_client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (tcp_server, _) = listener.accept().unwrap();
        let us =
            BufferEvent::socket_new(&base, Some(tcp_server.into()), BEV_OPT_CLOSE_ON_FREE).unwrap();
        let uc =
            BufferEvent::socket_new(&base, Some(tcp_client.into()), BEV_OPT_CLOSE_ON_FREE).unwrap();
        let server = BufferEvent::tls_filter_new(
            &base,
            &us,
            TlsRole::Accepting(acceptor(&certs)),
            BEV_OPT_CLOSE_ON_FREE,
        )
        .unwrap();
        // The certificate is for localhost.
        let client = BufferEvent::tls_filter_new(
            &base,
            &uc,
            connecting(connector(&certs), "wrong.test"),
            BEV_OPT_CLOSE_ON_FREE,
        )
        .unwrap();
        let server_events = upper_server(&server);
        let client_events: Events = Rc::default();
        let error = Rc::new(RefCell::new(None));
        let (ce, er) = (client_events.clone(), error.clone());
        client
            .setcb(
                Some(Box::new(|_: &BufferEvent| panic!("no data may arrive"))),
                None,
                Some(Box::new(move |bev: &BufferEvent, what: BevEvent| {
                    ce.borrow_mut().push(what);
                    *er.borrow_mut() = bev.take_error().map(|e| e.to_string());
                    bev.free();
                })),
            )
            .unwrap();
        client.enable(EV_READ).unwrap();
        client.write(b"secret\n").unwrap();
        base.dispatch().unwrap();
        assert_eq!(
            *client_events.borrow(),
            [BEV_EVENT_READING | BEV_EVENT_ERROR]
        );
        let e = error.borrow().clone().expect("an error");
        assert!(e.contains("certificate"), "{e}");
        // The server read the client's alert.
        assert_eq!(
            *server_events.borrow(),
            [BEV_EVENT_READING | BEV_EVENT_ERROR]
        );
    });
}

/// Handshakes a client filter over a socket bufferevent with our acceptor
/// on a thread, then frees the filter (`close`: with close-on-free).
/// Returns the underlying bufferevent and the server's thread, whose
/// read ends when the socket is closed.
fn free_after_handshake(
    close: bool,
) -> (
    EventBase,
    BufferEvent,
    std::thread::JoinHandle<io::Result<()>>,
    Certs,
) {
    let certs = Certs::new();
    let (addr, server) = our_server(acceptor(&certs), Ending::CloseNotify);
    let base = EventBase::new().unwrap();
    let tcp = std::net::TcpStream::connect(addr).unwrap();
    let under = BufferEvent::socket_new(&base, Some(tcp.into()), BEV_OPT_CLOSE_ON_FREE).unwrap();
    let options = if close {
        BEV_OPT_CLOSE_ON_FREE
    } else {
        Default::default()
    };
    let tls = BufferEvent::tls_filter_new(
        &base,
        &under,
        connecting(connector(&certs), "localhost"),
        options,
    )
    .unwrap();
    let (events, lines) = client_callbacks(&tls, b"first\n", 1);
    if close {
        base.dispatch().unwrap();
    } else {
        // The bufferevent left underneath keeps reading (enabled by the
        // filter) and the loop with it: run until the filter is freed.
        while !tls.is_freed() {
            base.loop_once().unwrap();
        }
    }
    assert_eq!(*lines.borrow(), ["FIRST"]);
    assert_eq!(*events.borrow(), [BEV_EVENT_CONNECTED]);
    assert!(tls.is_freed());
    (base, under, server, certs)
}

#[test]
fn freeing_a_filter_with_close_on_free_closes_the_socket_underneath() {
    bounded(|| {
        let (_base, under, server, _certs) = free_after_handshake(true);
        assert!(under.is_freed());
        // The server's read meets the closed socket (no close_notify: the
        // session is dropped, as libevent's free does).
        let e = server.join().unwrap().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{e:?}");
    });
}

#[test]
fn freeing_a_filter_without_close_on_free_leaves_the_bufferevent_underneath() {
    bounded(|| {
        let (base, under, server, _certs) = free_after_handshake(false);
        assert!(!under.is_freed());
        let fd = under.get_fd();
        assert!(fd >= 0);
        // SAFETY: F_GETFD on a descriptor number only reads its flags.
        assert!(
            unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0,
            "the socket is open"
        );
        assert!(!server.is_finished());
        // The filter's callbacks are gone from it: it is the caller's
        // again. Bytes written through it reach the server's TLS layer
        // as garbage, which the server reports.
        let events: Events = Rc::default();
        let e = events.clone();
        under
            .setcb(
                None,
                None,
                Some(Box::new(move |bev: &BufferEvent, what: BevEvent| {
                    e.borrow_mut().push(what);
                    bev.free();
                })),
            )
            .unwrap();
        under.write(b"not a tls record\n").unwrap();
        under.enable(EV_READ | EV_WRITE).unwrap();
        base.dispatch().unwrap();
        let err = server.join().unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err:?}");
        assert!(under.is_freed());
        assert!(!events.borrow().is_empty());
    });
}

/// A client filter over a socket bufferevent connected to `addr` (still
/// connecting: the ClientHello waits in its output): writes `send` once
/// connected, collects lines, events and the error taken at the first
/// event after `CONNECTED` (then frees itself). `after_connect` runs on
/// the underlying bufferevent at `CONNECTED`.
fn filter_client_until_event(
    connector: TlsConnector,
    addr: SocketAddr,
    send: &'static [u8],
    after_connect: impl Fn(&BufferEvent) + 'static,
) -> (Vec<BevEvent>, Vec<String>, Option<io::Error>) {
    let base = EventBase::new().unwrap();
    let under = BufferEvent::connect(&base, addr).unwrap();
    let tls = BufferEvent::tls_filter_new(
        &base,
        &under,
        connecting(connector, "localhost"),
        BEV_OPT_CLOSE_ON_FREE,
    )
    .unwrap();
    let events: Events = Rc::default();
    let lines: Lines = Rc::default();
    let error: Rc<RefCell<Option<io::Error>>> = Rc::default();
    let (e, l, err) = (events.clone(), lines.clone(), error.clone());
    let u = under.clone();
    tls.setcb(
        Some(Box::new(move |bev: &BufferEvent| {
            while let Some(line) = bev.input().readln(Eol::Lf).unwrap() {
                l.borrow_mut().push(String::from_utf8(line).unwrap());
            }
        })),
        None,
        Some(Box::new(move |bev: &BufferEvent, what: BevEvent| {
            e.borrow_mut().push(what);
            if what == BEV_EVENT_CONNECTED {
                after_connect(&u);
                bev.write(send).unwrap();
            } else {
                *err.borrow_mut() = bev.take_error();
                bev.free();
            }
        })),
    )
    .unwrap();
    tls.enable(EV_READ).unwrap();
    base.dispatch().unwrap();
    assert!(under.is_freed());
    let events = events.borrow().clone();
    let lines = lines.borrow().clone();
    let error = error.borrow_mut().take();
    (events, lines, error)
}

/// One TLS connection served by our acceptor on a thread of its own:
/// `linger_zero` sets SO_LINGER 0 on the socket (its close is a reset),
/// then `body` runs on the accepted stream.
fn one_tls_peer<T, Fut>(
    certs: &Certs,
    linger_zero: bool,
    body: impl FnOnce(BufferedStream<TlsStream<TcpStream>>) -> Fut + Send + 'static,
) -> (SocketAddr, std::thread::JoinHandle<io::Result<T>>)
where
    T: Send + 'static,
    Fut: std::future::Future<Output = io::Result<T>>,
{
    let acceptor = acceptor(certs);
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = std_listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        runtime::block_on(async move {
            let listener = TcpListener::from_std(std_listener)?;
            let (tcp, _) = listener.accept().await?;
            if linger_zero {
                tcp.set_linger(Some(Duration::ZERO))?;
            }
            body(BufferedStream::new(acceptor.accept(tcp).await?)).await
        })
    });
    (addr, server)
}

#[test]
fn a_reset_under_an_established_filter_is_the_filters_error_event() {
    bounded(|| {
        let certs = Certs::new();
        // One line answered, then the socket is closed with SO_LINGER 0:
        // a reset, no close_notify.
        let (addr, server) = one_tls_peer(&certs, true, |mut s| async move {
            let line = s.read_line(Eol::Lf).await?.expect("a line");
            let mut up = line.to_ascii_uppercase();
            up.push(b'\n');
            s.write_all(&up).await?;
            s.flush().await?;
            // Wait until the client has the answer before resetting.
            std::thread::sleep(Duration::from_millis(100));
            Ok(())
        });
        let (events, lines, error) =
            filter_client_until_event(connector(&certs), addr, b"one\n", |_| {});
        server.join().unwrap().unwrap();
        assert_eq!(lines, ["ONE"]);
        assert_eq!(
            events,
            [BEV_EVENT_CONNECTED, BEV_EVENT_READING | BEV_EVENT_ERROR]
        );
        let e = error.expect("the reset, passed on from the bufferevent underneath");
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e:?}");
    });
}

#[test]
fn a_read_timeout_of_the_bufferevent_underneath_reaches_the_filter() {
    bounded(|| {
        let certs = Certs::new();
        // The server completes the handshake, reads the line and never
        // answers; it ends when the client goes.
        let (addr, server) = one_tls_peer(&certs, false, |mut s| async move {
            let first = s.read_line(Eol::Lf).await?;
            // The client frees its filter without close_notify.
            let end = s.read_line(Eol::Lf).await;
            Ok((first, end.is_err()))
        });
        let (events, lines, _) =
            filter_client_until_event(connector(&certs), addr, b"one\n", |under| {
                under
                    .set_timeouts(Some(Duration::from_millis(100)), None)
                    .unwrap();
            });
        let (first, truncated) = server.join().unwrap().unwrap();
        assert_eq!(first.as_deref(), Some(&b"one"[..]));
        assert!(truncated, "the client left without close_notify");
        assert!(lines.is_empty(), "{lines:?}");
        assert_eq!(
            events,
            [BEV_EVENT_CONNECTED, BEV_EVENT_READING | BEV_EVENT_TIMEOUT]
        );
    });
}
