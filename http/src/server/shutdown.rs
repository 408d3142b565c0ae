//! [`Shutdown`]: a trigger shared by every thread that serves.

use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

#[derive(Default)]
struct Inner {
    triggered: AtomicBool,
    waiters: Mutex<Vec<Waker>>,
}

/// Starts a graceful shutdown of the servers given it
/// ([`Server::with_shutdown`](super::Server::with_shutdown)), from any
/// thread.
///
/// ```
/// let shutdown = runtime::http::Shutdown::new();
/// assert!(!shutdown.is_triggered());
/// shutdown.clone().trigger();
/// assert!(shutdown.is_triggered());
/// ```
#[derive(Clone, Default)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shutdown")
            .field("triggered", &self.is_triggered())
            .finish()
    }
}

impl Shutdown {
    /// A trigger not yet pulled.
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// Starts the shutdown; waiters wake up.
    pub fn trigger(&self) {
        self.inner.triggered.store(true, Ordering::SeqCst);
        let waiters =
            std::mem::take(&mut *self.inner.waiters.lock().unwrap_or_else(|p| p.into_inner()));
        for w in waiters {
            w.wake();
        }
    }

    /// Whether [`trigger`](Shutdown::trigger) was called.
    pub fn is_triggered(&self) -> bool {
        self.inner.triggered.load(Ordering::SeqCst)
    }

    /// Ready once triggered.
    pub fn poll_triggered(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.is_triggered() {
            return Poll::Ready(());
        }
        let mut w = self.inner.waiters.lock().unwrap_or_else(|p| p.into_inner());
        if self.is_triggered() {
            return Poll::Ready(());
        }
        if !w.iter().any(|x| x.will_wake(cx.waker())) {
            w.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Waits until triggered.
    pub async fn wait(&self) {
        poll_fn(|cx| self.poll_triggered(cx)).await
    }
}
