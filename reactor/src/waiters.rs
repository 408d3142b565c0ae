//! [`WaitList`]: the wakers waiting for one condition — a direction of a
//! registration here, a listener's re-enable in `runtime-net`.
//!
//! Two kinds of waiter share a list. `poll_*`-style callers
//! ([`Registration::poll_ready`](crate::Registration::poll_ready)) have one
//! shared slot per direction, which the most recent caller's waker
//! occupies — the contract of a `poll_*` method on a shared object, as in
//! tokio and smol. Futures ([`Waiter`](crate::Waiter), and the async
//! methods built on it) each get their own entry, identified by a key they
//! keep: any number may wait at once, all are woken, and a future that is
//! dropped removes its entry. The first keyed entry is stored inline, so
//! one waiting future costs no allocation; more use a slab whose storage
//! is kept for reuse.

use crate::slab::Slab;
use std::task::Waker;

/// The key of a future's entry.
pub(crate) type Key = usize;

/// Key of the inline entry; slab entries are `1 + index`.
const INLINE: Key = 0;

/// A future's place in a [`WaitList`]: empty until it first waits;
/// the future keeps it and gives it back to [`WaitList::remove`] when it
/// completes or is dropped.
#[derive(Debug, Default)]
pub struct WaitKey(pub(crate) Option<Key>);

impl WaitKey {
    /// A key not in any list yet.
    pub const fn new() -> WaitKey {
        WaitKey(None)
    }

    /// Whether the key names an entry.
    pub fn is_registered(&self) -> bool {
        self.0.is_some()
    }
}

/// Wakers waiting for one condition: a shared slot for `poll_*`-style
/// callers (the most recent caller's waker is kept) and one entry per
/// waiting future, named by its [`WaitKey`]. [`wake_all`](Self::wake_all)
/// wakes every one. Not thread-safe: it lives with its reactor's thread.
///
/// ```
/// use runtime::reactor::{WaitKey, WaitList};
/// use std::task::Waker;
/// let mut list = WaitList::new();
/// let (mut a, mut b) = (WaitKey::new(), WaitKey::new());
/// list.register(&mut a, Waker::noop());
/// list.register(&mut b, Waker::noop());
/// assert_eq!(list.waiting(), 2);
/// list.remove(&mut b); // a future dropped
/// assert_eq!(list.wake_all(), 1);
/// ```
#[derive(Default)]
pub struct WaitList {
    /// The `poll_*` callers' slot.
    shared: Option<Waker>,
    /// The first future's entry: `None` when free, `Some(None)` when taken
    /// but woken (or not yet given a waker).
    inline: Option<Option<Waker>>,
    rest: Slab<Option<Waker>>,
}

/// Stores `waker` in `cell` unless the waker there already wakes the same
/// task (a future polled again by the same task does not clone it again).
fn store(cell: &mut Option<Waker>, waker: &Waker) {
    match cell {
        Some(w) if w.will_wake(waker) => {}
        _ => *cell = Some(waker.clone()),
    }
}

impl std::fmt::Debug for WaitList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitList")
            .field("waiting", &self.waiting())
            .finish()
    }
}

impl WaitList {
    /// An empty list (no allocation).
    pub const fn new() -> WaitList {
        WaitList {
            shared: None,
            inline: None,
            rest: Slab::new(),
        }
    }

    /// Puts `waker` in the shared slot (replacing another task's).
    pub fn set_shared(&mut self, waker: &Waker) {
        store(&mut self.shared, waker);
    }

    /// Forgets the shared slot's waker.
    pub fn clear_shared(&mut self) {
        self.shared = None;
    }

    /// Stores `waker` in the entry `key` names, making one first if the
    /// key is new. The same task registering again with an equivalent
    /// waker does not clone it again.
    pub fn register(&mut self, key: &mut WaitKey, waker: &Waker) {
        self.set_keyed(&mut key.0, waker)
    }

    /// Removes `key`'s entry, if any (a future that completed or was
    /// dropped); the key is empty afterwards.
    pub fn remove(&mut self, key: &mut WaitKey) {
        self.remove_key(&mut key.0)
    }

    /// Wakes every stored waker; entries stay, empty, until their futures
    /// remove them. Returns how many were woken.
    pub fn wake_all(&mut self) -> usize {
        let mut out = Vec::new();
        self.take_wakers(&mut out);
        let n = out.len();
        for w in out {
            w.wake();
        }
        n
    }

    pub(crate) fn set_keyed(&mut self, key: &mut Option<Key>, waker: &Waker) {
        match *key {
            Some(INLINE) => store(
                self.inline.as_mut().expect("inline waiter entry is taken"),
                waker,
            ),
            Some(k) => store(
                self.rest
                    .get_mut(k - 1)
                    .expect("waiter entry of a live key"),
                waker,
            ),
            None => {
                if self.inline.is_none() {
                    self.inline = Some(Some(waker.clone()));
                    *key = Some(INLINE);
                } else {
                    *key = Some(1 + self.rest.insert(Some(waker.clone())));
                }
            }
        }
    }

    pub(crate) fn remove_key(&mut self, key: &mut Option<Key>) {
        match key.take() {
            Some(INLINE) => self.inline = None,
            Some(k) => {
                self.rest.remove(k - 1);
            }
            None => {}
        }
    }

    /// Moves every stored waker to `out`, to be woken outside any borrow
    /// of the list (entries stay, empty, until their futures remove them).
    pub fn take_wakers(&mut self, out: &mut Vec<Waker>) {
        if let Some(w) = self.shared.take() {
            out.push(w);
        }
        if let Some(Some(w)) = self.inline.as_mut().map(Option::take) {
            out.push(w);
        }
        if !self.rest.is_empty() {
            for (_, w) in self.rest.iter_mut() {
                if let Some(w) = w.take() {
                    out.push(w);
                }
            }
        }
    }

    /// Number of wakers stored and not woken yet.
    pub fn waiting(&self) -> usize {
        self.shared.is_some() as usize
            + matches!(self.inline, Some(Some(_))) as usize
            + self.rest.iter().filter(|(_, w)| w.is_some()).count()
    }
}
