//! Searching across chunk boundaries, end-of-line styles and line reading
//! (`evbuffer_search*`, `evbuffer_readln`).

use std::ops::ControlFlow;

use super::error::BufferError;
use super::Buffer;

/// End-of-line styles, exactly libevent's `enum evbuffer_eol_style`.
///
/// ```
/// use runtime::io::{Buffer, Eol};
///
/// let mut buf = Buffer::new();
/// buf.add(b"a\r\n\r\nb\nc\rd\r\n")?;
/// // Any run of CR and LF characters is one end of line.
/// assert_eq!(buf.readln(Eol::Any)?.unwrap(), b"a");
/// // LF, optionally preceded by CR; a lone CR is data.
/// assert_eq!(buf.readln(Eol::Crlf)?.unwrap(), b"b");
/// assert_eq!(buf.readln(Eol::Crlf)?.unwrap(), b"c\rd");
/// # Ok::<(), runtime::io::BufferError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Eol {
    /// `EVBUFFER_EOL_ANY`: any sequence of CR and LF characters is one end
    /// of line (so `"\r\n\n\r"` is one; a CR and an LF that arrive in
    /// separate reads make two, since the line is returned as soon as the
    /// CR is there).
    Any,
    /// `EVBUFFER_EOL_CRLF`: an LF, optionally preceded by a CR (removed with
    /// it). A lone CR is data.
    Crlf,
    /// `EVBUFFER_EOL_CRLF_STRICT`: exactly CR LF. A bare LF is data, and a
    /// trailing CR waits for its LF.
    CrlfStrict,
    /// `EVBUFFER_EOL_LF`: LF only; CR is data.
    Lf,
    /// `EVBUFFER_EOL_NUL`: a single NUL byte.
    Nul,
}

/// What ends a line for the line readers: an end-of-line style
/// (`readln`, `read_line`) or one delimiter byte (`read_until`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delim {
    /// An end of line of this style.
    Eol(Eol),
    /// This byte.
    Byte(u8),
}

impl Buffer {
    /// Position of the first occurrence of `needle` (`evbuffer_search`),
    /// found across chunk boundaries. An empty needle matches at 0.
    ///
    /// ```
    /// use runtime::io::Buffer;
    ///
    /// let mut buf = Buffer::with_chunk_size(3);
    /// buf.add(b"abc")?;
    /// buf.add(b"def")?;
    /// assert_eq!(buf.search(b"cd")?, Some(2));
    /// assert_eq!(buf.search(b"xyz")?, None);
    /// # Ok::<(), runtime::io::BufferError>(())
    /// ```
    pub fn search(&self, needle: &[u8]) -> Result<Option<usize>, BufferError> {
        self.search_range(needle, 0, self.len)
    }

    /// Position of the first occurrence of `needle` at or after `pos`
    /// (`None` if `pos > len()`).
    ///
    /// ```
    /// use runtime::io::Buffer;
    ///
    /// let mut buf = Buffer::new();
    /// buf.add(b"one two one")?;
    /// assert_eq!(buf.search_from(b"one", 1)?, Some(8));
    /// # Ok::<(), runtime::io::BufferError>(())
    /// ```
    pub fn search_from(&self, needle: &[u8], pos: usize) -> Result<Option<usize>, BufferError> {
        self.search_range(needle, pos, self.len)
    }

    /// Position of the first occurrence of `needle` lying entirely within
    /// bytes `start..end` (`evbuffer_search_range`; `end` is clamped to
    /// `len()`).
    ///
    /// ```
    /// use runtime::io::Buffer;
    ///
    /// let mut buf = Buffer::new();
    /// buf.add(b"xxabxxab")?;
    /// assert_eq!(buf.search_range(b"ab", 0, 3)?, None); // would end past 3
    /// assert_eq!(buf.search_range(b"ab", 0, 4)?, Some(2));
    /// assert_eq!(buf.search_range(b"ab", 3, 8)?, Some(6));
    /// # Ok::<(), runtime::io::BufferError>(())
    /// ```
    pub fn search_range(
        &self,
        needle: &[u8],
        start: usize,
        end: usize,
    ) -> Result<Option<usize>, BufferError> {
        let end = end.min(self.len);
        if needle.is_empty() {
            return Ok((start <= end).then_some(start));
        }
        let nlen = needle.len();
        if start >= end || end - start < nlen {
            return Ok(None);
        }
        self.for_each_block(start, end, |bpos, s| {
            // Matches inside this block: the earliest is the answer (any
            // earlier match crossing into this block was checked with the
            // previous one).
            if let Some(i) = memmem(s, needle) {
                return Ok(ControlFlow::Break(bpos + i));
            }
            // Matches starting in this block and crossing its end.
            let from = s.len().saturating_sub(nlen - 1);
            for (i, &c) in s.iter().enumerate().skip(from) {
                if c != needle[0] {
                    continue;
                }
                let p = bpos + i;
                if p + nlen > end {
                    break;
                }
                if self.matches_at(p, needle)? {
                    return Ok(ControlFlow::Break(p));
                }
            }
            Ok(ControlFlow::Continue(()))
        })
    }

    /// Finds the first end of line of `style` at or after `pos`
    /// (`evbuffer_search_eol`): `Some((position, eol_len))`, where the line
    /// ends at `position` and the end-of-line marker is `eol_len` bytes.
    ///
    /// ```
    /// use runtime::io::{Buffer, Eol};
    ///
    /// let mut buf = Buffer::with_chunk_size(4);
    /// buf.add(b"abc\r")?;
    /// buf.add(b"\ndef")?; // the CRLF is split across two chunks
    /// assert_eq!(buf.search_eol(0, Eol::CrlfStrict)?, Some((3, 2)));
    /// assert_eq!(buf.search_eol(0, Eol::Lf)?, Some((4, 1)));
    /// assert_eq!(buf.search_eol(5, Eol::Any)?, None);
    /// # Ok::<(), runtime::io::BufferError>(())
    /// ```
    pub fn search_eol(
        &self,
        pos: usize,
        style: Eol,
    ) -> Result<Option<(usize, usize)>, BufferError> {
        self.find_eol(pos, self.len, style)
    }

    /// Removes and returns the first line, without its end of line
    /// (`evbuffer_readln`); `None` (buffer unchanged) when no complete line
    /// is there yet. The line may contain NUL bytes. To reuse one vector
    /// for many lines, see [`readln_into`](Buffer::readln_into).
    ///
    /// ```
    /// use runtime::io::{Buffer, Eol};
    ///
    /// let mut buf = Buffer::new();
    /// buf.add(b"first\r\nsecond")?;
    /// assert_eq!(buf.readln(Eol::CrlfStrict)?.unwrap(), b"first");
    /// assert_eq!(buf.readln(Eol::CrlfStrict)?, None);
    /// assert_eq!(buf.len(), 6);
    /// # Ok::<(), runtime::io::BufferError>(())
    /// ```
    pub fn readln(&mut self, style: Eol) -> Result<Option<Vec<u8>>, BufferError> {
        let mut line = Vec::new();
        Ok(self.readln_into(style, &mut line)?.map(|_| line))
    }

    /// [`readln`](Buffer::readln) into a vector the caller keeps: removes
    /// the first line and **appends** it, without its end of line, to
    /// `line` (reusing its capacity: no allocation once it is large
    /// enough). `Some(n)`: a line of `n` bytes was appended; `None`: no
    /// complete line yet. On `None` or an error neither the buffer nor
    /// `line` changes.
    ///
    /// This is the crate's `_into` rule, the same for every `_into` line
    /// reader (here and on `BufferedStream`): like std's
    /// `BufRead::read_line`, they append and never clear.
    ///
    /// ```
    /// use runtime::io::{Buffer, Eol};
    ///
    /// let mut buf = Buffer::new();
    /// buf.add(b"one\ntwo\nthr")?;
    /// let mut line = Vec::new();
    /// assert_eq!(buf.readln_into(Eol::Lf, &mut line)?, Some(3));
    /// assert_eq!(line, b"one");
    /// line.clear(); // it appends: clear between lines
    /// assert_eq!(buf.readln_into(Eol::Lf, &mut line)?, Some(3));
    /// assert_eq!(line, b"two");
    /// assert_eq!(buf.readln_into(Eol::Lf, &mut line)?, None);
    /// assert_eq!(line, b"two");
    /// assert_eq!(buf.len(), 3);
    /// # Ok::<(), runtime::io::BufferError>(())
    /// ```
    pub fn readln_into(
        &mut self,
        style: Eol,
        line: &mut Vec<u8>,
    ) -> Result<Option<usize>, BufferError> {
        self.readln_max_into(style, usize::MAX, line)
    }

    /// [`readln`](Buffer::readln) for lines of at most `max` bytes (end of
    /// line excluded): fails with [`BufferError::LineTooLong`], leaving the
    /// buffer unchanged, as soon as it is certain that the first line is
    /// longer; looks at no more than `max + 2` bytes. To reuse one vector
    /// for many lines, see [`readln_max_into`](Buffer::readln_max_into).
    ///
    /// ```
    /// use runtime::io::{Buffer, BufferError, Eol};
    ///
    /// let mut buf = Buffer::new();
    /// buf.add(b"0123456789")?;
    /// assert_eq!(buf.readln_max(Eol::Lf, 16)?, None); // may still end in time
    /// assert!(matches!(buf.readln_max(Eol::Lf, 8), Err(BufferError::LineTooLong)));
    /// assert_eq!(buf.len(), 10);
    /// # Ok::<(), runtime::io::BufferError>(())
    /// ```
    pub fn readln_max(&mut self, style: Eol, max: usize) -> Result<Option<Vec<u8>>, BufferError> {
        let mut line = Vec::new();
        Ok(self.readln_max_into(style, max, &mut line)?.map(|_| line))
    }

    /// [`readln_max`](Buffer::readln_max) into a vector the caller keeps:
    /// the bounded [`readln_into`](Buffer::readln_into), with the same
    /// `_into` rule. **Appends** the line (at most `max` bytes) to `line`
    /// and returns `Some(its length)`; `None` when no complete line is
    /// there yet; on `None` or an error ([`BufferError::LineTooLong`]
    /// included) neither the buffer nor `line` changes.
    ///
    /// ```
    /// use runtime::io::{Buffer, BufferError, Eol};
    ///
    /// let mut buf = Buffer::new();
    /// buf.add(b"ok\r\n0123456789")?;
    /// let mut line = b"> ".to_vec();
    /// assert_eq!(buf.readln_max_into(Eol::Crlf, 8, &mut line)?, Some(2));
    /// assert_eq!(line, b"> ok");
    /// let err = buf.readln_max_into(Eol::Crlf, 8, &mut line);
    /// assert!(matches!(err, Err(BufferError::LineTooLong)));
    /// assert_eq!(line, b"> ok");
    /// assert_eq!(buf.len(), 10);
    /// # Ok::<(), runtime::io::BufferError>(())
    /// ```
    pub fn readln_max_into(
        &mut self,
        style: Eol,
        max: usize,
        line: &mut Vec<u8>,
    ) -> Result<Option<usize>, BufferError> {
        self.readln_delim_into(Delim::Eol(style), max, line)
    }

    /// The one line reader under `readln`, `readln_into`, `readln_max`,
    /// `readln_max_into` and `BufferedStream`'s line readers: removes the
    /// first line ending in `delim`, of at most `max` bytes, and appends it
    /// without its end of line to `line`; `None` when no complete line is
    /// there yet; [`BufferError::LineTooLong`] as soon as it is certain
    /// that the line is longer. Looks at no more than `max + 2` bytes. On
    /// `None` or an error neither the buffer nor `line` changes.
    pub(crate) fn readln_delim_into(
        &mut self,
        delim: Delim,
        max: usize,
        line: &mut Vec<u8>,
    ) -> Result<Option<usize>, BufferError> {
        self.check_front()?;
        let scan_end = max.saturating_add(2).min(self.len);
        let found = match delim {
            Delim::Eol(style) => self.find_eol(0, scan_end, style)?,
            Delim::Byte(b) => self.find_byte(b, 0, scan_end)?.map(|p| (p, 1)),
        };
        match found {
            Some((p, l)) if p <= max => self.take_line_into(p, l, line).map(Some),
            Some(_) => Err(BufferError::LineTooLong),
            None if self.len <= max => Ok(None),
            None => {
                // A CR at `max` may still be followed by its LF.
                let pending_cr = matches!(delim, Delim::Eol(Eol::Crlf | Eol::CrlfStrict))
                    && max.checked_add(1) == Some(self.len)
                    && self.byte_at(max)? == Some(b'\r');
                if pending_cr {
                    Ok(None)
                } else {
                    Err(BufferError::LineTooLong)
                }
            }
        }
    }

    /// Removes a line of `p` bytes followed by an `l`-byte end of line,
    /// appending the line to `line`; returns `p`.
    fn take_line_into(
        &mut self,
        p: usize,
        l: usize,
        line: &mut Vec<u8>,
    ) -> Result<usize, BufferError> {
        self.copy_range_into(0, p, line)?;
        self.drain_unchecked(p + l);
        Ok(p)
    }

    /// End of line of `style` whose search character lies in `start..end`.
    fn find_eol(
        &self,
        start: usize,
        end: usize,
        style: Eol,
    ) -> Result<Option<(usize, usize)>, BufferError> {
        let found = match style {
            Eol::Lf => self.find_byte(b'\n', start, end)?.map(|p| (p, 1)),
            Eol::Nul => self.find_byte(0, start, end)?.map(|p| (p, 1)),
            Eol::CrlfStrict => self.search_range(b"\r\n", start, end)?.map(|p| (p, 2)),
            Eol::Crlf => match self.find_byte(b'\n', start, end)? {
                Some(p) if p > start && self.byte_at(p - 1)? == Some(b'\r') => Some((p - 1, 2)),
                Some(p) => Some((p, 1)),
                None => None,
            },
            Eol::Any => {
                let first = self.for_each_block(start, end, |bpos, s| {
                    Ok(match s.iter().position(|&c| c == b'\r' || c == b'\n') {
                        Some(i) => ControlFlow::Break(bpos + i),
                        None => ControlFlow::Continue(()),
                    })
                })?;
                match first {
                    Some(p) => {
                        let run = self.for_each_block(p, self.len, |bpos, s| {
                            Ok(match s.iter().position(|&c| c != b'\r' && c != b'\n') {
                                Some(i) => ControlFlow::Break(bpos + i - p),
                                None => ControlFlow::Continue(()),
                            })
                        })?;
                        Some((p, run.unwrap_or(self.len - p)))
                    }
                    None => None,
                }
            }
        };
        Ok(found)
    }

    /// Position of the first `b` in `start..end`.
    fn find_byte(&self, b: u8, start: usize, end: usize) -> Result<Option<usize>, BufferError> {
        self.for_each_block(start, end, |bpos, s| {
            Ok(match memchr(s, b) {
                Some(i) => ControlFlow::Break(bpos + i),
                None => ControlFlow::Continue(()),
            })
        })
    }

    /// Whether `needle` occurs at `pos`.
    fn matches_at(&self, pos: usize, needle: &[u8]) -> Result<bool, BufferError> {
        match pos.checked_add(needle.len()) {
            Some(end) if end <= self.len => {}
            _ => return Ok(false),
        }
        let mismatch = self.for_each_block(pos, pos + needle.len(), |bpos, s| {
            let o = bpos - pos;
            Ok(if needle.get(o..o + s.len()) == Some(s) {
                ControlFlow::Continue(())
            } else {
                ControlFlow::Break(())
            })
        })?;
        Ok(mismatch.is_none())
    }
}

/// `memchr(3)`: glibc's is vectorised.
fn memchr(hay: &[u8], b: u8) -> Option<usize> {
    if hay.is_empty() {
        return None;
    }
    // SAFETY: the pointer and length describe `hay`, which memchr only reads.
    let p = unsafe { libc::memchr(hay.as_ptr().cast(), i32::from(b), hay.len()) };
    if p.is_null() {
        None
    } else {
        Some(p as usize - hay.as_ptr() as usize)
    }
}

/// `memmem(3)`: first occurrence of `needle` (non-empty) in `hay`.
fn memmem(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return None;
    }
    if cfg!(miri) {
        // Miri cannot call libc's memmem; the same answer, found slowly, so
        // the buffer's own unsafe code can still be checked there.
        return hay.windows(needle.len()).position(|w| w == needle);
    }
    // SAFETY: both pointers and lengths describe live slices, which memmem
    // only reads.
    let p = unsafe {
        libc::memmem(
            hay.as_ptr().cast(),
            hay.len(),
            needle.as_ptr().cast(),
            needle.len(),
        )
    };
    if p.is_null() {
        None
    } else {
        Some(p as usize - hay.as_ptr() as usize)
    }
}
