//! Callback bufferevents (`runtime::compat::BufferEvent`) over real
//! sockets: socketpairs and TCP on 127.0.0.1. Every test runs on its own
//! thread under a watchdog, so a hang fails instead of blocking the run.

#[path = "support/example.rs"]
mod example;
use example::example_bin;
use runtime::compat::{
    BevEvent, BevOptions, BufferEvent, DataCallback, Event, EventBase, EventCallback, EventConfig,
    LoopExit, BEV_EVENT_CONNECTED, BEV_EVENT_EOF, BEV_EVENT_ERROR, BEV_EVENT_READING,
    BEV_EVENT_TIMEOUT, BEV_EVENT_WRITING, BEV_FINISHED, BEV_OPT_CLOSE_ON_FREE, EV_READ, EV_WRITE,
};
use runtime::io::{Buffer, Eol};
use std::cell::{Cell, RefCell};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

#[path = "support/thread.rs"]
mod thread;
use thread::bounded;

fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (c, s)
}

/// Closes `s` with `SO_LINGER` 0: the peer gets a reset.
fn reset(s: TcpStream) {
    let lg = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: `lg` is a live linger struct of the size passed; the socket
    // is open.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&lg as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0);
    drop(s);
}

fn new_bev(base: &EventBase, s: impl Into<OwnedFd>) -> BufferEvent {
    BufferEvent::socket_new(base, Some(s.into()), BEV_OPT_CLOSE_ON_FREE).unwrap()
}

/// A bufferevent (closing on free) on one end of a new socketpair, and the
/// other end.
fn unix_bev(base: &EventBase) -> (BufferEvent, UnixStream) {
    let (mine, peer) = UnixStream::pair().unwrap();
    (new_bev(base, mine), peer)
}

/// A read callback that moves all of the input into the returned bytes.
fn collect_input() -> (Rc<RefCell<Vec<u8>>>, DataCallback) {
    let data = Rc::new(RefCell::new(Vec::new()));
    let d = data.clone();
    let readcb: DataCallback = Box::new(move |bev| {
        let mut input = bev.input();
        d.borrow_mut().extend(input.to_vec().unwrap());
        input.clear().unwrap();
    });
    (data, readcb)
}

/// An event callback that records `what`, runs `check` on the bufferevent,
/// then frees it.
fn record_and_free_with(
    mut check: impl FnMut(&BufferEvent) + 'static,
) -> (Rc<RefCell<Vec<BevEvent>>>, EventCallback) {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    let eventcb: EventCallback = Box::new(move |bev, what| {
        s.borrow_mut().push(what);
        check(bev);
        bev.free();
    });
    (seen, eventcb)
}

/// An event callback that records `what`, then frees the bufferevent.
fn record_and_free() -> (Rc<RefCell<Vec<BevEvent>>>, EventCallback) {
    record_and_free_with(|_| {})
}

/// Sets only an event callback: it records the flags and frees the
/// bufferevent.
fn record_events(bev: &BufferEvent) -> Rc<RefCell<Vec<BevEvent>>> {
    let (seen, eventcb) = record_and_free();
    bev.setcb(None, None, Some(eventcb)).unwrap();
    seen
}

#[test]
fn read_and_write_callbacks() {
    bounded(|| {
        let base = EventBase::new().unwrap();
        let (bev, mut peer) = unix_bev(&base);
        let writes = Rc::new(Cell::new(0));
        let w = writes.clone();
        bev.setcb(
            Some(Box::new(|bev| {
                let mut got = vec![0u8; 64];
                let n = bev.read(&mut got).unwrap();
                assert_eq!(&got[..n], b"ping");
                bev.write(b"pong").unwrap();
            })),
            Some(Box::new(move |bev| {
                // The output has drained (write low watermark 0).
                assert_eq!(bev.output().len(), 0);
                w.set(w.get() + 1);
                bev.free();
            })),
            None,
        )
        .unwrap();
        bev.enable(EV_READ).unwrap();
        assert_eq!(bev.get_enabled(), EV_READ | EV_WRITE);
        peer.write_all(b"ping").unwrap();
        assert_eq!(base.dispatch().unwrap(), LoopExit::NoEvents);
        assert_eq!(writes.get(), 1);
        assert!(bev.is_freed());
        let mut answer = Vec::new();
        peer.read_to_end(&mut answer).unwrap(); // closed on free
        assert_eq!(answer, b"pong");
    });
}

#[test]
fn unannotated_closures_and_buffer_methods() {
    bounded(|| {
        let base = EventBase::new().unwrap();
        let (bev, mut peer) = unix_bev(&base);
        bev.setcb(
            Some(Box::new(|bev| {
                let mut tmp = Buffer::new();
                bev.read_buffer(&mut tmp).unwrap();
                tmp.add(b"!").unwrap();
                bev.write_buffer(&mut tmp).unwrap();
                assert!(tmp.is_empty());
            })),
            None,
            Some(Box::new(|bev, _what| bev.free())),
        )
        .unwrap();
        bev.enable(EV_READ).unwrap();
        peer.write_all(b"hey").unwrap();
        peer.shutdown(Shutdown::Write).unwrap();
        base.dispatch().unwrap();
        let mut answer = String::new();
        peer.read_to_string(&mut answer).unwrap();
        assert_eq!(answer, "hey!");
    });
}

#[test]
fn read_low_watermark_waits_for_enough_bytes() {
    bounded(|| {
        let base = EventBase::new().unwrap();
        let (bev, peer) = unix_bev(&base);
        let seen = Rc::new(RefCell::new(Vec::new()));
        let s = seen.clone();
        bev.setcb(
            Some(Box::new(move |bev| {
                s.borrow_mut().push(bev.input().len());
                bev.free();
            })),
            None,
            None,
        )
        .unwrap();
        bev.setwatermark(EV_READ, 10, 0).unwrap();
        bev.enable(EV_READ).unwrap();
        let peer = Rc::new(peer);
        (&*peer).write_all(b"12345").unwrap();
        // The other half comes 30 ms later, from a timer.
        let p = peer.clone();
        let t = Event::new_timer(&base, move |_, _| (&*p).write_all(b"67890").unwrap()).unwrap();
        t.add(Some(Duration::from_millis(30))).unwrap();
        base.dispatch().unwrap();
        assert_eq!(*seen.borrow(), vec![10]);
    });
}

#[test]
fn read_high_watermark_suspends_and_resumes_reading() {
    bounded(|| {
        let base = EventBase::new().unwrap();
        let (bev, mut peer) = unix_bev(&base);
        let calls = Rc::new(Cell::new(0));
        let c = calls.clone();
        // The read callback consumes nothing: reading stops at 8 bytes.
        bev.setcb(Some(Box::new(move |_bev| c.set(c.get() + 1))), None, None)
            .unwrap();
        bev.setwatermark(EV_READ, 0, 8).unwrap();
        bev.enable(EV_READ).unwrap();
        peer.write_all(&[b'x'; 100]).unwrap();
        // Suspended reading is not a pending event: dispatch returns.
        assert_eq!(base.dispatch().unwrap(), LoopExit::NoEvents);
        assert_eq!(bev.input().len(), 8);
        assert_eq!(calls.get(), 1);
        // Draining the input resumes reading.
        let total = Rc::new(Cell::new(8));
        let (t, c) = (total.clone(), calls.clone());
        bev.setcb(
            Some(Box::new(move |bev| {
                c.set(c.get() + 1);
                let mut input = bev.input();
                assert!(input.len() <= 8, "input over the high watermark");
                t.set(t.get() + input.len());
                let n = input.len();
                input.drain(n).unwrap();
                if t.get() == 100 {
                    drop(input);
                    bev.free();
                }
            })),
            None,
            None,
        )
        .unwrap();
        bev.input().drain(8).unwrap();
        base.dispatch().unwrap();
        assert_eq!(total.get() - 8, 92);
        assert!(calls.get() > 92 / 8);
    });
}

#[test]
fn write_low_watermark() {
    bounded(|| {
        const TOTAL: usize = 4 << 20;
        const LOW: usize = 1 << 20;
        let base = EventBase::new().unwrap();
        let (mine, mut peer) = UnixStream::pair().unwrap();
        let reader = std::thread::spawn(move || {
            let mut n = 0;
            let mut buf = vec![0u8; 65536];
            loop {
                match peer.read(&mut buf).unwrap() {
                    0 => break n,
                    k => n += k,
                }
            }
        });
        let bev = new_bev(&base, mine);
        let seen = Rc::new(RefCell::new(Vec::new()));
        let s = seen.clone();
        bev.setcb(
            None,
            Some(Box::new(move |bev| {
                let left = bev.output().len();
                s.borrow_mut().push(left);
                if left == 0 {
                    bev.free();
                }
            })),
            None,
        )
        .unwrap();
        bev.setwatermark(EV_WRITE, LOW, 0).unwrap();
        bev.write(&vec![7u8; TOTAL]).unwrap();
        base.dispatch().unwrap();
        let seen = seen.borrow();
        assert!(!seen.is_empty());
        assert!(seen.iter().all(|&l| l <= LOW), "{seen:?}");
        assert_eq!(*seen.last().unwrap(), 0);
        assert_eq!(reader.join().unwrap(), TOTAL);
    });
}

#[test]
fn eof_when_the_peer_closes() {
    bounded(|| {
        let base = EventBase::new().unwrap();
        let (bev, mut peer) = unix_bev(&base);
        let (data, readcb) = collect_input();
        let (events, eventcb) = record_and_free_with(|bev| {
            assert!(!bev.get_enabled().contains(EV_READ), "EOF disables reading");
        });
        bev.setcb(Some(readcb), None, Some(eventcb)).unwrap();
        bev.enable(EV_READ).unwrap();
        peer.write_all(b"last bytes").unwrap();
        drop(peer);
        base.dispatch().unwrap();
        assert_eq!(*data.borrow(), b"last bytes");
        assert_eq!(*events.borrow(), vec![BEV_EVENT_READING | BEV_EVENT_EOF]);
    });
}

#[test]
fn error_when_the_peer_resets() {
    bounded(|| {
        let base = EventBase::new().unwrap();
        let (mine, peer) = tcp_pair();
        let bev = new_bev(&base, mine);
        let errors = Rc::new(RefCell::new(Vec::new()));
        let er = errors.clone();
        let (events, eventcb) = record_and_free_with(move |bev| {
            er.borrow_mut().push(bev.take_error().map(|e| e.kind()));
        });
        bev.setcb(None, None, Some(eventcb)).unwrap();
        bev.enable(EV_READ).unwrap();
        reset(peer);
        base.dispatch().unwrap();
        assert_eq!(*events.borrow(), vec![BEV_EVENT_READING | BEV_EVENT_ERROR]);
        assert_eq!(
            *errors.borrow(),
            vec![Some(std::io::ErrorKind::ConnectionReset)]
        );
    });
}

#[test]
fn write_error_after_a_reset() {
    bounded(|| {
        let base = EventBase::new().unwrap();
        let (mine, peer) = tcp_pair();
        let bev = new_bev(&base, mine);
        let events = record_events(&bev);
        reset(peer);
        std::thread::sleep(Duration::from_millis(50)); // the RST arrives
        bev.write(&[1u8; 1000]).unwrap(); // reading is not enabled
        base.dispatch().unwrap();
        assert_eq!(*events.borrow(), vec![BEV_EVENT_WRITING | BEV_EVENT_ERROR]);
    });
}

#[test]
fn connect_refused_is_an_error_event() {
    bounded(|| {
        let base = EventBase::new().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let bev = BufferEvent::connect(&base, addr).unwrap();
        assert!(bev.get_fd() >= 0, "the socket exists at once");
        let got = Rc::new(RefCell::new(Vec::new()));
        let g = got.clone();
        bev.setcb(
            None,
            None,
            Some(Box::new(move |bev, what| {
                g.borrow_mut()
                    .push((what, bev.take_error().map(|e| e.kind()), bev.get_fd()));
                bev.free();
            })),
        )
        .unwrap();
        base.dispatch().unwrap();
        assert_eq!(
            *got.borrow(),
            vec![(
                BEV_EVENT_ERROR,
                Some(std::io::ErrorKind::ConnectionRefused),
                -1
            )]
        );
    });
}

#[test]
fn connected_event_then_queued_bytes_go_out() {
    bounded(|| {
        let base = EventBase::new().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let bev = BufferEvent::socket_new(&base, None, BEV_OPT_CLOSE_ON_FREE).unwrap();
        assert_eq!(bev.get_fd(), -1);
        let events = Rc::new(RefCell::new(Vec::new()));
        let e = events.clone();
        bev.setcb(
            Some(Box::new(|bev| {
                let line = bev.input().readln(Eol::Lf).unwrap();
                if line.as_deref() == Some(&b"pong"[..]) {
                    bev.free();
                }
            })),
            None,
            Some(Box::new(move |_bev, what| e.borrow_mut().push(what))),
        )
        .unwrap();
        bev.socket_connect(listener.local_addr().unwrap()).unwrap();
        assert!(bev.get_fd() >= 0);
        assert!(bev.socket_connect(listener.local_addr().unwrap()).is_err());
        bev.write(b"ping\n").unwrap(); // queued until connected
        bev.enable(EV_READ).unwrap();
        let server = std::thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            (&s).write_all(b"pong\n").unwrap();
            line
        });
        base.dispatch().unwrap();
        assert_eq!(*events.borrow(), vec![BEV_EVENT_CONNECTED]);
        assert_eq!(server.join().unwrap(), "ping\n");
    });
}

#[test]
fn read_timeout_on_an_idle_peer() {
    bounded(|| {
        let base = EventBase::new().unwrap();
        let (bev, _idle) = unix_bev(&base);
        let got = Rc::new(RefCell::new(Vec::new()));
        let g = got.clone();
        bev.setcb(
            None,
            None,
            Some(Box::new(move |bev, what| {
                g.borrow_mut().push((what, bev.get_enabled()));
            })),
        )
        .unwrap();
        bev.set_timeouts(Some(Duration::from_millis(50)), None)
            .unwrap();
        bev.enable(EV_READ).unwrap();
        let start = Instant::now();
        base.dispatch().unwrap();
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(50), "{took:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
        // The timeout disabled reading (writing stays enabled).
        assert_eq!(
            *got.borrow(),
            vec![(BEV_EVENT_READING | BEV_EVENT_TIMEOUT, EV_WRITE)]
        );
        // Enabling again restarts the timeout.
        bev.enable(EV_READ).unwrap();
        base.dispatch().unwrap();
        assert_eq!(got.borrow().len(), 2);
        bev.free();
    });
}

#[test]
fn write_timeout_on_a_peer_that_never_reads() {
    bounded(|| {
        let base = EventBase::new().unwrap();
        let (bev, _stuck) = unix_bev(&base);
        let events = record_events(&bev);
        bev.set_timeouts(None, Some(Duration::from_millis(50)))
            .unwrap();
        bev.write(&vec![0u8; 8 << 20]).unwrap();
        base.dispatch().unwrap();
        assert_eq!(
            *events.borrow(),
            vec![BEV_EVENT_WRITING | BEV_EVENT_TIMEOUT]
        );
    });
}

#[test]
fn free_from_its_own_read_callback() {
    bounded(|| {
        let base = EventBase::new().unwrap();
        let (bev, mut peer) = unix_bev(&base);
        let calls = Rc::new(Cell::new(0));
        let c = calls.clone();
        bev.setcb(
            Some(Box::new(move |bev| {
                c.set(c.get() + 1);
                bev.write(b"bye").unwrap();
                bev.free(); // pending output is dropped, as in libevent
                assert!(bev.is_freed());
                assert!(bev.write(b"more").is_err());
                assert!(bev.enable(EV_READ).is_err());
            })),
            None,
            Some(Box::new(|_, _| panic!("no event after free"))),
        )
        .unwrap();
        bev.enable(EV_READ).unwrap();
        peer.write_all(&[1u8; 1000]).unwrap();
        base.dispatch().unwrap();
        assert_eq!(calls.get(), 1);
        assert_eq!(bev.get_fd(), -1);
        // The socket was closed: the peer reads end of stream (or a reset,
        // when unread bytes were still in the socket), never "bye".
        peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut rest = Vec::new();
        match peer.read_to_end(&mut rest) {
            Ok(_) => assert!(rest.is_empty()),
            Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
        }
        // The base is still usable.
        assert_eq!(base.dispatch().unwrap(), LoopExit::NoEvents);
    });
}

#[test]
fn free_without_close_on_free_leaves_the_socket_open() {
    bounded(|| {
        let base = EventBase::new().unwrap();
        let (mine, mut peer) = UnixStream::pair().unwrap();
        let bev = BufferEvent::socket_new(&base, Some(mine.into()), BevOptions::empty()).unwrap();
        let fd = bev.get_fd();
        bev.free();
        // SAFETY: `fd` was left open by free(); we own it now.
        let s = unsafe { UnixStream::from_raw_fd(fd) };
        s.set_nonblocking(false).unwrap();
        (&s).write_all(b"still open").unwrap();
        let mut buf = [0u8; 10];
        peer.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"still open");
    });
}

#[test]
fn loopbreak_from_a_read_callback() {
    bounded(|| {
        let base = EventBase::new().unwrap();
        let ran = Rc::new(RefCell::new(Vec::new()));
        let mut peers = Vec::new();
        let mut bevs = Vec::new();
        for id in 0..2 {
            let (bev, mut peer) = unix_bev(&base);
            let (r, h) = (ran.clone(), base.handle());
            bev.setcb(
                Some(Box::new(move |bev| {
                    r.borrow_mut().push(id);
                    bev.input().clear().unwrap();
                    h.loopbreak().unwrap();
                })),
                None,
                None,
            )
            .unwrap();
            bev.enable(EV_READ).unwrap();
            peer.write_all(b"x").unwrap();
            peers.push(peer);
            bevs.push(bev);
        }
        // Both are readable in the first iteration; the first callback's
        // loopbreak holds the second one back to the next dispatch.
        assert_eq!(base.dispatch().unwrap(), LoopExit::Done);
        assert!(base.got_break().unwrap());
        assert_eq!(ran.borrow().len(), 1);
        assert_eq!(base.dispatch().unwrap(), LoopExit::Done);
        let mut order = ran.borrow().clone();
        order.sort();
        assert_eq!(order, vec![0, 1]);
        for b in &bevs {
            b.free();
        }
        assert_eq!(base.dispatch().unwrap(), LoopExit::NoEvents);
    });
}

#[test]
fn disable_stops_callbacks() {
    bounded(|| {
        let base = EventBase::new().unwrap();
        let (bev, mut peer) = unix_bev(&base);
        let calls = Rc::new(Cell::new(0));
        let c = calls.clone();
        bev.setcb(
            Some(Box::new(move |bev| {
                c.set(c.get() + 1);
                bev.input().clear().unwrap();
                bev.disable(EV_READ).unwrap();
            })),
            None,
            None,
        )
        .unwrap();
        bev.enable(EV_READ).unwrap();
        peer.write_all(b"one").unwrap();
        assert_eq!(base.dispatch().unwrap(), LoopExit::NoEvents);
        assert_eq!(calls.get(), 1);
        assert_eq!(bev.get_enabled(), EV_WRITE);
        peer.write_all(b"two").unwrap();
        assert_eq!(base.loop_nonblock().unwrap(), LoopExit::NoEvents);
        assert_eq!(calls.get(), 1);
        bev.enable(EV_READ).unwrap();
        base.dispatch().unwrap();
        assert_eq!(calls.get(), 2);
        bev.free();
    });
}

#[test]
fn pair_moves_bytes_and_finish_gives_eof() {
    bounded(|| {
        let base = EventBase::new().unwrap();
        let (a, b) = BufferEvent::pair_new(&base, BevOptions::empty()).unwrap();
        assert_eq!(a.get_fd(), -1);
        assert_eq!(b.pair_partner(), Some(a.clone()));
        let (got, readcb) = collect_input();
        let (events, eventcb) = record_and_free();
        b.setcb(Some(readcb), None, Some(eventcb)).unwrap();
        b.enable(EV_READ).unwrap();
        a.write(b"hello ").unwrap();
        a.write(b"pair").unwrap();
        a.flush(EV_WRITE, BEV_FINISHED).unwrap();
        base.dispatch().unwrap();
        assert_eq!(*got.borrow(), b"hello pair");
        assert_eq!(*events.borrow(), vec![BEV_EVENT_READING | BEV_EVENT_EOF]);
        assert_eq!(a.pair_partner(), None);
        a.free();
    });
}

/// `flush` writes what the socket takes right away, before the loop ever
/// ran the bufferevent's task; readiness then wakes that task (whose waker
/// the flush used), which writes the rest and finishes, so the peer reads
/// all 4 MiB and then end of stream.
#[test]
fn flush_writes_what_the_socket_takes_and_the_loop_the_rest() {
    bounded(|| {
        let base = EventBase::new().unwrap();
        let (bev, mut peer) = unix_bev(&base);
        let data: Vec<u8> = (0..4 << 20).map(|i: u32| (i % 251) as u8).collect();
        bev.write(&data).unwrap();
        assert!(bev.flush(EV_WRITE, BEV_FINISHED).unwrap(), "wrote nothing");
        let left = bev.output().len();
        assert!(left > 0 && left < data.len(), "left {left}");
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            peer.read_to_end(&mut got).unwrap();
            got
        });
        assert_eq!(base.dispatch().unwrap(), LoopExit::NoEvents);
        assert_eq!(bev.output().len(), 0);
        let got = reader.join().unwrap();
        assert!(got == data, "got {} bytes, not the data written", got.len());
        bev.free();
    });
}

#[test]
fn priority_can_change_from_a_callback() {
    bounded(|| {
        let base = EventConfig::new().priorities(3).build().unwrap();
        let (bev, mut peer) = unix_bev(&base);
        let calls = Rc::new(Cell::new(0));
        let c = calls.clone();
        bev.setcb(
            Some(Box::new(move |bev| {
                c.set(c.get() + 1);
                bev.input().clear().unwrap();
                if c.get() == 1 {
                    bev.set_priority(0).unwrap();
                    bev.write(b"again").unwrap();
                } else {
                    bev.free();
                }
            })),
            None,
            None,
        )
        .unwrap();
        bev.enable(EV_READ).unwrap();
        peer.write_all(b"1").unwrap();
        let p = std::thread::spawn(move || {
            let mut buf = [0u8; 5];
            peer.read_exact(&mut buf).unwrap();
            peer.write_all(b"2").unwrap();
            let mut rest = Vec::new();
            peer.read_to_end(&mut rest).unwrap();
        });
        base.dispatch().unwrap();
        assert_eq!(calls.get(), 2);
        assert_eq!(bev.priority(), 0);
        p.join().unwrap();
    });
}

#[test]
fn a_panicking_callback_resumes_in_dispatch() {
    bounded(|| {
        let base = EventBase::new().unwrap();
        let (bev, mut peer) = unix_bev(&base);
        bev.setcb(Some(Box::new(|_| panic!("boom"))), None, None)
            .unwrap();
        bev.enable(EV_READ).unwrap();
        peer.write_all(b"x").unwrap();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| base.dispatch()));
        assert!(r.is_err());
        bev.free();
        assert_eq!(base.dispatch().unwrap(), LoopExit::NoEvents);
    });
}

#[test]
fn dropping_the_base_releases_the_bufferevent() {
    bounded(|| {
        let (mine, mut peer) = UnixStream::pair().unwrap();
        {
            let base = EventBase::new().unwrap();
            let bev = new_bev(&base, mine);
            bev.enable(EV_READ).unwrap();
            drop(bev); // the base keeps it
            assert_eq!(base.loop_nonblock().unwrap(), LoopExit::Done);
        }
        // The base is gone, so is the bufferevent and its socket.
        let mut rest = Vec::new();
        peer.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());

        // A handle that outlives its base: calls fail, nothing panics.
        let (mine, _peer) = UnixStream::pair().unwrap();
        let base = EventBase::new().unwrap();
        let bev = new_bev(&base, mine);
        bev.write(b"queued").unwrap();
        drop(base);
        assert!(bev.write(b"x").is_err());
        assert!(bev.enable(EV_READ).is_err());
        assert!(bev.flush(EV_WRITE, BEV_FINISHED).is_err());
        assert_eq!(bev.input().len(), 0);
        bev.free();
        drop(bev);
    });
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn rot13_example_round_trip() {
    bounded(|| {
        let path = example_bin("compat_rot13_bufferevent");
        let mut child = Command::new(&path)
            .args(["--addr", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let server = Server(child);
        let mut first = String::new();
        BufReader::new(stdout).read_line(&mut first).unwrap();
        // "compat_rot13_bufferevent: listening on 127.0.0.1:PORT (epoll) pid=N"
        let addr: SocketAddr = first
            .split_whitespace()
            .nth(3)
            .unwrap_or_else(|| panic!("unexpected banner {first:?}"))
            .parse()
            .unwrap();

        let conn = TcpStream::connect(addr).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut r = BufReader::new(conn.try_clone().unwrap());
        let mut w = &conn;
        w.write_all(b"Hello, World!\nabc").unwrap();
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert_eq!(line, "Uryyb, Jbeyq!\n");
        // A line split across writes.
        w.write_all(b"XYZ\nsecond line\n").unwrap();
        line.clear();
        r.read_line(&mut line).unwrap();
        assert_eq!(line, "nopKLM\n");
        line.clear();
        r.read_line(&mut line).unwrap();
        assert_eq!(line, "frpbaq yvar\n");
        // The seed's MAX_LINE rule: 16384 bytes without a newline come
        // back ROT13'd, with a newline; the rest waits for its own.
        w.write_all(&[b'a'; 20000]).unwrap();
        let mut big = Vec::new();
        r.read_until(b'\n', &mut big).unwrap();
        assert_eq!(big.len(), 16385);
        assert!(big[..16384].iter().all(|&c| c == b'n'));
        w.write_all(b"\n").unwrap();
        big.clear();
        r.read_until(b'\n', &mut big).unwrap();
        assert_eq!(big.len(), 20000 - 16384 + 1);
        assert!(big[..big.len() - 1].iter().all(|&c| c == b'n'));

        // Several clients at once.
        let clients: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(addr).unwrap()).collect();
        for (i, c) in clients.iter().enumerate() {
            let mut c = c;
            c.write_all(format!("client {i}\n").as_bytes()).unwrap();
        }
        for (i, c) in clients.iter().enumerate() {
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut l = String::new();
            BufReader::new(c).read_line(&mut l).unwrap();
            assert_eq!(l, format!("pyvrag {i}\n"));
        }
        // The server frees a connection at end of stream and keeps serving.
        conn.shutdown(Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
        drop(clients);
        let c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        (&c).write_all(b"n\n").unwrap();
        let mut l = String::new();
        BufReader::new(&c).read_line(&mut l).unwrap();
        assert_eq!(l, "a\n");
        drop(server);
    });
}
