//! Standard input, output and error as `AsyncRead` / `AsyncWrite`:
//! [`stdin`], [`stdout`], [`stderr`].
//!
//! They never change the file status flags of descriptors 0, 1 and 2,
//! which the process shares with its parent shell and siblings (setting
//! `O_NONBLOCK` on a terminal would make the shell's next read fail). The
//! flag lives on the open file description, which a `dup` shares, so:
//!
//! - a **pipe** (or FIFO) is opened anew through `/proc/self/fd/N`, which
//!   makes a new open file description of the same pipe; that one is set
//!   non-blocking and registered with the thread's reactor;
//! - anything else (a **terminal**, a **file**, a socket, `/dev/null`) is
//!   read and written on the blocking pool, one call at a time, with the
//!   descriptor untouched.
//!
//! ```no_run
//! use runtime::io::{stdin, stdout};
//!
//! #[runtime::main]
//! async fn main() -> std::io::Result<()> {
//!     let mut lines = stdin().lines();
//!     let mut out = stdout();
//!     while let Some(line) = lines.next_line().await? {
//!         out.write_all(line.to_uppercase().as_bytes()).await?;
//!         out.write_all(b"\n").await?;
//!     }
//!     out.flush().await
//! }
//! ```

mod backend;

use crate::stream::{BufferedReader, Lines};
use crate::Eol;
use backend::{Backend, Kind};
use futures_io::{AsyncRead, AsyncWrite};
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Standard input; see [`stdin`].
pub struct Stdin {
    inner: Backend,
}

/// Standard output; see [`stdout`].
pub struct Stdout {
    inner: Backend,
}

/// Standard error; see [`stderr`].
pub struct Stderr {
    inner: Backend,
}

/// The process's standard input as an `AsyncRead` (each call makes an
/// independent reader: use one). A pipe is read through the reactor,
/// anything else on the blocking pool; see the [module
/// documentation](self).
///
/// # Cancel safety
///
/// Reading is cancel safe: a read on the blocking pool that finishes after
/// its future was dropped keeps its bytes for the next read.
pub fn stdin() -> Stdin {
    Stdin {
        inner: Backend::new(0, Kind::Read),
    }
}

/// The process's standard output as an `AsyncWrite`. Writes to a pipe go
/// through the reactor; others are handed to the blocking pool, so a write
/// returns once the bytes are copied: call `flush` (or `close`) to know
/// they were written.
pub fn stdout() -> Stdout {
    Stdout {
        inner: Backend::new(1, Kind::Write),
    }
}

/// The process's standard error as an `AsyncWrite`; as [`stdout`].
pub fn stderr() -> Stderr {
    Stderr {
        inner: Backend::new(2, Kind::Write),
    }
}

impl Stdin {
    /// The lines of standard input (an LF or CR LF ends each), as
    /// `String`s: `while let Some(line) = lines.next_line().await? { .. }`.
    pub fn lines(self) -> Lines<crate::stream::ReadOnly<Stdin>> {
        BufferedReader::from_reader(self).lines(Eol::Crlf)
    }

    /// Whether reads go through the reactor (a pipe) rather than the
    /// blocking pool.
    pub fn is_nonblocking(&self) -> bool {
        self.inner.is_reactor()
    }
}

impl Stdout {
    /// Whether writes go through the reactor (a pipe) rather than the
    /// blocking pool.
    pub fn is_nonblocking(&self) -> bool {
        self.inner.is_reactor()
    }
}

impl Stderr {
    /// Whether writes go through the reactor (a pipe) rather than the
    /// blocking pool.
    pub fn is_nonblocking(&self) -> bool {
        self.inner.is_reactor()
    }
}

impl AsyncRead for Stdin {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().inner.poll_read(cx, buf)
    }
}

macro_rules! writer {
    ($t:ty) => {
        impl AsyncWrite for $t {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.get_mut().inner.poll_write(cx, buf)
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.get_mut().inner.poll_flush(cx)
            }

            fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.get_mut().inner.poll_flush(cx)
            }
        }

        impl $t {
            /// Writes all of `buf` (handed to the blocking pool, or into
            /// the pipe).
            ///
            /// # Cancel safety
            ///
            /// Not cancel safe: a cancelled call may have written part of
            /// `buf`.
            pub async fn write_all(&mut self, mut buf: &[u8]) -> io::Result<()> {
                while !buf.is_empty() {
                    let n = poll_fn(|cx| self.inner.poll_write(cx, buf)).await?;
                    if n == 0 {
                        return Err(io::ErrorKind::WriteZero.into());
                    }
                    buf = &buf[n..];
                }
                Ok(())
            }

            /// Waits until everything written has reached the descriptor.
            pub async fn flush(&mut self) -> io::Result<()> {
                poll_fn(|cx| self.inner.poll_flush(cx)).await
            }
        }

        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($t))
                    .field("nonblocking", &self.inner.is_reactor())
                    .finish()
            }
        }
    };
}

writer!(Stdout);
writer!(Stderr);

impl fmt::Debug for Stdin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stdin")
            .field("nonblocking", &self.inner.is_reactor())
            .finish()
    }
}
