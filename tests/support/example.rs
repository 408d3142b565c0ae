//! Shared by the tests that run a root example as a real process.

use std::path::PathBuf;
use std::process::Command;

/// Builds (if needed) and locates a root example: `target/<profile>/examples/NAME`,
/// next to this test's own `deps/` folder.
pub fn example_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test binary lives in target/<profile>/deps")
        .to_path_buf();
    let target_dir = profile_dir.parent().expect("target dir").to_path_buf();
    let bin = profile_dir.join("examples").join(name);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "--example", name, "--manifest-path"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    // Cargo gives this test the package's variables (CARGO_PKG_NAME,
    // CARGO_MANIFEST_DIR, OUT_DIR ...); build scripts that track them with
    // rerun-if-env-changed (ring's does) would see them changed and rebuild
    // on every nested build, then again on the next `cargo test`. Hide them.
    for (name, _) in std::env::vars_os() {
        let n = name.to_string_lossy();
        if n.starts_with("CARGO_PKG_")
            || n.starts_with("CARGO_MANIFEST_")
            || n.starts_with("CARGO_BIN_")
            || matches!(
                &*n,
                "CARGO_CRATE_NAME" | "CARGO_PRIMARY_PACKAGE" | "CARGO_TARGET_TMPDIR" | "OUT_DIR"
            )
        {
            cmd.env_remove(&name);
        }
    }
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    match cmd.status() {
        Ok(s) if s.success() => {}
        other => {
            assert!(
                bin.exists(),
                "cannot build example {name} ({other:?}) and {} does not exist",
                bin.display()
            );
            eprintln!(
                "warning: building example {name} failed ({other:?}); using the existing binary"
            );
        }
    }
    bin
}
