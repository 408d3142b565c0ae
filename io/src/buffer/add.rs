//! The write side: add, prepend, add by reference, reserve/commit, and
//! moving chunks between buffers.

use std::fmt;
use std::io;

use super::chunk::{Chunk, OwnedChunk};
use super::error::BufferError;
use super::shared::Shared;
use super::Buffer;

impl Buffer {
    /// Appends a copy of `data` (`evbuffer_add`): fills the free space of the
    /// tail chunk first, then one new chunk of at least
    /// [`chunk_size`](Buffer::chunk_size) bytes for the rest.
    ///
    /// ```
    /// use runtime::io::Buffer;
    ///
    /// let mut buf = Buffer::new();
    /// buf.add(b"abc")?;
    /// buf.add(b"def")?;
    /// assert_eq!(buf.to_vec()?, b"abcdef");
    /// assert_eq!(buf.chunk_count(), 1);
    /// # Ok::<(), runtime::io::BufferError>(())
    /// ```
    pub fn add(&mut self, data: &[u8]) -> Result<(), BufferError> {
        self.add_vectored(&[data])
    }

    /// Appends copies of several slices, as one `add` of their concatenation
    /// (`evbuffer_add_iovec`): at most one new chunk is allocated.
    ///
    /// ```
    /// use runtime::io::Buffer;
    ///
    /// let mut buf = Buffer::new();
    /// buf.add_vectored(&[b"GET ", b"/index.html", b" HTTP/1.1\r\n"])?;
    /// assert_eq!(buf.to_vec()?, b"GET /index.html HTTP/1.1\r\n");
    /// # Ok::<(), runtime::io::BufferError>(())
    /// ```
    pub fn add_vectored(&mut self, parts: &[&[u8]]) -> Result<(), BufferError> {
        self.check_back()?;
        self.append(parts)
    }

    /// `add_vectored` without the freeze check.
    fn append(&mut self, parts: &[&[u8]]) -> Result<(), BufferError> {
        let mut total = 0usize;
        for p in parts {
            total = total.checked_add(p.len()).ok_or(BufferError::TooLarge)?;
        }
        self.check_grow(total)?;
        if total == 0 {
            return Ok(());
        }
        self.reserved = 0;
        let orig = self.len;
        let room = match self.owned_tail() {
            Some(tail) => {
                tail.realign_for(total);
                tail.spare()
            }
            None => 0,
        };
        // Allocate before writing anything, so a failure changes nothing.
        let mut fresh = if total > room {
            Some(OwnedChunk::with_capacity(self.alloc_size(total - room))?)
        } else {
            None
        };
        let mut tail = self.owned_tail();
        for p in parts {
            let mut p: &[u8] = p;
            if let Some(t) = tail.as_deref_mut() {
                let n = t.push(p);
                p = &p[n..];
            }
            if !p.is_empty() {
                if let Some(f) = fresh.as_mut() {
                    f.push(p);
                }
            }
        }
        if let Some(f) = fresh {
            self.pop_empty_tail();
            self.chunks.push_back(Chunk::Owned(f));
        }
        self.len += total;
        self.changed(orig, total, 0);
        Ok(())
    }

    /// Appends `data` by reference, without copying
    /// (`evbuffer_add_reference`). Takes anything that converts into
    /// [`Shared`]: `&'static [u8]`, `&'static str`, `Arc<[u8]>`, or a moved
    /// `Vec<u8>`/`Box<[u8]>`/`String`. See
    /// [`add_reference_with_cleanup`](Buffer::add_reference_with_cleanup)
    /// for a cleanup callback.
    ///
    /// ```
    /// use runtime::io::Buffer;
    /// use std::sync::Arc;
    ///
    /// let page: Arc<[u8]> = Arc::from(&b"<html>...</html>"[..]);
    /// let mut a = Buffer::new();
    /// let mut b = Buffer::new();
    /// a.add_reference(page.clone())?; // both buffers share the bytes
    /// b.add_reference(page.clone())?;
    /// assert_eq!(Arc::strong_count(&page), 3);
    /// # Ok::<(), runtime::io::BufferError>(())
    /// ```
    pub fn add_reference(&mut self, data: impl Into<Shared>) -> Result<(), BufferError> {
        let data = data.into();
        self.check_back()?;
        self.check_grow(data.len())?;
        if data.is_empty() {
            return Ok(());
        }
        self.reserved = 0;
        let orig = self.len;
        let n = data.len();
        self.push_data_chunk(Chunk::shared(data));
        self.len += n;
        self.changed(orig, n, 0);
        Ok(())
    }

    /// [`add_reference`](Buffer::add_reference) with a callback run once,
    /// when the buffer no longer references the bytes (all drained, moved
    /// out and dropped, or the buffer dropped) — immediately if the data is
    /// refused or empty.
    ///
    /// ```
    /// use runtime::io::Buffer;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// static CALLS: AtomicUsize = AtomicUsize::new(0);
    /// let mut buf = Buffer::new();
    /// buf.add_reference_with_cleanup(&b"static data"[..], || {
    ///     CALLS.fetch_add(1, Ordering::SeqCst);
    /// })?;
    /// drop(buf);
    /// assert_eq!(CALLS.load(Ordering::SeqCst), 1);
    /// # Ok::<(), runtime::io::BufferError>(())
    /// ```
    pub fn add_reference_with_cleanup(
        &mut self,
        data: impl Into<Shared>,
        cleanup: impl FnOnce() + Send + 'static,
    ) -> Result<(), BufferError> {
        self.add_reference(data.into().with_cleanup(cleanup))
    }

    /// Inserts a copy of `data` at the front (`evbuffer_prepend`), using the
    /// free space before the first chunk's data when there is some.
    ///
    /// ```
    /// use runtime::io::Buffer;
    ///
    /// let mut buf = Buffer::new();
    /// buf.add(b"world")?;
    /// buf.prepend(b"hello ")?;
    /// assert_eq!(buf.to_vec()?, b"hello world");
    /// # Ok::<(), runtime::io::BufferError>(())
    /// ```
    pub fn prepend(&mut self, data: &[u8]) -> Result<(), BufferError> {
        self.check_front()?;
        self.check_grow(data.len())?;
        if data.is_empty() {
            return Ok(());
        }
        if self.len == 0 {
            // Same as an append (only the front freeze applies, though).
            return self.append(&[data]);
        }
        self.reserved = 0;
        let orig = self.len;
        let room = match self.chunks.front() {
            Some(Chunk::Owned(c)) => c.front_space(),
            _ => 0,
        };
        let rest = data.len().saturating_sub(room);
        let fresh = if rest > 0 {
            let cap = self.alloc_size(rest);
            Some(OwnedChunk::for_prepend(cap, &data[..rest])?)
        } else {
            None
        };
        if let Some(Chunk::Owned(c)) = self.chunks.front_mut() {
            c.prepend(&data[rest..]);
        }
        if let Some(f) = fresh {
            self.chunks.push_front(Chunk::Owned(f));
        }
        self.len += data.len();
        self.changed(orig, data.len(), 0);
        Ok(())
    }

    /// Moves all of `other`'s chunks to the end of this buffer, without
    /// copying (`evbuffer_add_buffer`); `other` is left empty.
    ///
    /// ```
    /// use runtime::io::Buffer;
    ///
    /// let mut out = Buffer::new();
    /// let mut body = Buffer::new();
    /// out.add(b"header\n")?;
    /// body.add(b"body\n")?;
    /// out.add_buffer(&mut body)?;
    /// assert!(body.is_empty());
    /// assert_eq!(out.to_vec()?, b"header\nbody\n");
    /// # Ok::<(), runtime::io::BufferError>(())
    /// ```
    pub fn add_buffer(&mut self, other: &mut Buffer) -> Result<(), BufferError> {
        self.check_back()?;
        other.check_front()?;
        let n = other.len;
        self.check_grow(n)?;
        if n == 0 {
            return Ok(());
        }
        self.reserved = 0;
        other.reserved = 0;
        let (orig, other_orig) = (self.len, other.len);
        self.pop_empty_tail();
        if self.chunks.is_empty() {
            std::mem::swap(&mut self.chunks, &mut other.chunks);
        } else {
            self.chunks.append(&mut other.chunks);
        }
        self.len += n;
        other.len = 0;
        self.record(n, 0);
        other.record(0, n);
        self.notify(orig, n, 0);
        other.notify(other_orig, 0, n);
        Ok(())
    }

    /// Moves all of `other`'s chunks to the front of this buffer, without
    /// copying (`evbuffer_prepend_buffer`); `other` is left empty.
    ///
    /// ```
    /// use runtime::io::Buffer;
    ///
    /// let mut body = Buffer::new();
    /// let mut head = Buffer::new();
    /// body.add(b"body")?;
    /// head.add(b"head:")?;
    /// body.prepend_buffer(&mut head)?;
    /// assert_eq!(body.to_vec()?, b"head:body");
    /// # Ok::<(), runtime::io::BufferError>(())
    /// ```
    pub fn prepend_buffer(&mut self, other: &mut Buffer) -> Result<(), BufferError> {
        self.check_front()?;
        other.check_front()?;
        let n = other.len;
        self.check_grow(n)?;
        if n == 0 {
            return Ok(());
        }
        self.reserved = 0;
        other.reserved = 0;
        let (orig, other_orig) = (self.len, other.len);
        other.pop_empty_tail();
        while let Some(c) = other.chunks.pop_back() {
            self.chunks.push_front(c);
        }
        self.len += n;
        other.len = 0;
        self.record(n, 0);
        other.record(0, n);
        self.notify(orig, n, 0);
        other.notify(other_orig, 0, n);
        Ok(())
    }

    /// Moves up to `n` bytes from the front of this buffer to the end of
    /// `dst` (`evbuffer_remove_buffer`); returns how many were moved. Whole
    /// chunks are moved without copying; a chunk split by the boundary is
    /// split by offset when it is shared or a file segment, and its part is
    /// copied when it is owned memory.
    ///
    /// ```
    /// use runtime::io::Buffer;
    ///
    /// let mut src = Buffer::new();
    /// let mut dst = Buffer::new();
    /// src.add(b"line one\nline two\n")?;
    /// assert_eq!(src.remove_buffer(&mut dst, 9)?, 9);
    /// assert_eq!(dst.to_vec()?, b"line one\n");
    /// assert_eq!(src.to_vec()?, b"line two\n");
    /// # Ok::<(), runtime::io::BufferError>(())
    /// ```
    pub fn remove_buffer(&mut self, dst: &mut Buffer, n: usize) -> Result<usize, BufferError> {
        self.check_front()?;
        dst.check_back()?;
        let n = n.min(self.len);
        dst.check_grow(n)?;
        if n == 0 {
            return Ok(0);
        }
        // Plan: `whole` chunks move as they are, then `part` bytes of the
        // next chunk.
        let mut whole = 0;
        let mut rem = n;
        for c in &self.chunks {
            let l = c.len();
            if l > rem || rem == 0 {
                break;
            }
            rem -= l;
            whole += 1;
        }
        let part = rem;
        let copy_part = part > 0 && matches!(self.chunks.get(whole), Some(Chunk::Owned(_)));
        // Where the copied part will land once the whole chunks are moved.
        let room = if dst.chunks.back().is_some_and(Chunk::is_empty_owned) || whole == 0 {
            match dst.chunks.back() {
                Some(Chunk::Owned(c)) => c.spare(),
                _ => 0,
            }
        } else {
            match self.chunks.get(whole - 1) {
                Some(Chunk::Owned(c)) => c.spare(),
                _ => 0,
            }
        };
        // Allocate before moving anything, so a failure changes nothing.
        let mut fresh = if copy_part && part > room {
            Some(OwnedChunk::with_capacity(dst.alloc_size(part))?)
        } else {
            None
        };
        self.reserved = 0;
        dst.reserved = 0;
        let (orig, dst_orig) = (self.len, dst.len);
        for _ in 0..whole {
            if let Some(c) = self.chunks.pop_front() {
                dst.push_data_chunk(c);
            }
        }
        if part > 0 {
            if let Some(front) = self.chunks.front_mut() {
                if let Some(piece) = front.split_front(part) {
                    dst.push_data_chunk(piece);
                } else {
                    if let Some(bytes) = front.memory().and_then(|b| b.get(..part)) {
                        match fresh.as_mut() {
                            Some(f) => {
                                f.push(bytes);
                            }
                            None => {
                                if let Some(t) = dst.owned_tail() {
                                    t.push(bytes);
                                }
                            }
                        }
                    }
                    front.advance(part);
                }
            }
            if let Some(f) = fresh {
                dst.push_data_chunk(Chunk::Owned(f));
            }
        }
        self.len -= n;
        dst.len += n;
        dst.record(n, 0);
        self.record(0, n);
        dst.notify(dst_orig, n, 0);
        self.notify(orig, 0, n);
        Ok(n)
    }

    /// Hands out `n` bytes of writable space at the end of the buffer
    /// (`evbuffer_reserve_space`), in one contiguous slice, for example to
    /// `read` into; [`commit`](Buffer::commit) then makes the first bytes of
    /// it part of the buffer, with no extra copy. Space is zeroed the first
    /// time it is handed out. Reserving again without committing hands out
    /// the same space; any other change to the buffer cancels the
    /// reservation.
    ///
    /// Fails with [`BufferError::TooLarge`] when `len() + n` would exceed
    /// [`max_size`](Buffer::max_size) or the allocation fails, and with
    /// [`BufferError::Frozen`] when the back is frozen.
    ///
    /// ```
    /// use runtime::io::Buffer;
    /// use std::io::Read;
    ///
    /// let mut buf = Buffer::new();
    /// let space = buf.reserve(64)?;
    /// let n = (&b"from a reader"[..]).read(space).unwrap();
    /// buf.commit(n)?;
    /// assert_eq!(buf.to_vec()?, b"from a reader");
    /// # Ok::<(), runtime::io::BufferError>(())
    /// ```
    pub fn reserve(&mut self, n: usize) -> Result<&mut [u8], BufferError> {
        self.check_back()?;
        self.check_grow(n)?;
        let room = match self.owned_tail() {
            Some(tail) => {
                tail.realign_for(n);
                tail.spare()
            }
            None => 0,
        };
        if room < n {
            let fresh = OwnedChunk::with_capacity(self.alloc_size(n))?;
            self.pop_empty_tail();
            self.chunks.push_back(Chunk::Owned(fresh));
        }
        self.reserved = n;
        match self.owned_tail() {
            Some(tail) => Ok(tail.spare_init(n)),
            None => Ok(&mut []),
        }
    }

    /// Like [`reserve`](Buffer::reserve), but settles for less: hands out
    /// the tail chunk's free space (up to `max` bytes) when it has at least
    /// `min` bytes (clamped to `1..=max`), and only otherwise a new chunk of
    /// `max` bytes. For reads into the buffer: a partly filled tail is used
    /// up instead of allocating a fresh chunk for every read, the way
    /// [`read_from`](Buffer::read_from) does. [`commit`](Buffer::commit)
    /// as usual. `max == 0` hands out an empty slice.
    ///
    /// ```
    /// use runtime::io::Buffer;
    ///
    /// let mut buf = Buffer::with_chunk_size(64);
    /// buf.add(b"0123456789")?;
    /// // The tail chunk has 54 free bytes: enough, no new chunk.
    /// assert_eq!(buf.reserve_some(1000, 32)?.len(), 54);
    /// buf.commit(4)?;
    /// assert_eq!(buf.chunk_count(), 1);
    /// // 50 left, fewer than wanted: a new chunk of 1000 bytes.
    /// assert_eq!(buf.reserve_some(1000, 51)?.len(), 1000);
    /// # Ok::<(), runtime::io::BufferError>(())
    /// ```
    pub fn reserve_some(&mut self, max: usize, min: usize) -> Result<&mut [u8], BufferError> {
        self.check_back()?;
        if max == 0 {
            self.reserved = 0;
            return Ok(&mut []);
        }
        let min = min.clamp(1, max);
        let room = match self.owned_tail() {
            Some(tail) => {
                tail.realign_for(max);
                tail.spare()
            }
            None => 0,
        };
        if room < min {
            return self.reserve(max);
        }
        let n = room.min(max);
        self.check_grow(n)?;
        self.reserved = n;
        match self.owned_tail() {
            Some(tail) => Ok(tail.spare_init(n)),
            None => Ok(&mut []),
        }
    }

    /// Appends the first `n` bytes of the space handed out by the last
    /// [`reserve`](Buffer::reserve) (`evbuffer_commit_space`). Committing
    /// less than was reserved is fine; more (or after the reservation was
    /// cancelled by another change) fails with
    /// [`BufferError::InvalidCommit`], and so does a second commit.
    ///
    /// ```
    /// use runtime::io::{Buffer, BufferError};
    ///
    /// let mut buf = Buffer::new();
    /// buf.reserve(4)?.copy_from_slice(b"abcd");
    /// assert!(matches!(buf.commit(5), Err(BufferError::InvalidCommit)));
    /// buf.commit(3)?;
    /// assert_eq!(buf.to_vec()?, b"abc");
    /// # Ok::<(), runtime::io::BufferError>(())
    /// ```
    pub fn commit(&mut self, n: usize) -> Result<(), BufferError> {
        self.check_back()?;
        if n > self.reserved {
            return Err(BufferError::InvalidCommit);
        }
        self.reserved = 0;
        if n == 0 {
            return Ok(());
        }
        let orig = self.len;
        match self.owned_tail() {
            Some(tail) => tail.commit_init(n),
            None => return Err(BufferError::InvalidCommit),
        }
        self.len += n;
        self.changed(orig, n, 0);
        Ok(())
    }
}

/// `write!(buf, ...)` appends formatted text (`evbuffer_add_printf`); a
/// refused append (frozen, too large) is a [`fmt::Error`].
///
/// ```
/// use runtime::io::Buffer;
/// use std::fmt::Write;
///
/// let mut buf = Buffer::new();
/// write!(buf, "{} + {} = {}", 1, 2, 1 + 2).unwrap();
/// assert_eq!(buf.to_vec()?, b"1 + 2 = 3");
/// # Ok::<(), runtime::io::BufferError>(())
/// ```
impl fmt::Write for Buffer {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.add(s.as_bytes()).map_err(|_| fmt::Error)
    }
}

/// Appends, like [`Buffer::add`]; a refusal is an `io::Error` wrapping the
/// [`BufferError`].
///
/// ```
/// use runtime::io::Buffer;
/// use std::io::Write;
///
/// let mut buf = Buffer::new();
/// write!(buf, "status {}\r\n", 200)?;
/// buf.write_all(b"body")?;
/// assert_eq!(buf.to_vec()?, b"status 200\r\nbody");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl io::Write for Buffer {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.add(data)?;
        Ok(data.len())
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let parts: Vec<&[u8]> = bufs.iter().map(|b| &**b).collect();
        self.add_vectored(&parts)?;
        Ok(parts.iter().map(|p| p.len()).sum())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
