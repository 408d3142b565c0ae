//! Freezing the ends of a buffer, change callbacks and counters
//! (`evbuffer_freeze`, `evbuffer_add_cb`).

use super::error::{BufferError, Side};
use super::Buffer;

/// What one operation did to a buffer, as passed to
/// [`on_change`](Buffer::on_change) callbacks (`struct evbuffer_cb_info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BufferChange {
    /// Length before the operation.
    pub orig_size: usize,
    /// Bytes added.
    pub added: usize,
    /// Bytes removed.
    pub deleted: usize,
}

/// Identifies a callback registered with [`Buffer::on_change`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallbackId(u64);

type ChangeFn = Box<dyn FnMut(&BufferChange) + Send>;

pub(crate) struct Callback {
    id: u64,
    enabled: bool,
    f: ChangeFn,
}

impl Buffer {
    /// Freezes (`true`) or unfreezes one end (`evbuffer_freeze` /
    /// `evbuffer_unfreeze`). A frozen front refuses drain, remove, readln,
    /// prepend, prepend_buffer, being the source of add_buffer/remove_buffer
    /// and writing out; a frozen back refuses add, add_reference, add_file,
    /// being the destination of add_buffer/remove_buffer/prepend_buffer,
    /// reserve/commit and reading in. Refusals are [`BufferError::Frozen`].
    ///
    /// ```
    /// use runtime::io::{Buffer, BufferError, Side};
    ///
    /// let mut buf = Buffer::new();
    /// buf.add(b"data")?;
    /// buf.freeze(Side::Front, true);
    /// assert!(matches!(buf.drain(1), Err(BufferError::Frozen(Side::Front))));
    /// buf.add(b"more")?; // the back is still open
    /// buf.freeze(Side::Front, false);
    /// buf.drain(1)?;
    /// # Ok::<(), runtime::io::BufferError>(())
    /// ```
    pub fn freeze(&mut self, side: Side, frozen: bool) {
        match side {
            Side::Front => self.frozen_front = frozen,
            Side::Back => self.frozen_back = frozen,
        }
    }

    /// Whether that end is frozen.
    pub fn is_frozen(&self, side: Side) -> bool {
        match side {
            Side::Front => self.frozen_front,
            Side::Back => self.frozen_back,
        }
    }

    /// Registers a callback run synchronously after every operation that
    /// adds or removes bytes (`evbuffer_add_cb`), with the length before the
    /// operation and the bytes added and deleted. Operations that change
    /// nothing do not call it.
    ///
    /// ```
    /// use runtime::io::{Buffer, BufferChange};
    /// use std::sync::{Arc, Mutex};
    ///
    /// let log = Arc::new(Mutex::new(Vec::new()));
    /// let l = log.clone();
    /// let mut buf = Buffer::new();
    /// let id = buf.on_change(move |c| l.lock().unwrap().push(*c));
    /// buf.add(b"hello")?;
    /// buf.drain(2)?;
    /// buf.remove_callback(id);
    /// buf.add(b"!")?;
    /// assert_eq!(
    ///     *log.lock().unwrap(),
    ///     [
    ///         BufferChange { orig_size: 0, added: 5, deleted: 0 },
    ///         BufferChange { orig_size: 5, added: 0, deleted: 2 },
    ///     ]
    /// );
    /// # Ok::<(), runtime::io::BufferError>(())
    /// ```
    pub fn on_change(&mut self, f: impl FnMut(&BufferChange) + Send + 'static) -> CallbackId {
        let id = self.next_callback;
        self.next_callback += 1;
        self.callbacks.push(Callback {
            id,
            enabled: true,
            f: Box::new(f),
        });
        CallbackId(id)
    }

    /// Removes a callback (`evbuffer_remove_cb_entry`); `false` if unknown.
    pub fn remove_callback(&mut self, id: CallbackId) -> bool {
        let before = self.callbacks.len();
        self.callbacks.retain(|c| c.id != id.0);
        self.callbacks.len() != before
    }

    /// Enables or disables a callback without removing it
    /// (`EVBUFFER_CB_ENABLED`); `false` if unknown.
    pub fn set_callback_enabled(&mut self, id: CallbackId, enabled: bool) -> bool {
        match self.callbacks.iter_mut().find(|c| c.id == id.0) {
            Some(c) => {
                c.enabled = enabled;
                true
            }
            None => false,
        }
    }

    /// Total bytes ever added and ever removed: `(total_added,
    /// total_drained)`. Their difference is [`len`](Buffer::len); a change
    /// in either tells that the buffer changed.
    ///
    /// ```
    /// use runtime::io::Buffer;
    ///
    /// let mut buf = Buffer::new();
    /// buf.add(b"abcdef")?;
    /// buf.drain(4)?;
    /// assert_eq!(buf.counters(), (6, 4));
    /// # Ok::<(), runtime::io::BufferError>(())
    /// ```
    pub fn counters(&self) -> (u64, u64) {
        (self.total_added, self.total_drained)
    }

    pub(crate) fn check_front(&self) -> Result<(), BufferError> {
        if self.frozen_front {
            Err(BufferError::Frozen(Side::Front))
        } else {
            Ok(())
        }
    }

    pub(crate) fn check_back(&self) -> Result<(), BufferError> {
        if self.frozen_back {
            Err(BufferError::Frozen(Side::Back))
        } else {
            Ok(())
        }
    }

    /// Records a change and runs the callbacks: [`record`](Buffer::record)
    /// then [`notify`](Buffer::notify).
    pub(crate) fn changed(&mut self, orig_size: usize, added: usize, deleted: usize) {
        self.record(added, deleted);
        self.notify(orig_size, added, deleted);
    }

    /// Records a change in the counters (and cancels a pending
    /// reservation). Runs no user code: an operation records every change
    /// — on both buffers when it moves bytes between two — before it
    /// drops chunks or notifies, so a panicking callback cannot leave the
    /// counters behind the contents.
    pub(crate) fn record(&mut self, added: usize, deleted: usize) {
        self.reserved = 0;
        self.total_added = self.total_added.wrapping_add(added as u64);
        self.total_drained = self.total_drained.wrapping_add(deleted as u64);
    }

    /// Runs the enabled change callbacks, after the change was made and
    /// recorded. A callback that panics stops the ones after it; the
    /// buffer is already consistent.
    pub(crate) fn notify(&mut self, orig_size: usize, added: usize, deleted: usize) {
        self.check_invariants();
        if added == 0 && deleted == 0 {
            return;
        }
        let change = BufferChange {
            orig_size,
            added,
            deleted,
        };
        for cb in self.callbacks.iter_mut().filter(|c| c.enabled) {
            (cb.f)(&change);
        }
    }
}
