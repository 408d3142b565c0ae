//! The RPC examples as real processes: `--help`, `rpc-client` calling
//! `rpc-server`, a failed call's status, clean exit on SIGINT.

#[path = "support/example.rs"]
mod example;

use example::example_bin;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn sigint_and_wait(mut child: Child) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    for _ in 0..100 {
        if let Some(st) = child.try_wait().unwrap() {
            assert!(st.success(), "exit status {st}");
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("did not exit on SIGINT");
}

#[test]
fn rpc_examples_print_help() {
    for name in ["rpc-server", "rpc-client"] {
        let out = Command::new(example_bin(name))
            .arg("--help")
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("usage:"),
            "{name}"
        );
    }
}

#[test]
fn rpc_client_calls_rpc_server() {
    let mut server = Command::new(example_bin("rpc-server"))
        .args(["--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.split_whitespace().nth(3).unwrap().to_owned();
    let out = Command::new(example_bin("rpc-client"))
        .args(["--addr", &addr, "--count", "20"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("weapon=dagger action=\"wave at rpc-client\" how_often=[1]"),
        "{text}"
    );
    assert!(text.contains("20 calls, 0 failed"), "{text}");
    sigint_and_wait(server);
    // Nobody listens now: EVRPC_STATUS_ERR_TIMEOUT, exit status 1.
    let out = Command::new(example_bin("rpc-client"))
        .args(["--addr", &addr])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("EVRPC_STATUS 1"));
}
