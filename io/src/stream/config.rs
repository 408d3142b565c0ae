//! Settings of a [`BufferedStream`]: watermarks, idle timeouts, the line
//! length bound, the per-call read and write caps, rate limits and
//! `sendfile`.

use std::os::fd::AsFd;
use std::time::Duration;

use super::ratelimit::{Dir, Limiter};
use super::{
    BufferedStream, RateLimit, RateLimitGroup, SendfileFn, Watermarks, DEFAULT_MAX_SINGLE_READ,
};
use crate::Buffer;
use std::io;

fn sendfile_to<S: AsFd>(buf: &mut Buffer, inner: &S, max: usize) -> io::Result<usize> {
    buf.write_atmost(inner, max)
}

impl<S> BufferedStream<S> {
    /// The watermarks.
    pub fn watermarks(&self) -> Watermarks {
        self.marks
    }

    /// Sets all watermarks (`bufferevent_setwatermark`); `read_low` is
    /// clamped to `read_high` when that is set.
    pub fn set_watermarks(&mut self, marks: Watermarks) {
        self.marks = marks.normalized();
    }

    /// Sets the read watermarks only (`bufferevent_setwatermark(bev,
    /// EV_READ, low, high)`).
    pub fn set_read_watermarks(&mut self, low: usize, high: usize) {
        self.set_watermarks(Watermarks {
            read_low: low,
            read_high: high,
            ..self.marks
        });
    }

    /// Sets the write low watermark only.
    pub fn set_write_watermark(&mut self, low: usize) {
        self.marks.write_low = low;
    }

    /// Sets the read and write idle timeouts (`bufferevent_set_timeouts`;
    /// `None` = no timeout). A timeout counts only while the stream waits
    /// for its inner stream (to have data, or to take data) and restarts on
    /// progress; when it expires, the read or flush that was waiting fails
    /// with [`io::ErrorKind::TimedOut`] (libevent's `BEV_EVENT_TIMEOUT`).
    /// The stream stays usable: the next read or flush starts a new period.
    ///
    /// Timeouts use the reactor's timers, so the stream must then be polled
    /// inside the runtime.
    pub fn set_timeouts(&mut self, read: Option<Duration>, write: Option<Duration>) {
        self.read_timer.set(read);
        self.write_timer.set(write);
    }

    /// The read and write timeouts.
    pub fn timeouts(&self) -> (Option<Duration>, Option<Duration>) {
        (self.read_timer.duration(), self.write_timer.duration())
    }

    /// Sets the maximum line length (end of line excluded) of
    /// [`read_line`](BufferedStream::read_line) and
    /// [`read_until`](BufferedStream::read_until) (default
    /// [`DEFAULT_MAX_LINE`](super::DEFAULT_MAX_LINE), at least 1).
    pub fn set_max_line(&mut self, max: usize) {
        self.max_line = max.max(1);
    }

    /// The maximum line length.
    pub fn max_line(&self) -> usize {
        self.max_line
    }

    /// Sets the most bytes read per read call
    /// (`bufferevent_set_max_single_read`; 0 = the default
    /// [`DEFAULT_MAX_SINGLE_READ`]).
    pub fn set_max_single_read(&mut self, max: usize) {
        self.max_read = if max == 0 {
            DEFAULT_MAX_SINGLE_READ
        } else {
            max
        };
    }

    /// The most bytes read per read call.
    pub fn max_single_read(&self) -> usize {
        self.max_read
    }

    /// Sets the most bytes written per write call
    /// (`bufferevent_set_max_single_write`; 0 = no limit, the default: one
    /// vectored write takes as much as the kernel accepts — libevent's
    /// default is 16 KiB).
    pub fn set_max_single_write(&mut self, max: usize) {
        self.max_write = if max == 0 { usize::MAX } else { max };
    }

    /// The most bytes written per write call (`usize::MAX`: no limit).
    pub fn max_single_write(&self) -> usize {
        self.max_write
    }

    fn limiter(&mut self) -> &mut Limiter {
        self.limiter.get_or_insert_with(Box::default)
    }

    fn prune_limiter(&mut self) {
        if self.limiter.as_ref().is_some_and(|l| l.is_empty()) {
            self.limiter = None;
        }
    }

    /// Limits reading to a token bucket (`bufferevent_set_rate_limit`;
    /// `None` removes the limit). The bucket starts with one tick's worth
    /// of tokens.
    ///
    /// ```
    /// use runtime::io::RateLimit;
    /// use std::time::Duration;
    ///
    /// let (mut a, _b) = runtime::io::pair();
    /// // 10 kB per 100 ms = 100 kB/s, bursts of 20 kB.
    /// a.set_read_limit(Some(RateLimit::new(10_000, 20_000, Duration::from_millis(100))));
    /// assert_eq!(a.read_tokens(), Some(10_000));
    /// ```
    pub fn set_read_limit(&mut self, limit: Option<RateLimit>) {
        self.limiter().set(Dir::Read, limit);
        self.prune_limiter();
    }

    /// Limits writing to a token bucket; `None` removes the limit.
    pub fn set_write_limit(&mut self, limit: Option<RateLimit>) {
        self.limiter().set(Dir::Write, limit);
        self.prune_limiter();
    }

    /// The read and write limits.
    pub fn rate_limits(&self) -> (Option<RateLimit>, Option<RateLimit>) {
        match &self.limiter {
            Some(l) => (l.get(Dir::Read), l.get(Dir::Write)),
            None => (None, None),
        }
    }

    /// Tokens left in the stream's own read bucket
    /// (`bufferevent_get_read_limit`; `None`: no limit).
    pub fn read_tokens(&mut self) -> Option<usize> {
        self.limiter.as_mut()?.tokens(Dir::Read)
    }

    /// Tokens left in the stream's own write bucket (`None`: no limit).
    pub fn write_tokens(&mut self) -> Option<usize> {
        self.limiter.as_mut()?.tokens(Dir::Write)
    }

    /// Makes the stream a member of `group` (leaving its previous group),
    /// or of none (`bufferevent_add_to_rate_limit_group` /
    /// `bufferevent_remove_from_rate_limit_group`). Dropping the stream
    /// leaves the group.
    pub fn set_rate_limit_group(&mut self, group: Option<&RateLimitGroup>) {
        self.limiter().set_group(group);
        self.prune_limiter();
    }

    /// The group the stream belongs to.
    pub fn rate_limit_group(&self) -> Option<&RateLimitGroup> {
        self.limiter.as_ref()?.group()
    }

    /// Sends file segments at the front of the output with `sendfile(2)`
    /// straight to the inner stream's descriptor (`on = true`), or through
    /// memory with ordinary writes (`false`, the default). When the socket
    /// is full, the stream falls back to one ordinary write of at most 512
    /// bytes, which waits for it. Byte-exact either way.
    ///
    /// ```no_run
    /// # async fn f(tcp: runtime::net::TcpStream) -> std::io::Result<()> {
    /// use runtime::io::BufferedStream;
    ///
    /// let mut conn = BufferedStream::new(tcp);
    /// conn.set_sendfile(true);
    /// conn.output_mut().add(b"HTTP/1.0 200 OK\r\n\r\n")?;
    /// conn.output_mut().add_file(std::fs::File::open("index.html")?, 0, None)?;
    /// conn.finish().await?;
    /// # Ok(()) }
    /// ```
    pub fn set_sendfile(&mut self, on: bool)
    where
        S: AsFd,
    {
        self.sendfile = if on {
            Some(sendfile_to::<S> as SendfileFn<S>)
        } else {
            None
        };
    }
}
