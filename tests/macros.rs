//! `#[runtime::test]` (and through it the expansion shared with
//! `#[runtime::main]`): plain tests, tests returning `Result`, other
//! attributes kept (`#[should_panic]`, `#[ignore]`, doc comments), and
//! `method = "..."` choosing the backend. The compile-fail cases are
//! doctests in `src/macros_doc.md`.

use runtime::reactor::Reactor;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Set (to the test's name) in the environment of a child test process.
const CHILD_ENV: &str = "RUNTIME_MACROS_TEST_CHILD";

fn current_method() -> &'static str {
    Reactor::current()
        .expect("the body runs inside a runtime")
        .method()
        .name()
}

/// Runs this test binary with `args`, within a bound, and returns its
/// success and standard output.
fn run_self(args: &[&str], child: Option<&str>) -> (bool, String) {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = Command::new(exe);
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    if let Some(name) = child {
        cmd.env(CHILD_ENV, name);
    }
    let mut child = cmd.spawn().expect("spawn the test binary");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the child test process did not finish: {args:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[runtime::test]
async fn plain_test_runs_on_a_runtime() {
    assert!(Reactor::current().is_some());
    let h = runtime::spawn(async { 40 + 2 });
    assert_eq!(h.await.unwrap(), 42);
    let start = Instant::now();
    runtime::time::sleep(Duration::from_millis(2)).await;
    assert!(start.elapsed() >= Duration::from_millis(2));
}

#[runtime::test]
async fn result_test_ok() -> Result<(), std::io::Error> {
    let n: u32 = "7".parse().map_err(std::io::Error::other)?;
    assert_eq!(n, 7);
    runtime::yield_now().await;
    Ok(())
}

#[runtime::test]
async fn result_test_with_question_mark_and_early_return() -> Result<(), String> {
    let v = runtime::spawn(async { Ok::<u8, String>(3) })
        .await
        .map_err(|e| e.to_string())??;
    if v == 3 {
        return Ok(());
    }
    Err(format!("unexpected {v}"))
}

#[runtime::test]
#[should_panic(expected = "boom from an async test")]
async fn should_panic_is_kept() {
    runtime::yield_now().await;
    panic!("boom from an async test");
}

#[runtime::test]
#[should_panic(expected = "task failed")]
async fn should_panic_with_a_failed_task() {
    let err = runtime::spawn(async { panic!("inner") }).await.unwrap_err();
    assert!(err.is_panic());
    panic!("task failed: {err}");
}

/// Doc comments are kept too.
#[runtime::test]
#[ignore = "checks that #[ignore] is kept (see ignore_attribute_is_kept)"]
async fn ignored_test_is_kept_ignored() {
    // Passes when run explicitly with --ignored.
    runtime::yield_now().await;
}

#[test]
fn ignore_attribute_is_kept() {
    let (ok, listed) = run_self(&["--list", "--ignored"], None);
    assert!(ok, "{listed}");
    assert!(
        listed.contains("ignored_test_is_kept_ignored: test"),
        "not listed as ignored:\n{listed}"
    );
    assert!(
        !listed.contains("plain_test_runs_on_a_runtime"),
        "a plain test listed as ignored:\n{listed}"
    );
}

#[runtime::test]
#[ignore = "run in a child process by returning_err_fails_the_test"]
async fn child_returns_err() -> Result<(), String> {
    if std::env::var(CHILD_ENV).as_deref() != Ok("child_returns_err") {
        return Ok(());
    }
    runtime::yield_now().await;
    Err("this error fails the test".to_string())
}

#[test]
fn returning_err_fails_the_test() {
    let (ok, out) = run_self(
        &["child_returns_err", "--exact", "--ignored"],
        Some("child_returns_err"),
    );
    assert!(!ok, "a test returning Err passed:\n{out}");
    assert!(out.contains("1 failed"), "{out}");
    assert!(out.contains("this error fails the test"), "{out}");
}

#[runtime::test(method = "poll")]
async fn method_poll() {
    assert_eq!(current_method(), "poll");
    let h = runtime::spawn(async {
        runtime::time::sleep(Duration::from_millis(1)).await;
        current_method()
    });
    assert_eq!(h.await.unwrap(), "poll");
}

#[runtime::test(method = "select")]
async fn method_select() {
    assert_eq!(current_method(), "select");
    runtime::time::sleep(Duration::from_millis(1)).await;
}

#[runtime::test(method = "epoll")]
async fn method_epoll() {
    assert_eq!(current_method(), "epoll");
}

#[runtime::test(method = "select")]
async fn method_with_result() -> std::io::Result<()> {
    assert_eq!(current_method(), "select");
    Ok(())
}

#[runtime::test(method = "poll")]
#[should_panic(expected = "boom on poll")]
async fn method_with_should_panic() {
    assert_eq!(current_method(), "poll");
    panic!("boom on poll");
}

#[runtime::test]
async fn each_test_gets_a_fresh_runtime() {
    // No task or timer is left over from another test on this thread.
    let reactor = Reactor::current().unwrap();
    assert_eq!(reactor.pending_timers(), 0);
    assert_eq!(reactor.registrations(), 0);
}

#[test]
fn outside_an_async_test_there_is_no_runtime() {
    assert!(Reactor::current().is_none());
}
