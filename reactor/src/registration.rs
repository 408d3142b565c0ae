//! Registrations: a descriptor known to the current thread's reactor, with
//! cached readiness bits and a list of waiters per direction (plus one for
//! peer close): any number of tasks may wait for the same readiness, and
//! all are woken (see [`Waiter`]). Readiness is cleared only after the I/O call said `WouldBlock`, and
//! only if the reactor has not delivered a newer event since (a tick
//! counter), so a wake-up is never lost between the failed call and the
//! waker being stored.
//!
//! A registration is edge-style by default: readiness is assumed until an
//! I/O call says otherwise, and the reactor asks the backend only for what
//! is not known. [`Registration::level`] makes one the libevent way
//! instead: level-triggered on every backend, for the interest its owner
//! sets, with readiness known only from the backend's reports — which
//! repeat at every reactor turn for as long as the condition lasts.

use crate::coop;
use crate::driver::{Inner, Reactor};
use crate::poller::Interest;
use crate::token::Token;
use crate::waiters::{Key, WaitKey, WaitList};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// Readiness bits of a registration.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Readiness(u8);

impl Readiness {
    /// Nothing known.
    pub const EMPTY: Readiness = Readiness(0);
    /// Reading would not block.
    pub const READABLE: Readiness = Readiness(1);
    /// Writing would not block.
    pub const WRITABLE: Readiness = Readiness(2);
    /// The peer shut down its write half (EOF is coming): libevent's `EV_CLOSED`.
    pub const READ_CLOSED: Readiness = Readiness(4);
    /// The connection hung up in both directions.
    pub const WRITE_CLOSED: Readiness = Readiness(8);
    /// An error is pending on the descriptor.
    pub const ERROR: Readiness = Readiness(16);

    /// Whether all bits of `other` are set.
    pub const fn contains(self, other: Readiness) -> bool {
        self.0 & other.0 == other.0
    }
    /// Whether any bit of `other` is set.
    pub const fn intersects(self, other: Readiness) -> bool {
        self.0 & other.0 != 0
    }
    /// Whether no bit is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// Peer closed its write half.
    pub const fn is_read_closed(self) -> bool {
        self.intersects(Readiness::READ_CLOSED)
    }
}

impl std::ops::BitOr for Readiness {
    type Output = Readiness;
    fn bitor(self, rhs: Readiness) -> Readiness {
        Readiness(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for Readiness {
    fn bitor_assign(&mut self, rhs: Readiness) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for Readiness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Readiness::READABLE, "READABLE"),
            (Readiness::WRITABLE, "WRITABLE"),
            (Readiness::READ_CLOSED, "READ_CLOSED"),
            (Readiness::WRITE_CLOSED, "WRITE_CLOSED"),
            (Readiness::ERROR, "ERROR"),
        ];
        let parts: Vec<&str> = names
            .iter()
            .filter(|(b, _)| self.intersects(*b))
            .map(|(_, n)| *n)
            .collect();
        write!(f, "Readiness({})", parts.join(" | "))
    }
}

/// A direction a task waits for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Direction {
    /// Readable (also satisfied by peer close and errors).
    Read,
    /// Writable (also satisfied by hang-up and errors).
    Write,
}

impl Direction {
    fn mask(self) -> Readiness {
        match self {
            Direction::Read => {
                Readiness(Readiness::READABLE.0 | Readiness::READ_CLOSED.0 | Readiness::ERROR.0)
            }
            Direction::Write => {
                Readiness(Readiness::WRITABLE.0 | Readiness::WRITE_CLOSED.0 | Readiness::ERROR.0)
            }
        }
    }
    fn clearable(self) -> Readiness {
        match self {
            Direction::Read => Readiness::READABLE,
            Direction::Write => Readiness::WRITABLE,
        }
    }
}

/// What a readiness poll saw: pass it back to [`Registration::clear_readiness`]
/// after the I/O call returned `WouldBlock`.
#[derive(Clone, Copy, Debug)]
pub struct ReadyEvent {
    tick: u32,
    direction: Direction,
    /// The readiness bits at the time of the poll.
    pub ready: Readiness,
}

/// One registration's state. Laid out in declaration order (`repr(C)`),
/// on a cache line of its own: what every event and every readiness poll
/// reads comes first, then the read waiters (the list a server's sockets
/// wait on between requests), so that the usual event touches one or two
/// lines rather than a line per field.
#[repr(C, align(64))]
pub(crate) struct Slot {
    readiness: Cell<Readiness>,
    /// The waiter lists that may hold a waker, one bit per [`Which`]: an
    /// event takes wakers only from those, so a socket with nobody waiting
    /// to write is not looked into for writers on every readable event.
    /// Set by [`store`](Self::store), cleared when a list's wakers are taken.
    waiting: Cell<u8>,
    /// Whether the backend has delivered any event for this registration.
    delivered: Cell<bool>,
    /// Whether `failed` is set: what the wait path reads (one load).
    has_failed: Cell<bool>,
    tick: Cell<u32>,
    pub(crate) fd: RawFd,
    /// Interest armed in a level-triggered backend (unused with epoll), or
    /// the owner's interest of a level registration.
    pub(crate) armed: Cell<Interest>,
    /// A level registration ([`Registration::level`]): the owner sets the
    /// interest, the reactor neither arms nor disarms it.
    pub(crate) level: bool,
    pub(crate) token: Token,
    /// Waiters for reading, writing and peer close (indexed by [`Which`]).
    waiters: [RefCell<WaitList>; 3],
    /// Set when the backend refused a change of this registration's
    /// interest: it may never report the descriptor again, so every wait
    /// fails with (a copy of) this error instead of hanging.
    failed: RefCell<Option<io::Error>>,
}

/// Which waiter list: one per direction, and one for peer close.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Which {
    Read = 0,
    Write = 1,
    Closed = 2,
}

impl From<Direction> for Which {
    fn from(dir: Direction) -> Which {
        match dir {
            Direction::Read => Which::Read,
            Direction::Write => Which::Write,
        }
    }
}

impl Slot {
    pub(crate) fn readiness(&self) -> Readiness {
        self.readiness.get()
    }

    /// Called by the reactor when the backend reports an event. Without
    /// early-close support a close can only show as readability, so the
    /// close waiter is woken on that too and probes.
    pub(crate) fn set_ready(&self, ready: Readiness, early_close: bool, wakers: &mut Vec<Waker>) {
        self.readiness.set(self.readiness.get() | ready);
        self.tick.set(self.tick.get().wrapping_add(1));
        self.delivered.set(true);
        if ready.intersects(Direction::Read.mask()) {
            self.take_wakers(Which::Read, wakers);
        }
        if ready.intersects(Direction::Write.mask()) {
            self.take_wakers(Which::Write, wakers);
        }
        let close_mask = if early_close {
            Readiness(Readiness::READ_CLOSED.0 | Readiness::ERROR.0)
        } else {
            Readiness(Readiness::READ_CLOSED.0 | Readiness::ERROR.0 | Readiness::READABLE.0)
        };
        if ready.intersects(close_mask) {
            self.take_wakers(Which::Closed, wakers);
        }
    }

    /// Moves list `which`'s wakers to `wakers`, if it may hold any.
    #[inline]
    fn take_wakers(&self, which: Which, wakers: &mut Vec<Waker>) {
        let bit = 1 << which as u8;
        if self.waiting.get() & bit != 0 {
            self.waiting.set(self.waiting.get() & !bit);
            self.list(which).take_wakers(wakers);
        }
    }

    fn list(&self, which: Which) -> std::cell::RefMut<'_, WaitList> {
        self.waiters[which as usize].borrow_mut()
    }

    /// Records that the backend refused a change of interest and moves
    /// every waiter's waker to `wakers`: they wake, poll, and get the
    /// error. The first error is kept.
    pub(crate) fn fail(&self, err: io::Error, wakers: &mut Vec<Waker>) {
        {
            let mut failed = self.failed.borrow_mut();
            if failed.is_none() {
                *failed = Some(err);
                self.has_failed.set(true);
            }
        }
        for which in [Which::Read, Which::Write, Which::Closed] {
            self.take_wakers(which, wakers);
        }
    }

    /// [`fail`](Self::fail), waking the waiters at once (outside every
    /// borrow of the slot).
    fn fail_now(&self, err: io::Error) {
        let mut wakers = Vec::new();
        self.fail(err, &mut wakers);
        for w in wakers {
            w.wake();
        }
    }

    /// The stored failure, as a fresh error (same OS code, or same kind
    /// and message).
    #[inline]
    fn failure(&self) -> Option<io::Error> {
        if !self.has_failed.get() {
            return None;
        }
        self.stored_failure()
    }

    #[cold]
    fn stored_failure(&self) -> Option<io::Error> {
        let failed = self.failed.borrow();
        let e = failed.as_ref()?;
        Some(match e.raw_os_error() {
            Some(code) => io::Error::from_raw_os_error(code),
            None => io::Error::new(e.kind(), e.to_string()),
        })
    }

    /// Stores the waker in the shared slot (`key` is `None`) or in the
    /// future's own entry.
    fn store(&self, which: Which, key: Option<&mut Option<Key>>, waker: &Waker) {
        self.waiting.set(self.waiting.get() | 1 << which as u8);
        let mut list = self.list(which);
        match key {
            None => list.set_shared(waker),
            Some(k) => list.set_keyed(k, waker),
        }
    }
}

/// Peeks one byte of a socket: `Some(true)` at EOF, `Some(false)` when data
/// is pending, `None` when nothing can be told yet (would block, or not a
/// socket).
fn peek_closed(fd: RawFd) -> Option<bool> {
    let mut b = 0u8;
    // SAFETY: peeks at most one byte into a live local; MSG_DONTWAIT never blocks.
    let n = unsafe {
        libc::recv(
            fd,
            (&mut b as *mut u8).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    match n {
        0 => Some(true),
        n if n > 0 => Some(false),
        _ => {
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::ECONNRESET) | Some(libc::EPIPE) => Some(true),
                _ => None,
            }
        }
    }
}

/// A descriptor registered with a thread's reactor.
///
/// # Ownership
///
/// The safe constructors take the descriptor by value (an [`OwnedFd`], or
/// anything that converts into one, such as a std socket): the
/// registration owns it, deregisters it when dropped and closes it after
/// that, so it can never deregister or watch a descriptor it does not own
/// (a number closed by someone else and reused by a new file).
/// [`into_fd`](Self::into_fd) deregisters and hands the descriptor back.
/// Use [`as_fd`](AsFd::as_fd) (or [`fd`](Self::fd)) for the I/O calls.
/// The `unsafe` constructors ([`with_reactor_unowned`]
/// (Self::with_reactor_unowned), [`level_unowned`](Self::level_unowned))
/// take a raw number owned elsewhere, for callers whose API is built on
/// raw descriptors (libevent's); their `# Safety` section states the rule.
///
/// It is `!Send`: it belongs to the reactor of the thread that made it.
///
/// # Used outside its runtime
///
/// A registration waits only on the reactor that made it. When one of its
/// `poll_*` / async methods would have to wait while another reactor is
/// the thread's current one (the object was moved into a different
/// runtime), or after the last handle of its reactor was dropped (its
/// runtime is gone), it fails with an `io::Error` of kind `Other` naming
/// the cause instead of waiting forever. Calls that need no wait still
/// succeed (the descriptor itself is fine). With no reactor current and
/// its own still alive, it waits as usual: its owner may be turning the
/// reactor by hand ([`Reactor::turn`]).
///
/// # Failures of the backend
///
/// When the backend refuses a change this registration needs (for
/// example `EPOLL_CTL_MOD` on a descriptor that was closed behind its
/// back), the error is stored and every waiting task is woken: from then
/// on every wait of the registration fails with that error.
///
/// ```
/// use runtime::reactor::{Reactor, Registration};
/// let reactor = Reactor::new().unwrap();
/// let _enter = reactor.enter();
/// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
/// a.set_nonblocking(true).unwrap();
/// let reg = Registration::new(a).unwrap(); // owns the socket from now on
/// assert!(reg.readiness().is_empty() == false); // optimistic until WouldBlock
/// let a = std::os::unix::net::UnixStream::from(reg.into_fd().unwrap());
/// ```
pub struct Registration {
    reactor: Rc<Inner>,
    slot: Rc<Slot>,
    /// The descriptor, when the registration owns it: closed (by this
    /// field's drop) after `Drop` deregistered it.
    owned: Option<OwnedFd>,
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("fd", &self.slot.fd)
            .field("readiness", &self.slot.readiness())
            .finish()
    }
}

impl Registration {
    /// Registers `fd` (which should be non-blocking) with the current
    /// thread's reactor and takes ownership of it. Outside a reactor it is
    /// an error (and the descriptor is closed, as on every error).
    pub fn new(fd: impl Into<OwnedFd>) -> io::Result<Registration> {
        let inner = Reactor::current_inner()?;
        Registration::register(inner, Fd::Owned(fd.into()), None)
    }

    /// Registers `fd` with the given reactor and takes ownership of it.
    pub fn with_reactor(reactor: &Reactor, fd: impl Into<OwnedFd>) -> io::Result<Registration> {
        Registration::register(reactor.inner.clone(), Fd::Owned(fd.into()), None)
    }

    /// [`with_reactor`](Self::with_reactor) for a descriptor the
    /// registration does not own: it neither closes it nor keeps it open.
    /// A closed or invalid number is an error (`EBADF`).
    ///
    /// # Safety
    ///
    /// `fd` must stay open, and keep referring to the same open file, until
    /// the registration is dropped: not closed, not replaced with `dup2`,
    /// its number not reused by another file meanwhile. Otherwise dropping
    /// the registration may deregister the other file that took the number
    /// (an I/O-safety violation: that file's waits would never end), and
    /// waits of this registration may never end.
    pub unsafe fn with_reactor_unowned(reactor: &Reactor, fd: RawFd) -> io::Result<Registration> {
        Registration::register(reactor.inner.clone(), Fd::Unowned(fd), None)
    }

    /// Registers `fd` with `reactor` level-triggered, for `interest` only,
    /// as libevent watches a descriptor: nothing is assumed ready; each
    /// reactor turn in which the backend finds the descriptor ready for an
    /// interest sets that readiness (and wakes its waiter), turn after turn
    /// while it lasts. After handling it, [`clear_readiness`]
    /// (Self::clear_readiness) and poll again: if the condition still holds,
    /// the next turn reports it again. No `WouldBlock` is needed, which
    /// suits callers that do their I/O outside the registration (a callback
    /// layer). Change what is watched with [`set_interest`]
    /// (Self::set_interest); with no interest, only hang-up and error are
    /// reported.
    ///
    /// ```
    /// use runtime::reactor::{Direction, Interest, Reactor, Registration};
    /// use std::io::Write;
    /// use std::task::{Context, Poll, Waker};
    ///
    /// let reactor = Reactor::new().unwrap();
    /// let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// a.set_nonblocking(true).unwrap();
    /// let reg = Registration::level(&reactor, a, Interest::READ).unwrap();
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert!(reg.poll_ready(Direction::Read, &mut cx).is_pending());
    /// b.write_all(b"x").unwrap();
    /// reactor.turn(None).unwrap();
    /// let Poll::Ready(Ok(ev)) = reg.poll_ready(Direction::Read, &mut cx) else { panic!() };
    /// reg.clear_readiness(ev); // the byte is still unread:
    /// assert!(reg.poll_ready(Direction::Read, &mut cx).is_pending());
    /// reactor.turn(None).unwrap(); // ... so the next turn reports it again
    /// assert!(reg.poll_ready(Direction::Read, &mut cx).is_ready());
    /// ```
    pub fn level(
        reactor: &Reactor,
        fd: impl Into<OwnedFd>,
        interest: Interest,
    ) -> io::Result<Registration> {
        Registration::register(reactor.inner.clone(), Fd::Owned(fd.into()), Some(interest))
    }

    /// [`level`](Self::level) for a descriptor the registration does not
    /// own: it neither closes it nor keeps it open.
    ///
    /// # Safety
    ///
    /// As for [`with_reactor_unowned`](Self::with_reactor_unowned): `fd`
    /// must stay open, referring to the same file, until the registration
    /// is dropped.
    pub unsafe fn level_unowned(
        reactor: &Reactor,
        fd: RawFd,
        interest: Interest,
    ) -> io::Result<Registration> {
        Registration::register(reactor.inner.clone(), Fd::Unowned(fd), Some(interest))
    }

    /// Whether this is a [`level`](Self::level) registration.
    pub fn is_level(&self) -> bool {
        self.slot.level
    }

    /// Changes what a [`level`](Self::level) registration watches (one
    /// `epoll_ctl` with epoll when it changes). An error for other
    /// registrations, whose interest the reactor manages.
    pub fn set_interest(&self, interest: Interest) -> io::Result<()> {
        if !self.slot.level {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "set_interest: not a level registration",
            ));
        }
        if self.slot.armed.get() == interest {
            return Ok(());
        }
        let r = self.reactor.poller.borrow().modify_level(
            self.slot.fd,
            self.slot.token.raw(),
            interest,
        );
        match r {
            Ok(()) => {
                self.slot.armed.set(interest);
                Ok(())
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    /// The backend refused a change: the registration fails every wait
    /// from now on; its waiters are woken to see it. Returns a copy of the
    /// error for the caller.
    #[cold]
    fn fail(&self, err: io::Error) -> io::Error {
        self.slot.fail_now(err);
        self.slot.failure().expect("failure was just stored")
    }

    /// Whether a task may wait on this registration here; the error to
    /// return instead when it may not (see the type's docs).
    #[inline]
    fn check_wait(&self) -> io::Result<()> {
        if let Some(why) = self.reactor.elsewhere() {
            return Err(why.io_error());
        }
        match self.slot.failure() {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }

    fn register(inner: Rc<Inner>, fd: Fd, level: Option<Interest>) -> io::Result<Registration> {
        let (fd, owned) = match fd {
            Fd::Owned(o) => (o.as_raw_fd(), Some(o)),
            Fd::Unowned(raw) => (raw, None),
        };
        let generation = inner.next_generation();
        let mut slots = inner.slots.borrow_mut();
        let index = slots.vacant_key();
        if index > u32::MAX as usize {
            return Err(io::Error::other("too many registrations"));
        }
        let token = Token::slot(index as u32, generation);
        // Start optimistic: the first I/O call is tried before any wait.
        // Level-triggered backends therefore watch nothing until a
        // `WouldBlock` clears a direction.
        // A level registration assumes nothing and watches what it was
        // given.
        let (armed, readiness) = match level {
            Some(interest) => {
                inner.poller.borrow().add_level(fd, token.raw(), interest)?;
                (interest, Readiness::EMPTY)
            }
            None => {
                let armed = if inner.edge_triggered() {
                    Interest::BOTH
                } else {
                    Interest::NONE
                };
                inner.poller.borrow().add(fd, token.raw(), armed)?;
                (armed, Readiness::READABLE | Readiness::WRITABLE)
            }
        };
        let slot = Rc::new(Slot {
            fd,
            token,
            readiness: Cell::new(readiness),
            waiting: Cell::new(0),
            tick: Cell::new(0),
            delivered: Cell::new(false),
            armed: Cell::new(armed),
            level: level.is_some(),
            waiters: Default::default(),
            failed: RefCell::new(None),
            has_failed: Cell::new(false),
        });
        let got = slots.insert(slot.clone());
        debug_assert_eq!(got, index);
        drop(slots);
        Ok(Registration {
            reactor: inner,
            slot,
            owned,
        })
    }

    /// Deregisters and hands back the descriptor if the registration owns
    /// it (`None` for the `*_unowned` ones, whose descriptor stays with its
    /// owner).
    pub fn into_fd(mut self) -> Option<OwnedFd> {
        self.owned.take()
    }

    /// The registered descriptor's number (see also [`as_fd`](AsFd::as_fd)).
    pub fn fd(&self) -> RawFd {
        self.slot.fd
    }

    /// Whether the registration owns its descriptor (it was made by a
    /// safe constructor).
    pub fn owns_fd(&self) -> bool {
        self.owned.is_some()
    }

    /// The readiness currently cached.
    pub fn readiness(&self) -> Readiness {
        self.slot.readiness()
    }

    /// Ready when the direction is (believed) ready; otherwise stores the
    /// waker and returns `Pending`. Spends one unit of cooperative budget.
    ///
    /// The waker goes to the direction's one shared `poll_*` slot: when
    /// several tasks call `poll_ready` for the same direction, only the
    /// most recent caller's waker is kept (as with tokio's and smol's
    /// `poll_*` methods). Tasks that wait at the same time each use a
    /// [`Waiter`] (or [`ready`](Self::ready) / [`io`](Self::io), built on
    /// it) instead: every one of them is woken.
    #[inline]
    pub fn poll_ready(&self, dir: Direction, cx: &mut Context<'_>) -> Poll<io::Result<ReadyEvent>> {
        self.poll_ready_in(dir, cx, None)
    }

    /// [`poll_ready`](Self::poll_ready) with the waker kept in the shared
    /// slot (`key` is `None`) or in a future's own entry, which is
    /// removed once the future sees readiness. The ready case is inline
    /// (every read and write asks first); the waiting one, which stores the
    /// waker, is out of line.
    #[inline]
    fn poll_ready_in(
        &self,
        dir: Direction,
        cx: &mut Context<'_>,
        key: Option<&mut Option<Key>>,
    ) -> Poll<io::Result<ReadyEvent>> {
        let ready = self.slot.readiness();
        if ready.intersects(dir.mask()) {
            if coop::poll_proceed(cx).is_pending() {
                return Poll::Pending;
            }
            if let Some(k) = key {
                self.slot.list(dir.into()).remove_key(k);
            }
            return Poll::Ready(Ok(ReadyEvent {
                tick: self.slot.tick.get(),
                direction: dir,
                ready,
            }));
        }
        self.wait_for(dir, cx, key)
    }

    /// The waiting half of [`poll_ready_in`](Self::poll_ready_in): stores
    /// the waker and arms the direction.
    #[inline(never)]
    fn wait_for(
        &self,
        dir: Direction,
        cx: &mut Context<'_>,
        mut key: Option<&mut Option<Key>>,
    ) -> Poll<io::Result<ReadyEvent>> {
        if let Err(e) = self.check_wait() {
            if let Some(k) = key {
                self.slot.list(dir.into()).remove_key(k);
            }
            return Poll::Ready(Err(e));
        }
        self.slot.store(dir.into(), key.as_deref_mut(), cx.waker());
        match self.arm(dir) {
            Ok(()) => Poll::Pending,
            Err(e) => {
                if let Some(k) = key {
                    self.slot.list(dir.into()).remove_key(k);
                }
                Poll::Ready(Err(e))
            }
        }
    }

    /// A waiter of its own for `dir`: a task that polls it is woken when
    /// the direction becomes ready, whatever other tasks wait on the same
    /// registration; dropping it removes its entry. One waiting `Waiter`
    /// per registration and direction costs no allocation.
    ///
    /// ```
    /// use runtime::reactor::{Direction, Reactor, Registration};
    /// use std::io::Write;
    /// use std::task::{Context, Waker};
    /// let reactor = Reactor::new().unwrap();
    /// let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// a.set_nonblocking(true).unwrap();
    /// let reg = Registration::with_reactor(&reactor, a).unwrap();
    /// reg.clear(Direction::Read).unwrap();
    /// let mut cx = Context::from_waker(Waker::noop());
    /// let (mut w1, mut w2) = (reg.waiter(Direction::Read), reg.waiter(Direction::Read));
    /// assert!(w1.poll_ready(&mut cx).is_pending());
    /// assert!(w2.poll_ready(&mut cx).is_pending());
    /// assert_eq!(reg.waiters(Direction::Read), 2);
    /// drop(w2);
    /// assert_eq!(reg.waiters(Direction::Read), 1);
    /// b.write_all(b"x").unwrap();
    /// reactor.turn(None).unwrap(); // wakes w1's task
    /// assert!(w1.poll_ready(&mut cx).is_ready());
    /// ```
    pub fn waiter(&self, dir: Direction) -> Waiter<'_> {
        Waiter {
            reg: self,
            which: dir.into(),
            key: None,
        }
    }

    /// [`poll_ready`](Self::poll_ready) for a waiter that is kept beside
    /// the registration instead of borrowing it (as a [`Waiter`] does):
    /// the waker goes to the entry `key` names in `dir`'s waiter list,
    /// made on first use, so any number of keyed waiters wait at once and
    /// all are woken. The entry is removed when the direction is seen
    /// ready; a waiter that stops waiting before that gives its key back
    /// to [`remove_waiter`](Self::remove_waiter). A key belongs to one
    /// registration and one direction.
    ///
    /// ```
    /// use runtime::reactor::{Direction, Reactor, Registration, WaitKey};
    /// use std::task::{Context, Waker};
    /// let reactor = Reactor::new().unwrap();
    /// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// a.set_nonblocking(true).unwrap();
    /// let reg = Registration::with_reactor(&reactor, a).unwrap();
    /// reg.clear(Direction::Read).unwrap();
    /// let mut cx = Context::from_waker(Waker::noop());
    /// let (mut k1, mut k2) = (WaitKey::new(), WaitKey::new());
    /// assert!(reg.poll_ready_keyed(Direction::Read, &mut cx, &mut k1).is_pending());
    /// assert!(reg.poll_ready_keyed(Direction::Read, &mut cx, &mut k2).is_pending());
    /// assert_eq!(reg.waiters(Direction::Read), 2);
    /// reg.remove_waiter(Direction::Read, &mut k2);
    /// assert_eq!(reg.waiters(Direction::Read), 1);
    /// assert!(!k2.is_registered());
    /// ```
    pub fn poll_ready_keyed(
        &self,
        dir: Direction,
        cx: &mut Context<'_>,
        key: &mut WaitKey,
    ) -> Poll<io::Result<ReadyEvent>> {
        self.poll_ready_in(dir, cx, Some(&mut key.0))
    }

    /// [`poll_closed`](Self::poll_closed) with the waker in the entry
    /// `key` names in the peer-close waiter list (see
    /// [`poll_ready_keyed`](Self::poll_ready_keyed)); give the key back to
    /// [`remove_closed_waiter`](Self::remove_closed_waiter).
    pub fn poll_closed_keyed(
        &self,
        cx: &mut Context<'_>,
        key: &mut WaitKey,
    ) -> Poll<io::Result<()>> {
        self.poll_closed_in(cx, Some(&mut key.0))
    }

    /// Removes the entry `key` names from `dir`'s waiter list, if any (a
    /// keyed waiter stopped waiting); the key is empty afterwards.
    pub fn remove_waiter(&self, dir: Direction, key: &mut WaitKey) {
        if key.0.is_some() {
            self.slot.list(dir.into()).remove_key(&mut key.0);
        }
    }

    /// [`remove_waiter`](Self::remove_waiter) for the peer-close list.
    pub fn remove_closed_waiter(&self, key: &mut WaitKey) {
        if key.0.is_some() {
            self.slot.list(Which::Closed).remove_key(&mut key.0);
        }
    }

    /// Number of wakers stored for `dir` and not woken yet: waiting
    /// [`Waiter`]s plus the shared `poll_*` slot if set. Diagnostics and
    /// tests.
    pub fn waiters(&self, dir: Direction) -> usize {
        self.slot.list(dir.into()).waiting()
    }

    /// [`poll_ready`](Self::poll_ready) for reading.
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<ReadyEvent>> {
        self.poll_ready(Direction::Read, cx)
    }

    /// [`poll_ready`](Self::poll_ready) for writing.
    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<ReadyEvent>> {
        self.poll_ready(Direction::Write, cx)
    }

    /// Ready once the peer has closed its write half or the descriptor has
    /// an error, without consuming data (libevent's `EV_CLOSED`). Backends
    /// with [`Features::EARLY_CLOSE`](crate::Features::EARLY_CLOSE) (epoll,
    /// poll) notice a close even while unread data is pending; select notices
    /// it on sockets once the pending data has been read (it peeks with
    /// `MSG_PEEK`), and cannot tell on other descriptor kinds.
    ///
    /// Like [`poll_ready`](Self::poll_ready), this keeps the most recent
    /// caller's waker only; [`closed`](Self::closed) futures each wait
    /// on their own.
    pub fn poll_closed(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_closed_in(cx, None)
    }

    fn poll_closed_in(
        &self,
        cx: &mut Context<'_>,
        mut key: Option<&mut Option<Key>>,
    ) -> Poll<io::Result<()>> {
        let closed = Readiness(Readiness::READ_CLOSED.0 | Readiness::ERROR.0);
        if self.slot.readiness().intersects(closed) {
            if let Some(k) = key {
                self.slot.list(Which::Closed).remove_key(k);
            }
            return Poll::Ready(Ok(()));
        }
        if let Err(e) = self.check_wait() {
            if let Some(k) = key {
                self.slot.list(Which::Closed).remove_key(k);
            }
            return Poll::Ready(Err(e));
        }
        self.slot
            .store(Which::Closed, key.as_deref_mut(), cx.waker());
        if self.reactor.edge_triggered() {
            return Poll::Pending;
        }
        if self.slot.level && self.reactor.early_close() {
            // The owner's interest says whether a close is watched.
            return Poll::Pending;
        }
        if self.reactor.early_close() {
            if let Err(e) = self.force_arm_closed() {
                if let Some(k) = key {
                    self.slot.list(Which::Closed).remove_key(k);
                }
                return Poll::Ready(Err(e));
            }
            return Poll::Pending;
        }
        match peek_closed(self.slot.fd) {
            Some(true) => {
                self.slot
                    .readiness
                    .set(self.slot.readiness() | Readiness::READ_CLOSED);
                let mut list = self.slot.list(Which::Closed);
                match key {
                    None => list.clear_shared(),
                    Some(k) => list.remove_key(k),
                }
                Poll::Ready(Ok(()))
            }
            // Data is pending: the close cannot show until it is read.
            Some(false) => Poll::Pending,
            None => match self.force_arm(Direction::Read) {
                Ok(()) => Poll::Pending,
                Err(e) => {
                    if let Some(k) = key {
                        self.slot.list(Which::Closed).remove_key(k);
                    }
                    Poll::Ready(Err(e))
                }
            },
        }
    }

    /// Forgets readiness for the event's direction, unless the reactor has
    /// delivered a newer event since it was observed. Call it after the I/O
    /// call returned `WouldBlock` (or, for stream sockets, after a short
    /// read, which means the kernel buffer was drained).
    pub fn clear_readiness(&self, event: ReadyEvent) {
        if self.slot.tick.get() != event.tick {
            return;
        }
        // A pending socket error is returned by the next I/O call, so once a
        // call said `WouldBlock` (or drained the buffer) the error bit is
        // stale too; peer-close bits stay, they are final.
        let cur = self.slot.readiness();
        let cleared = Readiness(cur.0 & !(event.direction.clearable().0 | Readiness::ERROR.0));
        self.slot.readiness.set(cleared);
        // A refusal is stored in the slot: the next wait reports it.
        let _stored = self.arm(event.direction);
    }

    /// Forgets the cached readiness of `dir` now, whatever the reactor
    /// delivered before, and asks the backend afresh: the next
    /// [`poll_ready`](Self::poll_ready) for that direction waits until the
    /// backend reports the descriptor ready (at once if it is). Use it when
    /// the cache must not be trusted — a socket whose `connect` returned
    /// `EINPROGRESS` is not writable yet, though a fresh registration starts
    /// optimistic — or, on a [`level`](Self::level) registration, to drop a
    /// report already handled without a [`ReadyEvent`]. Peer-close bits are
    /// final and stay; a pending error bit is cleared with the direction
    /// (the next I/O call reports the error itself). Unlike
    /// [`clear_readiness`](Self::clear_readiness) this spends no
    /// cooperative budget and needs no waker; with epoll it costs one
    /// `epoll_ctl(EPOLL_CTL_MOD)` once the backend has delivered an event
    /// for the registration (the edge is re-armed so a descriptor that is
    /// in fact ready is reported again), elsewhere none beyond arming the
    /// direction. The error is the backend's; it is also stored, so tasks
    /// waiting on the registration wake and get it (see the type's docs).
    ///
    /// ```
    /// use runtime::reactor::{Direction, Reactor, Registration};
    /// use std::task::{Context, Waker};
    /// let reactor = Reactor::new().unwrap();
    /// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    /// a.set_nonblocking(true).unwrap();
    /// let reg = Registration::with_reactor(&reactor, a).unwrap();
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert!(reg.poll_ready(Direction::Read, &mut cx).is_ready()); // optimistic
    /// reg.clear(Direction::Read).unwrap();
    /// assert!(reg.poll_ready(Direction::Read, &mut cx).is_pending());
    /// ```
    pub fn clear(&self, dir: Direction) -> io::Result<()> {
        let cur = self.slot.readiness();
        let cleared = Readiness(cur.0 & !(dir.clearable().0 | Readiness::ERROR.0));
        self.slot.readiness.set(cleared);
        // Until the backend has delivered an event for this registration,
        // whatever the kernel found ready at registration is still queued
        // for the next wait: nothing to re-arm (a fresh socket whose
        // connect is in progress costs no system call here).
        if self.reactor.edge_triggered() && !self.slot.level && self.slot.delivered.get() {
            let r = self
                .reactor
                .poller
                .borrow()
                .rearm(self.slot.fd, self.slot.token.raw());
            return r.map_err(|e| self.fail(e));
        }
        self.arm(dir)
    }

    /// On level-triggered backends, ask the backend for a direction whose
    /// readiness is not known. A refusal is stored (see [`fail`](Self::fail)).
    fn arm(&self, dir: Direction) -> io::Result<()> {
        if self.reactor.edge_triggered()
            || self.slot.level
            || self.slot.readiness().intersects(dir.clearable())
        {
            return Ok(());
        }
        self.force_arm(dir)
    }

    fn force_arm_closed(&self) -> io::Result<()> {
        if self.slot.level {
            return Ok(()); // the owner's interest decides
        }
        let armed = self.slot.armed.get();
        if armed.closed {
            return Ok(());
        }
        self.modify(Interest {
            closed: true,
            ..armed
        })
    }

    fn force_arm(&self, dir: Direction) -> io::Result<()> {
        if self.slot.level {
            return Ok(()); // the owner's interest decides
        }
        let armed = self.slot.armed.get();
        let want = match dir {
            Direction::Read => Interest {
                read: true,
                ..armed
            },
            Direction::Write => Interest {
                write: true,
                ..armed
            },
        };
        if want == armed {
            return Ok(());
        }
        self.modify(want)
    }

    /// Asks a level-triggered backend for `want`; a refusal is stored.
    fn modify(&self, want: Interest) -> io::Result<()> {
        let r = self
            .reactor
            .poller
            .borrow()
            .modify(self.slot.fd, self.slot.token.raw(), want);
        match r {
            Ok(()) => {
                self.slot.armed.set(want);
                Ok(())
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Runs `op` once the direction is ready, clearing readiness and waiting
    /// again whenever it fails with `WouldBlock`.
    ///
    /// ```no_run
    /// # use runtime::reactor::{Registration, Direction};
    /// # fn f(reg: &Registration, cx: &mut std::task::Context<'_>, buf: &mut [u8]) {
    /// let poll = reg.poll_io(Direction::Read, cx, || {
    ///     // SAFETY: `buf` is valid for writes of `buf.len()` bytes.
    ///     let n = unsafe { libc::read(reg.fd(), buf.as_mut_ptr().cast(), buf.len()) };
    ///     if n < 0 { Err(std::io::Error::last_os_error()) } else { Ok(n as usize) }
    /// });
    /// # }
    /// ```
    pub fn poll_io<R>(
        &self,
        dir: Direction,
        cx: &mut Context<'_>,
        mut op: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        loop {
            let ev = match self.poll_ready(dir, cx) {
                Poll::Ready(Ok(ev)) => ev,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            match op() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.clear_readiness(ev),
                r => return Poll::Ready(r),
            }
        }
    }

    /// Waits until the direction is ready (with a [`Waiter`] of its own:
    /// any number of tasks may wait at once).
    pub async fn ready(&self, dir: Direction) -> io::Result<ReadyEvent> {
        let mut w = self.waiter(dir);
        std::future::poll_fn(|cx| w.poll_ready(cx)).await
    }

    /// Waits until the peer closes (see [`poll_closed`](Self::poll_closed));
    /// any number of tasks may wait at once.
    pub async fn closed(&self) -> io::Result<()> {
        let mut w = Waiter {
            reg: self,
            which: Which::Closed,
            key: None,
        };
        std::future::poll_fn(|cx| self.poll_closed_in(cx, Some(&mut w.key))).await
    }

    /// Runs `op` until it does not return `WouldBlock` (see
    /// [`poll_io`](Self::poll_io)), with a [`Waiter`] of its own.
    pub async fn io<R>(
        &self,
        dir: Direction,
        mut op: impl FnMut() -> io::Result<R>,
    ) -> io::Result<R> {
        let mut w = self.waiter(dir);
        std::future::poll_fn(|cx| w.poll_io(cx, &mut op)).await
    }
}

/// One task's place in a registration's waiter list for a direction (see
/// [`Registration::waiter`]). Polling it stores the task's waker in its
/// own entry, so any number of `Waiter`s of one registration wait at once
/// and all are woken; dropping it (or its seeing readiness) removes the
/// entry.
pub struct Waiter<'a> {
    reg: &'a Registration,
    which: Which,
    key: Option<Key>,
}

impl fmt::Debug for Waiter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waiter")
            .field("fd", &self.reg.slot.fd)
            .field("which", &self.which)
            .field("waiting", &self.key.is_some())
            .finish()
    }
}

impl Waiter<'_> {
    /// The direction waited for.
    pub fn direction(&self) -> Direction {
        match self.which {
            Which::Write => Direction::Write,
            _ => Direction::Read,
        }
    }

    /// [`Registration::poll_ready`] with this waiter's own entry.
    pub fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<ReadyEvent>> {
        let dir = self.direction();
        self.reg.poll_ready_in(dir, cx, Some(&mut self.key))
    }

    /// [`Registration::poll_io`] with this waiter's own entry.
    pub fn poll_io<R>(
        &mut self,
        cx: &mut Context<'_>,
        mut op: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        loop {
            let ev = match self.poll_ready(cx) {
                Poll::Ready(Ok(ev)) => ev,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            match op() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.reg.clear_readiness(ev),
                r => return Poll::Ready(r),
            }
        }
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        if self.key.is_some() {
            self.reg.slot.list(self.which).remove_key(&mut self.key);
        }
    }
}

impl AsFd for Registration {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: an owned descriptor is open until `self` drops; an
        // unowned one stays open while it is registered, by the contract of
        // the unsafe constructor that made `self`.
        unsafe { BorrowedFd::borrow_raw(self.slot.fd) }
    }
}

impl AsRawFd for Registration {
    fn as_raw_fd(&self) -> RawFd {
        self.slot.fd
    }
}

/// What a constructor was given.
enum Fd {
    Owned(OwnedFd),
    Unowned(RawFd),
}

impl Drop for Registration {
    fn drop(&mut self) {
        // Deregister first; an owned descriptor is closed after this body,
        // when the `owned` field drops. An unowned one may already be
        // closed (the kernel then dropped it from epoll by itself): ignore
        // the error.
        let _ = self.reactor.poller.borrow().delete(self.slot.fd);
        let index = self.slot.token.index();
        let mut slots = self.reactor.slots.borrow_mut();
        if slots.get(index).is_some_and(|s| Rc::ptr_eq(s, &self.slot)) {
            slots.remove(index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PollerConfig, ReactorConfig};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// When a level-triggered backend refuses to arm a direction (here poll
    /// and select answer `NotFound`: the entry went missing behind the
    /// registration's back), the next wait fails with that error instead
    /// of waiting for an event that can never come; so does every waiter.
    #[test]
    fn refused_arm_fails_the_waits() {
        for method in ["poll", "select"] {
            let poller = PollerConfig::new().ignore_env(true).method(method).unwrap();
            let r = Reactor::with_config(ReactorConfig::new().poller(poller)).unwrap();
            let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
            a.set_nonblocking(true).unwrap();
            let reg = Registration::with_reactor(&r, a).unwrap();
            let count = Arc::new(Count(AtomicUsize::new(0)));
            let waker = Waker::from(count.clone());
            let mut cx = Context::from_waker(&waker);
            // A second task already waits for writing (armed: no error yet).
            reg.clear(Direction::Write).unwrap();
            let mut w = reg.waiter(Direction::Write);
            assert!(w.poll_ready(&mut cx).is_pending());
            r.inner.poller.borrow().delete(reg.fd()).unwrap();
            // Optimistic read readiness, then WouldBlock: arming fails.
            let Poll::Ready(Ok(ev)) = reg.poll_ready(Direction::Read, &mut cx) else {
                panic!("{method}: fresh registration is optimistic");
            };
            reg.clear_readiness(ev);
            assert_eq!(count.0.load(Ordering::SeqCst), 1, "{method}: writer woken");
            for p in [
                reg.poll_ready(Direction::Read, &mut cx),
                w.poll_ready(&mut cx),
            ] {
                match p {
                    Poll::Ready(Err(e)) => assert_eq!(e.kind(), io::ErrorKind::NotFound),
                    other => panic!("{method}: expected the stored error, got {other:?}"),
                }
            }
            assert!(matches!(reg.poll_closed(&mut cx), Poll::Ready(Err(_))));
            assert_eq!(reg.waiters(Direction::Write), 0);
            assert_eq!(reg.waiters(Direction::Read), 0);
        }
    }
}
