//! The evtag wire format (libevent's `event_tagging.c`): tags, the nibble
//! integer encoding, and tagged elements (tag, length, payload).
//!
//! Encoding appends to a `Vec<u8>`; decoding reads a byte slice through a
//! [`Reader`] whose every read is bounds-checked. A payload is always a
//! sub-slice of the input, so a hostile length never makes the decoder
//! allocate more than the message holds.

use crate::error::DecodeError;

/// Appends `tag` as base-128 groups, least significant first, the high bit
/// set on every byte but the last (`evtag_encode_tag`): 1 to 5 bytes.
pub fn encode_tag(out: &mut Vec<u8>, mut tag: u32) {
    loop {
        let low = (tag & 0x7f) as u8;
        tag >>= 7;
        if tag == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

/// Appends `value` in the nibble encoding (`evtag_encode_int`): a header
/// nibble holding the nibble count minus one, then the value's nibbles,
/// least significant first, two per byte, the first in the high half.
pub fn encode_int(out: &mut Vec<u8>, value: u32) {
    encode_int64(out, u64::from(value));
}

/// Appends a 64-bit `value` in the nibble encoding (`evtag_encode_int64`):
/// 1 to 9 bytes.
pub fn encode_int64(out: &mut Vec<u8>, value: u64) {
    let nibbles = if value == 0 {
        1
    } else {
        (64 - value.leading_zeros()).div_ceil(4) as usize
    };
    let header = if nibbles >= 2 { nibbles - 1 } else { 0 } as u8;
    // The stream is [header, n0, n1, ...]: nibble i (counting the header
    // as 0) goes in byte i / 2, the high half when i is even.
    let len = (1 + nibbles).div_ceil(2);
    let start = out.len();
    out.resize(start + len, 0);
    let bytes = &mut out[start..];
    bytes[0] = header << 4;
    for i in 0..nibbles {
        let nib = ((value >> (4 * i)) & 0xf) as u8;
        let pos = i + 1;
        if pos % 2 == 0 {
            bytes[pos / 2] |= nib << 4;
        } else {
            bytes[pos / 2] |= nib;
        }
    }
}

/// Bytes [`encode_int64`] writes for `value`.
pub fn int_len(value: u64) -> usize {
    let nibbles = if value == 0 {
        1
    } else {
        (64 - value.leading_zeros()).div_ceil(4) as usize
    };
    (1 + nibbles).div_ceil(2)
}

/// Appends a tagged element: `tag`, the payload length, the payload
/// (`evtag_marshal`).
pub fn marshal(out: &mut Vec<u8>, tag: u32, payload: &[u8]) {
    encode_tag(out, tag);
    encode_int(out, payload_len(payload.len()));
    out.extend_from_slice(payload);
}

/// Appends a tagged element whose payload `write` appends, writing the
/// length in front afterwards (used for nested messages).
pub fn marshal_with(out: &mut Vec<u8>, tag: u32, write: impl FnOnce(&mut Vec<u8>)) {
    encode_tag(out, tag);
    // Encode the payload after a provisional one-byte length, then move it
    // if the real length needs more bytes.
    let len_at = out.len();
    out.push(0);
    let body_at = out.len();
    write(out);
    let body_len = out.len() - body_at;
    let mut len_bytes = Vec::with_capacity(5);
    encode_int(&mut len_bytes, payload_len(body_len));
    out.splice(len_at..body_at, len_bytes);
}

fn payload_len(len: usize) -> u32 {
    // libevent's lengths are 32-bit; a larger payload cannot be framed.
    u32::try_from(len).expect("evtag payloads are limited to 4 GiB - 1")
}

/// Appends a tagged 32-bit integer: tag, length, the encoded integer
/// (`evtag_marshal_int`).
pub fn marshal_int(out: &mut Vec<u8>, tag: u32, value: u32) {
    marshal_int64(out, tag, u64::from(value));
}

/// Appends a tagged 64-bit integer (`evtag_marshal_int64`).
pub fn marshal_int64(out: &mut Vec<u8>, tag: u32, value: u64) {
    encode_tag(out, tag);
    encode_int(out, int_len(value) as u32);
    encode_int64(out, value);
}

/// Appends a tagged string without its NUL (`evtag_marshal_string`).
pub fn marshal_string(out: &mut Vec<u8>, tag: u32, value: &str) {
    marshal(out, tag, value.as_bytes());
}

/// Appends a tagged timeval: seconds then microseconds, each a 32-bit
/// nibble integer (`evtag_marshal_timeval`).
pub fn marshal_timeval(out: &mut Vec<u8>, tag: u32, secs: u32, usecs: u32) {
    encode_tag(out, tag);
    let len = int_len(u64::from(secs)) + int_len(u64::from(usecs));
    encode_int(out, len as u32);
    encode_int(out, secs);
    encode_int(out, usecs);
}

/// Decodes a nibble integer at the start of `bytes` holding at most
/// `max_nibbles` nibbles; returns it and the bytes it used. Non-minimal
/// encodings are accepted, as libevent does.
pub fn decode_int_prefix(bytes: &[u8], max_nibbles: u8) -> Result<(u64, usize), DecodeError> {
    let Some(&first) = bytes.first() else {
        return Err(DecodeError::Truncated {
            needed: 1,
            remaining: 0,
        });
    };
    let nibbles = (first >> 4) + 1;
    if nibbles > max_nibbles {
        return Err(DecodeError::IntegerTooLong {
            nibbles,
            max: max_nibbles,
        });
    }
    let len = usize::from(nibbles >> 1) + 1;
    if len > bytes.len() {
        return Err(DecodeError::Truncated {
            needed: len,
            remaining: bytes.len(),
        });
    }
    let mut value = 0u64;
    for pos in (1..=usize::from(nibbles)).rev() {
        let byte = bytes[pos / 2];
        let nib = if pos % 2 == 1 { byte & 0xf } else { byte >> 4 };
        value = (value << 4) | u64::from(nib);
    }
    Ok((value, len))
}

/// Decodes a tag at the start of `bytes`; returns it and the bytes it used.
pub fn decode_tag_prefix(bytes: &[u8]) -> Result<(u32, usize), DecodeError> {
    let mut tag = 0u32;
    for (i, &byte) in bytes.iter().enumerate() {
        let shift = 7 * i as u32;
        if shift >= 28 {
            // The fifth byte may carry 4 more bits only, and ends the tag.
            if shift > 28 || byte & 0x7f > 15 || byte & 0x80 != 0 {
                return Err(DecodeError::TagTooLarge);
            }
        }
        tag |= u32::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok((tag, i + 1));
        }
    }
    Err(DecodeError::Truncated {
        needed: bytes.len() + 1,
        remaining: bytes.len(),
    })
}

/// A bounds-checked cursor over an evtag stream.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `bytes`.
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { rest: bytes }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> &'a [u8] {
        self.rest
    }

    /// Whether everything has been read.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next tag, without consuming it (`evtag_peek`).
    pub fn peek_tag(&self) -> Result<u32, DecodeError> {
        decode_tag_prefix(self.rest).map(|(tag, _)| tag)
    }

    /// Reads a bare tag.
    pub fn read_tag(&mut self) -> Result<u32, DecodeError> {
        let (tag, used) = decode_tag_prefix(self.rest)?;
        self.rest = &self.rest[used..];
        Ok(tag)
    }

    /// Reads a bare 32-bit nibble integer (`evtag_decode_int`).
    pub fn read_int(&mut self) -> Result<u32, DecodeError> {
        let (value, used) = decode_int_prefix(self.rest, 8)?;
        self.rest = &self.rest[used..];
        Ok(value as u32)
    }

    /// Reads a bare 64-bit nibble integer.
    pub fn read_int64(&mut self) -> Result<u64, DecodeError> {
        let (value, used) = decode_int_prefix(self.rest, 16)?;
        self.rest = &self.rest[used..];
        Ok(value)
    }

    /// Reads one tagged element and returns its tag and payload; the
    /// payload length is checked against what remains
    /// (`evtag_unmarshal_header`).
    pub fn read_element(&mut self) -> Result<(u32, &'a [u8]), DecodeError> {
        let mut r = self.clone();
        let tag = r.read_tag()?;
        let length = r.read_int()?;
        if length as usize > r.rest.len() {
            return Err(DecodeError::LengthBeyondMessage {
                length,
                remaining: r.rest.len(),
            });
        }
        let (payload, rest) = r.rest.split_at(length as usize);
        self.rest = rest;
        Ok((tag, payload))
    }

    /// Reads one tagged element, which must carry `tag`.
    pub fn read_expected(&mut self, tag: u32) -> Result<&'a [u8], DecodeError> {
        let (found, payload) = self.read_element()?;
        if found != tag {
            return Err(DecodeError::UnexpectedTag {
                expected: tag,
                found,
            });
        }
        Ok(payload)
    }

    /// Reads a tagged 32-bit integer (`evtag_unmarshal_int`).
    pub fn read_tagged_int(&mut self, tag: u32) -> Result<u32, DecodeError> {
        decode_int_payload(self.read_expected(tag)?)
    }

    /// Reads a tagged 64-bit integer (`evtag_unmarshal_int64`).
    pub fn read_tagged_int64(&mut self, tag: u32) -> Result<u64, DecodeError> {
        decode_int64_payload(self.read_expected(tag)?)
    }

    /// Reads a tagged string (`evtag_unmarshal_string`).
    pub fn read_tagged_string(&mut self, tag: u32) -> Result<String, DecodeError> {
        decode_string_payload(tag, self.read_expected(tag)?)
    }

    /// Reads a tagged timeval as (seconds, microseconds)
    /// (`evtag_unmarshal_timeval`).
    pub fn read_tagged_timeval(&mut self, tag: u32) -> Result<(u32, u32), DecodeError> {
        decode_timeval_payload(self.read_expected(tag)?)
    }

    /// Skips one tagged element (`evtag_consume`).
    pub fn skip(&mut self) -> Result<(), DecodeError> {
        self.read_element().map(|_| ())
    }
}

/// Decodes the payload of a tagged 32-bit integer. The encoded integer may
/// be shorter than the payload (the rest is ignored, as libevent drains
/// it), never longer.
pub fn decode_int_payload(payload: &[u8]) -> Result<u32, DecodeError> {
    decode_int_prefix(payload, 8).map(|(v, _)| v as u32)
}

/// Decodes the payload of a tagged 64-bit integer.
pub fn decode_int64_payload(payload: &[u8]) -> Result<u64, DecodeError> {
    decode_int_prefix(payload, 16).map(|(v, _)| v)
}

/// Decodes the payload of a tagged string.
pub fn decode_string_payload(tag: u32, payload: &[u8]) -> Result<String, DecodeError> {
    std::str::from_utf8(payload)
        .map(str::to_owned)
        .map_err(|_| DecodeError::InvalidUtf8 { tag })
}

/// Decodes the payload of a tagged timeval: two 32-bit integers.
pub fn decode_timeval_payload(payload: &[u8]) -> Result<(u32, u32), DecodeError> {
    let mut r = Reader::new(payload);
    let secs = r.read_int()?;
    let usecs = r.read_int()?;
    Ok((secs, usecs))
}
