//! The DNS wire codec: [`Message`] parsed from and written to bytes
//! (RFC 1035, AAAA, SRV, TXT, MX, CNAME, NS, SOA, PTR and the EDNS0 OPT
//! pseudo-record), names compressed on write.
//!
//! Reading is strict: every hostile shape (compression loops, forward or
//! out-of-range pointers, labels over 63 bytes, names over 255, counts or
//! lengths overrunning the message, truncated records) is a typed
//! [`WireError`]; nothing panics, and the work is bounded by the message
//! length.
//!
//! ```
//! use runtime::dns::wire::{Message, Name, RecordType};
//! let query = Message::query(0x1234, Name::from_ascii("example.com").unwrap(), RecordType::A);
//! let bytes = query.to_bytes();
//! let back = Message::parse(&bytes).unwrap();
//! assert_eq!(back.header.id, 0x1234);
//! assert_eq!(back.questions[0].qtype, RecordType::A);
//! ```

mod error;
mod message;
mod name;
mod rdata;

pub use error::WireError;
pub use message::{Edns, Header, Message, Opcode, Question, Rcode, Record};
pub(crate) use name::randomize_case_in_place;
pub use name::{Compression, Labels, Name, MAX_LABEL, MAX_NAME};
pub use rdata::{RData, RecordType, CLASS_IN};
