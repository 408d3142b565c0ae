//! The libevent book's third ROT13 server — the one with raw `event_new`
//! read and write events per connection (seed 002) — ported line for line
//! to the callback layer, `runtime::compat`. Each connection has a
//! persistent read event that reads until `EAGAIN` and ROT13s into a line
//! buffer; at each newline it adds the connection's write event, which
//! flushes up to that newline and deletes itself. The listening socket is
//! a plain persistent read event whose callback calls `accept`.
//!
//! ```text
//! cargo run --example compat_rot13_events              # 0.0.0.0:40713, as the seed
//! cargo run --example compat_rot13_events -- --addr 127.0.0.1:4000
//! printf 'Hello\n' | nc -q1 127.0.0.1 40713             # Uryyb
//! ```
//!
//! Differences from the C: buffers are `Vec`s, errors are `Result`s; the
//! seed's reset of the counters to 1 after a full flush (a known typo) is
//! a reset to 0; and when the client half-closes with answers still to
//! send (`printf 'x\n' | nc`), the C frees the connection at once and they
//! are lost, while here the read event is freed and the write event
//! finishes the complete lines before the connection is closed. As in the
//! C, a line longer than 16384 bytes is cut.

use runtime::compat::{Event, EventBase, EV_PERSIST, EV_READ, EV_WRITE};
use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;

const MAX_LINE: usize = 16384;

fn rot13_char(c: u8) -> u8 {
    // Not `is_ascii_alphabetic`: only the 26 ASCII letters, as in the C.
    match c {
        b'a'..=b'm' | b'A'..=b'M' => c + 13,
        b'n'..=b'z' | b'N'..=b'Z' => c - 13,
        _ => c,
    }
}

/// One connection (the C's `struct fd_state`).
struct FdState {
    stream: TcpStream,
    buffer: Vec<u8>,
    n_written: usize,
    write_upto: usize,
    /// The client closed its side: close once the answers are out.
    eof: bool,
    read_event: Option<Event>,
    write_event: Option<Event>,
}

type State = Rc<RefCell<FdState>>;

/// `alloc_fd_state`: the state and its two events (not added yet). The
/// events' callbacks hold the state; `free_fd_state` breaks that cycle.
fn alloc_fd_state(base: &EventBase, stream: TcpStream) -> io::Result<State> {
    let fd = stream.as_raw_fd();
    let state = Rc::new(RefCell::new(FdState {
        stream,
        buffer: Vec::with_capacity(MAX_LINE),
        n_written: 0,
        write_upto: 0,
        eof: false,
        read_event: None,
        write_event: None,
    }));
    let s = state.clone();
    let read_event = Event::new(base, fd, EV_READ | EV_PERSIST, move |fd, _| do_read(&s, fd))?;
    let s = state.clone();
    let write_event = match Event::new(base, fd, EV_WRITE | EV_PERSIST, move |fd, _| {
        do_write(&s, fd)
    }) {
        Ok(ev) => ev,
        Err(e) => {
            read_event.free(); // read_event is also useless
            return Err(e);
        }
    };
    {
        let mut st = state.borrow_mut();
        st.read_event = Some(read_event);
        st.write_event = Some(write_event);
    }
    Ok(state)
}

/// `free_fd_state`: frees both events; the state (and the socket) goes
/// with the last callback holding it.
fn free_fd_state(state: &State) {
    let (r, w) = {
        let mut st = state.borrow_mut();
        (st.read_event.take(), st.write_event.take())
    };
    if let Some(ev) = r {
        ev.free();
    }
    if let Some(ev) = w {
        ev.free();
    }
}

fn do_read(state: &State, _fd: RawFd) {
    let mut buf = [0u8; 1024];
    loop {
        let result = {
            let st = state.borrow();
            (&st.stream).read(&mut buf)
        };
        match result {
            Ok(0) => {
                let mut st = state.borrow_mut();
                if st.n_written < st.write_upto {
                    // Answers still to send: stop reading, let the write
                    // event finish and close.
                    st.eof = true;
                    let r = st.read_event.take();
                    drop(st);
                    if let Some(r) = r {
                        r.free();
                    }
                    return;
                }
                drop(st);
                break free_fd_state(state);
            }
            Ok(n) => {
                let mut st = state.borrow_mut();
                for &c in &buf[..n] {
                    if st.buffer.len() < MAX_LINE {
                        st.buffer.push(rot13_char(c));
                    }
                    if c == b'\n' {
                        if let Some(w) = &st.write_event {
                            if let Err(e) = w.add(None) {
                                eprintln!("event_add: {e}");
                            }
                        }
                        st.write_upto = st.buffer.len();
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                eprintln!("recv: {e}");
                break free_fd_state(state);
            }
        }
    }
}

fn do_write(state: &State, _fd: RawFd) {
    let mut guard = state.borrow_mut();
    let st = &mut *guard;
    while st.n_written < st.write_upto {
        match (&st.stream).write(&st.buffer[st.n_written..st.write_upto]) {
            Ok(n) => st.n_written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => {
                drop(guard);
                return free_fd_state(state);
            }
        }
    }
    if st.eof {
        drop(guard);
        return free_fd_state(state);
    }
    if st.n_written == st.buffer.len() {
        st.n_written = 0;
        st.write_upto = 0;
        st.buffer.clear();
    }
    if let Some(w) = &st.write_event {
        let _ = w.del();
    }
}

fn do_accept(base: &EventBase, listener: &TcpListener) {
    match listener.accept() {
        Ok((stream, _peer)) => {
            if let Err(e) = stream.set_nonblocking(true) {
                eprintln!("fcntl: {e}");
                return;
            }
            match alloc_fd_state(base, stream) {
                Ok(state) => {
                    let st = state.borrow();
                    if let Some(r) = &st.read_event {
                        if let Err(e) = r.add(None) {
                            eprintln!("event_add: {e}");
                        }
                    }
                }
                Err(e) => eprintln!("event_new: {e}"),
            }
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        Err(e) => eprintln!("accept: {e}"),
    }
}

fn parse_addr() -> SocketAddr {
    let mut addr: SocketAddr = "0.0.0.0:40713".parse().expect("valid default");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--addr" => {
                let v = args.next().unwrap_or_else(|| {
                    eprintln!("--addr needs a value (host:port)");
                    std::process::exit(2)
                });
                addr = v.parse().unwrap_or_else(|e| {
                    eprintln!("--addr {v}: {e}");
                    std::process::exit(2)
                });
            }
            other => {
                eprintln!("unknown flag {other}\nusage: compat_rot13_events [--addr host:port]");
                std::process::exit(2)
            }
        }
    }
    addr
}

fn main() -> io::Result<()> {
    let addr = parse_addr();
    // The base outlives the events that the accept callback creates: it
    // is shared with the callback through an Rc.
    let base = Rc::new(EventBase::new()?);
    // std sets SO_REUSEADDR on Unix, as the C does by hand.
    let listener = TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    eprintln!(
        "compat_rot13_events: listening on {} ({})",
        listener.local_addr()?,
        base.method()?
    );
    let lfd = listener.as_raw_fd();
    let b = Rc::downgrade(&base);
    let listener_event = Event::new(&base, lfd, EV_READ | EV_PERSIST, move |_fd, _| {
        if let Some(base) = b.upgrade() {
            do_accept(&base, &listener);
        }
    })?;
    listener_event.add(None)?;
    base.dispatch()?;
    Ok(())
}
