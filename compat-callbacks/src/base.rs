//! [`EventBase`]: libevent's `struct event_base`, owning a
//! [`Runtime`](runtime_executor::Runtime) whose loop it drives one
//! iteration at a time; [`BaseHandle`], the weak handle callbacks use.
//! Its configuration is in `config.rs`, its callback policy in
//! `dispatch.rs`.

use crate::config::{CommonTimeout, EventConfig, LoopExit, MAX_COMMON_TIMEOUTS, MAX_PRIORITIES};
use crate::event::{ev_state, gone, Event, EventInner};
use crate::fd::{check_open, EventWaits, FdEntry};
use crate::flags::*;
use crate::listener::ListenerInner;
use crate::log::{log_debug, log_warn};
use crate::owned::Registry;
use crate::state::Status;
use runtime_executor::{JoinHandle, Runtime};
use runtime_reactor::signal::Signal;
use runtime_reactor::slab::Slab;
use runtime_reactor::{Features, Interest, Reactor, Registration};
use std::any::Any;
use std::cell::{Cell, Ref, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io::{self, Write};
use std::ops::{ControlFlow, Deref};
use std::os::fd::RawFd;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// The bits of the `Status` of this file's type.
pub(crate) mod base_state {
    /// The loop is running (`dispatch`/`run_loop`).
    pub(crate) const IN_LOOP: u16 = 1 << 0;
    /// The base is being dropped: every call fails.
    pub(crate) const CLOSING: u16 = 1 << 1;
    /// Something was added once: the priority count is fixed from then on.
    pub(crate) const EVER_ADDED: u16 = 1 << 2;
    /// `loopexit` ended (or is to end) the loop.
    pub(crate) const GOT_EXIT: u16 = 1 << 3;
    /// `loopbreak` ended (or is to end) the loop.
    pub(crate) const GOT_BREAK: u16 = 1 << 4;
    /// `loopcontinue`: the rest of this iteration waits for the next.
    pub(crate) const GOT_CONTINUE: u16 = 1 << 5;
}

static NEXT_BASE_ID: AtomicU64 = AtomicU64::new(1);

pub(crate) struct BaseState {
    /// Every event that is pending or active: the base keeps them alive.
    pub(crate) members: Slab<Rc<EventInner>>,
    /// One registration per descriptor with inserted events.
    pub(crate) fds: HashMap<RawFd, Rc<FdEntry>>,
    pub(crate) listeners: Slab<Rc<ListenerInner>>,
    /// Every event, bufferevent and listener of the base, released when
    /// it is dropped.
    pub(crate) owned: Registry,
    common: Vec<Duration>,
}

pub(crate) struct BaseInner {
    /// The yes/no states, bits of this file's state module.
    pub(crate) status: Status,
    pub(crate) id: u64,
    pub(crate) rt: RefCell<Runtime>,
    pub(crate) config: RefCell<EventConfig>,
    pub(crate) no_cache_time: bool,
    pub(crate) priorities: Cell<usize>,
    pub(crate) default_priority: Cell<usize>,
    pub(crate) state: RefCell<BaseState>,
    /// Callbacks run since the base was made (events', bufferevents',
    /// listeners').
    pub(crate) callbacks_run: Cell<u64>,
    /// Events made active (`event_active`) whose callback has not run yet.
    pub(crate) n_active: Cell<usize>,
    /// Enabled listeners and bufferevents with something to do: they keep
    /// the loop running, as libevent's pending events do.
    pub(crate) listeners_enabled: Cell<usize>,
    pub(crate) panic: RefCell<Option<Box<dyn Any + Send + 'static>>>,
    pub(crate) running: RefCell<Option<Weak<EventInner>>>,
}

impl BaseInner {
    /// Spawns a task at `prio` on the base's own executor, from inside the
    /// loop or outside it, even while another runtime is running on this
    /// thread (the task never goes to that one).
    pub(crate) fn spawn_task<F: Future<Output = ()> + 'static>(
        &self,
        prio: usize,
        fut: F,
    ) -> io::Result<JoinHandle<()>> {
        self.rt.borrow().spawn_with_priority(prio, fut)
    }

    /// Moves a task of the base to priority `prio` (queued, it changes
    /// queue at once: see `Runtime::set_task_priority`).
    pub(crate) fn set_task_priority(&self, task: &JoinHandle<()>, prio: usize) -> io::Result<()> {
        self.rt.borrow().set_task_priority(task, prio)
    }

    /// The shared registration of `fd`, created on first use.
    pub(crate) fn acquire_fd(&self, fd: RawFd, events: EventFlags) -> io::Result<Rc<FdEntry>> {
        let et = events.contains(EV_ET);
        let existing = self.state.borrow().fds.get(&fd).cloned();
        let fe = match existing {
            Some(fe) => {
                if fe.et != et {
                    let e = io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!(
                            "events on fd {fd} must all be edge-triggered or all level-triggered"
                        ),
                    );
                    log_warn!("event_add: {e}");
                    return Err(e);
                }
                fe
            }
            None => {
                // Level-triggered events get a level registration: the
                // backend reports a descriptor again at every iteration
                // while it stays ready, as libevent's do.
                let reg = check_open(fd).and_then(|()| {
                    let rt = self.rt.borrow();
                    // SAFETY: libevent's contract, which this API keeps: the
                    // caller owns `fd` and deletes (or frees) every event on
                    // it before closing it, so it stays open while the
                    // registration lives (the last event's deletion drops
                    // it, see `release_fd`). A caller who breaks it gets
                    // libevent's failure, confined to this base's own
                    // reactor: an event that stops firing, or a reused
                    // number deregistered from it; never memory unsafety.
                    unsafe {
                        if et {
                            Registration::with_reactor_unowned(rt.reactor(), fd)
                        } else {
                            let interest = Interest {
                                read: events.contains(EV_READ),
                                write: events.contains(EV_WRITE),
                                closed: events.contains(EV_CLOSED),
                            };
                            Registration::level_unowned(rt.reactor(), fd, interest)
                        }
                    }
                });
                let reg = match reg {
                    Ok(r) => r,
                    Err(e) => {
                        log_warn!("event_add: cannot watch fd {fd}: {e}");
                        return Err(e);
                    }
                };
                let fe = Rc::new(FdEntry::new(reg, et));
                self.state.borrow_mut().fds.insert(fd, fe.clone());
                fe
            }
        };
        if let Err(e) = fe.retain(
            events.contains(EV_READ),
            events.contains(EV_WRITE),
            events.contains(EV_CLOSED),
        ) {
            log_warn!("event_add: cannot watch fd {fd}: {e}");
            self.release_fd(&fe, events, &mut EventWaits::default());
            return Err(e);
        }
        Ok(fe)
    }

    /// An event on `fe` is deleted (its waiter entries `waits` go); the
    /// last one deregisters the descriptor.
    pub(crate) fn release_fd(&self, fe: &Rc<FdEntry>, events: EventFlags, waits: &mut EventWaits) {
        let left = fe.release(
            events.contains(EV_READ),
            events.contains(EV_WRITE),
            events.contains(EV_CLOSED),
            waits,
        );
        if left == 0 {
            let fd = fe.reg.fd();
            let removed = {
                let mut st = self.state.borrow_mut();
                match st.fds.get(&fd) {
                    Some(cur) if Rc::ptr_eq(cur, fe) => st.fds.remove(&fd),
                    _ => None,
                }
            };
            drop(removed);
        }
    }

    pub(crate) fn listen_signal(&self, signum: i32) -> io::Result<Signal> {
        let rt = self.rt.borrow();
        let _enter = rt.reactor().enter();
        runtime_reactor::signal::signal(signum).inspect_err(|e| {
            log_warn!("event_add: cannot listen for signal {signum}: {e}");
        })
    }

    fn members(&self) -> Vec<Rc<EventInner>> {
        self.state
            .borrow()
            .members
            .iter()
            .map(|(_, e)| e.clone())
            .collect()
    }
}

/// A weak handle to an [`EventBase`], for callbacks and events: it can
/// stop the loop, create events, activate them, read the clock — anything
/// but run the loop. Every call fails with an error once the base is
/// dropped. [`EventBase`] dereferences to its own handle, so its methods
/// are the base's methods too.
///
/// ```
/// use runtime::compat::{Event, EventBase};
/// let base = EventBase::new().unwrap();
/// let handle = base.handle();
/// let ev = Event::new_user(&base, move |_, _| handle.loopbreak().unwrap()).unwrap();
/// ev.trigger().unwrap();
/// base.dispatch().unwrap();
/// assert!(base.got_break().unwrap());
/// ```
#[derive(Clone)]
pub struct BaseHandle {
    pub(crate) inner: Weak<BaseInner>,
}

impl fmt::Debug for BaseHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.inner.upgrade() {
            Some(b) => f
                .debug_struct("BaseHandle")
                .field("method", &b.rt.borrow().method().name())
                .field("events", &b.state.borrow().members.len())
                .finish(),
            None => f.write_str("BaseHandle(freed)"),
        }
    }
}

impl BaseHandle {
    pub(crate) fn inner(&self) -> io::Result<Rc<BaseInner>> {
        let b = self.inner.upgrade().ok_or_else(gone)?;
        if b.status.has(base_state::CLOSING) {
            return Err(gone());
        }
        Ok(b)
    }

    /// The backend's name (`event_base_get_method`): `"epoll"`, `"poll"`
    /// or `"select"`.
    pub fn method(&self) -> io::Result<&'static str> {
        Ok(self.inner()?.rt.borrow().method().name())
    }

    /// The backend's features (`event_base_get_features`).
    pub fn features(&self) -> io::Result<Features> {
        Ok(self.inner()?.rt.borrow().features())
    }

    /// Number of priorities (`event_base_get_npriorities`).
    pub fn npriorities(&self) -> io::Result<usize> {
        Ok(self.inner()?.priorities.get())
    }

    /// Ends the loop after `timeout`, or after the current iteration's
    /// callbacks when `None` (`event_base_loopexit`). Outside the loop,
    /// `None` makes the next loop stop after its first iteration.
    ///
    /// ```
    /// use runtime::compat::{EventBase, EVLOOP_NO_EXIT_ON_EMPTY};
    /// use std::time::{Duration, Instant};
    /// let base = EventBase::new().unwrap();
    /// let start = Instant::now();
    /// base.loopexit(Some(Duration::from_millis(10))).unwrap();
    /// base.run_loop(EVLOOP_NO_EXIT_ON_EMPTY).unwrap();
    /// assert!(start.elapsed() >= Duration::from_millis(10));
    /// assert!(base.got_exit().unwrap());
    /// ```
    pub fn loopexit(&self, timeout: Option<Duration>) -> io::Result<()> {
        let b = self.inner()?;
        if timeout.is_none() && b.status.has(base_state::IN_LOOP) {
            b.status.set(base_state::GOT_EXIT, true);
            return Ok(());
        }
        let weak = self.inner.clone();
        let cb = Box::new(move |ev: &Event, _fd: RawFd, _what: EventFlags| {
            if let Some(b) = weak.upgrade() {
                b.status.set(base_state::GOT_EXIT, true);
            }
            ev.free();
        });
        let ev = EventInner::new(&b, -1, EventFlags::empty(), true, cb)?;
        match timeout {
            None | Some(Duration::ZERO) => ev.activate(EV_TIMEOUT),
            Some(d) => {
                let at = Instant::now().checked_add(d).ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("timeout {d:?} overflows the clock"),
                    )
                })?;
                ev.add(Some((d, at)), None)
            }
        }
    }

    /// Stops the loop right after the running callback returns
    /// (`event_base_loopbreak`); the events that were about to run stay
    /// active and run when the loop is started again.
    pub fn loopbreak(&self) -> io::Result<()> {
        self.inner()?.status.set(base_state::GOT_BREAK, true);
        Ok(())
    }

    /// After the running callback, looks for new events before running
    /// the other active ones (`event_base_loopcontinue`); they run in the
    /// next iteration.
    pub fn loopcontinue(&self) -> io::Result<()> {
        self.inner()?.status.set(base_state::GOT_CONTINUE, true);
        Ok(())
    }

    /// Whether the last loop was ended by `loopexit`
    /// (`event_base_got_exit`); reset when a loop starts.
    pub fn got_exit(&self) -> io::Result<bool> {
        Ok(self.inner()?.status.has(base_state::GOT_EXIT))
    }

    /// Whether the last loop was ended by `loopbreak`
    /// (`event_base_got_break`); reset when a loop starts.
    pub fn got_break(&self) -> io::Result<bool> {
        Ok(self.inner()?.status.has(base_state::GOT_BREAK))
    }

    /// The wall-clock time cached at the start of this loop iteration
    /// (`event_base_gettimeofday_cached`); the current time outside the
    /// loop or with [`EventConfig::no_cache_time`].
    pub fn gettimeofday_cached(&self) -> io::Result<SystemTime> {
        let b = self.inner()?;
        let now = SystemTime::now();
        if b.no_cache_time || !b.status.has(base_state::IN_LOOP) {
            return Ok(now);
        }
        let cached = b.rt.borrow().reactor().now();
        let lag = Instant::now().saturating_duration_since(cached);
        Ok(now.checked_sub(lag).unwrap_or(now))
    }

    /// The monotonic time cached at the start of this loop iteration.
    pub fn now(&self) -> io::Result<Instant> {
        let b = self.inner()?;
        if b.no_cache_time {
            return Ok(Instant::now());
        }
        let now = b.rt.borrow().reactor().now();
        Ok(now)
    }

    /// Refreshes the cached time (`event_base_update_cache_time`).
    pub fn update_cache_time(&self) -> io::Result<()> {
        self.inner()?.rt.borrow().reactor().update_cached_time();
        Ok(())
    }

    /// Runs `callback` once (`event_base_once`), without an event object:
    /// when `fd` is ready for `what` (`EV_READ`, `EV_WRITE`, `EV_CLOSED`),
    /// or the timeout passes, whichever comes first. With only
    /// `EV_TIMEOUT`, it runs after `timeout`, or at the next iteration for
    /// `None`. `EV_SIGNAL` and `EV_PERSIST` are refused, as is a `what`
    /// with neither I/O flags nor `EV_TIMEOUT`. A once-event that never
    /// fires is dropped with the base.
    ///
    /// ```
    /// use runtime::compat::{EventBase, EV_TIMEOUT};
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// let base = EventBase::new().unwrap();
    /// let ran = Rc::new(Cell::new(false));
    /// let r = ran.clone();
    /// base.once(-1, EV_TIMEOUT, None, move |_fd, what| {
    ///     assert_eq!(what, EV_TIMEOUT);
    ///     r.set(true);
    /// })
    /// .unwrap();
    /// base.dispatch().unwrap();
    /// assert!(ran.get());
    /// ```
    pub fn once(
        &self,
        fd: RawFd,
        what: EventFlags,
        timeout: Option<Duration>,
        callback: impl FnOnce(RawFd, EventFlags) + 'static,
    ) -> io::Result<()> {
        let b = self.inner()?;
        if what.intersects(EV_SIGNAL | EV_PERSIST) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "event_base_once does not support EV_SIGNAL or EV_PERSIST",
            ));
        }
        let io_flags = what & (EV_READ | EV_WRITE | EV_CLOSED);
        let timer_only = io_flags.is_empty();
        if timer_only && !what.contains(EV_TIMEOUT) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "event_base_once needs EV_TIMEOUT or an I/O flag",
            ));
        }
        let deadline = timeout
            .map(|d| {
                Instant::now()
                    .checked_add(d)
                    .map(|at| (d, at))
                    .ok_or_else(|| {
                        io::Error::new(
                            io::ErrorKind::InvalidInput,
                            format!("timeout {d:?} overflows the clock"),
                        )
                    })
            })
            .transpose()?;
        let mut cb = Some(callback);
        let events = if timer_only {
            EventFlags::empty()
        } else {
            io_flags | (what & EV_ET)
        };
        let ev = EventInner::new(
            &b,
            fd,
            events,
            false,
            Box::new(move |ev: &Event, fd, w| {
                if let Some(f) = cb.take() {
                    f(fd, w);
                }
                ev.free();
            }),
        )?;
        if timer_only && timeout.is_none_or(|d| d.is_zero()) {
            return ev.activate(EV_TIMEOUT);
        }
        let r = ev.add(deadline, None);
        if r.is_err() {
            ev.free();
        }
        r
    }

    /// Activates the pending events on `fd` whose flags intersect
    /// `events` (`event_base_active_by_fd`), each with the matching flags.
    pub fn active_by_fd(&self, fd: RawFd, events: EventFlags) -> io::Result<()> {
        let b = self.inner()?;
        for ev in b.members() {
            if ev.status.has(ev_state::INSERTED) && ev.fd == fd && !ev.events.contains(EV_SIGNAL) {
                let m = events & ev.events & (EV_READ | EV_WRITE | EV_CLOSED);
                if !m.is_empty() {
                    ev.activate(m)?;
                }
            }
        }
        Ok(())
    }

    /// Activates the pending events for signal `signum` with `EV_SIGNAL`
    /// (`event_base_active_by_signal`), as if it had been delivered.
    pub fn active_by_signal(&self, signum: i32) -> io::Result<()> {
        let b = self.inner()?;
        for ev in b.members() {
            if ev.status.has(ev_state::INSERTED) && ev.fd == signum && ev.events.contains(EV_SIGNAL)
            {
                ev.activate(EV_SIGNAL)?;
            }
        }
        Ok(())
    }

    /// Counts events (`event_base_get_num_events`): `EVENT_BASE_COUNT_ADDED`
    /// pending ones (enabled listeners included), `EVENT_BASE_COUNT_ACTIVE`
    /// those waiting for their callback. There are no virtual events.
    pub fn num_events(&self, which: CountFlags) -> io::Result<usize> {
        let b = self.inner()?;
        let mut n = 0;
        if which.contains(EVENT_BASE_COUNT_ACTIVE) {
            n += b.n_active.get();
        }
        if which.contains(EVENT_BASE_COUNT_ADDED) {
            n += b
                .state
                .borrow()
                .members
                .iter()
                .filter(|(_, e)| e.status.has(ev_state::INSERTED) || e.has_timer())
                .count();
            n += b.listeners_enabled.get();
        }
        Ok(n)
    }

    /// The pending and active events, in no particular order (a snapshot:
    /// safe to add or delete events while going through it).
    pub fn events(&self) -> io::Result<Vec<Event>> {
        Ok(self
            .inner()?
            .members()
            .into_iter()
            .map(|inner| Event { inner })
            .collect())
    }

    /// Calls `f` for each pending or active event until it returns
    /// `ControlFlow::Break` (`event_base_foreach_event`).
    ///
    /// ```
    /// use runtime::compat::{Event, EventBase};
    /// use std::ops::ControlFlow;
    /// use std::time::Duration;
    /// let base = EventBase::new().unwrap();
    /// let t = Event::new_timer(&base, |_, _| {}).unwrap();
    /// t.add(Some(Duration::from_secs(5))).unwrap();
    /// let mut n = 0;
    /// base.foreach_event(|ev| {
    ///     assert_eq!(ev, &t);
    ///     n += 1;
    ///     ControlFlow::<()>::Continue(())
    /// })
    /// .unwrap();
    /// assert_eq!(n, 1);
    /// ```
    pub fn foreach_event<B>(
        &self,
        mut f: impl FnMut(&Event) -> ControlFlow<B>,
    ) -> io::Result<Option<B>> {
        for ev in self.events()? {
            if let ControlFlow::Break(b) = f(&ev) {
                return Ok(Some(b));
            }
        }
        Ok(None)
    }

    /// The event whose callback is running (`event_base_get_running_event`).
    pub fn running_event(&self) -> io::Result<Option<Event>> {
        let b = self.inner()?;
        let cur = b.running.borrow().as_ref().and_then(Weak::upgrade);
        Ok(cur.map(|inner| Event { inner }))
    }

    /// Registers a duration many events will use as their timeout
    /// (`event_base_init_common_timeout`); the same duration gives the
    /// same value. Our timer wheel makes every timeout O(1) already, so
    /// this is for source compatibility and for the dump; at most 256 per
    /// base.
    pub fn init_common_timeout(&self, duration: Duration) -> io::Result<CommonTimeout> {
        let b = self.inner()?;
        let mut st = b.state.borrow_mut();
        let index = match st.common.iter().position(|d| *d == duration) {
            Some(i) => i,
            None => {
                if st.common.len() >= MAX_COMMON_TIMEOUTS {
                    return Err(io::Error::new(
                        io::ErrorKind::OutOfMemory,
                        "too many common timeouts (256 per base)",
                    ));
                }
                st.common.push(duration);
                st.common.len() - 1
            }
        };
        Ok(CommonTimeout {
            base_id: b.id,
            index: index as u8,
            duration,
        })
    }

    /// Writes the pending and active events, one per line, for debugging
    /// (`event_base_dump_events`):
    ///
    /// ```text
    /// Inserted events:
    ///   0x55d0c3a1b2c0 [fd 7] Read Persist
    ///   0x55d0c3a1b3f0 [fd -1] Timeout=+0.250000
    ///   0x55d0c3a1b520 [sig 1] Signal Persist
    /// Active events:
    ///   0x55d0c3a1b650 [fd -1, priority=0] Timeout active
    /// ```
    /// Timeouts are shown as seconds from now; `Internal` marks the base's
    /// own timers (`loopexit`).
    pub fn dump_events(&self, out: &mut dyn Write) -> io::Result<()> {
        let b = self.inner()?;
        let mut list = b.members();
        list.sort_by_key(|e| Rc::as_ptr(e) as usize);
        let now = Instant::now();
        writeln!(out, "Inserted events:")?;
        for e in &list {
            if !(e.status.has(ev_state::INSERTED) || e.has_timer()) {
                continue;
            }
            let kind = if e.events.contains(EV_SIGNAL) {
                "sig"
            } else {
                "fd"
            };
            let mut line = format!("  {:p} [{kind} {}]", Rc::as_ptr(e), e.fd);
            if e.status.has(ev_state::INSERTED) {
                for (f, name) in [
                    (EV_READ, " Read"),
                    (EV_WRITE, " Write"),
                    (EV_CLOSED, " EOF"),
                    (EV_SIGNAL, " Signal"),
                ] {
                    if e.events.contains(f) {
                        line.push_str(name);
                    }
                }
            }
            for (f, name) in [(EV_PERSIST, " Persist"), (EV_ET, " ET")] {
                if e.events.contains(f) {
                    line.push_str(name);
                }
            }
            if e.internal {
                line.push_str(" Internal");
            }
            if let (true, Some(at)) = (e.has_timer(), e.deadline.get()) {
                let left = at.saturating_duration_since(now);
                line.push_str(&format!(
                    " Timeout=+{}.{:06}",
                    left.as_secs(),
                    left.subsec_micros()
                ));
                if let Some(i) = e.common.get() {
                    line.push_str(&format!(" Common={i}"));
                }
            }
            writeln!(out, "{line}")?;
        }
        writeln!(out, "Active events:")?;
        for e in &list {
            if !e.status.has(ev_state::ACTIVE) {
                continue;
            }
            let kind = if e.events.contains(EV_SIGNAL) {
                "sig"
            } else {
                "fd"
            };
            let mut line = format!(
                "  {:p} [{kind} {}, priority={}]",
                Rc::as_ptr(e),
                e.fd,
                e.priority.get()
            );
            let res = e.active_res.get();
            for (f, name) in [
                (EV_READ, " Read"),
                (EV_WRITE, " Write"),
                (EV_CLOSED, " EOF"),
                (EV_SIGNAL, " Signal"),
                (EV_TIMEOUT, " Timeout"),
            ] {
                if res.contains(f) {
                    line.push_str(name);
                }
            }
            line.push_str(" active");
            if e.internal {
                line.push_str(" Internal");
            }
            writeln!(out, "{line}")?;
        }
        Ok(())
    }
}

/// The event loop (libevent's `struct event_base`): owns a
/// [`Runtime`](runtime_executor::Runtime) and the table of pending
/// events, and runs their callbacks on this thread.
///
/// Dropping it releases everything it made — events (pending or not),
/// bufferevents and listeners, as their `free` does: callbacks dropped
/// (a callback holding a handle to its own object included), sockets
/// closed where the options say so — then the runtime; handles that
/// outlive it get errors.
///
/// ```
/// use runtime::compat::{Event, EventBase, LoopExit};
/// use std::time::Duration;
///
/// let base = EventBase::new().unwrap();
/// println!("using {}", base.method().unwrap());
/// let b = base.handle();
/// let timer = Event::new_timer(&base, move |_fd, _what| {
///     println!("tick");
///     b.loopbreak().unwrap();
/// })
/// .unwrap();
/// timer.add(Some(Duration::from_millis(1))).unwrap();
/// assert_eq!(base.dispatch().unwrap(), LoopExit::Done);
/// assert_eq!(base.dispatch().unwrap(), LoopExit::NoEvents); // nothing left
/// ```
pub struct EventBase {
    inner: Rc<BaseInner>,
    handle: BaseHandle,
}

impl fmt::Debug for EventBase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventBase")
            .field("method", &self.inner.rt.borrow().method().name())
            .field("events", &self.inner.state.borrow().members.len())
            .field("priorities", &self.inner.priorities.get())
            .finish()
    }
}

impl Deref for EventBase {
    type Target = BaseHandle;
    fn deref(&self) -> &BaseHandle {
        &self.handle
    }
}

impl AsRef<BaseHandle> for EventBase {
    fn as_ref(&self) -> &BaseHandle {
        &self.handle
    }
}

struct LoopGuard<'a>(&'a BaseInner);

impl Drop for LoopGuard<'_> {
    fn drop(&mut self) {
        self.0.status.set(base_state::IN_LOOP, false);
        *self.0.running.borrow_mut() = None;
    }
}

impl EventBase {
    /// A base with the default configuration (`event_base_new`).
    pub fn new() -> io::Result<EventBase> {
        EventBase::with_config(EventConfig::new())
    }

    /// A base with `config` (`event_base_new_with_config`).
    pub fn with_config(config: EventConfig) -> io::Result<EventBase> {
        let rt = config.runtime()?;
        let n = config.priorities;
        let inner = Rc::new(BaseInner {
            status: Status::new(0),
            id: NEXT_BASE_ID.fetch_add(1, Ordering::Relaxed),
            rt: RefCell::new(rt),
            no_cache_time: config.no_cache_time,
            priorities: Cell::new(n),
            default_priority: Cell::new(n / 2),
            config: RefCell::new(config),
            state: RefCell::new(BaseState {
                members: Slab::new(),
                fds: HashMap::new(),
                listeners: Slab::new(),
                owned: Registry::new(),
                common: Vec::new(),
            }),
            callbacks_run: Cell::new(0),
            n_active: Cell::new(0),
            listeners_enabled: Cell::new(0),
            panic: RefCell::new(None),
            running: RefCell::new(None),
        });
        let handle = BaseHandle {
            inner: Rc::downgrade(&inner),
        };
        log_debug!(
            "event base {} uses {}",
            inner.id,
            inner.rt.borrow().method().name()
        );
        Ok(EventBase { inner, handle })
    }

    /// A weak handle for callbacks (see [`BaseHandle`]).
    pub fn handle(&self) -> BaseHandle {
        self.handle.clone()
    }

    /// The runtime underneath, to mix futures with callbacks: tasks
    /// spawned on it run while the loop runs.
    ///
    /// ```
    /// use runtime::compat::EventBase;
    /// let base = EventBase::new().unwrap();
    /// let h = base.runtime().spawn(async { 6 * 7 });
    /// base.dispatch().unwrap(); // no events: returns at once
    /// assert_eq!(base.runtime().block_on(h).unwrap(), 42);
    /// ```
    pub fn runtime(&self) -> Ref<'_, Runtime> {
        self.inner.rt.borrow()
    }

    /// Sets the number of priorities (`event_base_priority_init`): only
    /// before anything was added to the base, and not from inside its loop.
    ///
    /// ```
    /// use runtime::compat::EventBase;
    /// let base = EventBase::new().unwrap();
    /// base.priority_init(4).unwrap();
    /// assert_eq!(base.npriorities().unwrap(), 4);
    /// assert!(base.priority_init(0).is_err());
    /// ```
    pub fn priority_init(&self, n: usize) -> io::Result<()> {
        let b = &self.inner;
        if n == 0 || n > MAX_PRIORITIES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("priorities must be 1..={MAX_PRIORITIES}, got {n}"),
            ));
        }
        if b.status.has(base_state::IN_LOOP)
            || b.status.has(base_state::EVER_ADDED)
            || b.n_active.get() > 0
        {
            return Err(io::Error::new(
                io::ErrorKind::ResourceBusy,
                "priorities can only be set before events are added",
            ));
        }
        let cfg = b.config.borrow().clone().priorities(n);
        let rt = cfg.runtime()?;
        *b.rt.borrow_mut() = rt;
        *b.config.borrow_mut() = cfg;
        b.priorities.set(n);
        b.default_priority.set(n / 2);
        Ok(())
    }

    /// Rebuilds the backend in a child after `fork()` (`event_reinit`):
    /// pending events keep working.
    pub fn reinit(&self) -> io::Result<()> {
        if self.inner.status.has(base_state::IN_LOOP) {
            return Err(io::Error::new(
                io::ErrorKind::ResourceBusy,
                "reinit from inside the loop",
            ));
        }
        self.inner.rt.borrow().reactor().reinit()
    }

    /// Runs the loop until no event is pending or active, or until
    /// `loopexit`/`loopbreak` (`event_base_dispatch`).
    pub fn dispatch(&self) -> io::Result<LoopExit> {
        self.run_loop(LoopFlags::empty())
    }

    /// One pass as `EVLOOP_ONCE` (wait for events, run them, return).
    pub fn loop_once(&self) -> io::Result<LoopExit> {
        self.run_loop(EVLOOP_ONCE)
    }

    /// One non-blocking pass as `EVLOOP_NONBLOCK`.
    pub fn loop_nonblock(&self) -> io::Result<LoopExit> {
        self.run_loop(EVLOOP_NONBLOCK)
    }

    /// Runs the loop (`event_base_loop`) with [`LoopFlags`]. Each
    /// iteration is one [`Runtime::run_once_until`] of the base's executor:
    /// it polls the backend (waiting unless something is ready or
    /// `EVLOOP_NONBLOCK` is given), then runs the tasks behind events,
    /// bufferevents and listeners under the executor's one scheduling
    /// policy: the ready ones of the most urgent priority only (less
    /// urgent ones wait for an iteration in which nothing more urgent is
    /// ready), each once, within the
    /// [`max_dispatch_interval`](EventConfig::max_dispatch_interval)
    /// limits. `loopbreak` and `loopcontinue` end the iteration after the
    /// running callback. `EVLOOP_ONCE` returns after an iteration that ran
    /// callbacks once nothing ready is held back to a next one.
    ///
    /// Errors: called from inside a callback of this base (reentrant) or
    /// from inside a running runtime. A panic in a callback stops the loop
    /// and resumes here.
    ///
    /// ```
    /// use runtime::compat::{EventBase, LoopExit, EVLOOP_NONBLOCK};
    /// let base = EventBase::new().unwrap();
    /// assert_eq!(base.run_loop(EVLOOP_NONBLOCK).unwrap(), LoopExit::NoEvents);
    /// ```
    pub fn run_loop(&self, flags: LoopFlags) -> io::Result<LoopExit> {
        let b = &*self.inner;
        if b.status.has(base_state::IN_LOOP) {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                "event_base_loop: reentrant invocation (the loop is already running)",
            ));
        }
        if Reactor::current().is_some() {
            return Err(io::Error::other(
                "event_base_loop: called from inside a running runtime",
            ));
        }
        let rt = b.rt.borrow();
        b.status.set(base_state::GOT_EXIT, false);
        b.status.set(base_state::GOT_BREAK, false);
        b.status.set(base_state::IN_LOOP, true);
        let guard = LoopGuard(b);
        let mut exit = LoopExit::Done;
        let mut ran_any = false;
        loop {
            b.status.set(base_state::GOT_CONTINUE, false);
            if b.status.has(base_state::GOT_EXIT) || b.status.has(base_state::GOT_BREAK) {
                break;
            }
            if !flags.contains(EVLOOP_NO_EXIT_ON_EMPTY) && !b.has_events() && b.n_active.get() == 0
            {
                exit = LoopExit::NoEvents;
                break;
            }
            let before = b.callbacks_run.get();
            let block = !flags.contains(EVLOOP_NONBLOCK) && b.n_active.get() == 0;
            rt.run_once_until(block, || b.ends_iteration());
            let panic = b.panic.borrow_mut().take();
            if let Some(p) = panic {
                drop(guard);
                drop(rt);
                std::panic::resume_unwind(p);
            }
            let ran = b.callbacks_run.get() - before;
            ran_any |= ran > 0;
            // EVLOOP_ONCE: done once callbacks ran and nothing is held back
            // to a next iteration (a task held back may find nothing to do
            // when its turn comes: no need to wait for more then).
            if flags.contains(EVLOOP_ONCE)
                && ran_any
                && b.n_active.get() == 0
                && rt.held_back() == 0
            {
                break;
            }
            if ran == 0 && flags.contains(EVLOOP_NONBLOCK) {
                break;
            }
        }
        drop(guard);
        Ok(exit)
    }
}

impl Drop for EventBase {
    fn drop(&mut self) {
        let b = &*self.inner;
        b.status.set(base_state::CLOSING, true);
        let (members, listeners, fds, owned) = {
            let mut st = b.state.borrow_mut();
            let keys: Vec<usize> = st.members.iter().map(|(k, _)| k).collect();
            let members: Vec<_> = keys
                .into_iter()
                .filter_map(|k| st.members.remove(k))
                .collect();
            let lkeys: Vec<usize> = st.listeners.iter().map(|(k, _)| k).collect();
            let listeners: Vec<_> = lkeys
                .into_iter()
                .filter_map(|k| st.listeners.remove(k))
                .collect();
            (
                members,
                listeners,
                std::mem::take(&mut st.fds),
                st.owned.take_alive(),
            )
        };
        // User destructors (in dropped callbacks) run here, with no borrow
        // held; every base call they make fails with "freed". Everything
        // the base ever made is released, pending or not, held by a
        // handle or by its own callback.
        for ev in &members {
            ev.teardown();
        }
        for l in &listeners {
            l.teardown();
        }
        for o in owned {
            o.release();
        }
        drop(members);
        drop(listeners);
        drop(fds);
    }
}
