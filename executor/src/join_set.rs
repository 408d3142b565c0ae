//! [`JoinSet`]: many tasks, awaited in the order they finish.

use crate::task::{AbortHandle, Builder, JoinError, JoinHandle};
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// A set of tasks spawned on the current thread's runtime:
/// [`join_next`](JoinSet::join_next) returns the output of whichever
/// finishes next (in the order they finish, each found in O(1)), and
/// dropping the set aborts every task still in it.
///
/// # Cancel safety
///
/// `join_next` is cancel safe: if it loses a `select!`, no output is lost;
/// the next call returns it.
///
/// ```
/// use runtime::JoinSet;
/// use runtime::time::sleep;
/// use std::time::Duration;
///
/// #[runtime::main]
/// async fn main() {
///     let mut set = JoinSet::new();
///     for ms in [30u64, 10, 20] {
///         set.spawn(async move {
///             sleep(Duration::from_millis(ms)).await;
///             ms
///         });
///     }
///     let mut order = Vec::new();
///     while let Some(r) = set.join_next().await {
///         order.push(r.unwrap());
///     }
///     assert_eq!(order, [10, 20, 30]);
/// }
/// ```
pub struct JoinSet<T> {
    tasks: HashMap<u64, JoinHandle<T>>,
    done: Rc<RefCell<Done>>,
    next_id: u64,
}

/// Tasks that finished, in order, and the waker of the set's owner.
#[derive(Default)]
struct Done {
    ids: VecDeque<u64>,
    waker: Option<Waker>,
}

/// Moved into each task: dropped when the task's future is (it finished,
/// panicked or was aborted), it reports the task as done.
struct DoneGuard {
    id: u64,
    done: Rc<RefCell<Done>>,
}

impl Drop for DoneGuard {
    fn drop(&mut self) {
        let waker = {
            let mut d = self.done.borrow_mut();
            d.ids.push_back(self.id);
            d.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T: 'static> JoinSet<T> {
    /// An empty set.
    pub fn new() -> JoinSet<T> {
        JoinSet {
            tasks: HashMap::new(),
            done: Rc::default(),
            next_id: 0,
        }
    }

    /// Spawns `future` as a task of this set, on the current thread's
    /// runtime (as [`spawn`](crate::spawn)); panics outside a runtime.
    pub fn spawn<F: Future<Output = T> + 'static>(&mut self, future: F) -> AbortHandle {
        match self.spawn_with(Builder::new(), future) {
            Ok(h) => h,
            Err(e) => panic!("runtime: spawn failed: {e}"),
        }
    }

    /// Spawns a task of this set with options, a name for one:
    /// `set.build_task().name("conn-42").spawn(future)`.
    ///
    /// ```
    /// runtime::block_on(async {
    ///     let mut set = runtime::JoinSet::new();
    ///     let a = set.build_task().name("fetch-a").spawn(async { 1 }).unwrap();
    ///     assert_eq!(a.name(), Some("fetch-a"));
    ///     set.build_task().name("fetch-b").spawn(async { panic!("no route") }).unwrap();
    ///     let mut failed = Vec::new();
    ///     while let Some(r) = set.join_next().await {
    ///         if let Err(e) = r {
    ///             failed.push(e.name().unwrap().to_string());
    ///         }
    ///     }
    ///     assert_eq!(failed, ["fetch-b"]);
    /// });
    /// ```
    pub fn build_task(&mut self) -> JoinSetBuilder<'_, '_, T> {
        JoinSetBuilder {
            set: self,
            builder: Builder::new(),
        }
    }

    fn spawn_with<F: Future<Output = T> + 'static>(
        &mut self,
        builder: Builder<'_>,
        future: F,
    ) -> io::Result<AbortHandle> {
        let id = self.next_id;
        // Taken even if the spawn fails: the dropped future's guard then
        // reports this id as done, and an id in no task is skipped.
        self.next_id += 1;
        let guard = DoneGuard {
            id,
            done: self.done.clone(),
        };
        let handle = builder.spawn(async move {
            let _guard = guard;
            future.await
        })?;
        let abort = handle.abort_handle();
        self.tasks.insert(id, handle);
        Ok(abort)
    }

    /// How many tasks are in the set (running, or finished and not yet
    /// returned by `join_next`).
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether the set holds no task.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Waits for the next task to finish and returns its output (an error
    /// if it panicked or was aborted); `None` when the set is empty.
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        poll_fn(|cx| self.poll_join_next(cx)).await
    }

    /// The output of a task that has finished, without waiting.
    pub fn try_join_next(&mut self) -> Option<Result<T, JoinError>> {
        let waker = Waker::noop();
        match self.poll_join_next(&mut Context::from_waker(waker)) {
            Poll::Ready(r) => r,
            Poll::Pending => None,
        }
    }

    /// Polls for the next finished task; see [`join_next`](Self::join_next).
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        if self.tasks.is_empty() {
            return Poll::Ready(None);
        }
        loop {
            let next = self.done.borrow_mut().ids.pop_front();
            let Some(id) = next else { break };
            let Some(handle) = self.tasks.get_mut(&id) else {
                continue;
            };
            match Pin::new(handle).poll(cx) {
                Poll::Ready(r) => {
                    self.tasks.remove(&id);
                    return Poll::Ready(Some(r));
                }
                // The future is gone but the output not stored yet: the
                // handle wakes us; look at this one first next time.
                Poll::Pending => {
                    self.done.borrow_mut().ids.push_front(id);
                    return Poll::Pending;
                }
            }
        }
        self.done.borrow_mut().waker = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Aborts every task; they stay in the set until `join_next` returns
    /// their (cancelled) results.
    pub fn abort_all(&mut self) {
        for h in self.tasks.values() {
            h.abort();
        }
    }

    /// Aborts every task and waits until all have stopped; the set is
    /// empty afterwards.
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }

    /// Waits for every task and returns their outputs in the order they
    /// finished; the first task error (panic or abort) is returned
    /// instead, after aborting the rest.
    pub async fn join_all(mut self) -> Result<Vec<T>, JoinError> {
        let mut out = Vec::with_capacity(self.len());
        while let Some(r) = self.join_next().await {
            out.push(r?);
        }
        Ok(out)
    }
}

impl<T: 'static> Default for JoinSet<T> {
    fn default() -> Self {
        JoinSet::new()
    }
}

impl<T> Drop for JoinSet<T> {
    fn drop(&mut self) {
        for h in self.tasks.values() {
            h.abort();
        }
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet")
            .field("len", &self.tasks.len())
            .finish()
    }
}

impl<T: 'static, F: Future<Output = T> + 'static> FromIterator<F> for JoinSet<T> {
    fn from_iter<I: IntoIterator<Item = F>>(iter: I) -> Self {
        let mut set = JoinSet::new();
        for f in iter {
            set.spawn(f);
        }
        set
    }
}

/// Spawns a task of a [`JoinSet`] with options; made by
/// [`JoinSet::build_task`].
#[must_use = "a JoinSetBuilder does nothing until spawn is called"]
pub struct JoinSetBuilder<'s, 'a, T> {
    set: &'s mut JoinSet<T>,
    builder: Builder<'a>,
}

impl<'a, T: 'static> JoinSetBuilder<'_, 'a, T> {
    /// Names the task (see [`Builder::name`]).
    pub fn name(mut self, name: &'a str) -> Self {
        self.builder = self.builder.name(name);
        self
    }

    /// The task's priority (see [`Builder::priority`]).
    pub fn priority(mut self, priority: usize) -> Self {
        self.builder = self.builder.priority(priority);
        self
    }

    /// Spawns the task into the set, on the current thread's runtime.
    /// Errors outside a runtime, while it shuts down, and for a priority
    /// out of range (the set is then unchanged).
    pub fn spawn<F: Future<Output = T> + 'static>(self, future: F) -> io::Result<AbortHandle> {
        self.set.spawn_with(self.builder, future)
    }
}

impl<T> fmt::Debug for JoinSetBuilder<'_, '_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSetBuilder")
            .field("builder", &self.builder)
            .finish()
    }
}
