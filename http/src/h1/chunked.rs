//! The chunked transfer coding (RFC 9112 §7.1): an incremental decoder that
//! takes input in pieces of any size (a buffer's chunks as they come) and an
//! encoder helper.
//!
//! The decoder is strict, because chunked framing is where request
//! smuggling hides: the size is hexadecimal digits only (no sign, no `0x`,
//! no leading space, at most 16 digits), optionally followed by
//! whitespace and `;` extensions (accepted and ignored, control bytes
//! refused); every line ends with CRLF (a bare LF is an error here even when
//! the head parser accepts one); the data is followed by exactly CRLF; the
//! trailer section is parsed as header fields and kept.

use crate::error::Error;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

/// Longest chunk-size line (size, extensions) accepted.
pub const MAX_CHUNK_LINE: usize = 4096;

/// What one [`ChunkedDecoder::decode`] call found.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// Body bytes (a slice of the input).
    Data(&'a [u8]),
    /// The input ended inside the framing: give more.
    NeedMore,
    /// The last chunk and the trailer section were read: the body is
    /// complete.
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading the hexadecimal size; `digits` so far.
    Size {
        digits: u8,
    },
    /// Whitespace after the size, before `;` or CR.
    SizeWs,
    /// Inside chunk extensions, up to CR.
    Ext,
    /// Expecting the LF of the size line.
    SizeLf,
    /// Inside chunk data.
    Data,
    /// Expecting CR after the data.
    DataCr,
    /// Expecting LF after the data.
    DataLf,
    /// Reading the trailer section (bytes collected in `trailer`).
    Trailer,
    Done,
}

/// An incremental decoder of the chunked transfer coding.
///
/// ```
/// use runtime::http::h1::{ChunkedDecoder, Decoded};
///
/// let mut dec = ChunkedDecoder::new();
/// let input = b"5;ext=1\r\nhello\r\n0\r\nX-Sum: 5\r\n\r\n";
/// let mut body = Vec::new();
/// let mut pos = 0;
/// loop {
///     let (used, what) = dec.decode(&input[pos..]).unwrap();
///     pos += used;
///     match what {
///         Decoded::Data(d) => body.extend_from_slice(d),
///         Decoded::Done => break,
///         Decoded::NeedMore => unreachable!(),
///     }
/// }
/// assert_eq!(body, b"hello");
/// assert_eq!(dec.trailers().get("x-sum").unwrap(), "5");
/// ```
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    /// The size being parsed, then what is left of the current chunk.
    remaining: u64,
    /// Bytes of the current size line so far.
    line: usize,
    trailer: Vec<u8>,
    max_trailer: usize,
    trailers: HeaderMap,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder::new()
    }
}

fn err(why: &'static str) -> Error {
    Error::bad(why)
}

impl ChunkedDecoder {
    /// A decoder with an 8 KiB limit on the trailer section.
    pub fn new() -> ChunkedDecoder {
        ChunkedDecoder::with_max_trailer(8 * 1024)
    }

    /// A decoder whose trailer section may hold at most `max` bytes (more
    /// is a 431 error).
    pub fn with_max_trailer(max: usize) -> ChunkedDecoder {
        ChunkedDecoder {
            state: State::Size { digits: 0 },
            remaining: 0,
            line: 0,
            trailer: Vec::new(),
            max_trailer: max,
            trailers: HeaderMap::new(),
        }
    }

    /// Whether the whole body, trailers included, has been decoded.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The trailer fields (empty until [`Decoded::Done`]).
    pub fn trailers(&self) -> &HeaderMap {
        &self.trailers
    }

    /// Takes the trailer fields out.
    pub fn take_trailers(&mut self) -> HeaderMap {
        std::mem::take(&mut self.trailers)
    }

    /// Decodes from the front of `input`: returns how many bytes of it were
    /// used and what was found. Data is returned as soon as some is
    /// available (call again with the rest of the input for more); with
    /// `NeedMore` all of `input` was used. Errors are final.
    pub fn decode<'a>(&mut self, input: &'a [u8]) -> Result<(usize, Decoded<'a>), Error> {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            match self.state {
                State::Data => {
                    let n = (input.len() - i)
                        .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
                    self.remaining -= n as u64;
                    if self.remaining == 0 {
                        self.state = State::DataCr;
                    }
                    return Ok((i + n, Decoded::Data(&input[i..i + n])));
                }
                State::Size { digits } => {
                    let v = match b {
                        b'0'..=b'9' => Some(b - b'0'),
                        b'a'..=b'f' => Some(b - b'a' + 10),
                        b'A'..=b'F' => Some(b - b'A' + 10),
                        _ => None,
                    };
                    match v {
                        Some(v) => {
                            if digits >= 16 {
                                return Err(err("chunk size too large"));
                            }
                            self.remaining = (self.remaining << 4) | u64::from(v);
                            self.state = State::Size { digits: digits + 1 };
                        }
                        None if digits == 0 => return Err(err("invalid chunk size")),
                        None => match b {
                            b'\r' => self.state = State::SizeLf,
                            b';' => self.state = State::Ext,
                            b' ' | b'\t' => self.state = State::SizeWs,
                            _ => return Err(err("invalid chunk size")),
                        },
                    }
                    self.count_line()?;
                }
                State::SizeWs => {
                    match b {
                        b' ' | b'\t' => {}
                        b';' => self.state = State::Ext,
                        b'\r' => self.state = State::SizeLf,
                        _ => return Err(err("invalid chunk size line")),
                    }
                    self.count_line()?;
                }
                State::Ext => {
                    match b {
                        b'\r' => self.state = State::SizeLf,
                        b'\t' => {}
                        0..=0x1f | 0x7f => return Err(err("invalid byte in chunk extension")),
                        _ => {}
                    }
                    self.count_line()?;
                }
                State::SizeLf => {
                    if b != b'\n' {
                        return Err(err("chunk size line not ended by CRLF"));
                    }
                    self.line = 0;
                    self.state = if self.remaining == 0 {
                        State::Trailer
                    } else {
                        State::Data
                    };
                }
                State::DataCr => {
                    if b != b'\r' {
                        return Err(err("chunk data not followed by CRLF"));
                    }
                    self.state = State::DataLf;
                }
                State::DataLf => {
                    if b != b'\n' {
                        return Err(err("chunk data not followed by CRLF"));
                    }
                    self.state = State::Size { digits: 0 };
                    self.remaining = 0;
                }
                State::Trailer => {
                    // Collect up to the empty line; bare LF refused.
                    let rest = &input[i..];
                    let take = match rest.iter().position(|&c| c == b'\n') {
                        Some(p) => p + 1,
                        None => rest.len(),
                    };
                    if self.trailer.len() + take > self.max_trailer {
                        return Err(Error::Protocol(
                            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                            "trailer section too large",
                        ));
                    }
                    let start = self.trailer.len();
                    self.trailer.extend_from_slice(&rest[..take]);
                    i += take;
                    if self.trailer.last() == Some(&b'\n') {
                        let line_start = self.trailer[..self.trailer.len() - 1]
                            .iter()
                            .rposition(|&c| c == b'\n')
                            .map_or(0, |p| p + 1);
                        let _ = start;
                        let line = &self.trailer[line_start..];
                        if line.len() < 2 || line[line.len() - 2] != b'\r' {
                            return Err(err("trailer line not ended by CRLF"));
                        }
                        if line.len() == 2 {
                            self.finish_trailers()?;
                            self.state = State::Done;
                            return Ok((i, Decoded::Done));
                        }
                    }
                    continue;
                }
                State::Done => return Ok((i, Decoded::Done)),
            }
            i += 1;
        }
        if self.state == State::Done {
            return Ok((i, Decoded::Done));
        }
        Ok((i, Decoded::NeedMore))
    }

    fn count_line(&mut self) -> Result<(), Error> {
        self.line += 1;
        if self.line > MAX_CHUNK_LINE {
            return Err(err("chunk size line too long"));
        }
        Ok(())
    }

    fn finish_trailers(&mut self) -> Result<(), Error> {
        if self.trailer.len() <= 2 {
            self.trailer = Vec::new();
            return Ok(());
        }
        let mut headers = [httparse::EMPTY_HEADER; 64];
        match httparse::parse_headers(&self.trailer, &mut headers) {
            Ok(httparse::Status::Complete((_, parsed))) => {
                for h in parsed {
                    let name = HeaderName::from_bytes(h.name.as_bytes())
                        .map_err(|_| err("invalid trailer name"))?;
                    let value = HeaderValue::from_bytes(h.value)
                        .map_err(|_| err("invalid trailer value"))?;
                    self.trailers.append(name, value);
                }
            }
            Ok(httparse::Status::Partial) => return Err(err("incomplete trailer section")),
            Err(httparse::Error::TooManyHeaders) => {
                return Err(Error::Protocol(
                    StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                    "too many trailer fields",
                ))
            }
            Err(_) => return Err(err("invalid trailer field")),
        }
        self.trailer = Vec::new();
        Ok(())
    }
}

/// The line that starts a chunk of `len` bytes: `"{len:x}\r\n"`, written
/// into `out` (at most 18 bytes); returns the used part.
pub(crate) fn chunk_header(len: usize, out: &mut [u8; 18]) -> &[u8] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut tmp = [0u8; 16];
    let mut n = 0;
    let mut v = len;
    loop {
        tmp[n] = HEX[v & 15];
        n += 1;
        v >>= 4;
        if v == 0 {
            break;
        }
    }
    for k in 0..n {
        out[k] = tmp[n - 1 - k];
    }
    out[n] = b'\r';
    out[n + 1] = b'\n';
    &out[..n + 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8], step: usize) -> Result<(Vec<u8>, bool), Error> {
        let mut d = ChunkedDecoder::new();
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < input.len() {
            let end = (pos + step).min(input.len());
            let mut piece = &input[pos..end];
            while !piece.is_empty() {
                let (used, what) = d.decode(piece)?;
                piece = &piece[used..];
                pos += used;
                match what {
                    Decoded::Data(x) => out.extend_from_slice(x),
                    Decoded::Done => return Ok((out, true)),
                    Decoded::NeedMore => {}
                }
            }
        }
        Ok((out, d.is_done()))
    }

    #[test]
    fn decodes_in_any_split() {
        let input = b"4\r\nWiki\r\n5;name=\"v\"\r\npedia\r\nE \t; x\r\n in\r\n\r\nchunks.\r\n0\r\nA: b\r\n\r\n";
        for step in 1..input.len() {
            let (out, done) = decode_all(input, step).unwrap();
            assert_eq!(out, b"Wikipedia in\r\n\r\nchunks.");
            assert!(done);
        }
    }

    #[test]
    fn rejects_bad_framing() {
        for bad in [
            &b"x\r\n"[..],
            b"-1\r\n",
            b"+1\r\n",
            b"0x1\r\n",
            b" 1\r\n",
            b"1\nA\r\n0\r\n\r\n",
            b"1\r\nAB\r\n",
            b"1\r\nA\n0\r\n\r\n",
            b"11111111111111111\r\n",
            b"1;\x01\r\n",
            b"0\r\nA: b\n\r\n",
            b"0\r\nbad header\r\n\r\n",
        ] {
            assert!(
                decode_all(bad, 1).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn header_line() {
        let mut b = [0u8; 18];
        assert_eq!(chunk_header(0, &mut b), b"0\r\n");
        assert_eq!(chunk_header(255, &mut b), b"ff\r\n");
        assert_eq!(chunk_header(usize::MAX, &mut b).len(), 18);
    }
}
