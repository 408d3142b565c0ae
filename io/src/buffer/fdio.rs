//! Descriptor I/O: one `writev` over many chunks, `sendfile` for file
//! segments, `readv` straight into free space (`evbuffer_write`,
//! `evbuffer_read`).

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};

use super::chunk::{Chunk, OwnedChunk};
use super::error::BufferError;
use super::Buffer;

/// Most iovecs passed to one `writev` (Linux's `IOV_MAX`).
pub(crate) const IOV_MAX: usize = 1024;

/// Most bytes one `sendfile` call moves (Linux caps it there anyway).
const SENDFILE_MAX: usize = 0x7fff_f000;

/// Scratch size for the `pread` + `write` fallback.
const FALLBACK_BLOCK: usize = 64 * 1024;

/// iovecs kept on the stack; more chunks spill to the heap.
const STACK_IOVECS: usize = 64;

const EMPTY_IOVEC: libc::iovec = libc::iovec {
    iov_base: std::ptr::null_mut(),
    iov_len: 0,
};

impl Buffer {
    /// Writes from the front of the buffer to `fd` with one system call and
    /// drains what was written (`evbuffer_write`); returns the byte count.
    ///
    /// In-memory chunks go out with one `writev` over up to 1024 of them
    /// (`IOV_MAX`), stopping before a file segment. A file segment at the
    /// front goes out with `sendfile(2)`, or — when sendfile is disabled
    /// ([`set_sendfile`](Buffer::set_sendfile),
    /// [`FileSegment::set_sendfile`](super::FileSegment::set_sendfile)) or
    /// refused by the kernel for that file — with `pread` + `write`.
    /// `EINTR` is retried; `WouldBlock` and other errors are returned with
    /// the buffer unchanged. A frozen front is a `PermissionDenied` error.
    ///
    /// Writing to a socket whose peer is gone raises `SIGPIPE`, which Rust
    /// programs ignore by default.
    ///
    /// ```
    /// use runtime::io::Buffer;
    /// use std::io::Read;
    /// use std::os::unix::net::UnixStream;
    ///
    /// let (a, mut b) = UnixStream::pair()?;
    /// let mut buf = Buffer::new();
    /// buf.add(b"hello ")?;
    /// buf.add_reference(&b"world"[..])?;
    /// assert_eq!(buf.write_to(&a)?, 11); // one writev, two chunks
    /// let mut got = [0u8; 11];
    /// b.read_exact(&mut got)?;
    /// assert_eq!(&got, b"hello world");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_to(&mut self, fd: impl AsFd) -> io::Result<usize> {
        self.write_atmost(fd, usize::MAX)
    }

    /// [`write_to`](Buffer::write_to) writing at most `max` bytes
    /// (`evbuffer_write_atmost`).
    pub fn write_atmost(&mut self, fd: impl AsFd, max: usize) -> io::Result<usize> {
        self.check_front()?;
        let max = max.min(self.len);
        if max == 0 {
            return Ok(0);
        }
        let fd = fd.as_fd().as_raw_fd();
        let n = match self.chunks.front() {
            Some(Chunk::File { seg, pos, len }) => {
                let count = (*len).min(max);
                let mut sent = None;
                if self.sendfile && seg.sendfile_enabled() {
                    match sendfile(fd, seg.fd().as_raw_fd(), *pos, count.min(SENDFILE_MAX)) {
                        Ok(n) => sent = Some(n),
                        Err(e) if sendfile_unsupported(&e) => seg.set_sendfile(false),
                        Err(e) => return Err(e),
                    }
                }
                match sent {
                    Some(n) => n,
                    None => {
                        let mut scratch = vec![0u8; count.min(FALLBACK_BLOCK)];
                        seg.read_exact_at(*pos, &mut scratch)?;
                        write_fd(fd, &scratch)?
                    }
                }
            }
            _ => self.writev(fd, max)?,
        };
        self.drain_unchecked(n);
        Ok(n)
    }

    /// One `writev` of the in-memory chunks at the front, up to `max` bytes.
    fn writev(&self, fd: RawFd, max: usize) -> io::Result<usize> {
        let count = self.chunks.len().min(IOV_MAX);
        let mut stack = [EMPTY_IOVEC; STACK_IOVECS];
        let mut heap;
        let iov: &mut [libc::iovec] = if count <= STACK_IOVECS {
            &mut stack[..]
        } else {
            heap = vec![EMPTY_IOVEC; count];
            &mut heap[..]
        };
        let mut used = 0;
        let mut total = 0usize;
        for bytes in self.peek(max) {
            if used == iov.len() {
                break;
            }
            iov[used] = libc::iovec {
                iov_base: bytes.as_ptr() as *mut libc::c_void,
                iov_len: bytes.len(),
            };
            used += 1;
            total += bytes.len();
        }
        if total == 0 {
            return Ok(0);
        }
        loop {
            // SAFETY: the first `used` iovecs describe live slices borrowed
            // from `self` for this call; writev only reads them.
            let r = unsafe { libc::writev(fd, iov.as_ptr(), used as libc::c_int) };
            if r >= 0 {
                return Ok(r as usize);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    /// Allows or forbids `sendfile(2)` for this buffer's file segments
    /// (on by default); when forbidden they are written with `pread` +
    /// `write`.
    pub fn set_sendfile(&mut self, enabled: bool) {
        self.sendfile = enabled;
    }

    /// Reads up to `max` bytes from `fd` straight into the buffer's free
    /// space with one `readv` (`evbuffer_read`): the tail chunk's free space
    /// plus, when that is less than half of `max`, one new chunk for the
    /// rest (kept as free space if the read does not reach it). Returns the byte count; 0 means end of
    /// file (or `max == 0`). [`Buffer::DEFAULT_MAX_READ`] (16 KiB) is a
    /// sensible `max`.
    ///
    /// `EINTR` is retried; `WouldBlock` and other errors are returned with
    /// the buffer unchanged. A frozen back is `PermissionDenied`, growth
    /// beyond [`max_size`](Buffer::max_size) is `OutOfMemory`
    /// ([`BufferError::TooLarge`] inside).
    ///
    /// ```
    /// use runtime::io::Buffer;
    /// use std::io::Write;
    /// use std::os::unix::net::UnixStream;
    ///
    /// let (mut a, b) = UnixStream::pair()?;
    /// a.write_all(b"ping\n")?;
    /// let mut buf = Buffer::new();
    /// assert_eq!(buf.read_from(&b, Buffer::DEFAULT_MAX_READ)?, 5);
    /// assert_eq!(buf.to_vec()?, b"ping\n");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn read_from(&mut self, fd: impl AsFd, max: usize) -> io::Result<usize> {
        self.check_back()?;
        if max == 0 {
            return Ok(0);
        }
        let room = self.max_size.saturating_sub(self.len);
        if room == 0 {
            return Err(BufferError::TooLarge.into());
        }
        let max = max.min(room);
        let fd = fd.as_fd().as_raw_fd();

        let mut iov = [EMPTY_IOVEC; 2];
        let mut used = 0;
        let mut tail_take = 0;
        if let Some(tail) = self.owned_tail() {
            let spare = tail.spare_uninit();
            tail_take = spare.len().min(max);
            if tail_take > 0 {
                iov[0] = libc::iovec {
                    iov_base: spare.as_mut_ptr().cast(),
                    iov_len: tail_take,
                };
                used = 1;
            }
        }
        // A new chunk only when the tail has less than half of `max` free:
        // otherwise read what fits (a short read costs less than an
        // allocation that strands the tail's free space).
        let mut fresh = None;
        let mut fresh_take = 0;
        if tail_take < max.div_ceil(2) {
            let want = max - tail_take;
            let mut c = OwnedChunk::with_capacity(self.alloc_size(want))?;
            let spare = c.spare_uninit();
            fresh_take = spare.len().min(want);
            iov[used] = libc::iovec {
                iov_base: spare.as_mut_ptr().cast(),
                iov_len: fresh_take,
            };
            used += 1;
            fresh = Some(c);
        }
        let n = loop {
            // SAFETY: each used iovec describes free space owned by this
            // buffer (the tail chunk's spare capacity, or the new chunk's,
            // whose heap allocation does not move when the chunk value
            // moves) and no other reference to it exists during the call.
            let r = unsafe { libc::readv(fd, iov.as_ptr(), used as libc::c_int) };
            if r >= 0 {
                break r as usize;
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                // The new chunk (if any) is dropped: the buffer is unchanged.
                return Err(e);
            }
        };
        let n = n.min(tail_take + fresh_take);
        let into_tail = n.min(tail_take);
        if into_tail > 0 {
            if let Some(tail) = self.owned_tail() {
                // SAFETY: the kernel wrote `into_tail <= spare` bytes at the
                // start of the tail chunk's free space.
                unsafe { tail.commit(into_tail) };
            }
        }
        if let Some(mut c) = fresh {
            let into_fresh = n - into_tail;
            // SAFETY: the kernel wrote the remaining `into_fresh <=
            // fresh_take` bytes at the start of the new chunk's free space.
            unsafe { c.commit(into_fresh) };
            // Keep the new chunk (as free space for the next read if the
            // data went into the tail), unless nothing was read.
            if n > 0 {
                self.chunks.push_back(Chunk::Owned(c));
            }
        }
        if n > 0 {
            let orig = self.len;
            self.len += n;
            self.changed(orig, n, 0);
        }
        Ok(n)
    }
}

/// Errors after which `sendfile` will not work for this pair of files and
/// `pread` + `write` should be used instead.
fn sendfile_unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP) | Some(libc::ESPIPE)
    )
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn sendfile(out: RawFd, file: RawFd, pos: u64, count: usize) -> io::Result<usize> {
    let mut off =
        libc::off_t::try_from(pos).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    loop {
        // SAFETY: `off` is a valid off_t the kernel may update; both
        // descriptors are open (the file one is owned by the segment).
        let r = unsafe { libc::sendfile(out, file, &mut off, count) };
        if r > 0 {
            return Ok(r as usize);
        }
        if r == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file segment is beyond the end of the file",
            ));
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn sendfile(_out: RawFd, _file: RawFd, _pos: u64, _count: usize) -> io::Result<usize> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}

fn write_fd(fd: RawFd, data: &[u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `data` is a live slice that write only reads.
        let r = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
        if r >= 0 {
            return Ok(r as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}
