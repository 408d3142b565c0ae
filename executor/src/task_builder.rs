//! [`Builder`]: spawning a task with a name (and a priority).

use crate::context;
use crate::runtime::Runtime;
use crate::task::JoinHandle;
use std::fmt;
use std::future::Future;
use std::io;
use std::sync::Arc;

/// Spawns a task with options: a name, shown in the `Debug` output of its
/// [`JoinHandle`] and [`AbortHandle`](crate::AbortHandle) and in the
/// [`JoinError`](crate::JoinError) of a panic, and a priority.
///
/// ```
/// use runtime::task::Builder;
///
/// #[runtime::main]
/// async fn main() -> std::io::Result<()> {
///     let h = Builder::new().name("conn-42").spawn(async { 7 })?;
///     assert_eq!(h.name(), Some("conn-42"));
///     println!("{h:?}"); // JoinHandle { id: 1, name: "conn-42", finished: false }
///     assert_eq!(h.await?, 7);
///     Ok(())
/// }
/// ```
///
/// Without a name the task is spawned exactly as by
/// [`spawn`](crate::spawn), with no allocation for the name.
#[derive(Default, Clone, Copy)]
#[must_use = "a task Builder does nothing until spawn is called"]
pub struct Builder<'a> {
    name: Option<&'a str>,
    priority: Option<usize>,
}

impl<'a> Builder<'a> {
    /// A builder for an unnamed task at the runtime's default priority.
    pub fn new() -> Builder<'a> {
        Builder::default()
    }

    /// Names the task (the name is copied once, at spawn).
    pub fn name(mut self, name: &'a str) -> Builder<'a> {
        self.name = Some(name);
        self
    }

    /// The priority the task runs at (0 first); the runtime's default if
    /// not set. Out of range is an `InvalidInput` error at spawn.
    pub fn priority(mut self, priority: usize) -> Builder<'a> {
        self.priority = Some(priority);
        self
    }

    /// Spawns `future` on the current thread's runtime, as
    /// [`spawn`](crate::spawn) does (the future need not be `Send`).
    /// Errors outside a runtime, while it shuts down, and for a priority
    /// out of range.
    pub fn spawn<F: Future + 'static>(self, future: F) -> io::Result<JoinHandle<F::Output>> {
        context::spawn_named(self.priority, self.name.map(Arc::from), future)
    }

    /// The same as [`spawn`](Builder::spawn), under the name tokio users
    /// look for: every task stays on the thread that spawned it.
    pub fn spawn_local<F: Future + 'static>(self, future: F) -> io::Result<JoinHandle<F::Output>> {
        self.spawn(future)
    }

    /// Spawns `future` on `runtime` (from anywhere on its thread, as
    /// [`Runtime::spawn`]).
    ///
    /// ```
    /// let rt = runtime::Runtime::new().unwrap();
    /// let h = runtime::task::Builder::new()
    ///     .name("tick")
    ///     .spawn_on(async { 1 }, &rt)
    ///     .unwrap();
    /// assert_eq!(rt.block_on(h).unwrap(), 1);
    /// ```
    pub fn spawn_on<F: Future + 'static>(
        self,
        future: F,
        runtime: &Runtime,
    ) -> io::Result<JoinHandle<F::Output>> {
        runtime.spawn_named(self.priority, self.name.map(Arc::from), future)
    }
}

impl fmt::Debug for Builder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("name", &self.name)
            .field("priority", &self.priority)
            .finish()
    }
}
