//! Running a blocking test body (an event loop driven by `dispatch`) on a
//! thread with a time limit, so a hang fails the test instead of stalling
//! the suite (`#[path = "support/thread.rs"] mod thread;`).

#![allow(dead_code)]

use std::sync::mpsc;
use std::time::Duration;

/// How long [`bounded`] lets a test run.
pub const LIMIT: Duration = Duration::from_secs(20);

/// Runs `f` on a thread and fails if it takes more than [`LIMIT`]; a panic
/// in `f` is the test's panic.
pub fn bounded(f: impl FnOnce() + Send + 'static) {
    bounded_for(LIMIT, f)
}

/// [`bounded`] with another limit.
pub fn bounded_for(limit: Duration, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(limit) {
        Ok(()) => t.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(p) = t.join() {
                std::panic::resume_unwind(p);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("test ran out of time ({limit:?}): a hang"),
    }
}
