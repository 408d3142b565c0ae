//! The libevent book's third ROT13 server — the one with raw `event_new`
//! read and write events per connection (seed 002) — ported to the
//! callback layer, `runtime::compat`, with the flow control a real server
//! needs. Each connection has a persistent read event that reads until
//! `EAGAIN` and ROT13s what it reads into a queue of answers, and a
//! persistent write event, added while answers wait, that writes them and
//! deletes itself once they are out. The listening socket is a plain
//! persistent read event whose callback calls `accept`.
//!
//! ```text
//! cargo run --example compat_rot13_events              # 0.0.0.0:40713, as the seed
//! cargo run --example compat_rot13_events -- --addr 127.0.0.1:0
//! compat_rot13_events: listening on 127.0.0.1:40713 (epoll) pid=12345
//! $ printf 'Hello\n' | nc -q1 127.0.0.1 40713
//! Uryyb
//! ```
//!
//! Flags: `--addr ADDR` (default `0.0.0.0:40713`, every interface, as the
//! seed; port 0 picks a free port), `--method epoll|poll|select`.
//! `SIGINT` or `SIGTERM` stops the server (exit status 0).
//!
//! It answers exactly as the `rot13` example does, and loses nothing:
//! - every line comes back ROT13'd, however many arrive in one write;
//! - a line longer than [`MAX_LINE`] is passed through in pieces: each
//!   `MAX_LINE` bytes without a newline go out ROT13'd, followed by a
//!   newline (the seed's rule, so memory stays bounded whatever the line);
//! - an unfinished last line is dropped at end of stream, and the answers
//!   still queued then are sent before the connection is closed.
//!
//! Flow control, the libevent way: while [`MAX_PENDING`] bytes of answers
//! or more wait for a client that does not read, the connection's read
//! event is deleted (the kernel's buffers then push back on the client);
//! when the write event has drained the queue, the read event is added
//! again. The C seed instead keeps one 16 KiB buffer per connection and
//! drops whatever does not fit.

use runtime::compat::{Event, EventBase, EventConfig, EV_PERSIST, EV_READ, EV_WRITE};
use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::rc::Rc;

/// The longest line kept whole (the seed's `MAX_LINE`).
pub const MAX_LINE: usize = 16384;

/// Answers waiting to be written past which the connection stops reading.
pub const MAX_PENDING: usize = 16384;

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
    /// The line being read, already ROT13'd (shorter than `MAX_LINE`).
    line: Vec<u8>,
    /// Answers to write; `out[n_written..]` is still to go.
    out: Vec<u8>,
    n_written: usize,
    /// The read event is added (it is deleted while `out` is full).
    reading: bool,
    /// The client closed its side: close once the answers are out.
    eof: bool,
    read_event: Option<Event>,
    write_event: Option<Event>,
}

impl FdState {
    fn pending(&self) -> usize {
        self.out.len() - self.n_written
    }

    /// Takes in bytes the client sent: complete lines, and pieces of
    /// `MAX_LINE` bytes of a longer one, join the answers.
    fn take_in(&mut self, bytes: &[u8]) {
        for &c in bytes {
            if c == b'\n' {
                self.end_line();
            } else {
                self.line.push(rot13_char(c));
                if self.line.len() == MAX_LINE {
                    self.end_line();
                }
            }
        }
    }

    fn end_line(&mut self) {
        self.out.extend_from_slice(&self.line);
        self.out.push(b'\n');
        self.line.clear();
    }
}

type State = Rc<RefCell<FdState>>;

/// `alloc_fd_state`: the state and its two events (not added yet). The
/// events' callbacks hold the state; `free_fd_state` breaks that cycle.
fn alloc_fd_state(base: &EventBase, stream: TcpStream) -> io::Result<State> {
    let fd = stream.as_raw_fd();
    let state = Rc::new(RefCell::new(FdState {
        stream,
        line: Vec::with_capacity(MAX_LINE),
        out: Vec::new(),
        n_written: 0,
        reading: false,
        eof: false,
        read_event: None,
        write_event: None,
    }));
    let s = state.clone();
    let read_event = Event::new(base, fd, EV_READ | EV_PERSIST, move |_fd, _| do_read(&s))?;
    let s = state.clone();
    let write_event = match Event::new(base, fd, EV_WRITE | EV_PERSIST, move |_fd, _| do_write(&s))
    {
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

/// Adds or deletes the read event (`event_add`/`event_del`).
fn set_reading(st: &mut FdState, on: bool) {
    if st.reading == on {
        return;
    }
    if let Some(r) = &st.read_event {
        let res = if on { r.add(None) } else { r.del() };
        if let Err(e) = res {
            eprintln!("compat_rot13_events: read event: {e}");
            return;
        }
        st.reading = on;
    }
}

fn do_read(state: &State) {
    let mut buf = [0u8; 4096];
    loop {
        let mut st = state.borrow_mut();
        if st.pending() >= MAX_PENDING {
            // The client is not reading its answers: stop reading until
            // the write event has drained them.
            set_reading(&mut st, false);
            return;
        }
        let result = (&st.stream).read(&mut buf);
        match result {
            Ok(0) => {
                // End of stream: an unfinished last line is dropped, as the
                // rot13 example does; queued answers still go out.
                if st.pending() > 0 {
                    st.eof = true;
                    let r = st.read_event.take();
                    drop(st);
                    if let Some(r) = r {
                        r.free();
                    }
                    return;
                }
                drop(st);
                return free_fd_state(state);
            }
            Ok(n) => {
                st.take_in(&buf[..n]);
                if st.pending() > 0 {
                    if let Some(w) = &st.write_event {
                        if let Err(e) = w.add(None) {
                            eprintln!("compat_rot13_events: event_add: {e}");
                        }
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                if e.kind() != io::ErrorKind::ConnectionReset {
                    eprintln!("compat_rot13_events: recv: {e}");
                }
                drop(st);
                return free_fd_state(state);
            }
        }
    }
}

fn do_write(state: &State) {
    let mut guard = state.borrow_mut();
    let st = &mut *guard;
    while st.n_written < st.out.len() {
        match (&st.stream).write(&st.out[st.n_written..]) {
            Ok(n) => st.n_written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => {
                drop(guard);
                return free_fd_state(state);
            }
        }
    }
    st.out.clear();
    st.n_written = 0;
    if st.eof {
        drop(guard);
        return free_fd_state(state);
    }
    if let Some(w) = &st.write_event {
        let _ = w.del();
    }
    // Drained: read again (a no-op if reading never stopped).
    set_reading(st, true);
}

fn do_accept(base: &EventBase, listener: &TcpListener) {
    match listener.accept() {
        Ok((stream, _peer)) => {
            if let Err(e) = stream.set_nonblocking(true) {
                eprintln!("compat_rot13_events: fcntl: {e}");
                return;
            }
            match alloc_fd_state(base, stream) {
                Ok(state) => set_reading(&mut state.borrow_mut(), true),
                Err(e) => eprintln!("compat_rot13_events: event_new: {e}"),
            }
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        Err(e) => eprintln!("compat_rot13_events: accept: {e}"),
    }
}

const USAGE: &str =
    "usage: compat_rot13_events [--addr 0.0.0.0:40713] [--method epoll|poll|select]";

fn usage(msg: &str) -> ! {
    eprintln!("compat_rot13_events: {msg}\n{USAGE}");
    std::process::exit(2)
}

fn run(addr: SocketAddr, method: Option<String>) -> io::Result<()> {
    let mut config = EventConfig::new();
    if let Some(m) = &method {
        config = config.method(m);
    }
    // The base outlives the events that the accept callback creates: it
    // is shared with the callback through an Rc.
    let base = Rc::new(config.build()?);
    // std sets SO_REUSEADDR on Unix, as the C does by hand.
    let listener = TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let lfd = listener.as_raw_fd();
    let b = Rc::downgrade(&base);
    let listener_event = Event::new(&base, lfd, EV_READ | EV_PERSIST, move |_fd, _| {
        if let Some(base) = b.upgrade() {
            do_accept(&base, &listener);
        }
    })?;
    listener_event.add(None)?;

    // SIGINT and SIGTERM end the loop (the C runs until killed).
    let mut signals = Vec::new();
    for (signum, name) in [(libc::SIGINT, "SIGINT"), (libc::SIGTERM, "SIGTERM")] {
        let h = base.handle();
        let ev = Event::new_signal(&base, signum, move |_sig, _what| {
            eprintln!("compat_rot13_events: {name}: exiting");
            let _ = h.loopbreak();
        })?;
        ev.add(None)?;
        signals.push(ev);
    }
    // The banner last: once it is out, the server serves and stops on
    // SIGINT/SIGTERM.
    println!(
        "compat_rot13_events: listening on {} ({}) pid={}",
        addr,
        base.method()?,
        std::process::id()
    );
    base.dispatch()?;
    Ok(())
}

fn main() -> io::Result<()> {
    let mut addr: SocketAddr = "0.0.0.0:40713".parse().expect("literal address");
    let mut method = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--addr" => {
                let v = it.next().unwrap_or_else(|| usage("--addr needs a value"));
                addr = v
                    .parse()
                    .unwrap_or_else(|_| usage(&format!("--addr: not an address: {v}")));
            }
            "--method" => {
                method = Some(it.next().unwrap_or_else(|| usage("--method needs a value")))
            }
            "-h" | "--help" => {
                println!("compat_rot13_events: the seed's ROT13 server with raw events\n{USAGE}");
                return Ok(());
            }
            other => usage(&format!("unknown flag {other}")),
        }
    }
    run(addr, method)
}
