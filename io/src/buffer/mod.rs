//! [`Buffer`]: libevent's `evbuffer` as a chain of chunks.
//!
//! The chain is a `VecDeque` of chunks, each one of
//!
//! - owned memory with read and write offsets (appends fill the tail
//!   chunk's free space, then allocate a new chunk of at least
//!   [`chunk_size`](Buffer::chunk_size) bytes — the buffer is never one big
//!   reallocated vector);
//! - shared immutable bytes added by reference ([`Shared`]: `&'static`,
//!   `Arc<[u8]>`, a moved `Vec`), never copied;
//! - a file segment ([`FileSegment`]), sent with `sendfile(2)` and read with
//!   `pread` only when its bytes are looked at.
//!
//! Modules: `chunk` (storage), `add` (append, prepend, reserve/commit,
//! moves between buffers), `read` (drain, remove, copyout, peek, pullup),
//! `search` (search, end-of-line search, readln), `file` (file segments),
//! `notify` (freeze, callbacks, counters), `fdio` (`writev`/`sendfile`/
//! `readv`).
//!
//! Every size computation is overflow-checked: a buffer never holds more than
//! [`max_size`](Buffer::max_size) (at most `isize::MAX`) bytes, and a request
//! beyond it — or an allocation that fails — is refused with
//! [`BufferError::TooLarge`] instead of panicking or aborting.
//!
//! # Panic safety
//!
//! User code runs inside buffer operations: the cleanup callbacks of bytes
//! added by reference ([`Shared::with_cleanup`]) and of file segments
//! ([`FileSegment::set_cleanup`]) when their chunk is dropped, and the
//! [`on_change`](Buffer::on_change) callbacks. Any of them may panic, and
//! the buffer stays consistent when one does: an operation first makes
//! every change to the chain, the length and the counters (of both
//! buffers, when it moves bytes between two), then drops the chunks it
//! freed, then runs the change callbacks. A chunk is never dropped while
//! it is still counted (see `read::spend_front` and `Buffer::release`).
//! After a caught panic, `len()` is the number of bytes held, the
//! contents are what the operation leaves without the panic, and
//! `counters()` agree with both.

use std::collections::VecDeque;
use std::fmt;

mod add;
mod chunk;
mod error;
mod fdio;
mod file;
mod notify;
mod read;
mod search;
mod shared;

use chunk::{Chunk, OwnedChunk};

pub use error::{BufferError, Side};
pub use file::FileSegment;
pub use notify::{BufferChange, CallbackId};
pub use read::{Peek, Segment};
pub(crate) use search::Delim;
pub use search::Eol;
pub use shared::Shared;

/// A byte queue made of a chain of chunks: libevent's `evbuffer`.
///
/// Bytes are added at the back ([`add`](Buffer::add), `write!`,
/// [`add_reference`](Buffer::add_reference), [`add_file`](Buffer::add_file),
/// [`add_buffer`](Buffer::add_buffer), [`reserve`](Buffer::reserve) +
/// [`commit`](Buffer::commit), [`read_from`](Buffer::read_from)) and taken
/// from the front ([`drain`](Buffer::drain), [`remove`](Buffer::remove),
/// [`readln`](Buffer::readln), [`remove_buffer`](Buffer::remove_buffer),
/// [`write_to`](Buffer::write_to)).
///
/// ```
/// use runtime::io::{Buffer, Eol};
///
/// let mut buf = Buffer::new();
/// buf.add(b"hello ")?;
/// buf.add_reference(&b"world\n"[..])?; // no copy
/// assert_eq!(buf.len(), 12);
/// assert_eq!(buf.chunk_count(), 2);
/// assert_eq!(buf.search(b"o w")?, Some(4)); // across the chunk boundary
/// assert_eq!(buf.readln(Eol::Lf)?.unwrap(), b"hello world");
/// assert!(buf.is_empty());
/// # Ok::<(), runtime::io::BufferError>(())
/// ```
// In declaration order (`repr(C)`): `len`, which emptiness checks read,
// first.
#[repr(C)]
pub struct Buffer {
    len: usize,
    /// Invariant: every chunk holds data, except that the last one may be an
    /// empty owned chunk (free space kept for the next append or read).
    chunks: VecDeque<Chunk>,
    chunk_size: usize,
    max_size: usize,
    /// Bytes handed out by the last `reserve` (0: no reservation).
    reserved: usize,
    frozen_front: bool,
    frozen_back: bool,
    sendfile: bool,
    total_added: u64,
    total_drained: u64,
    callbacks: Vec<notify::Callback>,
    next_callback: u64,
}

impl Buffer {
    /// Default minimum size of a newly allocated chunk.
    pub const DEFAULT_CHUNK_SIZE: usize = 4096;

    /// A sensible `max` for [`read_from`](Buffer::read_from): 16 KiB, what
    /// libevent's bufferevents read per call (a bare `evbuffer_read` reads
    /// 4096).
    pub const DEFAULT_MAX_READ: usize = 16 * 1024;

    /// An empty buffer (no allocation until data is added).
    pub fn new() -> Buffer {
        Buffer::with_chunk_size(Buffer::DEFAULT_CHUNK_SIZE)
    }

    /// An empty buffer whose new chunks are at least `size` bytes (at least
    /// 1). Small sizes are useful for testing chunk boundaries.
    ///
    /// ```
    /// use runtime::io::Buffer;
    ///
    /// let mut buf = Buffer::with_chunk_size(4);
    /// buf.add(b"0123456789")?;
    /// assert_eq!(buf.chunk_count(), 1); // one add of 10 bytes: one chunk of 12
    /// buf.add(b"ab")?;
    /// buf.add(b"cd")?;
    /// assert_eq!(buf.chunk_count(), 2);
    /// # Ok::<(), runtime::io::BufferError>(())
    /// ```
    pub fn with_chunk_size(size: usize) -> Buffer {
        Buffer {
            chunks: VecDeque::new(),
            len: 0,
            chunk_size: size.clamp(1, isize::MAX as usize),
            max_size: isize::MAX as usize,
            reserved: 0,
            frozen_front: false,
            frozen_back: false,
            sendfile: true,
            total_added: 0,
            total_drained: 0,
            callbacks: Vec::new(),
            next_callback: 0,
        }
    }

    /// Number of bytes in the buffer (`evbuffer_get_length`), file segments
    /// included.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of chunks holding data.
    ///
    /// ```
    /// use runtime::io::Buffer;
    ///
    /// let mut buf = Buffer::new();
    /// assert_eq!(buf.chunk_count(), 0);
    /// buf.add(b"abc")?;
    /// buf.add_reference(&b"def"[..])?;
    /// assert_eq!(buf.chunk_count(), 2);
    /// # Ok::<(), runtime::io::BufferError>(())
    /// ```
    pub fn chunk_count(&self) -> usize {
        self.chunks.iter().filter(|c| c.len() > 0).count()
    }

    /// Minimum size of a newly allocated chunk.
    pub fn chunk_size(&self) -> usize {
        self.chunk_size
    }

    /// The most bytes the buffer may hold; adding beyond it fails with
    /// [`BufferError::TooLarge`]. Defaults to `isize::MAX`.
    pub fn max_size(&self) -> usize {
        self.max_size
    }

    /// Sets [`max_size`](Buffer::max_size) (clamped to `isize::MAX`). Data
    /// already in the buffer is kept even if it exceeds the new limit.
    ///
    /// ```
    /// use runtime::io::{Buffer, BufferError};
    ///
    /// let mut buf = Buffer::new();
    /// buf.set_max_size(4);
    /// buf.add(b"abcd")?;
    /// assert!(matches!(buf.add(b"e"), Err(BufferError::TooLarge)));
    /// assert_eq!(buf.len(), 4);
    /// # Ok::<(), runtime::io::BufferError>(())
    /// ```
    pub fn set_max_size(&mut self, max: usize) {
        self.max_size = max.min(isize::MAX as usize);
    }

    /// Drops all data, keeping the settings and callbacks (a drain of
    /// everything, refused if the front is frozen). Returns the number of
    /// bytes dropped.
    pub fn clear(&mut self) -> Result<usize, BufferError> {
        self.drain(self.len)
    }

    /// Refuses growth by `n` bytes beyond `max_size` or `usize`.
    fn check_grow(&self, n: usize) -> Result<(), BufferError> {
        match self.len.checked_add(n) {
            Some(total) if total <= self.max_size => Ok(()),
            _ => Err(BufferError::TooLarge),
        }
    }

    /// Capacity for a new chunk that must hold `n` bytes.
    fn alloc_size(&self, n: usize) -> usize {
        if n <= self.chunk_size {
            self.chunk_size
        } else {
            n.checked_next_multiple_of(self.chunk_size).unwrap_or(n)
        }
    }

    /// Appends a chunk holding data, keeping an empty owned tail chunk (free
    /// space) at the end.
    fn push_data_chunk(&mut self, chunk: Chunk) {
        debug_assert!(chunk.len() > 0);
        match self.chunks.back() {
            Some(last) if last.is_empty_owned() => {
                let at = self.chunks.len() - 1;
                self.chunks.insert(at, chunk);
            }
            _ => self.chunks.push_back(chunk),
        }
    }

    /// Removes an empty owned tail chunk, if any.
    fn pop_empty_tail(&mut self) {
        if matches!(self.chunks.back(), Some(c) if c.is_empty_owned()) {
            self.chunks.pop_back();
        }
    }

    /// The owned tail chunk, if the chain ends in one.
    fn owned_tail(&mut self) -> Option<&mut OwnedChunk> {
        match self.chunks.back_mut() {
            Some(Chunk::Owned(c)) => Some(c),
            _ => None,
        }
    }

    /// Largest emptied last chunk kept for reuse instead of being freed.
    fn keep_limit(&self) -> usize {
        self.chunk_size.max(Buffer::DEFAULT_MAX_READ)
    }

    #[cfg(debug_assertions)]
    fn check_invariants(&self) {
        let total: usize = self.chunks.iter().map(Chunk::len).sum();
        debug_assert_eq!(total, self.len);
        let n = self.chunks.len();
        for (i, c) in self.chunks.iter().enumerate() {
            debug_assert!(c.len() > 0 || (i + 1 == n && c.is_empty_owned()));
        }
    }

    #[cfg(not(debug_assertions))]
    fn check_invariants(&self) {}
}

impl Default for Buffer {
    fn default() -> Self {
        Buffer::new()
    }
}

impl fmt::Debug for Buffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buffer")
            .field("len", &self.len)
            .field("chunks", &self.chunk_count())
            .field("frozen_front", &self.frozen_front)
            .field("frozen_back", &self.frozen_back)
            .finish_non_exhaustive()
    }
}
