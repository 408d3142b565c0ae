//! Interned `Host` values: the few names a server is reached by, kept for
//! the life of the process so that requests carry them without a copy.
//!
//! Every HTTP/1.1 request has a `Host` field, and on a given server it
//! takes a handful of values (its names, with or without a port). Copying
//! the value into a buffer of its own for each request costs an allocation
//! and a free; an interned value is a `&'static` slice that a
//! [`HeaderValue`] refers to at no cost, cloned and dropped without a
//! reference count.
//!
//! Bounded: each thread keeps at most [`PER_THREAD`] values, and the
//! process makes at most [`TOTAL`] of at most [`MAX_LEN`] bytes (so at most
//! 64 KiB, allocated once and never freed). Values past the bounds (a
//! client sending a new name with each request, say) are copied as before:
//! interning is only ever a shortcut.

use bytes::Bytes;
use http::HeaderValue;
use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Longest value interned.
pub(crate) const MAX_LEN: usize = 128;
/// Most values a thread keeps.
pub(crate) const PER_THREAD: usize = 16;
/// Most values the process makes.
pub(crate) const TOTAL: usize = 512;

/// Values made so far, process-wide.
static MADE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static VALUES: RefCell<Vec<&'static [u8]>> = const { RefCell::new(Vec::new()) };
}

/// `value` (a `Host` field's value, as httparse let it through) as an
/// interned header value, if it is one or may become one (only ASCII
/// values are interned).
pub(crate) fn host(value: &[u8]) -> Option<HeaderValue> {
    if value.len() > MAX_LEN || value.is_empty() {
        return None;
    }
    let found = VALUES
        .try_with(|values| {
            let mut values = values.try_borrow_mut().ok()?;
            // Every value in the table is ASCII: a match needs no check.
            if let Some(v) = values.iter().find(|v| **v == value) {
                return Some(*v);
            }
            if !value.is_ascii()
                || values.len() >= PER_THREAD
                || MADE
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                        (n < TOTAL).then_some(n + 1)
                    })
                    .is_err()
            {
                return None;
            }
            let v: &'static [u8] = Box::leak(value.to_vec().into_boxed_slice());
            values.push(v);
            Some(v)
        })
        .ok()??;
    // SAFETY: `found` is ASCII (checked before it was interned) that
    // httparse accepted in a field value: tab, space and visible
    // characters, which make a valid header value.
    Some(unsafe { HeaderValue::from_maybe_shared_unchecked(Bytes::from_static(found)) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_value_is_one_allocation_and_the_bounds_hold() {
        let a = host(b"example.com:8080").unwrap();
        let b = host(b"example.com:8080").unwrap();
        assert_eq!(a, "example.com:8080");
        assert_eq!(a.as_bytes().as_ptr(), b.as_bytes().as_ptr());
        assert!(host(b"").is_none());
        assert!(host(&[b'a'; MAX_LEN + 1]).is_none());
        assert!(host("caf\u{e9}".as_bytes()).is_none());
        // A thread keeps at most PER_THREAD values (this test's thread has
        // one already); past them, nothing is interned.
        for i in 1..PER_THREAD {
            assert!(host(format!("h{i}").as_bytes()).is_some(), "{i}");
        }
        assert!(host(b"one-too-many").is_none());
        // Those kept are still found.
        assert_eq!(
            host(b"h3").unwrap().as_bytes().as_ptr(),
            host(b"h3").unwrap().as_bytes().as_ptr()
        );
    }
}
