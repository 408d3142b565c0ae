//! [`Answer`]: what a lookup found, each value with its TTL.

use crate::wire::Name;

/// One answer value and the seconds it may still be cached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry<T> {
    /// The value (an address, a name, record data …).
    pub value: T,
    /// Remaining time to live, in seconds (0 for hosts-file and literal
    /// answers).
    pub ttl: u32,
}

/// The values a lookup found, with their TTLs.
///
/// ```
/// # use runtime::dns::{Answer, Entry, wire::Name};
/// let a = Answer::new(Name::from_ascii("h").unwrap(), vec![Entry { value: 1, ttl: 30 }, Entry { value: 2, ttl: 10 }]);
/// assert_eq!(a.values().collect::<Vec<_>>(), [&1, &2]);
/// assert_eq!(a.min_ttl(), Some(10));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer<T> {
    /// The name the values belong to: the queried name after the search
    /// list and any CNAME chain.
    pub name: Name,
    /// The values in the order the server gave them.
    pub entries: Vec<Entry<T>>,
}

impl<T> Answer<T> {
    /// An answer for `name`.
    pub fn new(name: Name, entries: Vec<Entry<T>>) -> Answer<T> {
        Answer { name, entries }
    }

    /// The values without TTLs.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.entries.iter().map(|e| &e.value)
    }

    /// The smallest TTL (how long the whole answer may be kept).
    pub fn min_ttl(&self) -> Option<u32> {
        self.entries.iter().map(|e| e.ttl).min()
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no value.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Iterates over the entries.
    pub fn iter(&self) -> std::slice::Iter<'_, Entry<T>> {
        self.entries.iter()
    }

    pub(crate) fn map<U>(self, mut f: impl FnMut(T) -> Option<U>) -> Answer<U> {
        Answer {
            name: self.name,
            entries: self
                .entries
                .into_iter()
                .filter_map(|e| {
                    Some(Entry {
                        value: f(e.value)?,
                        ttl: e.ttl,
                    })
                })
                .collect(),
        }
    }
}

impl<T> IntoIterator for Answer<T> {
    type Item = Entry<T>;
    type IntoIter = std::vec::IntoIter<Entry<T>>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl<'a, T> IntoIterator for &'a Answer<T> {
    type Item = &'a Entry<T>;
    type IntoIter = std::slice::Iter<'a, Entry<T>>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter()
    }
}
