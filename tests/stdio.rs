//! `runtime::io::{stdin, stdout, stderr}` in a child process (this test
//! binary run again with `STDIO_CHILD` set): stdin from a pipe (through
//! the reactor) and from a file (through the blocking pool), stdout to a
//! pipe and to a file; the file status flags of descriptors 0 and 1 are
//! the same before and after, so other processes sharing them see no
//! change.

use std::io::{Read, Write};
use std::process::{Command, Stdio};

/// Child side: uppercases stdin's lines to stdout, after a report line on
/// stderr; checks the flags of 0 and 1 did not change.
#[test]
fn stdio_child() {
    let Ok(mode) = std::env::var("STDIO_CHILD") else {
        return; // only meaningful when run by the tests below
    };
    // SAFETY: F_GETFL only reads the flags of a standard descriptor.
    let flags = |fd| unsafe { libc::fcntl(fd, libc::F_GETFL) };
    let (in0, out0) = (flags(0), flags(1));
    runtime::block_on(async {
        let input = runtime::io::stdin();
        let mut out = runtime::io::stdout();
        let mut err = runtime::io::stderr();
        let report = format!(
            "mode={mode} stdin_nonblocking={} stdout_nonblocking={}\n",
            input.is_nonblocking(),
            out.is_nonblocking()
        );
        err.write_all(report.as_bytes()).await.unwrap();
        err.flush().await.unwrap();
        // libtest's "test stdio_child ... " has no newline yet.
        out.write_all(b"\n").await.unwrap();
        let mut lines = input.lines();
        while let Some(line) = lines.next_line().await.unwrap() {
            out.write_all(format!("OUT:{}\n", line.to_uppercase()).as_bytes())
                .await
                .unwrap();
        }
        out.flush().await.unwrap();
    });
    assert_eq!(flags(0), in0, "stdin's file status flags changed");
    assert_eq!(flags(1), out0, "stdout's file status flags changed");
    assert_eq!(in0 & libc::O_NONBLOCK, 0);
}

fn child(mode: &str) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args(["--exact", "stdio_child", "--nocapture", "--test-threads=1"])
        .env("STDIO_CHILD", mode)
        .stderr(Stdio::piped());
    c
}

fn out_lines(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("OUT:"))
        .collect()
}

#[test]
fn stdin_from_a_pipe_stdout_to_a_pipe() {
    let mut c = child("pipe")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = c.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        for i in 0..2000 {
            // Slow bits and a CR LF line: lines arrive split across reads.
            write!(stdin, "line {i}{}", if i % 3 == 0 { "\r\n" } else { "\n" }).unwrap();
            if i % 500 == 0 {
                stdin.flush().unwrap();
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        // The parent's end keeps blocking mode: the child did not change it.
        // SAFETY: F_GETFL on a descriptor this ChildStdin owns.
        let fl = unsafe { libc::fcntl(std::os::fd::AsRawFd::as_raw_fd(&stdin), libc::F_GETFL) };
        assert_eq!(fl & libc::O_NONBLOCK, 0);
    });
    let mut out = String::new();
    c.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    writer.join().unwrap();
    let mut err = String::new();
    c.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(c.wait().unwrap().success(), "child failed: {err}");
    assert!(
        err.contains("mode=pipe stdin_nonblocking=true stdout_nonblocking=true"),
        "{err}"
    );
    let lines = out_lines(&out);
    assert_eq!(lines.len(), 2000);
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(*l, format!("LINE {i}"));
    }
}

#[test]
fn stdin_from_a_file_stdout_to_a_file() {
    let dir = std::env::temp_dir().join(format!("runtime-stdio-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (inp, outp) = (dir.join("in.txt"), dir.join("out.txt"));
    let text: String = (0..500).map(|i| format!("word {i}\n")).collect();
    std::fs::write(&inp, text + "last line without newline").unwrap();
    let c = child("file")
        .stdin(std::fs::File::open(&inp).unwrap())
        .stdout(std::fs::File::create(&outp).unwrap())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&c.stderr);
    // The last line has no newline: read_line reports it as UnexpectedEof,
    // so the child panics after writing the complete lines.
    assert!(!c.status.success());
    assert!(err.contains("UnexpectedEof"), "{err}");
    assert!(
        err.contains("mode=file stdin_nonblocking=false stdout_nonblocking=false"),
        "{err}"
    );
    let out = std::fs::read_to_string(&outp).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let lines = out_lines(&out);
    assert_eq!(lines.len(), 500, "{out}");
    assert_eq!(lines[499], "WORD 499");
}

#[test]
fn stdin_from_dev_null_is_empty() {
    let c = child("null")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&c.stderr);
    assert!(c.status.success(), "{err}");
    assert!(
        err.contains("mode=null stdin_nonblocking=false stdout_nonblocking=true"),
        "{err}"
    );
    assert!(out_lines(&String::from_utf8_lossy(&c.stdout)).is_empty());
}
