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
use std::task::Context;
use std::time::{Duration, Instant};

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
    sleep: Option<Sleep>,
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
            self.sleep = None;
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
        let sleep = self.sleep.get_or_insert_with(|| sleep_until(target));
        if sleep.deadline() > target {
            sleep.reset(target);
        }
        // A timer that fired before the target (it was set for an older,
        // earlier one) is moved to the target; this ends as soon as the
        // timer is pending or the target has passed.
        loop {
            if sleep.poll_sleep(cx).is_pending() {
                return false;
            }
            if now() >= target {
                self.target = None;
                return true;
            }
            sleep.reset(target);
        }
    }
}

/// The error an expired timeout produces (libevent's `BEV_EVENT_TIMEOUT`).
pub(crate) fn timed_out(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, what)
}
