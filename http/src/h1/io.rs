//! One HTTP/1 connection's buffered stream and the state of the body
//! arriving on it, shared (on one thread) between the task that runs the
//! connection and the [`Body`](crate::Body) handed to the application.

use super::chunked::{ChunkedDecoder, Decoded};
use super::head::Framing;
use crate::body::{BodySource, READ_CHUNK};
use crate::error::Error;
use http::HeaderMap;
use runtime_io::{BufferedStream, Transport};
use std::task::{ready, Context, Poll};

/// Where the arriving body is.
#[derive(Debug)]
pub(crate) enum BodyState {
    /// No body in progress (or it was fully read).
    Done,
    /// `remaining` bytes of a `Content-Length` body.
    Length(u64),
    Chunked(Box<ChunkedDecoder>),
    /// Until the peer closes (responses).
    UntilClose,
    /// Reading failed; the connection must close.
    Failed,
}

/// A connection: the stream plus the body being read.
pub(crate) struct ConnIo<S> {
    pub(crate) io: BufferedStream<S>,
    pub(crate) body: BodyState,
    /// The generation of the current body; bodies of older exchanges read
    /// nothing.
    pub(crate) gen: u64,
    /// Bytes of the current body read so far and the most allowed.
    pub(crate) received: u64,
    pub(crate) max_body: u64,
    /// `100 Continue` still to be sent before the first body read.
    pub(crate) continue_pending: bool,
    /// The last body error, for the server's answer.
    pub(crate) error: Option<Error>,
    pub(crate) trailers: Option<HeaderMap>,
}

impl<S> ConnIo<S> {
    pub(crate) fn new(io: BufferedStream<S>) -> ConnIo<S> {
        ConnIo {
            io,
            body: BodyState::Done,
            gen: 0,
            received: 0,
            max_body: u64::MAX,
            continue_pending: false,
            error: None,
            trailers: None,
        }
    }

    /// Starts a new body with `framing`; returns its generation.
    pub(crate) fn start_body(
        &mut self,
        framing: Framing,
        max_body: u64,
        max_trailer: usize,
    ) -> u64 {
        self.gen += 1;
        self.received = 0;
        self.max_body = max_body;
        self.error = None;
        self.trailers = None;
        self.continue_pending = false;
        self.body = match framing {
            Framing::Empty | Framing::Length(0) => BodyState::Done,
            Framing::Length(n) => BodyState::Length(n),
            Framing::Chunked => {
                BodyState::Chunked(Box::new(ChunkedDecoder::with_max_trailer(max_trailer)))
            }
            Framing::UntilClose => BodyState::UntilClose,
        };
        self.gen
    }

    /// Whether the current body has been read to its end.
    pub(crate) fn body_done(&self) -> bool {
        matches!(self.body, BodyState::Done)
    }

    /// Ends the current exchange: later reads through its body get
    /// nothing.
    pub(crate) fn retire(&mut self) {
        self.gen += 1;
    }

    fn fail(&mut self, e: Error) -> Poll<Option<Result<Vec<u8>, Error>>> {
        self.body = BodyState::Failed;
        let copy = match &e {
            Error::Io(io) => Error::Io(std::io::Error::new(io.kind(), io.to_string())),
            Error::Timeout(w) => Error::Timeout(w),
            Error::ConnectionClosed => Error::ConnectionClosed,
            Error::Protocol(s, w) => Error::Protocol(*s, w),
            Error::BodyTooLarge => Error::BodyTooLarge,
            Error::Invalid(s) => Error::Invalid(s.clone()),
            Error::Resolve(e) => Error::Invalid(e.to_string()),
        };
        self.error = Some(copy);
        Poll::Ready(Some(Err(e)))
    }

    fn count(&mut self, n: usize) -> Result<(), Error> {
        self.received += n as u64;
        if self.received > self.max_body {
            return Err(Error::BodyTooLarge);
        }
        Ok(())
    }
}

impl<S: Transport> ConnIo<S> {
    /// Reads once more from the socket; end of stream is an error unless
    /// `eof_ok`.
    fn poll_more(&mut self, cx: &mut Context<'_>) -> Poll<Result<bool, Error>> {
        match ready!(self.io.poll_fill(cx)) {
            Ok(0) => Poll::Ready(Ok(false)),
            Ok(_) => Poll::Ready(Ok(true)),
            Err(e) => Poll::Ready(Err(Error::from_io(e, "body read"))),
        }
    }

    /// The next piece of the current body.
    pub(crate) fn poll_body(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Vec<u8>, Error>>> {
        if self.continue_pending {
            if self.io.output().is_empty() {
                if let Err(e) = self.io.output_mut().add(b"HTTP/1.1 100 Continue\r\n\r\n") {
                    return self.fail(e.into());
                }
            }
            if let Err(e) = ready!(self.io.poll_flush_watermark(cx)) {
                return self.fail(Error::from_io(e, "write"));
            }
            self.continue_pending = false;
        }
        loop {
            match &mut self.body {
                BodyState::Done => return Poll::Ready(None),
                BodyState::Failed => {
                    return Poll::Ready(Some(Err(Error::ConnectionClosed)));
                }
                BodyState::Length(rem) => {
                    let avail = self.io.input().len();
                    if avail > 0 {
                        let n = (*rem).min(avail as u64).min(READ_CHUNK as u64) as usize;
                        *rem -= n as u64;
                        if *rem == 0 {
                            self.body = BodyState::Done;
                        }
                        let mut out = vec![0u8; n];
                        if let Err(e) = self.io.input_mut().remove(&mut out) {
                            return self.fail(e.into());
                        }
                        if let Err(e) = self.count(n) {
                            return self.fail(e);
                        }
                        return Poll::Ready(Some(Ok(out)));
                    }
                }
                BodyState::UntilClose => {
                    let avail = self.io.input().len();
                    if avail > 0 {
                        let n = avail.min(READ_CHUNK);
                        let mut out = vec![0u8; n];
                        if let Err(e) = self.io.input_mut().remove(&mut out) {
                            return self.fail(e.into());
                        }
                        if let Err(e) = self.count(n) {
                            return self.fail(e);
                        }
                        return Poll::Ready(Some(Ok(out)));
                    }
                }
                BodyState::Chunked(dec) => {
                    let mut data = None;
                    let mut finished = false;
                    let mut used_total = 0;
                    if let Some(seg) = self.io.input().peek(usize::MAX).next() {
                        match dec.decode(seg) {
                            Ok((used, Decoded::Data(d))) => {
                                data = Some(d.to_vec());
                                used_total = used;
                            }
                            Ok((used, Decoded::NeedMore)) => used_total = used,
                            Ok((used, Decoded::Done)) => {
                                used_total = used;
                                finished = true;
                            }
                            Err(e) => return self.fail(e),
                        }
                    }
                    if used_total > 0 {
                        if let Err(e) = self.io.input_mut().drain(used_total) {
                            return self.fail(e.into());
                        }
                    }
                    if finished {
                        if let BodyState::Chunked(dec) = &mut self.body {
                            self.trailers = Some(dec.take_trailers());
                        }
                        self.body = BodyState::Done;
                        return Poll::Ready(None);
                    }
                    if let Some(d) = data {
                        if let Err(e) = self.count(d.len()) {
                            return self.fail(e);
                        }
                        return Poll::Ready(Some(Ok(d)));
                    }
                    if !self.io.input().is_empty() {
                        continue;
                    }
                }
            }
            match ready!(self.poll_more(cx)) {
                Ok(true) => {}
                Ok(false) => {
                    if matches!(self.body, BodyState::UntilClose) {
                        self.body = BodyState::Done;
                        return Poll::Ready(None);
                    }
                    if self.io.is_eof() {
                        return self.fail(Error::ConnectionClosed);
                    }
                    // At the read high watermark: cannot happen with an
                    // empty input, but never spin.
                    return self.fail(Error::Io(std::io::Error::other("input buffer full")));
                }
                Err(e) => return self.fail(e),
            }
        }
    }
}

impl<S: Transport> BodySource for ConnIo<S> {
    fn poll_chunk(
        &mut self,
        gen: u64,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Vec<u8>, Error>>> {
        if gen != self.gen {
            return Poll::Ready(Some(Err(Error::ConnectionClosed)));
        }
        self.poll_body(cx)
    }

    fn trailers(&self, gen: u64) -> Option<HeaderMap> {
        if gen != self.gen {
            return None;
        }
        self.trailers.clone()
    }
}
