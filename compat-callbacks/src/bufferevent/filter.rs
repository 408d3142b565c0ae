//! A TLS filter's link to the bufferevent beneath it
//! (`bufferevent_openssl_filter_new`): the session reads the underlying
//! bufferevent's input and writes into its output ([`Underlying`], an
//! `AsyncRead + AsyncWrite`), and the underlying bufferevent's callbacks,
//! taken over by the filter as libevent's are, wake the filter's task.
//!
//! No waker is stored: a read that finds the underlying input empty, or a
//! write that finds its output at the write high watermark, returns
//! `Pending`, and the underlying's read, write and event callbacks (run
//! when bytes arrive, when the output drains, at end of stream or on an
//! error) wake the filter's task, which tries again.

use super::*;
use runtime_io::{AsyncRead, AsyncWrite};
use std::io::IoSlice;

/// The read high watermark set on the underlying bufferevent: it stops
/// reading from its socket while this much ciphertext waits for the
/// filter (libevent leaves it unbounded; a bound gives back-pressure).
const UNDERLYING_READ_HIGH: usize = 64 * 1024;

/// What the underlying bufferevent's event callback saw.
#[derive(Default, Debug)]
pub(super) struct Link {
    /// It read end of stream.
    eof: Cell<bool>,
    /// It failed (reported once as the error itself, then as this).
    failed: Cell<bool>,
    error: RefCell<Option<io::Error>>,
}

/// The underlying bufferevent as the TLS session's transport.
pub(super) struct Underlying {
    bev: Rc<BevInner>,
    link: Rc<Link>,
}

impl fmt::Debug for Underlying {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Underlying")
            .field("fd", &self.bev.fd.get())
            .field("link", &self.link)
            .finish()
    }
}

impl Underlying {
    /// The error a read or write gets once the underlying bufferevent is
    /// freed or has failed; `None` while it works.
    fn broken(&self) -> Option<io::Error> {
        if let Some(e) = self.link.error.borrow_mut().take() {
            return Some(e);
        }
        if self.link.failed.get() {
            return Some(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the underlying bufferevent failed",
            ));
        }
        if self.bev.status.has(bev_state::FREED) {
            return Some(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the underlying bufferevent has been freed",
            ));
        }
        None
    }

    /// Appends `bufs` to the underlying output and wakes its task.
    fn write_slices(&self, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>> {
        if let Some(e) = self.broken() {
            return Poll::Ready(Err(e));
        }
        let high = self.bev.marks.get().write_high;
        if high > 0 && self.bev.output_len() >= high {
            // Its write callback (output drained) wakes the filter.
            return Poll::Pending;
        }
        let Ok(mut out) = self.bev.output.try_borrow_mut() else {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        };
        let mut n = 0;
        for b in bufs {
            out.add(b)?;
            n += b.len();
        }
        drop(out);
        self.bev.touched();
        Poll::Ready(Ok(n))
    }
}

impl AsyncRead for Underlying {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let u = &this.bev;
        if u.status.has(bev_state::FREED) {
            return Poll::Ready(Err(this.broken().expect("freed")));
        }
        let suspended = u.read_suspended();
        let n = match u.input.try_borrow_mut() {
            Ok(mut input) => input.remove(buf)?,
            Err(_) => {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        };
        if n > 0 {
            if suspended {
                // Under its high watermark again: it reads on.
                u.touched();
            }
            return Poll::Ready(Ok(n));
        }
        if let Some(e) = this.broken() {
            return Poll::Ready(Err(e));
        }
        if this.link.eof.get() {
            return Poll::Ready(Ok(0));
        }
        // Its read or event callback wakes the filter.
        Poll::Pending
    }
}

impl AsyncWrite for Underlying {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.write_slices(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.write_slices(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The underlying bufferevent writes its output as its loop runs.
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // After close_notify: the underlying bufferevent writes what it
        // holds, then shuts its write side down (`BEV_FINISHED`).
        let u = &self.bev;
        if !u.status.has(bev_state::FREED) {
            u.status.set(bev_state::FINISH, true);
            u.touched();
        }
        Poll::Ready(Ok(()))
    }
}

/// A filter's hold on its underlying bufferevent.
pub(super) struct Hold {
    pub(super) bev: Rc<BevInner>,
    /// The underlying's callback generation once the filter's callbacks
    /// were installed: unchanged means they are still the filter's.
    gen: u64,
}

impl Hold {
    /// At the filter's free: with close-on-free the underlying bufferevent
    /// is freed too (closing its socket if it was made with close-on-free);
    /// without, it is left to its owner with the filter's callbacks
    /// removed (if still installed), as libevent's `be_ssl_unlink` does.
    pub(super) fn release(self, close: bool) {
        let u = self.bev;
        u.status.set(bev_state::UNDER_FILTER, false);
        if close {
            u.free();
            return;
        }
        if u.cb_gen[0].get() == self.gen {
            let _ = BufferEvent { inner: u }.setcb(None, None, None);
        }
    }
}

/// The underlying's callbacks: wake the filter; its errors and timeouts
/// go to the filter's event callback (libevent's `be_ssl_eventcb`); its
/// end of stream is read by the session (a clean end after `close_notify`,
/// truncation without).
fn install_callbacks(
    under: &BufferEvent,
    filter: &Rc<BevInner>,
    link: &Rc<Link>,
) -> io::Result<()> {
    let wake = |f: &Weak<BevInner>| {
        if let Some(f) = f.upgrade() {
            f.touched();
        }
    };
    let (f1, f2, f3) = (
        Rc::downgrade(filter),
        Rc::downgrade(filter),
        Rc::downgrade(filter),
    );
    let link = link.clone();
    under.setcb(
        Some(Box::new(move |_: &BufferEvent| wake(&f1))),
        Some(Box::new(move |_: &BufferEvent| wake(&f2))),
        Some(Box::new(move |u: &BufferEvent, what: BevEvent| {
            if what.contains(BEV_EVENT_EOF) {
                link.eof.set(true);
            } else if what.contains(BEV_EVENT_ERROR) {
                link.failed.set(true);
                let e = u
                    .take_error()
                    .unwrap_or_else(|| io::Error::other("the underlying bufferevent failed"));
                match f3.upgrade() {
                    // The handshake reads the error and reports it.
                    Some(f) if f.status.has(bev_state::HANDSHAKING) => {
                        *link.error.borrow_mut() = Some(e);
                    }
                    Some(f) => {
                        f.disable_bits(EV_READ | EV_WRITE);
                        *f.error.borrow_mut() = Some(e);
                        f.queue(Action::Event(what));
                    }
                    None => {}
                }
            } else if what.contains(BEV_EVENT_TIMEOUT) {
                if let Some(f) = f3.upgrade() {
                    f.queue(Action::Event(what));
                }
            }
            // BEV_EVENT_CONNECTED: the handshake's bytes were waiting in
            // its output and are on their way.
            wake(&f3);
        })),
    )
}

impl BufferEvent {
    /// TLS over another bufferevent (`bufferevent_openssl_filter_new(base,
    /// underlying, ssl, state, options)`): the session's records go
    /// through `underlying` — a socket bufferevent (connected, or still
    /// connecting after [`socket_connect`](BufferEvent::socket_connect)),
    /// a pair end, another filter — and this bufferevent's callbacks see
    /// plaintext. Like libevent's, the filter takes over the underlying
    /// bufferevent's callbacks and enables its reading and writing; its
    /// write high watermark, if set, bounds the ciphertext queued in it.
    /// Do not use the underlying bufferevent directly while the filter
    /// lives.
    ///
    /// The handshake of `role` starts with the loop, as with
    /// [`tls_socket_new`](BufferEvent::tls_socket_new), and the events are
    /// the same: `BEV_EVENT_CONNECTED` once it is done, `READING | ERROR`
    /// (`READING | TIMEOUT` for the handshake timeout) when it fails,
    /// `READING | EOF` after the peer's `close_notify`, an error for a
    /// stream that ends without one unless the acceptor or connector
    /// allows dirty shutdowns. An error or a timeout of the underlying
    /// bufferevent after the handshake goes to the event callback as it
    /// came (`WRITING | ERROR` …; the error in
    /// [`take_error`](BufferEvent::take_error)). A flush with
    /// [`BEV_FINISHED`] sends `close_notify`, then finishes the
    /// underlying bufferevent.
    ///
    /// [`free`](BufferEvent::free) with [`BEV_OPT_CLOSE_ON_FREE`] frees the
    /// underlying bufferevent too (which closes its socket if it has
    /// close-on-free); without, the underlying one stays, its callbacks
    /// cleared. [`get_fd`](BufferEvent::get_fd) is the underlying one's.
    ///
    /// Errors: `base` or `underlying` freed, `underlying` on another base
    /// or already under a live filter.
    ///
    /// ```no_run
    /// use runtime::compat::{BufferEvent, EventBase, TlsRole, BEV_OPT_CLOSE_ON_FREE};
    /// use runtime::tls::{ClientConfig, TlsConnector};
    /// # fn demo() -> std::io::Result<()> {
    /// let base = EventBase::new()?;
    /// let tcp = BufferEvent::connect(&base, "127.0.0.1:8443".parse().unwrap())?;
    /// let connector = TlsConnector::new(ClientConfig::builder().ca_file("ca.pem")?.build()?);
    /// let role = TlsRole::Connecting { connector, server_name: "localhost".into() };
    /// let tls = BufferEvent::tls_filter_new(&base, &tcp, role, BEV_OPT_CLOSE_ON_FREE)?;
    /// tls.write(b"hello\n")?; // sent after the handshake
    /// base.dispatch()?;
    /// # Ok(()) }
    /// ```
    pub fn tls_filter_new(
        base: &BaseHandle,
        underlying: &BufferEvent,
        role: TlsRole,
        options: BevOptions,
    ) -> io::Result<BufferEvent> {
        let b = base.inner()?;
        let u = &underlying.inner;
        let ub = u.base()?;
        if !Rc::ptr_eq(&b, &ub) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "bufferevent_openssl_filter_new: the underlying bufferevent is on another base",
            ));
        }
        if u.status.has(bev_state::UNDER_FILTER) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "bufferevent_openssl_filter_new: the underlying bufferevent is already under a filter",
            ));
        }
        let link = Rc::new(Link::default());
        let sock = conn::Sock::Bev(Underlying {
            bev: u.clone(),
            link: link.clone(),
        });
        let conn = Conn::Tls(Box::new(conn::TlsConn::new(sock, role)));
        let inner = BevInner::create(&b, options, Some(conn), -1, false)?;
        if let Err(e) = install_callbacks(underlying, &inner, &link) {
            inner.free();
            return Err(e);
        }
        u.status.set(bev_state::UNDER_FILTER, true);
        *inner.underlying.borrow_mut() = Some(Hold {
            bev: u.clone(),
            gen: u.cb_gen[0].get(),
        });
        // As libevent: the filter reads everything the underlying one gets
        // (here up to a bound) and writes through it.
        underlying.setwatermark(EV_READ, 0, UNDERLYING_READ_HIGH)?;
        underlying.enable(EV_READ | EV_WRITE)?;
        Ok(BufferEvent { inner })
    }
}
