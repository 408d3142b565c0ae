//! A vector of reusable slots addressed by index: the registration and
//! listener tables here, the task registry of the executor.

/// Values stored at stable indices; removed indices are reused.
pub struct Slab<T> {
    entries: Vec<Entry<T>>,
    free: usize,
    len: usize,
}

enum Entry<T> {
    Occupied(T),
    Vacant(usize),
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab::new()
    }
}

impl<T> Slab<T> {
    /// An empty slab.
    pub const fn new() -> Slab<T> {
        Slab {
            entries: Vec::new(),
            free: usize::MAX,
            len: 0,
        }
    }

    /// Number of stored values.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the slab is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The index the next `insert` will use.
    pub fn vacant_key(&self) -> usize {
        if self.free == usize::MAX {
            self.entries.len()
        } else {
            self.free
        }
    }

    /// Stores a value, returning its index.
    pub fn insert(&mut self, value: T) -> usize {
        self.len += 1;
        if self.free == usize::MAX {
            self.entries.push(Entry::Occupied(value));
            return self.entries.len() - 1;
        }
        let key = self.free;
        match std::mem::replace(&mut self.entries[key], Entry::Occupied(value)) {
            Entry::Vacant(next) => self.free = next,
            Entry::Occupied(_) => unreachable!("free list points at an occupied entry"),
        }
        key
    }

    /// The value at `key`.
    pub fn get(&self, key: usize) -> Option<&T> {
        match self.entries.get(key) {
            Some(Entry::Occupied(v)) => Some(v),
            _ => None,
        }
    }

    /// The value at `key`, mutably.
    pub fn get_mut(&mut self, key: usize) -> Option<&mut T> {
        match self.entries.get_mut(key) {
            Some(Entry::Occupied(v)) => Some(v),
            _ => None,
        }
    }

    /// Takes the value at `key` out.
    pub fn remove(&mut self, key: usize) -> Option<T> {
        match self.entries.get(key) {
            Some(Entry::Occupied(_)) => {}
            _ => return None,
        }
        let old = std::mem::replace(&mut self.entries[key], Entry::Vacant(self.free));
        self.free = key;
        self.len -= 1;
        match old {
            Entry::Occupied(v) => Some(v),
            Entry::Vacant(_) => None,
        }
    }

    /// Stored values with their indices.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &T)> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| match e {
                Entry::Occupied(v) => Some((i, v)),
                Entry::Vacant(_) => None,
            })
    }

    /// Stored values with their indices, mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (usize, &mut T)> {
        self.entries
            .iter_mut()
            .enumerate()
            .filter_map(|(i, e)| match e {
                Entry::Occupied(v) => Some((i, v)),
                Entry::Vacant(_) => None,
            })
    }
}
