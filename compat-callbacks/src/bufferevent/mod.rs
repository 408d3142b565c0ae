//! [`BufferEvent`]: libevent's callback bufferevents
//! (`bufferevent_socket_new`, `bufferevent_socket_connect`,
//! `bufferevent_pair_new`), built on `runtime_io`'s
//! [`BufferedStream`](runtime_io::BufferedStream).
//!
//! A `BufferedStream` does nothing by itself: bytes move while one of its
//! poll methods runs. A callback bufferevent is a `BufferedStream` plus a
//! task of the base's executor that drives it the way libevent's event
//! loop drives a bufferevent: while reading is enabled (and the input is
//! under the read high watermark) it reads, one read of at most 16 KiB per
//! loop iteration, and calls the read callback when the input holds at
//! least the read low watermark; while writing is enabled and the output
//! holds data it writes (one `writev` over the output's chunks per system
//! call) and calls the write callback when the output has drained to the
//! write low watermark; end of stream, errors, timeouts and connections
//! go to the event callback with libevent's `BEV_EVENT_*` flags.
//!
//! The input and output [`Buffer`]s are the stream's own: they are lent to
//! the user between I/O calls ([`BufferEvent::input`],
//! [`BufferEvent::output`]) and handed back to the stream for each read or
//! write, so there is one buffer implementation and no copy between them.
//!
//! Here: the bufferevent and its API; in `conn.rs` what it runs over and
//! how a connect or a TLS handshake completes; in `filter.rs` a TLS
//! filter's link to its underlying bufferevent; in `drive.rs` the task's
//! state machine. Its
//! options and `BEV_EVENT_*` flags are in `flags.rs` with the others.
//!
//! | libevent | here |
//! |---|---|
//! | `bufferevent_socket_new(base, fd, opts)` | [`BufferEvent::socket_new`] |
//! | `bufferevent_socket_connect(bev, sa, len)` | [`BufferEvent::socket_connect`], [`BufferEvent::connect`] |
//! | `bufferevent_pair_new`, `bufferevent_pair_get_partner` | [`BufferEvent::pair_new`], [`BufferEvent::pair_partner`] |
//! | `bufferevent_setcb(bev, readcb, writecb, eventcb, arg)` | [`BufferEvent::setcb`] |
//! | `bufferevent_enable/disable/get_enabled` | [`BufferEvent::enable`], [`BufferEvent::disable`], [`BufferEvent::get_enabled`] |
//! | `bufferevent_setwatermark/getwatermark` | [`BufferEvent::setwatermark`], [`BufferEvent::getwatermark`] |
//! | `bufferevent_set_timeouts` | [`BufferEvent::set_timeouts`] |
//! | `bufferevent_get_input/get_output` | [`BufferEvent::input`], [`BufferEvent::output`] |
//! | `bufferevent_write/write_buffer/read/read_buffer` | [`BufferEvent::write`], [`BufferEvent::write_buffer`], [`BufferEvent::read`], [`BufferEvent::read_buffer`] |
//! | `bufferevent_flush(bev, iotype, mode)` | [`BufferEvent::flush`] |
//! | `bufferevent_openssl_socket_new(base, fd, ssl, state, opts)` | [`BufferEvent::tls_socket_new`] with a [`TlsRole`] |
//! | `bufferevent_openssl_filter_new(base, underlying, ssl, state, opts)` | [`BufferEvent::tls_filter_new`] with a [`TlsRole`] |
//! | `bufferevent_get_underlying` | [`BufferEvent::underlying`] |
//! | `bufferevent_free`, `bufferevent_getfd`, `bufferevent_priority_set` | [`BufferEvent::free`], [`BufferEvent::get_fd`], [`BufferEvent::set_priority`] |

mod conn;
mod drive;
mod filter;

use crate::base::base_state;
use crate::base::{BaseHandle, BaseInner};
use crate::event::gone;
use crate::flags::*;
use crate::log::{log_error, log_warn};
use crate::owned::Owned;
use crate::state::Status;
use crate::task::TaskSlot;
use conn::{Conn, ConnectFail, Connecting};
use runtime_io::{Buffer, BufferedStream, FlushMode, PairEnd, Transport};
use runtime_net::{StreamSocket, TcpConnecting, TcpStream, UnixStream};
use runtime_reactor::time::{sleep_until, Sleep};
use std::cell::{Cell, RefCell, RefMut};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd, RawFd};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The bits of the `Status` of this file's type.
mod bev_state {
    /// Has a stream (a connected socket or a pair end).
    pub(super) const HAS_STREAM: u16 = 1 << 0;
    /// `BEV_FINISHED` was asked for: shut the write side down once the
    /// output is out.
    pub(super) const FINISH: u16 = 1 << 1;
    /// Counted among the base's pending events.
    pub(super) const COUNTED: u16 = 1 << 2;
    /// The task is running (its callbacks included).
    pub(super) const IN_TASK: u16 = 1 << 3;
    /// Something changed during the task's poll: look again.
    pub(super) const DIRTY: u16 = 1 << 4;
    /// The warning about a buffer guard held across the loop was logged.
    pub(super) const WARNED_BUSY: u16 = 1 << 5;
    /// Freed (`bufferevent_free`): calls fail, the task ends.
    pub(super) const FREED: u16 = 1 << 6;
    /// A TLS handshake is in progress: reads and writes wait for it, the
    /// task drives it whatever is enabled.
    pub(super) const HANDSHAKING: u16 = 1 << 7;
    /// The underlying bufferevent of a live TLS filter.
    pub(super) const UNDER_FILTER: u16 = 1 << 8;
}

/// `BEV_NORMAL` for [`BufferEvent::flush`]: write what is convenient.
pub const BEV_NORMAL: FlushMode = FlushMode::Normal;
/// `BEV_FLUSH` for [`BufferEvent::flush`]: write everything there is now.
pub const BEV_FLUSH: FlushMode = FlushMode::Flush;
/// `BEV_FINISHED` for [`BufferEvent::flush`]: write everything, then shut
/// the write direction down (the peer reads end of stream).
pub const BEV_FINISHED: FlushMode = FlushMode::Finished;

/// A read or write callback: gets the bufferevent.
pub type DataCallback = Box<dyn FnMut(&BufferEvent)>;

/// An event callback: gets the bufferevent and what happened
/// (`BEV_EVENT_*` flags, always with the direction: `READING | EOF`,
/// `WRITING | ERROR` …; `CONNECTED` and a failed connect's `ERROR` alone).
pub type EventCallback = Box<dyn FnMut(&BufferEvent, BevEvent)>;

/// Which handshake a TLS bufferevent runs
/// ([`BufferEvent::tls_socket_new`]; libevent's `BUFFEREVENT_SSL_*` state).
#[derive(Clone, Debug)]
pub enum TlsRole {
    /// The server side (`BUFFEREVENT_SSL_ACCEPTING`).
    Accepting(runtime_tls::TlsAcceptor),
    /// The client side (`BUFFEREVENT_SSL_CONNECTING`): the name is sent
    /// by SNI and checked against the server's certificate.
    Connecting {
        /// The client configuration.
        connector: runtime_tls::TlsConnector,
        /// The server's name.
        server_name: String,
    },
}

/// Loop passes per task poll: a callback that writes gets its bytes sent
/// in the same iteration.
const MAX_PASSES: usize = 4;

fn freed() -> io::Error {
    io::Error::other("the bufferevent has been freed")
}

fn busy(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::ResourceBusy,
        format!(
            "the bufferevent's {what} buffer is borrowed (a guard from input()/output() is alive)"
        ),
    )
}

/// The expiry of one of the stream's idle timeouts (a socket's own
/// `ETIMEDOUT` has an OS error code).
fn is_idle_timeout(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::TimedOut && e.raw_os_error().is_none()
}

#[derive(Clone, Copy, Default, Debug)]
struct Marks {
    read_low: usize,
    read_high: usize,
    write_low: usize,
    write_high: usize,
}

/// A callback due, waiting for its turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Read,
    Write,
    Event(BevEvent),
}

pub(crate) struct BevInner {
    /// The yes/no states, bits of this file's state module.
    pub(crate) status: Status,
    base: Weak<BaseInner>,
    options: BevOptions,
    is_pair: bool,
    stream: RefCell<Option<BufferedStream<Conn>>>,
    /// The stream's buffers, lent out between I/O calls.
    input: RefCell<Buffer>,
    output: RefCell<Buffer>,
    fd: Cell<RawFd>,
    connecting: RefCell<Option<Connecting>>,
    enabled: Cell<EventFlags>,
    marks: Cell<Marks>,
    timeouts: Cell<(Option<Duration>, Option<Duration>)>,
    max_read: Cell<usize>,
    max_write: Cell<usize>,
    readcb: Cell<Option<DataCallback>>,
    writecb: Cell<Option<DataCallback>>,
    eventcb: Cell<Option<EventCallback>>,
    /// Bumped when the matching callback is replaced (so a callback that
    /// replaces itself is not put back).
    cb_gen: [Cell<u64>; 3],
    actions: RefCell<VecDeque<Action>>,
    error: RefCell<Option<io::Error>>,
    partner: RefCell<Weak<BevInner>>,
    priority: Cell<usize>,
    /// A TLS filter's underlying bufferevent, released by `free`.
    underlying: RefCell<Option<filter::Hold>>,
    task: TaskSlot,
}

impl Owned for BevInner {
    fn release(self: Rc<Self>) {
        self.free();
    }
}

/// The bufferevent's task. It holds the bufferevent strongly: like
/// libevent's, a bufferevent lives until freed (or until its base goes),
/// whether or not the user keeps a handle.
struct BevTask {
    bev: Rc<BevInner>,
}

impl Future for BevTask {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let bev = &self.bev;
        if bev.status.has(bev_state::FREED) {
            return Poll::Ready(());
        }
        let Some(base) = bev.base.upgrade() else {
            return Poll::Ready(());
        };
        if base.status.has(base_state::CLOSING) {
            return Poll::Ready(());
        }
        bev.run(&base, cx)
    }
}

impl BevInner {
    fn create(
        b: &Rc<BaseInner>,
        options: BevOptions,
        conn: Option<Conn>,
        fd: RawFd,
        is_pair: bool,
    ) -> io::Result<Rc<BevInner>> {
        let prio = b.default_priority.get();
        let inner = Rc::new(BevInner {
            status: Status::new(0),
            base: Rc::downgrade(b),
            options,
            is_pair,
            stream: RefCell::new(None),
            input: RefCell::new(Buffer::new()),
            output: RefCell::new(Buffer::new()),
            fd: Cell::new(fd),
            connecting: RefCell::new(None),
            // libevent: a new bufferevent has writing enabled, not reading.
            enabled: Cell::new(EV_WRITE),
            marks: Cell::new(Marks::default()),
            timeouts: Cell::new((None, None)),
            max_read: Cell::new(0),
            max_write: Cell::new(0),
            readcb: Cell::new(None),
            writecb: Cell::new(None),
            eventcb: Cell::new(None),
            cb_gen: [Cell::new(0), Cell::new(0), Cell::new(0)],
            actions: RefCell::new(VecDeque::new()),
            error: RefCell::new(None),
            partner: RefCell::new(Weak::new()),
            priority: Cell::new(prio),
            underlying: RefCell::new(None),
            task: TaskSlot::new(),
        });
        if let Some(c) = conn {
            inner.install(c);
        }
        let weak: Weak<dyn Owned> = Rc::downgrade(&inner) as Weak<dyn Owned>;
        b.state.borrow_mut().owned.register(weak);
        inner.task.spawn(b, prio, BevTask { bev: inner.clone() })?;
        // The task lives on the current runtime: the priority count is
        // fixed from now on.
        b.status.set(base_state::EVER_ADDED, true);
        inner.sync_count(b);
        Ok(inner)
    }

    fn base(&self) -> io::Result<Rc<BaseInner>> {
        if self.status.has(bev_state::FREED) {
            return Err(freed());
        }
        let b = self.base.upgrade().ok_or_else(gone)?;
        if b.status.has(base_state::CLOSING) {
            return Err(gone());
        }
        Ok(b)
    }

    /// Applies the settings to a new stream and makes it the bufferevent's.
    fn install(&self, conn: Conn) {
        self.status
            .set(bev_state::HANDSHAKING, conn.is_handshaking());
        let mut s = BufferedStream::new(conn);
        self.configure(&mut s);
        *self.stream.borrow_mut() = Some(s);
        self.status.set(bev_state::HAS_STREAM, true);
    }

    fn configure(&self, s: &mut BufferedStream<Conn>) {
        let m = self.marks.get();
        // The stream's write low watermark stays 0: it writes everything;
        // ours only decides when the write callback runs.
        s.set_read_watermarks(m.read_low, m.read_high);
        let (r, w) = self.timeouts.get();
        s.set_timeouts(r, w);
        s.set_max_single_read(self.max_read.get());
        s.set_max_single_write(self.max_write.get());
    }

    /// Runs `f` on the stream with the bufferevent's buffers in it. `None`
    /// when there is no stream, or when a guard from `input()`/`output()`
    /// is alive (the task then waits for the guard's drop to wake it).
    fn with_stream<R>(&self, f: impl FnOnce(&mut BufferedStream<Conn>) -> R) -> Option<R> {
        let mut guard = self.stream.try_borrow_mut().ok()?;
        let s = guard.as_mut()?;
        let (Ok(mut input), Ok(mut output)) =
            (self.input.try_borrow_mut(), self.output.try_borrow_mut())
        else {
            if !self.status.replace(bev_state::WARNED_BUSY, true) {
                log_warn!(
                    "bufferevent on fd {}: a buffer guard is held while the loop runs; \
                     I/O waits until it is dropped",
                    self.fd.get()
                );
            }
            return None;
        };
        std::mem::swap(s.input_mut(), &mut *input);
        std::mem::swap(s.output_mut(), &mut *output);
        let r = f(s);
        std::mem::swap(s.input_mut(), &mut *input);
        std::mem::swap(s.output_mut(), &mut *output);
        Some(r)
    }

    fn input_len(&self) -> usize {
        self.input.try_borrow().map(|b| b.len()).unwrap_or(0)
    }

    fn output_len(&self) -> usize {
        self.output.try_borrow().map(|b| b.len()).unwrap_or(0)
    }

    fn read_suspended(&self) -> bool {
        let high = self.marks.get().read_high;
        high > 0 && self.input_len() >= high
    }

    fn reading_wanted(&self) -> bool {
        !self.status.has(bev_state::FREED)
            && self.status.has(bev_state::HAS_STREAM)
            && !self.status.has(bev_state::HANDSHAKING)
            && self.enabled.get().contains(EV_READ)
            && !self.read_suspended()
    }

    fn writing_wanted(&self) -> bool {
        if self.status.has(bev_state::FREED)
            || !self.status.has(bev_state::HAS_STREAM)
            || self.status.has(bev_state::HANDSHAKING)
        {
            return false;
        }
        let closed = self
            .stream
            .try_borrow()
            .map(|s| s.as_ref().is_some_and(|s| s.is_write_closed()))
            .unwrap_or(false);
        if closed {
            return false;
        }
        self.status.has(bev_state::FINISH)
            || (self.enabled.get().contains(EV_WRITE) && self.output_len() > 0)
    }

    fn is_connecting(&self) -> bool {
        self.connecting
            .try_borrow()
            .map(|c| c.is_some())
            .unwrap_or(true)
    }

    /// Whether the bufferevent counts as a pending event of the base (the
    /// loop keeps running for it), as libevent's read and write events
    /// are pending while enabled and not suspended.
    fn wants_loop(&self) -> bool {
        !self.status.has(bev_state::FREED)
            && (self.is_connecting()
                || self.status.has(bev_state::HANDSHAKING)
                || self.reading_wanted()
                || self.writing_wanted()
                || !self.actions.borrow().is_empty())
    }

    fn sync_count(&self, base: &BaseInner) {
        let want = self.wants_loop();
        if want != self.status.replace(bev_state::COUNTED, want) {
            let n = base.listeners_enabled.get();
            base.listeners_enabled
                .set(if want { n + 1 } else { n.saturating_sub(1) });
        }
    }

    fn wake_task(&self) {
        self.task.wake();
    }

    /// The user changed something: the task looks again.
    fn touched(&self) {
        self.status.set(bev_state::DIRTY, true);
        if let Some(b) = self.base.upgrade() {
            if !b.status.has(base_state::CLOSING) {
                self.sync_count(&b);
            }
        }
        if !self.status.has(bev_state::IN_TASK) {
            self.wake_task();
        }
    }

    fn queue(&self, a: Action) {
        let mut q = self.actions.borrow_mut();
        if matches!(a, Action::Read | Action::Write) && q.contains(&a) {
            return;
        }
        q.push_back(a);
    }

    fn disable_bits(&self, what: EventFlags) {
        self.enabled.set(self.enabled.get().without(what));
    }

    /// Restarts the idle timeouts (enable and set_timeouts do, as in
    /// libevent).
    fn reset_timeouts(&self) {
        if let Ok(mut s) = self.stream.try_borrow_mut() {
            if let Some(s) = s.as_mut() {
                let (r, w) = self.timeouts.get();
                s.set_timeouts(r, w);
            }
        }
    }

    fn free(&self) {
        if self.status.replace(bev_state::FREED, true) {
            return;
        }
        if self.status.replace(bev_state::COUNTED, false) {
            if let Some(b) = self
                .base
                .upgrade()
                .filter(|b| !b.status.has(base_state::CLOSING))
            {
                b.listeners_enabled
                    .set(b.listeners_enabled.get().saturating_sub(1));
            }
        }
        let close = self.options.contains(BEV_OPT_CLOSE_ON_FREE);
        let stream = self.stream.try_borrow_mut().ok().and_then(|mut s| s.take());
        self.status.set(bev_state::HAS_STREAM, false);
        if let Some(s) = stream {
            let (conn, _input, _output) = s.into_parts();
            conn.release(close);
        }
        let underlying = self.underlying.borrow_mut().take();
        if let Some(u) = underlying {
            u.release(close);
        }
        let connecting = self
            .connecting
            .try_borrow_mut()
            .ok()
            .and_then(|mut c| c.take());
        if let Some(c) = connecting {
            if !close {
                // Deregistered, left open for its owner.
                let _ = c.conn.into_fd().map(IntoRawFd::into_raw_fd);
            }
        }
        self.fd.set(-1);
        // Bytes still buffered are dropped, as libevent's bufferevent_free
        // does (unless a guard holds a buffer right now).
        if let Ok(mut b) = self.input.try_borrow_mut() {
            let _ = b.clear();
        }
        if let Ok(mut b) = self.output.try_borrow_mut() {
            let _ = b.clear();
        }
        self.actions.borrow_mut().clear();
        let partner = self.partner.replace(Weak::new());
        if let Some(p) = partner.upgrade() {
            p.partner.replace(Weak::new());
        }
        self.task.abort();
        // User destructors last, with nothing borrowed.
        let cbs = (self.readcb.take(), self.writecb.take(), self.eventcb.take());
        drop(cbs);
    }
}

/// A [`Buffer`] of a [`BufferEvent`], borrowed: dereferences to the
/// buffer (`readln`, `add`, `drain`, `remove`, `search`, `write!` …).
/// When dropped, the bufferevent looks at the buffer again: data added to
/// the output is written, input drained below the read high watermark
/// resumes reading.
///
/// The input and output guards are independent (hold both at once, as
/// libevent's `evbuffer`s are); while one is alive, the bufferevent's
/// I/O on that buffer waits, so drop guards before returning to the loop.
pub struct BufferGuard<'a> {
    buf: Option<RefMut<'a, Buffer>>,
    bev: &'a BevInner,
}

impl Deref for BufferGuard<'_> {
    type Target = Buffer;
    fn deref(&self) -> &Buffer {
        self.buf.as_deref().expect("a live guard holds its buffer")
    }
}

impl DerefMut for BufferGuard<'_> {
    fn deref_mut(&mut self) -> &mut Buffer {
        self.buf
            .as_deref_mut()
            .expect("a live guard holds its buffer")
    }
}

impl Drop for BufferGuard<'_> {
    fn drop(&mut self) {
        drop(self.buf.take());
        self.bev.touched();
    }
}

impl fmt::Debug for BufferGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.buf.as_deref() {
            Some(b) => b.fmt(f),
            None => f.write_str("BufferGuard(released)"),
        }
    }
}

/// A callback bufferevent: libevent's `struct bufferevent` — a socket (or
/// one end of an in-memory pair) with an input and an output [`Buffer`],
/// driven by the base's loop, which calls back when data has arrived, when
/// the output has drained, and on end of stream, errors, timeouts and
/// connections. Underneath it is a
/// [`BufferedStream`](runtime_io::BufferedStream) and a task of the base's
/// executor.
///
/// Semantics follow libevent's:
/// - a new bufferevent has writing enabled and reading disabled;
///   [`enable`](BufferEvent::enable)`(EV_READ)` starts reading;
/// - each loop iteration reads at most once (16 KiB by default, never past
///   the read high watermark); the read callback runs when the input holds
///   at least the read low watermark; reading pauses while the input holds
///   the read high watermark or more, and resumes when it is drained;
/// - the output is written while writing is enabled; the write callback
///   runs after a write that left at most the write low watermark (0: the
///   output is empty);
/// - end of stream: event callback with `READING | EOF`; a read error:
///   `READING | ERROR`; a write error: `WRITING | ERROR`; an idle timeout:
///   `READING | TIMEOUT` or `WRITING | TIMEOUT`. Each disables its
///   direction (enable it again to retry). The error itself is in
///   [`take_error`](BufferEvent::take_error);
/// - callbacks run on the loop's thread, at most a few per iteration, in
///   the bufferevent's task, which has the bufferevent's
///   [priority](BufferEvent::set_priority) and is scheduled as events'
///   tasks are: one priority level per iteration (while more urgent tasks
///   are ready, this one's reads, writes and callbacks wait for the next
///   iteration) and the
///   [`max_dispatch_interval`](crate::EventConfig::max_dispatch_interval)
///   limits, which count one pass of reads, writes and callbacks as one.
///   After a callback that called `loopbreak`/`loopcontinue` the others
///   due stay due, in order, for the next iteration. Callbacks may call
///   anything on the bufferevent or the base: write, disable, free it
///   (from its own callback too), stop the loop;
/// - a bufferevent lives until [`free`](BufferEvent::free) (or until the
///   base is dropped), with or without handles, as in libevent; while it
///   reads, writes or connects it counts as a pending event, so
///   `dispatch` keeps running.
///
/// ```
/// use runtime::compat::{BevEvent, BufferEvent, EventBase, BEV_EVENT_EOF, BEV_OPT_CLOSE_ON_FREE, EV_READ};
/// use runtime::io::Eol;
/// use std::io::{Read, Write};
///
/// let base = EventBase::new().unwrap();
/// let (mine, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
/// let bev = BufferEvent::socket_new(&base, Some(mine.into()), BEV_OPT_CLOSE_ON_FREE).unwrap();
/// bev.setcb(
///     // An echo of each line, in upper case.
///     Some(Box::new(|bev: &BufferEvent| {
///         let mut input = bev.input();
///         let mut output = bev.output();
///         while let Ok(Some(line)) = input.readln(Eol::Lf) {
///             output.add(&line.to_ascii_uppercase()).unwrap();
///             output.add(b"\n").unwrap();
///         }
///     })),
///     None,
///     Some(Box::new(|bev: &BufferEvent, what: BevEvent| {
///         assert!(what.contains(BEV_EVENT_EOF));
///         bev.free(); // the peer is gone
///     })),
/// )
/// .unwrap();
/// bev.enable(EV_READ).unwrap();
/// peer.write_all(b"hello\nworld\n").unwrap();
/// peer.shutdown(std::net::Shutdown::Write).unwrap();
/// base.dispatch().unwrap(); // until the bufferevent is freed
/// let mut answer = String::new();
/// peer.read_to_string(&mut answer).unwrap();
/// assert_eq!(answer, "HELLO\nWORLD\n");
/// ```
#[derive(Clone)]
pub struct BufferEvent {
    inner: Rc<BevInner>,
}

impl PartialEq for BufferEvent {
    fn eq(&self, other: &BufferEvent) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for BufferEvent {}

impl fmt::Debug for BufferEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("BufferEvent")
            .field("fd", &i.fd.get())
            .field("enabled", &i.enabled.get())
            .field("input", &i.input_len())
            .field("output", &i.output_len())
            .field("connecting", &i.is_connecting())
            .field("freed", &i.status.has(bev_state::FREED))
            .finish()
    }
}

impl BufferEvent {
    /// A bufferevent over a stream socket (`bufferevent_socket_new`): a
    /// connected TCP or Unix socket (`Some(stream.into())`; made
    /// non-blocking here), or `None` for one to connect later with
    /// [`socket_connect`](BufferEvent::socket_connect). With
    /// [`BEV_OPT_CLOSE_ON_FREE`] the socket is closed by
    /// [`free`](BufferEvent::free); without it, it is left open (its
    /// owner closes the descriptor, [`get_fd`](BufferEvent::get_fd)).
    ///
    /// Errors: a descriptor that is not a stream socket (a pipe, a file, a
    /// UDP socket), a descriptor the backend cannot watch, a freed base.
    ///
    /// ```
    /// use runtime::compat::{BufferEvent, EventBase, BEV_OPT_CLOSE_ON_FREE, EV_WRITE};
    /// let base = EventBase::new().unwrap();
    /// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// let bev = BufferEvent::socket_new(&base, Some(a.into()), BEV_OPT_CLOSE_ON_FREE).unwrap();
    /// assert!(bev.get_fd() >= 0);
    /// assert_eq!(bev.get_enabled(), EV_WRITE); // as in libevent
    /// let file = std::fs::File::open("/dev/null").unwrap();
    /// assert!(BufferEvent::socket_new(&base, Some(file.into()), BEV_OPT_CLOSE_ON_FREE).is_err());
    /// ```
    pub fn socket_new(
        base: &BaseHandle,
        fd: Option<OwnedFd>,
        options: BevOptions,
    ) -> io::Result<BufferEvent> {
        let b = base.inner()?;
        let (conn, raw) = match fd {
            None => (None, -1),
            Some(fd) => {
                let raw = fd.as_raw_fd();
                let conn = {
                    let rt = b.rt.borrow();
                    let _enter = rt.reactor().enter();
                    Conn::from_fd(fd)
                };
                let conn = conn.inspect_err(|e| log_warn!("bufferevent_socket_new: {e}"))?;
                (Some(conn), raw)
            }
        };
        let inner = BevInner::create(&b, options, conn, raw, false)?;
        Ok(BufferEvent { inner })
    }

    /// A bufferevent over a connected stream socket under TLS
    /// (`bufferevent_openssl_socket_new` with
    /// `BUFFEREVENT_SSL_ACCEPTING` or `_CONNECTING`): the handshake of
    /// `role` starts with the loop, whatever is enabled, under the
    /// acceptor's or connector's handshake timeout; bytes written before
    /// it ends wait for it. When it is done the event callback gets
    /// `BEV_EVENT_CONNECTED`, as libevent's does, and the callbacks see
    /// plaintext. A failed handshake (bad certificate, garbage, a peer
    /// gone) is `READING | ERROR` with the error in
    /// [`take_error`](BufferEvent::take_error), the handshake timeout
    /// `READING | TIMEOUT`; both disable reading and writing. A peer
    /// closing without `close_notify` is an error too unless the acceptor
    /// or connector allows dirty shutdowns (then `BEV_EVENT_EOF`).
    /// A flush with [`BEV_FINISHED`] sends `close_notify`; `free` drops
    /// the session without it.
    pub fn tls_socket_new(
        base: &BaseHandle,
        fd: OwnedFd,
        role: TlsRole,
        options: BevOptions,
    ) -> io::Result<BufferEvent> {
        let b = base.inner()?;
        let raw = fd.as_raw_fd();
        let sock = {
            let rt = b.rt.borrow();
            let _enter = rt.reactor().enter();
            StreamSocket::from_fd(fd)
        }
        .inspect_err(|e| log_warn!("bufferevent_openssl_socket_new: {e}"))?;
        let sock = match sock {
            StreamSocket::Tcp(s) => conn::Sock::Tcp(s),
            StreamSocket::Unix(s) => conn::Sock::Unix(s),
        };
        let conn = Conn::Tls(Box::new(conn::TlsConn::new(sock, role)));
        let inner = BevInner::create(&b, options, Some(conn), raw, false)?;
        Ok(BufferEvent { inner })
    }

    /// A new bufferevent connecting to `addr` (`bufferevent_socket_new(base,
    /// -1, BEV_OPT_CLOSE_ON_FREE)` then `bufferevent_socket_connect`): set
    /// its callbacks before the loop runs; the event callback gets
    /// `BEV_EVENT_CONNECTED` or, when the connection fails (refused,
    /// unreachable), `BEV_EVENT_ERROR`.
    ///
    /// ```
    /// use runtime::compat::{BevEvent, BufferEvent, EventBase, BEV_EVENT_CONNECTED};
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    ///
    /// let base = EventBase::new().unwrap();
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let bev = BufferEvent::connect(&base, listener.local_addr().unwrap()).unwrap();
    /// let got = Rc::new(Cell::new(BevEvent::empty()));
    /// let g = got.clone();
    /// bev.setcb(None, None, Some(Box::new(move |bev: &BufferEvent, what: BevEvent| {
    ///     g.set(what);
    ///     bev.free();
    /// })))
    /// .unwrap();
    /// base.dispatch().unwrap();
    /// assert_eq!(got.get(), BEV_EVENT_CONNECTED);
    /// ```
    pub fn connect(base: &BaseHandle, addr: SocketAddr) -> io::Result<BufferEvent> {
        let bev = BufferEvent::socket_new(base, None, BEV_OPT_CLOSE_ON_FREE)?;
        if let Err(e) = bev.socket_connect(addr) {
            bev.free();
            return Err(e);
        }
        Ok(bev)
    }

    /// Starts connecting a bufferevent made without a socket
    /// (`bufferevent_socket_connect`): creates a non-blocking TCP socket
    /// ([`get_fd`](BufferEvent::get_fd) returns it at once) and connects it
    /// to `addr`. The outcome goes to the event callback:
    /// `BEV_EVENT_CONNECTED`, then reading and writing start as enabled
    /// (bytes written before are sent); or `BEV_EVENT_ERROR` (the error in
    /// [`take_error`](BufferEvent::take_error); a refused connection is
    /// reported from the loop too, never from this call); or, if a write
    /// timeout is set and expires first, `WRITING | TIMEOUT`. A failed
    /// connect closes the socket.
    ///
    /// Errors here: the bufferevent already has a socket or a connect in
    /// progress, the socket cannot be created, the address is unusable.
    pub fn socket_connect(&self, addr: SocketAddr) -> io::Result<()> {
        let i = &self.inner;
        let b = i.base()?;
        if i.status.has(bev_state::HAS_STREAM) || i.is_connecting() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "bufferevent_socket_connect: the bufferevent already has a socket",
            ));
        }
        let conn = {
            let rt = b.rt.borrow();
            let _enter = rt.reactor().enter();
            TcpStream::connect_nonblocking(addr)
        }
        .inspect_err(|e| log_warn!("bufferevent_socket_connect: {addr}: {e}"))?;
        let raw = conn.fd();
        let state = Connecting { conn, timer: None };
        i.fd.set(raw);
        *i.connecting.borrow_mut() = Some(state);
        i.touched();
        Ok(())
    }

    /// Two connected in-memory bufferevents (`bufferevent_pair_new`): what
    /// one writes the other reads, no sockets involved (each direction
    /// holds up to 64 KiB in flight). Freeing one end, or flushing it with
    /// [`BEV_FINISHED`], gives the other end of stream (`READING | EOF`).
    ///
    /// ```
    /// use runtime::compat::{BevOptions, BufferEvent, EventBase, EV_READ};
    /// let base = EventBase::new().unwrap();
    /// let (a, b) = BufferEvent::pair_new(&base, BevOptions::empty()).unwrap();
    /// assert_eq!(a.pair_partner(), Some(b.clone()));
    /// b.setcb(Some(Box::new(|bev: &BufferEvent| {
    ///     assert_eq!(bev.input().to_vec().unwrap(), b"over the pair");
    ///     bev.free();
    /// })), None, None).unwrap();
    /// b.enable(EV_READ).unwrap();
    /// a.write(b"over the pair").unwrap();
    /// base.dispatch().unwrap();
    /// assert!(b.is_freed());
    /// ```
    pub fn pair_new(
        base: &BaseHandle,
        options: BevOptions,
    ) -> io::Result<(BufferEvent, BufferEvent)> {
        let b = base.inner()?;
        let (x, y) = runtime_io::pair();
        let x = BevInner::create(&b, options, Some(Conn::Pair(x.into_inner())), -1, true)?;
        let y = match BevInner::create(&b, options, Some(Conn::Pair(y.into_inner())), -1, true) {
            Ok(y) => y,
            Err(e) => {
                x.free();
                return Err(e);
            }
        };
        *x.partner.borrow_mut() = Rc::downgrade(&y);
        *y.partner.borrow_mut() = Rc::downgrade(&x);
        Ok((BufferEvent { inner: x }, BufferEvent { inner: y }))
    }

    /// The other end of a pair (`bufferevent_pair_get_partner`); `None`
    /// for a socket bufferevent or once either end is freed.
    pub fn pair_partner(&self) -> Option<BufferEvent> {
        let p = self.inner.partner.borrow().upgrade()?;
        if p.status.has(bev_state::FREED) {
            return None;
        }
        Some(BufferEvent { inner: p })
    }

    /// Sets the callbacks (`bufferevent_setcb`); `None` for one that is
    /// not wanted. The read and write callbacks get the bufferevent; the
    /// event callback gets it and the `BEV_EVENT_*` flags. Allowed at any
    /// time, from a callback too (the new callbacks are used from the next
    /// time).
    ///
    /// ```
    /// use runtime::compat::{BevEvent, BufferEvent, EventBase, BEV_EVENT_ERROR, BEV_EVENT_EOF};
    /// let base = EventBase::new().unwrap();
    /// let bev = BufferEvent::socket_new(&base, None, Default::default()).unwrap();
    /// bev.setcb(
    ///     Some(Box::new(|bev: &BufferEvent| println!("{} bytes in", bev.input().len()))),
    ///     None,
    ///     Some(Box::new(|bev: &BufferEvent, what: BevEvent| {
    ///         if what.intersects(BEV_EVENT_EOF | BEV_EVENT_ERROR) {
    ///             bev.free();
    ///         }
    ///     })),
    /// )
    /// .unwrap();
    /// ```
    pub fn setcb(
        &self,
        readcb: Option<DataCallback>,
        writecb: Option<DataCallback>,
        eventcb: Option<EventCallback>,
    ) -> io::Result<()> {
        let i = &self.inner;
        i.base()?;
        for g in &i.cb_gen {
            g.set(g.get() + 1);
        }
        let old = (
            i.readcb.replace(readcb),
            i.writecb.replace(writecb),
            i.eventcb.replace(eventcb),
        );
        drop(old);
        Ok(())
    }

    /// Starts reading and/or writing (`bufferevent_enable(bev, EV_READ |
    /// EV_WRITE)`); other flags are ignored. Enabling a direction restarts
    /// its timeout.
    pub fn enable(&self, what: EventFlags) -> io::Result<()> {
        let i = &self.inner;
        i.base()?;
        let what = what & (EV_READ | EV_WRITE);
        i.enabled.set(i.enabled.get() | what);
        if !what.is_empty() {
            i.reset_timeouts();
        }
        i.touched();
        Ok(())
    }

    /// Stops reading and/or writing (`bufferevent_disable`): bytes stay
    /// in the buffers (and in the kernel) until enabled again.
    pub fn disable(&self, what: EventFlags) -> io::Result<()> {
        let i = &self.inner;
        i.base()?;
        i.disable_bits(what & (EV_READ | EV_WRITE));
        i.touched();
        Ok(())
    }

    /// The enabled directions (`bufferevent_get_enabled`): `EV_READ`,
    /// `EV_WRITE`, both or none.
    pub fn get_enabled(&self) -> EventFlags {
        if self.inner.status.has(bev_state::FREED) {
            return EventFlags::empty();
        }
        self.inner.enabled.get()
    }

    /// Sets the watermarks of `what`'s directions
    /// (`bufferevent_setwatermark(bev, EV_READ | EV_WRITE, low, high)`).
    /// Read: the read callback runs only when the input holds at least
    /// `low` bytes; reading pauses while it holds `high` bytes or more
    /// (0: no limit). Write: the write callback runs when the output
    /// drains to `low` bytes or less (`high` is kept for
    /// [`getwatermark`](BufferEvent::getwatermark); it matters to filters
    /// only).
    ///
    /// ```
    /// use runtime::compat::{BufferEvent, EventBase, EV_READ, EV_WRITE};
    /// let base = EventBase::new().unwrap();
    /// let bev = BufferEvent::socket_new(&base, None, Default::default()).unwrap();
    /// bev.setwatermark(EV_READ, 0, 16384).unwrap();
    /// bev.setwatermark(EV_WRITE, 512, 0).unwrap();
    /// assert_eq!(bev.getwatermark(EV_READ).unwrap(), (0, 16384));
    /// assert_eq!(bev.getwatermark(EV_WRITE).unwrap(), (512, 0));
    /// assert!(bev.getwatermark(EV_READ | EV_WRITE).is_err());
    /// ```
    pub fn setwatermark(&self, what: EventFlags, low: usize, high: usize) -> io::Result<()> {
        let i = &self.inner;
        i.base()?;
        let mut m = i.marks.get();
        if what.contains(EV_READ) {
            m.read_low = low;
            m.read_high = high;
        }
        if what.contains(EV_WRITE) {
            m.write_low = low;
            m.write_high = high;
        }
        i.marks.set(m);
        if let Ok(mut s) = i.stream.try_borrow_mut() {
            if let Some(s) = s.as_mut() {
                s.set_read_watermarks(m.read_low, m.read_high);
            }
        }
        i.touched();
        Ok(())
    }

    /// The `(low, high)` watermarks of one direction
    /// (`bufferevent_getwatermark`); asking for both or neither is an
    /// `InvalidInput` error.
    pub fn getwatermark(&self, what: EventFlags) -> io::Result<(usize, usize)> {
        let m = self.inner.marks.get();
        let r = what.contains(EV_READ);
        let w = what.contains(EV_WRITE);
        match (r, w) {
            (true, false) => Ok((m.read_low, m.read_high)),
            (false, true) => Ok((m.write_low, m.write_high)),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "getwatermark needs exactly one of EV_READ and EV_WRITE",
            )),
        }
    }

    /// Sets the read and write timeouts (`bufferevent_set_timeouts`;
    /// `None`: no timeout). A timeout counts only while the bufferevent is
    /// trying to read (reading enabled, input under the high watermark) or
    /// to write (writing enabled, output not empty, or a connect in
    /// progress) and restarts with each byte that moves; when it expires,
    /// that direction is disabled and the event callback gets
    /// `READING | TIMEOUT` or `WRITING | TIMEOUT`. Setting them restarts
    /// both.
    ///
    /// ```
    /// use runtime::compat::{BevEvent, BufferEvent, EventBase, BEV_EVENT_READING, BEV_EVENT_TIMEOUT, EV_READ};
    /// use std::time::Duration;
    ///
    /// let base = EventBase::new().unwrap();
    /// let (a, _idle_peer) = std::os::unix::net::UnixStream::pair().unwrap();
    /// let bev = BufferEvent::socket_new(&base, Some(a.into()), Default::default()).unwrap();
    /// bev.set_timeouts(Some(Duration::from_millis(20)), None).unwrap();
    /// bev.setcb(None, None, Some(Box::new(|bev: &BufferEvent, what: BevEvent| {
    ///     assert_eq!(what, BEV_EVENT_READING | BEV_EVENT_TIMEOUT);
    ///     assert!(!bev.get_enabled().contains(EV_READ)); // that direction is disabled
    /// })))
    /// .unwrap();
    /// bev.enable(EV_READ).unwrap();
    /// base.dispatch().unwrap(); // returns once reading is disabled by the timeout
    /// ```
    pub fn set_timeouts(&self, read: Option<Duration>, write: Option<Duration>) -> io::Result<()> {
        let i = &self.inner;
        i.base()?;
        i.timeouts.set((read, write));
        i.reset_timeouts();
        if let Ok(mut c) = i.connecting.try_borrow_mut() {
            if let Some(c) = c.as_mut() {
                c.timer = None;
            }
        }
        i.touched();
        Ok(())
    }

    /// The read and write timeouts.
    pub fn timeouts(&self) -> (Option<Duration>, Option<Duration>) {
        self.inner.timeouts.get()
    }

    /// The input buffer (`bufferevent_get_input`): bytes read and not yet
    /// consumed. Take them with the buffer's methods (`readln`, `remove`,
    /// `drain`, `remove_buffer` …).
    ///
    /// # Panics
    /// If an input guard is already alive (two guards of one buffer at
    /// once, as `RefCell::borrow_mut`); an input and an output guard may
    /// live together.
    pub fn input(&self) -> BufferGuard<'_> {
        BufferGuard {
            buf: Some(self.inner.input.borrow_mut()),
            bev: &self.inner,
        }
    }

    /// The output buffer (`bufferevent_get_output`): bytes to send. Add
    /// with the buffer's methods (`add`, `add_reference`, `add_buffer`,
    /// `add_file`, `write!` …); they are written when the guard is dropped
    /// and the loop runs.
    ///
    /// # Panics
    /// If an output guard is already alive (see [`input`](Self::input)).
    pub fn output(&self) -> BufferGuard<'_> {
        BufferGuard {
            buf: Some(self.inner.output.borrow_mut()),
            bev: &self.inner,
        }
    }

    /// Appends `data` to the output (`bufferevent_write`); the loop sends
    /// it while writing is enabled.
    ///
    /// ```
    /// use runtime::compat::{BufferEvent, EventBase};
    /// use std::io::Read;
    /// let base = EventBase::new().unwrap();
    /// let (a, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
    /// let bev = BufferEvent::socket_new(&base, Some(a.into()), Default::default()).unwrap();
    /// bev.write(b"hello").unwrap();
    /// base.dispatch().unwrap(); // returns when the output is empty
    /// let mut got = [0u8; 5];
    /// peer.read_exact(&mut got).unwrap();
    /// assert_eq!(&got, b"hello");
    /// ```
    pub fn write(&self, data: &[u8]) -> io::Result<()> {
        let i = &self.inner;
        i.base()?;
        i.output
            .try_borrow_mut()
            .map_err(|_| busy("output"))?
            .add(data)?;
        i.touched();
        Ok(())
    }

    /// Moves all of `buf` to the end of the output
    /// (`bufferevent_write_buffer`; `buf` is left empty, no copy).
    pub fn write_buffer(&self, buf: &mut Buffer) -> io::Result<()> {
        let i = &self.inner;
        i.base()?;
        i.output
            .try_borrow_mut()
            .map_err(|_| busy("output"))?
            .add_buffer(buf)?;
        i.touched();
        Ok(())
    }

    /// Removes up to `buf.len()` bytes from the front of the input into
    /// `buf` (`bufferevent_read`); returns how many.
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let i = &self.inner;
        i.base()?;
        let n = i
            .input
            .try_borrow_mut()
            .map_err(|_| busy("input"))?
            .remove(buf)?;
        i.touched();
        Ok(n)
    }

    /// Moves the whole input to the end of `buf` (`bufferevent_read_buffer`;
    /// no copy); returns how many bytes.
    pub fn read_buffer(&self, buf: &mut Buffer) -> io::Result<usize> {
        let i = &self.inner;
        i.base()?;
        let n = {
            let mut input = i.input.try_borrow_mut().map_err(|_| busy("input"))?;
            let n = input.len();
            buf.add_buffer(&mut input)?;
            n
        };
        i.touched();
        Ok(n)
    }

    /// Pushes the output out now (`bufferevent_flush(bev, iotype, mode)`):
    /// with `EV_WRITE` in `iotype`, writes as much of the output as the
    /// socket takes right away (the loop writes the rest); with
    /// [`BEV_FINISHED`] it then shuts the write direction down once the
    /// output is out (now or from the loop), so the peer reads end of
    /// stream — for a pair, the partner's event callback gets
    /// `READING | EOF`. [`BEV_NORMAL`] and [`BEV_FLUSH`] are the same here
    /// (no filters). Returns whether bytes were written by this call
    /// (libevent's 1 and 0). A write error is returned (and reported to the
    /// event callback by the loop).
    ///
    /// ```
    /// use runtime::compat::{BufferEvent, EventBase, BEV_FINISHED, EV_WRITE};
    /// use std::io::Read;
    /// let base = EventBase::new().unwrap();
    /// let (a, mut peer) = std::os::unix::net::UnixStream::pair().unwrap();
    /// let bev = BufferEvent::socket_new(&base, Some(a.into()), Default::default()).unwrap();
    /// bev.write(b"last words").unwrap();
    /// assert!(bev.flush(EV_WRITE, BEV_FINISHED).unwrap());
    /// let mut all = String::new();
    /// peer.read_to_string(&mut all).unwrap(); // end of stream after the data
    /// assert_eq!(all, "last words");
    /// ```
    pub fn flush(&self, iotype: EventFlags, mode: FlushMode) -> io::Result<bool> {
        let i = &self.inner;
        let b = i.base()?;
        if !iotype.contains(EV_WRITE) || !i.status.has(bev_state::HAS_STREAM) {
            return Ok(false);
        }
        let finish = mode == FlushMode::Finished;
        if finish {
            i.status.set(bev_state::FINISH, true);
        }
        if i.status.has(bev_state::HANDSHAKING) {
            // Written (and finished) by the loop once the handshake is done.
            i.touched();
            return Ok(false);
        }
        // The bufferevent's own task's waker: if the socket takes only part
        // of the output, writability wakes the task, which writes the rest.
        let waker = i.task.waker().ok_or_else(freed)?;
        let mut cx = Context::from_waker(&waker);
        let r = {
            let rt = b.rt.borrow();
            let _enter = rt.reactor().enter();
            i.with_stream(|s| {
                let before = s.output().len();
                let r = if finish {
                    s.poll_finish(&mut cx)
                } else {
                    s.poll_flush_watermark(&mut cx)
                };
                (r, before.saturating_sub(s.output().len()))
            })
        };
        let Some((r, wrote)) = r else {
            i.touched();
            return Err(busy("input or output"));
        };
        if wrote > 0 && i.output_len() <= i.marks.get().write_low {
            i.queue(Action::Write);
        }
        if finish && matches!(r, Poll::Ready(Ok(()))) {
            i.status.set(bev_state::FINISH, false);
        }
        // The task looks at the new state (a write callback due, the
        // finish done).
        i.touched();
        match r {
            Poll::Ready(Err(e)) => Err(e),
            _ => Ok(wrote > 0),
        }
    }

    /// Releases the bufferevent (`bufferevent_free`): no callback runs any
    /// more (the running one finishes: a bufferevent may free itself), the
    /// buffered bytes are dropped, the socket is closed with
    /// [`BEV_OPT_CLOSE_ON_FREE`] (left open without it), a pair's partner
    /// gets end of stream. Later calls on any handle fail; freeing twice
    /// does nothing.
    pub fn free(&self) {
        self.inner.free();
    }

    /// Whether [`free`](BufferEvent::free) was called.
    pub fn is_freed(&self) -> bool {
        self.inner.status.has(bev_state::FREED)
    }

    /// The socket (`bufferevent_getfd`); -1 for a pair, before
    /// [`socket_connect`](BufferEvent::socket_connect), after a failed
    /// connect and after [`free`](BufferEvent::free). A TLS filter's is
    /// its underlying bufferevent's.
    pub fn get_fd(&self) -> RawFd {
        if let Ok(u) = self.inner.underlying.try_borrow() {
            if let Some(u) = u.as_ref() {
                return u.bev.fd.get();
            }
        }
        self.inner.fd.get()
    }

    /// The bufferevent a TLS filter runs over
    /// (`bufferevent_get_underlying`); `None` for others and once freed.
    pub fn underlying(&self) -> Option<BufferEvent> {
        let u = self.inner.underlying.try_borrow().ok()?;
        u.as_ref().map(|u| BufferEvent {
            inner: u.bev.clone(),
        })
    }

    /// The options it was created with.
    pub fn options(&self) -> BevOptions {
        self.inner.options
    }

    /// Sets the priority of its callbacks (`bufferevent_priority_set`; 0
    /// runs first): its task's executor priority, as libevent's
    /// bufferevents do their reads, writes and callbacks from events of
    /// this priority. In a loop iteration that runs a more urgent priority,
    /// its I/O and callbacks wait for the next one. Fails for a priority
    /// out of the base's range.
    ///
    /// ```
    /// use runtime::compat::{BufferEvent, EventConfig};
    /// let base = EventConfig::new().priorities(3).build().unwrap();
    /// let bev = BufferEvent::socket_new(&base, None, Default::default()).unwrap();
    /// assert_eq!(bev.priority(), 1);
    /// bev.set_priority(0).unwrap();
    /// assert!(bev.set_priority(3).is_err());
    /// ```
    pub fn set_priority(&self, priority: usize) -> io::Result<()> {
        let i = &self.inner;
        let b = i.base()?;
        let n = b.priorities.get();
        if priority >= n {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("priority {priority} out of range: the base has {n} priorities"),
            ));
        }
        // Its task runs at the new priority from now on (queued, it moves
        // to that priority's queue).
        i.task.set_priority(&b, priority)?;
        i.priority.set(priority);
        Ok(())
    }

    /// The priority (`bufferevent_get_priority`).
    pub fn priority(&self) -> usize {
        self.inner.priority.get()
    }

    /// A handle to its base (`bufferevent_get_base`).
    pub fn base(&self) -> BaseHandle {
        BaseHandle {
            inner: self.inner.base.clone(),
        }
    }

    /// Takes the error behind the last `BEV_EVENT_ERROR` (libevent's
    /// `EVUTIL_SOCKET_ERROR()` in the event callback): a reset connection
    /// is `ConnectionReset`, a refused connect `ConnectionRefused` …
    pub fn take_error(&self) -> Option<io::Error> {
        self.inner.error.borrow_mut().take()
    }

    /// Sets the most bytes read per read (`bufferevent_set_max_single_read`;
    /// 0: the default, 16 KiB).
    pub fn set_max_single_read(&self, max: usize) -> io::Result<()> {
        let i = &self.inner;
        i.base()?;
        i.max_read.set(max);
        if let Ok(mut s) = i.stream.try_borrow_mut() {
            if let Some(s) = s.as_mut() {
                s.set_max_single_read(max);
            }
        }
        Ok(())
    }

    /// Sets the most bytes written per write
    /// (`bufferevent_set_max_single_write`; 0: no limit, one `writev` takes
    /// what the kernel accepts).
    pub fn set_max_single_write(&self, max: usize) -> io::Result<()> {
        let i = &self.inner;
        i.base()?;
        i.max_write.set(max);
        if let Ok(mut s) = i.stream.try_borrow_mut() {
            if let Some(s) = s.as_mut() {
                s.set_max_single_write(max);
            }
        }
        Ok(())
    }

    /// Whether it is one end of a pair.
    pub fn is_pair(&self) -> bool {
        self.inner.is_pair
    }
}
