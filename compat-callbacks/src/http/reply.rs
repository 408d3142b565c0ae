//! How a reply travels from a callback to the server's handler task: the
//! [`ReplySlot`] the handler task waits on (a whole response, or the head
//! of a streamed one), and the [`ChunkQueue`] that carries the chunks of
//! `send_reply_start` / `send_reply_chunk` / `send_reply_end` to the
//! response body ([`ChunkStream`]).

use futures_core::Stream;
use runtime_http::http::{Response, StatusCode};
use runtime_http::Body;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

enum SlotState {
    /// The callback has not answered yet.
    Waiting,
    /// The response (head and body, or head and a streamed body).
    Ready(Box<Response<Body>>),
    /// Handed to the server.
    Taken,
    /// Every handle to the request was dropped without an answer, or the
    /// `Http` was freed.
    Abandoned,
}

/// Where the answer to one request is put for the handler task.
pub(crate) struct ReplySlot {
    state: RefCell<SlotState>,
    waker: RefCell<Option<Waker>>,
}

impl ReplySlot {
    pub(crate) fn new() -> ReplySlot {
        ReplySlot {
            state: RefCell::new(SlotState::Waiting),
            waker: RefCell::new(None),
        }
    }

    /// Whether no answer came yet.
    pub(crate) fn is_waiting(&self) -> bool {
        matches!(*self.state.borrow(), SlotState::Waiting)
    }

    fn settle(&self, to: SlotState) {
        {
            let mut st = self.state.borrow_mut();
            if !matches!(*st, SlotState::Waiting) {
                return;
            }
            *st = to;
        }
        let w = self.waker.borrow_mut().take();
        if let Some(w) = w {
            w.wake();
        }
    }

    /// The answer.
    pub(crate) fn fill(&self, resp: Response<Body>) {
        self.settle(SlotState::Ready(Box::new(resp)));
    }

    /// No answer will come.
    pub(crate) fn abandon(&self) {
        self.settle(SlotState::Abandoned);
    }

    /// The handler task's wait: the response, or a 500 that closes the
    /// connection when the request was abandoned.
    pub(crate) fn poll_response(&self, cx: &mut Context<'_>) -> Poll<Response<Body>> {
        let mut st = self.state.borrow_mut();
        match std::mem::replace(&mut *st, SlotState::Taken) {
            SlotState::Ready(r) => Poll::Ready(*r),
            SlotState::Waiting => {
                *st = SlotState::Waiting;
                drop(st);
                let mut w = self.waker.borrow_mut();
                match w.as_ref() {
                    Some(old) if old.will_wake(cx.waker()) => {}
                    _ => *w = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
            SlotState::Abandoned | SlotState::Taken => {
                Poll::Ready(plain(StatusCode::INTERNAL_SERVER_ERROR, true))
            }
        }
    }
}

/// A short text response; with `close`, the connection closes after it.
pub(crate) fn plain(status: StatusCode, close: bool) -> Response<Body> {
    let text = status.canonical_reason().unwrap_or("Error");
    let mut r = Response::new(Body::from(format!("{} {text}\n", status.as_u16())));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        runtime_http::http::header::CONTENT_TYPE,
        runtime_http::http::HeaderValue::from_static("text/plain"),
    );
    if close {
        h.insert(
            runtime_http::http::header::CONNECTION,
            runtime_http::http::HeaderValue::from_static("close"),
        );
    }
    r
}

/// The chunks of a streamed reply, between the request handle (which
/// pushes) and the response body (which takes).
#[derive(Default)]
pub(crate) struct ChunkQueue {
    chunks: VecDeque<Vec<u8>>,
    /// `send_reply_end` was called.
    done: bool,
    /// The request was dropped before `send_reply_end`: the body is cut.
    aborted: bool,
    /// The server dropped the body (the client went away, a write failed).
    receiver_gone: bool,
    waker: Option<Waker>,
}

impl ChunkQueue {
    fn wake(&mut self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    /// Queues a chunk; dropped when nobody will send it any more.
    pub(crate) fn push(&mut self, data: Vec<u8>) {
        if self.receiver_gone || self.done || data.is_empty() {
            return;
        }
        self.chunks.push_back(data);
        self.wake();
    }

    /// The last chunk was queued.
    pub(crate) fn finish(&mut self) {
        self.done = true;
        self.wake();
    }

    /// The reply will never end properly.
    pub(crate) fn abort(&mut self) {
        if !self.done {
            self.aborted = true;
            self.wake();
        }
    }

    /// Whether the server stopped taking chunks.
    pub(crate) fn is_closed(&self) -> bool {
        self.receiver_gone
    }
}

/// The body of a streamed reply: the queue's chunks, in order.
pub(crate) struct ChunkStream(pub(crate) Rc<RefCell<ChunkQueue>>);

impl Stream for ChunkStream {
    type Item = io::Result<Vec<u8>>;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut q = self.0.borrow_mut();
        if let Some(c) = q.chunks.pop_front() {
            return Poll::Ready(Some(Ok(c)));
        }
        if q.aborted {
            return Poll::Ready(Some(Err(io::Error::other(
                "the request was dropped before send_reply_end",
            ))));
        }
        if q.done {
            return Poll::Ready(None);
        }
        match q.waker.as_ref() {
            Some(old) if old.will_wake(cx.waker()) => {}
            _ => q.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl Drop for ChunkStream {
    fn drop(&mut self) {
        let mut q = self.0.borrow_mut();
        q.receiver_gone = true;
        q.chunks.clear();
        q.waker = None;
    }
}
