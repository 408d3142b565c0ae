//! Messages: structs of tagged fields, declared with [`message!`].

use crate::error::DecodeError;
use crate::field::Options;

/// A message type (an evrpc struct): what [`message!`](crate::message)
/// generates.
pub trait Message: Default + 'static {
    /// The struct's name.
    const NAME: &'static str;

    /// Appends the fields in declaration order: optional fields only when
    /// set, array fields as one element per entry (`Name_marshal`).
    fn marshal_into(&self, out: &mut Vec<u8>);

    /// The marshalled fields.
    fn marshal(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.marshal_into(&mut out);
        out
    }

    /// Decodes a message with `options` (`Name_unmarshal`): a repeated
    /// non-array tag is an error, an unknown tag is an error unless
    /// skipped, and every required field must be present.
    fn unmarshal_with(bytes: &[u8], options: &Options) -> Result<Self, DecodeError>;

    /// Decodes a message as libevent's generated decoders do.
    fn unmarshal(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::unmarshal_with(bytes, &Options::default())
    }

    /// The first required field (here or in a nested message) not set.
    fn missing_field(&self) -> Option<&'static str>;

    /// Whether every required field is set, recursing into nested
    /// messages (`Name_complete`).
    fn complete(&self) -> bool {
        self.missing_field().is_none()
    }

    /// Unsets every field (`Name_clear`).
    fn clear(&mut self) {
        *self = Self::default();
    }
}

/// Declares message structs with tagged fields and generates their codec:
/// [`Message`] (`marshal`, `unmarshal`, `complete`, `clear`) and
/// [`Field`](crate::Field), so a message nests in another.
///
/// Each field is `required`, `optional` or `array`, then `name: Type =
/// tag`. Required and optional fields are stored as `Option<Type>`, array
/// fields as `Vec<Type>`; the fields are public and are the accessors
/// (libevent's `EVTAG_HAS` is `is_some()`, `EVTAG_ASSIGN` is
/// `= Some(..)`, `EVTAG_ARRAY_ADD` is `push`, `EVTAG_ARRAY_LEN` is
/// `len()`).
///
/// ```
/// use runtime::rpc::{message, Message};
///
/// message! {
///     /// libevent's regress `kill`.
///     pub struct Kill {
///         required weapon: String = 0x10121,
///         required action: String = 2,
///         array how_often: u32 = 3,
///     }
/// }
///
/// let mut kill = Kill::default();
/// kill.weapon = Some("sword".into());
/// assert!(!kill.complete());
/// kill.action = Some("slash".into());
/// kill.how_often.push(3);
/// let bytes = kill.marshal();
/// assert_eq!(Kill::unmarshal(&bytes).unwrap(), kill);
/// ```
#[macro_export]
macro_rules! message {
    ($(
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $kind:ident $field:ident : $ty:ty = $tag:expr
            ),* $(,)?
        }
    )*) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq)]
        $vis struct $name {
            $(
                $(#[$fmeta])*
                pub $field: $crate::__message_storage!($kind $ty),
            )*
        }

        impl $crate::Message for $name {
            const NAME: &'static str = stringify!($name);

            fn marshal_into(&self, out: &mut ::std::vec::Vec<u8>) {
                $( $crate::__message_marshal!($kind self.$field, $tag, out); )*
            }

            fn unmarshal_with(
                bytes: &[u8],
                options: &$crate::Options,
            ) -> ::std::result::Result<Self, $crate::DecodeError> {
                let mut msg = $name::default();
                let mut reader = $crate::tag::Reader::new(bytes);
                while !reader.is_empty() {
                    let (tag, payload) = reader.read_element()?;
                    $(
                        if tag == ($tag) {
                            $crate::__message_unmarshal!(
                                $kind msg.$field, $ty, $name, tag, payload, options
                            );
                            continue;
                        }
                    )*
                    if !options.skip_unknown {
                        return Err($crate::DecodeError::UnknownTag {
                            message: stringify!($name),
                            tag,
                        });
                    }
                }
                if let Some(field) = $crate::Message::missing_field(&msg) {
                    return Err($crate::DecodeError::Incomplete {
                        message: stringify!($name),
                        field,
                    });
                }
                Ok(msg)
            }

            fn missing_field(&self) -> ::std::option::Option<&'static str> {
                $( $crate::__message_missing!($kind self.$field, $field); )*
                None
            }
        }

        impl $crate::Field for $name {
            fn marshal_field(&self, tag: u32, out: &mut ::std::vec::Vec<u8>) {
                $crate::tag::marshal_with(out, tag, |out| $crate::Message::marshal_into(self, out));
            }
            fn unmarshal_field(
                _tag: u32,
                payload: &[u8],
                options: &$crate::Options,
            ) -> ::std::result::Result<Self, $crate::DecodeError> {
                <Self as $crate::Message>::unmarshal_with(payload, options)
            }
            fn missing_field(&self) -> ::std::option::Option<&'static str> {
                $crate::Message::missing_field(self)
            }
        }
    )*};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __message_storage {
    (required $ty:ty) => { ::std::option::Option<$ty> };
    (optional $ty:ty) => { ::std::option::Option<$ty> };
    (array $ty:ty) => { ::std::vec::Vec<$ty> };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __message_marshal {
    (required $value:expr, $tag:expr, $out:ident) => {
        if let Some(v) = &$value {
            $crate::Field::marshal_field(v, $tag, $out);
        }
    };
    (optional $value:expr, $tag:expr, $out:ident) => {
        if let Some(v) = &$value {
            $crate::Field::marshal_field(v, $tag, $out);
        }
    };
    (array $value:expr, $tag:expr, $out:ident) => {
        for v in &$value {
            $crate::Field::marshal_field(v, $tag, $out);
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __message_unmarshal {
    (required $slot:expr, $ty:ty, $name:ident, $tag:ident, $payload:ident, $options:ident) => {
        $crate::__message_unmarshal!(optional $slot, $ty, $name, $tag, $payload, $options)
    };
    (optional $slot:expr, $ty:ty, $name:ident, $tag:ident, $payload:ident, $options:ident) => {
        if $slot.is_some() {
            return Err($crate::DecodeError::DuplicateTag {
                message: stringify!($name),
                tag: $tag,
            });
        }
        $slot = Some(<$ty as $crate::Field>::unmarshal_field($tag, $payload, $options)?);
    };
    (array $slot:expr, $ty:ty, $name:ident, $tag:ident, $payload:ident, $options:ident) => {
        $slot.push(<$ty as $crate::Field>::unmarshal_field($tag, $payload, $options)?);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __message_missing {
    (required $value:expr, $field:ident) => {
        match &$value {
            None => return Some(stringify!($field)),
            Some(v) => {
                if let Some(m) = $crate::Field::missing_field(v) {
                    return Some(m);
                }
            }
        }
    };
    (optional $value:expr, $field:ident) => {
        if let Some(v) = &$value {
            if let Some(m) = $crate::Field::missing_field(v) {
                return Some(m);
            }
        }
    };
    (array $value:expr, $field:ident) => {
        for v in &$value {
            if let Some(m) = $crate::Field::missing_field(v) {
                return Some(m);
            }
        }
    };
}
