//! [`FileSegment`]: a range of a file held by a buffer without reading it
//! into memory (`evbuffer_file_segment`).

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

type Cleanup = Box<dyn FnOnce() + Send>;

/// A range of an open file, shared by reference count, that a
/// [`Buffer`](super::Buffer) holds without reading it into memory.
///
/// [`Buffer::write_to`](super::Buffer::write_to) sends it with `sendfile(2)`
/// (falling back to `pread` + `write` where `sendfile` is refused or
/// disabled); every other way of looking at the bytes (copyout, remove,
/// search, readln, pullup) reads them with `pread` on demand. The file
/// descriptor is closed when the last reference is dropped
/// (`EVBUF_FS_CLOSE_ON_FREE`).
///
/// ```
/// use runtime::io::{Buffer, FileSegment};
/// # let path = std::env::temp_dir().join(format!("fileseg-doc-{}", std::process::id()));
/// std::fs::write(&path, b"0123456789")?;
/// let seg = FileSegment::new(std::fs::File::open(&path)?, 2, None)?;
/// assert_eq!(seg.len(), 8);
/// let mut buf = Buffer::new();
/// buf.add_file_segment(&seg, 1, Some(3))?; // bytes 3..6 of the file
/// assert_eq!(buf.to_vec()?, b"345");
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct FileSegment {
    inner: Arc<SegInner>,
}

struct SegInner {
    fd: OwnedFd,
    offset: u64,
    len: u64,
    sendfile: AtomicBool,
    cleanup: Mutex<Option<Cleanup>>,
}

impl Drop for SegInner {
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

/// Largest file offset `pread`/`sendfile` accept (`off_t` is signed).
const MAX_OFFSET: u64 = i64::MAX as u64;

impl FileSegment {
    /// A segment of `len` bytes starting at `offset` of `file`, or up to the
    /// end of the file (as of now) when `len` is `None`. Takes ownership of
    /// the descriptor.
    ///
    /// Fails with `InvalidInput` if the range overflows a file offset, or if
    /// `len` is `None` and `offset` lies past the end of the file.
    pub fn new(file: impl Into<OwnedFd>, offset: u64, len: Option<u64>) -> io::Result<Self> {
        let fd: OwnedFd = file.into();
        let len = match len {
            Some(len) => len,
            None => {
                let size = file_size(fd.as_fd())?;
                size.checked_sub(offset).ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidInput, "offset past end of file")
                })?
            }
        };
        match offset.checked_add(len) {
            Some(end) if end <= MAX_OFFSET => {}
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "file segment range overflows off_t",
                ))
            }
        }
        Ok(FileSegment {
            inner: Arc::new(SegInner {
                fd,
                offset,
                len,
                sendfile: AtomicBool::new(true),
                cleanup: Mutex::new(None),
            }),
        })
    }

    /// Length of the segment in bytes.
    pub fn len(&self) -> u64 {
        self.inner.len
    }

    /// Whether the segment is empty.
    pub fn is_empty(&self) -> bool {
        self.inner.len == 0
    }

    /// Offset of the segment's first byte in the file.
    pub fn offset(&self) -> u64 {
        self.inner.offset
    }

    /// The file descriptor.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.inner.fd.as_fd()
    }

    /// Allows or forbids `sendfile(2)` for this segment
    /// (`EVBUF_FS_DISABLE_SENDFILE`); when forbidden, writes use `pread` +
    /// `write`. Also switched off automatically when the kernel refuses
    /// `sendfile` for this file.
    pub fn set_sendfile(&self, enabled: bool) {
        self.inner.sendfile.store(enabled, Ordering::Relaxed);
    }

    /// Whether `sendfile(2)` may be used for this segment.
    pub fn sendfile_enabled(&self) -> bool {
        self.inner.sendfile.load(Ordering::Relaxed)
    }

    /// Sets the callback run once when the last reference to the segment is
    /// dropped, just before the descriptor is closed
    /// (`evbuffer_file_segment_add_cleanup_cb`). Replaces (and drops without
    /// running) a callback set earlier.
    pub fn set_cleanup(&self, cleanup: impl FnOnce() + Send + 'static) {
        let mut slot = match self.inner.cleanup.lock() {
            Ok(slot) => slot,
            Err(poisoned) => poisoned.into_inner(),
        };
        *slot = Some(Box::new(cleanup));
    }

    /// Reads exactly `out.len()` bytes at absolute file offset `pos` with
    /// `pread`; a file shorter than that is an `UnexpectedEof` error.
    pub(crate) fn read_exact_at(&self, mut pos: u64, mut out: &mut [u8]) -> io::Result<()> {
        while !out.is_empty() {
            let off = i64::try_from(pos)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "offset overflow"))?;
            // SAFETY: `out` is a valid writable slice of `out.len()` bytes and
            // the descriptor is owned by this segment, so it is open.
            let n = unsafe {
                libc::pread(
                    self.inner.fd.as_raw_fd(),
                    out.as_mut_ptr().cast(),
                    out.len(),
                    off as libc::off_t,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "file segment is beyond the end of the file",
                ));
            }
            let n = n as usize;
            out = &mut out[n..];
            pos += n as u64;
        }
        Ok(())
    }
}

impl fmt::Debug for FileSegment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileSegment")
            .field("fd", &self.inner.fd.as_raw_fd())
            .field("offset", &self.inner.offset)
            .field("len", &self.inner.len)
            .finish()
    }
}

fn file_size(fd: BorrowedFd<'_>) -> io::Result<u64> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `st` points to writable memory for one `stat`; fstat fills it
    // on success, which is checked before it is read.
    let r = unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fstat returned 0, so it initialised `st`.
    let st = unsafe { st.assume_init() };
    u64::try_from(st.st_size).map_err(|_| io::Error::other("negative file size"))
}

impl super::Buffer {
    /// Appends `len` bytes of `file` starting at `offset` (to the end of the
    /// file when `len` is `None`) as a file segment, without reading it
    /// (`evbuffer_add_file`). Takes ownership of the descriptor (a
    /// `std::fs::File`, an `OwnedFd`, …), closed when the segment is
    /// drained. [`write_to`](super::Buffer::write_to) sends it with
    /// `sendfile(2)`.
    ///
    /// ```
    /// use runtime::io::Buffer;
    /// # let path = std::env::temp_dir().join(format!("add-file-doc-{}", std::process::id()));
    /// std::fs::write(&path, b"file contents\n")?;
    /// let mut buf = Buffer::new();
    /// buf.add(b"header\n")?;
    /// buf.add_file(std::fs::File::open(&path)?, 0, None)?;
    /// assert_eq!(buf.len(), 21);
    /// assert_eq!(buf.search(b"contents")?, Some(12)); // read with pread
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_file(
        &mut self,
        file: impl Into<OwnedFd>,
        offset: u64,
        len: Option<u64>,
    ) -> Result<(), super::BufferError> {
        self.check_back()?;
        let seg = FileSegment::new(file, offset, len)?;
        self.add_file_segment(&seg, 0, None)
    }

    /// Appends `len` bytes (the rest when `None`) of a shared segment,
    /// starting `offset` bytes into the segment
    /// (`evbuffer_add_file_segment`). The same segment may be added to many
    /// buffers.
    pub fn add_file_segment(
        &mut self,
        segment: &FileSegment,
        offset: u64,
        len: Option<u64>,
    ) -> Result<(), super::BufferError> {
        use super::BufferError;
        self.check_back()?;
        let avail = segment
            .len()
            .checked_sub(offset)
            .ok_or(BufferError::OutOfRange)?;
        let len = len.unwrap_or(avail);
        if len > avail {
            return Err(BufferError::OutOfRange);
        }
        let len = usize::try_from(len).map_err(|_| BufferError::TooLarge)?;
        self.check_grow(len)?;
        if len == 0 {
            return Ok(());
        }
        let orig = self.len;
        self.push_data_chunk(super::chunk::Chunk::File {
            seg: segment.clone(),
            pos: segment.offset() + offset,
            len,
        });
        self.len += len;
        self.changed(orig, len, 0);
        Ok(())
    }
}
