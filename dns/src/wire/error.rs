//! [`WireError`]: why bytes are not a DNS message (or a name is not a name).

use std::fmt;

/// A message or name that cannot be read or built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireError {
    /// The message ends inside a field (header, name, record).
    Truncated,
    /// A section count promises more entries than the message holds.
    CountOverrun,
    /// A record's RDLENGTH runs past the end of the message.
    RdataOverrun,
    /// A record's data does not fill its RDLENGTH exactly, or is too short
    /// for its type.
    RdataLength,
    /// A compression pointer points past the end of the message.
    PointerOutOfBounds,
    /// Compression pointers loop (to themselves or over several hops).
    PointerLoop,
    /// A compression pointer points forward (not to a prior occurrence).
    PointerForward,
    /// A label type other than a length or a pointer (0x40, 0x80).
    BadLabelType,
    /// A label longer than 63 bytes.
    LabelTooLong,
    /// A name longer than 255 bytes in wire form.
    NameTooLong,
    /// An empty label inside a name (`a..b`).
    EmptyLabel,
    /// A bad `\` escape in a dotted name.
    BadEscape,
    /// More than one OPT record, or an OPT record outside the additional
    /// section or not owned by the root.
    BadOpt,
    /// The message would exceed 65535 bytes.
    TooLarge,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WireError::Truncated => "message truncated inside a field",
            WireError::CountOverrun => "section count exceeds the records in the message",
            WireError::RdataOverrun => "record data length runs past the end of the message",
            WireError::RdataLength => "record data does not match its length",
            WireError::PointerOutOfBounds => "compression pointer past the end of the message",
            WireError::PointerLoop => "compression pointer loop",
            WireError::PointerForward => "compression pointer points forward",
            WireError::BadLabelType => "unknown label type",
            WireError::LabelTooLong => "label longer than 63 bytes",
            WireError::NameTooLong => "name longer than 255 bytes",
            WireError::EmptyLabel => "empty label in name",
            WireError::BadEscape => "bad escape in name",
            WireError::BadOpt => "misplaced or repeated OPT record",
            WireError::TooLarge => "message larger than 65535 bytes",
        })
    }
}

impl std::error::Error for WireError {}
