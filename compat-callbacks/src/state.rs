//! [`Status`]: the yes/no states of a base, an event, a bufferevent or a
//! listener as one set of bits, read and changed through three methods,
//! instead of a `Cell<bool>` per state. Each object names its bits in a
//! small module next to its type (`base_state`, `ev_state`, …).

use std::cell::Cell;
use std::fmt;

/// A set of state bits.
#[derive(Default)]
pub(crate) struct Status(Cell<u16>);

impl Status {
    /// A set with `bits` on.
    pub(crate) const fn new(bits: u16) -> Status {
        Status(Cell::new(bits))
    }

    /// Whether `bit` is on.
    pub(crate) fn has(&self, bit: u16) -> bool {
        self.0.get() & bit != 0
    }

    /// Turns `bit` on or off.
    pub(crate) fn set(&self, bit: u16, on: bool) {
        let v = self.0.get();
        self.0.set(if on { v | bit } else { v & !bit });
    }

    /// Turns `bit` on or off; returns whether it was on.
    pub(crate) fn replace(&self, bit: u16, on: bool) -> bool {
        let was = self.has(bit);
        self.set(bit, on);
        was
    }
}

impl fmt::Debug for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Status({:#06x})", self.0.get())
    }
}

#[cfg(test)]
mod tests {
    use super::Status;

    #[test]
    fn bits_change_one_at_a_time() {
        let s = Status::new(0b100);
        assert!(s.has(0b100) && !s.has(0b001));
        s.set(0b001, true);
        assert!(s.has(0b001) && s.has(0b100));
        assert!(s.replace(0b100, false));
        assert!(!s.replace(0b100, false));
        assert!(!s.has(0b100) && s.has(0b001));
    }
}
