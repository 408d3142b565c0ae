//! TLS callback bufferevents (`BufferEvent::tls_socket_new`, the shape of
//! `bufferevent_openssl_socket_new`): an accepting and a connecting
//! bufferevent on one base over a socketpair and over TCP on 127.0.0.1,
//! with `openssl s_client` as the peer; `BEV_EVENT_CONNECTED` after the
//! handshake, which runs with nothing enabled; a certificate for another
//! name reported as `BEV_EVENT_ERROR`. Certificates made at test time.
//! The filter shape (`tls_filter_new`) is in `compat_tls_filter.rs`.

use runtime::compat::{
    BevEvent, BufferEvent, EventBase, TlsRole, BEV_EVENT_CONNECTED, BEV_EVENT_EOF, BEV_EVENT_ERROR,
    BEV_EVENT_READING, BEV_FINISHED, BEV_OPT_CLOSE_ON_FREE, EV_READ, EV_WRITE,
};
use runtime::io::Eol;
use runtime::tls::{ClientConfig, ServerConfig, TlsAcceptor, TlsConnector};
use std::cell::RefCell;
use std::os::unix::net::UnixStream;
use std::rc::Rc;

#[path = "support/tls.rs"]
mod tls_certs;
use tls_certs::{have_openssl, Certs};

#[path = "support/thread.rs"]
mod thread;
use thread::bounded;

fn roles(certs: &Certs, name: &str) -> (TlsRole, TlsRole) {
    let leaf = certs.leaf("server", &["localhost"]);
    let acceptor = TlsAcceptor::new(ServerConfig::from_pem_files(&leaf.cert, &leaf.key).unwrap());
    let connector = TlsConnector::new(
        ClientConfig::builder()
            .ca_file(certs.ca())
            .unwrap()
            .build()
            .unwrap(),
    );
    (
        TlsRole::Accepting(acceptor),
        TlsRole::Connecting {
            connector,
            server_name: name.into(),
        },
    )
}

/// A server bufferevent answering each line upper-cased; records its
/// events and frees itself at EOF or error.
fn upper_server(bev: &BufferEvent, events: Rc<RefCell<Vec<BevEvent>>>) {
    bev.setcb(
        Some(Box::new(|bev: &BufferEvent| loop {
            let line = bev.input().readln(Eol::Lf).unwrap();
            let Some(line) = line else { break };
            let mut up = line.to_ascii_uppercase();
            up.push(b'\n');
            bev.write(&up).unwrap();
        })),
        None,
        Some(Box::new(move |bev: &BufferEvent, what: BevEvent| {
            events.borrow_mut().push(what);
            if what != BEV_EVENT_CONNECTED {
                bev.free();
            }
        })),
    )
    .unwrap();
    bev.enable(EV_READ).unwrap();
}

#[test]
fn accepting_and_connecting_bufferevents_talk_over_a_socketpair() {
    bounded(|| {
        let certs = Certs::new();
        let (server_role, client_role) = roles(&certs, "localhost");
        let base = EventBase::new().unwrap();
        let (a, b) = UnixStream::pair().unwrap();
        let server =
            BufferEvent::tls_socket_new(&base, a.into(), server_role, BEV_OPT_CLOSE_ON_FREE)
                .unwrap();
        let client =
            BufferEvent::tls_socket_new(&base, b.into(), client_role, BEV_OPT_CLOSE_ON_FREE)
                .unwrap();
        let server_events = Rc::new(RefCell::new(Vec::new()));
        upper_server(&server, server_events.clone());
        let got = Rc::new(RefCell::new(Vec::new()));
        let g = got.clone();
        client
            .setcb(
                Some(Box::new(move |bev: &BufferEvent| {
                    while let Some(line) = bev.input().readln(Eol::Lf).unwrap() {
                        g.borrow_mut().push(String::from_utf8(line).unwrap());
                    }
                    if g.borrow().len() == 2 {
                        // close_notify, then the socket's write side.
                        bev.flush(EV_WRITE, BEV_FINISHED).unwrap();
                    }
                })),
                None,
                Some(Box::new(|bev: &BufferEvent, what: BevEvent| {
                    if what != BEV_EVENT_CONNECTED {
                        bev.free()
                    }
                })),
            )
            .unwrap();
        client.enable(EV_READ).unwrap();
        // Written before the handshake: sent once it is done.
        client.write(b"hello\nover tls\n").unwrap();
        base.dispatch().unwrap();
        assert_eq!(*got.borrow(), ["HELLO", "OVER TLS"]);
        // The client's BEV_FINISHED sent close_notify: a clean EOF, not an error.
        let ev = server_events.borrow();
        assert_eq!(
            *ev,
            [BEV_EVENT_CONNECTED, BEV_EVENT_READING | BEV_EVENT_EOF]
        );
    });
}

#[test]
fn a_certificate_for_another_name_is_an_error_event() {
    bounded(|| {
        let certs = Certs::new();
        let (server_role, client_role) = roles(&certs, "wrong.test");
        let base = EventBase::new().unwrap();
        let (a, b) = UnixStream::pair().unwrap();
        let server =
            BufferEvent::tls_socket_new(&base, a.into(), server_role, BEV_OPT_CLOSE_ON_FREE)
                .unwrap();
        let client =
            BufferEvent::tls_socket_new(&base, b.into(), client_role, BEV_OPT_CLOSE_ON_FREE)
                .unwrap();
        let server_events = Rc::new(RefCell::new(Vec::new()));
        upper_server(&server, server_events.clone());
        let client_error = Rc::new(RefCell::new(None));
        let ce = client_error.clone();
        client
            .setcb(
                Some(Box::new(|_: &BufferEvent| panic!("no data may arrive"))),
                None,
                Some(Box::new(move |bev: &BufferEvent, what: BevEvent| {
                    assert_eq!(what, BEV_EVENT_READING | BEV_EVENT_ERROR);
                    *ce.borrow_mut() = bev.take_error().map(|e| e.to_string());
                    bev.free();
                })),
            )
            .unwrap();
        client.enable(EV_READ).unwrap();
        client.write(b"secret\n").unwrap();
        base.dispatch().unwrap();
        let e = client_error.borrow().clone().expect("an error");
        assert!(e.contains("certificate"), "{e}");
        // The server saw the client's alert: an error, no data.
        assert_eq!(
            *server_events.borrow(),
            [BEV_EVENT_READING | BEV_EVENT_ERROR]
        );
    });
}

#[test]
fn openssl_s_client_against_an_accepting_bufferevent() {
    if !have_openssl() {
        eprintln!("openssl not installed: skipped");
        return;
    }
    bounded(|| {
        let certs = Certs::new();
        let (server_role, _) = roles(&certs, "localhost");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let client = tls_certs::s_client_ping(port, certs.ca());
        let (tcp, _) = listener.accept().unwrap();
        let base = EventBase::new().unwrap();
        let server =
            BufferEvent::tls_socket_new(&base, tcp.into(), server_role, BEV_OPT_CLOSE_ON_FREE)
                .unwrap();
        let events = Rc::new(RefCell::new(Vec::new()));
        upper_server(&server, events.clone());
        base.dispatch().unwrap();
        assert_eq!(&client.join().unwrap(), b"PING\n");
        // s_client was killed: no close_notify, reported as an error.
        assert_eq!(
            *events.borrow(),
            [BEV_EVENT_CONNECTED, BEV_EVENT_READING | BEV_EVENT_ERROR]
        );
    });
}

#[test]
fn the_handshake_runs_with_nothing_enabled_and_ends_with_connected() {
    bounded(|| {
        let certs = Certs::new();
        let (server_role, client_role) = roles(&certs, "localhost");
        let base = EventBase::new().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let tcp_client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (tcp_server, _) = listener.accept().unwrap();
        let server = BufferEvent::tls_socket_new(
            &base,
            tcp_server.into(),
            server_role,
            BEV_OPT_CLOSE_ON_FREE,
        )
        .unwrap();
        let client = BufferEvent::tls_socket_new(
            &base,
            tcp_client.into(),
            client_role,
            BEV_OPT_CLOSE_ON_FREE,
        )
        .unwrap();
        let server_events = Rc::new(RefCell::new(Vec::new()));
        upper_server(&server, server_events.clone());
        // libevent's usual client: nothing enabled, nothing written until
        // the event callback says CONNECTED.
        let events = Rc::new(RefCell::new(Vec::new()));
        let got = Rc::new(RefCell::new(None));
        let (e, g) = (events.clone(), got.clone());
        client
            .setcb(
                Some(Box::new(move |bev: &BufferEvent| {
                    let line = bev.input().readln(Eol::Lf).unwrap();
                    if let Some(line) = line {
                        *g.borrow_mut() = Some(String::from_utf8(line).unwrap());
                        bev.flush(EV_WRITE, BEV_FINISHED).unwrap();
                    }
                })),
                None,
                Some(Box::new(move |bev: &BufferEvent, what: BevEvent| {
                    e.borrow_mut().push(what);
                    if what == BEV_EVENT_CONNECTED {
                        bev.write(b"after connected\n").unwrap();
                        bev.enable(EV_READ | EV_WRITE).unwrap();
                    } else {
                        bev.free();
                    }
                })),
            )
            .unwrap();
        client.disable(EV_READ | EV_WRITE).unwrap();
        base.dispatch().unwrap();
        assert_eq!(got.borrow().as_deref(), Some("AFTER CONNECTED"));
        assert_eq!(events.borrow()[0], BEV_EVENT_CONNECTED);
        assert_eq!(
            *server_events.borrow(),
            [BEV_EVENT_CONNECTED, BEV_EVENT_READING | BEV_EVENT_EOF]
        );
    });
}
