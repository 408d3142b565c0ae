//! Handler futures in reusable heap cells: a connection keeps the cell of
//! the last future it ran and the next future of the same type is written
//! into it, so a handler given as a closure costs no allocation per request
//! (a hand-written [`Handler`](crate::Handler), whose `call` returns a box of
//! its own, costs that box only).
//!
//! Internal plumbing of [`Handler::call_in`](crate::Handler::call_in):
//! public because that method is, hidden from the documentation.

use crate::body::Body;
use http::Response;
use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A heap cell holding one handler future (or none, between requests).
struct Cell<F> {
    fut: Option<F>,
}

impl<F: Future<Output = Response<Body>>> Future for Cell<F> {
    type Output = Response<Body>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response<Body>> {
        // SAFETY: `fut` is structurally pinned: while it is `Some` it is
        // never moved, only polled here through this projection or dropped
        // in place (`into_spare`).
        let fut = unsafe { self.map_unchecked_mut(|c| &mut c.fut) };
        match fut.as_pin_mut() {
            Some(f) => f.poll(cx),
            // Polled after it was emptied: never answers.
            None => Poll::Pending,
        }
    }
}

/// A handler future in a reusable cell: poll it like any future; once it
/// has answered, [`FutureSlot::give_back`] keeps its cell for the next one.
#[doc(hidden)]
pub trait SlotFuture: Future<Output = Response<Body>> {
    /// Drops the future (in place) and returns its emptied cell.
    fn into_spare(self: Pin<Box<Self>>) -> Box<dyn Any>;

    /// Polls the future; its answer is put in `out` (the response is moved
    /// once, from the handler's future to where the server reads it).
    fn poll_into(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut Option<Response<Body>>,
    ) -> Poll<()>;
}

impl<F: Future<Output = Response<Body>> + 'static> SlotFuture for Cell<F> {
    fn poll_into(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut Option<Response<Body>>,
    ) -> Poll<()> {
        match self.poll(cx) {
            Poll::Ready(r) => {
                *out = Some(r);
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn into_spare(mut self: Pin<Box<Self>>) -> Box<dyn Any> {
        // SAFETY: the future is dropped where it lies (assigning `None`
        // runs its destructor in place), as pinning requires; the emptied
        // cell holds nothing pinned, so the box may leave the `Pin`.
        unsafe {
            self.as_mut().get_unchecked_mut().fut = None;
            Pin::into_inner_unchecked(self)
        }
    }
}

/// A handler future in a cell ([`FutureSlot::hold`]).
#[doc(hidden)]
pub type CellFuture = Pin<Box<dyn SlotFuture>>;

/// Where a connection keeps the cell of its last handler future.
#[doc(hidden)]
#[derive(Default)]
pub struct FutureSlot {
    spare: Option<Box<dyn Any>>,
}

impl FutureSlot {
    /// `fut` in a cell: the spare one if it was made for this type of
    /// future, else a new one.
    pub fn hold<F: Future<Output = Response<Body>> + 'static>(&mut self, fut: F) -> CellFuture {
        if let Some(spare) = self.spare.take() {
            match spare.downcast::<Cell<F>>() {
                Ok(mut cell) => {
                    cell.fut = Some(fut);
                    return Box::into_pin(cell);
                }
                Err(other) => self.spare = Some(other),
            }
        }
        Box::pin(Cell { fut: Some(fut) })
    }

    /// Drops a future that has answered and keeps its cell.
    pub(crate) fn give_back(&mut self, fut: CellFuture) {
        self.spare = Some(fut.into_spare());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;
    use std::task::Waker;

    #[test]
    fn a_cell_is_reused_for_the_same_type_and_its_future_dropped_in_place() {
        let mut slot = FutureSlot::default();
        let mut cx = Context::from_waker(Waker::noop());
        let token = Rc::new(());
        let make = |t: Rc<()>| async move {
            let _keep = t;
            Response::new(Body::from("x"))
        };
        let mut a = slot.hold(make(token.clone()));
        let first = &*a as *const dyn SlotFuture as *const u8;
        assert!(a.as_mut().poll(&mut cx).is_ready());
        slot.give_back(a);
        // The future (and what it held) is gone.
        assert_eq!(Rc::strong_count(&token), 1);
        let b = slot.hold(make(token.clone()));
        assert_eq!(&*b as *const dyn SlotFuture as *const u8, first);
        // A future of another type gets a cell of its own; dropping a held
        // future drops what it holds.
        let c = slot.hold(async { Response::new(Body::empty()) });
        assert_ne!(&*c as *const dyn SlotFuture as *const u8, first);
        drop(b);
        assert_eq!(Rc::strong_count(&token), 1);
        drop(c);
    }
}
