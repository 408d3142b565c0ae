//! Hooks (`evrpc_add_hook`): functions run on every RPC's HTTP message
//! before it is decoded (input) or after it is encoded (output), on the
//! server ([`RpcServerExt::rpc_with_hooks`](crate::RpcServerExt)) and on a
//! [`Pool`](crate::Pool). A hook sees the message's headers and body,
//! may change them (auth, compression, encryption), and answers
//! [`HookAction::Continue`], [`HookAction::Terminate`] or
//! [`HookAction::Pause`] — the request then waits until the matching
//! [`Resume`] is resumed, from a timer or anything else
//! (`evrpc_resume_request`).
//!
//! Each request carries [`Meta`]data (`evrpc_hook_add_meta` /
//! `evrpc_hook_find_meta`), local to the process: on a client from the
//! output hooks to the input hooks, on a server from the input hooks to
//! the output hooks.
//!
//! | where | input hooks see | output hooks see |
//! |---|---|---|
//! | server | the request, before decoding | the reply, after encoding |
//! | client pool | the reply, before decoding | the request, after encoding |
//!
//! A terminated request is answered `503` on a server and fails with
//! [`RpcError::HookAborted`](crate::RpcError) (`EVRPC_STATUS_ERR_HOOKABORTED`)
//! on a client.

use runtime_http::http::HeaderMap;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// Which messages a hook sees (`EVRPC_INPUT` / `EVRPC_OUTPUT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Received messages, before decoding.
    Input,
    /// Sent messages, after encoding.
    Output,
}

/// What a hook answers (`EVRPC_CONTINUE`, `EVRPC_TERMINATE`,
/// `EVRPC_PAUSE`).
#[derive(Debug)]
pub enum HookAction {
    /// Go on with the next hook, then the request.
    Continue,
    /// Abandon the request.
    Terminate,
    /// Wait until the [`Resume`] paired with this [`Paused`] is resumed;
    /// its [`Verdict`] decides.
    Pause(Paused),
}

/// How a paused request goes on (the `res` of `evrpc_resume_request`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go on with the next hook, then the request.
    Continue,
    /// Abandon the request.
    Terminate,
}

struct PauseState {
    verdict: Cell<Option<Verdict>>,
    waker: RefCell<Option<Waker>>,
}

/// The waiting half of a pause: return it in [`HookAction::Pause`].
pub struct Paused {
    state: Rc<PauseState>,
}

impl std::fmt::Debug for Paused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Paused")
            .field("verdict", &self.state.verdict.get())
            .finish()
    }
}

/// The resuming half of a pause (`evrpc_resume_request`). Dropping it
/// without resuming terminates the request, so a lost handle cannot leave
/// a request waiting forever.
pub struct Resume {
    state: Option<Rc<PauseState>>,
}

impl std::fmt::Debug for Resume {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resume")
            .field("pending", &self.state.is_some())
            .finish()
    }
}

/// A pause: return the [`Paused`] from the hook, and call
/// [`Resume::resume`] later.
pub fn pause() -> (Paused, Resume) {
    let state = Rc::new(PauseState {
        verdict: Cell::new(None),
        waker: RefCell::new(None),
    });
    (
        Paused {
            state: state.clone(),
        },
        Resume { state: Some(state) },
    )
}

impl Resume {
    /// Lets the paused request go on with `verdict`.
    pub fn resume(mut self, verdict: Verdict) {
        self.finish(verdict);
    }

    fn finish(&mut self, verdict: Verdict) {
        if let Some(state) = self.state.take() {
            state.verdict.set(Some(verdict));
            if let Some(w) = state.waker.borrow_mut().take() {
                w.wake();
            }
        }
    }
}

impl Drop for Resume {
    fn drop(&mut self) {
        self.finish(Verdict::Terminate);
    }
}

impl Future for Paused {
    type Output = Verdict;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Verdict> {
        match self.state.verdict.get() {
            Some(v) => Poll::Ready(v),
            None => {
                *self.state.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Per-request metadata (`evrpc_hook_add_meta`, `evrpc_hook_find_meta`):
/// key/value pairs that never leave the process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meta {
    entries: Vec<(String, Vec<u8>)>,
}

impl Meta {
    /// Adds `data` under `key` (`evrpc_hook_add_meta`); an earlier value of
    /// the same key stays, and [`Meta::find`] returns the first.
    pub fn add(&mut self, key: &str, data: impl Into<Vec<u8>>) {
        self.entries.push((key.to_string(), data.into()));
    }

    /// The first value added under `key` (`evrpc_hook_find_meta`).
    pub fn find(&self, key: &str) -> Option<&[u8]> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// What a hook gets: the RPC's name, the HTTP message at hand (headers
/// and body, both changeable) and the request's metadata.
pub struct HookContext<'a> {
    /// The RPC name (`Message` for `/.rpc.Message`).
    pub rpc: &'a str,
    /// Whether this is an input or an output hook.
    pub direction: Direction,
    /// Headers of the message at hand: the request on a server's input
    /// and a client's output, the reply otherwise. Output hooks may add
    /// headers to what is sent.
    pub headers: &'a mut HeaderMap,
    /// The body: encoded bytes, before decoding (input) or before sending
    /// (output).
    pub body: &'a mut Vec<u8>,
    /// The request's metadata.
    pub meta: &'a mut Meta,
}

type HookFn = dyn Fn(&mut HookContext<'_>) -> HookAction;

/// Identifies an added hook, for [`Hooks::remove`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HookId(u64);

struct Entry {
    id: HookId,
    direction: Direction,
    hook: Rc<HookFn>,
}

#[derive(Default)]
struct HooksInner {
    next_id: Cell<u64>,
    entries: RefCell<Vec<Entry>>,
}

/// An ordered set of input and output hooks (the hook lists of an
/// `evrpc_base` or `evrpc_pool`). Cheap to clone: clones share the set,
/// so hooks added after a server started apply to its next requests.
#[derive(Clone, Default)]
pub struct Hooks {
    inner: Rc<HooksInner>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let entries = self.inner.entries.borrow();
        f.debug_struct("Hooks")
            .field(
                "input",
                &entries
                    .iter()
                    .filter(|e| e.direction == Direction::Input)
                    .count(),
            )
            .field(
                "output",
                &entries
                    .iter()
                    .filter(|e| e.direction == Direction::Output)
                    .count(),
            )
            .finish()
    }
}

impl Hooks {
    /// No hooks.
    pub fn new() -> Hooks {
        Hooks::default()
    }

    /// Adds `hook` after the hooks of the same direction
    /// (`evrpc_add_hook`).
    pub fn add(
        &self,
        direction: Direction,
        hook: impl Fn(&mut HookContext<'_>) -> HookAction + 'static,
    ) -> HookId {
        let id = HookId(self.inner.next_id.get());
        self.inner.next_id.set(id.0 + 1);
        self.inner.entries.borrow_mut().push(Entry {
            id,
            direction,
            hook: Rc::new(hook),
        });
        id
    }

    /// Removes a hook (`evrpc_remove_hook`); false if it was not there.
    pub fn remove(&self, id: HookId) -> bool {
        let mut entries = self.inner.entries.borrow_mut();
        let before = entries.len();
        entries.retain(|e| e.id != id);
        entries.len() != before
    }

    /// Whether no hook of `direction` is set.
    pub fn is_empty(&self, direction: Direction) -> bool {
        !self
            .inner
            .entries
            .borrow()
            .iter()
            .any(|e| e.direction == direction)
    }

    /// Runs the hooks of `direction` in order on one message of the RPC
    /// `rpc`; `Verdict::Terminate` as soon as one terminates (directly or
    /// when resumed). The server and the pool call this; so may other
    /// front-ends (the callback shape in runtime-compat).
    pub async fn run(
        &self,
        direction: Direction,
        rpc: &str,
        headers: &mut HeaderMap,
        body: &mut Vec<u8>,
        meta: &mut Meta,
    ) -> Verdict {
        // A snapshot: a hook may add or remove hooks while it runs.
        let hooks: Vec<Rc<HookFn>> = self
            .inner
            .entries
            .borrow()
            .iter()
            .filter(|e| e.direction == direction)
            .map(|e| e.hook.clone())
            .collect();
        for hook in hooks {
            let action = hook(&mut HookContext {
                rpc,
                direction,
                headers: &mut *headers,
                body: &mut *body,
                meta: &mut *meta,
            });
            let verdict = match action {
                HookAction::Continue => Verdict::Continue,
                HookAction::Terminate => Verdict::Terminate,
                HookAction::Pause(paused) => paused.await,
            };
            if verdict == Verdict::Terminate {
                return Verdict::Terminate;
            }
        }
        Verdict::Continue
    }
}
