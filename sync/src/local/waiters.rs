//! A small FIFO list of waiting tasks' wakers, each under an id its future
//! keeps, so a dropped future can take itself out. One thread only: a
//! `RefCell` borrowed for the list operation alone, never while a waker
//! runs (a waker may call back into the primitive).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::task::Waker;

#[derive(Default)]
pub(crate) struct Waiters {
    next_id: Cell<u64>,
    list: RefCell<VecDeque<(u64, Waker)>>,
}

impl Waiters {
    /// Appends a waiter; returns its id.
    pub(crate) fn push(&self, waker: &Waker) -> u64 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        self.list.borrow_mut().push_back((id, waker.clone()));
        id
    }

    /// Refreshes the waker of waiter `id`; false if it is no longer in the
    /// list (it was popped: woken).
    pub(crate) fn update(&self, id: u64, waker: &Waker) -> bool {
        let mut list = self.list.borrow_mut();
        match list.iter_mut().find(|(i, _)| *i == id) {
            Some((_, w)) => {
                if !w.will_wake(waker) {
                    *w = waker.clone();
                }
                true
            }
            None => false,
        }
    }

    /// Takes waiter `id` out; false if it was no longer in the list.
    pub(crate) fn remove(&self, id: u64) -> bool {
        let mut list = self.list.borrow_mut();
        match list.iter().position(|(i, _)| *i == id) {
            Some(pos) => {
                list.remove(pos);
                true
            }
            None => false,
        }
    }

    /// Takes the longest waiting one out.
    pub(crate) fn pop(&self) -> Option<(u64, Waker)> {
        self.list.borrow_mut().pop_front()
    }

    /// Takes every waiter out.
    pub(crate) fn take_all(&self) -> VecDeque<(u64, Waker)> {
        std::mem::take(&mut *self.list.borrow_mut())
    }

    pub(crate) fn len(&self) -> usize {
        self.list.borrow().len()
    }
}
