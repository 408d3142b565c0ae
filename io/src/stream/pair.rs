//! [`pair`]: two connected in-memory buffered streams
//! (`bufferevent_pair_new`).

use super::filter::FlushMode;
use super::{BufferedStream, Transport};
use crate::Buffer;
use std::cell::RefCell;
use std::fmt;
use std::io;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// Bytes in flight in each direction of a [`pair`] before the writer waits
/// for the reader (what a socket's kernel buffers would hold).
pub const PAIR_CAPACITY: usize = 64 * 1024;

/// One direction: bytes written by one end, waiting to be read by the
/// other.
#[derive(Default)]
struct Pipe {
    buf: Buffer,
    /// The writing end shut down (or is gone): end of stream after `buf`.
    closed: bool,
    /// The reading end is gone: writes fail with `BrokenPipe`.
    reader_gone: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

/// Wakes a waker taken out of the shared state, after its borrow ended
/// (so a waker that polls at once cannot find the state borrowed).
fn wake(w: Option<Waker>) {
    if let Some(w) = w {
        w.wake();
    }
}

fn store(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(w) if w.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

struct Shared {
    /// `pipes[i]` carries what end `i` writes.
    pipes: [Pipe; 2],
    capacity: usize,
}

/// One end of a [`pair`]: the transport under a pair's
/// [`BufferedStream`]. Bytes move between the ends chunk by chunk, without
/// copying (a chunk split by a partial move is the exception). Both ends
/// live on one thread.
pub struct PairEnd {
    shared: Rc<RefCell<Shared>>,
    side: usize,
}

impl fmt::Debug for PairEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.shared.borrow();
        f.debug_struct("PairEnd")
            .field("side", &self.side)
            .field("unread_by_peer", &s.pipes[self.side].buf.len())
            .field("unread_here", &s.pipes[1 - self.side].buf.len())
            .finish()
    }
}

/// Two connected in-memory buffered streams, like libevent's
/// `bufferevent_pair_new`: what one end writes and flushes the other reads;
/// shutting one end down ([`finish`](BufferedStream::finish)) or dropping
/// it gives end of stream to the other, after the data. No sockets; each
/// direction holds up to [`PAIR_CAPACITY`] bytes in flight (then the
/// writer's flush waits for the reader, as with a socket). Watermarks,
/// timeouts, filters and rate limits work as on any stream.
///
/// ```
/// use runtime::io::{pair, Eol};
///
/// runtime::block_on(async {
///     let (mut a, mut b) = pair();
///     a.write_all(b"ping\n").await?;
///     a.flush().await?;
///     assert_eq!(b.read_line(Eol::Lf).await?.unwrap(), b"ping");
///     b.write_all(b"pong\n").await?;
///     b.finish().await?; // flush, then end of stream
///     assert_eq!(a.read_line(Eol::Lf).await?.unwrap(), b"pong");
///     assert_eq!(a.read_line(Eol::Lf).await?, None);
///     Ok::<(), std::io::Error>(())
/// })
/// .unwrap();
/// ```
pub fn pair() -> (BufferedStream<PairEnd>, BufferedStream<PairEnd>) {
    pair_with_capacity(PAIR_CAPACITY)
}

/// [`pair`] with `capacity` bytes in flight per direction (at least 1).
pub fn pair_with_capacity(capacity: usize) -> (BufferedStream<PairEnd>, BufferedStream<PairEnd>) {
    let shared = Rc::new(RefCell::new(Shared {
        pipes: [Pipe::default(), Pipe::default()],
        capacity: capacity.max(1),
    }));
    let a = PairEnd {
        shared: shared.clone(),
        side: 0,
    };
    let b = PairEnd { shared, side: 1 };
    (BufferedStream::new(a), BufferedStream::new(b))
}

impl PairEnd {
    /// Bytes this end wrote that the other end has not read yet.
    pub fn in_flight(&self) -> usize {
        self.shared.borrow().pipes[self.side].buf.len()
    }
}

impl Transport for PairEnd {
    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        dst: &mut Buffer,
        max: usize,
    ) -> Poll<io::Result<usize>> {
        let mut s = self.shared.borrow_mut();
        let pipe = &mut s.pipes[1 - self.side];
        if !pipe.buf.is_empty() {
            let n = pipe.buf.remove_buffer(dst, max)?;
            let w = pipe.writer.take();
            drop(s);
            wake(w);
            return Poll::Ready(Ok(n));
        }
        if pipe.closed {
            return Poll::Ready(Ok(0));
        }
        store(&mut pipe.reader, cx);
        Poll::Pending
    }

    fn poll_write_buf(
        &mut self,
        cx: &mut Context<'_>,
        src: &mut Buffer,
        max: usize,
        _mode: FlushMode,
    ) -> Poll<io::Result<usize>> {
        let mut s = self.shared.borrow_mut();
        let capacity = s.capacity;
        let pipe = &mut s.pipes[self.side];
        if pipe.reader_gone {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the other end of the pair is gone",
            )));
        }
        if pipe.closed {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "this end of the pair was shut down",
            )));
        }
        if src.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let room = capacity.saturating_sub(pipe.buf.len());
        if room == 0 {
            store(&mut pipe.writer, cx);
            return Poll::Pending;
        }
        let n = src.remove_buffer(&mut pipe.buf, max.min(room))?;
        let w = pipe.reader.take();
        drop(s);
        wake(w);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut s = self.shared.borrow_mut();
        let pipe = &mut s.pipes[self.side];
        pipe.closed = true;
        let w = pipe.reader.take();
        drop(s);
        wake(w);
        Poll::Ready(Ok(()))
    }
}

impl Drop for PairEnd {
    fn drop(&mut self) {
        let Ok(mut s) = self.shared.try_borrow_mut() else {
            return;
        };
        let out = &mut s.pipes[self.side];
        out.closed = true;
        let reader = out.reader.take();
        let inp = &mut s.pipes[1 - self.side];
        inp.reader_gone = true;
        // Unread bytes can never be read now.
        let _ = inp.buf.clear();
        let writer = inp.writer.take();
        drop(s);
        wake(reader);
        wake(writer);
    }
}
