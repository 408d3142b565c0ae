//! The log callback (libevent's `event_set_log_callback`): where the layer's
//! warnings go. By default warnings and errors are written to standard
//! error as `[warn] message`; debug messages are dropped unless
//! [`enable_debug_logging`] was called.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

/// How bad a logged message is (libevent's `EVENT_LOG_*`, same values).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// `EVENT_LOG_DEBUG`: tracing detail.
    Debug = 0,
    /// `EVENT_LOG_MSG`: informational.
    Msg = 1,
    /// `EVENT_LOG_WARN`: something failed and was reported to the caller.
    Warn = 2,
    /// `EVENT_LOG_ERR`: something failed that nobody was told about
    /// (a callback panicked, an accept failed without an error callback).
    Err = 3,
}

impl Severity {
    fn label(self) -> &'static str {
        match self {
            Severity::Debug => "debug",
            Severity::Msg => "msg",
            Severity::Warn => "warn",
            Severity::Err => "err",
        }
    }
}

/// A log callback: severity and message.
pub type LogCallback = Arc<dyn Fn(Severity, &str) + Send + Sync>;

static CALLBACK: RwLock<Option<LogCallback>> = RwLock::new(None);
static DEBUG: AtomicBool = AtomicBool::new(false);

/// Sends the layer's log messages to `cb` instead of standard error (for
/// every base of the process, as libevent's is global); `None` restores the
/// default.
///
/// ```
/// use runtime::compat::{set_log_callback, Severity};
/// use std::sync::{Arc, Mutex};
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let s = seen.clone();
/// set_log_callback(Some(Arc::new(move |sev: Severity, msg: &str| {
///     s.lock().unwrap().push((sev, msg.to_string()));
/// })));
/// set_log_callback(None);
/// ```
pub fn set_log_callback(cb: Option<LogCallback>) {
    let mut slot = CALLBACK.write().unwrap_or_else(|e| e.into_inner());
    *slot = cb;
}

/// Lets debug messages through (libevent's
/// `event_enable_debug_logging(EVENT_DBG_ALL)`); `false` drops them again.
///
/// ```
/// runtime::compat::enable_debug_logging(false);
/// ```
pub fn enable_debug_logging(on: bool) {
    DEBUG.store(on, Ordering::Relaxed);
}

pub(crate) fn log(sev: Severity, args: fmt::Arguments<'_>) {
    if sev == Severity::Debug && !DEBUG.load(Ordering::Relaxed) {
        return;
    }
    let cb = CALLBACK.read().unwrap_or_else(|e| e.into_inner()).clone();
    match cb {
        Some(cb) => cb(sev, &args.to_string()),
        None => eprintln!("[{}] {}", sev.label(), args),
    }
}

macro_rules! log_warn {
    ($($arg:tt)*) => {
        $crate::log::log($crate::log::Severity::Warn, format_args!($($arg)*))
    };
}

macro_rules! log_error {
    ($($arg:tt)*) => {
        $crate::log::log($crate::log::Severity::Err, format_args!($($arg)*))
    };
}

macro_rules! log_debug {
    ($($arg:tt)*) => {
        $crate::log::log($crate::log::Severity::Debug, format_args!($($arg)*))
    };
}

pub(crate) use {log_debug, log_error, log_warn};
