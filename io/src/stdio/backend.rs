//! How a standard descriptor is driven: a new non-blocking open file
//! description of a pipe registered with the reactor, or blocking calls on
//! the blocking pool with the descriptor untouched.

use runtime_executor::{spawn_blocking, BlockingHandle};
use runtime_reactor::{Direction, Registration};
use std::ffi::CString;
use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// Most bytes one blocking-pool call moves.
const CHUNK: usize = 64 * 1024;

/// Which way the descriptor is used.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Kind {
    Read,
    Write,
}

pub(super) enum Backend {
    /// A pipe reopened non-blocking and registered.
    Reactor(Registration),
    /// Calls on the blocking pool.
    Blocking(Blocking),
}

pub(super) struct Blocking {
    fd: RawFd,
    /// Bytes read and not handed out yet (`buf[pos..]`), or the buffer to
    /// reuse.
    buf: Vec<u8>,
    pos: usize,
    /// The call in flight: the buffer comes back with its result.
    busy: Option<BlockingHandle<(Vec<u8>, io::Result<usize>)>>,
    /// A write error to report on the next call.
    error: Option<io::Error>,
}

impl Backend {
    pub(super) fn new(fd: RawFd, kind: Kind) -> Backend {
        match reopen_pipe(fd, kind).and_then(|fd| match fd {
            Some(fd) => Registration::new(fd).map(Some),
            None => Ok(None),
        }) {
            Ok(Some(reg)) => Backend::Reactor(reg),
            // Not a pipe, not openable, or no reactor on this thread.
            _ => Backend::Blocking(Blocking {
                fd,
                buf: Vec::new(),
                pos: 0,
                busy: None,
                error: None,
            }),
        }
    }

    pub(super) fn is_reactor(&self) -> bool {
        matches!(self, Backend::Reactor(_))
    }

    pub(super) fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match self {
            Backend::Reactor(reg) => reg.poll_io(Direction::Read, cx, || {
                // SAFETY: `out` is a live, writable slice of `out.len()`
                // bytes; the descriptor is the registration's own.
                let n = unsafe { libc::read(reg.fd(), out.as_mut_ptr().cast(), out.len()) };
                cvt(n)
            }),
            Backend::Blocking(b) => b.poll_read(cx, out),
        }
    }

    pub(super) fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self {
            Backend::Reactor(reg) => reg.poll_io(Direction::Write, cx, || {
                // SAFETY: `data` is a live slice of `data.len()` bytes; the
                // descriptor is the registration's own.
                let n = unsafe { libc::write(reg.fd(), data.as_ptr().cast(), data.len()) };
                cvt(n)
            }),
            Backend::Blocking(b) => b.poll_write(cx, data),
        }
    }

    pub(super) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Backend::Reactor(_) => Poll::Ready(Ok(())),
            Backend::Blocking(b) => b.poll_idle(cx),
        }
    }
}

impl Blocking {
    fn poll_read(&mut self, cx: &mut Context<'_>, out: &mut [u8]) -> Poll<io::Result<usize>> {
        loop {
            if self.pos < self.buf.len() {
                let n = out.len().min(self.buf.len() - self.pos);
                out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
                self.pos += n;
                return Poll::Ready(Ok(n));
            }
            if let Some(h) = &mut self.busy {
                let (buf, res) =
                    ready!(Pin::new(h).poll(cx)).map_err(|e| io::Error::other(e.to_string()))?;
                self.busy = None;
                self.buf = buf;
                self.pos = 0;
                match res {
                    Ok(0) => return Poll::Ready(Ok(0)),
                    Ok(n) => self.buf.truncate(n),
                    Err(e) => return Poll::Ready(Err(e)),
                }
                continue;
            }
            if out.is_empty() {
                return Poll::Ready(Ok(0));
            }
            let fd = self.fd;
            let mut buf = std::mem::take(&mut self.buf);
            buf.resize(CHUNK, 0);
            self.busy = Some(spawn_blocking(move || {
                let res = blocking_call(fd, libc::POLLIN, || {
                    // SAFETY: `buf` is a live vector of `buf.len()` bytes
                    // owned by this closure; `fd` is a standard descriptor,
                    // open for the life of the process.
                    unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) }
                });
                (buf, res)
            }));
        }
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        ready!(self.poll_idle(cx))?;
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let n = data.len().min(CHUNK);
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        buf.extend_from_slice(&data[..n]);
        let fd = self.fd;
        self.busy = Some(spawn_blocking(move || {
            let mut done = 0;
            while done < buf.len() {
                let rest = &buf[done..];
                match blocking_call(fd, libc::POLLOUT, || {
                    // SAFETY: `rest` is a live slice of `rest.len()` bytes;
                    // `fd` is a standard descriptor open for the process's
                    // life.
                    unsafe { libc::write(fd, rest.as_ptr().cast(), rest.len()) }
                }) {
                    Ok(0) => return (buf, Err(io::ErrorKind::WriteZero.into())),
                    Ok(k) => done += k,
                    Err(e) => return (buf, Err(e)),
                }
            }
            let len = buf.len();
            (buf, Ok(len))
        }));
        Poll::Ready(Ok(n))
    }

    /// Waits for the write in flight; returns its error, if any.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(h) = &mut self.busy {
            let (buf, res) =
                ready!(Pin::new(h).poll(cx)).map_err(|e| io::Error::other(e.to_string()))?;
            self.busy = None;
            self.buf = buf;
            self.buf.clear();
            if let Err(e) = res {
                self.error = Some(e);
            }
        }
        match self.error.take() {
            Some(e) => Poll::Ready(Err(e)),
            None => Poll::Ready(Ok(())),
        }
    }
}

/// Runs a read or write on a blocking thread: retried on `EINTR`, and on
/// `EAGAIN` (someone else made the description non-blocking) after
/// `poll(2)` says the descriptor is ready.
fn blocking_call(
    fd: RawFd,
    events: libc::c_short,
    mut op: impl FnMut() -> isize,
) -> io::Result<usize> {
    loop {
        match cvt(op()) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let mut p = libc::pollfd {
                    fd,
                    events,
                    revents: 0,
                };
                // SAFETY: one valid pollfd, for the duration of the call.
                unsafe { libc::poll(&mut p, 1, -1) };
            }
            r => return r,
        }
    }
}

fn cvt(n: isize) -> io::Result<usize> {
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// If `fd` is a pipe or FIFO, a new open file description of it, made
/// non-blocking (descriptor `fd`'s own flags untouched); `None` otherwise.
fn reopen_pipe(fd: RawFd, kind: Kind) -> io::Result<Option<OwnedFd>> {
    // SAFETY: an all-zero `stat` is a valid value for fstat to fill.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid out-pointer; fstat on a closed descriptor
    // only fails with EBADF.
    if unsafe { libc::fstat(fd, &mut st) } < 0 {
        return Err(io::Error::last_os_error());
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFIFO {
        return Ok(None);
    }
    let path = CString::new(format!("/proc/self/fd/{fd}")).expect("no NUL in the path");
    let access = match kind {
        Kind::Read => libc::O_RDONLY,
        Kind::Write => libc::O_WRONLY,
    };
    // SAFETY: `path` is a NUL-terminated string that lives across the call.
    let new = unsafe { libc::open(path.as_ptr(), access | libc::O_NONBLOCK | libc::O_CLOEXEC) };
    if new < 0 {
        // Write side without a reader (ENXIO), no /proc: not this way.
        return Ok(None);
    }
    // SAFETY: `open` just returned this descriptor; nothing else owns it.
    let owned = unsafe { OwnedFd::from_raw_fd(new) };
    debug_assert!(owned.as_raw_fd() >= 0);
    Ok(Some(owned))
}
