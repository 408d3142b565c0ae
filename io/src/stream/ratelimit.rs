//! Token-bucket rate limits for [`BufferedStream`](super::BufferedStream)s:
//! per stream ([`RateLimit`]) and shared by a group of streams
//! ([`RateLimitGroup`]), like libevent's `ev_token_bucket_cfg` and
//! `bufferevent_rate_limit_group`.
//!
//! A bucket holds up to `burst` tokens (bytes) and gains `rate` tokens at
//! every tick boundary (ticks are counted from the bucket's creation). A
//! read or write moves at most as many bytes as the stream's bucket — and
//! its group's share — allows, then takes them out. When a bucket is empty
//! the stream sleeps on a reactor timer until the next tick.
//!
//! Refills are computed lazily from the clock when a stream asks for
//! tokens, so an idle limited stream costs nothing; the timer runs only
//! while a stream is actually held back.

use runtime_reactor::time::{sleep_until, Sleep};
use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// One direction's token bucket: at most `burst` bytes at once, `rate`
/// more bytes every `tick` (libevent's `ev_token_bucket_cfg` for one
/// direction).
///
/// ```
/// use runtime::io::RateLimit;
/// use std::time::Duration;
///
/// // 64 KiB per second, in bursts of up to 16 KiB.
/// let limit = RateLimit::new(4096, 16 * 1024, Duration::from_millis(62));
/// assert_eq!(RateLimit::per_second(1000, 500).burst, 1000); // burst >= rate
/// assert_eq!(limit.bytes_per_second(), 66064);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateLimit {
    /// Bytes added to the bucket at every tick.
    pub rate: usize,
    /// Most bytes the bucket holds (never less than `rate`).
    pub burst: usize,
    /// Length of a tick (never zero).
    pub tick: Duration,
}

impl RateLimit {
    /// `rate` bytes per `tick`, bursts of up to `burst` bytes. `burst` is
    /// raised to `rate` if lower; a zero `tick` means one second (as a NULL
    /// tick length does in libevent).
    pub fn new(rate: usize, burst: usize, tick: Duration) -> RateLimit {
        RateLimit {
            rate,
            burst: burst.max(rate),
            tick: if tick.is_zero() {
                Duration::from_secs(1)
            } else {
                tick
            },
        }
    }

    /// `rate` bytes per second (one tick per second), bursts of up to
    /// `burst` bytes.
    pub fn per_second(rate: usize, burst: usize) -> RateLimit {
        RateLimit::new(rate, burst, Duration::from_secs(1))
    }

    /// The long-run rate in bytes per second.
    pub fn bytes_per_second(&self) -> u64 {
        let per_tick = self.rate as u128;
        let nanos = self.tick.as_nanos().max(1);
        u64::try_from(per_tick * 1_000_000_000 / nanos).unwrap_or(u64::MAX)
    }

    fn normalized(self) -> RateLimit {
        RateLimit::new(self.rate, self.burst, self.tick)
    }
}

/// A token bucket.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    cfg: RateLimit,
    tokens: usize,
    start: Instant,
    tick_index: u64,
}

impl Bucket {
    pub(crate) fn new(cfg: RateLimit, now: Instant) -> Bucket {
        let cfg = cfg.normalized();
        Bucket {
            cfg,
            // libevent starts a bucket with one tick's worth.
            tokens: cfg.rate,
            start: now,
            tick_index: 0,
        }
    }

    /// Adds the tokens of the ticks that started since the last refill.
    pub(crate) fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.start).as_nanos();
        let idx = u64::try_from(elapsed / self.cfg.tick.as_nanos().max(1)).unwrap_or(u64::MAX);
        if idx > self.tick_index {
            let ticks = usize::try_from(idx - self.tick_index).unwrap_or(usize::MAX);
            let add = self.cfg.rate.saturating_mul(ticks);
            self.tokens = self.tokens.saturating_add(add).min(self.cfg.burst);
            self.tick_index = idx;
        }
    }

    pub(crate) fn tokens(&self) -> usize {
        self.tokens
    }

    pub(crate) fn take(&mut self, n: usize) {
        self.tokens = self.tokens.saturating_sub(n);
    }

    /// When the next tick begins.
    pub(crate) fn next_tick(&self) -> Instant {
        let nanos = self
            .cfg
            .tick
            .as_nanos()
            .saturating_mul(u128::from(self.tick_index) + 1);
        let d = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
        self.start
            .checked_add(d)
            .unwrap_or_else(|| self.start + Duration::from_secs(86400 * 365))
    }

    pub(crate) fn config(&self) -> RateLimit {
        self.cfg
    }
}

/// Which way bytes flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    Read,
    Write,
}

struct GroupInner {
    read: Option<Bucket>,
    write: Option<Bucket>,
    members: usize,
    min_share: usize,
    total_read: u64,
    total_written: u64,
}

/// A rate limit shared by many streams (libevent's
/// `bufferevent_rate_limit_group`): the group has one bucket per direction,
/// and every member stream takes from both its own bucket (if it has one)
/// and the group's. While the group's bucket runs low each member may take
/// at most an equal share of what is left (but at least
/// [`min_share`](RateLimitGroup::set_min_share) bytes, 64 by default), so
/// one busy stream cannot starve the others for a whole tick.
///
/// The group is reference-counted (`Clone` shares it) and, like the
/// streams, lives on one thread.
///
/// ```
/// use runtime::io::{BufferedStream, RateLimit, RateLimitGroup};
///
/// // All streams of the group together: at most 1 MB/s in, 100 kB/s out.
/// let group = RateLimitGroup::new(
///     Some(RateLimit::per_second(1_000_000, 1_000_000)),
///     Some(RateLimit::per_second(100_000, 100_000)),
/// );
/// let (mut a, mut b) = runtime::io::pair();
/// a.set_rate_limit_group(Some(&group));
/// b.set_rate_limit_group(Some(&group));
/// assert_eq!(group.members(), 2);
/// drop(a);
/// assert_eq!(group.members(), 1);
/// ```
#[derive(Clone)]
pub struct RateLimitGroup {
    inner: Rc<RefCell<GroupInner>>,
}

impl fmt::Debug for RateLimitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = self.inner.borrow();
        f.debug_struct("RateLimitGroup")
            .field("read", &g.read.as_ref().map(Bucket::config))
            .field("write", &g.write.as_ref().map(Bucket::config))
            .field("members", &g.members)
            .finish_non_exhaustive()
    }
}

impl RateLimitGroup {
    /// A group limited to `read` bytes in and `write` bytes out (`None`:
    /// that direction is not limited by the group).
    pub fn new(read: Option<RateLimit>, write: Option<RateLimit>) -> RateLimitGroup {
        let now = Instant::now();
        RateLimitGroup {
            inner: Rc::new(RefCell::new(GroupInner {
                read: read.map(|c| Bucket::new(c, now)),
                write: write.map(|c| Bucket::new(c, now)),
                members: 0,
                min_share: 64,
                total_read: 0,
                total_written: 0,
            })),
        }
    }

    /// Replaces the limits (`bufferevent_rate_limit_group_set_cfg`); the
    /// buckets start over.
    pub fn set_limits(&self, read: Option<RateLimit>, write: Option<RateLimit>) {
        let now = Instant::now();
        let mut g = self.inner.borrow_mut();
        g.read = read.map(|c| Bucket::new(c, now));
        g.write = write.map(|c| Bucket::new(c, now));
    }

    /// The configured limits.
    pub fn limits(&self) -> (Option<RateLimit>, Option<RateLimit>) {
        let g = self.inner.borrow();
        (
            g.read.as_ref().map(Bucket::config),
            g.write.as_ref().map(Bucket::config),
        )
    }

    /// The smallest share a member may take while the bucket runs low
    /// (`bufferevent_rate_limit_group_set_min_share`; default 64, at least
    /// 1).
    pub fn set_min_share(&self, bytes: usize) {
        self.inner.borrow_mut().min_share = bytes.max(1);
    }

    /// Number of streams in the group.
    pub fn members(&self) -> usize {
        self.inner.borrow().members
    }

    /// Bytes read and written by all members since the group was made or
    /// [`reset_totals`](RateLimitGroup::reset_totals) was called
    /// (`bufferevent_rate_limit_group_get_totals`).
    pub fn totals(&self) -> (u64, u64) {
        let g = self.inner.borrow();
        (g.total_read, g.total_written)
    }

    /// Sets both totals to zero.
    pub fn reset_totals(&self) {
        let mut g = self.inner.borrow_mut();
        g.total_read = 0;
        g.total_written = 0;
    }

    /// Tokens left in the group's read bucket now (`None`: unlimited).
    pub fn read_tokens(&self) -> Option<usize> {
        let mut g = self.inner.borrow_mut();
        let now = Instant::now();
        g.read.as_mut().map(|b| {
            b.refill(now);
            b.tokens()
        })
    }

    /// Tokens left in the group's write bucket now (`None`: unlimited).
    pub fn write_tokens(&self) -> Option<usize> {
        let mut g = self.inner.borrow_mut();
        let now = Instant::now();
        g.write.as_mut().map(|b| {
            b.refill(now);
            b.tokens()
        })
    }
}

/// A stream's membership in a group; leaving on drop.
struct Member(RateLimitGroup);

impl Member {
    fn join(group: &RateLimitGroup) -> Member {
        group.inner.borrow_mut().members += 1;
        Member(group.clone())
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        let mut g = self.0.inner.borrow_mut();
        g.members = g.members.saturating_sub(1);
    }
}

/// A stream's limits: its own buckets, its group, and the timers it sleeps
/// on while held back.
#[derive(Default)]
pub(crate) struct Limiter {
    read: Option<Bucket>,
    write: Option<Bucket>,
    group: Option<Member>,
    read_sleep: Option<Sleep>,
    write_sleep: Option<Sleep>,
    /// Took from the group's bucket since the task last waited, per
    /// direction (`Dir as usize`): the next request yields first.
    took_from_group: [bool; 2],
}

impl fmt::Debug for Limiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limiter")
            .field("read", &self.read.as_ref().map(Bucket::config))
            .field("write", &self.write.as_ref().map(Bucket::config))
            .field("group", &self.group.is_some())
            .finish()
    }
}

impl Limiter {
    pub(crate) fn is_empty(&self) -> bool {
        self.read.is_none() && self.write.is_none() && self.group.is_none()
    }

    pub(crate) fn set(&mut self, dir: Dir, limit: Option<RateLimit>) {
        let bucket = limit.map(|c| Bucket::new(c, Instant::now()));
        match dir {
            Dir::Read => self.read = bucket,
            Dir::Write => self.write = bucket,
        }
    }

    pub(crate) fn get(&self, dir: Dir) -> Option<RateLimit> {
        self.bucket(dir).map(Bucket::config)
    }

    pub(crate) fn tokens(&mut self, dir: Dir) -> Option<usize> {
        let now = Instant::now();
        let b = match dir {
            Dir::Read => self.read.as_mut(),
            Dir::Write => self.write.as_mut(),
        }?;
        b.refill(now);
        Some(b.tokens())
    }

    pub(crate) fn set_group(&mut self, group: Option<&RateLimitGroup>) {
        self.group = group.map(Member::join);
    }

    pub(crate) fn group(&self) -> Option<&RateLimitGroup> {
        self.group.as_ref().map(|m| &m.0)
    }

    fn bucket(&self, dir: Dir) -> Option<&Bucket> {
        match dir {
            Dir::Read => self.read.as_ref(),
            Dir::Write => self.write.as_ref(),
        }
    }

    /// The stream waited for its inner stream in direction `dir` (other
    /// tasks have had their turn).
    pub(crate) fn waited(&mut self, dir: Dir) {
        self.took_from_group[dir as usize] = false;
    }

    /// How many bytes `dir` may move now; when none, sleeps (registering
    /// the task's waker) until the tick that refills the empty bucket.
    ///
    /// Fairness within a group: a stream that took from the group's bucket
    /// yields to the other ready tasks (waking itself) before it takes
    /// again, so the members take their shares in turn — as bufferevents
    /// do, one callback each per loop iteration.
    pub(crate) fn poll_allowance(&mut self, dir: Dir, cx: &mut Context<'_>) -> Poll<usize> {
        if self.took_from_group[dir as usize] {
            self.took_from_group[dir as usize] = false;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        loop {
            let now = Instant::now();
            let mut allow = usize::MAX;
            let mut wake: Option<Instant> = None;
            let own = match dir {
                Dir::Read => self.read.as_mut(),
                Dir::Write => self.write.as_mut(),
            };
            if let Some(b) = own {
                b.refill(now);
                if b.tokens() == 0 {
                    wake = Some(b.next_tick());
                }
                allow = allow.min(b.tokens());
            }
            if let Some(m) = &self.group {
                let mut g = m.0.inner.borrow_mut();
                let members = g.members.max(1);
                let min_share = g.min_share;
                let bucket = match dir {
                    Dir::Read => g.read.as_mut(),
                    Dir::Write => g.write.as_mut(),
                };
                if let Some(b) = bucket {
                    b.refill(now);
                    let tokens = b.tokens();
                    let share = (tokens / members).max(min_share).min(tokens);
                    if share == 0 {
                        let t = b.next_tick();
                        wake = Some(wake.map_or(t, |w| w.min(t)));
                    }
                    allow = allow.min(share);
                }
            }
            if allow > 0 {
                return Poll::Ready(allow);
            }
            let Some(at) = wake else {
                return Poll::Ready(usize::MAX);
            };
            let slot = match dir {
                Dir::Read => &mut self.read_sleep,
                Dir::Write => &mut self.write_sleep,
            };
            let sleep = slot.get_or_insert_with(|| sleep_until(at));
            if sleep.deadline() != at {
                sleep.reset(at);
            }
            if sleep.poll_sleep(cx).is_pending() {
                self.took_from_group[dir as usize] = false;
                return Poll::Pending;
            }
            // The tick has begun: refill and look again.
        }
    }

    /// Takes `n` bytes that `dir` moved out of the buckets.
    pub(crate) fn consume(&mut self, dir: Dir, n: usize) {
        let own = match dir {
            Dir::Read => self.read.as_mut(),
            Dir::Write => self.write.as_mut(),
        };
        if let Some(b) = own {
            b.take(n);
        }
        if let Some(m) = &self.group {
            let mut g = m.0.inner.borrow_mut();
            let limited = match dir {
                Dir::Read => {
                    g.total_read = g.total_read.saturating_add(n as u64);
                    g.read.as_mut().map(|b| b.take(n)).is_some()
                }
                Dir::Write => {
                    g.total_written = g.total_written.saturating_add(n as u64);
                    g.write.as_mut().map(|b| b.take(n)).is_some()
                }
            };
            if limited && n > 0 {
                self.took_from_group[dir as usize] = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_refills_per_tick_up_to_burst() {
        let t0 = Instant::now();
        let tick = Duration::from_millis(10);
        let mut b = Bucket::new(RateLimit::new(100, 250, tick), t0);
        assert_eq!(b.tokens(), 100);
        b.take(100);
        b.refill(t0 + Duration::from_millis(9));
        assert_eq!(b.tokens(), 0);
        assert_eq!(b.next_tick(), t0 + tick);
        b.refill(t0 + Duration::from_millis(10));
        assert_eq!(b.tokens(), 100);
        b.refill(t0 + Duration::from_millis(50));
        assert_eq!(b.tokens(), 250, "capped at the burst");
        assert_eq!(b.next_tick(), t0 + Duration::from_millis(60));
        b.take(1000);
        assert_eq!(b.tokens(), 0);
    }

    #[test]
    fn config_is_normalized() {
        let c = RateLimit::new(10, 1, Duration::ZERO);
        assert_eq!((c.burst, c.tick), (10, Duration::from_secs(1)));
        assert_eq!(c.bytes_per_second(), 10);
        let huge = RateLimit::new(usize::MAX, usize::MAX, Duration::from_nanos(1));
        assert_eq!(huge.bytes_per_second(), u64::MAX);
        // Huge tick counts saturate instead of overflowing.
        let t0 = Instant::now();
        let mut b = Bucket::new(huge, t0);
        b.take(usize::MAX);
        b.refill(t0 + Duration::from_secs(3600));
        assert_eq!(b.tokens(), usize::MAX);
    }

    #[test]
    fn group_membership_and_shares() {
        let g = RateLimitGroup::new(Some(RateLimit::per_second(1000, 1000)), None);
        let mut a = Limiter::default();
        let mut b = Limiter::default();
        a.set_group(Some(&g));
        b.set_group(Some(&g));
        assert_eq!(g.members(), 2);
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        // Two members: each may take half of what is left.
        assert_eq!(a.poll_allowance(Dir::Read, &mut cx), Poll::Ready(500));
        a.consume(Dir::Read, 500);
        // Having taken, `a` yields once before taking again.
        assert_eq!(a.poll_allowance(Dir::Read, &mut cx), Poll::Pending);
        assert_eq!(b.poll_allowance(Dir::Read, &mut cx), Poll::Ready(250));
        // Writes are not limited by this group.
        assert_eq!(
            b.poll_allowance(Dir::Write, &mut cx),
            Poll::Ready(usize::MAX)
        );
        assert_eq!(g.totals(), (500, 0));
        b.set_group(None);
        assert_eq!(g.members(), 1);
        drop(a);
        assert_eq!(g.members(), 0);
    }
}
