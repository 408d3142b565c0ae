//! [`Event`]: libevent's `struct event`, a callback bound to a descriptor,
//! a signal and/or a timeout. Underneath, each event that has ever been
//! added or activated has one task on the base's executor; the task waits
//! for the event's readiness, timeout, signal or manual activation and
//! calls the callback on the loop's thread.

use crate::base::base_state;
use crate::base::{BaseHandle, BaseInner};
use crate::fd::{check_open, probe, EventWaits, FdEntry};
use crate::flags::*;
use crate::log::{log_error, log_warn};
use crate::owned::Owned;
use crate::state::Status;
use crate::task::TaskSlot;
use runtime_reactor::signal::Signal;
use runtime_reactor::time::{sleep_until, Sleep};
use runtime_reactor::{Direction, Readiness, ReadyEvent};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::io;
use std::os::fd::RawFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The bits of the `Status` of this file's type.
pub(crate) mod ev_state {
    /// Descriptor or signal interest is added (libevent's `EVLIST_INSERTED`).
    pub(crate) const INSERTED: u16 = 1 << 0;
    /// Waiting for its callback (libevent's `EVLIST_ACTIVE`), with `res`.
    pub(crate) const ACTIVE: u16 = 1 << 1;
    /// An `EV_ET` event reported the peer's close (it fires once).
    pub(crate) const CLOSED_SEEN: u16 = 1 << 2;
    /// A probe said the descriptor is not open any more (closed while the
    /// event was pending): the event stays quiet until added again.
    pub(crate) const FD_GONE: u16 = 1 << 3;
    /// Freed (`event_free`): calls fail, the task ends.
    pub(crate) const FREED: u16 = 1 << 4;
    /// Its callback is running.
    pub(crate) const RUNNING: u16 = 1 << 5;
    /// An `EV_ET` event fired for a lasting condition (peer closed, error)
    /// of the read (`[0]`) or write (`[1]`) direction: it fires once.
    pub(crate) const STICKY_SEEN: [u16; 2] = [1 << 6, 1 << 7];
}

/// The callback type stored in an event: the event itself, its descriptor
/// (or signal number) and what happened.
pub(crate) type Callback = Box<dyn FnMut(&Event, RawFd, EventFlags)>;

const IO_FLAGS: EventFlags = EventFlags::from_bits(0x02 | 0x04 | 0x80); // READ | WRITE | CLOSED

/// What is known about the cached readiness of one direction.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Verify {
    /// Cleared since the callback last ran: a readiness now is new.
    Verified,
    /// Just added: an `EV_ET` event's edge registration only guesses (a
    /// level registration's readiness always comes from the backend).
    Fresh,
    /// The callback ran since: the descriptor may have been drained.
    Stale,
}

pub(crate) fn gone() -> io::Error {
    io::Error::other("the event base has been freed")
}

pub(crate) fn freed() -> io::Error {
    io::Error::other("the event has been freed")
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.into())
}

pub(crate) struct EventInner {
    /// The yes/no states, bits of this file's state module.
    pub(crate) status: Status,
    pub(crate) base: Weak<BaseInner>,
    pub(crate) fd: RawFd,
    pub(crate) events: EventFlags,
    pub(crate) priority: Cell<usize>,
    /// Created by the base itself (the `loopexit` timer): shown as such in
    /// dumps and never counted as a "real" callback for priorities.
    pub(crate) internal: bool,
    callback: Cell<Option<Callback>>,
    io: RefCell<Option<Rc<FdEntry>>>,
    /// Its entries in the descriptor's waiter lists (while inserted).
    waits: RefCell<EventWaits>,
    signal: RefCell<Option<Signal>>,
    /// The armed timeout (libevent's `EVLIST_TIMEOUT`).
    timer: RefCell<Option<Sleep>>,
    /// The relative timeout, re-armed by persistent events.
    timeout: Cell<Option<Duration>>,
    pub(crate) deadline: Cell<Option<Instant>>,
    pub(crate) common: Cell<Option<u8>>,
    pub(crate) active_res: Cell<EventFlags>,
    /// Readiness found after the callback already ran in this poll: it
    /// fires at the next iteration (level-triggered repeat).
    carry: Cell<EventFlags>,
    verify: [Cell<Verify>; 2],
    /// Slot in the base's table of pending/active events.
    key: Cell<Option<usize>>,
    task: TaskSlot,
}

impl Owned for EventInner {
    fn release(self: Rc<Self>) {
        self.teardown();
    }
}

/// The future of an event's task.
struct EventTask {
    ev: Weak<EventInner>,
}

impl Future for EventTask {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(ev) = self.ev.upgrade() else {
            return Poll::Ready(());
        };
        if ev.status.has(ev_state::FREED) {
            return Poll::Ready(());
        }
        let Some(base) = ev.base.upgrade() else {
            return Poll::Ready(());
        };
        ev.run(&base, cx)
    }
}

impl EventInner {
    pub(crate) fn new(
        base: &Rc<BaseInner>,
        fd: RawFd,
        events: EventFlags,
        internal: bool,
        callback: Callback,
    ) -> io::Result<Rc<EventInner>> {
        if events.contains(EV_SIGNAL) && events.intersects(IO_FLAGS) {
            return Err(invalid(
                "EV_SIGNAL is not compatible with EV_READ, EV_WRITE or EV_CLOSED",
            ));
        }
        if base.status.has(base_state::CLOSING) {
            return Err(gone());
        }
        let prio = base.default_priority.get();
        let ev = Rc::new(EventInner {
            status: Status::new(0),
            base: Rc::downgrade(base),
            fd,
            events,
            priority: Cell::new(prio),
            internal,
            callback: Cell::new(Some(callback)),
            io: RefCell::new(None),
            waits: RefCell::new(EventWaits::default()),
            signal: RefCell::new(None),
            timer: RefCell::new(None),
            timeout: Cell::new(None),
            deadline: Cell::new(None),
            common: Cell::new(None),
            active_res: Cell::new(EventFlags::empty()),
            carry: Cell::new(EventFlags::empty()),
            verify: [Cell::new(Verify::Fresh), Cell::new(Verify::Fresh)],
            key: Cell::new(None),
            task: TaskSlot::new(),
        });
        let weak: Weak<dyn Owned> = Rc::downgrade(&ev) as Weak<dyn Owned>;
        base.state.borrow_mut().owned.register(weak);
        Ok(ev)
    }

    fn base(&self) -> io::Result<Rc<BaseInner>> {
        if self.status.has(ev_state::FREED) {
            return Err(freed());
        }
        let b = self.base.upgrade().ok_or_else(gone)?;
        if b.status.has(base_state::CLOSING) {
            return Err(gone());
        }
        Ok(b)
    }

    pub(crate) fn has_timer(&self) -> bool {
        self.timer.borrow().is_some()
    }

    /// Pending (inserted or timed) or active.
    fn is_member(&self) -> bool {
        self.status.has(ev_state::INSERTED) || self.has_timer() || self.status.has(ev_state::ACTIVE)
    }

    /// Keeps the event in the base's table while it is pending or active
    /// (so it lives on without user handles, as in libevent), and out of
    /// it otherwise.
    fn sync_membership(self: &Rc<Self>, base: &BaseInner) {
        if base.status.has(base_state::CLOSING) {
            return;
        }
        let want = self.is_member();
        match (want, self.key.get()) {
            (true, None) => {
                let key = base.state.borrow_mut().members.insert(self.clone());
                self.key.set(Some(key));
            }
            (false, Some(k)) => {
                self.key.set(None);
                // Dropped outside the borrow: it may be the last reference.
                let removed = base.state.borrow_mut().members.remove(k);
                drop(removed);
            }
            _ => {}
        }
    }

    /// Spawns the event's task, at the event's priority, if it has none;
    /// else wakes it so it looks at its new state.
    fn ensure_task(self: &Rc<Self>, base: &BaseInner) -> io::Result<()> {
        if self.task.is_alive() {
            self.task.wake();
            return Ok(());
        }
        let prio = self.priority.get().min(base.priorities.get() - 1);
        let fut = EventTask {
            ev: Rc::downgrade(self),
        };
        self.task.spawn(base, prio, fut)
    }

    fn set_active(&self, base: &BaseInner, res: EventFlags) {
        if self.status.replace(ev_state::ACTIVE, true) {
            self.active_res.set(self.active_res.get() | res);
        } else {
            self.active_res.set(res);
            base.n_active.set(base.n_active.get() + 1);
        }
    }

    fn clear_active(&self, base: &BaseInner) {
        if self.status.replace(ev_state::ACTIVE, false) {
            base.n_active.set(base.n_active.get().saturating_sub(1));
        }
        self.active_res.set(EventFlags::empty());
    }

    /// Inserts the descriptor/signal interest and (re)arms the timeout.
    pub(crate) fn add(
        self: &Rc<Self>,
        timeout: Option<(Duration, Instant)>,
        common: Option<u8>,
    ) -> io::Result<()> {
        let base = self.base()?;
        let wants_io = self.events.intersects(IO_FLAGS);
        let wants_sig = self.events.contains(EV_SIGNAL);
        if (wants_io || wants_sig) && !self.status.has(ev_state::INSERTED) {
            if wants_io {
                let fe = base.acquire_fd(self.fd, self.events)?;
                *self.io.borrow_mut() = Some(fe);
                for v in &self.verify {
                    v.set(Verify::Fresh);
                }
                for bit in ev_state::STICKY_SEEN {
                    self.status.set(bit, false);
                }
                self.status.set(ev_state::CLOSED_SEEN, false);
                self.status.set(ev_state::FD_GONE, false);
            } else {
                let sig = base.listen_signal(self.fd)?;
                *self.signal.borrow_mut() = Some(sig);
            }
            self.status.set(ev_state::INSERTED, true);
            base.status.set(base_state::EVER_ADDED, true);
        }
        if let Some((d, at)) = timeout {
            // Re-arming a timeout that already fired but whose callback has
            // not run yet takes the event off the active list (libevent).
            if self.status.has(ev_state::ACTIVE) && self.active_res.get().contains(EV_TIMEOUT) {
                self.clear_active(&base);
            }
            self.timeout.set(Some(d));
            self.deadline.set(Some(at));
            self.common.set(common);
            let mut t = self.timer.borrow_mut();
            match t.as_mut() {
                Some(s) => s.reset(at),
                None => *t = Some(sleep_until(at)),
            }
            drop(t);
            base.status.set(base_state::EVER_ADDED, true);
        }
        self.sync_membership(&base);
        if self.is_member() {
            self.ensure_task(&base)?;
        }
        Ok(())
    }

    /// Makes the event non-pending and non-active (`event_del`).
    pub(crate) fn del_nolock(self: &Rc<Self>, base: Option<&BaseInner>) {
        if self.status.replace(ev_state::INSERTED, false) {
            let fe = self.io.borrow_mut().take();
            if let Some(fe) = fe {
                let mut waits = self.waits.borrow_mut();
                match base {
                    Some(b) => b.release_fd(&fe, self.events, &mut waits),
                    None => {
                        fe.release(
                            self.events.contains(EV_READ),
                            self.events.contains(EV_WRITE),
                            self.events.contains(EV_CLOSED),
                            &mut waits,
                        );
                    }
                }
            }
            let sig = self.signal.borrow_mut().take();
            drop(sig);
        }
        let timer = self.timer.borrow_mut().take();
        drop(timer);
        self.timeout.set(None);
        self.deadline.set(None);
        self.common.set(None);
        self.carry.set(EventFlags::empty());
        if let Some(b) = base {
            self.clear_active(b);
            self.sync_membership(b);
        } else {
            self.status.set(ev_state::ACTIVE, false);
            self.active_res.set(EventFlags::empty());
        }
    }

    pub(crate) fn del(self: &Rc<Self>) -> io::Result<()> {
        let base = self.base()?;
        if !self.is_member() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "event is neither pending nor active",
            ));
        }
        self.del_nolock(Some(&base));
        Ok(())
    }

    pub(crate) fn remove_timer(self: &Rc<Self>) -> io::Result<()> {
        let base = self.base()?;
        let timer = self.timer.borrow_mut().take();
        drop(timer);
        self.timeout.set(None);
        self.deadline.set(None);
        self.common.set(None);
        self.sync_membership(&base);
        Ok(())
    }

    pub(crate) fn activate(self: &Rc<Self>, res: EventFlags) -> io::Result<()> {
        let base = self.base()?;
        self.set_active(&base, res);
        self.sync_membership(&base);
        base.more_urgent_activated(self.priority.get());
        self.ensure_task(&base)
    }

    pub(crate) fn set_priority(self: &Rc<Self>, prio: usize) -> io::Result<()> {
        let base = self.base()?;
        if self.status.has(ev_state::ACTIVE) {
            return Err(io::Error::new(
                io::ErrorKind::ResourceBusy,
                "cannot change the priority of an active event",
            ));
        }
        let n = base.priorities.get();
        if prio >= n {
            return Err(invalid(format!(
                "priority {prio} out of range: the base has {n} priorities"
            )));
        }
        // The task (if the event has one yet) runs at the new priority from
        // now on: queued, it moves to that priority's queue.
        self.task.set_priority(&base, prio)?;
        self.priority.set(prio);
        Ok(())
    }

    /// `event_free`: not pending any more, callback dropped (at once, or
    /// when it returns if it is running), task ended.
    pub(crate) fn free(self: &Rc<Self>) {
        if self.status.has(ev_state::FREED) {
            return;
        }
        let base = self.base.upgrade();
        self.del_nolock(
            base.as_deref()
                .filter(|b| !b.status.has(base_state::CLOSING)),
        );
        self.status.set(ev_state::FREED, true);
        let cb = self.callback.take();
        self.task.abort();
        drop(cb);
    }

    /// Base teardown: like `free`, without touching the base's tables.
    pub(crate) fn teardown(self: &Rc<Self>) {
        self.key.set(None);
        self.free();
    }

    pub(crate) fn pending_flags(&self) -> EventFlags {
        let mut f = EventFlags::empty();
        if self.status.has(ev_state::INSERTED) {
            f |= self.events & (IO_FLAGS | EV_SIGNAL);
        }
        if self.status.has(ev_state::ACTIVE) {
            f |= self.active_res.get();
        }
        if self.has_timer() {
            f |= EV_TIMEOUT;
        }
        f
    }

    /// The task's body: gathers what happened, fires the callback once per
    /// poll, and leaves anything else for the next loop iteration.
    fn run(self: &Rc<Self>, base: &BaseInner, cx: &mut Context<'_>) -> Poll<()> {
        let mut fired = false;
        loop {
            if self.status.has(ev_state::FREED) {
                return Poll::Ready(());
            }
            let was_active = self.status.has(ev_state::ACTIVE);
            let mut what = self.carry.take();
            if was_active {
                what |= self.active_res.get();
            }
            if self.status.has(ev_state::INSERTED) {
                what |= self.collect(cx);
            }
            if self.poll_timer(cx) {
                what |= EV_TIMEOUT;
            }
            if what.is_empty() && !was_active {
                return Poll::Pending;
            }
            if fired {
                // One callback per event per iteration, as in libevent: the
                // rest runs at the next iteration. A level-triggered
                // descriptor is left to the backend, which reports it again
                // then if it is still ready (it may have been drained
                // meanwhile); other causes (another signal delivery, an
                // activation) are carried over.
                let mut carry = what;
                if !self.events.contains(EV_ET) {
                    if what.contains(EV_READ) {
                        self.verify[0].set(Verify::Stale);
                    }
                    if what.contains(EV_WRITE) {
                        self.verify[1].set(Verify::Stale);
                    }
                    carry = carry.without(IO_FLAGS);
                }
                self.carry.set(carry);
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if was_active {
                self.clear_active(base);
            }
            self.fire(base, what);
            fired = true;
        }
    }

    fn poll_timer(&self, cx: &mut Context<'_>) -> bool {
        let mut t = self.timer.borrow_mut();
        match t.as_mut() {
            Some(s) => s.poll_sleep(cx).is_ready(),
            None => false,
        }
    }

    /// Descriptor or signal readiness, level-triggered unless `EV_ET`.
    fn collect(self: &Rc<Self>, cx: &mut Context<'_>) -> EventFlags {
        if self.events.contains(EV_SIGNAL) {
            let mut s = self.signal.borrow_mut();
            return match s.as_mut().map(|sig| sig.poll_recv(cx)) {
                Some(Poll::Ready(())) => EV_SIGNAL,
                _ => EventFlags::empty(),
            };
        }
        if self.status.has(ev_state::FD_GONE) {
            return EventFlags::empty();
        }
        let io = self.io.borrow();
        let Some(fe) = io.as_ref() else {
            return EventFlags::empty();
        };
        let et = fe.et;
        let mut waits = self.waits.borrow_mut();
        let waits = &mut *waits;
        let dirs = [(Direction::Read, EV_READ), (Direction::Write, EV_WRITE)];
        let mut what = EventFlags::empty();
        let mut to_probe: [Option<ReadyEvent>; 2] = [None, None];
        for (i, &(dir, flag)) in dirs.iter().enumerate() {
            if !self.events.contains(flag) {
                continue;
            }
            match fe.poll_ready(dir, cx, waits) {
                Poll::Pending => {}
                Poll::Ready(Err(_)) => what |= flag,
                Poll::Ready(Ok(ev)) => match self.verify[i].get() {
                    Verify::Stale => {
                        // The callback ran: forget what fired and wait for
                        // the backend. Level registration: it reports the
                        // descriptor again at the next iteration if it is
                        // still ready. Edge (`EV_ET`): only a new edge fires.
                        fe.reg.clear_readiness(ev);
                        self.verify[i].set(Verify::Verified);
                        if self.repoll(fe, waits, i, dir, et, cx) {
                            what |= flag;
                        }
                    }
                    Verify::Fresh if et => to_probe[i] = Some(ev),
                    Verify::Fresh | Verify::Verified => {
                        self.verify[i].set(Verify::Verified);
                        if !et
                            && ev.ready.intersects(Readiness::ERROR)
                            && check_open(self.fd).is_err()
                        {
                            // poll and select report a closed descriptor as
                            // an error at every wait.
                            drop(io);
                            self.descriptor_gone();
                            return what;
                        }
                        if self.accept(i, ev, et) {
                            what |= flag;
                        }
                    }
                },
            }
        }
        if to_probe.iter().any(Option::is_some) {
            // An `EV_ET` event just added: its edge registration assumed
            // readiness; ask the kernel once.
            let p = probe(fe.reg.fd(), to_probe[0].is_some(), to_probe[1].is_some());
            if p.invalid {
                drop(io);
                self.descriptor_gone();
                return what;
            }
            for (i, &(dir, flag)) in dirs.iter().enumerate() {
                let Some(ev) = to_probe[i] else { continue };
                self.verify[i].set(Verify::Verified);
                let ready = if i == 0 { p.read } else { p.write };
                if ready {
                    self.accept(i, ev, et);
                    what |= flag;
                } else {
                    fe.reg.clear_readiness(ev);
                    if self.repoll(fe, waits, i, dir, et, cx) {
                        what |= flag;
                    }
                }
            }
        }
        if self.events.contains(EV_CLOSED)
            && fe.poll_closed(cx, waits).is_ready()
            && (!et || !self.status.replace(ev_state::CLOSED_SEEN, true))
        {
            what |= EV_CLOSED;
        }
        drop(io);
        what
    }

    /// The descriptor was closed under a pending event (a caller bug that
    /// libevent documents: delete first). Logged once; the event stays
    /// quiet until added again, rather than firing forever on a stale
    /// readiness.
    fn descriptor_gone(&self) {
        if !self.status.replace(ev_state::FD_GONE, true) {
            log_warn!(
                "event on fd {}: the descriptor was closed while the event was pending; \
                 it will not fire again until added again (call del() before closing)",
                self.fd
            );
        }
        for v in &self.verify {
            v.set(Verify::Verified);
        }
    }

    /// Polls a direction again after its readiness was cleared: what is
    /// left is a condition that never clears (peer closed, error).
    fn repoll(
        &self,
        fe: &FdEntry,
        waits: &mut EventWaits,
        i: usize,
        dir: Direction,
        et: bool,
        cx: &mut Context<'_>,
    ) -> bool {
        match fe.poll_ready(dir, cx, waits) {
            Poll::Pending => false,
            Poll::Ready(Err(_)) => true,
            Poll::Ready(Ok(ev)) => self.accept(i, ev, et),
        }
    }

    /// Whether a readiness fires. Level-triggered: always. Edge-triggered:
    /// a fresh edge does; a lasting condition (peer closed, error) fires
    /// once.
    fn accept(&self, i: usize, ev: ReadyEvent, et: bool) -> bool {
        if !et {
            return true;
        }
        let clearable = if i == 0 {
            Readiness::READABLE
        } else {
            Readiness::WRITABLE
        };
        let sticky = ev
            .ready
            .intersects(Readiness::READ_CLOSED | Readiness::WRITE_CLOSED | Readiness::ERROR);
        if ev.ready.intersects(clearable) {
            if sticky {
                self.status.set(ev_state::STICKY_SEEN[i], true);
            }
            return true;
        }
        !self.status.replace(ev_state::STICKY_SEEN[i], true)
    }

    /// Runs the callback for `what`, after libevent's bookkeeping: a
    /// one-shot event stops being pending first (so the callback may add
    /// it again), a persistent one re-arms its full timeout.
    fn fire(self: &Rc<Self>, base: &BaseInner, what: EventFlags) {
        if !self.events.contains(EV_PERSIST) {
            self.del_nolock(Some(base));
        } else if let Some(period) = self.timeout.get() {
            let now = Instant::now();
            let from = if what.contains(EV_TIMEOUT) {
                self.deadline.get().unwrap_or(now)
            } else {
                now
            };
            let far = now + Duration::from_secs(86400 * 365 * 30);
            let mut at = from.checked_add(period).unwrap_or(far);
            if at < now {
                // The loop fell behind (slow callbacks, a stopped loop):
                // start a fresh period rather than firing back to back.
                at = now.checked_add(period).unwrap_or(far);
            }
            self.deadline.set(Some(at));
            let mut t = self.timer.borrow_mut();
            match t.as_mut() {
                Some(s) => s.reset(at),
                None => *t = Some(sleep_until(at)),
            }
        }
        if what.contains(EV_READ) {
            self.verify[0].set(Verify::Stale);
        }
        if what.contains(EV_WRITE) {
            self.verify[1].set(Verify::Stale);
        }
        let Some(mut cb) = self.callback.take() else {
            return;
        };
        let out = if self.events.contains(EV_ET) && what.intersects(IO_FLAGS) {
            what | EV_ET
        } else {
            what
        };
        base.note_callback();
        let handle = Event {
            inner: self.clone(),
        };
        let prev = base.running.replace(Some(Rc::downgrade(self)));
        self.status.set(ev_state::RUNNING, true);
        let res = catch_unwind(AssertUnwindSafe(|| cb(&handle, self.fd, out)));
        self.status.set(ev_state::RUNNING, false);
        *base.running.borrow_mut() = prev;
        drop(handle);
        if self.status.has(ev_state::FREED) {
            drop(cb);
        } else {
            match self.callback.take() {
                // The callback installed another one while running.
                Some(newer) => {
                    self.callback.set(Some(newer));
                    drop(cb);
                }
                None => self.callback.set(Some(cb)),
            }
        }
        if let Err(p) = res {
            log_error!(
                "callback of event on fd {} panicked; the loop stops and the panic resumes in dispatch",
                self.fd
            );
            base.store_panic(p);
        }
    }
}

/// A callback bound to a descriptor, a signal and/or a timeout: libevent's
/// `struct event`. The handle is cheap to clone (all clones are the same
/// event, like copies of a `struct event *`).
///
/// An event does nothing until [`add`](Event::add)ed (or
/// [activated](Event::active)). While it is pending or active the base
/// keeps it alive even without handles, as libevent does; call
/// [`free`](Event::free) (or drop every handle of a non-pending event) to
/// release it and its callback. A callback that captures a handle of its
/// own event keeps it alive until `free` or until the base is dropped
/// (which releases every event it made): prefer the handle passed to
/// callbacks made with [`Event::new_with_self`].
///
/// Semantics follow libevent's documentation:
/// - without `EV_PERSIST` an event stops being pending when it fires,
///   *before* its callback runs, so the callback may add it again;
/// - with `EV_PERSIST` it stays pending, and a timeout is re-armed in full
///   each time it fires;
/// - an I/O event with a timeout gets `EV_TIMEOUT` when the time passes
///   first;
/// - descriptor events are level-triggered (they fire again at the next
///   iteration while the descriptor is still ready) unless `EV_ET` is
///   given;
/// - each event's callback runs at most once per loop iteration, on the
///   loop's thread; callbacks may add, delete, activate or free any event,
///   their own included, and stop the loop.
///
/// ```
/// use runtime::compat::{Event, EventBase, EV_PERSIST, EV_READ};
/// use std::cell::Cell;
/// use std::io::Write;
/// use std::os::fd::AsRawFd;
/// use std::rc::Rc;
///
/// let base = EventBase::new().unwrap();
/// let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
/// b.set_nonblocking(true).unwrap();
/// let got = Rc::new(Cell::new(0));
/// let g = got.clone();
/// let ev = Event::new_with_self(&base, b.as_raw_fd(), EV_READ | EV_PERSIST, move |ev, fd, _what| {
///     let mut buf = [0u8; 16];
///     let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
///     g.set(g.get() + n);
///     ev.del().unwrap(); // persistent: stop it ourselves
/// })
/// .unwrap();
/// ev.add(None).unwrap();
/// a.write_all(b"hello").unwrap();
/// base.dispatch().unwrap(); // returns when no event is pending
/// assert_eq!(got.get(), 5);
/// ```
#[derive(Clone)]
pub struct Event {
    pub(crate) inner: Rc<EventInner>,
}

impl PartialEq for Event {
    fn eq(&self, other: &Event) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for Event {}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("fd", &self.inner.fd)
            .field("events", &self.inner.events)
            .field("priority", &self.inner.priority.get())
            .field("pending", &self.inner.pending_flags())
            .finish()
    }
}

fn checked_deadline(d: Duration) -> io::Result<(Duration, Instant)> {
    let at = Instant::now()
        .checked_add(d)
        .ok_or_else(|| invalid(format!("timeout {d:?} overflows the clock")))?;
    Ok((d, at))
}

impl Event {
    /// A new event (`event_new`): `fd` and `what` (`EV_READ`, `EV_WRITE`,
    /// `EV_CLOSED`, `EV_SIGNAL`, `EV_PERSIST`, `EV_ET`; `EV_TIMEOUT` is
    /// accepted and ignored) and the callback, which gets the descriptor
    /// and what happened. Use `fd = -1` and no I/O flag for a pure timer.
    /// `EV_SIGNAL` together with an I/O flag is an `InvalidInput` error.
    ///
    /// ```
    /// use runtime::compat::{Event, EventBase, EV_READ, EV_SIGNAL};
    /// let base = EventBase::new().unwrap();
    /// let ev = Event::new(&base, 0, EV_READ, |_fd, _what| {}).unwrap();
    /// assert!(ev.pending(EV_READ).is_empty()); // not added yet
    /// assert!(Event::new(&base, 0, EV_READ | EV_SIGNAL, |_, _| {}).is_err());
    /// ```
    pub fn new(
        base: &BaseHandle,
        fd: RawFd,
        what: EventFlags,
        mut callback: impl FnMut(RawFd, EventFlags) + 'static,
    ) -> io::Result<Event> {
        Event::new_with_self(base, fd, what, move |_ev, fd, w| callback(fd, w))
    }

    /// Like [`new`](Event::new), with the event itself passed to the
    /// callback (libevent's `event_self_cbarg()`): the callback can delete,
    /// re-add or free its own event without keeping it alive.
    ///
    /// ```
    /// use runtime::compat::{Event, EventBase, EV_PERSIST};
    /// use std::time::Duration;
    /// let base = EventBase::new().unwrap();
    /// let mut n = 0;
    /// let ev = Event::new_with_self(&base, -1, EV_PERSIST, move |ev, _fd, _what| {
    ///     n += 1;
    ///     if n == 3 {
    ///         ev.free(); // a persistent timer that stops itself
    ///     }
    /// })
    /// .unwrap();
    /// ev.add(Some(Duration::from_millis(1))).unwrap();
    /// base.dispatch().unwrap();
    /// assert!(ev.is_freed());
    /// ```
    pub fn new_with_self(
        base: &BaseHandle,
        fd: RawFd,
        what: EventFlags,
        callback: impl FnMut(&Event, RawFd, EventFlags) + 'static,
    ) -> io::Result<Event> {
        let b = base.inner()?;
        let inner = EventInner::new(&b, fd, what, false, Box::new(callback))?;
        Ok(Event { inner })
    }

    /// A timer (`evtimer_new`): no descriptor, fires once per
    /// [`add`](Event::add) with a timeout. Its callback gets `EV_TIMEOUT`.
    ///
    /// ```
    /// use runtime::compat::{Event, EventBase, EV_TIMEOUT};
    /// use std::time::{Duration, Instant};
    /// let base = EventBase::new().unwrap();
    /// let start = Instant::now();
    /// let t = Event::new_timer(&base, move |_fd, what| {
    ///     assert_eq!(what, EV_TIMEOUT);
    ///     assert!(start.elapsed() >= Duration::from_millis(5));
    /// })
    /// .unwrap();
    /// t.add(Some(Duration::from_millis(5))).unwrap();
    /// base.dispatch().unwrap();
    /// ```
    pub fn new_timer(
        base: &BaseHandle,
        callback: impl FnMut(RawFd, EventFlags) + 'static,
    ) -> io::Result<Event> {
        Event::new(base, -1, EventFlags::empty(), callback)
    }

    /// A signal event (`evsignal_new`: `EV_SIGNAL | EV_PERSIST`): the
    /// callback gets the signal number and `EV_SIGNAL`, once per delivery
    /// (deliveries the kernel merged count once). The process-wide handler
    /// is installed when the event is added and the previous disposition
    /// restored when the last listener goes.
    ///
    /// ```no_run
    /// use runtime::compat::{Event, EventBase};
    /// let base = EventBase::new().unwrap();
    /// let b = base.handle();
    /// let hup = Event::new_signal(&base, libc::SIGHUP, move |_sig, _what| {
    ///     let _ = b.loopbreak();
    /// })
    /// .unwrap();
    /// hup.add(None).unwrap();
    /// base.dispatch().unwrap();
    /// ```
    pub fn new_signal(
        base: &BaseHandle,
        signum: i32,
        callback: impl FnMut(RawFd, EventFlags) + 'static,
    ) -> io::Result<Event> {
        Event::new(base, signum, EV_SIGNAL | EV_PERSIST, callback)
    }

    /// A user event (libevent 2.2's `evuser_new`): never pending by
    /// itself; [`trigger`](Event::trigger) runs its callback at the next
    /// iteration.
    ///
    /// ```
    /// use runtime::compat::{Event, EventBase};
    /// let base = EventBase::new().unwrap();
    /// let ev = Event::new_user(&base, |_fd, what| assert!(what.is_empty())).unwrap();
    /// ev.trigger().unwrap();
    /// base.dispatch().unwrap();
    /// ```
    pub fn new_user(
        base: &BaseHandle,
        callback: impl FnMut(RawFd, EventFlags) + 'static,
    ) -> io::Result<Event> {
        Event::new(base, -1, EventFlags::empty(), callback)
    }

    /// Makes the event pending (`event_add`), with an optional timeout.
    ///
    /// Adding a pending event again replaces its timeout when `timeout` is
    /// `Some` and keeps it when `None`. A pure timer added with `None` is
    /// not pending (as in libevent). Errors: an invalid or closed
    /// descriptor, a descriptor the backend cannot watch (a regular file
    /// with epoll), events on one descriptor disagreeing on `EV_ET`, an
    /// unknown signal, a timeout that overflows the clock, a freed event or
    /// a freed base.
    ///
    /// ```
    /// use runtime::compat::{Event, EventBase, EV_READ};
    /// use std::time::Duration;
    /// let base = EventBase::new().unwrap();
    /// let bad = Event::new(&base, -1, EV_READ, |_, _| {}).unwrap();
    /// assert!(bad.add(None).is_err());
    /// let t = Event::new_timer(&base, |_, _| {}).unwrap();
    /// assert!(t.add(Some(Duration::MAX)).is_err());
    /// ```
    pub fn add(&self, timeout: Option<Duration>) -> io::Result<()> {
        let t = timeout.map(checked_deadline).transpose()?;
        self.inner.add(t, None)
    }

    /// [`add`](Event::add) with a C `timeval`, as libevent takes it: a
    /// negative field or microseconds outside `0..1_000_000` is an
    /// `InvalidInput` error.
    ///
    /// ```
    /// use runtime::compat::{Event, EventBase};
    /// let base = EventBase::new().unwrap();
    /// let t = Event::new_timer(&base, |_, _| {}).unwrap();
    /// let bad = libc::timeval { tv_sec: -1, tv_usec: 0 };
    /// assert!(t.add_timeval(Some(bad)).is_err());
    /// t.add_timeval(Some(libc::timeval { tv_sec: 0, tv_usec: 500 })).unwrap();
    /// ```
    pub fn add_timeval(&self, tv: Option<libc::timeval>) -> io::Result<()> {
        let d = match tv {
            None => None,
            Some(tv) => {
                if tv.tv_sec < 0 || tv.tv_usec < 0 || tv.tv_usec >= 1_000_000 {
                    return Err(invalid(format!(
                        "invalid timeout {{ tv_sec: {}, tv_usec: {} }}",
                        tv.tv_sec, tv.tv_usec
                    )));
                }
                Some(Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000))
            }
        };
        self.add(d)
    }

    /// [`add`](Event::add) with a common timeout of the same base (see
    /// [`BaseHandle::init_common_timeout`]).
    ///
    /// ```
    /// use runtime::compat::{Event, EventBase};
    /// use std::time::Duration;
    /// let base = EventBase::new().unwrap();
    /// let ct = base.init_common_timeout(Duration::from_millis(2)).unwrap();
    /// let t = Event::new_timer(&base, |_, _| {}).unwrap();
    /// t.add_common(&ct).unwrap();
    /// base.dispatch().unwrap();
    /// ```
    pub fn add_common(&self, timeout: &crate::CommonTimeout) -> io::Result<()> {
        let b = self.inner.base()?;
        if timeout.base_id != b.id {
            return Err(invalid("common timeout belongs to another base"));
        }
        let t = checked_deadline(timeout.duration)?;
        self.inner.add(Some(t), Some(timeout.index))
    }

    /// Makes the event neither pending nor active (`event_del`); its
    /// callback will not run until it is added or activated again.
    /// Deleting an event that is neither pending nor active (deleted
    /// twice, or a one-shot event that already fired) is a `NotFound`
    /// error, so a double delete is visible; `.ok()` ignores it.
    ///
    /// ```
    /// use runtime::compat::{Event, EventBase};
    /// use std::time::Duration;
    /// let base = EventBase::new().unwrap();
    /// let t = Event::new_timer(&base, |_, _| {}).unwrap();
    /// t.add(Some(Duration::from_secs(1))).unwrap();
    /// t.del().unwrap();
    /// assert_eq!(t.del().unwrap_err().kind(), std::io::ErrorKind::NotFound);
    /// ```
    pub fn del(&self) -> io::Result<()> {
        self.inner.del()
    }

    /// Drops the timeout but keeps the descriptor or signal interest
    /// (`event_remove_timer`).
    ///
    /// ```
    /// use runtime::compat::{Event, EventBase, EV_TIMEOUT};
    /// use std::time::Duration;
    /// let base = EventBase::new().unwrap();
    /// let t = Event::new_timer(&base, |_, _| {}).unwrap();
    /// t.add(Some(Duration::from_secs(1))).unwrap();
    /// t.remove_timer().unwrap();
    /// assert!(t.pending(EV_TIMEOUT).is_empty());
    /// ```
    pub fn remove_timer(&self) -> io::Result<()> {
        self.inner.remove_timer()
    }

    /// Makes the event active with `res` (`event_active`): its callback
    /// runs at the next iteration with `what = res`, whether or not it is
    /// pending. Activating an already active event adds `res` to the
    /// flags it will get; the callback still runs once. A one-shot event
    /// stops being pending when its callback runs.
    ///
    /// ```
    /// use runtime::compat::{Event, EventBase, EV_READ, EV_WRITE};
    /// let base = EventBase::new().unwrap();
    /// let ev = Event::new(&base, -1, EventFlags::empty(), |_, what| {
    ///     assert_eq!(what, EV_READ | EV_WRITE);
    /// })
    /// .unwrap();
    /// # use runtime::compat::EventFlags;
    /// ev.active(EV_READ).unwrap();
    /// ev.active(EV_WRITE).unwrap();
    /// base.dispatch().unwrap();
    /// ```
    pub fn active(&self, res: EventFlags) -> io::Result<()> {
        self.inner.activate(res)
    }

    /// Runs a user event's callback at the next iteration (`evuser_trigger`,
    /// that is `event_active(ev, 0)`).
    pub fn trigger(&self) -> io::Result<()> {
        self.inner.activate(EventFlags::empty())
    }

    /// Which of `what` are pending or active (`event_pending`): the I/O or
    /// signal flags while added, `EV_TIMEOUT` while a timeout is armed, and
    /// the flags the event was activated with.
    pub fn pending(&self, what: EventFlags) -> EventFlags {
        let mask = EV_TIMEOUT | IO_FLAGS | EV_SIGNAL;
        self.inner.pending_flags() & what & mask
    }

    /// Whether the event is pending or active at all.
    pub fn is_pending(&self) -> bool {
        !self.pending(EV_TIMEOUT | IO_FLAGS | EV_SIGNAL).is_empty()
            || self.inner.status.has(ev_state::ACTIVE)
    }

    /// When the armed timeout expires (the `tv` of `event_pending`).
    pub fn deadline(&self) -> Option<Instant> {
        if self.inner.has_timer() {
            self.inner.deadline.get()
        } else {
            None
        }
    }

    /// Sets the priority (`event_priority_set`; 0 runs first). Fails for
    /// an active event or a priority out of range.
    ///
    /// ```
    /// use runtime::compat::{Event, EventConfig};
    /// let base = EventConfig::new().priorities(3).build().unwrap();
    /// let ev = Event::new_timer(&base, |_, _| {}).unwrap();
    /// assert_eq!(ev.priority(), 1); // the middle one by default
    /// ev.set_priority(0).unwrap();
    /// assert!(ev.set_priority(3).is_err());
    /// ```
    pub fn set_priority(&self, priority: usize) -> io::Result<()> {
        self.inner.set_priority(priority)
    }

    /// The priority (`event_get_priority`).
    pub fn priority(&self) -> usize {
        self.inner.priority.get()
    }

    /// The descriptor, or signal number (`event_get_fd`).
    pub fn fd(&self) -> RawFd {
        self.inner.fd
    }

    /// The flags the event was created with (`event_get_events`).
    pub fn events(&self) -> EventFlags {
        self.inner.events
    }

    /// A handle to the event's base (`event_get_base`).
    pub fn base(&self) -> BaseHandle {
        BaseHandle {
            inner: self.inner.base.clone(),
        }
    }

    /// Whether its callback is running right now.
    pub fn is_running(&self) -> bool {
        self.inner.status.has(ev_state::RUNNING)
    }

    /// Replaces the callback (part of libevent's `event_assign`). Allowed
    /// at any time, from the callback itself too (the new one is used from
    /// the next time the event fires).
    pub fn set_callback(
        &self,
        callback: impl FnMut(&Event, RawFd, EventFlags) + 'static,
    ) -> io::Result<()> {
        self.inner.base()?;
        let old = self.inner.callback.replace(Some(Box::new(callback)));
        drop(old);
        Ok(())
    }

    /// Releases the event (`event_free`): deleted, its callback dropped
    /// (when it returns, if it is running: an event may free itself), its
    /// task ended. Later calls on any handle of it fail; freeing twice
    /// does nothing.
    pub fn free(&self) {
        self.inner.free();
    }

    /// Whether [`free`](Event::free) was called.
    pub fn is_freed(&self) -> bool {
        self.inner.status.has(ev_state::FREED)
    }
}
