//! The bit-flag types of the callback API, with libevent's names and
//! values: [`EventFlags`] (`EV_READ | EV_PERSIST` …), [`LoopFlags`]
//! (`EVLOOP_ONCE` …), [`CountFlags`] (`EVENT_BASE_COUNT_*`),
//! [`ListenerFlags`] (`LEV_OPT_*`), [`BevEvent`] (`BEV_EVENT_*`) and
//! [`BevOptions`] (`BEV_OPT_*`). One macro makes them all, so they share
//! one interface: `|`, `&`, `contains`, `intersects`, `bits`, `Debug` with
//! the C names.

use std::fmt;
use std::ops::{BitAnd, BitAndAssign, BitOr, BitOrAssign, Not};

macro_rules! flag_type {
    ($(#[$meta:meta])* $name:ident($repr:ty) { $($cname:ident = $cval:expr => $label:literal,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name($repr);

        impl $name {
            /// No flag set.
            pub const fn empty() -> $name {
                $name(0)
            }
            /// The raw bits (libevent's values).
            pub const fn bits(self) -> $repr {
                self.0
            }
            /// Flags from raw bits; unknown bits are kept.
            pub const fn from_bits(bits: $repr) -> $name {
                $name(bits)
            }
            /// Whether every flag of `other` is set.
            pub const fn contains(self, other: $name) -> bool {
                self.0 & other.0 == other.0
            }
            /// Whether any flag of `other` is set.
            pub const fn intersects(self, other: $name) -> bool {
                self.0 & other.0 != 0
            }
            /// Whether no flag is set.
            pub const fn is_empty(self) -> bool {
                self.0 == 0
            }
            /// `self` without the flags of `other`.
            pub const fn without(self, other: $name) -> $name {
                $name(self.0 & !other.0)
            }
        }

        impl BitOr for $name {
            type Output = $name;
            fn bitor(self, rhs: $name) -> $name {
                $name(self.0 | rhs.0)
            }
        }
        impl BitOrAssign for $name {
            fn bitor_assign(&mut self, rhs: $name) {
                self.0 |= rhs.0;
            }
        }
        impl BitAnd for $name {
            type Output = $name;
            fn bitand(self, rhs: $name) -> $name {
                $name(self.0 & rhs.0)
            }
        }
        impl BitAndAssign for $name {
            fn bitand_assign(&mut self, rhs: $name) {
                self.0 &= rhs.0;
            }
        }
        impl Not for $name {
            type Output = $name;
            fn not(self) -> $name {
                $name(!self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut rest = self.0;
                let mut first = true;
                $(
                    if $cval != 0 && rest & $cval == $cval {
                        if !first {
                            f.write_str(" | ")?;
                        }
                        f.write_str($label)?;
                        first = false;
                        rest &= !$cval;
                    }
                )*
                if rest != 0 {
                    if !first {
                        f.write_str(" | ")?;
                    }
                    write!(f, "{:#x}", rest)?;
                    first = false;
                }
                if first {
                    f.write_str("0")?;
                }
                Ok(())
            }
        }

        $(
            #[doc = concat!("`", $label, "`.")]
            pub const $cname: $name = $name($cval);
        )*
    };
}

flag_type! {
    /// What an event waits for and what happened to it (libevent's `short
    /// what`). Combine with `|`:
    ///
    /// ```
    /// use runtime::compat::{EV_PERSIST, EV_READ, EV_TIMEOUT};
    /// let what = EV_READ | EV_PERSIST;
    /// assert!(what.contains(EV_READ));
    /// assert!(!what.intersects(EV_TIMEOUT));
    /// assert_eq!(format!("{what:?}"), "EV_READ | EV_PERSIST");
    /// ```
    EventFlags(u16) {
        EV_TIMEOUT = 0x01 => "EV_TIMEOUT",
        EV_READ = 0x02 => "EV_READ",
        EV_WRITE = 0x04 => "EV_WRITE",
        EV_SIGNAL = 0x08 => "EV_SIGNAL",
        EV_PERSIST = 0x10 => "EV_PERSIST",
        EV_ET = 0x20 => "EV_ET",
        EV_CLOSED = 0x80 => "EV_CLOSED",
    }
}

flag_type! {
    /// How [`EventBase::run_loop`](crate::EventBase::run_loop) runs
    /// (libevent's `event_base_loop` flags).
    ///
    /// - `EVLOOP_ONCE`: wait until some events are active, run their
    ///   callbacks, return once none is left active (callbacks held back
    ///   by priorities or dispatch limits run in further iterations first);
    /// - `EVLOOP_NONBLOCK`: never wait; return when an iteration finds
    ///   nothing active;
    /// - `EVLOOP_NO_EXIT_ON_EMPTY`: keep running when no event is pending
    ///   (until `loopexit`/`loopbreak`).
    ///
    /// ```
    /// use runtime::compat::{EVLOOP_NONBLOCK, EVLOOP_ONCE};
    /// let f = EVLOOP_ONCE | EVLOOP_NONBLOCK;
    /// assert_eq!(f.bits(), 3);
    /// ```
    LoopFlags(u8) {
        EVLOOP_ONCE = 0x01 => "EVLOOP_ONCE",
        EVLOOP_NONBLOCK = 0x02 => "EVLOOP_NONBLOCK",
        EVLOOP_NO_EXIT_ON_EMPTY = 0x04 => "EVLOOP_NO_EXIT_ON_EMPTY",
    }
}

flag_type! {
    /// Which events [`BaseHandle::num_events`](crate::BaseHandle::num_events)
    /// counts (libevent's `event_base_get_num_events` flags).
    ///
    /// ```
    /// use runtime::compat::{EVENT_BASE_COUNT_ACTIVE, EVENT_BASE_COUNT_ADDED};
    /// let both = EVENT_BASE_COUNT_ACTIVE | EVENT_BASE_COUNT_ADDED;
    /// assert!(both.contains(EVENT_BASE_COUNT_ADDED));
    /// ```
    CountFlags(u8) {
        EVENT_BASE_COUNT_ACTIVE = 0x01 => "EVENT_BASE_COUNT_ACTIVE",
        EVENT_BASE_COUNT_VIRTUAL = 0x02 => "EVENT_BASE_COUNT_VIRTUAL",
        EVENT_BASE_COUNT_ADDED = 0x04 => "EVENT_BASE_COUNT_ADDED",
    }
}

flag_type! {
    /// Options of a [`ConnListener`](crate::ConnListener) (libevent's
    /// `LEV_OPT_*`, same values).
    ///
    /// ```
    /// use runtime::compat::{LEV_OPT_CLOSE_ON_FREE, LEV_OPT_REUSEABLE};
    /// let f = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE;
    /// assert_eq!(f.bits(), 0x0a);
    /// ```
    ListenerFlags(u16) {
        LEV_OPT_LEAVE_SOCKETS_BLOCKING = 0x01 => "LEV_OPT_LEAVE_SOCKETS_BLOCKING",
        LEV_OPT_CLOSE_ON_FREE = 0x02 => "LEV_OPT_CLOSE_ON_FREE",
        LEV_OPT_CLOSE_ON_EXEC = 0x04 => "LEV_OPT_CLOSE_ON_EXEC",
        LEV_OPT_REUSEABLE = 0x08 => "LEV_OPT_REUSEABLE",
        LEV_OPT_THREADSAFE = 0x10 => "LEV_OPT_THREADSAFE",
        LEV_OPT_DISABLED = 0x20 => "LEV_OPT_DISABLED",
        LEV_OPT_DEFERRED_ACCEPT = 0x40 => "LEV_OPT_DEFERRED_ACCEPT",
        LEV_OPT_REUSEABLE_PORT = 0x80 => "LEV_OPT_REUSEABLE_PORT",
        LEV_OPT_BIND_IPV6ONLY = 0x100 => "LEV_OPT_BIND_IPV6ONLY",
        LEV_OPT_BIND_IPV4_AND_IPV6 = 0x200 => "LEV_OPT_BIND_IPV4_AND_IPV6",
    }
}

flag_type! {
    /// What happened to a [`BufferEvent`](crate::BufferEvent), as its event
    /// callback gets it (libevent's `BEV_EVENT_*`, same values): always with
    /// the direction (`BEV_EVENT_READING | BEV_EVENT_EOF`,
    /// `BEV_EVENT_WRITING | BEV_EVENT_ERROR` …), except `BEV_EVENT_CONNECTED`
    /// and a failed connect's `BEV_EVENT_ERROR`.
    ///
    /// ```
    /// use runtime::compat::{BEV_EVENT_EOF, BEV_EVENT_ERROR, BEV_EVENT_READING};
    /// let what = BEV_EVENT_READING | BEV_EVENT_EOF;
    /// assert!(what.contains(BEV_EVENT_EOF));
    /// assert!(what.intersects(BEV_EVENT_EOF | BEV_EVENT_ERROR));
    /// assert_eq!(what.bits(), 0x11);
    /// assert_eq!(format!("{what:?}"), "BEV_EVENT_READING | BEV_EVENT_EOF");
    /// ```
    BevEvent(u16) {
        BEV_EVENT_READING = 0x01 => "BEV_EVENT_READING",
        BEV_EVENT_WRITING = 0x02 => "BEV_EVENT_WRITING",
        BEV_EVENT_EOF = 0x10 => "BEV_EVENT_EOF",
        BEV_EVENT_ERROR = 0x20 => "BEV_EVENT_ERROR",
        BEV_EVENT_TIMEOUT = 0x40 => "BEV_EVENT_TIMEOUT",
        BEV_EVENT_CONNECTED = 0x80 => "BEV_EVENT_CONNECTED",
    }
}

flag_type! {
    /// Options of a [`BufferEvent`](crate::BufferEvent) (libevent's
    /// `enum bufferevent_options`, same values):
    ///
    /// - `BEV_OPT_CLOSE_ON_FREE`: [`free`](crate::BufferEvent::free) closes
    ///   the socket;
    /// - `BEV_OPT_THREADSAFE`: accepted and ignored — a bufferevent belongs
    ///   to its base's thread (it is `!Send`), so there is nothing to lock;
    /// - `BEV_OPT_DEFER_CALLBACKS`: accepted; callbacks always run from the
    ///   bufferevent's task in the loop, never from inside the call that
    ///   made them due, which is what this option asks for;
    /// - `BEV_OPT_UNLOCK_CALLBACKS`: accepted and ignored (no locks).
    ///
    /// ```
    /// use runtime::compat::{BEV_OPT_CLOSE_ON_FREE, BEV_OPT_DEFER_CALLBACKS};
    /// let o = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;
    /// assert_eq!(o.bits(), 5);
    /// assert!(o.contains(BEV_OPT_CLOSE_ON_FREE));
    /// assert_eq!(format!("{o:?}"), "BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS");
    /// ```
    BevOptions(u32) {
        BEV_OPT_CLOSE_ON_FREE = 0x01 => "BEV_OPT_CLOSE_ON_FREE",
        BEV_OPT_THREADSAFE = 0x02 => "BEV_OPT_THREADSAFE",
        BEV_OPT_DEFER_CALLBACKS = 0x04 => "BEV_OPT_DEFER_CALLBACKS",
        BEV_OPT_UNLOCK_CALLBACKS = 0x08 => "BEV_OPT_UNLOCK_CALLBACKS",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_bits() {
        assert_eq!(format!("{:?}", EventFlags::empty()), "0");
        assert_eq!(
            format!("{:?}", EV_TIMEOUT | EV_READ | EventFlags::from_bits(0x100)),
            "EV_TIMEOUT | EV_READ | 0x100"
        );
        assert_eq!((EV_READ | EV_WRITE).without(EV_READ), EV_WRITE);
        assert_eq!(!EV_READ & (EV_READ | EV_ET), EV_ET);
    }
}
