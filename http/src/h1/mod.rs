//! HTTP/1 wire format: request and response heads (parsed with `httparse`,
//! checked against request smuggling), the chunked coding, `Date`; and a
//! connection's I/O: `io` (the buffered stream, the input parsed in place,
//! the body arriving), `spare` (the thread's spare I/O vectors that
//! connections borrow while bytes are in flight), `intern` (`Host` values
//! kept for the process, so requests carry them without a copy).

pub mod chunked;
pub(crate) mod date;
pub(crate) mod encode;
pub mod head;
pub(crate) mod intern;
pub(crate) mod io;
pub(crate) mod spare;

pub use chunked::{ChunkedDecoder, Decoded};
pub use date::format_date;
pub use head::{parse_request, parse_response, Framing, HeadLimits, RequestHead, ResponseHead};
