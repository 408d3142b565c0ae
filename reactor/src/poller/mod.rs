//! The poll-backend abstraction: one [`Poller`] wraps epoll, poll or select,
//! chosen at start the way libevent chooses (fastest available, overridable by
//! `EVENT_NO<METHOD>` environment variables and by [`PollerConfig`]).
//!
//! A `Poller` is thread-safe: any thread may add, modify or delete interest
//! and call [`Poller::notify`] while another thread is blocked in
//! [`Poller::wait`]; the level-triggered backends (poll, select) wake the
//! waiting thread, apply the change and wait again.

mod epoll;
mod level;
mod poll;
mod select;

use level::Level;
use poll::PollKernel;
use select::SelectKernel;

use crate::token::Token;
use std::fmt;
use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

/// Which directions a registration wants to hear about.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Interest {
    /// Wake when the descriptor is readable (or the peer closed).
    pub read: bool,
    /// Wake when the descriptor is writable.
    pub write: bool,
    /// Wake when the peer closes, without asking for readability
    /// (`POLLRDHUP` alone on poll; epoll always watches it; select cannot).
    pub closed: bool,
}

impl Interest {
    /// Both directions.
    pub const BOTH: Interest = Interest {
        read: true,
        write: true,
        closed: false,
    };
    /// Read only.
    pub const READ: Interest = Interest {
        read: true,
        write: false,
        closed: false,
    };
    /// Write only.
    pub const WRITE: Interest = Interest {
        read: false,
        write: true,
        closed: false,
    };
    /// Nothing (the descriptor stays known to the backend).
    pub const NONE: Interest = Interest {
        read: false,
        write: false,
        closed: false,
    };
}

/// One readiness report from [`Poller::wait`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Event {
    /// The token given at [`Poller::add`].
    pub token: u64,
    /// Readable (data, EOF or error pending).
    pub readable: bool,
    /// Writable.
    pub writable: bool,
    /// The peer closed its write half (EPOLLRDHUP / POLLRDHUP), or hung up.
    pub read_closed: bool,
    /// Both halves are closed (EPOLLHUP / POLLHUP).
    pub hup: bool,
    /// An error is pending on the descriptor (EPOLLERR / POLLERR).
    pub error: bool,
}

impl Event {
    pub(crate) fn new(token: u64) -> Event {
        Event {
            token,
            readable: false,
            writable: false,
            read_closed: false,
            hup: false,
            error: false,
        }
    }
}

/// Backend capability bits, as libevent's `EV_FEATURE_*`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Features(u8);

impl Features {
    /// Edge-triggered notification (`EV_FEATURE_ET`).
    pub const EDGE_TRIGGERED: Features = Features(0x01);
    /// O(1) add/delete and dispatch (`EV_FEATURE_O1`).
    pub const O1: Features = Features(0x02);
    /// Works with every kind of descriptor, not just sockets (`EV_FEATURE_FDS`).
    pub const ALL_FDS: Features = Features(0x04);
    /// Detects a peer close without reading (`EV_FEATURE_EARLY_CLOSE`, libevent's `EV_CLOSED`).
    pub const EARLY_CLOSE: Features = Features(0x08);

    /// No feature.
    pub const fn empty() -> Features {
        Features(0)
    }
    /// Raw bits, numerically equal to libevent's `EV_FEATURE_*` values.
    pub const fn bits(self) -> u8 {
        self.0
    }
    /// Builds a set from libevent-compatible bits; unknown bits are dropped.
    pub const fn from_bits_truncate(bits: u8) -> Features {
        Features(bits & 0x0f)
    }
    /// Whether every bit of `other` is in `self`.
    pub const fn contains(self, other: Features) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for Features {
    type Output = Features;
    fn bitor(self, rhs: Features) -> Features {
        Features(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for Features {
    fn bitor_assign(&mut self, rhs: Features) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for Features {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Features::EDGE_TRIGGERED, "EDGE_TRIGGERED"),
            (Features::O1, "O1"),
            (Features::ALL_FDS, "ALL_FDS"),
            (Features::EARLY_CLOSE, "EARLY_CLOSE"),
        ];
        let mut first = true;
        write!(f, "Features(")?;
        for (bit, name) in names {
            if self.contains(bit) {
                if !first {
                    write!(f, " | ")?;
                }
                write!(f, "{name}")?;
                first = false;
            }
        }
        write!(f, ")")
    }
}

/// The backends, in libevent's order of preference.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum Method {
    /// Linux epoll, edge-triggered, O(1).
    Epoll,
    /// poll(2), level-triggered.
    Poll,
    /// select(2), level-triggered, descriptors below `FD_SETSIZE` only.
    Select,
}

impl Method {
    /// Every backend, fastest first.
    pub const ALL: [Method; 3] = [Method::Epoll, Method::Poll, Method::Select];

    /// The backend's name as libevent spells it (`"epoll"`, `"poll"`, `"select"`).
    pub const fn name(self) -> &'static str {
        match self {
            Method::Epoll => "epoll",
            Method::Poll => "poll",
            Method::Select => "select",
        }
    }

    /// What the backend can do.
    pub const fn features(self) -> Features {
        match self {
            Method::Epoll => Features(0x01 | 0x02 | 0x08),
            Method::Poll => Features(0x04 | 0x08),
            Method::Select => Features(0x04),
        }
    }

    /// Parses a backend name (case-insensitive); unknown names are an
    /// `InvalidInput` error that lists the known ones.
    pub fn from_name(name: &str) -> io::Result<Method> {
        Method::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("unknown event method {name:?}; known methods: epoll, poll, select"),
                )
            })
    }

    fn env_var(self) -> &'static str {
        match self {
            Method::Epoll => "EVENT_NOEPOLL",
            Method::Poll => "EVENT_NOPOLL",
            Method::Select => "EVENT_NOSELECT",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every backend this build supports, fastest first (libevent's
/// `event_get_supported_methods`).
pub fn supported_methods() -> &'static [Method] {
    &Method::ALL
}

/// How to choose a backend: libevent's `event_config`.
///
/// ```
/// use runtime::reactor::{Features, PollerConfig};
/// let config = PollerConfig::new().ignore_env(true); // no EVENT_NO* veto
/// let poller = config.avoid_method("epoll").unwrap().build().unwrap();
/// assert_eq!(poller.method().name(), "poll");
/// // Nothing is both edge-triggered and usable with every descriptor kind.
/// let err = PollerConfig::new()
///     .require_features(Features::EDGE_TRIGGERED | Features::ALL_FDS)
///     .build()
///     .unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::Unsupported);
/// ```
#[derive(Clone, Debug, Default)]
pub struct PollerConfig {
    avoid: Vec<Method>,
    require: Features,
    ignore_env: bool,
}

impl PollerConfig {
    /// The default: fastest backend, environment honoured.
    pub fn new() -> PollerConfig {
        PollerConfig::default()
    }

    /// Never use the named backend (`event_config_avoid_method`). An unknown
    /// name is an `InvalidInput` error.
    pub fn avoid_method(mut self, name: &str) -> io::Result<PollerConfig> {
        let m = Method::from_name(name)?;
        if !self.avoid.contains(&m) {
            self.avoid.push(m);
        }
        Ok(self)
    }

    /// Use exactly this backend: every other one is avoided.
    pub fn method(mut self, name: &str) -> io::Result<PollerConfig> {
        let m = Method::from_name(name)?;
        self.avoid = Method::ALL.into_iter().filter(|&o| o != m).collect();
        Ok(self)
    }

    /// Only accept a backend that has all of these features
    /// (`event_config_require_features`).
    pub fn require_features(mut self, features: Features) -> PollerConfig {
        self.require |= features;
        self
    }

    /// Ignore the `EVENT_NO*` environment variables (`EVENT_BASE_FLAG_IGNORE_ENV`).
    /// `EVENT_SHOW_METHOD` is still honoured, as in libevent.
    pub fn ignore_env(mut self, yes: bool) -> PollerConfig {
        self.ignore_env = yes;
        self
    }

    /// Which backend this configuration would pick, without creating it.
    pub fn choose(&self) -> io::Result<Method> {
        let mut skipped = Vec::new();
        for m in Method::ALL {
            if self.avoid.contains(&m) {
                skipped.push(format!("{m} (avoided)"));
                continue;
            }
            if !self.ignore_env && std::env::var_os(m.env_var()).is_some() {
                skipped.push(format!("{m} ({} set)", m.env_var()));
                continue;
            }
            if !m.features().contains(self.require) {
                skipped.push(format!(
                    "{m} (lacks {:?})",
                    Features(self.require.0 & !m.features().0)
                ));
                continue;
            }
            return Ok(m);
        }
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "no event method satisfies the configuration (required {:?}); skipped: {}",
                self.require,
                skipped.join(", ")
            ),
        ))
    }

    /// Creates the poller.
    pub fn build(&self) -> io::Result<Poller> {
        let method = self.choose()?;
        if std::env::var_os("EVENT_SHOW_METHOD").is_some() {
            eprintln!("[runtime] using event method {method}");
        }
        Poller::with_method(method)
    }
}

enum Backend {
    Epoll(epoll::Epoll),
    // Boxed: a select table keeps two `fd_set`s for reuse, and neither
    // level-triggered backend is on a hot path worth the inline size.
    Poll(Box<Level<PollKernel>>),
    Select(Box<Level<SelectKernel>>),
}

/// A thread-safe readiness poller over one backend.
///
/// Tokens are caller-chosen `u64`s, except `u64::MAX`, which is reserved.
pub struct Poller {
    backend: Backend,
}

impl fmt::Debug for Poller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Poller")
            .field("method", &self.method())
            .finish()
    }
}

fn check_token(token: u64) -> io::Result<()> {
    if token == Token::NOTIFY.raw() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "token u64::MAX is reserved",
        ));
    }
    Ok(())
}

/// Fails with `EBADF` unless `fd` is an open descriptor.
pub(crate) fn check_fd_open(fd: RawFd) -> io::Result<()> {
    if fd < 0 {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    // SAFETY: F_GETFD only reads the descriptor flags; any integer is accepted.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl Poller {
    /// The fastest backend the environment allows (as [`PollerConfig::new`]).
    pub fn new() -> io::Result<Poller> {
        PollerConfig::new().build()
    }

    /// Creates the given backend, ignoring the environment.
    pub fn with_method(method: Method) -> io::Result<Poller> {
        let backend = match method {
            Method::Epoll => Backend::Epoll(epoll::Epoll::new()?),
            Method::Poll => Backend::Poll(Box::new(Level::new()?)),
            Method::Select => Backend::Select(Box::new(Level::new()?)),
        };
        Ok(Poller { backend })
    }

    /// The backend in use (libevent's `event_base_get_method`).
    pub fn method(&self) -> Method {
        match self.backend {
            Backend::Epoll(_) => Method::Epoll,
            Backend::Poll(_) => Method::Poll,
            Backend::Select(_) => Method::Select,
        }
    }

    /// The backend's features (libevent's `event_base_get_features`).
    pub fn features(&self) -> Features {
        self.method().features()
    }

    /// Whether readiness is reported once per change (epoll) rather than for
    /// as long as it lasts (poll, select).
    pub fn is_edge_triggered(&self) -> bool {
        self.features().contains(Features::EDGE_TRIGGERED)
    }

    /// Starts watching `fd`. Edge-triggered backends watch both directions and
    /// peer close regardless of `interest`; level-triggered ones watch what
    /// `interest` says. A closed or invalid descriptor is an error (`EBADF`).
    pub fn add(&self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
        check_token(token)?;
        match &self.backend {
            Backend::Epoll(b) => b.add(fd, token),
            Backend::Poll(b) => b.add(fd, token, interest),
            Backend::Select(b) => b.add(fd, token, interest),
        }
    }

    /// Changes the interest of a watched descriptor (a no-op for epoll, which
    /// always watches both directions edge-triggered).
    pub fn modify(&self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
        check_token(token)?;
        match &self.backend {
            Backend::Epoll(_) => Ok(()),
            Backend::Poll(b) => b.modify(fd, token, interest),
            Backend::Select(b) => b.modify(fd, token, interest),
        }
    }

    /// Makes an edge-triggered backend report `fd`'s current readiness again
    /// (as if a new edge had occurred) when it is ready now; a no-op for
    /// level-triggered backends, which report it at every wait anyway.
    pub(crate) fn rearm(&self, fd: RawFd, token: u64) -> io::Result<()> {
        match &self.backend {
            Backend::Epoll(b) => b.rearm(fd, token),
            Backend::Poll(_) | Backend::Select(_) => Ok(()),
        }
    }

    /// Starts watching `fd` level-triggered for exactly `interest`, on every
    /// backend (libevent's model: readiness is reported at each wait for as
    /// long as it lasts). Change the interest with
    /// [`modify_level`](Self::modify_level). With epoll and no interest,
    /// only a hang-up or error is reported, once.
    pub fn add_level(&self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
        check_token(token)?;
        match &self.backend {
            Backend::Epoll(b) => b.add_level(fd, token, interest),
            Backend::Poll(b) => b.add(fd, token, interest),
            Backend::Select(b) => b.add(fd, token, interest),
        }
    }

    /// Changes the interest of a descriptor added with
    /// [`add_level`](Self::add_level).
    pub fn modify_level(&self, fd: RawFd, token: u64, interest: Interest) -> io::Result<()> {
        check_token(token)?;
        match &self.backend {
            Backend::Epoll(b) => b.modify_level(fd, token, interest),
            Backend::Poll(b) => b.modify(fd, token, interest),
            Backend::Select(b) => b.modify(fd, token, interest),
        }
    }

    /// Stops watching `fd`.
    pub fn delete(&self, fd: RawFd) -> io::Result<()> {
        match &self.backend {
            Backend::Epoll(b) => b.delete(fd),
            Backend::Poll(b) => b.delete(fd),
            Backend::Select(b) => b.delete(fd),
        }
    }

    /// Waits until a watched descriptor is ready, [`notify`](Self::notify) is
    /// called, or `timeout` passes (`None` waits forever). Clears `events`
    /// and fills it; returns the number of events. The timeout has nanosecond
    /// resolution on every backend.
    pub fn wait(&self, events: &mut Vec<Event>, timeout: Option<Duration>) -> io::Result<usize> {
        events.clear();
        match &self.backend {
            Backend::Epoll(b) => b.wait(events, timeout),
            Backend::Poll(b) => b.wait(events, timeout),
            Backend::Select(b) => b.wait(events, timeout),
        }?;
        Ok(events.len())
    }

    /// Wakes a thread blocked in [`wait`](Self::wait) (or makes the next wait
    /// return at once). Safe to call from any thread, including signal
    /// handlers' helper threads.
    pub fn notify(&self) -> io::Result<()> {
        match &self.backend {
            Backend::Epoll(b) => b.notify(),
            Backend::Poll(b) => b.notify(),
            Backend::Select(b) => b.notify(),
        }
    }
}

pub(crate) fn duration_to_timespec(d: Duration) -> libc::timespec {
    let secs = d.as_secs().min(i64::MAX as u64 / 2) as libc::time_t;
    libc::timespec {
        tv_sec: secs,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    }
}
