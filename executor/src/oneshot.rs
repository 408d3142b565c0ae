//! A one-shot result slot shared by a producer on one thread and a `Send`
//! handle awaiting it on another: the blocking pool's [`BlockingHandle`]
//! and the per-thread executor's [`RemoteHandle`] use it.
//!
//! [`BlockingHandle`]: crate::BlockingHandle
//! [`RemoteHandle`]: crate::RemoteHandle

use crate::task::{AbortHandle, JoinError};
use parking_lot::Mutex;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

struct State<T> {
    /// The result, until the receiver takes it.
    result: Option<Result<T, JoinError>>,
    /// Set once a result has been stored (it stays set after it is taken).
    done: bool,
    waker: Option<Waker>,
    /// The receiver asked for cancellation.
    aborted: bool,
    /// Cancels the task producing the result, once it exists.
    abort: Option<AbortHandle>,
}

pub(crate) struct Slot<T> {
    state: Mutex<State<T>>,
}

/// A new slot: the sending half and the receiving half.
pub(crate) fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let slot = Arc::new(Slot {
        state: Mutex::new(State {
            result: None,
            done: false,
            waker: None,
            aborted: false,
            abort: None,
        }),
    });
    (
        Sender {
            slot: Some(slot.clone()),
        },
        Receiver { slot },
    )
}

/// Stores the result; dropped without sending, it stores a cancellation.
pub(crate) struct Sender<T> {
    slot: Option<Arc<Slot<T>>>,
}

impl<T> Sender<T> {
    pub(crate) fn send(mut self, result: Result<T, JoinError>) {
        if let Some(slot) = self.slot.take() {
            slot.complete(result);
        }
    }

    /// Whether the receiver already asked for cancellation.
    pub(crate) fn is_aborted(&self) -> bool {
        self.slot.as_ref().is_some_and(|s| s.state.lock().aborted)
    }

    /// A handle to register the producing task's abort handle with, once
    /// the sender itself has moved into that task.
    pub(crate) fn registrar(&self) -> Registrar<T> {
        Registrar {
            slot: self.slot.clone(),
        }
    }
}

/// See [`Sender::registrar`].
pub(crate) struct Registrar<T> {
    slot: Option<Arc<Slot<T>>>,
}

impl<T> Registrar<T> {
    /// Remembers how to cancel the producing task; returns `false` (and
    /// stores nothing) when cancellation was already requested or the
    /// result is in.
    pub(crate) fn set_abort(&self, abort: AbortHandle) -> bool {
        let Some(slot) = &self.slot else { return false };
        let mut st = slot.state.lock();
        if st.aborted || st.done {
            return st.done;
        }
        st.abort = Some(abort);
        true
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            slot.complete(Err(JoinError::cancelled()));
        }
    }
}

impl<T> Slot<T> {
    fn complete(&self, result: Result<T, JoinError>) {
        let waker = {
            let mut st = self.state.lock();
            if st.done {
                return;
            }
            st.done = true;
            st.result = Some(result);
            st.abort = None;
            st.waker.take()
        };
        // Wake outside the lock: the waker may run arbitrary code.
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// Awaits the result.
pub(crate) struct Receiver<T> {
    slot: Arc<Slot<T>>,
}

impl<T> Receiver<T> {
    pub(crate) fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Result<T, JoinError>> {
        let mut st = self.slot.state.lock();
        if st.done {
            return match st.result.take() {
                Some(r) => Poll::Ready(r),
                None => panic!("runtime: handle polled after it returned its output"),
            };
        }
        match &st.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => st.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.slot.state.lock().done
    }

    /// Requests cancellation: the producing task is aborted if it runs,
    /// and is never started if it has not been yet.
    pub(crate) fn abort(&self) {
        let abort = {
            let mut st = self.slot.state.lock();
            if st.done {
                return;
            }
            st.aborted = true;
            st.abort.take()
        };
        if let Some(a) = abort {
            a.abort();
        }
    }
}
