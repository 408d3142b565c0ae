//! The resolver's cache: answers kept for their TTL, negative answers
//! (NXDOMAIN, no data) for the SOA's negative TTL (RFC 2308), a bound on
//! entries with the oldest evicted first.

use crate::answer::Answer;
use crate::wire::{Name, RData, RecordType};
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// A cached negative answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Negative {
    NxDomain,
    NoData,
}

#[derive(Clone)]
enum Value {
    Positive(Answer<RData>),
    Negative(Negative),
}

struct Slot {
    stored: Instant,
    expires: Instant,
    generation: u64,
    value: Value,
}

pub(crate) struct Cache {
    capacity: usize,
    map: HashMap<(Name, RecordType), Slot>,
    order: VecDeque<((Name, RecordType), u64)>,
    generation: u64,
    hits: u64,
    misses: u64,
}

impl Cache {
    pub(crate) fn new(capacity: usize) -> Cache {
        Cache {
            capacity,
            map: HashMap::new(),
            order: VecDeque::new(),
            generation: 0,
            hits: 0,
            misses: 0,
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.capacity > 0
    }

    /// A live entry, TTLs lowered by the time spent in the cache.
    pub(crate) fn get(
        &mut self,
        name: &Name,
        qtype: RecordType,
        now: Instant,
    ) -> Option<Result<Answer<RData>, Negative>> {
        let key = (name.clone(), qtype);
        let Some(slot) = self.map.get(&key) else {
            self.misses += 1;
            return None;
        };
        if now >= slot.expires {
            self.map.remove(&key);
            self.misses += 1;
            return None;
        }
        self.hits += 1;
        let elapsed = now
            .duration_since(slot.stored)
            .as_secs()
            .min(u32::MAX as u64) as u32;
        Some(match &slot.value {
            Value::Positive(a) => {
                let mut a = a.clone();
                for e in &mut a.entries {
                    e.ttl = e.ttl.saturating_sub(elapsed);
                }
                Ok(a)
            }
            Value::Negative(n) => Err(*n),
        })
    }

    pub(crate) fn put_positive(
        &mut self,
        name: &Name,
        qtype: RecordType,
        answer: &Answer<RData>,
        now: Instant,
    ) {
        let ttl = answer.min_ttl().unwrap_or(0);
        self.put(name, qtype, Value::Positive(answer.clone()), ttl, now);
    }

    pub(crate) fn put_negative(
        &mut self,
        name: &Name,
        qtype: RecordType,
        neg: Negative,
        ttl: u32,
        now: Instant,
    ) {
        self.put(name, qtype, Value::Negative(neg), ttl, now);
    }

    fn put(&mut self, name: &Name, qtype: RecordType, value: Value, ttl: u32, now: Instant) {
        if self.capacity == 0 || ttl == 0 {
            return;
        }
        while self.map.len() >= self.capacity {
            let Some((key, generation)) = self.order.pop_front() else {
                break;
            };
            if self
                .map
                .get(&key)
                .is_some_and(|s| s.generation == generation)
            {
                self.map.remove(&key);
            }
        }
        self.generation += 1;
        let key = (name.to_lowercase(), qtype);
        self.order.push_back((key.clone(), self.generation));
        self.map.insert(
            key,
            Slot {
                stored: now,
                expires: now + Duration::from_secs(ttl as u64),
                generation: self.generation,
                value,
            },
        );
        // Stale order entries (replaced keys) are bounded too.
        if self.order.len() > 2 * self.capacity + 16 {
            let map = &self.map;
            self.order
                .retain(|(k, g)| map.get(k).is_some_and(|s| s.generation == *g));
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn stats(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }

    pub(crate) fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
    }
}
