//! The decoder's typed errors.

use std::fmt;

/// Why bytes could not be decoded. Every read of the decoder is
/// bounds-checked and fails with one of these; none panics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// A tag or an integer runs past the end of its input.
    Truncated {
        /// Bytes the item needs.
        needed: usize,
        /// Bytes that remain.
        remaining: usize,
    },
    /// A length field is larger than what remains of the message
    /// (libevent's `evtag_unmarshal_header` check, hardened in 2.1.13).
    LengthBeyondMessage {
        /// The declared payload length.
        length: u32,
        /// Bytes that remain after the header.
        remaining: usize,
    },
    /// A tag does not fit in 32 bits.
    TagTooLarge,
    /// An integer declares more nibbles than its width holds (8 for a
    /// 32-bit, 16 for a 64-bit integer).
    IntegerTooLong {
        /// Nibbles declared by the header nibble.
        nibbles: u8,
        /// The most the integer type holds.
        max: u8,
    },
    /// A fixed-length byte field has the wrong length.
    FixedLength {
        /// The tag of the field.
        tag: u32,
        /// The declared size.
        expected: usize,
        /// The size found on the wire.
        found: usize,
    },
    /// A string field is not UTF-8.
    InvalidUtf8 {
        /// The tag of the field.
        tag: u32,
    },
    /// A tag other than the one expected.
    UnexpectedTag {
        /// The tag wanted.
        expected: u32,
        /// The tag found.
        found: u32,
    },
    /// A tag the message does not define (libevent's generated decoders
    /// refuse these; see [`Options::skip_unknown`](crate::Options)).
    UnknownTag {
        /// The message being decoded.
        message: &'static str,
        /// The tag found.
        tag: u32,
    },
    /// A non-array field appears twice.
    DuplicateTag {
        /// The message being decoded.
        message: &'static str,
        /// The repeated tag.
        tag: u32,
    },
    /// A required field is missing after decoding (the generated
    /// `_unmarshal` calls `_complete`).
    Incomplete {
        /// The message being decoded.
        message: &'static str,
        /// The first missing required field.
        field: &'static str,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated { needed, remaining } => {
                write!(f, "truncated: {needed} bytes needed, {remaining} remain")
            }
            DecodeError::LengthBeyondMessage { length, remaining } => write!(
                f,
                "length {length} is beyond the {remaining} bytes that remain"
            ),
            DecodeError::TagTooLarge => f.write_str("tag does not fit in 32 bits"),
            DecodeError::IntegerTooLong { nibbles, max } => {
                write!(f, "integer of {nibbles} nibbles, at most {max} allowed")
            }
            DecodeError::FixedLength {
                tag,
                expected,
                found,
            } => write!(
                f,
                "tag {tag:#x}: fixed field of {expected} bytes has {found}"
            ),
            DecodeError::InvalidUtf8 { tag } => write!(f, "tag {tag:#x}: string is not UTF-8"),
            DecodeError::UnexpectedTag { expected, found } => {
                write!(f, "expected tag {expected:#x}, found {found:#x}")
            }
            DecodeError::UnknownTag { message, tag } => {
                write!(f, "{message}: unknown tag {tag:#x}")
            }
            DecodeError::DuplicateTag { message, tag } => {
                write!(f, "{message}: tag {tag:#x} repeated")
            }
            DecodeError::Incomplete { message, field } => {
                write!(f, "{message}: required field {field} missing")
            }
        }
    }
}

impl std::error::Error for DecodeError {}
