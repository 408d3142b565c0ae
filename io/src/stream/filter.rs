//! Filters (libevent's `bufferevent_filter`): a [`BufferedStream`] whose
//! bytes pass through user transforms on the way in and on the way out.
//!
//! A [`Filtered`] transport sits on an *underlying* [`BufferedStream`]:
//! reading runs the input [`Filter`] from the underlying stream's input
//! buffer into the filtered stream's input; flushing runs the output filter
//! from the filtered stream's output into the underlying stream's output
//! and flushes that. Whole chunks move between the buffers without copies
//! wherever the filter itself moves them (for example with
//! [`Buffer::add_buffer`]).

use super::{BufferedStream, Fill, Transport};
use crate::Buffer;
use std::fmt;
use std::io;
use std::task::{ready, Context, Poll};

/// How much a filter (or a flush) must push through
/// (libevent's `enum bufferevent_flush_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlushMode {
    /// `BEV_NORMAL`: process what is convenient; keeping a partial unit
    /// (an unfinished line, a compression block) for later is fine.
    Normal,
    /// `BEV_FLUSH`: process everything that is there now, even a partial
    /// unit; more data may follow.
    Flush,
    /// `BEV_FINISHED`: this is the end — process everything and write any
    /// trailer; no more data will follow.
    Finished,
}

/// What a [`Filter`] did (libevent's `enum bufferevent_filter_result`).
#[derive(Debug)]
pub enum FilterResult {
    /// `BEV_OK`: some output was produced (or there was nothing to do).
    Ok,
    /// `BEV_NEED_MORE`: no output can be produced before more input
    /// arrives.
    NeedMore,
    /// `BEV_ERROR`: the input is bad; the error is returned by the read or
    /// flush that ran the filter.
    Error(io::Error),
}

/// A byte transform for [`BufferedStream::filtered`]
/// (`bufferevent_filter_cb`): takes bytes from the front of `src`, appends
/// the transformed bytes to `dst`.
///
/// A filter may leave bytes it cannot process yet in `src` (returning
/// [`FilterResult::NeedMore`] if it produced nothing); with
/// [`FlushMode::Flush`] and [`FlushMode::Finished`] it should process
/// everything. Closures `FnMut(&mut Buffer, &mut Buffer, FlushMode) ->
/// FilterResult` are filters.
///
/// ```
/// use runtime::io::{Buffer, Filter, FilterResult, FlushMode};
///
/// /// Uppercases ASCII, a chunk at a time.
/// struct Upper;
/// impl Filter for Upper {
///     fn filter(&mut self, src: &mut Buffer, dst: &mut Buffer, _: FlushMode) -> FilterResult {
///         for part in src.peek(usize::MAX) {
///             if dst.add(&part.to_ascii_uppercase()).is_err() {
///                 return FilterResult::Error(std::io::ErrorKind::OutOfMemory.into());
///             }
///         }
///         let _ = src.clear();
///         FilterResult::Ok
///     }
/// }
///
/// let (mut src, mut dst) = (Buffer::new(), Buffer::new());
/// src.add(b"hello")?;
/// assert!(matches!(Upper.filter(&mut src, &mut dst, FlushMode::Normal), FilterResult::Ok));
/// assert_eq!(dst.to_vec()?, b"HELLO");
/// # Ok::<(), runtime::io::BufferError>(())
/// ```
pub trait Filter {
    /// Moves (transformed) bytes from `src` to `dst`.
    fn filter(&mut self, src: &mut Buffer, dst: &mut Buffer, mode: FlushMode) -> FilterResult;
}

impl<F> Filter for F
where
    F: FnMut(&mut Buffer, &mut Buffer, FlushMode) -> FilterResult,
{
    fn filter(&mut self, src: &mut Buffer, dst: &mut Buffer, mode: FlushMode) -> FilterResult {
        self(src, dst, mode)
    }
}

/// The identity filter: moves every chunk as it is, without copying.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Passthrough;

impl Filter for Passthrough {
    fn filter(&mut self, src: &mut Buffer, dst: &mut Buffer, _mode: FlushMode) -> FilterResult {
        match dst.add_buffer(src) {
            Ok(()) => FilterResult::Ok,
            Err(e) => FilterResult::Error(e.into()),
        }
    }
}

/// Most bytes left in the underlying output before the filtered stream
/// stops handing it more (the underlying stream is flushed first).
const UNDERLYING_OUTPUT_LIMIT: usize = 64 * 1024;

/// The transport of a filtered stream (`bufferevent_filter_new`): an
/// underlying [`BufferedStream`] plus an input and an output [`Filter`].
/// Made by [`BufferedStream::filtered`] or
/// [`BufferedStream::new`]`(Filtered::new(..))` (to keep the underlying
/// stream's settings: watermarks, timeouts, rate limits).
///
/// The filtered stream's own watermarks and timeouts apply to the filtered
/// bytes; the underlying stream's to the raw ones. Reads are limited by the
/// underlying input (and its high watermark); an input filter that expands
/// data may hand the filtered stream more than its high watermark asks for.
pub struct Filtered<S, I, O> {
    under: BufferedStream<S>,
    input: I,
    output: O,
    /// The input filter has seen the end of the underlying stream.
    input_done: bool,
    stage: Buffer,
}

impl<S: fmt::Debug, I, O> fmt::Debug for Filtered<S, I, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Filtered")
            .field("under", &self.under)
            .field("input_done", &self.input_done)
            .finish_non_exhaustive()
    }
}

impl<S, I, O> Filtered<S, I, O> {
    /// Filters over `under`: `input` transforms what is read from it,
    /// `output` what is written to it.
    pub fn new(under: BufferedStream<S>, input: I, output: O) -> Filtered<S, I, O> {
        Filtered {
            under,
            input,
            output,
            input_done: false,
            stage: Buffer::new(),
        }
    }

    /// The underlying stream (`bufferevent_get_underlying`).
    pub fn underlying(&self) -> &BufferedStream<S> {
        &self.under
    }

    /// The underlying stream, mutably (to set its limits and watermarks).
    pub fn underlying_mut(&mut self) -> &mut BufferedStream<S> {
        &mut self.under
    }

    /// The input and output filters.
    pub fn filters_mut(&mut self) -> (&mut I, &mut O) {
        (&mut self.input, &mut self.output)
    }

    /// Gives the underlying stream back; the filters are dropped.
    pub fn into_underlying(self) -> BufferedStream<S> {
        self.under
    }
}

impl<S, I, O> BufferedStream<Filtered<S, I, O>>
where
    S: Transport,
    I: Filter + Unpin,
    O: Filter + Unpin,
{
    /// A buffered stream over `inner` whose bytes pass through `input` on
    /// the way in and `output` on the way out (`bufferevent_filter_new`).
    /// Use [`Passthrough`] for a direction that needs no transform.
    ///
    /// ```
    /// use runtime::io::{pair, Buffer, BufferedStream, FilterResult, FlushMode, Passthrough};
    ///
    /// fn upper(src: &mut Buffer, dst: &mut Buffer, _: FlushMode) -> FilterResult {
    ///     let bytes = src.to_vec().unwrap().to_ascii_uppercase();
    ///     let _ = src.clear();
    ///     let _ = dst.add(&bytes);
    ///     FilterResult::Ok
    /// }
    ///
    /// runtime::block_on(async {
    ///     let (a, mut b) = pair();
    ///     let mut a = BufferedStream::filtered(a.into_inner(), Passthrough, upper);
    ///     a.write_all(b"shout\n").await?;
    ///     a.flush().await?;
    ///     assert_eq!(b.read_line(runtime::io::Eol::Lf).await?.unwrap(), b"SHOUT");
    ///     Ok::<(), std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn filtered(inner: S, input: I, output: O) -> Self {
        BufferedStream::new(Filtered::new(BufferedStream::new(inner), input, output))
    }
}

impl<S, I, O> Transport for Filtered<S, I, O>
where
    S: Transport,
    I: Filter + Unpin,
    O: Filter + Unpin,
{
    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        dst: &mut Buffer,
        _max: usize,
    ) -> Poll<io::Result<usize>> {
        loop {
            if self.input_done {
                return Poll::Ready(Ok(0));
            }
            let eof = self.under.is_eof();
            let src_len = self.under.input.len();
            if src_len > 0 || eof {
                let mode = if eof {
                    FlushMode::Finished
                } else {
                    FlushMode::Normal
                };
                let before = dst.len();
                let r = self.input.filter(&mut self.under.input, dst, mode);
                if let FilterResult::Error(e) = r {
                    return Poll::Ready(Err(e));
                }
                if eof {
                    self.input_done = true;
                }
                let produced = dst.len().saturating_sub(before);
                if produced > 0 {
                    return Poll::Ready(Ok(produced));
                }
                if self.input_done {
                    return Poll::Ready(Ok(0));
                }
                let consumed = self.under.input.len() < src_len;
                if consumed && matches!(r, FilterResult::Ok) && !self.under.input.is_empty() {
                    // It took something and may take more: run it again.
                    continue;
                }
            }
            match ready!(self.under.poll_fill_once(cx))? {
                Fill::Read(_) | Fill::Eof => {}
                Fill::Full => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "input filter needs more than the underlying stream's high watermark",
                    )))
                }
            }
        }
    }

    fn poll_write_buf(
        &mut self,
        cx: &mut Context<'_>,
        src: &mut Buffer,
        max: usize,
        mode: FlushMode,
    ) -> Poll<io::Result<usize>> {
        // Backpressure: while the underlying output is full, push it first.
        if self.under.output.len() >= UNDERLYING_OUTPUT_LIMIT {
            match self
                .under
                .poll_flush_to(cx, UNDERLYING_OUTPUT_LIMIT / 2, FlushMode::Normal)
            {
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                // Still full and waiting for the socket (the waker is
                // registered).
                Poll::Pending if self.under.output.len() >= UNDERLYING_OUTPUT_LIMIT => {
                    return Poll::Pending
                }
                // Drained, or the layer below takes nothing more for now (a
                // filter of its own): go on.
                _ => {}
            }
        }
        let before = src.len();
        let r = if max < src.len() {
            // Only part of the data may go now: filter that part, as a
            // normal (not final) step.
            src.remove_buffer(&mut self.stage, max)?;
            let r = self
                .output
                .filter(&mut self.stage, &mut self.under.output, FlushMode::Normal);
            src.prepend_buffer(&mut self.stage)?;
            r
        } else {
            self.output.filter(src, &mut self.under.output, mode)
        };
        if let FilterResult::Error(e) = r {
            return Poll::Ready(Err(e));
        }
        let consumed = before.saturating_sub(src.len());
        // Push the filtered bytes on; waiting for the socket is the next
        // call's business (the waker is registered either way).
        if let Poll::Ready(Err(e)) = self.under.poll_flush_to(cx, 0, FlushMode::Normal) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(consumed))
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.under.poll_flush_all(cx)
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.under.poll_finish(cx)
    }
}
