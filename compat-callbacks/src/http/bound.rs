//! [`BoundSocket`]: a listening socket of an [`Http`](crate::Http)
//! (`struct evhttp_bound_socket`), and the task that accepts its
//! connections, each then served by runtime-http's server in a task of its
//! own on the base's executor.

use super::HttpInner;
use crate::base::base_state;
use crate::task::TaskSlot;
use runtime_net::TcpListener;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll};

/// Connections accepted per task poll before the loop gets a turn.
const ACCEPTS_PER_POLL: usize = 64;

pub(crate) struct BoundInner {
    pub(crate) http: Weak<HttpInner>,
    listener: RefCell<Option<TcpListener>>,
    fd: RawFd,
    /// Counted in the base's pending events (as an evconnlistener is).
    counted: Cell<bool>,
    task: TaskSlot,
}

impl BoundInner {
    pub(crate) fn new(http: &Rc<HttpInner>, listener: TcpListener) -> io::Result<Rc<BoundInner>> {
        use std::os::fd::AsRawFd;
        let base = http.base()?;
        let bound = Rc::new(BoundInner {
            http: Rc::downgrade(http),
            fd: listener.as_raw_fd(),
            listener: RefCell::new(Some(listener)),
            counted: Cell::new(false),
            task: TaskSlot::new(),
        });
        let task = AcceptTask {
            bound: Rc::downgrade(&bound),
        };
        bound.task.spawn(&base, http.priority, task)?;
        base.listeners_enabled.set(base.listeners_enabled.get() + 1);
        bound.counted.set(true);
        base.status.set(base_state::EVER_ADDED, true);
        Ok(bound)
    }

    /// Stops accepting and closes the socket.
    pub(crate) fn close(&self) {
        let l = self.listener.borrow_mut().take();
        drop(l);
        self.task.abort();
        if self.counted.replace(false) {
            let base = self.http.upgrade().and_then(|h| h.base.upgrade());
            if let Some(b) = base.filter(|b| !b.status.has(base_state::CLOSING)) {
                b.listeners_enabled
                    .set(b.listeners_enabled.get().saturating_sub(1));
            }
        }
    }

    fn is_open(&self) -> bool {
        self.listener.borrow().is_some()
    }

    /// Wakes the accept task (a connection slot came free).
    pub(crate) fn wake(&self) {
        self.task.wake();
    }
}

struct AcceptTask {
    bound: Weak<BoundInner>,
}

impl Future for AcceptTask {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(bound) = self.bound.upgrade() else {
            return Poll::Ready(());
        };
        let Some(http) = bound.http.upgrade().filter(|h| !h.is_freed()) else {
            return Poll::Ready(());
        };
        for _ in 0..ACCEPTS_PER_POLL {
            if http.at_capacity() {
                // Woken when a connection ends; meanwhile new ones wait in
                // the listen backlog (evhttp_set_max_connections answers
                // 503 and closes instead).
                return Poll::Pending;
            }
            let res = {
                let l = bound.listener.borrow();
                let Some(l) = l.as_ref() else {
                    return Poll::Ready(());
                };
                l.poll_accept(cx)
            };
            match res {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok((stream, peer))) => http.serve(stream, peer),
                // The accept loop retries EINTR/ECONNABORTED and backs off
                // on EMFILE by itself; the listener keeps going.
                Poll::Ready(Err(_)) => {}
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// A socket an [`Http`](crate::Http) accepts connections on
/// (`struct evhttp_bound_socket`), from
/// [`bind_socket_with_handle`](crate::Http::bind_socket_with_handle) or
/// [`accept_socket`](crate::Http::accept_socket); give it to
/// [`del_accept_socket`](crate::Http::del_accept_socket) to stop accepting
/// on it. A cheap handle, `Clone`.
#[derive(Clone)]
pub struct BoundSocket {
    pub(crate) inner: Rc<BoundInner>,
}

impl fmt::Debug for BoundSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundSocket")
            .field("fd", &self.inner.fd)
            .field("open", &self.inner.is_open())
            .finish()
    }
}

impl PartialEq for BoundSocket {
    fn eq(&self, other: &BoundSocket) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for BoundSocket {}

impl BoundSocket {
    /// The listening descriptor (`evhttp_bound_socket_get_fd`), `-1` once
    /// closed.
    pub fn fd(&self) -> RawFd {
        if self.inner.is_open() {
            self.inner.fd
        } else {
            -1
        }
    }

    /// The address it listens on (port 0 at bind time shows the port
    /// chosen).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match self.inner.listener.borrow().as_ref() {
            Some(l) => l.local_addr(),
            None => Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "the bound socket was closed",
            )),
        }
    }

    /// Whether it still accepts (not deleted, its `Http` not freed).
    pub fn is_open(&self) -> bool {
        self.inner.is_open()
    }
}
