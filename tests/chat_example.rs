//! The `chat` example as a real process: `--help`, three clients over
//! 127.0.0.1 (a line reaches the others but not its sender; joins and
//! leaves are announced), clean exit on SIGINT with clients seeing EOF.

#[path = "support/example.rs"]
mod example;

use example::example_bin;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

struct Client {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Client {
    fn connect(addr: &str) -> Client {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Client {
            r: BufReader::new(s.try_clone().unwrap()),
            w: s,
        }
    }
    fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).expect("line within 10 s");
        l.trim_end().to_owned()
    }
    /// Reads lines until one equals `want`.
    fn expect(&mut self, want: &str) {
        for _ in 0..20 {
            if self.line() == want {
                return;
            }
        }
        panic!("never got {want:?}");
    }
    fn say(&mut self, text: &str) {
        self.w.write_all(format!("{text}\r\n").as_bytes()).unwrap();
    }
}

#[test]
fn chat_prints_help() {
    let out = Command::new(example_bin("chat"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("usage: chat"));
    let out = Command::new(example_bin("chat"))
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn chat_relays_lines_and_exits_on_sigint() {
    let mut server = Command::new(example_bin("chat"))
        .args(["--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut banner = String::new();
    BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut banner)
        .unwrap();
    let addr = banner.split_whitespace().nth(3).unwrap().to_owned();

    let mut a = Client::connect(&addr);
    assert_eq!(a.line(), "* you are guest1; 0 other(s) here");
    let mut b = Client::connect(&addr);
    assert_eq!(b.line(), "* you are guest2; 1 other(s) here");
    a.expect("* guest2 joined");
    let mut c = Client::connect(&addr);
    assert_eq!(c.line(), "* you are guest3; 2 other(s) here");
    a.expect("* guest3 joined");
    b.expect("* guest3 joined");

    a.say("hello from a");
    b.expect("guest1: hello from a");
    c.expect("guest1: hello from a");
    b.say("hi");
    // a's next line is b's, not its own echo.
    assert_eq!(a.line(), "guest2: hi");
    c.expect("guest2: hi");

    drop(b);
    a.expect("* guest2 left");
    c.expect("* guest2 left");

    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(server.id() as i32, libc::SIGINT) };
    let mut status = None;
    for _ in 0..200 {
        if let Some(st) = server.try_wait().unwrap() {
            status = Some(st);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let Some(st) = status else {
        let _ = server.kill();
        panic!("chat did not exit on SIGINT");
    };
    assert!(st.success(), "{st}");
    // The connections were closed.
    let mut rest = String::new();
    a.r.read_to_string(&mut rest).unwrap();
    assert!(!rest.contains("hello"), "{rest}");
}
