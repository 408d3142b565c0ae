//! [`Body`]: what a request or response carries — nothing, bytes, a stream
//! of chunks (with backpressure through [`Body::channel`]), a file (sent
//! with `sendfile`), a [`Buffer`] (its chunks moved, file segments kept),
//! or the body arriving on a connection.

use crate::error::Error;
use futures_core::Stream;
use http::HeaderMap;
use runtime_io::{Buffer, FileSegment, Shared};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// Most bytes one chunk read from a file or a connection holds.
pub(crate) const READ_CHUNK: usize = 64 * 1024;

/// Where an arriving body's bytes come from (a connection).
pub(crate) trait BodySource {
    /// The next piece of the body with generation `gen`.
    fn poll_chunk(
        &mut self,
        gen: u64,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Vec<u8>, Error>>>;
    /// The trailer fields, once a chunked body is complete.
    fn trailers(&self, gen: u64) -> Option<HeaderMap>;
}

/// A body arriving on a connection (a request's on the server, a
/// response's on the client). Reading it reads the socket: a large body is
/// never held in memory unless the reader collects it.
pub struct Incoming {
    source: Rc<RefCell<dyn BodySource>>,
    gen: u64,
    len: Option<u64>,
    done: bool,
}

impl Incoming {
    pub(crate) fn new(source: Rc<RefCell<dyn BodySource>>, gen: u64, len: Option<u64>) -> Incoming {
        Incoming {
            source,
            gen,
            len,
            done: false,
        }
    }
}

/// The sending half of [`Body::channel`]: a handler streams a response
/// (evhttp's `send_reply_start` / `send_reply_chunk` / `send_reply_end`),
/// each [`send`](BodySender::send) waiting while the connection has
/// `capacity` bytes queued that the client has not taken yet.
pub struct BodySender {
    chan: Rc<RefCell<Chan>>,
}

struct Chan {
    queue: VecDeque<Vec<u8>>,
    queued: usize,
    capacity: usize,
    sender_gone: bool,
    aborted: bool,
    receiver_gone: bool,
    rx_waker: Option<Waker>,
    tx_waker: Option<Waker>,
}

impl BodySender {
    /// Queues `data` as the next piece of the body; waits first while the
    /// queue is at capacity. Fails with [`Error::ConnectionClosed`] when the
    /// body is no longer wanted (the client went away).
    pub async fn send(&mut self, data: impl Into<Vec<u8>>) -> Result<(), Error> {
        let data = data.into();
        poll_fn(|cx| {
            let mut c = self.chan.borrow_mut();
            if c.receiver_gone {
                return Poll::Ready(Err(Error::ConnectionClosed));
            }
            if c.queued >= c.capacity && !c.queue.is_empty() {
                c.tx_waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            Poll::Ready(Ok(()))
        })
        .await?;
        if data.is_empty() {
            return Ok(());
        }
        let mut c = self.chan.borrow_mut();
        c.queued += data.len();
        c.queue.push_back(data);
        if let Some(w) = c.rx_waker.take() {
            w.wake();
        }
        Ok(())
    }

    /// Whether the receiving side is gone (sending would fail).
    pub fn is_closed(&self) -> bool {
        self.chan.borrow().receiver_gone
    }

    /// Ends the body with an error: the peer sees the connection closed
    /// without the body's proper end, not a complete body. (Dropping the
    /// sender ends the body normally.)
    pub fn abort(self) {
        self.chan.borrow_mut().aborted = true;
    }
}

impl Drop for BodySender {
    fn drop(&mut self) {
        let mut c = self.chan.borrow_mut();
        c.sender_gone = true;
        if let Some(w) = c.rx_waker.take() {
            w.wake();
        }
    }
}

pub(crate) struct Receiver {
    chan: Rc<RefCell<Chan>>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let mut c = self.chan.borrow_mut();
        c.receiver_gone = true;
        c.queue.clear();
        if let Some(w) = c.tx_waker.take() {
            w.wake();
        }
    }
}

impl Receiver {
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Vec<u8>, Error>>> {
        let mut c = self.chan.borrow_mut();
        if c.aborted {
            return Poll::Ready(Some(Err(Error::Io(io::Error::other(
                "body aborted by its sender",
            )))));
        }
        if let Some(d) = c.queue.pop_front() {
            c.queued -= d.len();
            if let Some(w) = c.tx_waker.take() {
                w.wake();
            }
            return Poll::Ready(Some(Ok(d)));
        }
        if c.sender_gone {
            return Poll::Ready(None);
        }
        c.rx_waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

type BoxStream = Pin<Box<dyn Stream<Item = io::Result<Vec<u8>>>>>;

pub(crate) enum Kind {
    Empty,
    Bytes(Shared),
    Stream(BoxStream),
    Channel(Receiver),
    File {
        seg: FileSegment,
        pos: u64,
    },
    /// Boxed: a `Buffer` is large, and every request and response carries
    /// a `Body`.
    Buffer(Box<Buffer>),
    Incoming(Incoming),
}

/// A message body.
///
/// ```
/// use runtime::http::Body;
///
/// let b = Body::from("hello");
/// assert_eq!(b.size_hint(), Some(5));
/// let bytes = runtime::block_on(b.collect()).unwrap();
/// assert_eq!(bytes, b"hello");
/// ```
pub struct Body {
    pub(crate) kind: Kind,
    /// Exact length when known (set for streams by `sized_stream`).
    len: Option<u64>,
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::Empty => "empty",
            Kind::Bytes(_) => "bytes",
            Kind::Stream(_) => "stream",
            Kind::Channel(_) => "channel",
            Kind::File { .. } => "file",
            Kind::Buffer(_) => "buffer",
            Kind::Incoming(_) => "incoming",
        };
        f.debug_struct("Body")
            .field("kind", &kind)
            .field("len", &self.len)
            .finish()
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl Body {
    /// No body.
    pub fn empty() -> Body {
        Body {
            kind: Kind::Empty,
            len: Some(0),
        }
    }

    /// A body of shared bytes (no copy; `&'static` data, `Arc<[u8]>`,
    /// `Vec<u8>`, `String` ...).
    pub fn bytes(data: impl Into<Shared>) -> Body {
        let data = data.into();
        Body {
            len: Some(data.len() as u64),
            kind: Kind::Bytes(data),
        }
    }

    /// A body streamed from `stream`, of unknown length: sent chunked to
    /// HTTP/1.1 peers, delimited by closing the connection for HTTP/1.0.
    pub fn from_stream(stream: impl Stream<Item = io::Result<Vec<u8>>> + 'static) -> Body {
        Body {
            kind: Kind::Stream(Box::pin(stream)),
            len: None,
        }
    }

    /// A body streamed from `stream` that will be exactly `len` bytes long
    /// (sent with `Content-Length`; a stream that yields a different
    /// amount is an error and the connection is closed).
    pub fn sized_stream(
        len: u64,
        stream: impl Stream<Item = io::Result<Vec<u8>>> + 'static,
    ) -> Body {
        Body {
            kind: Kind::Stream(Box::pin(stream)),
            len: Some(len),
        }
    }

    /// A streamed body and the sender that feeds it; `capacity` bytes may
    /// wait in the queue before [`BodySender::send`] waits for the peer.
    ///
    /// ```
    /// use runtime::http::Body;
    ///
    /// runtime::block_on(async {
    ///     let (mut tx, body) = Body::channel(1024);
    ///     runtime::spawn(async move {
    ///         for i in 0..3 {
    ///             tx.send(format!("part {i}\n")).await.unwrap();
    ///         }
    ///     });
    ///     assert_eq!(body.collect().await.unwrap(), b"part 0\npart 1\npart 2\n");
    /// });
    /// ```
    pub fn channel(capacity: usize) -> (BodySender, Body) {
        let chan = Rc::new(RefCell::new(Chan {
            queue: VecDeque::new(),
            queued: 0,
            capacity: capacity.max(1),
            sender_gone: false,
            aborted: false,
            receiver_gone: false,
            rx_waker: None,
            tx_waker: None,
        }));
        (
            BodySender { chan: chan.clone() },
            Body {
                kind: Kind::Channel(Receiver { chan }),
                len: None,
            },
        )
    }

    /// The whole of `file` (from its start), sent with `sendfile(2)`.
    pub fn file(file: File) -> io::Result<Body> {
        Body::file_range(file, 0, None)
    }

    /// `len` bytes of `file` from `offset` (to its end with `None`).
    pub fn file_range(file: File, offset: u64, len: Option<u64>) -> io::Result<Body> {
        let seg = FileSegment::new(file, offset, len)?;
        Ok(Body {
            len: Some(seg.len()),
            kind: Kind::File { seg, pos: 0 },
        })
    }

    /// The contents of `buffer` (evhttp's `evhttp_send_reply` with an
    /// evbuffer): its chunks are moved to the connection's output without a
    /// copy, and its file segments are sent with `sendfile(2)`.
    ///
    /// ```
    /// use runtime::http::Body;
    /// use runtime::io::Buffer;
    ///
    /// let mut buf = Buffer::new();
    /// buf.add(b"hello, ").unwrap();
    /// buf.add(b"world").unwrap();
    /// let body = Body::from_buffer(buf);
    /// assert_eq!(body.size_hint(), Some(12));
    /// assert_eq!(runtime::block_on(body.collect()).unwrap(), b"hello, world");
    /// ```
    pub fn from_buffer(buffer: Buffer) -> Body {
        Body {
            len: Some(buffer.len() as u64),
            kind: Kind::Buffer(Box::new(buffer)),
        }
    }

    pub(crate) fn incoming(inc: Incoming) -> Body {
        Body {
            len: inc.len,
            kind: Kind::Incoming(inc),
        }
    }

    /// The body's exact length, when known.
    pub fn size_hint(&self) -> Option<u64> {
        self.len
    }

    /// Whether the body is known to be empty.
    pub fn is_empty(&self) -> bool {
        self.len == Some(0)
    }

    /// The trailer fields of an arriving chunked body, once it has been
    /// read to its end.
    pub fn trailers(&self) -> Option<HeaderMap> {
        match &self.kind {
            Kind::Incoming(inc) => inc.source.borrow().trailers(inc.gen),
            _ => None,
        }
    }

    /// Polls for the next piece of the body; `None` at its end.
    pub fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Vec<u8>, Error>>> {
        match &mut self.kind {
            Kind::Empty => Poll::Ready(None),
            Kind::Bytes(b) => {
                let out = b.as_bytes().to_vec();
                self.kind = Kind::Empty;
                Poll::Ready(if out.is_empty() { None } else { Some(Ok(out)) })
            }
            Kind::Stream(s) => match s.as_mut().poll_next(cx) {
                Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Error::Io(e)))),
                Poll::Ready(Some(Ok(v))) => Poll::Ready(Some(Ok(v))),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            },
            Kind::Channel(r) => r.poll_chunk(cx),
            Kind::File { seg, pos } => {
                let left = seg.len() - *pos;
                if left == 0 {
                    return Poll::Ready(None);
                }
                let n = left.min(READ_CHUNK as u64);
                let mut tmp = Buffer::new();
                let r = tmp
                    .add_file_segment(seg, *pos, Some(n))
                    .map_err(Error::from)
                    .and_then(|()| tmp.to_vec().map_err(Error::from));
                if let Ok(v) = &r {
                    *pos += v.len() as u64;
                }
                Poll::Ready(Some(r))
            }
            Kind::Buffer(b) => {
                let n = b.len().min(READ_CHUNK);
                if n == 0 {
                    return Poll::Ready(None);
                }
                let mut out = vec![0u8; n];
                let r = b.remove(&mut out).map_err(Error::from).map(|got| {
                    out.truncate(got);
                    out
                });
                Poll::Ready(Some(r))
            }
            Kind::Incoming(inc) => {
                if inc.done {
                    return Poll::Ready(None);
                }
                let r = inc.source.borrow_mut().poll_chunk(inc.gen, cx);
                if matches!(r, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
                    inc.done = true;
                }
                r
            }
        }
    }

    /// The next piece of the body; `None` at its end.
    pub async fn chunk(&mut self) -> Option<Result<Vec<u8>, Error>> {
        poll_fn(|cx| self.poll_chunk(cx)).await
    }

    /// Reads the whole body into memory.
    pub async fn collect(self) -> Result<Vec<u8>, Error> {
        self.collect_limited(usize::MAX).await
    }

    /// Reads the whole body into memory, failing with
    /// [`Error::BodyTooLarge`] beyond `max` bytes.
    pub async fn collect_limited(mut self, max: usize) -> Result<Vec<u8>, Error> {
        if let Kind::Bytes(b) = &self.kind {
            if b.len() > max {
                return Err(Error::BodyTooLarge);
            }
        }
        let mut out = Vec::new();
        while let Some(piece) = self.chunk().await {
            let piece = piece?;
            if out.len() + piece.len() > max {
                return Err(Error::BodyTooLarge);
            }
            if out.is_empty() {
                out = piece;
            } else {
                out.extend_from_slice(&piece);
            }
        }
        Ok(out)
    }
}

impl Stream for Body {
    type Item = Result<Vec<u8>, Error>;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_chunk(cx)
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Body {
        Body::bytes(v)
    }
}

impl From<String> for Body {
    fn from(v: String) -> Body {
        Body::bytes(v)
    }
}

impl From<&'static str> for Body {
    fn from(v: &'static str) -> Body {
        Body::bytes(v)
    }
}

impl From<&'static [u8]> for Body {
    fn from(v: &'static [u8]) -> Body {
        Body::bytes(v)
    }
}

impl From<()> for Body {
    fn from(_: ()) -> Body {
        Body::empty()
    }
}
