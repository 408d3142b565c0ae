//! Test servers for the resolver tests: a real dnsmasq on a loopback port,
//! and scriptable fake servers (a plain thread with blocking std sockets)
//! for what a real server never does (spoofing, malformed replies, black
//! holes).
#![allow(dead_code)]

use runtime_dns::wire::{Message, Name, RData, Rcode, Record};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A dnsmasq process answering from its own records, with no upstream;
/// killed on drop.
pub struct Dnsmasq {
    child: Child,
    pub addr: SocketAddr,
    _dir: TempDir,
}

pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "runtime-dns-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn find_dnsmasq() -> Option<std::path::PathBuf> {
    for p in ["/usr/sbin/dnsmasq", "/sbin/dnsmasq", "/usr/bin/dnsmasq"] {
        if std::path::Path::new(p).exists() {
            return Some(p.into());
        }
    }
    None
}

/// A free loopback port for both UDP and TCP (best effort).
fn free_port() -> u16 {
    loop {
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = u.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

impl Dnsmasq {
    /// Starts dnsmasq with `hosts` as its hosts file and `args` added;
    /// `None` (the test skips) when dnsmasq is missing, unless `CI` is
    /// set, where that is a failure.
    pub fn start(hosts: &str, args: &[&str]) -> Option<Dnsmasq> {
        let Some(bin) = find_dnsmasq() else {
            if std::env::var_os("CI").is_some() {
                panic!("dnsmasq is required in CI (apt-get install dnsmasq-base)");
            }
            eprintln!("skipping: dnsmasq not installed (apt-get install dnsmasq-base)");
            return None;
        };
        let dir = TempDir::new("dnsmasq");
        let hosts_file = dir.0.join("hosts");
        std::fs::write(&hosts_file, hosts).unwrap();
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new(&bin)
                .arg("--no-daemon")
                .arg(format!("--port={port}"))
                .args([
                    "--listen-address=127.0.0.1",
                    "--bind-interfaces",
                    "--no-resolv",
                    "--no-hosts",
                    "--conf-file=/dev/null",
                    "--user=root",
                    "--pid-file=",
                    "--local-ttl=30",
                ])
                .arg(format!("--addn-hosts={}", hosts_file.display()))
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn dnsmasq");
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            if wait_ready(addr, &mut child) {
                return Some(Dnsmasq {
                    child,
                    addr,
                    _dir: dir,
                });
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("dnsmasq did not start");
    }
}

/// Waits until a server at `addr` answers a query (at most 5 s).
fn wait_ready(addr: SocketAddr, child: &mut Child) -> bool {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let q = Message::query(
        7,
        Name::from_ascii("ready.invalid").unwrap(),
        runtime_dns::wire::RecordType::A,
    )
    .to_bytes();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut buf = [0u8; 512];
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        let _ = sock.send_to(&q, addr);
        if let Ok((_, from)) = sock.recv_from(&mut buf) {
            if from == addr {
                return true;
            }
        }
    }
    false
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a fake server's handler gets for each datagram.
pub struct Request<'a> {
    pub sock: &'a UdpSocket,
    pub from: SocketAddr,
    pub raw: &'a [u8],
    pub msg: Option<Message>,
}

impl Request<'_> {
    pub fn reply(&self, bytes: &[u8]) {
        self.sock.send_to(bytes, self.from).unwrap();
    }
}

/// A UDP server on a thread running `handler` for each datagram until
/// dropped; it counts datagrams.
pub struct FakeServer {
    pub addr: SocketAddr,
    pub received: Arc<AtomicUsize>,
    pub log: Arc<Mutex<Vec<Message>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeServer {
    pub fn start(handler: impl FnMut(&Request<'_>) + Send + 'static) -> FakeServer {
        FakeServer::start_on(UdpSocket::bind("127.0.0.1:0").unwrap(), handler)
    }

    /// Like [`start`](Self::start) on a socket bound by the caller.
    pub fn start_on(
        sock: UdpSocket,
        mut handler: impl FnMut(&Request<'_>) + Send + 'static,
    ) -> FakeServer {
        sock.set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let addr = sock.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let received = Arc::new(AtomicUsize::new(0));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (s2, r2, l2) = (stop.clone(), received.clone(), log.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !s2.load(Ordering::Relaxed) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                r2.fetch_add(1, Ordering::SeqCst);
                let msg = Message::parse(&buf[..n]).ok();
                if let Some(m) = &msg {
                    l2.lock().unwrap().push(m.clone());
                }
                handler(&Request {
                    sock: &sock,
                    from,
                    raw: &buf[..n],
                    msg,
                });
            }
        });
        FakeServer {
            addr,
            received,
            log,
            stop,
            thread: Some(thread),
        }
    }

    /// A server that reads and drops everything.
    pub fn black_hole() -> FakeServer {
        FakeServer::start(|_| {})
    }

    pub fn count(&self) -> usize {
        self.received.load(Ordering::SeqCst)
    }

    pub fn names(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .map(|m| m.questions[0].name.to_string())
            .collect()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A TCP server on a thread answering each length-prefixed query with
/// `answer(query)`, until dropped.
pub struct FakeTcpServer {
    pub addr: SocketAddr,
    /// The address of each client connection accepted, in order.
    pub peers: Arc<Mutex<Vec<SocketAddr>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeTcpServer {
    pub fn start_on(
        l: TcpListener,
        answer: impl Fn(&Message) -> Vec<u8> + Send + 'static,
    ) -> FakeTcpServer {
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let peers = Arc::new(Mutex::new(Vec::new()));
        let (s2, p2) = (stop.clone(), peers.clone());
        let thread = std::thread::spawn(move || {
            while !s2.load(Ordering::Relaxed) {
                let Ok((mut c, peer)) = l.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                p2.lock().unwrap().push(peer);
                c.set_nonblocking(false).unwrap();
                c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                let mut len = [0u8; 2];
                if c.read_exact(&mut len).is_err() {
                    continue;
                }
                let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
                if c.read_exact(&mut q).is_err() {
                    continue;
                }
                let Ok(m) = Message::parse(&q) else { continue };
                let a = answer(&m);
                let mut out = (a.len() as u16).to_be_bytes().to_vec();
                out.extend_from_slice(&a);
                let _ = c.write_all(&out);
            }
        });
        FakeTcpServer {
            addr,
            peers,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FakeTcpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A UDP socket and a TCP listener on the same loopback port (retried
/// until a port is free for both).
pub fn udp_tcp_pair() -> (UdpSocket, TcpListener) {
    for _ in 0..100 {
        let t = TcpListener::bind("127.0.0.1:0").unwrap();
        if let Ok(u) = UdpSocket::bind(t.local_addr().unwrap()) {
            return (u, t);
        }
    }
    panic!("no loopback port free for both UDP and TCP");
}

/// A reply to `q` with the given answers (names echo the question's case).
pub fn answer(q: &Message, rcode: Rcode, ttl: u32, data: Vec<RData>) -> Vec<u8> {
    let mut r = Message::response_to(q, rcode);
    let name = q.questions[0].name.clone();
    for d in data {
        r.answers.push(Record::new(name.clone(), ttl, d));
    }
    r.to_bytes()
}

/// A negative reply with an SOA giving `neg_ttl`.
pub fn negative(q: &Message, rcode: Rcode, neg_ttl: u32) -> Vec<u8> {
    let mut r = Message::response_to(q, rcode);
    r.authorities.push(Record::new(
        Name::from_ascii("test").unwrap(),
        neg_ttl,
        RData::Soa {
            mname: Name::from_ascii("ns.test").unwrap(),
            rname: Name::from_ascii("admin.test").unwrap(),
            serial: 1,
            refresh: 60,
            retry: 60,
            expire: 60,
            minimum: neg_ttl,
        },
    ));
    r.to_bytes()
}

/// Runs `f` on a fresh runtime, failing the test if it takes over `limit`.
pub fn run<F: std::future::Future>(limit: Duration, f: F) -> F::Output {
    runtime_executor::block_on(async move {
        runtime_reactor::time::timeout(limit, f)
            .await
            .expect("test exceeded its time limit")
    })
}
