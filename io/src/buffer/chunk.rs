//! Chunk storage: owned memory with read/write offsets, shared immutable
//! bytes, and file segments.

use std::mem::MaybeUninit;
use std::ptr;
use std::slice;

use super::error::BufferError;
use super::file::FileSegment;
use super::shared::Shared;

/// An owned, writable chunk.
///
/// Invariant: `start <= end <= init <= buf.len()`, and `buf[..init]` is
/// initialised. Data lives in `buf[start..end]`; `buf[end..]` is free space
/// for appends and `buf[..start]` for prepends.
pub(crate) struct OwnedChunk {
    buf: Vec<MaybeUninit<u8>>,
    start: usize,
    end: usize,
    init: usize,
}

impl OwnedChunk {
    /// A chunk with room for `cap` bytes; allocation failure is `TooLarge`,
    /// never an abort.
    pub(crate) fn with_capacity(cap: usize) -> Result<Self, BufferError> {
        if cap > isize::MAX as usize {
            return Err(BufferError::TooLarge);
        }
        let mut buf: Vec<MaybeUninit<u8>> = Vec::new();
        buf.try_reserve_exact(cap)
            .map_err(|_| BufferError::TooLarge)?;
        // SAFETY: the capacity is at least `cap` (just reserved) and
        // `MaybeUninit<u8>` needs no initialisation.
        unsafe { buf.set_len(cap) };
        Ok(OwnedChunk {
            buf,
            start: 0,
            end: 0,
            init: 0,
        })
    }

    /// A chunk of capacity `cap >= data.len()` holding `data` at its very
    /// end, leaving room in front for further prepends.
    pub(crate) fn for_prepend(cap: usize, data: &[u8]) -> Result<Self, BufferError> {
        let cap = cap.max(data.len());
        let mut c = OwnedChunk::with_capacity(cap)?;
        let at = cap - data.len();
        for b in &mut c.buf[..at] {
            b.write(0);
        }
        // SAFETY: `at + data.len() == cap == buf.len()`, so the destination is
        // in bounds; source and destination are distinct allocations.
        unsafe {
            ptr::copy_nonoverlapping(
                data.as_ptr(),
                c.buf.as_mut_ptr().add(at).cast::<u8>(),
                data.len(),
            )
        };
        c.start = at;
        c.end = cap;
        c.init = cap;
        Ok(c)
    }

    pub(crate) fn len(&self) -> usize {
        self.end - self.start
    }

    pub(crate) fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Free space after the data.
    pub(crate) fn spare(&self) -> usize {
        self.buf.len() - self.end
    }

    /// Free space before the data.
    pub(crate) fn front_space(&self) -> usize {
        self.start
    }

    pub(crate) fn data(&self) -> &[u8] {
        // SAFETY: `start <= end <= init`, and `buf[..init]` is initialised.
        unsafe {
            slice::from_raw_parts(
                self.buf.as_ptr().add(self.start).cast::<u8>(),
                self.end - self.start,
            )
        }
    }

    /// Appends as much of `data` as fits; returns how much.
    pub(crate) fn push(&mut self, data: &[u8]) -> usize {
        let n = self.spare().min(data.len());
        // SAFETY: `end + n <= buf.len()`; source and destination are distinct.
        unsafe {
            ptr::copy_nonoverlapping(
                data.as_ptr(),
                self.buf.as_mut_ptr().add(self.end).cast::<u8>(),
                n,
            )
        };
        self.end += n;
        self.init = self.init.max(self.end);
        n
    }

    /// Prepends the last `min(front_space, data.len())` bytes of `data`;
    /// returns how many.
    pub(crate) fn prepend(&mut self, data: &[u8]) -> usize {
        let n = self.start.min(data.len());
        let src = &data[data.len() - n..];
        // SAFETY: `start - n >= 0` and the range ends at `start <= buf.len()`;
        // source and destination are distinct. The bytes before `start` are
        // already initialised (`start <= init`), so `init` is unchanged.
        unsafe {
            ptr::copy_nonoverlapping(
                src.as_ptr(),
                self.buf.as_mut_ptr().add(self.start - n).cast::<u8>(),
                n,
            )
        };
        self.start -= n;
        n
    }

    /// Drops `n <= len()` bytes from the front. An emptied chunk is rewound
    /// so its whole capacity is free again.
    pub(crate) fn advance(&mut self, n: usize) {
        debug_assert!(n <= self.len());
        self.start += n.min(self.len());
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Moves the data to the front of the allocation.
    pub(crate) fn realign(&mut self) {
        if self.start == 0 {
            return;
        }
        let len = self.len();
        // SAFETY: both ranges lie in `buf[..end]`; `ptr::copy` allows overlap.
        unsafe {
            ptr::copy(
                self.buf.as_ptr().add(self.start),
                self.buf.as_mut_ptr(),
                len,
            )
        };
        self.start = 0;
        self.end = len;
    }

    /// Realigns when that is cheap and makes room for `want` more bytes
    /// (libevent's `evbuffer_chain_should_realign`).
    pub(crate) fn realign_for(&mut self, want: usize) {
        let len = self.len();
        if self.start > 0
            && self.spare() < want
            && self.capacity() - len >= want
            && len < self.capacity() / 2
            && len <= 2048
        {
            self.realign();
        }
    }

    /// The free space after the data, possibly uninitialised.
    pub(crate) fn spare_uninit(&mut self) -> &mut [MaybeUninit<u8>] {
        &mut self.buf[self.end..]
    }

    /// The first `n <= spare()` bytes of free space, initialised (zeroed the
    /// first time they are handed out).
    pub(crate) fn spare_init(&mut self, n: usize) -> &mut [u8] {
        let n = n.min(self.spare());
        let want = self.end + n;
        if want > self.init {
            for b in &mut self.buf[self.init..want] {
                b.write(0);
            }
            self.init = want;
        }
        // SAFETY: `buf[end..end + n]` lies within `buf[..init]`, which is
        // initialised, and is borrowed mutably through `self`.
        unsafe { slice::from_raw_parts_mut(self.buf.as_mut_ptr().add(self.end).cast::<u8>(), n) }
    }

    /// Marks `n` bytes of free space after the data as data.
    ///
    /// # Safety
    ///
    /// `n <= spare()`, and `buf[end..end + n]` must have been initialised
    /// (written by the caller or by the kernel).
    pub(crate) unsafe fn commit(&mut self, n: usize) {
        debug_assert!(n <= self.spare());
        self.end += n;
        self.init = self.init.max(self.end);
    }

    /// Marks `n` bytes of free space, handed out by [`spare_init`], as data.
    pub(crate) fn commit_init(&mut self, n: usize) {
        let n = n.min(self.init.saturating_sub(self.end));
        self.end += n;
    }
}

impl std::fmt::Debug for Chunk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Chunk::Owned(c) => write!(f, "Owned({})", c.len()),
            Chunk::Shared { start, end, .. } => write!(f, "Shared({})", end - start),
            Chunk::File { len, .. } => write!(f, "File({len})"),
        }
    }
}

/// One link of a buffer's chain.
pub(crate) enum Chunk {
    Owned(OwnedChunk),
    Shared {
        data: Shared,
        start: usize,
        end: usize,
    },
    File {
        seg: FileSegment,
        /// Absolute file offset of the first byte.
        pos: u64,
        len: usize,
    },
}

impl Chunk {
    pub(crate) fn len(&self) -> usize {
        match self {
            Chunk::Owned(c) => c.len(),
            Chunk::Shared { start, end, .. } => end - start,
            Chunk::File { len, .. } => *len,
        }
    }

    pub(crate) fn shared(data: Shared) -> Chunk {
        let end = data.len();
        Chunk::Shared {
            data,
            start: 0,
            end,
        }
    }

    /// The bytes, unless this is a file segment.
    pub(crate) fn memory(&self) -> Option<&[u8]> {
        match self {
            Chunk::Owned(c) => Some(c.data()),
            Chunk::Shared { data, start, end } => data.as_bytes().get(*start..*end),
            Chunk::File { .. } => None,
        }
    }

    /// An empty owned chunk: free space at the tail of the chain.
    pub(crate) fn is_empty_owned(&self) -> bool {
        matches!(self, Chunk::Owned(c) if c.len() == 0)
    }

    /// Drops `n <= len()` bytes from the front.
    pub(crate) fn advance(&mut self, n: usize) {
        match self {
            Chunk::Owned(c) => c.advance(n),
            Chunk::Shared { start, end, .. } => *start = (*start + n).min(*end),
            Chunk::File { pos, len, .. } => {
                let n = n.min(*len);
                *pos += n as u64;
                *len -= n;
            }
        }
    }

    /// Splits off the first `n < len()` bytes without copying (shared bytes
    /// and file segments only); `None` for owned chunks.
    pub(crate) fn split_front(&mut self, n: usize) -> Option<Chunk> {
        match self {
            Chunk::Owned(_) => None,
            Chunk::Shared { data, start, end } => {
                let mid = (*start + n).min(*end);
                let front = Chunk::Shared {
                    data: data.clone(),
                    start: *start,
                    end: mid,
                };
                *start = mid;
                Some(front)
            }
            Chunk::File { seg, pos, len } => {
                let n = n.min(*len);
                let front = Chunk::File {
                    seg: seg.clone(),
                    pos: *pos,
                    len: n,
                };
                *pos += n as u64;
                *len -= n;
                Some(front)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_chunk_offsets() {
        let mut c = OwnedChunk::with_capacity(8).unwrap();
        assert_eq!((c.len(), c.spare(), c.front_space()), (0, 8, 0));
        assert_eq!(c.push(b"abcdefghij"), 8);
        assert_eq!(c.data(), b"abcdefgh");
        c.advance(6);
        assert_eq!((c.data(), c.front_space(), c.spare()), (&b"gh"[..], 6, 0));
        assert_eq!(c.prepend(b"xyz"), 3);
        assert_eq!(c.data(), b"xyzgh");
        c.realign();
        assert_eq!(
            (c.data(), c.front_space(), c.spare()),
            (&b"xyzgh"[..], 0, 3)
        );
        c.advance(5);
        assert_eq!((c.len(), c.spare()), (0, 8), "an emptied chunk is rewound");
    }

    #[test]
    fn spare_init_zeroes_once() {
        let mut c = OwnedChunk::with_capacity(16).unwrap();
        c.spare_init(4).copy_from_slice(b"abcd");
        // The same space handed out again keeps what was written.
        assert_eq!(c.spare_init(6), b"abcd\0\0");
        c.commit_init(4);
        assert_eq!(c.data(), b"abcd");
        // Committing beyond the initialised part is clamped.
        c.commit_init(100);
        assert_eq!(c.data(), b"abcd\0\0");
    }

    #[test]
    fn prepend_chunk_and_realign_rule() {
        let mut c = OwnedChunk::for_prepend(8, b"xy").unwrap();
        assert_eq!((c.data(), c.front_space(), c.spare()), (&b"xy"[..], 6, 0));
        c.realign_for(4);
        assert_eq!((c.front_space(), c.spare()), (0, 6));
        assert!(OwnedChunk::with_capacity(usize::MAX).is_err());
    }

    #[test]
    fn shared_and_file_chunks_split_without_copy() {
        let mut c = Chunk::shared(Shared::from(&b"abcdef"[..]));
        let front = c.split_front(2).unwrap();
        assert_eq!(front.memory(), Some(&b"ab"[..]));
        assert_eq!(c.memory(), Some(&b"cdef"[..]));
        c.advance(3);
        assert_eq!(c.memory(), Some(&b"f"[..]));
        let mut o = Chunk::Owned(OwnedChunk::with_capacity(4).unwrap());
        assert!(o.split_front(1).is_none());
        assert!(o.is_empty_owned());
    }

    #[test]
    fn buffer_is_send() {
        fn send<T: Send>() {}
        send::<crate::Buffer>();
        send::<Shared>();
        send::<FileSegment>();
    }
}
