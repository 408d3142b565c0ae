//! The read side: drain, remove, copyout, peek, pullup.

use std::collections::{vec_deque, VecDeque};
use std::io::{self, IoSlice};
use std::ops::ControlFlow;
use std::panic::{self, AssertUnwindSafe};

use super::chunk::{Chunk, OwnedChunk};
use super::error::BufferError;
use super::file::FileSegment;
use super::Buffer;

/// Size of the scratch blocks file segments are read in when searched.
const FILE_BLOCK: usize = 64 * 1024;

/// One chunk of a buffer, as seen by [`Buffer::segments`].
#[derive(Debug, Clone, Copy)]
pub enum Segment<'a> {
    /// Bytes in memory (owned or shared).
    Memory(&'a [u8]),
    /// A range of a file segment, not read into memory.
    File {
        /// The segment.
        segment: &'a FileSegment,
        /// Absolute offset in the file.
        offset: u64,
        /// Number of bytes.
        len: usize,
    },
}

/// Iterator over the in-memory chunks at the front of a buffer; see
/// [`Buffer::peek`].
#[derive(Debug)]
pub struct Peek<'a> {
    chunks: vec_deque::Iter<'a, Chunk>,
    remaining: usize,
}

impl<'a> Iterator for Peek<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        while self.remaining > 0 {
            let bytes = self.chunks.next()?.memory()?;
            if bytes.is_empty() {
                continue;
            }
            let n = bytes.len().min(self.remaining);
            self.remaining -= n;
            return Some(&bytes[..n]);
        }
        None
    }
}

impl Buffer {
    /// Removes the first `n` bytes (all of them if `n >= len()`) without
    /// copying them anywhere (`evbuffer_drain`); returns how many were
    /// removed.
    ///
    /// ```
    /// use runtime::io::Buffer;
    ///
    /// let mut buf = Buffer::new();
    /// buf.add(b"abcdef")?;
    /// assert_eq!(buf.drain(2)?, 2);
    /// assert_eq!(buf.to_vec()?, b"cdef");
    /// assert_eq!(buf.drain(100)?, 4);
    /// assert!(buf.is_empty());
    /// # Ok::<(), runtime::io::BufferError>(())
    /// ```
    pub fn drain(&mut self, n: usize) -> Result<usize, BufferError> {
        self.check_front()?;
        let n = n.min(self.len);
        if n == 0 {
            return Ok(0);
        }
        self.drain_unchecked(n);
        Ok(n)
    }

    /// Drains `n <= len` bytes and notifies.
    ///
    /// Panic-safe: the length and counters are updated before the spent
    /// chunks are dropped (which may run a user's cleanup callback, which
    /// may panic); the change callbacks run even then, and the cleanup's
    /// panic is resumed after them. Whatever panics, the buffer is left
    /// consistent with the `n` bytes gone.
    pub(crate) fn drain_unchecked(&mut self, n: usize) {
        let orig = self.len;
        let n = n.min(self.len);
        let keep = self.keep_limit();
        let spent = spend_front(&mut self.chunks, 0, n, keep);
        self.len -= n;
        self.record(0, n);
        if spent > 0 {
            self.release_and_notify(spent, orig, n);
        } else {
            self.notify(orig, 0, n);
        }
    }

    /// The end of [`drain_unchecked`](Buffer::drain_unchecked) when whole
    /// chunks were spent: drops them, then notifies even if a cleanup
    /// callback panicked, then resumes that panic.
    #[inline(never)]
    fn release_and_notify(&mut self, spent: usize, orig: usize, n: usize) {
        let released = panic::catch_unwind(AssertUnwindSafe(|| self.release(0, spent)));
        self.notify(orig, 0, n);
        if let Err(cleanup_panic) = released {
            panic::resume_unwind(cleanup_panic);
        }
    }

    /// Removes the `count` spent chunks starting at index `at` (see
    /// [`spend_front`]). Dropping them may run users' cleanup callbacks;
    /// if one panics, the chain is still whole (the deque's `drain`
    /// finishes dropping the others and closes the gap while unwinding),
    /// so callers update everything else first.
    fn release(&mut self, at: usize, count: usize) {
        if count > 0 {
            self.chunks.drain(at..at + count);
        }
    }

    /// Moves the first bytes into `out` (`evbuffer_remove`): as many as fit
    /// and are there; returns how many.
    ///
    /// ```
    /// use runtime::io::Buffer;
    ///
    /// let mut buf = Buffer::new();
    /// buf.add(b"abcdef")?;
    /// let mut out = [0u8; 4];
    /// assert_eq!(buf.remove(&mut out)?, 4);
    /// assert_eq!(&out, b"abcd");
    /// assert_eq!(buf.remove(&mut out)?, 2);
    /// assert_eq!(&out[..2], b"ef");
    /// # Ok::<(), runtime::io::BufferError>(())
    /// ```
    pub fn remove(&mut self, out: &mut [u8]) -> Result<usize, BufferError> {
        self.check_front()?;
        let n = self.copyout_from(0, out)?;
        if n > 0 {
            self.drain_unchecked(n);
        }
        Ok(n)
    }

    /// Copies the first bytes into `out` without removing them
    /// (`evbuffer_copyout`); returns how many.
    pub fn copyout(&self, out: &mut [u8]) -> Result<usize, BufferError> {
        self.copyout_from(0, out)
    }

    /// Copies bytes starting at `pos` into `out` without removing them
    /// (`evbuffer_copyout_from`); returns how many (fewer than `out.len()`
    /// when the buffer ends first). `pos > len()` is
    /// [`BufferError::OutOfRange`]; bytes of file segments are read with
    /// `pread`.
    ///
    /// ```
    /// use runtime::io::Buffer;
    ///
    /// let mut buf = Buffer::with_chunk_size(2);
    /// buf.add(b"ab")?;
    /// buf.add(b"cd")?;
    /// buf.add(b"ef")?;
    /// let mut out = [0u8; 3];
    /// assert_eq!(buf.copyout_from(1, &mut out)?, 3);
    /// assert_eq!(&out, b"bcd");
    /// assert_eq!(buf.len(), 6);
    /// # Ok::<(), runtime::io::BufferError>(())
    /// ```
    pub fn copyout_from(&self, pos: usize, out: &mut [u8]) -> Result<usize, BufferError> {
        copy_chunks(&self.chunks, pos, self.len, out)
    }

    /// A copy of the whole content (file segments read with `pread`).
    ///
    /// ```
    /// use runtime::io::Buffer;
    ///
    /// let mut buf = Buffer::new();
    /// buf.add(b"abc")?;
    /// assert_eq!(buf.to_vec()?, b"abc");
    /// # Ok::<(), runtime::io::BufferError>(())
    /// ```
    pub fn to_vec(&self) -> Result<Vec<u8>, BufferError> {
        self.copy_range_to_vec(0, self.len)
    }

    /// A copy of bytes `start..end` (`end <= len`).
    pub(crate) fn copy_range_to_vec(
        &self,
        start: usize,
        end: usize,
    ) -> Result<Vec<u8>, BufferError> {
        let mut v = Vec::new();
        v.try_reserve_exact(end.saturating_sub(start))
            .map_err(|_| BufferError::TooLarge)?;
        self.copy_range_into(start, end, &mut v)?;
        Ok(v)
    }

    /// Appends a copy of bytes `start..end` (`end <= len`) to `out`,
    /// reusing its capacity. On error `out` is left as it was.
    pub(crate) fn copy_range_into(
        &self,
        start: usize,
        end: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), BufferError> {
        let orig = out.len();
        out.try_reserve(end.saturating_sub(start))
            .map_err(|_| BufferError::TooLarge)?;
        let r = self.for_each_block(start, end, |_, bytes| {
            out.extend_from_slice(bytes);
            Ok(ControlFlow::<()>::Continue(()))
        });
        if let Err(e) = r {
            out.truncate(orig);
            return Err(e);
        }
        Ok(())
    }

    /// The in-memory chunks covering the first `n` bytes (all of them with
    /// `usize::MAX`), without copying (`evbuffer_peek`). Stops early at a
    /// file segment; see [`segments`](Buffer::segments) to see those too.
    ///
    /// ```
    /// use runtime::io::Buffer;
    ///
    /// let mut buf = Buffer::new();
    /// buf.add(b"abc")?;
    /// buf.add_reference(&b"defgh"[..])?;
    /// let parts: Vec<&[u8]> = buf.peek(5).collect();
    /// assert_eq!(parts, [&b"abc"[..], &b"de"[..]]);
    /// # Ok::<(), runtime::io::BufferError>(())
    /// ```
    pub fn peek(&self, n: usize) -> Peek<'_> {
        Peek {
            chunks: self.chunks.iter(),
            remaining: n,
        }
    }

    /// Every chunk holding data, in order, file segments included.
    ///
    /// ```
    /// use runtime::io::{Buffer, Segment};
    ///
    /// let mut buf = Buffer::new();
    /// buf.add(b"abc")?;
    /// assert!(matches!(buf.segments().next(), Some(Segment::Memory(b"abc"))));
    /// # Ok::<(), runtime::io::BufferError>(())
    /// ```
    pub fn segments(&self) -> impl Iterator<Item = Segment<'_>> + '_ {
        self.chunks.iter().filter(|c| c.len() > 0).map(|c| match c {
            Chunk::File { seg, pos, len } => Segment::File {
                segment: seg,
                offset: *pos,
                len: *len,
            },
            other => Segment::Memory(other.memory().unwrap_or_default()),
        })
    }

    /// Up to `max` in-memory chunks at the front, as `IoSlice`s for
    /// `write_vectored`/`writev` (stops at a file segment).
    ///
    /// ```
    /// use runtime::io::Buffer;
    /// use std::io::Write;
    ///
    /// let mut buf = Buffer::new();
    /// buf.add(b"abc")?;
    /// buf.add_reference(&b"def"[..])?;
    /// let mut out = Vec::new();
    /// let n = out.write_vectored(&buf.io_slices(16)).unwrap();
    /// buf.drain(n)?;
    /// assert_eq!(out, b"abcdef");
    /// # Ok::<(), runtime::io::BufferError>(())
    /// ```
    pub fn io_slices(&self, max: usize) -> Vec<IoSlice<'_>> {
        self.peek(usize::MAX).take(max).map(IoSlice::new).collect()
    }

    /// Fills `dst` with the in-memory chunks at the front, without
    /// allocating; returns how many entries were filled (like
    /// `bytes::Buf::chunks_vectored`).
    pub fn fill_io_slices<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        for (slot, bytes) in dst.iter_mut().zip(self.peek(usize::MAX)) {
            *slot = IoSlice::new(bytes);
            n += 1;
        }
        n
    }

    /// Makes the first `n` bytes contiguous and returns them
    /// (`evbuffer_pullup`); copies only when they span chunks (into the first
    /// chunk's free space when it has room, otherwise into one new chunk).
    /// `n > len()` is [`BufferError::OutOfRange`].
    ///
    /// ```
    /// use runtime::io::Buffer;
    ///
    /// let mut buf = Buffer::with_chunk_size(4);
    /// buf.add(b"abcd")?;
    /// buf.add(b"efgh")?;
    /// assert_eq!(buf.chunk_count(), 2);
    /// assert_eq!(buf.pullup(6)?, b"abcdef");
    /// assert_eq!(buf.to_vec()?, b"abcdefgh");
    /// # Ok::<(), runtime::io::BufferError>(())
    /// ```
    pub fn pullup(&mut self, n: usize) -> Result<&[u8], BufferError> {
        if n > self.len {
            return Err(BufferError::OutOfRange);
        }
        if n == 0 {
            return Ok(&[]);
        }
        let first_len = self.chunks.front().map_or(0, Chunk::len);
        let contiguous = matches!(self.chunks.front(), Some(c) if c.memory().is_some());
        if !(contiguous && first_len >= n) {
            self.reserved = 0;
            self.gather_front(n)?;
        }
        self.check_invariants();
        match self.chunks.front().and_then(Chunk::memory) {
            Some(bytes) => bytes.get(..n).ok_or(BufferError::OutOfRange),
            None => Err(BufferError::OutOfRange),
        }
    }

    /// Rearranges the chain so its first chunk is owned memory holding at
    /// least the first `n <= len` bytes. On error nothing has changed.
    ///
    /// Panic-safe: the chunks whose bytes were gathered are dropped last
    /// (their cleanup callbacks may panic), when the chain already holds
    /// the gathered chunk and the rest.
    fn gather_front(&mut self, n: usize) -> Result<(), BufferError> {
        let keep = self.keep_limit();
        let front_fits = matches!(
            self.chunks.front(),
            Some(Chunk::Owned(c)) if c.capacity() >= n
        );
        let spent = if front_fits {
            let Some(Chunk::Owned(mut first)) = self.chunks.pop_front() else {
                return Err(BufferError::OutOfRange);
            };
            if first.spare() < n - first.len() {
                first.realign();
            }
            let have = first.len();
            let want = n - have;
            let dst = first.spare_init(want);
            let rest_len = self.len - have;
            let copied = copy_chunks(&self.chunks, 0, rest_len, dst);
            let complete = matches!(copied, Ok(got) if got == want);
            if complete {
                first.commit_init(want);
            }
            self.chunks.push_front(Chunk::Owned(first));
            if !complete {
                return Err(copied.err().unwrap_or(BufferError::OutOfRange));
            }
            spend_front(&mut self.chunks, 1, want, keep)
        } else {
            let mut fresh = OwnedChunk::with_capacity(n)?;
            let dst = fresh.spare_init(n);
            if copy_chunks(&self.chunks, 0, self.len, dst)? != n {
                return Err(BufferError::OutOfRange);
            }
            fresh.commit_init(n);
            let spent = spend_front(&mut self.chunks, 0, n, keep);
            // The fresh chunk goes in front of the spent ones.
            self.chunks.push_front(Chunk::Owned(fresh));
            spent
        };
        self.release(1, spent);
        Ok(())
    }

    /// Calls `f(position, bytes)` for the bytes `start..end` (clamped to the
    /// buffer) block by block: in-memory chunks directly, file segments
    /// read with `pread` into a scratch block. Stops when `f` breaks and
    /// returns the break value.
    pub(crate) fn for_each_block<R>(
        &self,
        start: usize,
        end: usize,
        mut f: impl FnMut(usize, &[u8]) -> Result<ControlFlow<R>, BufferError>,
    ) -> Result<Option<R>, BufferError> {
        let end = end.min(self.len);
        if start >= end {
            return Ok(None);
        }
        let mut scratch: Vec<u8> = Vec::new();
        let mut pos = 0usize;
        for c in &self.chunks {
            if pos >= end {
                break;
            }
            let l = c.len();
            let c_end = pos + l;
            if c_end <= start {
                pos = c_end;
                continue;
            }
            let from = start.saturating_sub(pos);
            let to = l.min(end - pos);
            match c {
                Chunk::File { seg, pos: fpos, .. } => {
                    let mut off = from;
                    while off < to {
                        let take = (to - off).min(FILE_BLOCK);
                        scratch.resize(take, 0);
                        seg.read_exact_at(fpos + off as u64, &mut scratch)?;
                        if let ControlFlow::Break(r) = f(pos + off, &scratch)? {
                            return Ok(Some(r));
                        }
                        off += take;
                    }
                }
                other => {
                    let bytes = other.memory().unwrap_or_default();
                    if let Some(part) = bytes.get(from..to) {
                        if let ControlFlow::Break(r) = f(pos + from, part)? {
                            return Ok(Some(r));
                        }
                    }
                }
            }
            pos = c_end;
        }
        Ok(None)
    }

    /// The byte at `pos`, if there is one.
    pub(crate) fn byte_at(&self, pos: usize) -> Result<Option<u8>, BufferError> {
        let mut b = [0u8; 1];
        if pos >= self.len {
            return Ok(None);
        }
        Ok((self.copyout_from(pos, &mut b)? == 1).then_some(b[0]))
    }
}

/// Copies bytes from `pos` of a chain holding `len` bytes into `out`.
fn copy_chunks(
    chunks: &VecDeque<Chunk>,
    pos: usize,
    len: usize,
    out: &mut [u8],
) -> Result<usize, BufferError> {
    if pos > len {
        return Err(BufferError::OutOfRange);
    }
    let want = out.len().min(len - pos);
    let mut done = 0;
    let mut at = 0usize;
    for c in chunks {
        if done == want {
            break;
        }
        let l = c.len();
        if at + l <= pos + done {
            at += l;
            continue;
        }
        let from = pos + done - at;
        let take = (l - from).min(want - done);
        let dst = &mut out[done..done + take];
        match c {
            Chunk::File { seg, pos: fpos, .. } => seg.read_exact_at(fpos + from as u64, dst)?,
            other => {
                let bytes = other.memory().unwrap_or_default();
                dst.copy_from_slice(&bytes[from..from + take]);
            }
        }
        done += take;
        at += l;
    }
    Ok(done)
}

/// Takes `n` bytes off the front of the chunks `at..` of a chain (which
/// must hold them) without dropping any chunk: a partly used chunk is
/// advanced in place, and an emptied last owned chunk no larger than
/// `keep` is rewound and kept for reuse. Returns how many chunks from
/// `at` on are spent: the caller removes them with [`Buffer::release`]
/// once its own state is up to date, because dropping a chunk may run a
/// user's cleanup callback, which may panic.
fn spend_front(chunks: &mut VecDeque<Chunk>, at: usize, n: usize, keep: usize) -> usize {
    let mut rem = n;
    let mut spent = 0;
    while rem > 0 {
        let i = at + spent;
        let last = i + 1 == chunks.len();
        let Some(c) = chunks.get_mut(i) else {
            break;
        };
        let l = c.len();
        if l > rem {
            c.advance(rem);
            break;
        }
        rem -= l;
        if last && matches!(c, Chunk::Owned(o) if o.capacity() <= keep) {
            c.advance(l);
            break;
        }
        spent += 1;
    }
    spent
}

/// Reads remove bytes from the front, like [`Buffer::remove`].
///
/// ```
/// use runtime::io::Buffer;
/// use std::io::Read;
///
/// let mut buf = Buffer::new();
/// buf.add(b"abc")?;
/// let mut s = String::new();
/// buf.read_to_string(&mut s)?;
/// assert_eq!(s, "abc");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl io::Read for Buffer {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        Ok(self.remove(out)?)
    }
}

/// `fill_buf` returns the first chunk (a file segment's first block is read
/// into memory first); `consume` drains.
///
/// ```
/// use runtime::io::Buffer;
/// use std::io::BufRead;
///
/// let mut buf = Buffer::with_chunk_size(3);
/// buf.add(b"ab")?;
/// buf.add(b"c\nd")?;
/// let mut line = String::new();
/// buf.read_line(&mut line)?;
/// assert_eq!(line, "abc\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl io::BufRead for Buffer {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.check_front()?;
        let first = match self.chunks.front() {
            None => return Ok(&[]),
            Some(c) if c.memory().is_some() => c.len(),
            Some(c) => c.len().min(FILE_BLOCK),
        };
        Ok(self.pullup(first)?)
    }

    /// Drains `amt` bytes. The front freeze was checked by `fill_buf`.
    fn consume(&mut self, amt: usize) {
        self.drain_unchecked(amt.min(self.len));
    }
}
