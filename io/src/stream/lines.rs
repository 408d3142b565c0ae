//! The line readers of a [`BufferedStream`]: `read_line` (an end of line
//! of any [`Eol`] style) and `read_until` (one delimiter byte), each as an
//! `async fn`, a `poll_` method and a `try_` method that does no I/O, each
//! returning a new vector or filling one the caller keeps (`_into`).
//!
//! All of them are thin wrappers over one core: [`take_line`] takes a
//! complete line out of the input if there is one (a `memchr` over the
//! first chunk, else the input's bounded line search), [`poll_line`]
//! alternates it with reads from the inner stream, and `try_line` adds
//! the high-watermark rule. So the bounds, the errors and the end-of-stream
//! behaviour are the same for every variant.
//!
//! The `_into` rule they follow is written in the [module
//! documentation](crate::stream#the-_into-rule).
//!
//! [`take_line`]: BufferedStream::take_line
//! [`poll_line`]: BufferedStream::poll_line

use std::future::poll_fn;
use std::io;
use std::task::{ready, Context, Poll};

use super::{BufferedStream, Fill, Transport};
use crate::buffer::Delim;
use crate::{BufferError, Eol};

/// Position of the first `b` in `hay` (`memchr(3)`: glibc's is
/// vectorised).
fn memchr(b: u8, hay: &[u8]) -> Option<usize> {
    if hay.is_empty() {
        return None;
    }
    // SAFETY: the pointer and length describe `hay`, a live slice that
    // memchr only reads; a non-null result points into it.
    let p = unsafe { libc::memchr(hay.as_ptr().cast(), i32::from(b), hay.len()) };
    if p.is_null() {
        None
    } else {
        Some(p as usize - hay.as_ptr() as usize)
    }
}

/// A line reader's result with the line in a new vector.
fn owned(found: Option<usize>, line: Vec<u8>) -> Option<Vec<u8>> {
    found.map(|_| line)
}

impl<S> BufferedStream<S> {
    /// The core line reader, without I/O: if the input holds a complete
    /// line ending in `delim` (of at most `max_line` bytes), removes it
    /// and its end of line from the input and appends the line to `line`;
    /// returns its length. `None` when no complete line is there yet;
    /// [`BufferError::LineTooLong`] as soon as the line is certain to be
    /// longer than `max_line`. On `None` and on errors neither the input
    /// nor `line` changes.
    fn take_line(
        &mut self,
        delim: Delim,
        line: &mut Vec<u8>,
    ) -> Result<Option<usize>, BufferError> {
        if let Some(n) = self.take_line_fast(delim, line) {
            return Ok(Some(n));
        }
        self.input.readln_delim_into(delim, self.max_line, line)
    }

    /// The fast path of [`take_line`](Self::take_line): a line that ends
    /// within the input's first chunk is appended to `line` with one
    /// `memchr` and one copy; returns its length. `None` (and `line`
    /// unchanged) when that is not the case: the general path then
    /// decides, with the same result.
    fn take_line_fast(&mut self, delim: Delim, line: &mut Vec<u8>) -> Option<usize> {
        let byte = match delim {
            Delim::Eol(Eol::Lf | Eol::Crlf | Eol::CrlfStrict) => b'\n',
            Delim::Eol(Eol::Nul) => 0,
            Delim::Eol(Eol::Any) => return None,
            Delim::Byte(b) => b,
        };
        let first = self.input.peek(usize::MAX).next()?;
        let scan = &first[..first.len().min(self.max_line.saturating_add(2))];
        let p = memchr(byte, scan)?;
        let cr_before = p > 0 && scan[p - 1] == b'\r';
        let (line_len, eol_len) = match delim {
            Delim::Eol(Eol::Crlf | Eol::CrlfStrict) if cr_before => (p - 1, 2),
            // A bare LF is data: the end of line may come later.
            Delim::Eol(Eol::CrlfStrict) => return None,
            _ => (p, 1),
        };
        if line_len > self.max_line {
            return None;
        }
        // An allocation failure is left to the general path to report.
        line.try_reserve(line_len).ok()?;
        let orig = line.len();
        line.extend_from_slice(&first[..line_len]);
        if self.input.drain(line_len + eol_len).is_err() {
            line.truncate(orig);
            return None;
        }
        Some(line_len)
    }

    /// [`take_line`](Self::take_line) for the `try_` readers: with no
    /// complete line and the input at its high watermark, no line can
    /// complete: `LineTooLong`.
    fn try_line(&mut self, delim: Delim, line: &mut Vec<u8>) -> io::Result<Option<usize>> {
        match self.take_line(delim, line)? {
            Some(n) => Ok(Some(n)),
            None if self.at_high_watermark() => Err(BufferError::LineTooLong.into()),
            None => Ok(None),
        }
    }

    fn at_high_watermark(&self) -> bool {
        self.marks.read_high > 0 && self.input.len() >= self.marks.read_high
    }

    /// End of stream with no complete line: `None` if nothing is left,
    /// else `UnexpectedEof` (the partial line stays in the input).
    fn end_of_lines(&self) -> io::Result<Option<usize>> {
        if self.input.is_empty() {
            Ok(None)
        } else {
            Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "stream ended in the middle of a line (the partial line stays in the input)",
            ))
        }
    }

    /// The next line from the input if a complete one is buffered, without
    /// any I/O: `Ok(None)` when no complete line is there yet; a
    /// [`LineTooLong`](BufferError::LineTooLong) error (kind
    /// `InvalidData`) when the line is longer than
    /// [`max_line`](BufferedStream::max_line) or cannot complete because
    /// the input is at its high watermark. To reuse one vector for many
    /// lines, see [`try_read_line_into`](BufferedStream::try_read_line_into).
    ///
    /// ```
    /// use runtime::io::Eol;
    ///
    /// runtime::block_on(async {
    ///     let (mut a, mut b) = runtime::io::pair();
    ///     a.write_all(b"one\ntw").await?;
    ///     a.flush().await?;
    ///     assert_eq!(b.try_read_line(Eol::Lf)?, None); // nothing read yet
    ///     b.fill().await?;
    ///     assert_eq!(b.try_read_line(Eol::Lf)?.unwrap(), b"one");
    ///     assert_eq!(b.try_read_line(Eol::Lf)?, None); // "tw" is unfinished
    ///     Ok::<(), std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn try_read_line(&mut self, eol: Eol) -> io::Result<Option<Vec<u8>>> {
        let mut line = Vec::new();
        Ok(owned(self.try_line(Delim::Eol(eol), &mut line)?, line))
    }

    /// [`try_read_line`](BufferedStream::try_read_line) into a vector the
    /// caller keeps, so that a loop over lines allocates nothing once the
    /// vector is large enough. Follows [the `_into` rule](crate::stream#the-_into-rule):
    /// the line, without its end of line, is **appended** to `line` (clear
    /// it between lines); `Ok(Some(n))`: `n` bytes were appended;
    /// `Ok(None)`: no complete line is buffered yet. On `Ok(None)` and on
    /// errors (those of `try_read_line`) `line` is unchanged.
    ///
    /// ```
    /// use runtime::io::Eol;
    ///
    /// runtime::block_on(async {
    ///     let (mut a, mut b) = runtime::io::pair();
    ///     a.write_all(b"hello\r\nyo\r\n").await?;
    ///     a.flush().await?;
    ///     b.fill().await?;
    ///     let mut line = Vec::new();
    ///     assert_eq!(b.try_read_line_into(Eol::CrlfStrict, &mut line)?, Some(5));
    ///     assert_eq!(line, b"hello");
    ///     line.clear(); // it appends: clear between lines
    ///     assert_eq!(b.try_read_line_into(Eol::CrlfStrict, &mut line)?, Some(2));
    ///     assert_eq!(line, b"yo");
    ///     assert_eq!(b.try_read_line_into(Eol::CrlfStrict, &mut line)?, None);
    ///     assert_eq!(line, b"yo"); // unchanged
    ///     Ok::<(), std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn try_read_line_into(
        &mut self,
        eol: Eol,
        line: &mut Vec<u8>,
    ) -> io::Result<Option<usize>> {
        self.try_line(Delim::Eol(eol), line)
    }

    /// The next field up to `byte` from the input if a complete one is
    /// buffered, without any I/O, appended to `line` (the delimiter is
    /// removed; [the `_into` rule](crate::stream#the-_into-rule)): `Ok(Some(n))` for
    /// a field of `n` bytes, `Ok(None)` when none is complete yet. More
    /// than [`max_line`](BufferedStream::max_line) bytes without the
    /// delimiter, or an input at its high watermark without it, is a
    /// [`BufferError::LineTooLong`] error (kind `InvalidData`). On
    /// `Ok(None)` and on errors `line` is unchanged.
    ///
    /// ```
    /// runtime::block_on(async {
    ///     let (mut a, mut b) = runtime::io::pair();
    ///     a.write_all(b"k=v;rest").await?;
    ///     a.flush().await?;
    ///     b.fill().await?;
    ///     let mut field = Vec::new();
    ///     assert_eq!(b.try_read_until_into(b'=', &mut field)?, Some(1));
    ///     assert_eq!(field, b"k");
    ///     field.clear();
    ///     assert_eq!(b.try_read_until_into(b';', &mut field)?, Some(1));
    ///     assert_eq!(field, b"v");
    ///     assert_eq!(b.try_read_until_into(b';', &mut field)?, None);
    ///     Ok::<(), std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn try_read_until_into(
        &mut self,
        byte: u8,
        line: &mut Vec<u8>,
    ) -> io::Result<Option<usize>> {
        self.try_line(Delim::Byte(byte), line)
    }
}

impl<S: Transport> BufferedStream<S> {
    /// The core line reader with I/O: takes a complete line if the input
    /// holds one, else reads from the inner stream and looks again. An
    /// input that fills up without a complete line is `LineTooLong`; end
    /// of stream is `Ok(None)` on an empty input, else `UnexpectedEof`.
    /// `line` only changes when a line is appended.
    fn poll_line(
        &mut self,
        cx: &mut Context<'_>,
        delim: Delim,
        line: &mut Vec<u8>,
    ) -> Poll<io::Result<Option<usize>>> {
        loop {
            if let Some(n) = self.take_line(delim, line)? {
                return Poll::Ready(Ok(Some(n)));
            }
            match ready!(self.poll_fill_once(cx))? {
                Fill::Read(_) => {}
                Fill::Full => return Poll::Ready(Err(BufferError::LineTooLong.into())),
                Fill::Eof => return Poll::Ready(self.end_of_lines()),
            }
        }
    }

    /// Polls for [`read_line`](BufferedStream::read_line).
    pub fn poll_read_line(
        &mut self,
        cx: &mut Context<'_>,
        eol: Eol,
    ) -> Poll<io::Result<Option<Vec<u8>>>> {
        let mut line = Vec::new();
        self.poll_line(cx, Delim::Eol(eol), &mut line)
            .map_ok(|found| owned(found, line))
    }

    /// Polls for [`read_line_into`](BufferedStream::read_line_into): once
    /// this is ready with `Ok(Some(n))`, the line's `n` bytes have been
    /// appended to `line` ([the `_into` rule](crate::stream#the-_into-rule));
    /// `Pending`, `Ok(None)` and errors leave `line` unchanged.
    ///
    /// ```
    /// use runtime::io::Eol;
    /// use std::future::poll_fn;
    ///
    /// runtime::block_on(async {
    ///     let (mut a, mut b) = runtime::io::pair();
    ///     a.write_all(b"ping\n").await?;
    ///     a.finish().await?;
    ///     let mut line = Vec::new();
    ///     let n = poll_fn(|cx| b.poll_read_line_into(cx, Eol::Lf, &mut line)).await?;
    ///     assert_eq!((n, &line[..]), (Some(4), &b"ping"[..]));
    ///     let n = poll_fn(|cx| b.poll_read_line_into(cx, Eol::Lf, &mut line)).await?;
    ///     assert_eq!(n, None);
    ///     Ok::<(), std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn poll_read_line_into(
        &mut self,
        cx: &mut Context<'_>,
        eol: Eol,
        line: &mut Vec<u8>,
    ) -> Poll<io::Result<Option<usize>>> {
        self.poll_line(cx, Delim::Eol(eol), line)
    }

    /// Reads the next line, without its end of line (`evbuffer_readln` on
    /// the input, reading more as needed): `Ok(None)` at end of stream
    /// after the last complete line. Each line is a new vector; to reuse
    /// one, see [`read_line_into`](BufferedStream::read_line_into).
    ///
    /// Memory stays bounded: a line longer than
    /// [`max_line`](BufferedStream::max_line) (default 16 KiB) — or one
    /// that cannot complete because the input is at its high watermark — is
    /// a [`BufferError::LineTooLong`] error (kind `InvalidData`), reported
    /// as soon as it is certain, with the bytes left in the input (drain
    /// them, or close). End of stream in the middle of a line is an
    /// `UnexpectedEof` error, the partial line again left in the input.
    ///
    /// Every [`Eol`] style works, across chunk and read boundaries (with
    /// [`Eol::Any`], a CR and an LF that arrive in separate reads end two
    /// lines).
    ///
    /// ```
    /// use runtime::io::{BufferError, Eol};
    ///
    /// runtime::block_on(async {
    ///     let (mut a, mut b) = runtime::io::pair();
    ///     b.set_max_line(8);
    ///     a.write_all(b"short\r\nmuch too long\r\n").await?;
    ///     a.finish().await?;
    ///     assert_eq!(b.read_line(Eol::CrlfStrict).await?.unwrap(), b"short");
    ///     let err = b.read_line(Eol::CrlfStrict).await.unwrap_err();
    ///     assert!(matches!(
    ///         err.get_ref().and_then(|e| e.downcast_ref()),
    ///         Some(BufferError::LineTooLong)
    ///     ));
    ///     Ok::<(), std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: bytes read before a cancelled call stay in the input
    /// buffer, and the next call returns the line they start.
    pub async fn read_line(&mut self, eol: Eol) -> io::Result<Option<Vec<u8>>> {
        poll_fn(|cx| self.poll_read_line(cx, eol)).await
    }

    /// [`read_line`](BufferedStream::read_line) into a vector the caller
    /// keeps, like `BufRead::read_line` into a `String`: the line, without
    /// its end of line, is **appended** to `line` ([the `_into`
    /// rule](crate::stream#the-_into-rule)); clear the vector between lines and a
    /// loop allocates nothing once it is large enough. `Ok(Some(n))`: a
    /// line of `n` bytes was appended (possibly 0 for an empty line);
    /// `Ok(None)`: end of stream after the last complete line. The bounds
    /// and errors are exactly `read_line`'s — a line over
    /// [`max_line`](BufferedStream::max_line) is
    /// [`BufferError::LineTooLong`], end of stream in the middle of a line
    /// `UnexpectedEof`, the bytes left in the input. On `Ok(None)` and on
    /// errors `line` is unchanged.
    ///
    /// ```
    /// use runtime::io::Eol;
    ///
    /// runtime::block_on(async {
    ///     let (mut a, mut b) = runtime::io::pair();
    ///     a.write_all(b"a longer line\nshort\n").await?;
    ///     a.finish().await?;
    ///     let mut line = Vec::new();
    ///     let mut lines = Vec::new();
    ///     loop {
    ///         line.clear();
    ///         match b.read_line_into(Eol::Lf, &mut line).await? {
    ///             Some(_) => lines.push(String::from_utf8_lossy(&line).into_owned()),
    ///             None => break,
    ///         }
    ///     }
    ///     assert_eq!(lines, ["a longer line", "short"]);
    ///     Ok::<(), std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn read_line_into(
        &mut self,
        eol: Eol,
        line: &mut Vec<u8>,
    ) -> io::Result<Option<usize>> {
        poll_fn(|cx| self.poll_read_line_into(cx, eol, line)).await
    }

    /// Polls for [`read_until`](BufferedStream::read_until).
    pub fn poll_read_until(
        &mut self,
        cx: &mut Context<'_>,
        byte: u8,
    ) -> Poll<io::Result<Option<Vec<u8>>>> {
        let mut line = Vec::new();
        self.poll_line(cx, Delim::Byte(byte), &mut line)
            .map_ok(|found| owned(found, line))
    }

    /// Polls for [`read_until_into`](BufferedStream::read_until_into):
    /// once this is ready with `Ok(Some(n))`, the field's `n` bytes have
    /// been appended to `line` ([the `_into` rule](crate::stream#the-_into-rule));
    /// `Pending`, `Ok(None)` and errors leave `line` unchanged.
    ///
    /// ```
    /// use std::future::poll_fn;
    ///
    /// runtime::block_on(async {
    ///     let (mut a, mut b) = runtime::io::pair();
    ///     a.write_all(b"abc,").await?;
    ///     a.finish().await?;
    ///     let mut field = Vec::new();
    ///     let n = poll_fn(|cx| b.poll_read_until_into(cx, b',', &mut field)).await?;
    ///     assert_eq!((n, &field[..]), (Some(3), &b"abc"[..]));
    ///     let n = poll_fn(|cx| b.poll_read_until_into(cx, b',', &mut field)).await?;
    ///     assert_eq!(n, None);
    ///     Ok::<(), std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn poll_read_until_into(
        &mut self,
        cx: &mut Context<'_>,
        byte: u8,
        line: &mut Vec<u8>,
    ) -> Poll<io::Result<Option<usize>>> {
        self.poll_line(cx, Delim::Byte(byte), line)
    }

    /// Reads up to the next `byte` and returns what came before it (the
    /// delimiter is removed, unlike `BufRead::read_until`); `Ok(None)` at
    /// end of stream. Bounded like [`read_line`](BufferedStream::read_line):
    /// more than [`max_line`](BufferedStream::max_line) bytes without the
    /// delimiter is a [`BufferError::LineTooLong`] error. To reuse one
    /// vector, see [`read_until_into`](BufferedStream::read_until_into).
    ///
    /// ```
    /// runtime::block_on(async {
    ///     let (mut a, mut b) = runtime::io::pair();
    ///     a.write_all(b"key=value;next").await?;
    ///     a.finish().await?;
    ///     assert_eq!(b.read_until(b'=').await?.unwrap(), b"key");
    ///     assert_eq!(b.read_until(b';').await?.unwrap(), b"value");
    ///     assert!(b.read_until(b';').await.is_err()); // "next" never ends
    ///     Ok::<(), std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn read_until(&mut self, byte: u8) -> io::Result<Option<Vec<u8>>> {
        poll_fn(|cx| self.poll_read_until(cx, byte)).await
    }

    /// [`read_until`](BufferedStream::read_until) into a vector the caller
    /// keeps: what came before the next `byte` is **appended** to `line`
    /// (the delimiter is removed; [the `_into` rule](crate::stream#the-_into-rule),
    /// as `BufRead::read_until`, which keeps the delimiter, though).
    /// `Ok(Some(n))`: `n` bytes were appended; `Ok(None)`: end of stream.
    /// Bounds and errors are exactly `read_until`'s; on `Ok(None)` and on
    /// errors `line` is unchanged.
    ///
    /// ```
    /// runtime::block_on(async {
    ///     let (mut a, mut b) = runtime::io::pair();
    ///     a.write_all(b"x=1&yy=22&").await?;
    ///     a.finish().await?;
    ///     let mut fields = Vec::new();
    ///     // Appending: one vector collects every field.
    ///     while let Some(_) = b.read_until_into(b'&', &mut fields).await? {
    ///         fields.push(b'|');
    ///     }
    ///     assert_eq!(fields, b"x=1|yy=22|");
    ///     Ok::<(), std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn read_until_into(
        &mut self,
        byte: u8,
        line: &mut Vec<u8>,
    ) -> io::Result<Option<usize>> {
        poll_fn(|cx| self.poll_read_until_into(cx, byte, line)).await
    }
}
