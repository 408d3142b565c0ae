// Builds the C programs under tests/c against the system libevent.
// When `CI` is set a missing compiler or library is a failure; otherwise
// the test is skipped with a message.

use std::path::PathBuf;
use std::process::Command;

/// Compiles `tests/c/<name>.c` with `cc ... -levent` once per test process
/// (tests run in parallel: a second compile would replace the binary under
/// a running one); `None` (skip) when that is impossible outside CI.
pub fn build_c(name: &'static str) -> Option<PathBuf> {
    static BUILT: std::sync::Mutex<Vec<(&str, Option<PathBuf>)>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, path)) = built.iter().find(|(n, _)| *n == name) {
        return path.clone();
    }
    let path = compile_c(name);
    built.push((name, path.clone()));
    path
}

fn compile_c(name: &str) -> Option<PathBuf> {
    // From runtime-rpc's tests or from the workspace root's.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let src = [format!("tests/c/{name}.c"), format!("rpc/tests/c/{name}.c")]
        .iter()
        .map(|p| root.join(p))
        .find(|p| p.exists())
        .expect("C source");
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let result = Command::new("cc")
        .args(["-O2", "-Wall", "-o"])
        .arg(&out)
        .arg(&src)
        .arg("-levent")
        .output();
    let why = match result {
        Ok(o) if o.status.success() => return Some(out),
        Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
        Err(e) => format!("cc: {e}"),
    };
    if std::env::var_os("CI").is_some() {
        panic!("cannot build {name}.c against libevent (install libevent-dev): {why}");
    }
    eprintln!("skipped: cannot build {name}.c against libevent (libevent-dev missing?): {why}");
    None
}
