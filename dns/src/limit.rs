//! Single-thread synchronisation for the resolver: [`Limiter`], a cap on
//! requests in flight with a FIFO queue, and [`Shutdown`], which ends
//! every pending request with `Cancelled`.

use crate::id_hash::IdMap;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// At most `max` holders at once; the rest wait in arrival order.
pub(crate) struct Limiter {
    available: Cell<usize>,
    queue: RefCell<VecDeque<(u64, Waker)>>,
    next_ticket: Cell<u64>,
}

impl Limiter {
    pub(crate) fn new(max: usize) -> Limiter {
        Limiter {
            available: Cell::new(max.max(1)),
            queue: RefCell::new(VecDeque::new()),
            next_ticket: Cell::new(0),
        }
    }

    pub(crate) fn acquire(&self) -> Acquire<'_> {
        Acquire {
            limiter: self,
            ticket: None,
            done: false,
        }
    }

    /// Requests waiting for a slot.
    pub(crate) fn queued(&self) -> usize {
        self.queue.borrow().len()
    }

    fn release(&self) {
        self.available.set(self.available.get() + 1);
        self.wake_front();
    }

    fn wake_front(&self) {
        if self.available.get() > 0 {
            if let Some((_, w)) = self.queue.borrow().front() {
                w.wake_by_ref();
            }
        }
    }
}

/// Waits for a slot of a [`Limiter`].
pub(crate) struct Acquire<'a> {
    limiter: &'a Limiter,
    ticket: Option<u64>,
    done: bool,
}

/// A slot, given back on drop.
pub(crate) struct Permit<'a> {
    limiter: &'a Limiter,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.limiter.release();
    }
}

impl<'a> Future for Acquire<'a> {
    type Output = Permit<'a>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Permit<'a>> {
        let l = self.limiter;
        let mut queue = l.queue.borrow_mut();
        let first = match self.ticket {
            None => queue.is_empty(),
            Some(t) => queue.front().is_some_and(|(f, _)| *f == t),
        };
        if first && l.available.get() > 0 {
            if self.ticket.is_some() {
                queue.pop_front();
            }
            drop(queue);
            l.available.set(l.available.get() - 1);
            self.done = true;
            self.ticket = None;
            // The next in line may fit too.
            l.wake_front();
            return Poll::Ready(Permit { limiter: l });
        }
        match self.ticket {
            Some(t) => {
                if let Some(slot) = queue.iter_mut().find(|(f, _)| *f == t) {
                    slot.1.clone_from(cx.waker());
                }
            }
            None => {
                let t = l.next_ticket.get();
                l.next_ticket.set(t + 1);
                queue.push_back((t, cx.waker().clone()));
                self.ticket = Some(t);
            }
        }
        Poll::Pending
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        if let (Some(t), false) = (self.ticket, self.done) {
            let mut queue = self.limiter.queue.borrow_mut();
            if let Some(i) = queue.iter().position(|(f, _)| *f == t) {
                queue.remove(i);
            }
            drop(queue);
            // A cancelled waiter must not swallow a wake-up meant for the
            // queue.
            self.limiter.wake_front();
        }
    }
}

/// Ends pending requests: once triggered, every [`Shutdown::guard`]ed
/// future finishes with `None`.
pub(crate) struct Shutdown {
    triggered: Cell<bool>,
    wakers: RefCell<IdMap<u64, Waker>>,
    next: Cell<u64>,
}

impl Shutdown {
    pub(crate) fn new() -> Shutdown {
        Shutdown {
            triggered: Cell::new(false),
            wakers: RefCell::new(IdMap::default()),
            next: Cell::new(0),
        }
    }

    pub(crate) fn is_triggered(&self) -> bool {
        self.triggered.get()
    }

    pub(crate) fn trigger(&self) {
        self.triggered.set(true);
        let wakers: Vec<Waker> = self.wakers.borrow_mut().drain().map(|(_, w)| w).collect();
        for w in wakers {
            w.wake();
        }
    }

    /// `fut`, unless shutdown comes first (then `None`).
    pub(crate) async fn guard<F: Future>(&self, fut: F) -> Option<F::Output> {
        let id = self.next.get();
        self.next.set(id + 1);
        let g = Guard { shutdown: self, id };
        let mut fut = std::pin::pin!(fut);
        std::future::poll_fn(|cx| {
            if g.shutdown.triggered.get() {
                return Poll::Ready(None);
            }
            if let Poll::Ready(v) = fut.as_mut().poll(cx) {
                return Poll::Ready(Some(v));
            }
            g.shutdown
                .wakers
                .borrow_mut()
                .entry(g.id)
                .and_modify(|w| w.clone_from(cx.waker()))
                .or_insert_with(|| cx.waker().clone());
            Poll::Pending
        })
        .await
    }
}

struct Guard<'a> {
    shutdown: &'a Shutdown,
    id: u64,
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.shutdown.wakers.borrow_mut().remove(&self.id);
    }
}
