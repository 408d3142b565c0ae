//! [`Watermarks`]: when a [`BufferedStream`](super::BufferedStream) reads,
//! wakes its reader and considers its output flushed
//! (`bufferevent_setwatermark`).

/// The three watermarks of a [`BufferedStream`](super::BufferedStream),
/// as in libevent's `bufferevent_setwatermark`.
///
/// - `read_low`: a read (`poll_read`, `poll_fill_buf`, `read`) returns only
///   once the input holds at least this many bytes, or at end of stream.
///   0 and 1 both mean "as soon as anything is there".
/// - `read_high`: the stream stops reading from the inner stream while the
///   input holds this many bytes (0 = no limit). Reads are also cut so they
///   never go past it, so the input never holds more than `read_high`
///   bytes: this is backpressure — the kernel's buffers fill up and the
///   peer's writes block. A line longer than the input can hold is a
///   [`LineTooLong`](crate::BufferError::LineTooLong) error from
///   [`read_line`](super::BufferedStream::read_line).
/// - `write_low`: [`flush`](super::BufferedStream::flush) completes once
///   the output has drained to at most this many bytes (0 = fully flushed).
///
/// `read_low` is clamped to `read_high` when both are set.
///
/// ```
/// use runtime::io::Watermarks;
///
/// let w = Watermarks { read_low: 0, read_high: 16 * 1024, write_low: 0 };
/// assert_eq!(w, Watermarks { read_high: 16 * 1024, ..Watermarks::default() });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Watermarks {
    /// Bytes the input must hold before a read returns (0 = any).
    pub read_low: usize,
    /// Bytes of input at which reading from the inner stream pauses
    /// (0 = unlimited).
    pub read_high: usize,
    /// Bytes of output at or below which a flush is complete (0 = empty).
    pub write_low: usize,
}

impl Watermarks {
    /// The watermarks with `read_low` clamped to `read_high` (when set).
    pub(crate) fn normalized(mut self) -> Watermarks {
        if self.read_high > 0 && self.read_low > self.read_high {
            self.read_low = self.read_high;
        }
        self
    }

    /// How many bytes the input must hold before a read returns.
    pub(crate) fn read_want(&self) -> usize {
        self.read_low.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_is_clamped_to_high() {
        let w = Watermarks {
            read_low: 100,
            read_high: 10,
            write_low: 0,
        }
        .normalized();
        assert_eq!((w.read_low, w.read_high), (10, 10));
        let w = Watermarks {
            read_low: 100,
            read_high: 0,
            write_low: 0,
        }
        .normalized();
        assert_eq!(w.read_low, 100);
        assert_eq!(Watermarks::default().read_want(), 1);
    }
}
