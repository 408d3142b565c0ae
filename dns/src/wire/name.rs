//! Domain names: [`Name`], held in uncompressed wire form, read with every
//! compression-pointer check and written with compression.

use super::WireError;
use std::fmt;
use std::hash::{Hash, Hasher};

/// Longest label, in bytes (RFC 1035 §2.3.4).
pub const MAX_LABEL: usize = 63;
/// Longest name in wire form, length bytes and root included (RFC 1035 §2.3.4).
pub const MAX_NAME: usize = 255;
/// Most compression pointers followed while reading one name; a valid
/// name has at most 127 labels, so more hops than that is a loop.
const MAX_HOPS: usize = 128;

/// A domain name, case preserved (so 0x20 randomisation survives a round
/// trip) and compared without regard to ASCII case, as DNS requires.
///
/// ```
/// use runtime::dns::wire::Name;
/// let n = Name::from_ascii("WWW.Example.com").unwrap();
/// assert_eq!(n, Name::from_ascii("www.example.com.").unwrap());
/// assert_eq!(n.to_string(), "WWW.Example.com.");
/// assert_eq!(n.label_count(), 3);
/// ```
#[derive(Clone)]
pub struct Name {
    /// Length-prefixed labels ending with the root's zero byte.
    wire: Vec<u8>,
}

impl Name {
    /// The root name, `.`.
    pub fn root() -> Name {
        Name { wire: vec![0] }
    }

    /// Parses a dotted name (`"www.example.com"`, a trailing dot optional,
    /// `"."` for the root). `\.` and `\\` escape a literal dot or
    /// backslash, `\DDD` a byte in decimal.
    pub fn from_ascii(text: &str) -> Result<Name, WireError> {
        if text == "." || text.is_empty() {
            return Ok(Name::root());
        }
        let bytes = text.as_bytes();
        // Labels are written straight into the wire form: a length byte
        // reserved at `len_at`, filled in when the label ends.
        let mut wire = Vec::with_capacity(bytes.len() + 2);
        let mut len_at = 0;
        wire.push(0);
        let mut i = 0;
        let mut ended_with_dot = false;
        while i < bytes.len() {
            ended_with_dot = false;
            let b = bytes[i];
            match b {
                b'.' => {
                    end_label(&mut wire, len_at)?;
                    len_at = wire.len();
                    wire.push(0);
                    ended_with_dot = true;
                    i += 1;
                }
                b'\\' => {
                    let rest = &bytes[i + 1..];
                    if rest.len() >= 3 && rest[..3].iter().all(u8::is_ascii_digit) {
                        let v = (rest[0] - b'0') as u32 * 100
                            + (rest[1] - b'0') as u32 * 10
                            + (rest[2] - b'0') as u32;
                        if v > 255 {
                            return Err(WireError::BadEscape);
                        }
                        wire.push(v as u8);
                        i += 4;
                    } else if let Some(&c) = rest.first() {
                        wire.push(c);
                        i += 2;
                    } else {
                        return Err(WireError::BadEscape);
                    }
                }
                _ => {
                    wire.push(b);
                    i += 1;
                }
            }
            if wire.len() - len_at - 1 > MAX_LABEL {
                return Err(WireError::LabelTooLong);
            }
        }
        if !ended_with_dot {
            end_label(&mut wire, len_at)?;
            wire.push(0);
        }
        if wire.len() > MAX_NAME {
            return Err(WireError::NameTooLong);
        }
        Ok(Name { wire })
    }

    /// Builds a name from its labels (root excluded).
    pub fn from_labels<I, L>(labels: I) -> Result<Name, WireError>
    where
        I: IntoIterator<Item = L>,
        L: AsRef<[u8]>,
    {
        let mut wire = Vec::new();
        for l in labels {
            push_label(&mut wire, l.as_ref())?;
        }
        wire.push(0);
        if wire.len() > MAX_NAME {
            return Err(WireError::NameTooLong);
        }
        Ok(Name { wire })
    }

    /// The labels, root excluded.
    pub fn labels(&self) -> Labels<'_> {
        Labels { rest: &self.wire }
    }

    /// How many labels (the root counts none).
    pub fn label_count(&self) -> usize {
        self.labels().count()
    }

    /// Whether this is the root name.
    pub fn is_root(&self) -> bool {
        self.wire.len() == 1
    }

    /// The uncompressed wire form (length-prefixed labels and the root's
    /// zero byte).
    pub fn as_wire(&self) -> &[u8] {
        &self.wire
    }

    /// Length of the uncompressed wire form.
    pub fn wire_len(&self) -> usize {
        self.wire.len()
    }

    /// `self` followed by `suffix` (`www` + `example.com` → `www.example.com`).
    pub fn concat(&self, suffix: &Name) -> Result<Name, WireError> {
        let mut wire = self.wire[..self.wire.len() - 1].to_vec();
        wire.extend_from_slice(&suffix.wire);
        if wire.len() > MAX_NAME {
            return Err(WireError::NameTooLong);
        }
        Ok(Name { wire })
    }

    /// Whether `self` equals `suffix` or ends with it (label-wise, case
    /// ignored).
    pub fn ends_with(&self, suffix: &Name) -> bool {
        let n = self.wire.len();
        let m = suffix.wire.len();
        if m > n {
            return false;
        }
        // Walk label boundaries so "xample.com" never matches "example.com".
        let mut pos = 0;
        loop {
            if n - pos == m {
                return self.wire[pos..].eq_ignore_ascii_case(&suffix.wire);
            }
            let len = self.wire[pos] as usize;
            if len == 0 {
                return false;
            }
            pos += 1 + len;
        }
    }

    /// Exact comparison, case included (the 0x20 check).
    pub fn eq_case_sensitive(&self, other: &Name) -> bool {
        self.wire == other.wire
    }

    /// The same name in lower case.
    pub fn to_lowercase(&self) -> Name {
        Name {
            wire: self.wire.to_ascii_lowercase(),
        }
    }

    /// The same name with each letter's case flipped at random by `bits`
    /// (DNS 0x20: bit `i` of the stream decides letter `i`).
    pub fn randomize_case(&self, next_bit: impl FnMut() -> bool) -> Name {
        let mut wire = self.wire.clone();
        randomize_case_in_place(&mut wire, next_bit);
        Name { wire }
    }

    /// Reads a possibly compressed name at `pos` of `msg`; returns it and
    /// the offset just past it in the original (uncompressed) stream.
    ///
    /// Every compression pointer must point backwards, before the pointer
    /// itself, and inside the message: a pointer to itself or to one
    /// already followed is a [`WireError::PointerLoop`], one pointing
    /// forward a [`WireError::PointerForward`], one past the end a
    /// [`WireError::PointerOutOfBounds`].
    pub fn read(msg: &[u8], pos: usize) -> Result<(Name, usize), WireError> {
        let mut wire = Vec::with_capacity(32);
        let end = walk(msg, pos, |bytes| wire.extend_from_slice(bytes))?;
        Ok((Name { wire }, end))
    }

    /// Checks the name at `pos` as [`read`](Self::read) does, without
    /// keeping it; returns where it ends.
    pub(crate) fn skip(msg: &[u8], pos: usize) -> Result<usize, WireError> {
        walk(msg, pos, |_| {})
    }

    /// Appends the name uncompressed.
    pub fn write_uncompressed(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.wire);
    }

    /// Appends the name, compressed against names already written (their
    /// suffixes are in `map`, keyed by exact bytes so case is preserved),
    /// and records its own suffixes. `base` is the offset of the message
    /// start in `out`.
    pub fn write_compressed(&self, out: &mut Vec<u8>, base: usize, map: &mut Compression) {
        let mut pos = 0;
        while self.wire[pos] != 0 {
            let suffix = &self.wire[pos..];
            if let Some(off) = map.find(suffix) {
                out.push(0xC0 | (off >> 8) as u8);
                out.push(off as u8);
                return;
            }
            let here = out.len() - base;
            if here < 0x4000 {
                map.insert(suffix, here as u16);
            }
            let len = self.wire[pos] as usize;
            out.extend_from_slice(&self.wire[pos..pos + 1 + len]);
            pos += 1 + len;
        }
        out.push(0);
    }
}

/// Name suffixes already written in a message and their offsets (exact
/// bytes, so case is preserved). A message holds few distinct suffixes,
/// so they sit in one byte arena searched linearly: two allocations per
/// message instead of one per suffix.
#[derive(Default, Debug)]
pub struct Compression {
    arena: Vec<u8>,
    /// (start, end) in `arena`, and the suffix's offset in the message.
    entries: Vec<(u32, u32, u16)>,
}

impl Compression {
    fn find(&self, suffix: &[u8]) -> Option<u16> {
        self.entries
            .iter()
            .find_map(|&(s, e, off)| (self.arena[s as usize..e as usize] == *suffix).then_some(off))
    }

    fn insert(&mut self, suffix: &[u8], offset: u16) {
        let start = self.arena.len() as u32;
        self.arena.extend_from_slice(suffix);
        self.entries.push((start, self.arena.len() as u32, offset));
    }
}

/// Flips each letter of the uncompressed name `wire` (length-prefixed
/// labels ending with the root) to upper or lower case by `next_bit`.
pub(crate) fn randomize_case_in_place(wire: &mut [u8], mut next_bit: impl FnMut() -> bool) {
    let mut pos = 0;
    while pos < wire.len() && wire[pos] != 0 {
        let end = (pos + 1 + wire[pos] as usize).min(wire.len());
        for b in &mut wire[pos + 1..end] {
            if b.is_ascii_alphabetic() {
                *b = if next_bit() {
                    b.to_ascii_uppercase()
                } else {
                    b.to_ascii_lowercase()
                };
            }
        }
        pos = end;
    }
}

/// Follows the name at `pos` through its compression pointers, handing
/// each length-prefixed label (and finally the root's zero byte) to `out`,
/// with every check: labels inside the message, pointers backwards only,
/// never twice through one pointer, at most [`MAX_NAME`] bytes in all.
/// Returns where the name ends at `pos` (after its first pointer, if any).
fn walk(msg: &[u8], mut pos: usize, mut out: impl FnMut(&[u8])) -> Result<usize, WireError> {
    let mut len_so_far = 0;
    let mut end = None;
    // Positions of the pointers followed (a message is at most 64 KiB).
    let mut visited = [0u16; MAX_HOPS];
    let mut hops = 0;
    loop {
        let Some(&len) = msg.get(pos) else {
            return Err(WireError::Truncated);
        };
        match len & 0xC0 {
            0x00 => {
                let len = len as usize;
                if len == 0 {
                    if len_so_far + 1 > MAX_NAME {
                        return Err(WireError::NameTooLong);
                    }
                    out(&[0]);
                    return Ok(end.unwrap_or(pos + 1));
                }
                let label = msg.get(pos..pos + 1 + len).ok_or(WireError::Truncated)?;
                len_so_far += 1 + len;
                if len_so_far + 1 > MAX_NAME {
                    return Err(WireError::NameTooLong);
                }
                out(label);
                pos += 1 + len;
            }
            0xC0 => {
                let lo = *msg.get(pos + 1).ok_or(WireError::Truncated)?;
                let target = (((len & 0x3F) as usize) << 8) | lo as usize;
                if target >= msg.len() {
                    return Err(WireError::PointerOutOfBounds);
                }
                if target == pos || visited[..hops].iter().any(|&v| v as usize == target) {
                    return Err(WireError::PointerLoop);
                }
                if target > pos {
                    return Err(WireError::PointerForward);
                }
                if hops == MAX_HOPS {
                    return Err(WireError::PointerLoop);
                }
                // Targets fit 14 bits, so a position past 0xFFFF (only in
                // an oversized slice) can never equal one: saturate.
                visited[hops] = pos.min(0xFFFF) as u16;
                hops += 1;
                end.get_or_insert(pos + 2);
                pos = target;
            }
            _ => return Err(WireError::BadLabelType),
        }
    }
}

/// Ends the label whose length byte is at `len_at` (its bytes follow to
/// the end of `wire`), with the checks of [`push_label`].
fn end_label(wire: &mut [u8], len_at: usize) -> Result<(), WireError> {
    let len = wire.len() - len_at - 1;
    if len == 0 {
        return Err(WireError::EmptyLabel);
    }
    if len > MAX_LABEL {
        return Err(WireError::LabelTooLong);
    }
    wire[len_at] = len as u8;
    if wire.len() + 1 > MAX_NAME {
        return Err(WireError::NameTooLong);
    }
    Ok(())
}

fn push_label(wire: &mut Vec<u8>, label: &[u8]) -> Result<(), WireError> {
    if label.is_empty() {
        return Err(WireError::EmptyLabel);
    }
    if label.len() > MAX_LABEL {
        return Err(WireError::LabelTooLong);
    }
    wire.push(label.len() as u8);
    wire.extend_from_slice(label);
    if wire.len() + 1 > MAX_NAME {
        return Err(WireError::NameTooLong);
    }
    Ok(())
}

/// Iterator over a [`Name`]'s labels.
#[derive(Debug, Clone)]
pub struct Labels<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let len = *self.rest.first()? as usize;
        if len == 0 {
            return None;
        }
        let label = &self.rest[1..1 + len];
        self.rest = &self.rest[1 + len..];
        Some(label)
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.wire.eq_ignore_ascii_case(&other.wire)
    }
}

impl Eq for Name {}

impl Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for b in &self.wire {
            state.write_u8(b.to_ascii_lowercase());
        }
    }
}

impl fmt::Display for Name {
    /// Dotted form with a trailing dot; dots, backslashes and
    /// non-printable bytes inside labels are escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_root() {
            return f.write_str(".");
        }
        for label in self.labels() {
            for &b in label {
                match b {
                    b'.' | b'\\' => write!(f, "\\{}", b as char)?,
                    0x21..=0x7E => write!(f, "{}", b as char)?,
                    _ => write!(f, "\\{b:03}")?,
                }
            }
            f.write_str(".")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

impl std::str::FromStr for Name {
    type Err = WireError;
    fn from_str(s: &str) -> Result<Name, WireError> {
        Name::from_ascii(s)
    }
}
