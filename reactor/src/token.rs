//! [`Token`]: the `u64` the reactor hands a backend with each watched
//! descriptor and gets back with each event. For a registration it packs
//! the slot's index in the registration table (low 32 bits) and the
//! slot's generation (high bits), so an event for a slot freed and reused
//! since is recognised as stale; the reactor's own descriptors use
//! reserved values above every slot token.

/// A registration's (index, generation) pair, or a reserved value.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) struct Token(u64);

impl Token {
    /// A poller's notify descriptor (drained by the poller, never reported).
    pub(crate) const NOTIFY: Token = Token(u64::MAX);
    /// epoll's timerfd (read by the backend, never reported).
    pub(crate) const TIMER: Token = Token(u64::MAX - 1);
    /// The reactor's signal pipe.
    pub(crate) const SIGNAL: Token = Token(u64::MAX - 2);
    /// Generations count modulo this: below 2^31, a slot token never
    /// reaches the reserved values.
    pub(crate) const GENERATIONS: u32 = 1 << 31;

    /// The token of slot `index` at `generation` (`< GENERATIONS`).
    pub(crate) fn slot(index: u32, generation: u32) -> Token {
        debug_assert!(generation < Token::GENERATIONS);
        Token(((generation as u64) << 32) | index as u64)
    }

    /// The token a backend reported.
    pub(crate) const fn from_raw(raw: u64) -> Token {
        Token(raw)
    }

    /// What the backend is given.
    pub(crate) const fn raw(self) -> u64 {
        self.0
    }

    /// The slot's index in the registration table.
    pub(crate) const fn index(self) -> usize {
        (self.0 & 0xffff_ffff) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::Token;

    #[test]
    fn slot_tokens_round_trip_and_stay_below_the_reserved_ones() {
        let t = Token::slot(u32::MAX, Token::GENERATIONS - 1);
        assert_eq!(t.index(), u32::MAX as usize);
        assert_eq!(Token::from_raw(t.raw()), t);
        for reserved in [Token::NOTIFY, Token::TIMER, Token::SIGNAL] {
            assert!(t.raw() < reserved.raw());
        }
        assert_ne!(Token::slot(3, 1), Token::slot(3, 2));
        assert_eq!(Token::slot(3, 1).index(), 3);
    }
}
