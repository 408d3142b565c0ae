//! Timers with microsecond resolution: [`sleep`], [`sleep_until`],
//! [`timeout`], [`interval`]. They live in the current thread's reactor (a
//! timing wheel with 1 µs ticks: O(1) insert and cancel). A timer never fires
//! before its deadline.
//!
//! ```
//! # use runtime::reactor::Reactor;
//! # let reactor = Reactor::new().unwrap();
//! # let _g = reactor.enter();
//! use runtime::time::sleep;
//! use std::time::{Duration, Instant};
//! let start = Instant::now();
//! let mut s = std::pin::pin!(sleep(Duration::from_millis(2)));
//! // A tiny driver: poll, then let the reactor wait for the timer.
//! let waker = std::task::Waker::noop();
//! let mut cx = std::task::Context::from_waker(&waker);
//! while s.as_mut().poll(&mut cx).is_pending() {
//!     reactor.turn(None).unwrap();
//! }
//! assert!(start.elapsed() >= Duration::from_millis(2));
//! # use std::future::Future;
//! ```

pub(crate) mod wheel;

use crate::coop;
use crate::driver::{Inner, Reactor};
use futures_core::Stream;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use wheel::TimerKey;

/// How far away "never" is: deadlines that overflow `Instant` saturate here.
const FAR_FUTURE: Duration = Duration::from_secs(86400 * 365 * 30);

fn far_future(from: Instant) -> Instant {
    from + FAR_FUTURE
}

/// Computes `Instant::now() + d`, refusing an overflow.
fn checked_deadline(d: Duration) -> io::Result<Instant> {
    Instant::now().checked_add(d).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("duration {d:?} overflows the clock"),
        )
    })
}

struct Registered {
    reactor: Rc<Inner>,
    key: TimerKey,
}

/// A future that completes at a deadline. Created by [`sleep`] and
/// [`sleep_until`]. Dropping it cancels the timer.
pub struct Sleep {
    deadline: Instant,
    registered: Option<Registered>,
    done: bool,
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("done", &self.done)
            .finish()
    }
}

/// Completes after `duration`. A duration that would overflow the clock
/// saturates to about 30 years (use [`try_sleep`] to get an error instead).
///
/// Outside a reactor the future panics when polled.
pub fn sleep(duration: Duration) -> Sleep {
    let now = Instant::now();
    Sleep::new(now.checked_add(duration).unwrap_or_else(|| far_future(now)))
}

/// Like [`sleep`], but an overflowing duration is an `InvalidInput` error.
pub fn try_sleep(duration: Duration) -> io::Result<Sleep> {
    Ok(Sleep::new(checked_deadline(duration)?))
}

/// Completes at `deadline` (at once if it has passed).
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep::new(deadline)
}

impl Sleep {
    fn new(deadline: Instant) -> Sleep {
        Sleep {
            deadline,
            registered: None,
            done: false,
        }
    }

    /// The instant this sleep completes at.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has been reached (as seen by the reactor).
    pub fn is_elapsed(&self) -> bool {
        if self.done {
            return true;
        }
        let Some(r) = &self.registered else {
            return false;
        };
        // Before the deadline by the reactor's own clock the timer cannot
        // have fired: the wheel's entry (likely out of cache) is not read.
        !r.reactor.before(self.deadline) && r.reactor.wheel.borrow().is_fired(r.key)
    }

    /// Moves the deadline; the sleep becomes pending again.
    pub fn reset(&mut self, deadline: Instant) {
        if let Some(r) = self.registered.take() {
            r.reactor.wheel.borrow_mut().remove(r.key);
        }
        self.deadline = deadline;
        self.done = false;
    }

    /// Polls without needing a pinned reference (`Sleep` is `Unpin`).
    ///
    /// A sleep polled in a runtime other than the one it was first polled
    /// in (or after that one was dropped) moves to the running one: its
    /// deadline stays, only the reactor that wakes it changes.
    ///
    /// # Panics
    /// When it has to wait and no reactor is running on this thread, or
    /// its own was dropped and no other is running.
    pub fn poll_sleep(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.done {
            return Poll::Ready(());
        }
        if let Some(r) = &self.registered {
            let mut wheel = r.reactor.wheel.borrow_mut();
            if wheel.is_fired(r.key) {
                wheel.remove(r.key);
                drop(wheel);
                self.registered = None;
                self.done = true;
                return Poll::Ready(());
            }
            if r.reactor.elsewhere().is_none() {
                wheel.set_waker(r.key, cx.waker());
                return Poll::Pending;
            }
            // Its reactor will never wake it here: register again below,
            // with the reactor that runs this task.
            wheel.remove(r.key);
            drop(wheel);
            self.registered = None;
        }
        if coop::poll_proceed(cx).is_pending() {
            return Poll::Pending;
        }
        let reactor = match Reactor::current_inner() {
            Ok(r) => r,
            Err(e) => panic!(
                "runtime: a timer was polled outside a runtime (or after its runtime was dropped): {e}"
            ),
        };
        let tick = reactor.deadline_tick(self.deadline);
        let key = {
            let mut wheel = reactor.wheel.borrow_mut();
            reactor.catch_up_idle_wheel(&mut wheel);
            wheel.insert(tick, cx.waker().clone())
        };
        match key {
            None => {
                self.done = true;
                Poll::Ready(())
            }
            Some(key) => {
                self.registered = Some(Registered { reactor, key });
                Poll::Pending
            }
        }
    }
}

impl Future for Sleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.get_mut().poll_sleep(cx)
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(r) = self.registered.take() {
            r.reactor.wheel.borrow_mut().remove(r.key);
        }
    }
}

/// The error of a [`timeout`] whose deadline passed first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for io::Error {
    fn from(_: Elapsed) -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, "deadline has elapsed")
    }
}

pin_project_lite::pin_project! {
    /// A future with a deadline; see [`timeout`].
    #[derive(Debug)]
    pub struct Timeout<F> {
        #[pin]
        future: F,
        sleep: Sleep,
    }
}

/// Runs `future` for at most `duration`: `Err(Elapsed)` if it has not
/// finished by then (the future is dropped with the `Timeout`).
///
/// ```
/// # use runtime::reactor::Reactor;
/// # use runtime::time::{timeout, sleep};
/// # use std::time::Duration;
/// # let reactor = Reactor::new().unwrap(); let _g = reactor.enter();
/// # let waker = std::task::Waker::noop(); let mut cx = std::task::Context::from_waker(&waker);
/// let mut t = std::pin::pin!(timeout(Duration::from_millis(1), sleep(Duration::from_secs(60))));
/// let res = loop {
///     if let std::task::Poll::Ready(r) = std::future::Future::poll(t.as_mut(), &mut cx) { break r; }
///     reactor.turn(None).unwrap();
/// };
/// assert!(res.is_err());
/// ```
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep(duration),
    }
}

/// Like [`timeout`] with an absolute deadline.
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> Timeout<F> {
    Timeout {
        future,
        sleep: sleep_until(deadline),
    }
}

impl<F> Timeout<F> {
    /// The wrapped future.
    pub fn get_ref(&self) -> &F {
        &self.future
    }
    /// Consumes the timeout, returning the future.
    pub fn into_inner(self) -> F {
        self.future
    }
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(v) = this.future.poll(cx) {
            return Poll::Ready(Ok(v));
        }
        match this.sleep.poll_sleep(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// What an [`Interval`] does when ticks were missed (the loop was busy).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Fire the missed ticks back to back until caught up (the default).
    #[default]
    Burst,
    /// Start a fresh period from the late tick.
    Delay,
    /// Drop the missed ticks; the next tick is the next multiple of the
    /// period after now.
    Skip,
}

/// A stream of instants spaced `period` apart; see [`interval`].
#[derive(Debug)]
pub struct Interval {
    sleep: Sleep,
    period: Duration,
    missed: MissedTickBehavior,
}

/// Ticks at once, then every `period`. A zero period is an
/// `InvalidInput` error.
///
/// ```
/// # use runtime::reactor::Reactor;
/// # use runtime::time::interval;
/// # use std::time::Duration;
/// # let reactor = Reactor::new().unwrap(); let _g = reactor.enter();
/// assert!(interval(Duration::ZERO).is_err());
/// let mut iv = interval(Duration::from_millis(1)).unwrap();
/// ```
pub fn interval(period: Duration) -> io::Result<Interval> {
    interval_at(Instant::now(), period)
}

/// Ticks at `start`, then every `period`.
pub fn interval_at(start: Instant, period: Duration) -> io::Result<Interval> {
    if period.is_zero() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "interval period must be non-zero",
        ));
    }
    start.checked_add(period).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("interval period {period:?} overflows the clock"),
        )
    })?;
    Ok(Interval {
        sleep: sleep_until(start),
        period,
        missed: MissedTickBehavior::Burst,
    })
}

impl Interval {
    /// Sets the missed-tick policy.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed = behavior;
    }

    /// The missed-tick policy.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Restarts the period from now (the next tick is one period away).
    pub fn reset(&mut self) {
        let now = Instant::now();
        self.sleep.reset(
            now.checked_add(self.period)
                .unwrap_or_else(|| far_future(now)),
        );
    }

    /// Polls for the next tick, returning the instant it was scheduled for.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        if self.sleep.poll_sleep(cx).is_pending() {
            return Poll::Pending;
        }
        let scheduled = self.sleep.deadline();
        let now = Instant::now();
        let next = match self.missed {
            MissedTickBehavior::Burst => scheduled + self.period,
            MissedTickBehavior::Delay => {
                if now > scheduled + self.period {
                    now + self.period
                } else {
                    scheduled + self.period
                }
            }
            MissedTickBehavior::Skip => {
                let next = scheduled + self.period;
                if now >= next {
                    let behind = now.duration_since(scheduled).as_nanos();
                    let periods = behind / self.period.as_nanos() + 1;
                    let add = self.period.as_nanos().saturating_mul(periods);
                    scheduled
                        .checked_add(Duration::from_nanos(add.min(u64::MAX as u128) as u64))
                        .unwrap_or_else(|| far_future(now))
                } else {
                    next
                }
            }
        };
        self.sleep.reset(next);
        Poll::Ready(scheduled)
    }

    /// Waits for the next tick.
    pub async fn tick(&mut self) -> Instant {
        std::future::poll_fn(|cx| self.poll_tick(cx)).await
    }
}

impl Stream for Interval {
    type Item = Instant;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.get_mut().poll_tick(cx).map(Some)
    }
}

/// The reactor's cached time (see [`Reactor::now`]); a fresh reading outside
/// a reactor.
pub fn now() -> Instant {
    Reactor::current_now().unwrap_or_else(Instant::now)
}
