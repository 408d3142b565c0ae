//! Combining futures: [`zip`] (both outputs), [`try_zip`] (both, or the
//! first error), [`race`] (the first to finish), and the macros built on
//! them, [`join!`](crate::join), [`try_join!`](crate::try_join) and
//! [`select!`](crate::select).
//!
//! ```
//! use runtime::future::{race, zip};
//! use runtime::time::sleep;
//! use std::time::Duration;
//!
//! #[runtime::main]
//! async fn main() {
//!     let (a, b) = zip(async { 1 }, async { 2 }).await;
//!     assert_eq!(a + b, 3);
//!     let slow = async { sleep(Duration::from_secs(5)).await; "slow" };
//!     assert_eq!(race(async { "fast" }, slow).await, "fast");
//! }
//! ```

use pin_project_lite::pin_project;
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

pin_project! {
    /// The future of [`zip`].
    #[must_use = "futures do nothing unless awaited"]
    pub struct Zip<A: Future, B: Future> {
        #[pin]
        a: A,
        #[pin]
        b: B,
        a_out: Option<A::Output>,
        b_out: Option<B::Output>,
    }
}

/// Runs `a` and `b` concurrently (in this task) and returns both outputs.
pub fn zip<A: Future, B: Future>(a: A, b: B) -> Zip<A, B> {
    Zip {
        a,
        b,
        a_out: None,
        b_out: None,
    }
}

impl<A: Future, B: Future> Future for Zip<A, B> {
    type Output = (A::Output, B::Output);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if this.a_out.is_none() {
            if let Poll::Ready(v) = this.a.poll(cx) {
                *this.a_out = Some(v);
            }
        }
        if this.b_out.is_none() {
            if let Poll::Ready(v) = this.b.poll(cx) {
                *this.b_out = Some(v);
            }
        }
        if this.a_out.is_some() && this.b_out.is_some() {
            Poll::Ready((this.a_out.take().unwrap(), this.b_out.take().unwrap()))
        } else {
            Poll::Pending
        }
    }
}

pin_project! {
    /// The future of [`try_zip`].
    #[must_use = "futures do nothing unless awaited"]
    pub struct TryZip<A, B, T, U> {
        #[pin]
        a: A,
        #[pin]
        b: B,
        a_out: Option<T>,
        b_out: Option<U>,
    }
}

/// Runs `a` and `b` concurrently and returns both values, or the first
/// error as soon as either fails (the other is then dropped with this
/// future).
pub fn try_zip<A, B, T, U, E>(a: A, b: B) -> TryZip<A, B, T, U>
where
    A: Future<Output = Result<T, E>>,
    B: Future<Output = Result<U, E>>,
{
    TryZip {
        a,
        b,
        a_out: None,
        b_out: None,
    }
}

impl<A, B, T, U, E> Future for TryZip<A, B, T, U>
where
    A: Future<Output = Result<T, E>>,
    B: Future<Output = Result<U, E>>,
{
    type Output = Result<(T, U), E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if this.a_out.is_none() {
            if let Poll::Ready(v) = this.a.poll(cx) {
                *this.a_out = Some(v?);
            }
        }
        if this.b_out.is_none() {
            if let Poll::Ready(v) = this.b.poll(cx) {
                *this.b_out = Some(v?);
            }
        }
        if this.a_out.is_some() && this.b_out.is_some() {
            Poll::Ready(Ok((this.a_out.take().unwrap(), this.b_out.take().unwrap())))
        } else {
            Poll::Pending
        }
    }
}

pin_project! {
    /// The future of [`race`].
    #[must_use = "futures do nothing unless awaited"]
    pub struct Race<A, B> {
        #[pin]
        a: A,
        #[pin]
        b: B,
    }
}

/// Runs `a` and `b` concurrently and returns the output of the first to
/// finish; the other is dropped with this future. Which one is polled
/// first changes from poll to poll, so neither starves the other.
pub fn race<T, A, B>(a: A, b: B) -> Race<A, B>
where
    A: Future<Output = T>,
    B: Future<Output = T>,
{
    Race { a, b }
}

impl<T, A, B> Future for Race<A, B>
where
    A: Future<Output = T>,
    B: Future<Output = T>,
{
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let this = self.project();
        if random_below(2) == 0 {
            if let Poll::Ready(v) = this.a.poll(cx) {
                return Poll::Ready(v);
            }
            this.b.poll(cx)
        } else {
            if let Poll::Ready(v) = this.b.poll(cx) {
                return Poll::Ready(v);
            }
            this.a.poll(cx)
        }
    }
}

thread_local! {
    static RNG: Cell<u64> = Cell::new({
        // A per-thread seed: the address of a local mixed with the time.
        let local = 0u8;
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        (std::ptr::addr_of!(local) as u64) ^ t | 1
    });
}

/// A number in `0..n` (`n > 0`) from a per-thread xorshift generator:
/// for fairness between branches, not for anything secret.
pub(crate) fn random_below(n: usize) -> usize {
    RNG.with(|c| {
        let mut x = c.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        c.set(x);
        (x % n as u64) as usize
    })
}
