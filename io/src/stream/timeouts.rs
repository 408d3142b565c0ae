//! Idle timeouts for the read and write directions of a
//! [`BufferedStream`](super::BufferedStream) (`bufferevent_set_timeouts`).
//!
//! A timer counts only while the stream is waiting to read (or to write)
//! and restarts whenever that direction makes progress. To keep the timer
//! wheel quiet on a busy stream, progress only forgets the deadline; the
//! next wait computes a new one and a registered timer that fires before it
//! is simply moved forward, so a stream that keeps making progress touches
//! the wheel about once per timeout period rather than once per read.

use runtime_reactor::time::{now, sleep_until, Sleep};
use std::io;
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

/// A timer for a deadline that moves often and rarely passes (an idle or
/// header-read timeout): it touches the timer wheel rarely. A timer set for
/// an earlier target is moved forward only when it fires; one set for a
/// later target is moved back at once.
///
/// While the timer waits with the polling task's waker, for no later than
/// the target, and has not fired, a poll by the same waker returns at once
/// without touching the timer: the timer will wake that task when it fires.
/// A poll with another waker (the owner moved to another task) registers
/// that waker.
///
/// ```
/// use runtime::io::DeadlineTimer;
/// use std::task::{Context, Waker};
/// use std::time::{Duration, Instant};
///
/// runtime::block_on(async {
///     let mut t = DeadlineTimer::default();
///     let mut cx = Context::from_waker(Waker::noop());
///     let soon = Instant::now() + Duration::from_secs(30);
///     assert!(!t.poll_expired(&mut cx, soon));
///     assert!(t.poll_expired(&mut cx, Instant::now() - Duration::from_secs(1)));
/// });
/// ```
#[derive(Debug, Default)]
pub struct DeadlineTimer {
    sleep: Option<Sleep>,
    /// The waker the timer holds from its last poll, when that poll was
    /// pending: its data and vtable addresses (equal ones are the same
    /// waker).
    armed: Option<(usize, usize)>,
}

impl DeadlineTimer {
    /// Whether `target` has passed (by the reactor's cached clock,
    /// [`now`]); if not, the task is woken when it passes (or when the
    /// timer fires early for an older, earlier target: poll again).
    pub fn poll_expired(&mut self, cx: &mut Context<'_>, target: Instant) -> bool {
        let sleep = self.sleep.get_or_insert_with(|| sleep_until(target));
        if sleep.deadline() > target {
            sleep.reset(target);
            self.armed = None;
        }
        let me = waker_id(cx.waker());
        if self.armed == Some(me) && !sleep.is_elapsed() {
            return false;
        }
        // A timer that fired before the target (it was set for an older,
        // earlier one) is moved to the target; this ends as soon as the
        // timer is pending or the target has passed.
        loop {
            if sleep.poll_sleep(cx).is_pending() {
                self.armed = Some(me);
                return false;
            }
            self.armed = None;
            if now() >= target {
                return true;
            }
            sleep.reset(target);
        }
    }
}

fn waker_id(w: &Waker) -> (usize, usize) {
    (w.data() as usize, w.vtable() as *const _ as usize)
}

/// One direction's idle timer: counts only while that direction waits and
/// starts over after progress. Deadlines are taken from the reactor's
/// cached clock ([`now`]), as libevent takes its timeouts from its cached
/// time. [`BufferedStream`](super::BufferedStream) keeps one per direction;
/// other connection types (the HTTP server's) use it for theirs.
///
/// ```
/// use runtime::io::IdleTimer;
/// use std::time::Duration;
///
/// let mut t = IdleTimer::default();
/// t.set(Some(Duration::from_secs(30)));
/// assert_eq!(t.duration(), Some(Duration::from_secs(30)));
/// t.progress(); // a read got bytes: the next wait starts a fresh period
/// ```
#[derive(Debug, Default)]
pub struct IdleTimer {
    duration: Option<Duration>,
    timer: DeadlineTimer,
    /// When the current wait times out; `None` when not waiting.
    target: Option<Instant>,
}

impl IdleTimer {
    /// The timeout, if one is set.
    pub fn duration(&self) -> Option<Duration> {
        self.duration
    }

    /// Sets (or clears) the timeout; a wait in progress starts over.
    pub fn set(&mut self, duration: Option<Duration>) {
        self.duration = duration;
        self.target = None;
        if duration.is_none() {
            self.timer = DeadlineTimer::default();
        }
    }

    /// The direction made progress: the next wait starts a fresh period.
    #[inline]
    pub fn progress(&mut self) {
        self.target = None;
    }

    /// The direction is waiting (its I/O returned `Pending`). Registers the
    /// task's waker with the timer and says whether the timeout has expired
    /// (then the wait is over: the next one starts a fresh period).
    pub fn poll_expired(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(duration) = self.duration else {
            return false;
        };
        let target = match self.target {
            Some(t) => t,
            None => match now().checked_add(duration) {
                Some(t) => {
                    self.target = Some(t);
                    t
                }
                // A timeout too far away to represent never fires.
                None => return false,
            },
        };
        if self.timer.poll_expired(cx, target) {
            self.target = None;
            return true;
        }
        false
    }
}

/// The error an expired timeout produces (libevent's `BEV_EVENT_TIMEOUT`).
pub(crate) fn timed_out(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, what)
}
