//! [`RecvBatch`]: room for several datagrams, filled by one `recvmmsg`
//! ([`UdpSocket::recv_batch`](crate::UdpSocket::recv_batch)).

use crate::sys::{self, Received};
use std::fmt;
use std::io;
use std::net::SocketAddr;

/// Buffers for up to [`capacity`](Self::capacity) datagrams of up to
/// [`datagram_size`](Self::datagram_size) bytes each, received with one
/// system call. Allocated once and reused: each receive replaces what the
/// previous one left.
///
/// ```
/// use runtime::net::{RecvBatch, UdpSocket};
/// runtime::block_on(async {
///     let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
///     let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
///     for m in [&b"one"[..], b"two", b"three"] {
///         a.send_to(m, b.local_addr().unwrap()).await.unwrap();
///     }
///     let mut batch = RecvBatch::new(8, 512);
///     let n = b.recv_batch(&mut batch).await.unwrap();
///     assert_eq!(n, 3); // loopback delivers at once: all three in one call
///     assert_eq!(batch.datagram(2), b"three");
///     assert_eq!(batch.source(0).unwrap(), a.local_addr().unwrap());
/// });
/// ```
pub struct RecvBatch {
    buf: Box<[u8]>,
    size: usize,
    received: Vec<Received>,
}

impl fmt::Debug for RecvBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvBatch")
            .field("capacity", &self.capacity())
            .field("datagram_size", &self.size)
            .field("len", &self.len())
            .finish()
    }
}

impl RecvBatch {
    /// Room for `count` datagrams (at most 64 are asked for per call) of
    /// `size` bytes each; a longer datagram is cut to `size` and marked
    /// [`truncated`](Self::is_truncated).
    pub fn new(count: usize, size: usize) -> RecvBatch {
        let count = count.clamp(1, sys::MAX_BATCH);
        let size = size.max(1);
        RecvBatch {
            buf: vec![0; count * size].into_boxed_slice(),
            size,
            received: Vec::with_capacity(count),
        }
    }

    /// Datagrams one receive asks for at most.
    pub fn capacity(&self) -> usize {
        self.buf.len() / self.size
    }

    /// Bytes each datagram may have.
    pub fn datagram_size(&self) -> usize {
        self.size
    }

    /// Datagrams the last receive got.
    pub fn len(&self) -> usize {
        self.received.len()
    }

    /// Whether the last receive got none.
    pub fn is_empty(&self) -> bool {
        self.received.is_empty()
    }

    /// The `i`th datagram of the last receive (panics if `i >= len()`).
    pub fn datagram(&self, i: usize) -> &[u8] {
        let r = &self.received[i];
        &self.buf[i * self.size..i * self.size + r.len.min(self.size)]
    }

    /// Whether the `i`th datagram was longer than
    /// [`datagram_size`](Self::datagram_size) and was cut.
    pub fn is_truncated(&self, i: usize) -> bool {
        self.received[i].truncated
    }

    /// Where the `i`th datagram came from.
    pub fn source(&self, i: usize) -> io::Result<SocketAddr> {
        self.received[i].source.to_inet()
    }

    /// The datagrams of the last receive, in arrival order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.len()).map(|i| self.datagram(i))
    }

    /// The buffer, the slot size and the entry list, for the receive call.
    pub(crate) fn parts(&mut self) -> (&mut [u8], usize, &mut Vec<Received>) {
        (&mut self.buf, self.size, &mut self.received)
    }
}
