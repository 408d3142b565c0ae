//! What a reply must carry to count as the answer to a query: the query's
//! id and the same question — name (byte for byte under 0x20, else without
//! regard to case), type and class — with QR set. Checked on the raw bytes
//! first, so a genuine reply is parsed once, without its question section.

use crate::error::Error;
use crate::wire::{Message, Name};

/// The header's length; the question follows it.
const HEADER_LEN: usize = 12;

/// A query as sent, and where its question ends.
pub(crate) struct Expected<'a> {
    query: &'a [u8],
    /// End of the question (name, type, class) in `query`.
    question_end: usize,
    exact_case: bool,
}

impl<'a> Expected<'a> {
    /// For `query`, a message with one uncompressed question (as
    /// [`Message::query_bytes`] writes); `None` if it is not one.
    pub(crate) fn new(query: &'a [u8], exact_case: bool) -> Option<Expected<'a>> {
        let name_end = Name::skip(query, HEADER_LEN).ok()?;
        let question_end = name_end + 4;
        (query.len() >= question_end).then_some(Expected {
            query,
            question_end,
            exact_case,
        })
    }

    /// Rebuilt from the parts of an earlier [`new`](Self::new).
    pub(crate) fn from_parts(
        query: &'a [u8],
        question_end: usize,
        exact_case: bool,
    ) -> Expected<'a> {
        Expected {
            query,
            question_end,
            exact_case,
        }
    }

    /// Where the question ends in the query.
    pub(crate) fn question_end(&self) -> usize {
        self.question_end
    }

    /// The query as sent.
    pub(crate) fn query(&self) -> &'a [u8] {
        self.query
    }

    /// The query's id.
    pub(crate) fn id(&self) -> u16 {
        u16::from_be_bytes([self.query[0], self.query[1]])
    }

    /// `reply`'s verdict, for a reply already known to carry this query's
    /// id and to come from the server asked: `None` if it is not the answer
    /// (to be ignored while the real one is awaited), else the parsed answer
    /// or, if it cannot be read at all, [`Error::Malformed`].
    pub(crate) fn check(&self, reply: &[u8]) -> Option<Result<Message, Error>> {
        let q = &self.query[HEADER_LEN..self.question_end];
        let raw_match = reply.len() >= self.question_end
            && reply[2] & 0x80 != 0
            && reply[4..6] == [0, 1]
            && self.same_question(&reply[HEADER_LEN..self.question_end], q);
        if raw_match {
            return Some(Message::parse_skipping_questions(reply).map_err(Error::Malformed));
        }
        // Not the plain echo: unreadable is still an answer (an error);
        // readable but about something else is ignored.
        match Message::parse(reply) {
            Err(e) => Some(Err(Error::Malformed(e))),
            Ok(m) if self.matches(&m) => Some(Ok(m)),
            Ok(_) => None,
        }
    }

    /// Compares a question in wire form (uncompressed name, type, class)
    /// with the query's.
    fn same_question(&self, got: &[u8], want: &[u8]) -> bool {
        if got.len() != want.len() {
            return false;
        }
        let n = want.len() - 4;
        let name = if self.exact_case {
            got[..n] == want[..n]
        } else {
            // Length bytes are below 64, never letters.
            got[..n].eq_ignore_ascii_case(&want[..n])
        };
        name && got[n..] == want[n..]
    }

    /// The same test on a parsed message (a question written another way).
    fn matches(&self, m: &Message) -> bool {
        if !m.header.qr || m.questions.len() != 1 {
            return false;
        }
        let q = &m.questions[0];
        let mut got = q.name.as_wire().to_vec();
        got.extend_from_slice(&q.qtype.0.to_be_bytes());
        got.extend_from_slice(&q.qclass.to_be_bytes());
        self.same_question(&got, &self.query[HEADER_LEN..self.question_end])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{RData, Rcode, Record, RecordType};
    use std::net::Ipv4Addr;

    fn reply_to(query: &[u8], name: &str) -> Vec<u8> {
        let q = Message::parse(query).unwrap();
        let mut r = Message::response_to(&q, Rcode::NOERROR);
        r.questions[0].name = Name::from_ascii(name).unwrap();
        r.answers.push(Record::new(
            q.questions[0].name.clone(),
            60,
            RData::A(Ipv4Addr::new(10, 0, 0, 1)),
        ));
        r.to_bytes()
    }

    #[test]
    fn genuine_case_and_mismatch_verdicts() {
        let name = Name::from_ascii("WwW.ExAmple.test").unwrap();
        let query = Message::query_bytes(0x1234, &name, RecordType::A, Some(1232));
        let exact = Expected::new(&query, true).unwrap();
        let loose = Expected::new(&query, false).unwrap();
        assert_eq!(exact.id(), 0x1234);
        let same = reply_to(&query, "WwW.ExAmple.test");
        let other_case = reply_to(&query, "www.example.test");
        let other_name = reply_to(&query, "www.example.tesu");
        assert!(matches!(exact.check(&same), Some(Ok(m)) if m.answers.len() == 1));
        assert!(exact.check(&other_case).is_none(), "0x20: case must match");
        assert!(matches!(loose.check(&other_case), Some(Ok(_))));
        assert!(exact.check(&other_name).is_none() && loose.check(&other_name).is_none());
        // The query itself (QR clear) is not an answer.
        assert!(loose.check(&query).is_none());
        // Cut anywhere: never a panic; an unreadable reply is Malformed.
        for n in 0..same.len() {
            match exact.check(&same[..n]) {
                Some(Err(Error::Malformed(_))) | None => {}
                Some(Ok(m)) => assert!(n >= 12, "{m:?}"),
                Some(Err(e)) => panic!("{e:?}"),
            }
        }
    }

    #[test]
    fn mutated_replies_never_panic() {
        let name = Name::from_ascii("host.test").unwrap();
        let query = Message::query_bytes(7, &name, RecordType::A, None);
        let exp = Expected::new(&query, true).unwrap();
        let base = reply_to(&query, "host.test");
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let mut m = base.clone();
            for _ in 0..1 + next() % 4 {
                let i = (next() as usize) % m.len();
                m[i] = next() as u8;
            }
            let _ = exp.check(&m);
        }
    }
}
