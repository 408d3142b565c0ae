//! The thread's spare I/O buffers: one input and one output vector that
//! connections borrow while they have bytes in flight and give back when
//! they wait with nothing buffered.
//!
//! A keep-alive connection spends most of its life waiting for its next
//! request with empty buffers. Rather than each keeping a read and a write
//! vector of its own (cold in the cache by the time its next request
//! arrives, and memory held by every idle connection), a connection about
//! to read with an empty input takes the thread's spare input vector, and
//! gives it back once it has consumed everything and waits again; the same
//! for the output vector around a write that the socket takes whole. On a
//! thread serving many connections, the one vector in use is the one that
//! was just used, still in the cache, for the kernel to copy into and the
//! parser to read.
//!
//! A connection that must wait with bytes buffered (half a request, or
//! output the socket did not take) keeps its vector; the next connection
//! to need one finds the spare slot empty and makes a new vector, which
//! becomes the spare in turn. A connection that waits with nothing
//! buffered never holds a vector: it gives its own back, or frees it when
//! the thread already has a spare. No bytes ever move between
//! connections: a vector changes hands only empty.

use std::cell::Cell;

thread_local! {
    static SPARE_IN: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
    static SPARE_OUT: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Which of the thread's spare vectors.
#[derive(Clone, Copy)]
pub(crate) enum Spare {
    /// The input vector (kept at its full length, zero-filled once).
    In,
    /// The output vector (kept empty, with its capacity).
    Out,
}

impl Spare {
    /// Gives `v` (which holds nothing the caller still needs) the thread's
    /// spare vector when `v` has no allocation and the spare is there;
    /// else leaves `v` as it is.
    #[inline]
    pub(crate) fn take_into(self, v: &mut Vec<u8>) {
        if v.capacity() == 0 {
            // `try_with`: during thread teardown there is no spare.
            let _ = match self {
                Spare::In => SPARE_IN.try_with(|c| *v = c.take()),
                Spare::Out => SPARE_OUT.try_with(|c| *v = c.take()),
            };
        }
    }

    /// Makes `v` the thread's spare if there is none, else frees it: `v`
    /// is left without an allocation either way. `v` must hold nothing the
    /// caller still needs: the input's bytes are stale, the output is
    /// empty.
    #[inline]
    pub(crate) fn give_back(self, v: &mut Vec<u8>) {
        if v.capacity() == 0 {
            return;
        }
        let _ = match self {
            Spare::In => SPARE_IN.try_with(|c| give(c, v)),
            Spare::Out => SPARE_OUT.try_with(|c| give(c, v)),
        };
    }

    /// The capacity of the thread's spare vector (0: none). For tests.
    #[cfg(test)]
    fn spare_capacity(self) -> usize {
        let look = |c: &Cell<Vec<u8>>| {
            let v = c.take();
            let n = v.capacity();
            c.set(v);
            n
        };
        match self {
            Spare::In => SPARE_IN.with(look),
            Spare::Out => SPARE_OUT.with(look),
        }
    }
}

fn give(slot: &Cell<Vec<u8>>, v: &mut Vec<u8>) {
    let spare = slot.take();
    if spare.capacity() == 0 {
        slot.set(std::mem::take(v));
    } else {
        slot.set(spare);
        *v = Vec::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_change_hands_empty_and_a_waiting_connection_holds_none() {
        // Each test runs on a thread of its own: the spares start empty.
        let mut a = Vec::new();
        Spare::Out.take_into(&mut a);
        assert_eq!(a.capacity(), 0, "no spare yet");
        a.reserve(100);
        let ptr = a.as_ptr();
        Spare::Out.give_back(&mut a);
        assert_eq!(a.capacity(), 0);
        assert!(Spare::Out.spare_capacity() >= 100);
        // A connection with a vector of its own keeps it.
        let mut b = Vec::with_capacity(10);
        Spare::Out.take_into(&mut b);
        assert_eq!(b.capacity(), 10);
        // The spare goes to a connection without one...
        Spare::Out.take_into(&mut a);
        assert_eq!(a.as_ptr(), ptr);
        assert_eq!(Spare::Out.spare_capacity(), 0);
        // ... and another's becomes the spare while it is out.
        Spare::Out.give_back(&mut b);
        assert_eq!(b.capacity(), 0);
        assert_eq!(Spare::Out.spare_capacity(), 10);
        // With a spare there, a vector given back is freed: a connection
        // waiting with nothing buffered holds none.
        Spare::Out.give_back(&mut a);
        assert_eq!(a.capacity(), 0);
        assert_eq!(Spare::Out.spare_capacity(), 10);
        // The input and output spares are separate.
        assert_eq!(Spare::In.spare_capacity(), 0);
    }
}
