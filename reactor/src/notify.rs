//! The wake-up descriptor: an eventfd (or a pipe where eventfd is missing)
//! that any thread can write to so a blocked poller returns.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// An eventfd or, failing that, a non-blocking pipe. Owns its descriptors.
#[derive(Debug)]
pub(crate) struct NotifyFd {
    read: OwnedFd,
    /// The pipe's write end; `None` for an eventfd (one descriptor).
    write: Option<OwnedFd>,
}

impl NotifyFd {
    pub(crate) fn new() -> io::Result<NotifyFd> {
        // SAFETY: eventfd takes no pointers; the flags are valid.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd >= 0 {
            return Ok(NotifyFd {
                // SAFETY: `fd` was just created and nothing else owns it.
                read: unsafe { OwnedFd::from_raw_fd(fd) },
                write: None,
            });
        }
        let mut fds = [0 as RawFd; 2];
        // SAFETY: `fds` is a valid array of two descriptors for pipe2 to fill.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both descriptors were just created and nothing else owns them.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Ok(NotifyFd {
            read,
            write: Some(write),
        })
    }

    /// The descriptor to watch for readability.
    pub(crate) fn read_fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    fn write_fd(&self) -> RawFd {
        self.write.as_ref().unwrap_or(&self.read).as_raw_fd()
    }

    /// Makes the read side readable. Every call writes: callers coalesce
    /// (the executor keeps a "notified" flag), because a flag here could not
    /// tell a consumed wake-up from a pending one.
    pub(crate) fn notify(&self) -> io::Result<()> {
        self.write_byte()
    }

    /// Writes unconditionally (used by backends to interrupt their own wait
    /// after another thread changed interest).
    pub(crate) fn write_byte(&self) -> io::Result<()> {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64; for a pipe any length works.
        let n = unsafe {
            libc::write(
                self.write_fd(),
                &one as *const u64 as *const libc::c_void,
                8,
            )
        };
        if n < 0 {
            let err = io::Error::last_os_error();
            // A full pipe or a saturated eventfd is already readable.
            if err.kind() != io::ErrorKind::WouldBlock {
                return Err(err);
            }
        }
        Ok(())
    }

    /// Empties the descriptor after the poller reported it readable.
    pub(crate) fn drain(&self) {
        let mut buf = [0u8; 64];
        let fd = self.read_fd();
        loop {
            // SAFETY: reads into a live stack buffer of the given length.
            let n = unsafe { libc::read(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
            // An eventfd is emptied by one read; a pipe may need several.
            if n <= 0 || self.write.is_none() || (n as usize) < buf.len() {
                break;
            }
        }
    }
}
