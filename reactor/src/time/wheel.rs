//! A hierarchical timing wheel with one-microsecond ticks.
//!
//! Ten levels of 64 slots: level `l` slots are `64^l` µs wide, so level 0
//! covers 64 µs at 1 µs resolution and level 9 reaches 2^60 µs. Insert and
//! cancel are O(1) (an intrusive doubly-linked list per slot over a slab of
//! entries); finding the next expiration scans one 64-bit occupancy mask per
//! level. Entries above level 0 cascade down as time reaches their slot, and
//! fire only once the clock has passed their exact microsecond.

use std::task::Waker;

const LEVELS: usize = 10;
const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
const NIL: u32 = u32::MAX;
/// The largest deadline the wheel holds (about 36,000 years of microseconds).
pub(crate) const MAX_TICK: u64 = (1 << (SLOT_BITS as u64 * LEVELS as u64)) - 1;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Free,
    Pending,
    Fired,
}

struct Entry {
    deadline: u64,
    prev: u32,
    next: u32,
    level: u8,
    slot: u8,
    state: State,
    generation: u32,
    waker: Option<Waker>,
}

/// Names one timer: slab index plus a generation that changes on reuse.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct TimerKey {
    index: u32,
    generation: u32,
}

pub(crate) struct Wheel {
    /// The wheel's notion of now, in ticks; every pending entry is later.
    elapsed: u64,
    heads: [[u32; SLOTS]; LEVELS],
    occupied: [u64; LEVELS],
    entries: Vec<Entry>,
    free_head: u32,
    pending: usize,
}

impl Wheel {
    pub(crate) fn new() -> Wheel {
        Wheel {
            elapsed: 0,
            heads: [[NIL; SLOTS]; LEVELS],
            occupied: [0; LEVELS],
            entries: Vec::new(),
            free_head: NIL,
            pending: 0,
        }
    }

    /// Timers inserted and neither fired nor cancelled.
    pub(crate) fn pending(&self) -> usize {
        self.pending
    }

    /// Moves the clock of an empty wheel forward to `now` (never back).
    pub(crate) fn catch_up(&mut self, now: u64) {
        debug_assert_eq!(self.pending, 0);
        if now > self.elapsed {
            self.elapsed = now;
        }
    }

    /// Inserts a timer for `deadline` (ticks). Returns `None` when the
    /// deadline is not after the wheel's current time: it is due already.
    pub(crate) fn insert(&mut self, deadline: u64, waker: Waker) -> Option<TimerKey> {
        if deadline <= self.elapsed {
            return None;
        }
        let deadline = deadline.min(MAX_TICK);
        let index = if self.free_head != NIL {
            let i = self.free_head;
            self.free_head = self.entries[i as usize].next;
            i
        } else {
            assert!(
                self.entries.len() < NIL as usize,
                "more than 4 billion timers"
            );
            self.entries.push(Entry {
                deadline: 0,
                prev: NIL,
                next: NIL,
                level: 0,
                slot: 0,
                state: State::Free,
                generation: 0,
                waker: None,
            });
            (self.entries.len() - 1) as u32
        };
        let e = &mut self.entries[index as usize];
        e.deadline = deadline;
        e.state = State::Pending;
        e.waker = Some(waker);
        let generation = e.generation;
        self.link(index);
        self.pending += 1;
        Some(TimerKey { index, generation })
    }

    fn entry(&self, key: TimerKey) -> Option<&Entry> {
        self.entries
            .get(key.index as usize)
            .filter(|e| e.generation == key.generation && e.state != State::Free)
    }

    /// Whether the timer has fired.
    pub(crate) fn is_fired(&self, key: TimerKey) -> bool {
        self.entry(key).is_some_and(|e| e.state == State::Fired)
    }

    /// Replaces the waker of a pending timer unless it would wake the same task.
    pub(crate) fn set_waker(&mut self, key: TimerKey, waker: &Waker) {
        if let Some(e) = self.entries.get_mut(key.index as usize) {
            if e.generation == key.generation && e.state == State::Pending {
                match &e.waker {
                    Some(w) if w.will_wake(waker) => {}
                    _ => e.waker = Some(waker.clone()),
                }
            }
        }
    }

    /// Cancels a pending timer or releases a fired one.
    pub(crate) fn remove(&mut self, key: TimerKey) {
        let Some(e) = self.entries.get(key.index as usize) else {
            return;
        };
        if e.generation != key.generation || e.state == State::Free {
            return;
        }
        if e.state == State::Pending {
            self.unlink(key.index);
            self.pending -= 1;
        }
        let free_head = self.free_head;
        let e = &mut self.entries[key.index as usize];
        e.state = State::Free;
        e.waker = None;
        e.generation = e.generation.wrapping_add(1);
        e.next = free_head;
        self.free_head = key.index;
    }

    fn level_for(&self, deadline: u64) -> usize {
        let masked = (self.elapsed ^ deadline) | (SLOTS as u64 - 1);
        let significant = 63 - masked.leading_zeros() as usize;
        significant / SLOT_BITS as usize
    }

    fn link(&mut self, index: u32) {
        let deadline = self.entries[index as usize].deadline;
        let level = self.level_for(deadline);
        let slot = ((deadline >> (level as u32 * SLOT_BITS)) as usize) & (SLOTS - 1);
        let head = self.heads[level][slot];
        {
            let e = &mut self.entries[index as usize];
            e.level = level as u8;
            e.slot = slot as u8;
            e.prev = NIL;
            e.next = head;
        }
        if head != NIL {
            self.entries[head as usize].prev = index;
        }
        self.heads[level][slot] = index;
        self.occupied[level] |= 1 << slot;
    }

    fn unlink(&mut self, index: u32) {
        let (prev, next, level, slot) = {
            let e = &self.entries[index as usize];
            (e.prev, e.next, e.level as usize, e.slot as usize)
        };
        if prev != NIL {
            self.entries[prev as usize].next = next;
        } else {
            self.heads[level][slot] = next;
            if next == NIL {
                self.occupied[level] &= !(1 << slot);
            }
        }
        if next != NIL {
            self.entries[next as usize].prev = prev;
        }
    }

    /// The start of the earliest occupied slot: the next tick at which the
    /// wheel has work (firing at level 0, cascading above).
    pub(crate) fn next_expiration(&self) -> Option<(usize, usize, u64)> {
        for level in 0..LEVELS {
            let occupied = self.occupied[level];
            if occupied == 0 {
                continue;
            }
            let shift = level as u32 * SLOT_BITS;
            let now_slot = ((self.elapsed >> shift) as usize) & (SLOTS - 1);
            // Every entry at this level lies in the current level block at or
            // after the current slot (insert invariant), so no wrap-around.
            let ahead = occupied >> now_slot;
            debug_assert!(ahead != 0, "timer slot behind the wheel");
            let slot = now_slot + ahead.trailing_zeros() as usize;
            let block_bits = shift + SLOT_BITS;
            let block_start = if block_bits >= 64 {
                0
            } else {
                self.elapsed & !((1u64 << block_bits) - 1)
            };
            let when = block_start + ((slot as u64) << shift);
            return Some((level, slot, when.max(self.elapsed)));
        }
        None
    }

    /// The next tick at which something must happen, if any.
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        self.next_expiration().map(|(_, _, when)| when)
    }

    /// Advances to `now` (ticks), pushing the wakers of every timer whose
    /// deadline is at or before `now` into `fired`. Returns how many fired.
    pub(crate) fn advance(&mut self, now: u64, fired: &mut Vec<Waker>) -> usize {
        let mut count = 0;
        while let Some((level, slot, when)) = self.next_expiration() {
            if when > now {
                break;
            }
            self.elapsed = when;
            let mut index = self.heads[level][slot];
            self.heads[level][slot] = NIL;
            self.occupied[level] &= !(1 << slot);
            while index != NIL {
                let next = self.entries[index as usize].next;
                let e = &mut self.entries[index as usize];
                if e.deadline <= now {
                    e.state = State::Fired;
                    e.prev = NIL;
                    e.next = NIL;
                    if let Some(w) = e.waker.take() {
                        fired.push(w);
                    }
                    self.pending -= 1;
                    count += 1;
                } else {
                    self.link(index);
                }
                index = next;
            }
        }
        if now > self.elapsed {
            self.elapsed = now;
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn counting_waker(counter: &Arc<AtomicUsize>) -> Waker {
        struct W(Arc<AtomicUsize>);
        impl std::task::Wake for W {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        Waker::from(Arc::new(W(counter.clone())))
    }

    /// A deterministic pseudo-random sequence (xorshift).
    fn rng(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    #[test]
    fn fires_in_deadline_order_never_early() {
        let mut wheel = Wheel::new();
        let counter = Arc::new(AtomicUsize::new(0));
        let mut seed = 0x9e3779b97f4a7c15u64;
        let mut deadlines = Vec::new();
        for _ in 0..5000 {
            let d = 1 + rng(&mut seed) % 50_000_000;
            let key = wheel.insert(d, counting_waker(&counter)).unwrap();
            deadlines.push((d, key));
        }
        let mut fired = Vec::new();
        let mut now = 0u64;
        while wheel.pending() > 0 {
            let next = wheel.next_deadline().unwrap();
            assert!(next >= wheel.elapsed);
            now = next.max(now + 1);
            fired.clear();
            wheel.advance(now, &mut fired);
            for (d, key) in &deadlines {
                let is_fired = wheel.is_fired(*key);
                assert_eq!(is_fired, *d <= now, "deadline {d} at now {now}");
            }
        }
    }

    #[test]
    fn cancel_and_reuse() {
        let mut wheel = Wheel::new();
        let counter = Arc::new(AtomicUsize::new(0));
        let a = wheel.insert(100, counting_waker(&counter)).unwrap();
        let b = wheel.insert(200, counting_waker(&counter)).unwrap();
        wheel.remove(a);
        assert_eq!(wheel.pending(), 1);
        let c = wheel.insert(150, counting_waker(&counter)).unwrap();
        assert_ne!(a, c, "generation must change on reuse");
        let mut fired = Vec::new();
        wheel.advance(1000, &mut fired);
        assert_eq!(fired.len(), 2);
        assert!(wheel.is_fired(b) && wheel.is_fired(c));
        assert!(!wheel.is_fired(a));
        assert!(
            wheel.insert(5, counting_waker(&counter)).is_none(),
            "past deadline is due at once"
        );
    }
}
