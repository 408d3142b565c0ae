//! [`Shared`]: immutable bytes added to a buffer by reference.

use std::fmt;
use std::sync::{Arc, Mutex};

type Cleanup = Box<dyn FnOnce() + Send>;

/// Immutable bytes that a [`Buffer`](super::Buffer) holds by reference,
/// without copying: what `evbuffer_add_reference` adds.
///
/// Made from a `&'static [u8]`/`&'static str`, an `Arc<[u8]>`, or an owned
/// `Vec<u8>`/`Box<[u8]>`/`String` (moved, not copied). Cloning is cheap (a
/// reference count). A cleanup callback attached with
/// [`with_cleanup`](Shared::with_cleanup) runs exactly once, when the last
/// reference is gone — the buffer's chunk(s) fully drained or dropped, and
/// any clone you kept dropped.
///
/// ```
/// use runtime::io::{Buffer, Shared};
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// let freed = Arc::new(AtomicUsize::new(0));
/// let f = freed.clone();
/// let body = Shared::from(vec![b'x'; 1000]).with_cleanup(move || {
///     f.fetch_add(1, Ordering::SeqCst);
/// });
/// let mut buf = Buffer::new();
/// buf.add_reference(body)?;
/// buf.drain(999)?;
/// assert_eq!(freed.load(Ordering::SeqCst), 0);
/// buf.drain(1)?;
/// assert_eq!(freed.load(Ordering::SeqCst), 1);
/// # Ok::<(), runtime::io::BufferError>(())
/// ```
#[derive(Clone)]
pub struct Shared {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Static(&'static [u8]),
    Slice(Arc<[u8]>),
    Vec(Arc<Vec<u8>>),
    Held(Arc<Holder>),
}

struct Holder {
    data: Shared,
    cleanup: Mutex<Option<Cleanup>>,
}

impl Drop for Holder {
    fn drop(&mut self) {
        let slot = match self.cleanup.get_mut() {
            Ok(slot) => slot,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(cleanup) = slot.take() {
            cleanup();
        }
    }
}

impl Shared {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.inner {
            Inner::Static(s) => s,
            Inner::Slice(a) => a,
            Inner::Vec(v) => v,
            Inner::Held(h) => h.data.as_bytes(),
        }
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.as_bytes().is_empty()
    }

    /// Attaches `cleanup`, run once when the last reference to these bytes
    /// is dropped (`evbuffer_add_reference`'s cleanup function). It also runs
    /// if the buffer refuses the data (frozen, too large), since the buffer
    /// then drops it at once.
    ///
    /// ```
    /// use runtime::io::Shared;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    ///
    /// let done = Arc::new(AtomicBool::new(false));
    /// let d = done.clone();
    /// let s = Shared::from("static").with_cleanup(move || d.store(true, Ordering::SeqCst));
    /// let s2 = s.clone();
    /// drop(s);
    /// assert!(!done.load(Ordering::SeqCst));
    /// drop(s2);
    /// assert!(done.load(Ordering::SeqCst));
    /// ```
    pub fn with_cleanup(self, cleanup: impl FnOnce() + Send + 'static) -> Shared {
        Shared {
            inner: Inner::Held(Arc::new(Holder {
                data: self,
                cleanup: Mutex::new(Some(Box::new(cleanup))),
            })),
        }
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared").field("len", &self.len()).finish()
    }
}

impl AsRef<[u8]> for Shared {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl From<&'static [u8]> for Shared {
    fn from(s: &'static [u8]) -> Self {
        Shared {
            inner: Inner::Static(s),
        }
    }
}

impl<const N: usize> From<&'static [u8; N]> for Shared {
    fn from(s: &'static [u8; N]) -> Self {
        Shared {
            inner: Inner::Static(s),
        }
    }
}

impl From<&'static str> for Shared {
    fn from(s: &'static str) -> Self {
        Shared {
            inner: Inner::Static(s.as_bytes()),
        }
    }
}

impl From<Arc<[u8]>> for Shared {
    fn from(a: Arc<[u8]>) -> Self {
        Shared {
            inner: Inner::Slice(a),
        }
    }
}

impl From<Arc<Vec<u8>>> for Shared {
    fn from(v: Arc<Vec<u8>>) -> Self {
        Shared {
            inner: Inner::Vec(v),
        }
    }
}

impl From<Vec<u8>> for Shared {
    fn from(v: Vec<u8>) -> Self {
        Shared {
            inner: Inner::Vec(Arc::new(v)),
        }
    }
}

impl From<Box<[u8]>> for Shared {
    fn from(b: Box<[u8]>) -> Self {
        Shared::from(b.into_vec())
    }
}

impl From<String> for Shared {
    fn from(s: String) -> Self {
        Shared::from(s.into_bytes())
    }
}
