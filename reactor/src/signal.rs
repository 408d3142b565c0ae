//! Unix signals as streams. The process-wide handler only counts the
//! delivery and writes a byte to the signal pipe of every reactor that has
//! listeners (async-signal-safe); each reactor then compares the counters
//! with what its listeners have seen. Several listeners per signal are
//! fine, on one thread or many; the disposition the signal had before the
//! first listener is restored when the last one goes away.
//!
//! Signals are named with [`SignalKind`], so no `libc` is needed:
//!
//! ```no_run
//! use runtime::signal::{signal, SignalKind};
//!
//! #[runtime::main]
//! async fn main() -> std::io::Result<()> {
//!     let mut hup = signal(SignalKind::hangup())?;
//!     loop {
//!         hup.recv().await;
//!         println!("reloading configuration");
//!     }
//! }
//! ```

use crate::driver::{Inner, Reactor};
use crate::poller::{Interest, Poller};
use crate::slab::Slab;
use crate::token::Token;
use futures_core::Stream;
use parking_lot::Mutex;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

const NSIG: usize = 65;
const WAKE_SLOTS: usize = 64;

static COUNTS: [AtomicU64; NSIG] = [const { AtomicU64::new(0) }; NSIG];
static GENERATION: AtomicU64 = AtomicU64::new(0);
static WAKE_FDS: [AtomicI32; WAKE_SLOTS] = [const { AtomicI32::new(-1) }; WAKE_SLOTS];
static HANDLERS_RUNNING: AtomicUsize = AtomicUsize::new(0);

struct Installed {
    listeners: usize,
    previous: libc::sigaction,
}

// SAFETY: `libc::sigaction` is plain data (a function pointer, a mask and
// flags); moving it between threads is sound.
unsafe impl Send for Installed {}

static INSTALLED: Mutex<[Option<Installed>; NSIG]> = Mutex::new([const { None }; NSIG]);

extern "C" fn handler(sig: libc::c_int) {
    // Only async-signal-safe work here: atomics and write(2).
    HANDLERS_RUNNING.fetch_add(1, Ordering::SeqCst);
    // SAFETY: __errno_location returns this thread's errno slot.
    let saved_errno = unsafe { *libc::__errno_location() };
    if let Some(c) = COUNTS.get(sig as usize) {
        c.fetch_add(1, Ordering::SeqCst);
    }
    GENERATION.fetch_add(1, Ordering::SeqCst);
    for slot in WAKE_FDS.iter() {
        let fd = slot.load(Ordering::SeqCst);
        if fd >= 0 {
            let b = 1u8;
            // SAFETY: writes one byte from a live local to a pipe kept open
            // while it is published in WAKE_FDS (see `unpublish`).
            unsafe { libc::write(fd, &b as *const u8 as *const libc::c_void, 1) };
        }
    }
    // SAFETY: as above; restores errno for the interrupted code.
    unsafe { *libc::__errno_location() = saved_errno };
    HANDLERS_RUNNING.fetch_sub(1, Ordering::SeqCst);
}

fn check_signal(signum: i32) -> io::Result<()> {
    let forbidden = [
        libc::SIGKILL,
        libc::SIGSTOP,
        libc::SIGILL,
        libc::SIGFPE,
        libc::SIGSEGV,
        libc::SIGBUS,
    ];
    if signum <= 0 || signum as usize >= NSIG || forbidden.contains(&signum) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("signal {signum} cannot be listened for"),
        ));
    }
    Ok(())
}

fn install(signum: i32) -> io::Result<()> {
    let mut table = INSTALLED.lock();
    let entry = &mut table[signum as usize];
    if let Some(inst) = entry {
        inst.listeners += 1;
        return Ok(());
    }
    // SAFETY: zeroed sigaction is a valid "empty" value that we fill in.
    let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
    act.sa_sigaction = handler as *const () as libc::sighandler_t;
    act.sa_flags = libc::SA_RESTART;
    // SAFETY: `act.sa_mask` is a live sigset_t.
    unsafe { libc::sigemptyset(&mut act.sa_mask) };
    // SAFETY: zeroed sigaction is valid storage for the previous action.
    let mut previous: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are live; signum was validated.
    if unsafe { libc::sigaction(signum, &act, &mut previous) } < 0 {
        return Err(io::Error::last_os_error());
    }
    *entry = Some(Installed {
        listeners: 1,
        previous,
    });
    Ok(())
}

fn uninstall(signum: i32) {
    let mut table = INSTALLED.lock();
    let entry = &mut table[signum as usize];
    if let Some(inst) = entry {
        inst.listeners -= 1;
        if inst.listeners == 0 {
            let previous = inst.previous;
            // SAFETY: restores the action saved at install time.
            unsafe { libc::sigaction(signum, &previous, std::ptr::null_mut()) };
            *entry = None;
        }
    }
}

/// A reactor's signal pipe: the handler writes to `write` (published in
/// `WAKE_FDS[wake_slot]`), the reactor watches `read`. Owns both ends.
struct SignalPipe {
    read: OwnedFd,
    /// Only held open: the handler writes to its published number.
    _write: OwnedFd,
    /// The `WAKE_FDS` entry publishing `write`; `None` once handed over.
    wake_slot: Option<usize>,
}

impl Drop for SignalPipe {
    fn drop(&mut self) {
        // No handler may write to `write` once it is closed (after this
        // body, when the fields drop).
        if let Some(slot) = self.wake_slot.take() {
            unpublish(slot);
        }
    }
}

fn new_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` is a live two-element array for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and nothing else owns them.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn publish(write: RawFd) -> io::Result<usize> {
    for (i, slot) in WAKE_FDS.iter().enumerate() {
        if slot
            .compare_exchange(-1, write, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            return Ok(i);
        }
    }
    Err(io::Error::other(
        "too many threads listening for signals (at most 64)",
    ))
}

/// Removes a published descriptor and waits until no handler that might
/// have read it is still running, so it can be closed safely.
fn unpublish(slot: usize) {
    republish(slot, -1);
}

/// Publishes `fd` in place of what `slot` held, and waits until no handler
/// that might have read the old one is still running.
fn republish(slot: usize, fd: RawFd) {
    WAKE_FDS[slot].store(fd, Ordering::SeqCst);
    while HANDLERS_RUNNING.load(Ordering::SeqCst) != 0 {
        std::thread::yield_now();
    }
}

struct Listener {
    signum: i32,
    seen: u64,
    pending: u64,
    waker: Option<Waker>,
}

pub(crate) struct SignalState {
    listeners: Slab<Listener>,
    pipe: Option<SignalPipe>,
    last_generation: u64,
}

impl SignalState {
    pub(crate) fn new() -> SignalState {
        SignalState {
            listeners: Slab::new(),
            pipe: None,
            last_generation: 0,
        }
    }

    /// Delivers new signals to listeners; called by every reactor turn.
    pub(crate) fn dispatch(&mut self, pipe_ready: bool, wakers: &mut Vec<Waker>) {
        if self.listeners.is_empty() {
            return;
        }
        if pipe_ready {
            if let Some(p) = &self.pipe {
                let mut buf = [0u8; 128];
                let fd = p.read.as_raw_fd();
                // SAFETY: reads into a live stack buffer from our own pipe.
                while unsafe { libc::read(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) }
                    > 0
                {}
            }
        }
        let generation = GENERATION.load(Ordering::SeqCst);
        if generation == self.last_generation {
            return;
        }
        self.last_generation = generation;
        for (_, l) in self.listeners.iter_mut() {
            let count = COUNTS[l.signum as usize].load(Ordering::SeqCst);
            if count > l.seen {
                l.pending += count - l.seen;
                l.seen = count;
                if let Some(w) = l.waker.take() {
                    wakers.push(w);
                }
            }
        }
    }

    fn ensure_pipe(&mut self, poller: &Poller) -> io::Result<()> {
        if self.pipe.is_some() {
            return Ok(());
        }
        // On every error below the new descriptors close as they drop.
        let (read, write) = new_pipe()?;
        poller.add(read.as_raw_fd(), Token::SIGNAL.raw(), Interest::READ)?;
        match publish(write.as_raw_fd()) {
            Ok(wake_slot) => {
                self.pipe = Some(SignalPipe {
                    read,
                    _write: write,
                    wake_slot: Some(wake_slot),
                });
                Ok(())
            }
            Err(e) => {
                let _ = poller.delete(read.as_raw_fd());
                Err(e)
            }
        }
    }

    fn drop_pipe(&mut self, poller: &Poller) {
        if let Some(p) = self.pipe.take() {
            let _ = poller.delete(p.read.as_raw_fd());
            drop(p); // unpublishes, then closes both ends
        }
    }

    /// After fork: the child gets its own pipe (the inherited one is shared
    /// with the parent), registered with `poller`, the reactor's new
    /// backend. On error nothing changed (the new pipe, if made, is closed).
    pub(crate) fn reinit(&mut self, poller: &Poller) -> io::Result<()> {
        let Some(old) = self.pipe.as_mut() else {
            return Ok(());
        };
        let (read, write) = new_pipe()?;
        poller.add(read.as_raw_fd(), Token::SIGNAL.raw(), Interest::READ)?;
        let wake_slot = old.wake_slot.take();
        if let Some(slot) = wake_slot {
            republish(slot, write.as_raw_fd());
        }
        // The old pipe closes here; its slot already names the new one.
        self.pipe = Some(SignalPipe {
            read,
            _write: write,
            wake_slot,
        });
        Ok(())
    }
}

/// A stream of deliveries of one signal; see [`signal`]. Each item is one
/// delivery (deliveries the kernel merged arrive as one).
pub struct Signal {
    reactor: Rc<Inner>,
    key: usize,
    signum: i32,
}

impl std::fmt::Debug for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signal")
            .field("signum", &self.signum)
            .finish()
    }
}

/// A signal, by name: `SignalKind::interrupt()` is `SIGINT`. Any number
/// converts with `SignalKind::from_raw` or `From<i32>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SignalKind(i32);

impl SignalKind {
    /// The signal with number `signum` (checked when listened to).
    pub const fn from_raw(signum: i32) -> SignalKind {
        SignalKind(signum)
    }

    /// The signal number.
    pub const fn as_raw_value(&self) -> i32 {
        self.0
    }

    /// `SIGALRM`: a timer set with `alarm` expired.
    pub const fn alarm() -> SignalKind {
        SignalKind(libc::SIGALRM)
    }

    /// `SIGCHLD`: a child process stopped or exited.
    pub const fn child() -> SignalKind {
        SignalKind(libc::SIGCHLD)
    }

    /// `SIGHUP`: the terminal hung up; daemons take it as "reload".
    pub const fn hangup() -> SignalKind {
        SignalKind(libc::SIGHUP)
    }

    /// `SIGINT`: Ctrl-C at the terminal.
    pub const fn interrupt() -> SignalKind {
        SignalKind(libc::SIGINT)
    }

    /// `SIGIO`: I/O is possible on a descriptor set up for it.
    pub const fn io() -> SignalKind {
        SignalKind(libc::SIGIO)
    }

    /// `SIGPIPE`: a write to a pipe or socket without a reader.
    pub const fn pipe() -> SignalKind {
        SignalKind(libc::SIGPIPE)
    }

    /// `SIGQUIT`: Ctrl-\\ at the terminal.
    pub const fn quit() -> SignalKind {
        SignalKind(libc::SIGQUIT)
    }

    /// `SIGTERM`: the polite request to stop (`kill`'s default).
    pub const fn terminate() -> SignalKind {
        SignalKind(libc::SIGTERM)
    }

    /// `SIGUSR1`, for the program's own use.
    pub const fn user_defined1() -> SignalKind {
        SignalKind(libc::SIGUSR1)
    }

    /// `SIGUSR2`, for the program's own use.
    pub const fn user_defined2() -> SignalKind {
        SignalKind(libc::SIGUSR2)
    }

    /// `SIGWINCH`: the terminal window changed size.
    pub const fn window_change() -> SignalKind {
        SignalKind(libc::SIGWINCH)
    }
}

impl From<i32> for SignalKind {
    fn from(signum: i32) -> SignalKind {
        SignalKind(signum)
    }
}

impl From<SignalKind> for i32 {
    fn from(kind: SignalKind) -> i32 {
        kind.0
    }
}

/// Listens for a signal — a [`SignalKind`] or a signal number — on the
/// current thread's reactor. `SIGKILL`, `SIGSTOP` and the synchronous
/// fault signals are refused with `InvalidInput`, as are numbers out of
/// range.
pub fn signal(kind: impl Into<SignalKind>) -> io::Result<Signal> {
    let signum = kind.into().0;
    check_signal(signum)?;
    let reactor = Reactor::current_inner()?;
    {
        let poller = reactor.poller.borrow().clone();
        reactor.signals.borrow_mut().ensure_pipe(&poller)?;
    }
    install(signum)?;
    let seen = COUNTS[signum as usize].load(Ordering::SeqCst);
    let key = reactor.signals.borrow_mut().listeners.insert(Listener {
        signum,
        seen,
        pending: 0,
        waker: None,
    });
    Ok(Signal {
        reactor,
        key,
        signum,
    })
}

impl Signal {
    /// The signal number.
    pub fn signum(&self) -> i32 {
        self.signum
    }

    /// Polls for the next delivery.
    ///
    /// A listener polled in a runtime other than the one it was made in
    /// (or after that one was dropped) moves to the running one, keeping
    /// the deliveries it has not returned yet.
    ///
    /// # Panics
    /// When its runtime was dropped and none is running on this thread, or
    /// when the running reactor cannot listen (its signal pipe cannot be
    /// made).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.reactor.elsewhere().is_some() {
            self.move_to_current();
        }
        let mut state = self.reactor.signals.borrow_mut();
        // Catch deliveries that happened before the reactor looked.
        let count = COUNTS[self.signum as usize].load(Ordering::SeqCst);
        let l = state
            .listeners
            .get_mut(self.key)
            .expect("signal listener vanished");
        if count > l.seen {
            l.pending += count - l.seen;
            l.seen = count;
        }
        if l.pending > 0 {
            l.pending -= 1;
            return Poll::Ready(());
        }
        match &l.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => l.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    #[cold]
    fn move_to_current(&mut self) {
        let to = match Reactor::current_inner() {
            Ok(r) => r,
            Err(e) => panic!(
                "runtime: signal {} listener polled after its runtime was dropped: {e}",
                self.signum
            ),
        };
        {
            let poller = to.poller.borrow().clone();
            if let Err(e) = to.signals.borrow_mut().ensure_pipe(&poller) {
                panic!(
                    "runtime: signal {} listener cannot move to the running runtime: {e}",
                    self.signum
                );
            }
        }
        let listener = {
            let mut from = self.reactor.signals.borrow_mut();
            let l = from
                .listeners
                .remove(self.key)
                .expect("signal listener vanished");
            if from.listeners.is_empty() {
                let poller = self.reactor.poller.borrow().clone();
                from.drop_pipe(&poller);
            }
            l
        };
        self.key = to.signals.borrow_mut().listeners.insert(listener);
        self.reactor = to;
    }

    /// Waits for the next delivery.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: deliveries are counted, and a count not returned yet
    /// stays for the next call.
    pub async fn recv(&mut self) {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }
}

impl Stream for Signal {
    type Item = ();
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<()>> {
        self.get_mut().poll_recv(cx).map(Some)
    }
}

impl Drop for Signal {
    fn drop(&mut self) {
        let mut state = self.reactor.signals.borrow_mut();
        state.listeners.remove(self.key);
        if state.listeners.is_empty() {
            let poller = self.reactor.poller.borrow().clone();
            state.drop_pipe(&poller);
        }
        drop(state);
        uninstall(self.signum);
    }
}

/// Completes at the next `SIGINT` (Ctrl-C).
///
/// ```no_run
/// # async fn f() -> std::io::Result<()> {
/// runtime::signal::ctrl_c().await?;
/// println!("interrupted, shutting down");
/// # Ok(()) }
/// ```
pub async fn ctrl_c() -> io::Result<()> {
    let mut s = signal(libc::SIGINT)?;
    s.recv().await;
    Ok(())
}
