//! The per-thread reactor: one [`Poller`], the registration table, the timer
//! wheel, signal listeners and the cached clock. A reactor belongs to the
//! thread that created it; [`Reactor::enter`] makes it the thread's current
//! one, which registrations, timers and signals find implicitly.

use crate::poller::{Event, Features, Interest, Method, Poller, PollerConfig};
use crate::registration::{Readiness, Slot};
use crate::signal::SignalState;
use crate::slab::Slab;
use crate::time::wheel::{Wheel, MAX_TICK};
use crate::token::Token;
use parking_lot::Mutex;
use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Waker;
use std::time::{Duration, Instant};

/// How to build a [`Reactor`].
///
/// ```
/// use runtime::reactor::{PollerConfig, ReactorConfig, Reactor};
/// // `ignore_env`: the `EVENT_NO*` variables may not veto the choice.
/// let poller = PollerConfig::new().ignore_env(true).method("poll").unwrap();
/// let cfg = ReactorConfig::new().poller(poller);
/// let reactor = Reactor::with_config(cfg).unwrap();
/// assert_eq!(reactor.method().name(), "poll");
/// ```
#[derive(Clone, Debug)]
pub struct ReactorConfig {
    poller: PollerConfig,
    precise_timer: bool,
    timer_slack: Option<Duration>,
}

impl Default for ReactorConfig {
    fn default() -> Self {
        ReactorConfig {
            poller: PollerConfig::new(),
            precise_timer: false,
            timer_slack: Self::default_timer_slack(),
        }
    }
}

impl ReactorConfig {
    /// The timer slack a reactor asks for unless told otherwise: 1 ns.
    pub fn default_timer_slack() -> Option<Duration> {
        Some(Duration::from_nanos(1))
    }

    /// Defaults: fastest backend, cached clock, 1 ns kernel timer slack.
    pub fn new() -> ReactorConfig {
        ReactorConfig::default()
    }

    /// How the backend is chosen.
    pub fn poller(mut self, poller: PollerConfig) -> ReactorConfig {
        self.poller = poller;
        self
    }

    /// Read the clock for every timer check instead of once per loop
    /// iteration (libevent's `EVENT_BASE_FLAG_PRECISE_TIMER`; also set by
    /// the `EVENT_PRECISE_TIMER` environment variable).
    pub fn precise_timer(mut self, yes: bool) -> ReactorConfig {
        self.precise_timer = yes;
        self
    }

    /// The kernel's timer slack for the reactor's thread (`PR_SET_TIMERSLACK`).
    /// Linux lets a sleeping thread wake up to 50 µs late by default; the
    /// reactor asks for 1 ns so microsecond timers fire on time. `None`
    /// leaves the thread's setting alone.
    pub fn timer_slack(mut self, slack: Option<Duration>) -> ReactorConfig {
        self.timer_slack = slack;
        self
    }
}

/// The part other threads may hold: wakes the reactor's thread.
pub(crate) struct NotifyShared {
    /// `None` once the reactor is gone: its descriptors close with it even
    /// while other threads still hold notifiers.
    poller: Mutex<Option<Arc<Poller>>>,
}

/// A `Send + Sync` handle that wakes a reactor blocked in [`Reactor::turn`].
///
/// ```
/// # use runtime::reactor::Reactor;
/// let reactor = Reactor::new().unwrap();
/// let notifier = reactor.notifier();
/// std::thread::spawn(move || notifier.notify().unwrap()).join().unwrap();
/// reactor.turn(None).unwrap(); // returns at once: it was notified
/// ```
#[derive(Clone)]
pub struct Notifier {
    shared: Arc<NotifyShared>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Notifier")
    }
}

impl Notifier {
    /// Wakes the reactor (or makes its next wait return at once).
    pub fn notify(&self) -> io::Result<()> {
        let poller = self.shared.poller.lock().clone();
        match poller {
            Some(p) => p.notify(),
            None => Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "the reactor has been dropped",
            )),
        }
    }
}

pub(crate) struct Inner {
    pub(crate) poller: RefCell<Arc<Poller>>,
    notify: Arc<NotifyShared>,
    edge: bool,
    early_close: bool,
    pub(crate) slots: RefCell<Slab<Rc<Slot>>>,
    events: RefCell<Vec<Event>>,
    wakers: RefCell<Vec<Waker>>,
    pub(crate) wheel: RefCell<Wheel>,
    base: Instant,
    cached_now: Cell<Instant>,
    /// The latest clock reading the timer wheel was advanced to: no timer
    /// with a later deadline has fired.
    fired_through: Cell<Instant>,
    /// Set after a wait when no timer needed the clock: the next `now()`
    /// reads it (at most once per loop iteration).
    clock_stale: Cell<bool>,
    precise: Cell<bool>,
    pub(crate) signals: RefCell<SignalState>,
    next_generation: Cell<u32>,
    /// Live [`Reactor`] handles. Registrations, timers and signals keep
    /// `Inner` alive without counting here: once this is 0 nothing can
    /// turn the reactor again, so whatever waits on it would wait forever.
    handles: Cell<usize>,
}

/// A per-thread event reactor.
///
/// The reactor lives as long as one of its `Reactor` handles does (a
/// runtime holds one). Registrations, timers and signal listeners made on
/// it do not keep it usable: once the last handle is gone, nothing turns
/// it again, and an I/O object of it that has to wait fails with an error
/// instead of waiting forever (see [`Registration`](crate::Registration)).
///
/// ```
/// use runtime::reactor::Reactor;
/// let reactor = Reactor::new().unwrap();
/// println!("using {} with {:?}", reactor.method(), reactor.features());
/// ```
pub struct Reactor {
    pub(crate) inner: Rc<Inner>,
}

impl Reactor {
    fn from_inner(inner: Rc<Inner>) -> Reactor {
        inner.handles.set(inner.handles.get() + 1);
        Reactor { inner }
    }
}

impl Clone for Reactor {
    fn clone(&self) -> Reactor {
        Reactor::from_inner(self.inner.clone())
    }
}

impl Drop for Reactor {
    fn drop(&mut self) {
        self.inner.handles.set(self.inner.handles.get() - 1);
    }
}

impl std::fmt::Debug for Reactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reactor")
            .field("method", &self.method())
            .finish()
    }
}

/// The thread's current reactor. Its destructor clears `CURRENT_ID`
/// before the `Rc` goes, so that address never outlives the reactor.
struct Current(RefCell<Option<Rc<Inner>>>);

impl Drop for Current {
    fn drop(&mut self) {
        CURRENT_ID.with(|id| id.set(0));
    }
}

thread_local! {
    static CURRENT: Current = const { Current(RefCell::new(None)) };
    /// The address of the current reactor's `Inner` (0 when none): what a
    /// registration about to wait compares its own reactor with, and what
    /// the clock is read through, without borrowing `CURRENT`. Non-zero
    /// only while `CURRENT` holds that reactor: `set_current` changes both
    /// together and `Current`'s destructor clears it.
    static CURRENT_ID: Cell<usize> = const { Cell::new(0) };
}

fn id_of(inner: Option<&Rc<Inner>>) -> usize {
    inner.map_or(0, |i| Rc::as_ptr(i) as usize)
}

fn set_current(inner: Option<Rc<Inner>>) -> Option<Rc<Inner>> {
    CURRENT_ID.with(|id| id.set(id_of(inner.as_ref())));
    CURRENT.with(|c| std::mem::replace(&mut *c.0.borrow_mut(), inner))
}

/// Restores the previously current reactor when dropped.
pub struct EnterGuard {
    prev: Option<Rc<Inner>>,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        set_current(self.prev.take());
    }
}

pub(crate) fn no_reactor() -> io::Error {
    io::Error::other("no reactor is running on this thread (call this inside runtime::block_on)")
}

impl Reactor {
    /// A reactor with the default configuration.
    pub fn new() -> io::Result<Reactor> {
        Reactor::with_config(ReactorConfig::new())
    }

    /// A reactor with the given configuration.
    pub fn with_config(config: ReactorConfig) -> io::Result<Reactor> {
        let poller = Arc::new(config.poller.build()?);
        // Timer slack is a hint; Miri has no prctl.
        if let Some(slack) = config.timer_slack.filter(|_| !cfg!(miri)) {
            let ns = slack.as_nanos().clamp(1, libc::c_ulong::MAX as u128) as libc::c_ulong;
            // SAFETY: PR_SET_TIMERSLACK takes an integer argument only.
            unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, ns, 0, 0, 0) };
        }
        let precise = config.precise_timer || std::env::var_os("EVENT_PRECISE_TIMER").is_some();
        let now = Instant::now();
        let edge = poller.is_edge_triggered();
        let early_close = poller.features().contains(Features::EARLY_CLOSE);
        Ok(Reactor {
            inner: Rc::new(Inner {
                notify: Arc::new(NotifyShared {
                    poller: Mutex::new(Some(poller.clone())),
                }),
                poller: RefCell::new(poller),
                edge,
                early_close,
                slots: RefCell::new(Slab::new()),
                events: RefCell::new(Vec::with_capacity(1024)),
                wakers: RefCell::new(Vec::new()),
                wheel: RefCell::new(Wheel::new()),
                base: now,
                cached_now: Cell::new(now),
                fired_through: Cell::new(now),
                clock_stale: Cell::new(false),
                precise: Cell::new(precise),
                signals: RefCell::new(SignalState::new()),
                next_generation: Cell::new(0),
                handles: Cell::new(1),
            }),
        })
    }

    /// The thread's current reactor, if one has been entered.
    pub fn current() -> Option<Reactor> {
        Reactor::current_inner().ok().map(Reactor::from_inner)
    }

    /// Whether this is the thread's current reactor (a holder of sockets
    /// registered with it can tell whether they still belong to the
    /// running loop, e.g. after one `block_on` ended and another began).
    ///
    /// ```
    /// use runtime::reactor::Reactor;
    /// let r = Reactor::new().unwrap();
    /// assert!(!r.is_current());
    /// let _g = r.enter();
    /// assert!(r.is_current());
    /// assert!(!Reactor::new().unwrap().is_current());
    /// ```
    pub fn is_current(&self) -> bool {
        CURRENT.with(|c| {
            c.0.borrow()
                .as_ref()
                .is_some_and(|i| Rc::ptr_eq(i, &self.inner))
        })
    }

    pub(crate) fn current_inner() -> io::Result<Rc<Inner>> {
        CURRENT
            .with(|c| c.0.borrow().clone())
            .ok_or_else(no_reactor)
    }

    /// The current reactor's cached clock ([`Inner::now`]), if a reactor is
    /// current: one thread-local read, no borrow, no reference count (the
    /// HTTP server reads it twice per request).
    #[inline]
    pub(crate) fn current_now() -> Option<Instant> {
        let id = CURRENT_ID.with(Cell::get);
        if id == 0 {
            return None;
        }
        // SAFETY: a non-zero `CURRENT_ID` is the address of the `Inner` an
        // `Rc` in `CURRENT` keeps alive on this thread (see `CURRENT_ID`).
        // Nothing here can change the current reactor: `Inner::now` only
        // reads and sets the clock cells.
        Some(unsafe { &*(id as *const Inner) }.now())
    }

    /// Makes this reactor the thread's current one until the guard drops.
    pub fn enter(&self) -> EnterGuard {
        let prev = set_current(Some(self.inner.clone()));
        EnterGuard { prev }
    }

    /// The backend in use.
    pub fn method(&self) -> Method {
        self.inner.poller.borrow().method()
    }

    /// The backend's features.
    pub fn features(&self) -> Features {
        self.inner.poller.borrow().features()
    }

    /// A handle other threads use to wake this reactor.
    pub fn notifier(&self) -> Notifier {
        Notifier {
            shared: self.inner.notify.clone(),
        }
    }

    /// The time cached at the last loop iteration (libevent's
    /// `event_base_gettimeofday_cached`), or a fresh reading in precise mode.
    pub fn now(&self) -> Instant {
        self.inner.now()
    }

    /// Reads the clock and caches it (libevent's `event_base_update_cache_time`).
    pub fn update_cached_time(&self) -> Instant {
        let now = Instant::now();
        self.inner.cached_now.set(now);
        self.inner.clock_stale.set(false);
        now
    }

    /// Switches precise timer mode on or off.
    pub fn set_precise_timer(&self, yes: bool) {
        self.inner.precise.set(yes);
    }

    /// Whether precise timer mode is on.
    pub fn is_precise_timer(&self) -> bool {
        self.inner.precise.get()
    }

    /// Number of live I/O registrations.
    pub fn registrations(&self) -> usize {
        self.inner.slots.borrow().len()
    }

    /// Number of pending timers.
    pub fn pending_timers(&self) -> usize {
        self.inner.wheel.borrow().pending()
    }

    /// When the earliest pending timer is due (its slot start when it still
    /// has to cascade), if any.
    pub fn next_timer(&self) -> Option<Instant> {
        let tick = self.inner.wheel.borrow().next_deadline()?;
        Some(self.inner.tick_instant(tick))
    }

    /// Waits for events (at most `max_wait`, `None` = until something
    /// happens), then wakes the tasks whose descriptors became ready, whose
    /// timers expired or whose signals arrived. Returns how many wake-ups it
    /// delivered. An `EINTR` counts as an empty turn.
    pub fn turn(&self, max_wait: Option<Duration>) -> io::Result<usize> {
        self.inner.turn(max_wait)
    }

    /// Rebuilds the backend after `fork()` in the child (libevent's
    /// `event_reinit`): a fresh epoll/poll/select instance and notify
    /// descriptor, every registration re-added with its token, and a fresh
    /// signal pipe. Registrations, timers and signal listeners keep working.
    /// On error the reactor keeps its old backend and signal pipe, and
    /// whatever was made for the new ones is closed.
    pub fn reinit(&self) -> io::Result<()> {
        let inner = &self.inner;
        let method = inner.poller.borrow().method();
        let poller = Arc::new(Poller::with_method(method)?);
        for (_, slot) in inner.slots.borrow().iter() {
            if slot.level {
                poller.add_level(slot.fd, slot.token.raw(), slot.armed.get())?;
            } else {
                poller.add(slot.fd, slot.token.raw(), slot.armed.get())?;
            }
        }
        inner.signals.borrow_mut().reinit(&poller)?;
        *inner.poller.borrow_mut() = poller.clone();
        *inner.notify.poller.lock() = Some(poller);
        Ok(())
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Let the poller (and its descriptors) go now, not when the last
        // notifier held by another thread goes.
        self.notify.poller.lock().take();
    }
}

/// Why something of a reactor cannot wait for it here.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Elsewhere {
    /// The reactor has no handle left: nothing will ever turn it.
    Dropped,
    /// Another reactor is the thread's current one: the task is driven by
    /// a loop that never turns this reactor.
    OtherRuntime,
}

impl Elsewhere {
    /// The error an I/O object returns instead of waiting forever.
    pub(crate) fn io_error(self) -> io::Error {
        io::Error::other(match self {
            Elsewhere::Dropped => {
                "I/O object polled after its runtime was dropped: the reactor that registered \
                 it is gone and nothing can wake it (create it inside the running runtime)"
            }
            Elsewhere::OtherRuntime => {
                "I/O object polled outside the runtime (reactor) that registered it: that \
                 reactor is not the one running here and would never wake it (create it \
                 inside the runtime that polls it)"
            }
        })
    }
}

impl Inner {
    /// Whether this reactor is the thread's current one (one thread-local
    /// read and a compare).
    #[inline]
    pub(crate) fn is_current(&self) -> bool {
        CURRENT_ID.with(Cell::get) == self as *const Inner as usize
    }

    /// Whether a task may wait on this reactor from here: `None` when it is
    /// current, or when no reactor is current and it still has a handle
    /// (its owner may turn it by hand); otherwise why not.
    #[inline]
    pub(crate) fn elsewhere(&self) -> Option<Elsewhere> {
        if self.is_current() {
            return None;
        }
        self.elsewhere_slow()
    }

    #[cold]
    fn elsewhere_slow(&self) -> Option<Elsewhere> {
        if self.handles.get() == 0 {
            Some(Elsewhere::Dropped)
        } else if CURRENT_ID.with(Cell::get) != 0 {
            Some(Elsewhere::OtherRuntime)
        } else {
            None
        }
    }

    /// The cached time, read now if this iteration has not read it yet.
    pub(crate) fn now(&self) -> Instant {
        if self.precise.get() {
            return Instant::now();
        }
        if self.clock_stale.get() {
            self.cached_now.set(Instant::now());
            self.clock_stale.set(false);
        }
        self.cached_now.get()
    }

    /// Whether no timer due at `deadline` can have fired yet: a timer fires
    /// once a clock reading the wheel is advanced to reaches its deadline
    /// (rounded up to the wheel's tick), and the latest such reading is
    /// kept in `fired_through`.
    pub(crate) fn before(&self, deadline: Instant) -> bool {
        self.fired_through.get() < deadline
    }

    /// Brings an empty wheel's clock up to the cached time before a timer
    /// is inserted, so a deadline already past counts as due at once (idle
    /// turns do not advance the wheel).
    pub(crate) fn catch_up_idle_wheel(&self, wheel: &mut Wheel) {
        if wheel.pending() == 0 {
            let now = self.now();
            wheel.catch_up(self.now_tick(now));
        }
    }

    /// Ticks are microseconds since `base`. Deadlines round up, so a timer
    /// never fires before its instant.
    pub(crate) fn deadline_tick(&self, deadline: Instant) -> u64 {
        let d = deadline.saturating_duration_since(self.base);
        let micros = d.as_nanos().div_ceil(1000);
        micros.min(MAX_TICK as u128) as u64
    }

    /// The current time in ticks, rounded down.
    fn now_tick(&self, now: Instant) -> u64 {
        let d = now.saturating_duration_since(self.base);
        (d.as_micros()).min(MAX_TICK as u128) as u64
    }

    fn tick_instant(&self, tick: u64) -> Instant {
        self.base
            .checked_add(Duration::from_micros(tick))
            .unwrap_or_else(|| self.base + Duration::from_secs(1 << 40))
    }

    pub(crate) fn edge_triggered(&self) -> bool {
        self.edge
    }

    pub(crate) fn early_close(&self) -> bool {
        self.early_close
    }

    pub(crate) fn next_generation(&self) -> u32 {
        let g = self.next_generation.get();
        self.next_generation.set((g + 1) % Token::GENERATIONS);
        g
    }

    fn turn(&self, max_wait: Option<Duration>) -> io::Result<usize> {
        let mut timeout = max_wait;
        let next_timer = self.wheel.borrow().next_deadline();
        if let Some(tick) = next_timer {
            let until = self
                .tick_instant(tick)
                .saturating_duration_since(Instant::now());
            timeout = Some(timeout.map_or(until, |t| t.min(until)));
        }
        let mut events = self.events.borrow_mut();
        {
            let poller = self.poller.borrow();
            poller.wait(&mut events, timeout)?;
        }
        // The clock is read once per iteration, and only when something
        // needs it: timers to expire now, or a later `now()` call.
        let timers = self.wheel.borrow().pending() > 0;
        if timers || self.precise.get() {
            self.cached_now.set(Instant::now());
            self.clock_stale.set(false);
        } else {
            self.clock_stale.set(true);
        }

        let mut wakers = self.wakers.borrow_mut();
        let mut signal_ready = false;
        {
            let slots = self.slots.borrow();
            for ev in events.iter() {
                let token = Token::from_raw(ev.token);
                if token == Token::SIGNAL {
                    signal_ready = true;
                    continue;
                }
                // A token of a slot freed (and maybe reused) since is stale.
                let Some(slot) = slots.get(token.index()) else {
                    continue;
                };
                if slot.token != token {
                    continue;
                }
                let mut ready = Readiness::EMPTY;
                if ev.readable {
                    ready |= Readiness::READABLE;
                }
                if ev.writable {
                    ready |= Readiness::WRITABLE;
                }
                if ev.read_closed {
                    ready |= Readiness::READ_CLOSED | Readiness::READABLE;
                }
                if ev.hup {
                    ready |= Readiness::WRITE_CLOSED
                        | Readiness::READ_CLOSED
                        | Readiness::READABLE
                        | Readiness::WRITABLE;
                }
                if ev.error {
                    ready |= Readiness::ERROR | Readiness::READABLE | Readiness::WRITABLE;
                }
                slot.set_ready(ready, self.early_close, &mut wakers);
                if !self.edge && !slot.level {
                    // Level-triggered: stop asking for what we already know.
                    let armed = slot.armed.get();
                    let cur = slot.readiness();
                    let want = Interest {
                        read: armed.read && !cur.contains(Readiness::READABLE),
                        write: armed.write && !cur.contains(Readiness::WRITABLE),
                        closed: armed.closed
                            && !cur.intersects(Readiness::READ_CLOSED | Readiness::ERROR),
                    };
                    if want != armed {
                        match self.poller.borrow().modify(slot.fd, slot.token.raw(), want) {
                            Ok(()) => slot.armed.set(want),
                            // Its waiters wake and get the error.
                            Err(e) => slot.fail(e, &mut wakers),
                        }
                    }
                }
            }
        }
        drop(events);
        self.signals
            .borrow_mut()
            .dispatch(signal_ready, &mut wakers);
        if timers {
            self.advance_timers(self.cached_now.get(), &mut wakers);
        }
        let n = wakers.len();
        // Wake outside every borrow: a waker may run arbitrary code.
        let mut batch = std::mem::take(&mut *wakers);
        drop(wakers);
        for w in batch.drain(..) {
            w.wake();
        }
        let mut wakers = self.wakers.borrow_mut();
        if wakers.capacity() < batch.capacity() {
            *wakers = batch;
        }
        Ok(n)
    }

    fn advance_timers(&self, now: Instant, wakers: &mut Vec<Waker>) {
        let mut wheel = self.wheel.borrow_mut();
        let mut now_tick = self.now_tick(now);
        self.fired_through.set(self.fired_through.get().max(now));
        wheel.advance(now_tick, wakers);
        if self.precise.get() {
            // Precise mode: read the clock again so timers that came due
            // while expiring the first batch fire in this turn too.
            loop {
                let fresh = Instant::now();
                let t = self.now_tick(fresh);
                self.fired_through.set(fresh);
                if t == now_tick || wheel.advance(t, wakers) == 0 {
                    break;
                }
                now_tick = t;
            }
        }
    }
}
