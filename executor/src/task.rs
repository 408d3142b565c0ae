//! Tasks: naming them ([`Builder`]), their [`Id`]s, awaiting them
//! ([`JoinHandle`]), cancelling them ([`AbortHandle`]) and why one did
//! not produce its output ([`JoinError`]); which task is running
//! ([`try_id`], [`id`], [`current_name`]).
//!
//! Every task gets an [`Id`], unique in the process; a task may also get a
//! name through [`Builder::name`]. Both show in the `Debug` output of its
//! handles and in its [`JoinError`], so a panic in a named task says which
//! task it was:
//!
//! ```
//! use runtime::task::Builder;
//!
//! #[runtime::main]
//! async fn main() {
//!     let h = Builder::new()
//!         .name("conn-42")
//!         .spawn(async { panic!("peer sent garbage") })
//!         .unwrap();
//!     assert!(format!("{h:?}").contains("conn-42"));
//!     let err = h.await.unwrap_err();
//!     assert_eq!(err.name(), Some("conn-42"));
//!     // "task 1 \"conn-42\" panicked: peer sent garbage" (the id varies)
//!     assert!(err.to_string().contains("\"conn-42\" panicked: peer sent garbage"));
//! }
//! ```
//!
//! Unnamed tasks cost nothing for the feature: the name is an
//! `Option<Arc<str>>` in the task, allocated only by [`Builder::name`].

// Internals: one allocation per spawned future holding its state word, the
// future (later its output) and the waker of whoever awaits the
// `JoinHandle`. Wakers are `Send + Sync`: waking from another thread queues
// the task on its executor's inject queue; the future itself is only ever
// polled and dropped on the thread that owns the executor.

use crate::context;
use crate::shared::Shared;
use runtime_reactor::coop;
use std::any::Any;
use std::cell::{Cell, UnsafeCell};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::num::NonZeroU64;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

const SCHEDULED: usize = 1;
const COMPLETE: usize = 2;
const CANCELLED: usize = 4;
const JOIN_DROPPED: usize = 8;

pub use crate::task_builder::Builder;

/// A task's identifier: unique among the tasks of the process (never
/// reused), shown in the `Debug` output of its handles and in its
/// [`JoinError`]. Ids grow with spawn order on each thread.
///
/// ```
/// runtime::block_on(async {
///     let a = runtime::spawn(async {});
///     let b = runtime::spawn(async {});
///     assert_ne!(a.id(), b.id());
///     assert_eq!(a.id(), a.abort_handle().id());
///     println!("spawned {} and {}", a.id(), b.id());
/// });
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(NonZeroU64);

impl Id {
    /// The id as a number.
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.0)
    }
}

thread_local! {
    /// The header of the task this thread is polling; null outside a
    /// task's poll.
    static CURRENT: Cell<*const Header> = const { Cell::new(std::ptr::null()) };
}

/// The [`Id`] of the task being polled on this thread, or `None` outside
/// a task: in `block_on`'s own future, on a blocking-pool thread, or
/// outside any runtime (tokio's `task::try_id`).
///
/// ```
/// #[runtime::main]
/// async fn main() {
///     assert_eq!(runtime::task::try_id(), None); // main's future is no task
///     let h = runtime::spawn(async { runtime::task::try_id() });
///     let id = h.id();
///     assert_eq!(h.await.unwrap(), Some(id));
/// }
/// ```
pub fn try_id() -> Option<Id> {
    with_current(|h| h.id)
}

/// The [`Id`] of the task being polled on this thread.
///
/// # Panics
///
/// Outside a task; [`try_id`] returns `None` there instead.
pub fn id() -> Id {
    try_id().expect("runtime::task::id() called outside a task")
}

/// The name of the task being polled on this thread, if it is a task and
/// was given one with [`Builder::name`].
///
/// With [`try_id`] this lets a panic hook say which task panicked (the
/// [`JoinError`] of the task names it too):
///
/// ```
/// use runtime::task::{self, Builder};
///
/// #[runtime::main]
/// async fn main() {
///     let previous = std::panic::take_hook();
///     std::panic::set_hook(Box::new(move |info| {
///         if let Some(id) = task::try_id() {
///             let name = task::current_name();
///             eprintln!("in task {id} {:?}:", name.as_deref().unwrap_or("-"));
///         }
///         previous(info);
///     }));
///     let h = Builder::new()
///         .name("conn-7")
///         .spawn(async { panic!("bad frame") })
///         .unwrap();
///     assert!(h.await.unwrap_err().is_panic());
/// }
/// ```
pub fn current_name() -> Option<Arc<str>> {
    with_current(|h| h.name.clone()).flatten()
}

fn with_current<R>(f: impl FnOnce(&Header) -> R) -> Option<R> {
    let header = CURRENT.with(Cell::get);
    if header.is_null() {
        return None;
    }
    // SAFETY: CURRENT is non-null only while `TaskCell::run` polls the
    // task that owns this header, on this thread; `run` holds an `Arc` of
    // that task for the whole poll, so the header is alive; it is only
    // read here.
    Some(f(unsafe { &*header }))
}

/// The next id not handed out to any thread's block.
static NEXT_ID_BLOCK: AtomicU64 = AtomicU64::new(1);
/// Ids a thread (its executor) takes at once, so spawning touches no shared
/// counter but once every `ID_BLOCK` tasks.
const ID_BLOCK: u64 = 1024;

/// The ids an executor hands out: the next one and the end of its block.
pub(crate) struct IdBlock {
    next: Cell<u64>,
    end: Cell<u64>,
}

impl IdBlock {
    pub(crate) const fn new() -> IdBlock {
        IdBlock {
            next: Cell::new(0),
            end: Cell::new(0),
        }
    }

    pub(crate) fn next(&self) -> Id {
        let mut n = self.next.get();
        if n == self.end.get() {
            n = NEXT_ID_BLOCK.fetch_add(ID_BLOCK, Ordering::Relaxed);
            self.end.set(n + ID_BLOCK);
        }
        self.next.set(n + 1);
        // The counter starts at 1 and would take centuries to wrap.
        Id(NonZeroU64::new(n).expect("task ids exhausted"))
    }
}

/// The part of a task every thread may touch.
pub(crate) struct Header {
    state: AtomicUsize,
    id: Id,
    /// Set by `Builder::name`; `None` costs no allocation.
    name: Option<Arc<str>>,
    pub(crate) shared: Arc<Shared>,
    /// The queue the task goes to when woken (owner thread writes it,
    /// through its `JoinHandle`; relaxed is enough: it is read on the owner
    /// thread too, when the task is queued).
    priority: AtomicUsize,
    /// Index in the owner's task registry. Owner thread only.
    registry_key: UnsafeCell<usize>,
}

impl Header {
    /// The priority the task is queued at when woken.
    pub(crate) fn priority(&self) -> usize {
        self.priority.load(Ordering::Relaxed)
    }

    /// Whether the task is woken and waits in a run queue (or the inject
    /// queue) for its poll.
    pub(crate) fn is_scheduled(&self) -> bool {
        self.state.load(Ordering::Acquire) & (SCHEDULED | COMPLETE) == SCHEDULED
    }

    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// A `JoinError` naming this task.
    fn error(&self, repr: Repr) -> JoinError {
        JoinError::new(repr, Some((self.id, self.name.clone())))
    }
}

/// What the executor does with a task without knowing its future's type.
pub(crate) trait Runnable: Send + Sync {
    fn header(&self) -> &Header;
    /// Polls the future once (owner thread).
    fn run(self: Arc<Self>);
    /// Drops the future without polling it, as at executor shutdown (owner thread).
    fn shutdown(&self);
}

pub(crate) type TaskRef = Arc<dyn Runnable>;

enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

pub(crate) struct TaskCell<F: Future> {
    header: Header,
    stage: UnsafeCell<Stage<F>>,
    join_waker: UnsafeCell<Option<Waker>>,
}

// SAFETY: other threads only reach `header.state`, `header.shared` (both
// thread-safe) and the reference count, through wakers and abort handles.
// `stage`, `join_waker` and `registry_key` are touched only on the owner
// thread: by the executor (which is `!Send`) and by the `JoinHandle` (also
// `!Send`); the future is dropped there too (on completion, abort or
// executor shutdown), so the last reference being released elsewhere drops
// nothing but plain data.
unsafe impl<F: Future> Send for TaskCell<F> {}
// SAFETY: see above.
unsafe impl<F: Future> Sync for TaskCell<F> {}

impl<F: Future + 'static> TaskCell<F> {
    pub(crate) fn new(
        future: F,
        shared: Arc<Shared>,
        priority: usize,
        id: Id,
        name: Option<Arc<str>>,
    ) -> Arc<TaskCell<F>> {
        Arc::new(TaskCell {
            header: Header {
                state: AtomicUsize::new(0),
                id,
                name,
                shared,
                priority: AtomicUsize::new(priority),
                registry_key: UnsafeCell::new(usize::MAX),
            },
            stage: UnsafeCell::new(Stage::Running(future)),
            join_waker: UnsafeCell::new(None),
        })
    }

    const VTABLE: RawWakerVTable = RawWakerVTable::new(
        Self::waker_clone,
        Self::waker_wake,
        Self::waker_wake_by_ref,
        Self::waker_drop,
    );

    unsafe fn waker_clone(ptr: *const ()) -> RawWaker {
        // SAFETY: `ptr` came from `Arc::into_raw`/`Arc::as_ptr` of this type
        // and the waker being cloned keeps that reference alive.
        unsafe { Arc::increment_strong_count(ptr as *const Self) };
        RawWaker::new(ptr, &Self::VTABLE)
    }

    unsafe fn waker_wake(ptr: *const ()) {
        // SAFETY: consumes the reference owned by the waker.
        let task = unsafe { Arc::from_raw(ptr as *const Self) };
        schedule(task);
    }

    unsafe fn waker_wake_by_ref(ptr: *const ()) {
        // SAFETY: the waker keeps its reference; we take a new one for the queue.
        let task = unsafe {
            Arc::increment_strong_count(ptr as *const Self);
            Arc::from_raw(ptr as *const Self)
        };
        schedule(task);
    }

    unsafe fn waker_drop(ptr: *const ()) {
        // SAFETY: releases the reference owned by the waker.
        drop(unsafe { Arc::from_raw(ptr as *const Self) });
    }

    /// Stores the result (or drops it if nobody will read it), marks the
    /// task complete, wakes the joiner and leaves the registry. Owner thread.
    fn complete(&self, output: Result<F::Output, JoinError>) {
        // Leave the registry first: nothing below may stop that.
        // SAFETY: owner thread only (callers are `run` and `shutdown`).
        let key = unsafe { *self.header.registry_key.get() };
        context::unregister(&self.header.shared, key, &self.header);
        // SAFETY: owner thread only.
        let stage = unsafe { &mut *self.stage.get() };
        // Drop the future first, in place (it is pinned). User destructors
        // (the future's, a discarded output's, a waker's) may panic: each is
        // caught so the loop goes on.
        let dropped = catch_unwind(AssertUnwindSafe(|| *stage = Stage::Consumed));
        let output = match (output, dropped) {
            (Ok(v), Err(p)) => {
                let _ = catch_unwind(AssertUnwindSafe(|| drop(v)));
                Err(self.header.error(Repr::Panic(p)))
            }
            (o, _) => o,
        };
        let prev = self.header.state.fetch_or(COMPLETE, Ordering::AcqRel);
        if prev & JOIN_DROPPED == 0 {
            *stage = Stage::Finished(output);
        } else {
            let _ = catch_unwind(AssertUnwindSafe(|| drop(output)));
        }
        // SAFETY: owner thread only.
        if let Some(w) = unsafe { (*self.join_waker.get()).take() } {
            let _ = catch_unwind(AssertUnwindSafe(|| w.wake()));
        }
    }
}

impl<F: Future + 'static> Runnable for TaskCell<F> {
    fn header(&self) -> &Header {
        &self.header
    }

    fn run(self: Arc<Self>) {
        let prev = self.header.state.fetch_and(!SCHEDULED, Ordering::AcqRel);
        if prev & COMPLETE != 0 {
            return;
        }
        if prev & CANCELLED != 0 {
            self.complete(Err(self.header.error(Repr::Cancelled)));
            return;
        }
        // A borrowed waker: no reference-count traffic unless it is cloned.
        // SAFETY: the pointer is a live `Arc<Self>`; ManuallyDrop keeps the
        // borrowed waker from releasing a reference it does not own.
        let waker = ManuallyDrop::new(unsafe {
            Waker::from_raw(RawWaker::new(
                Arc::as_ptr(&self) as *const (),
                &Self::VTABLE,
            ))
        });
        let mut cx = Context::from_waker(&waker);
        // SAFETY: owner thread only; nothing else holds a reference into the stage.
        let stage = unsafe { &mut *self.stage.get() };
        let Stage::Running(future) = stage else {
            return;
        };
        // SAFETY: the future lives inside the Arc allocation and is never
        // moved: it is dropped in place when the stage is replaced.
        let future = unsafe { Pin::new_unchecked(future) };
        // The task is current (`try_id`, `current_name`) for its poll only;
        // the previous value comes back after it (a panic is caught inside,
        // so this always runs).
        let outer = CURRENT.with(|c| c.replace(&self.header));
        let res =
            coop::with_task_budget(|| catch_unwind(AssertUnwindSafe(|| future.poll(&mut cx))));
        CURRENT.with(|c| c.set(outer));
        match res {
            Ok(Poll::Pending) => {}
            Ok(Poll::Ready(v)) => self.complete(Ok(v)),
            Err(p) => self.complete(Err(self.header.error(Repr::Panic(p)))),
        }
    }

    fn shutdown(&self) {
        let prev = self.header.state.fetch_or(CANCELLED, Ordering::AcqRel);
        if prev & COMPLETE == 0 {
            self.complete(Err(self.header.error(Repr::Cancelled)));
        }
    }
}

/// Queues a woken task: on the owner's local queue when woken on the owner
/// thread inside its loop, on the inject queue (with a wake-up of the loop)
/// otherwise.
pub(crate) fn schedule(task: TaskRef) {
    let prev = task.header().state.fetch_or(SCHEDULED, Ordering::AcqRel);
    if prev & (SCHEDULED | COMPLETE) != 0 {
        return;
    }
    context::schedule(task);
}

/// Gives a new task its registry key and marks it scheduled; the caller
/// (its executor, on the owner thread) queues it.
pub(crate) fn register_new<F: Future + 'static>(cell: &TaskCell<F>, key: usize) {
    // SAFETY: called on the owner thread right after creation, before any
    // waker or handle can reach the task.
    unsafe { *cell.header.registry_key.get() = key };
    cell.header.state.fetch_or(SCHEDULED, Ordering::AcqRel);
}

/// Why a task did not produce its output: it panicked or was cancelled.
/// It names the task (its [`Id`] and, if it has one, its name) in
/// `Display` and `Debug`:
///
/// ```
/// runtime::block_on(async {
///     let h = runtime::task::Builder::new()
///         .name("worker")
///         .spawn(async { panic!("boom") })
///         .unwrap();
///     let id = h.id();
///     let err = h.await.unwrap_err();
///     assert!(err.is_panic());
///     assert_eq!(err.id(), Some(id));
///     assert_eq!(err.to_string(), format!("task {id} \"worker\" panicked: boom"));
/// });
/// ```
pub struct JoinError {
    /// Boxed so a task's `Result<T, JoinError>` stays small: a task that
    /// returns its output moves no more bytes for the error's sake; the
    /// box is allocated only when a task fails.
    inner: Box<Inner>,
}

struct Inner {
    repr: Repr,
    /// The task's id and name; `None` for the errors of
    /// `spawn_blocking` and of a `RemoteHandle`.
    task: Option<(Id, Option<Arc<str>>)>,
}

enum Repr {
    Cancelled,
    Panic(Box<dyn Any + Send + 'static>),
}

impl JoinError {
    fn new(repr: Repr, task: Option<(Id, Option<Arc<str>>)>) -> JoinError {
        JoinError {
            inner: Box::new(Inner { repr, task }),
        }
    }
    pub(crate) fn cancelled() -> JoinError {
        JoinError::new(Repr::Cancelled, None)
    }
    pub(crate) fn panic(p: Box<dyn Any + Send + 'static>) -> JoinError {
        JoinError::new(Repr::Panic(p), None)
    }
    /// The id of the task that failed; `None` for the errors of
    /// [`spawn_blocking`](crate::spawn_blocking) and of a
    /// [`RemoteHandle`](crate::RemoteHandle), which are not a task of the
    /// thread awaiting them.
    pub fn id(&self) -> Option<Id> {
        self.inner.task.as_ref().map(|t| t.0)
    }
    /// The name of the task that failed, if it was given one with
    /// [`Builder::name`].
    pub fn name(&self) -> Option<&str> {
        self.inner.task.as_ref().and_then(|t| t.1.as_deref())
    }
    /// The task was aborted, or dropped at executor shutdown.
    pub fn is_cancelled(&self) -> bool {
        matches!(self.inner.repr, Repr::Cancelled)
    }
    /// The task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self.inner.repr, Repr::Panic(_))
    }
    /// The panic payload (for `std::panic::resume_unwind`), if it panicked.
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        if !self.is_panic() {
            return Err(self);
        }
        match self.inner.repr {
            Repr::Panic(p) => Ok(p),
            Repr::Cancelled => unreachable!("checked above"),
        }
    }
    /// The panic message, when the payload is a string.
    pub fn panic_message(&self) -> Option<&str> {
        match &self.inner.repr {
            Repr::Panic(p) => p
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| p.downcast_ref::<String>().map(|s| s.as_str())),
            Repr::Cancelled => None,
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = match &self.inner.repr {
            Repr::Cancelled => f.debug_struct("JoinError::Cancelled"),
            Repr::Panic(_) => f.debug_struct("JoinError::Panic"),
        };
        if let Some((id, name)) = &self.inner.task {
            d.field("id", &id.as_u64());
            if let Some(name) = name {
                d.field("name", name);
            }
        }
        if let Repr::Panic(_) = self.inner.repr {
            d.field("message", &self.panic_message().unwrap_or(".."));
        }
        d.finish()
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task ")?;
        if let Some((id, name)) = &self.inner.task {
            write!(f, "{id} ")?;
            if let Some(name) = name {
                write!(f, "{name:?} ")?;
            }
        }
        match &self.inner.repr {
            Repr::Cancelled => f.write_str("was cancelled"),
            Repr::Panic(_) => write!(
                f,
                "panicked: {}",
                self.panic_message().unwrap_or("<non-string payload>")
            ),
        }
    }
}

impl std::error::Error for JoinError {}

impl From<JoinError> for std::io::Error {
    fn from(e: JoinError) -> std::io::Error {
        std::io::Error::other(e.to_string())
    }
}

/// Type-erased access to a task's output for its `JoinHandle`. The
/// methods that need a counted reference to the task take `self: Arc<Self>`:
/// the handle clones its own `Arc`, so no `Arc` is ever rebuilt from a
/// borrowed `&self` (whose pointer did not come from `Arc::into_raw`).
trait JoinTarget<T> {
    fn header(&self) -> &Header;
    fn poll_join(&self, cx: &mut Context<'_>) -> Poll<Result<T, JoinError>>;
    fn abort(self: Arc<Self>);
    fn drop_join(&self);
    fn abort_target(self: Arc<Self>) -> Arc<dyn AbortTarget>;
    fn waker(self: Arc<Self>) -> Waker;
}

trait AbortTarget: Send + Sync {
    fn header(&self) -> &Header;
    fn abort(self: Arc<Self>);
}

impl Header {
    fn is_finished(&self) -> bool {
        self.state.load(Ordering::Acquire) & COMPLETE != 0
    }
}

impl<F: Future + 'static> JoinTarget<F::Output> for TaskCell<F> {
    fn poll_join(&self, cx: &mut Context<'_>) -> Poll<Result<F::Output, JoinError>> {
        if self.header.state.load(Ordering::Acquire) & COMPLETE != 0 {
            // SAFETY: owner thread (the JoinHandle is !Send).
            let stage = unsafe { &mut *self.stage.get() };
            return match std::mem::replace(stage, Stage::Consumed) {
                Stage::Finished(out) => Poll::Ready(out),
                _ => panic!("JoinHandle polled after it returned its output"),
            };
        }
        // SAFETY: owner thread (the JoinHandle is !Send).
        let slot = unsafe { &mut *self.join_waker.get() };
        match slot {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    fn header(&self) -> &Header {
        &self.header
    }

    fn abort(self: Arc<Self>) {
        AbortTarget::abort(self);
    }

    fn drop_join(&self) {
        let prev = self.header.state.fetch_or(JOIN_DROPPED, Ordering::AcqRel);
        if prev & COMPLETE != 0 {
            // SAFETY: owner thread (the JoinHandle is !Send).
            let stage = unsafe { &mut *self.stage.get() };
            *stage = Stage::Consumed;
        }
        // SAFETY: owner thread.
        unsafe { *self.join_waker.get() = None };
    }

    fn abort_target(self: Arc<Self>) -> Arc<dyn AbortTarget> {
        self
    }

    fn waker(self: Arc<Self>) -> Waker {
        let ptr = Arc::into_raw(self) as *const ();
        // SAFETY: `ptr` came from `Arc::into_raw` of this type; the waker
        // owns that reference, which `waker_wake`/`waker_drop` release.
        unsafe { Waker::from_raw(RawWaker::new(ptr, &Self::VTABLE)) }
    }
}

impl<F: Future + 'static> AbortTarget for TaskCell<F> {
    fn header(&self) -> &Header {
        &self.header
    }

    fn abort(self: Arc<Self>) {
        let prev = self.header.state.fetch_or(CANCELLED, Ordering::AcqRel);
        if prev & (COMPLETE | CANCELLED) == 0 {
            schedule(self);
        }
    }
}

/// Awaits a spawned task's output. Dropping it detaches the task (it keeps
/// running); [`abort`](JoinHandle::abort) cancels it.
///
/// ```
/// runtime::block_on(async {
///     let h = runtime::spawn(async { 6 * 7 });
///     assert_eq!(h.await.unwrap(), 42);
/// });
/// ```
pub struct JoinHandle<T> {
    target: Arc<dyn JoinTarget<T>>,
    _not_send: PhantomData<*const ()>,
}

impl<T> JoinHandle<T> {
    pub(crate) fn new<F: Future<Output = T> + 'static>(cell: Arc<TaskCell<F>>) -> JoinHandle<T> {
        JoinHandle {
            target: cell,
            _not_send: PhantomData,
        }
    }

    /// Cancels the task: its future is dropped on its thread the next time
    /// the executor gets to it, and the handle yields a cancelled
    /// [`JoinError`]. No effect on a finished task.
    pub fn abort(&self) {
        self.target.clone().abort();
    }

    /// Whether the task has finished (completed, panicked or been cancelled).
    pub fn is_finished(&self) -> bool {
        self.target.header().is_finished()
    }

    /// The task's id.
    pub fn id(&self) -> Id {
        self.target.header().id
    }

    /// The task's name, if it was spawned with one ([`Builder::name`]).
    pub fn name(&self) -> Option<&str> {
        self.target.header().name()
    }

    /// A `Send + Sync` handle that can abort the task from any thread.
    pub fn abort_handle(&self) -> AbortHandle {
        AbortHandle {
            target: self.target.clone().abort_target(),
        }
    }

    /// A waker of the task, the same as the ones its polls get: waking it
    /// queues the task for a poll (nothing once it has finished). For code
    /// that drives the task's I/O from outside its poll, so readiness wakes
    /// the task, or that tells it to look at a changed state.
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// let rt = runtime::Runtime::new().unwrap();
    /// let polls = Rc::new(Cell::new(0));
    /// let p = polls.clone();
    /// let h = rt.spawn(std::future::poll_fn(move |_| {
    ///     p.set(p.get() + 1);
    ///     std::task::Poll::<()>::Pending
    /// }));
    /// rt.run_once(false);
    /// assert_eq!(rt.run_once(false), 0); // not woken: not polled
    /// h.waker().wake();
    /// assert_eq!(rt.run_once(false), 1);
    /// assert_eq!(polls.get(), 2);
    /// ```
    pub fn waker(&self) -> Waker {
        self.target.clone().waker()
    }

    /// The task's header (to find it in its executor's queues).
    pub(crate) fn header(&self) -> &Header {
        self.target.header()
    }

    /// The priority the task is queued at when woken (0 most urgent).
    pub fn priority(&self) -> usize {
        self.target.header().priority()
    }

    /// Changes the priority the task is queued at from its next wake-up
    /// (libevent's `event_priority_set` for the task of an event); a task
    /// already queued runs at the priority it was queued with (use
    /// [`Runtime::set_task_priority`](crate::Runtime::set_task_priority)
    /// to move it to its new queue at once). Out of range
    /// for the task's runtime is an `InvalidInput` error.
    ///
    /// ```
    /// let rt = runtime::Builder::new().priorities(3).unwrap().build().unwrap();
    /// let h = rt.spawn(async {});
    /// assert_eq!(h.priority(), 1); // the middle one by default
    /// h.set_priority(0).unwrap();
    /// assert_eq!(h.priority(), 0);
    /// assert!(h.set_priority(3).is_err());
    /// ```
    pub fn set_priority(&self, priority: usize) -> std::io::Result<()> {
        let header = self.target.header();
        let n = header.shared.priorities;
        if priority >= n {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("priority {priority} out of range: this runtime has {n} priorities"),
            ));
        }
        header.priority.store(priority, Ordering::Relaxed);
        Ok(())
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.target.poll_join(cx)
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        self.target.drop_join();
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = self.target.header();
        debug_task(f, "JoinHandle", h)
    }
}

/// Aborts a task from any thread; see [`JoinHandle::abort_handle`].
#[derive(Clone)]
pub struct AbortHandle {
    target: Arc<dyn AbortTarget>,
}

impl AbortHandle {
    /// Cancels the task (see [`JoinHandle::abort`]).
    pub fn abort(&self) {
        self.target.clone().abort();
    }
    /// Whether the task has finished.
    pub fn is_finished(&self) -> bool {
        self.target.header().is_finished()
    }
    /// The task's id.
    pub fn id(&self) -> Id {
        self.target.header().id
    }
    /// The task's name, if it was spawned with one ([`Builder::name`]).
    pub fn name(&self) -> Option<&str> {
        self.target.header().name()
    }
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_task(f, "AbortHandle", self.target.header())
    }
}

/// `Handle { id: 7, name: "conn-42", finished: false }` (no `name` field
/// for an unnamed task).
fn debug_task(f: &mut fmt::Formatter<'_>, what: &str, h: &Header) -> fmt::Result {
    let mut d = f.debug_struct(what);
    d.field("id", &h.id.as_u64());
    if let Some(name) = h.name() {
        d.field("name", &name);
    }
    d.field("finished", &h.is_finished()).finish()
}
