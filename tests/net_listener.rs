//! The accept loop (libevent's evconnlistener): enable/disable, errors as
//! stream items, EMFILE back-off without spinning and recovery, many
//! connections, SO_REUSEPORT sharding. All over 127.0.0.1, each test
//! bounded in time.

use futures_core::Stream;
use runtime::net::{
    ListenOptions, TcpListener, TcpStream, UnixListener, UnixStream, ACCEPT_BACKOFF_MAX,
};
use runtime::time::sleep;
use std::cell::RefCell;
use std::future::poll_fn;
use std::io;
use std::pin::pin;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

#[path = "support/net.rs"]
mod net;
use net::bounded;

/// Waits (bounded) until `cond` holds, polling every millisecond.
async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        sleep(Duration::from_millis(1)).await;
    }
}

type Items = Rc<RefCell<Vec<io::Result<TcpStream>>>>;

/// A task collecting everything `incoming` yields.
fn collect_incoming(listener: Rc<TcpListener>) -> (Items, runtime::JoinHandle<()>) {
    let items: Items = Rc::default();
    let out = items.clone();
    let task = runtime::spawn(async move {
        let mut incoming = pin!(listener.incoming());
        loop {
            let item = poll_fn(|cx| incoming.as_mut().poll_next(cx)).await;
            out.borrow_mut().push(item.expect("incoming never ends"));
        }
    });
    (items, task)
}

#[runtime::test]
async fn disabled_listener_accepts_nothing_until_enabled() {
    bounded(async {
        let listener = Rc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
        let addr = listener.local_addr().unwrap();
        assert!(listener.is_enabled());
        let (items, task) = collect_incoming(listener.clone());
        // Let the task start waiting on the listener, then disable.
        runtime::yield_now().await;
        listener.disable();
        assert!(!listener.is_enabled());
        let _c1 = TcpStream::connect(addr).await.unwrap();
        let _c2 = TcpStream::connect(addr).await.unwrap();
        sleep(Duration::from_millis(50)).await;
        assert_eq!(items.borrow().len(), 0, "a disabled listener accepted");

        listener.enable();
        wait_until("two accepts", || items.borrow().len() == 2).await;
        assert!(items.borrow().iter().all(|r| r.is_ok()));

        // Disable again while idle, and plain `accept` waits as well.
        listener.disable();
        let _c3 = TcpStream::connect(addr).await.unwrap();
        sleep(Duration::from_millis(30)).await;
        assert_eq!(items.borrow().len(), 2);
        task.abort();
        let l2 = listener.clone();
        let acceptor = runtime::spawn(async move { l2.accept().await.map(|(_, a)| a) });
        sleep(Duration::from_millis(30)).await;
        assert!(!acceptor.is_finished());
        listener.enable();
        acceptor.await.unwrap().unwrap();
    })
    .await
}

#[runtime::test]
async fn many_connections_are_all_accepted() {
    bounded(async {
        let listener = Rc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
        let addr = listener.local_addr().unwrap();
        let (items, _task) = collect_incoming(listener.clone());
        let mut clients = Vec::new();
        for i in 0..100u32 {
            let mut c = TcpStream::connect(addr).await.unwrap();
            c.write_all(&i.to_be_bytes()).await.unwrap();
            clients.push(c);
        }
        wait_until("100 accepts", || items.borrow().len() == 100).await;
        let mut seen = Vec::new();
        let accepted: Vec<_> = items.borrow_mut().drain(..).collect();
        for item in accepted {
            let mut s = item.unwrap();
            let mut b = [0u8; 4];
            s.read_exact(&mut b).await.unwrap();
            seen.push(u32::from_be_bytes(b));
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..100).collect::<Vec<_>>());
    })
    .await
}

#[runtime::test]
async fn reuse_port_listeners_share_a_port() {
    bounded(async {
        let opts = ListenOptions::new().reuse_port(true);
        assert!(opts.get_reuse_port());
        let a = TcpListener::bind_with("127.0.0.1:0", opts.clone())
            .await
            .unwrap();
        let addr = a.local_addr().unwrap();
        let b = TcpListener::bind_with(addr, opts).await.unwrap();
        let a = Rc::new(a);
        let b = Rc::new(b);
        let (ia, _ta) = collect_incoming(a);
        let (ib, _tb) = collect_incoming(b);
        let mut clients = Vec::new();
        for _ in 0..40 {
            clients.push(TcpStream::connect(addr).await.unwrap());
        }
        wait_until("40 accepts", || ia.borrow().len() + ib.borrow().len() == 40).await;
        // Without SO_REUSEPORT the port is taken.
        let err = TcpListener::bind_with(addr, ListenOptions::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    })
    .await
}

#[runtime::test]
async fn unix_listener_enable_disable_and_incoming() {
    bounded(async {
        let name = format!("runtime-net-test-listener-{}", std::process::id());
        let listener = Rc::new(UnixListener::bind_abstract(name.as_bytes()).unwrap());
        listener.disable();
        let l = listener.clone();
        let got = Rc::new(RefCell::new(0usize));
        let g = got.clone();
        let _task = runtime::spawn(async move {
            let mut incoming = pin!(l.incoming());
            while let Some(item) = poll_fn(|cx| incoming.as_mut().poll_next(cx)).await {
                let mut s = item.unwrap();
                s.write_all(b"welcome").await.unwrap();
                *g.borrow_mut() += 1;
            }
        });
        let mut c = UnixStream::connect_abstract(name.as_bytes()).await.unwrap();
        sleep(Duration::from_millis(30)).await;
        assert_eq!(*got.borrow(), 0);
        listener.enable();
        let mut buf = [0u8; 7];
        c.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"welcome");
        assert_eq!(*got.borrow(), 1);
    })
    .await
}

fn cpu_time() -> Duration {
    // SAFETY: getrusage fills a live, zeroed rusage struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) }, 0);
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn highest_open_fd() -> i32 {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .max()
        .unwrap()
}

/// Runs [`emfile_inner`] in a child process (it lowers `RLIMIT_NOFILE`,
/// which must not hit the other tests).
#[test]
fn emfile_backs_off_without_spinning_and_recovers() {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "emfile_inner",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("the EMFILE child did not finish in 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        status.success() && stdout.contains("1 passed"),
        "child failed ({status}):\n{stdout}\n{stderr}"
    );
}

#[runtime::test]
#[ignore = "run in a child process by emfile_backs_off_without_spinning_and_recovers"]
async fn emfile_inner() {
    bounded(async {
        let listener = Rc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
        let addr = listener.local_addr().unwrap();
        let (items, task) = collect_incoming(listener.clone());
        runtime::yield_now().await;

        // Leave room for a handful of descriptors only.
        let limit = highest_open_fd() as u64 + 1 + 12;
        let lim = libc::rlimit {
            rlim_cur: limit,
            rlim_max: limit,
        };
        // SAFETY: setrlimit reads a live rlimit struct.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);

        // Fill every descriptor with (blocking, std) client connections:
        // they complete in the kernel backlog, and accepting them needs
        // descriptors the process no longer has.
        let mut clients = Vec::new();
        loop {
            match std::net::TcpStream::connect(addr) {
                Ok(c) => clients.push(c),
                Err(e) if e.raw_os_error() == Some(libc::EMFILE) => break,
                Err(e) => panic!("unexpected connect error {e}"),
            }
        }
        assert!(clients.len() >= 3, "only {} clients fit", clients.len());
        eprintln!("{} clients hold the last descriptors", clients.len());

        // The accept loop may have taken some connections before the
        // descriptors ran out; close those, and make sure every free
        // descriptor is taken again.
        wait_until("the EMFILE item", || {
            items.borrow().iter().any(|r| {
                r.as_ref()
                    .err()
                    .is_some_and(|e| e.raw_os_error() == Some(libc::EMFILE))
            })
        })
        .await;
        let accepted_before = items.borrow().iter().filter(|r| r.is_ok()).count();
        let errors_before = items.borrow().len() - accepted_before;
        assert_eq!(errors_before, 1, "the EMFILE error is reported once");
        let held: Vec<_> = items
            .borrow_mut()
            .drain(..)
            .filter_map(|r| r.ok())
            .collect();
        eprintln!("accepted {} before running out", held.len());

        // While exhausted: no spinning, and no more items.
        let cpu0 = cpu_time();
        let t0 = Instant::now();
        sleep(Duration::from_millis(300)).await;
        let cpu = cpu_time() - cpu0;
        let wall = t0.elapsed();
        eprintln!("{cpu:?} of CPU in {wall:?} of exhaustion");
        assert!(
            cpu < Duration::from_millis(100),
            "the listener spins: {cpu:?} CPU in {wall:?}"
        );
        assert_eq!(
            items.borrow().len(),
            0,
            "nothing more is reported during one episode"
        );

        // Free descriptors: the listener accepts again within the back-off.
        drop(clients.drain(..3).collect::<Vec<_>>());
        let freed_at = Instant::now();
        wait_until("an accept after recovery", || {
            items.borrow().iter().any(|r| r.is_ok())
        })
        .await;
        assert!(
            freed_at.elapsed() < ACCEPT_BACKOFF_MAX * 3,
            "recovery took {:?}",
            freed_at.elapsed()
        );

        // Give everything back. The loop accepts the queued connections
        // (possibly running out again for a moment: a new episode); we drop
        // what it accepts, and a brand-new client gets through.
        drop(held);
        drop(clients);
        let deadline = Instant::now() + Duration::from_secs(5);
        let fresh = loop {
            items.borrow_mut().clear();
            match TcpStream::connect(addr).await {
                Ok(c) => break c,
                Err(e) if e.raw_os_error() == Some(libc::EMFILE) => {}
                Err(e) => panic!("unexpected connect error {e}"),
            }
            assert!(Instant::now() < deadline, "no descriptor came free");
            sleep(Duration::from_millis(2)).await;
        };
        let want = fresh.local_addr().unwrap();
        let mut found = false;
        while !found {
            found = items
                .borrow_mut()
                .drain(..)
                .any(|r| r.is_ok_and(|s| s.peer_addr().ok() == Some(want)));
            assert!(
                Instant::now() < deadline,
                "the fresh connection was not accepted"
            );
            sleep(Duration::from_millis(2)).await;
        }
        task.abort();
    })
    .await
}
