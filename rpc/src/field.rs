//! Field types a message may hold, and how each is written as a tagged
//! element: `int` is `u32`, `int64` is `u64`, `string` is `String`,
//! `bytes` is `Vec<u8>`, `bytes name[N]` is `[u8; N]`, a timeval is
//! [`Timeval`], `struct[Other]` is the message type `Other`.

use crate::error::DecodeError;
use crate::tag;
use std::time::Duration;

/// Decoding options, passed down to nested messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Skip elements whose tag the message does not define. Off by
    /// default: libevent's generated decoders refuse them.
    pub skip_unknown: bool,
}

/// A value that is written as one tagged element. Implemented for the
/// evtag field types and, by [`message!`](crate::message), for every
/// message (a nested struct is a tagged blob of its own fields).
pub trait Field: Sized {
    /// Appends `self` as an element tagged `tag`.
    fn marshal_field(&self, tag: u32, out: &mut Vec<u8>);
    /// Decodes the payload of an element tagged `tag`.
    fn unmarshal_field(tag: u32, payload: &[u8], options: &Options) -> Result<Self, DecodeError>;
    /// The first missing required field inside `self` (only messages have
    /// any).
    fn missing_field(&self) -> Option<&'static str> {
        None
    }
}

impl Field for u32 {
    fn marshal_field(&self, t: u32, out: &mut Vec<u8>) {
        tag::marshal_int(out, t, *self);
    }
    fn unmarshal_field(_: u32, payload: &[u8], _: &Options) -> Result<u32, DecodeError> {
        tag::decode_int_payload(payload)
    }
}

impl Field for u64 {
    fn marshal_field(&self, t: u32, out: &mut Vec<u8>) {
        tag::marshal_int64(out, t, *self);
    }
    fn unmarshal_field(_: u32, payload: &[u8], _: &Options) -> Result<u64, DecodeError> {
        tag::decode_int64_payload(payload)
    }
}

impl Field for String {
    fn marshal_field(&self, t: u32, out: &mut Vec<u8>) {
        tag::marshal_string(out, t, self);
    }
    fn unmarshal_field(t: u32, payload: &[u8], _: &Options) -> Result<String, DecodeError> {
        tag::decode_string_payload(t, payload)
    }
}

impl Field for Vec<u8> {
    fn marshal_field(&self, t: u32, out: &mut Vec<u8>) {
        tag::marshal(out, t, self);
    }
    fn unmarshal_field(_: u32, payload: &[u8], _: &Options) -> Result<Vec<u8>, DecodeError> {
        Ok(payload.to_vec())
    }
}

impl<const N: usize> Field for [u8; N] {
    fn marshal_field(&self, t: u32, out: &mut Vec<u8>) {
        tag::marshal(out, t, self);
    }
    fn unmarshal_field(t: u32, payload: &[u8], _: &Options) -> Result<[u8; N], DecodeError> {
        payload.try_into().map_err(|_| DecodeError::FixedLength {
            tag: t,
            expected: N,
            found: payload.len(),
        })
    }
}

/// A `struct timeval` as evtag writes it: 32-bit seconds and microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Timeval {
    /// Seconds.
    pub secs: u32,
    /// Microseconds.
    pub usecs: u32,
}

impl Timeval {
    /// The timeval `secs` seconds and `usecs` microseconds.
    pub fn new(secs: u32, usecs: u32) -> Timeval {
        Timeval { secs, usecs }
    }
}

impl From<Timeval> for Duration {
    fn from(tv: Timeval) -> Duration {
        Duration::from_secs(u64::from(tv.secs)) + Duration::from_micros(u64::from(tv.usecs))
    }
}

impl Field for Timeval {
    fn marshal_field(&self, t: u32, out: &mut Vec<u8>) {
        tag::marshal_timeval(out, t, self.secs, self.usecs);
    }
    fn unmarshal_field(_: u32, payload: &[u8], _: &Options) -> Result<Timeval, DecodeError> {
        tag::decode_timeval_payload(payload).map(|(secs, usecs)| Timeval { secs, usecs })
    }
}
