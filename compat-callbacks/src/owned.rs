//! What a base owns: a registry of weak references to its events,
//! bufferevents and listeners, so that dropping the base releases every
//! one of them — callbacks dropped, sockets closed as their options say —
//! even when a callback holds a handle to its own object (a reference
//! cycle the base breaks).

use std::rc::{Rc, Weak};

/// An object of a base that the base releases when it is dropped.
pub(crate) trait Owned {
    /// Releases the object as its `free` does, without touching the base's
    /// tables (the base is being torn down).
    fn release(self: Rc<Self>);
}

/// Weak references to the objects of one base. Dead entries are pruned
/// as the list grows, so its size stays proportional to the live objects.
pub(crate) struct Registry {
    list: Vec<Weak<dyn Owned>>,
    prune_at: usize,
}

impl Registry {
    const MIN_PRUNE: usize = 64;

    pub(crate) fn new() -> Registry {
        Registry {
            list: Vec::new(),
            prune_at: Self::MIN_PRUNE,
        }
    }

    /// Remembers `obj` until it is dropped.
    pub(crate) fn register(&mut self, obj: Weak<dyn Owned>) {
        if self.list.len() >= self.prune_at {
            self.list.retain(|w| w.strong_count() > 0);
            self.prune_at = (self.list.len() * 2).max(Self::MIN_PRUNE);
        }
        self.list.push(obj);
    }

    /// Every object still alive, emptying the registry.
    pub(crate) fn take_alive(&mut self) -> Vec<Rc<dyn Owned>> {
        std::mem::take(&mut self.list)
            .into_iter()
            .filter_map(|w| w.upgrade())
            .collect()
    }
}
