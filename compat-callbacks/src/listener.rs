//! [`ConnListener`]: libevent's `evconnlistener`, on top of
//! [`runtime_net::TcpListener`] and its accept loop (retries of `EINTR` and
//! `ECONNABORTED`, a timer back-off when descriptors run out).

use crate::base::base_state;
use crate::base::{BaseHandle, BaseInner};
use crate::event::{freed, gone};
use crate::flags::*;
use crate::log::{log_error, log_warn};
use crate::owned::Owned;
use crate::state::Status;
use crate::task::TaskSlot;
use runtime_net::{ListenOptions, TcpListener};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, IntoRawFd, RawFd};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll};

/// The bits of the `Status` of this file's type.
mod lev_state {
    /// Has an accept callback.
    pub(super) const HAS_CB: u16 = 1 << 0;
    /// Accepting (`evconnlistener_enable`).
    pub(super) const ENABLED: u16 = 1 << 1;
    /// Counted in the base's pending events (enabled, with a callback).
    pub(super) const COUNTED: u16 = 1 << 2;
    /// Freed (`evconnlistener_free`).
    pub(super) const FREED: u16 = 1 << 3;
}

/// The accept callback: the listener, the new connection (non-blocking
/// unless `LEV_OPT_LEAVE_SOCKETS_BLOCKING`, not registered with any
/// reactor, so an [`Event`](crate::Event) can watch it) and the peer.
pub type AcceptCallback = Box<dyn FnMut(&ConnListener, std::net::TcpStream, SocketAddr)>;

/// The error callback: the listener and the accept error. The listener
/// stays enabled.
pub type ErrorCallback = Box<dyn FnMut(&ConnListener, io::Error)>;

/// Accepts handled per task poll before the loop gets a turn.
const ACCEPTS_PER_POLL: usize = 64;

pub(crate) struct ListenerInner {
    /// The yes/no states, bits of this file's state module.
    pub(crate) status: Status,
    base: Weak<BaseInner>,
    listener: RefCell<Option<TcpListener>>,
    fd: RawFd,
    flags: ListenerFlags,
    cb: Cell<Option<AcceptCallback>>,
    errcb: Cell<Option<ErrorCallback>>,
    key: Cell<Option<usize>>,
    task: TaskSlot,
}

impl Owned for ListenerInner {
    fn release(self: Rc<Self>) {
        self.teardown();
    }
}

struct ListenerTask {
    l: Weak<ListenerInner>,
}

impl Future for ListenerTask {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(l) = self.l.upgrade() else {
            return Poll::Ready(());
        };
        let Some(base) = l.base.upgrade() else {
            return Poll::Ready(());
        };
        l.run(&base, cx)
    }
}

impl ListenerInner {
    fn run(self: &Rc<Self>, base: &BaseInner, cx: &mut Context<'_>) -> Poll<()> {
        for _ in 0..ACCEPTS_PER_POLL {
            if self.status.has(lev_state::FREED) {
                return Poll::Ready(());
            }
            if !self.status.has(lev_state::ENABLED) || !self.status.has(lev_state::HAS_CB) {
                return Poll::Pending;
            }
            let res = {
                let l = self.listener.borrow();
                let Some(tl) = l.as_ref() else {
                    return Poll::Ready(());
                };
                tl.poll_accept(cx)
            };
            let handle = ConnListener {
                inner: self.clone(),
            };
            match res {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok((stream, peer))) => {
                    let stream = match stream.into_std() {
                        Ok(s) => s,
                        Err(e) => {
                            self.report(&handle, e);
                            continue;
                        }
                    };
                    if self.flags.contains(LEV_OPT_LEAVE_SOCKETS_BLOCKING) {
                        if let Err(e) = stream.set_nonblocking(false) {
                            self.report(&handle, e);
                            continue;
                        }
                    }
                    let Some(mut cb) = self.cb.take() else {
                        continue;
                    };
                    base.note_callback();
                    let r = catch_unwind(AssertUnwindSafe(|| cb(&handle, stream, peer)));
                    if !self.status.has(lev_state::FREED) && self.status.has(lev_state::HAS_CB) {
                        match self.cb.take() {
                            Some(newer) => self.cb.set(Some(newer)),
                            None => self.cb.set(Some(cb)),
                        }
                    }
                    if let Err(p) = r {
                        log_error!("accept callback of listener fd {} panicked", self.fd);
                        base.store_panic(p);
                    }
                }
                Poll::Ready(Err(e)) => self.report(&handle, e),
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    fn report(&self, handle: &ConnListener, e: io::Error) {
        match self.errcb.take() {
            Some(mut cb) => {
                cb(handle, e);
                if !self.status.has(lev_state::FREED) && self.errcb.take().is_none() {
                    self.errcb.set(Some(cb));
                }
            }
            None => log_warn!("evconnlistener on fd {}: accept failed: {e}", self.fd),
        }
    }

    fn base(&self) -> io::Result<Rc<BaseInner>> {
        if self.status.has(lev_state::FREED) {
            return Err(freed());
        }
        let b = self.base.upgrade().ok_or_else(gone)?;
        if b.status.has(base_state::CLOSING) {
            return Err(gone());
        }
        Ok(b)
    }

    /// Keeps the base's count of pending events in step.
    fn sync_count(&self, base: &BaseInner) {
        let want = !self.status.has(lev_state::FREED)
            && self.status.has(lev_state::ENABLED)
            && self.status.has(lev_state::HAS_CB);
        if want != self.status.replace(lev_state::COUNTED, want) {
            let n = base.listeners_enabled.get();
            base.listeners_enabled
                .set(if want { n + 1 } else { n.saturating_sub(1) });
        }
    }

    fn wake(&self) {
        self.task.wake();
    }

    fn set_enabled(&self, on: bool) -> io::Result<()> {
        let base = self.base()?;
        self.status.set(lev_state::ENABLED, on);
        if let Some(l) = self.listener.borrow().as_ref() {
            if on {
                l.enable();
            } else {
                l.disable();
            }
        }
        self.sync_count(&base);
        if on {
            self.wake();
        }
        Ok(())
    }

    fn free(&self) {
        if self.status.replace(lev_state::FREED, true) {
            return;
        }
        let base = self.base.upgrade();
        if let Some(b) = base
            .as_deref()
            .filter(|b| !b.status.has(base_state::CLOSING))
        {
            self.status.set(lev_state::ENABLED, false);
            if self.status.replace(lev_state::COUNTED, false) {
                b.listeners_enabled
                    .set(b.listeners_enabled.get().saturating_sub(1));
            }
            if let Some(k) = self.key.take() {
                let removed = b.state.borrow_mut().listeners.remove(k);
                drop(removed);
            }
        }
        let l = self.listener.borrow_mut().take();
        if let Some(l) = l {
            // Deregister first; close unless told to leave the socket open.
            match l.into_std() {
                Ok(s) if !self.flags.contains(LEV_OPT_CLOSE_ON_FREE) => {
                    let _ = s.into_raw_fd();
                }
                other => drop(other),
            }
        }
        self.task.abort();
        let cb = self.cb.take();
        let errcb = self.errcb.take();
        drop((cb, errcb));
    }

    pub(crate) fn teardown(&self) {
        self.key.set(None);
        self.status.set(lev_state::COUNTED, false);
        self.free();
    }
}

/// A listening TCP socket that calls back with each accepted connection:
/// libevent's `evconnlistener`. Built on [`runtime_net::TcpListener`]
/// (its accept loop retries `EINTR`/`ECONNABORTED` silently and backs off
/// on a timer when descriptors run out). The handle is cheap to clone.
///
/// Its accepts run in a task at the base's default priority (that of
/// libevent's listener event), scheduled as events' tasks are: not in a
/// loop iteration that runs a more urgent priority, nor past the
/// [`max_dispatch_interval`](crate::EventConfig::max_dispatch_interval)
/// limits or a `loopbreak`/`loopcontinue` — connections then wait in the
/// backlog until the next iteration. Once its turn comes it accepts what
/// the backlog holds (up to 64 connections per turn), calling back for
/// each, as libevent's listener callback does.
///
/// Like libevent's, a listener lives until [`free`](ConnListener::free)
/// (or until its base is dropped), whether or not handles remain; while
/// enabled with a callback it counts as a pending event, so `dispatch`
/// keeps running.
///
/// ```
/// use runtime::compat::{ConnListener, EventBase, LEV_OPT_CLOSE_ON_FREE, LEV_OPT_REUSEABLE};
/// use std::io::{Read, Write};
///
/// let base = EventBase::new().unwrap();
/// let b = base.handle();
/// let listener = ConnListener::bind(
///     &base,
///     "127.0.0.1:0".parse().unwrap(),
///     LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
///     -1,
///     move |l, mut conn, _peer| {
///         conn.write_all(b"hi\n").unwrap(); // a small write to a fresh socket
///         l.free(); // one connection is enough
///         b.loopbreak().unwrap();
///     },
/// )
/// .unwrap();
/// let addr = listener.local_addr().unwrap();
/// let client = std::thread::spawn(move || {
///     let mut s = std::net::TcpStream::connect(addr).unwrap();
///     let mut line = String::new();
///     s.read_to_string(&mut line).unwrap();
///     line
/// });
/// base.dispatch().unwrap();
/// assert_eq!(client.join().unwrap(), "hi\n");
/// ```
#[derive(Clone)]
pub struct ConnListener {
    inner: Rc<ListenerInner>,
}

impl PartialEq for ConnListener {
    fn eq(&self, other: &ConnListener) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for ConnListener {}

impl fmt::Debug for ConnListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnListener")
            .field("fd", &self.inner.fd)
            .field("enabled", &self.inner.status.has(lev_state::ENABLED))
            .field("freed", &self.inner.status.has(lev_state::FREED))
            .finish()
    }
}

/// The [`ListenOptions`] `evconnlistener_new_bind` sets from its flags:
/// `SO_REUSEADDR` only with `LEV_OPT_REUSEABLE` (as libevent), `backlog <=
/// 0` means 128.
fn listen_options(flags: ListenerFlags, backlog: i32) -> ListenOptions {
    let mut o = ListenOptions::new()
        .backlog(if backlog > 0 { backlog } else { 128 })
        .reuse_address(flags.contains(LEV_OPT_REUSEABLE))
        .reuse_port(flags.contains(LEV_OPT_REUSEABLE_PORT))
        .defer_accept(flags.contains(LEV_OPT_DEFERRED_ACCEPT));
    if flags.contains(LEV_OPT_BIND_IPV6ONLY) {
        o = o.ipv6_only(true);
    } else if flags.contains(LEV_OPT_BIND_IPV4_AND_IPV6) {
        o = o.ipv6_only(false);
    }
    o
}

impl ConnListener {
    /// Binds a TCP socket to `addr` and listens (`evconnlistener_new_bind`).
    /// `flags`: `LEV_OPT_REUSEABLE` (`SO_REUSEADDR`),
    /// `LEV_OPT_REUSEABLE_PORT` (`SO_REUSEPORT`), `LEV_OPT_DISABLED`
    /// (start disabled), `LEV_OPT_LEAVE_SOCKETS_BLOCKING`,
    /// `LEV_OPT_DEFERRED_ACCEPT` (`TCP_DEFER_ACCEPT`),
    /// `LEV_OPT_BIND_IPV6ONLY`, `LEV_OPT_BIND_IPV4_AND_IPV6`; the socket
    /// is always close-on-exec and, being ours, always closed on free.
    /// `backlog <= 0` means 128.
    ///
    /// ```
    /// use runtime::compat::{ConnListener, EventBase, ListenerFlags};
    /// let base = EventBase::new().unwrap();
    /// let a = ConnListener::bind(&base, "127.0.0.1:0".parse().unwrap(), ListenerFlags::empty(), 16, |_, _, _| {}).unwrap();
    /// // The port is taken: a second bind is an error, not a panic.
    /// let addr = a.local_addr().unwrap();
    /// assert!(ConnListener::bind(&base, addr, ListenerFlags::empty(), 16, |_, _, _| {}).is_err());
    /// ```
    pub fn bind(
        base: &BaseHandle,
        addr: SocketAddr,
        flags: ListenerFlags,
        backlog: i32,
        callback: impl FnMut(&ConnListener, std::net::TcpStream, SocketAddr) + 'static,
    ) -> io::Result<ConnListener> {
        let b = base.inner()?;
        let tl = {
            let rt = b.rt.borrow();
            let _enter = rt.reactor().enter();
            TcpListener::bind_now(addr, &listen_options(flags, backlog))
        }
        .inspect_err(|e| log_warn!("evconnlistener_new_bind: {addr}: {e}"))?;
        ConnListener::create(&b, tl, flags | LEV_OPT_CLOSE_ON_FREE, Box::new(callback))
    }

    /// Wraps a socket that is already bound (`evconnlistener_new`):
    /// `backlog > 0` calls `listen(backlog)`, `< 0` `listen(128)`, `0`
    /// means it is listening already. Without `LEV_OPT_CLOSE_ON_FREE` the
    /// descriptor is left open when the listener is freed.
    pub fn from_std(
        base: &BaseHandle,
        listener: std::net::TcpListener,
        flags: ListenerFlags,
        backlog: i32,
        callback: impl FnMut(&ConnListener, std::net::TcpStream, SocketAddr) + 'static,
    ) -> io::Result<ConnListener> {
        let b = base.inner()?;
        let tl = {
            let rt = b.rt.borrow();
            let _enter = rt.reactor().enter();
            match backlog {
                0 => TcpListener::from_std(listener),
                n if n > 0 => TcpListener::from_std_with_backlog(listener, n),
                _ => TcpListener::from_std_with_backlog(listener, 128),
            }
        }?;
        ConnListener::create(&b, tl, flags, Box::new(callback))
    }

    fn create(
        b: &Rc<BaseInner>,
        tl: TcpListener,
        flags: ListenerFlags,
        cb: AcceptCallback,
    ) -> io::Result<ConnListener> {
        let fd = tl.as_raw_fd();
        let enabled = !flags.contains(LEV_OPT_DISABLED);
        let priority = b.default_priority.get();
        if !enabled {
            tl.disable();
        }
        let inner = Rc::new(ListenerInner {
            status: Status::new(if enabled {
                lev_state::HAS_CB | lev_state::ENABLED
            } else {
                lev_state::HAS_CB
            }),
            base: Rc::downgrade(b),
            listener: RefCell::new(Some(tl)),
            fd,
            flags,
            cb: Cell::new(Some(cb)),
            errcb: Cell::new(None),
            key: Cell::new(None),
            task: TaskSlot::new(),
        });
        let weak: Weak<dyn Owned> = Rc::downgrade(&inner) as Weak<dyn Owned>;
        b.state.borrow_mut().owned.register(weak);
        let key = b.state.borrow_mut().listeners.insert(inner.clone());
        inner.key.set(Some(key));
        inner.sync_count(b);
        b.status.set(base_state::EVER_ADDED, true);
        let task = ListenerTask {
            l: Rc::downgrade(&inner),
        };
        // Its task runs at the base's default priority, as libevent's
        // listener event does.
        if let Err(e) = inner.task.spawn(b, priority, task) {
            inner.free();
            return Err(e);
        }
        Ok(ConnListener { inner })
    }

    /// Starts accepting again (`evconnlistener_enable`).
    pub fn enable(&self) -> io::Result<()> {
        self.inner.set_enabled(true)
    }

    /// Stops accepting (`evconnlistener_disable`): connections wait in the
    /// kernel's backlog until [`enable`](ConnListener::enable).
    pub fn disable(&self) -> io::Result<()> {
        self.inner.set_enabled(false)
    }

    /// Whether it accepts.
    pub fn is_enabled(&self) -> bool {
        self.inner.status.has(lev_state::ENABLED) && !self.inner.status.has(lev_state::FREED)
    }

    /// Replaces the accept callback (`evconnlistener_set_cb`); `None`
    /// stops accepting as if disabled.
    pub fn set_callback(&self, callback: Option<AcceptCallback>) -> io::Result<()> {
        let base = self.inner.base()?;
        self.inner.status.set(lev_state::HAS_CB, callback.is_some());
        let old = self.inner.cb.replace(callback);
        self.inner.sync_count(&base);
        self.inner.wake();
        drop(old);
        Ok(())
    }

    /// Sets the error callback (`evconnlistener_set_error_cb`), called with
    /// each accept error other than the ones retried silently; without one
    /// the error is logged. The listener stays enabled.
    pub fn set_error_callback(
        &self,
        callback: impl FnMut(&ConnListener, io::Error) + 'static,
    ) -> io::Result<()> {
        self.inner.base()?;
        let old = self.inner.errcb.replace(Some(Box::new(callback)));
        drop(old);
        Ok(())
    }

    /// The listening descriptor (`evconnlistener_get_fd`).
    pub fn fd(&self) -> RawFd {
        self.inner.fd
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match self.inner.listener.borrow().as_ref() {
            Some(l) => l.local_addr(),
            None => Err(freed()),
        }
    }

    /// A handle to the base (`evconnlistener_get_base`).
    pub fn base(&self) -> BaseHandle {
        BaseHandle {
            inner: self.inner.base.clone(),
        }
    }

    /// Releases the listener (`evconnlistener_free`): it stops accepting,
    /// closes its socket (with `LEV_OPT_CLOSE_ON_FREE`, always for
    /// [`bind`](ConnListener::bind)) and drops its callbacks (after the
    /// running one returns). Freeing twice does nothing.
    pub fn free(&self) {
        self.inner.free();
    }

    /// Whether [`free`](ConnListener::free) was called.
    pub fn is_freed(&self) -> bool {
        self.inner.status.has(lev_state::FREED)
    }
}
