//! [`EventConfig`], the `event_config` builder of an
//! [`EventBase`](crate::EventBase), and the small value types of a base's
//! configuration and results: [`LoopExit`], [`CommonTimeout`], the limits.

use crate::base::EventBase;
use runtime_executor::{Builder, MaxDispatch, Runtime};
use runtime_reactor::Features;
use std::io;
use std::time::Duration;

/// The most priorities a base may have (libevent's `EVENT_MAX_PRIORITIES`).
pub const MAX_PRIORITIES: usize = 256;

/// The most common timeouts per base (libevent's `MAX_COMMON_TIMEOUTS`).
pub const MAX_COMMON_TIMEOUTS: usize = 256;

/// Configuration of an [`EventBase`] (libevent's `event_config`), builder
/// style. Errors (an unknown method name, a bad priority count) are kept
/// and returned by [`build`](EventConfig::build).
///
/// ```
/// use runtime::compat::EventConfig;
/// use runtime::reactor::Features;
/// use std::time::Duration;
///
/// let base = EventConfig::new()
///     .ignore_env(true) // no EVENT_NO* veto in this example
///     .avoid_method("select")
///     .require_features(Features::O1)
///     .priorities(3)
///     .precise_timer(true)
///     .max_dispatch_interval(Some(Duration::from_millis(5)), 16, 1)
///     .build()
///     .unwrap();
/// assert_eq!(base.method().unwrap(), "epoll");
/// assert_eq!(base.npriorities().unwrap(), 3);
/// // The priorities and limits are the executor's, which runs the loop.
/// let md = base.runtime().max_dispatch();
/// assert_eq!((md.interval(), md.callbacks(), md.min_priority()),
///            (Some(Duration::from_millis(5)), 16, 1));
/// assert_eq!(base.runtime().priorities(), 3);
///
/// // No backend has every feature: creation fails, as event_base_new_with_config
/// // returns NULL.
/// let all = Features::EDGE_TRIGGERED | Features::ALL_FDS | Features::EARLY_CLOSE;
/// assert!(EventConfig::new().require_features(all).build().is_err());
/// ```
#[derive(Clone, Debug)]
pub struct EventConfig {
    builder: Builder,
    error: Option<(io::ErrorKind, String)>,
    pub(crate) no_cache_time: bool,
    pub(crate) priorities: usize,
}

impl Default for EventConfig {
    fn default() -> Self {
        EventConfig::new()
    }
}

impl EventConfig {
    /// The defaults: the fastest backend the environment allows, one
    /// priority, the cached clock.
    pub fn new() -> EventConfig {
        EventConfig {
            builder: Builder::new(),
            error: None,
            no_cache_time: false,
            priorities: 1,
        }
    }

    fn keep(&mut self, r: io::Result<Builder>, old: Builder) {
        match r {
            Ok(b) => self.builder = b,
            Err(e) => {
                self.builder = old;
                if self.error.is_none() {
                    self.error = Some((e.kind(), e.to_string()));
                }
            }
        }
    }

    /// Never uses this backend (`event_config_avoid_method`).
    pub fn avoid_method(mut self, name: &str) -> EventConfig {
        let old = self.builder.clone();
        let r = self.builder.clone().avoid_method(name);
        self.keep(r, old);
        self
    }

    /// Uses exactly this backend (`"epoll"`, `"poll"`, `"select"`); the
    /// same as avoiding every other one.
    pub fn method(mut self, name: &str) -> EventConfig {
        let old = self.builder.clone();
        let r = self.builder.clone().method(name);
        self.keep(r, old);
        self
    }

    /// Requires backend features (`event_config_require_features`).
    pub fn require_features(mut self, features: Features) -> EventConfig {
        self.builder = self.builder.require_features(features);
        self
    }

    /// Ignores the `EVENT_NO*` environment variables
    /// (`EVENT_BASE_FLAG_IGNORE_ENV`).
    pub fn ignore_env(mut self, yes: bool) -> EventConfig {
        self.builder = self.builder.ignore_env(yes);
        self
    }

    /// Never caches the time (`EVENT_BASE_FLAG_NO_CACHE_TIME`):
    /// [`gettimeofday_cached`](crate::BaseHandle::gettimeofday_cached) reads the
    /// clock every time.
    pub fn no_cache_time(mut self, yes: bool) -> EventConfig {
        self.no_cache_time = yes;
        self
    }

    /// Reads the clock per timer check (`EVENT_BASE_FLAG_PRECISE_TIMER`).
    pub fn precise_timer(mut self, yes: bool) -> EventConfig {
        self.builder = self.builder.precise_timer(yes);
        self
    }

    /// Number of priorities, 1 to 256 (`event_base_priority_init` at
    /// creation). Events get the middle one, `n / 2`, by default.
    pub fn priorities(mut self, n: usize) -> EventConfig {
        if n == 0 || n > MAX_PRIORITIES {
            if self.error.is_none() {
                self.error = Some((
                    io::ErrorKind::InvalidInput,
                    format!("priorities must be 1..={MAX_PRIORITIES}, got {n}"),
                ));
            }
        } else {
            self.priorities = n;
        }
        self
    }

    /// `event_config_set_max_dispatch_interval`: a loop iteration that runs
    /// callbacks of priority `min_priority` or a less urgent one stops
    /// after `max_callbacks` of them, or once `max_interval` has passed,
    /// and the loop polls for new events before running more. This is the
    /// executor's own policy ([`Builder::max_dispatch`]), which the base's
    /// loop obeys: what counts is the polls of the tasks behind events,
    /// bufferevents and listeners — one per event callback, one per
    /// bufferevent's pass of reads, writes and callbacks, one per
    /// listener's batch of accepts (libevent runs a listener's accepts from
    /// one event callback too).
    pub fn max_dispatch_interval(
        mut self,
        max_interval: Option<Duration>,
        max_callbacks: usize,
        min_priority: usize,
    ) -> EventConfig {
        self.builder =
            self.builder
                .max_dispatch(MaxDispatch::new(max_interval, max_callbacks, min_priority));
        self
    }

    /// Creates the base (`event_base_new_with_config`).
    pub fn build(self) -> io::Result<EventBase> {
        EventBase::with_config(self)
    }

    pub(crate) fn runtime(&self) -> io::Result<Runtime> {
        if let Some((kind, msg)) = &self.error {
            return Err(io::Error::new(*kind, msg.clone()));
        }
        self.builder
            .clone()
            .priorities(self.priorities)?
            .default_priority(self.priorities / 2)
            .build()
    }
}

/// Why [`EventBase::run_loop`] returned (libevent's 0 and 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoopExit {
    /// Stopped by `loopexit`/`loopbreak`, or done with the iterations
    /// `EVLOOP_ONCE`/`EVLOOP_NONBLOCK` asked for (libevent's 0).
    Done,
    /// No event was pending or active (libevent's 1).
    NoEvents,
}

/// A duration registered with [`BaseHandle::init_common_timeout`](crate::BaseHandle::init_common_timeout); add
/// events with it through [`Event::add_common`](crate::Event::add_common).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommonTimeout {
    pub(crate) base_id: u64,
    pub(crate) index: u8,
    pub(crate) duration: Duration,
}

impl CommonTimeout {
    /// The duration.
    pub fn duration(&self) -> Duration {
        self.duration
    }
    /// Its queue number in the base (0 to 255).
    pub fn index(&self) -> usize {
        self.index as usize
    }
}
