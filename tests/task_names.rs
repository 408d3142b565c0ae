//! Task names and ids through the facade (`runtime::task`): a name given
//! with `task::Builder` (or `JoinSet::build_task`) shows in the `Debug`
//! output of the task's `JoinHandle` and `AbortHandle` and in the
//! `JoinError` of its panic; unnamed tasks show their id only; ids are
//! unique across threads. One test names per-connection tasks of a TCP
//! server on 127.0.0.1 and finds the one that panicked by its name.

use runtime::io::{BufferedStream, Eol};
use runtime::net::{TcpListener, TcpStream};
use runtime::task::{self, Builder, JoinSet};
use runtime::time::timeout;
use runtime::{block_on, spawn};
use std::collections::HashSet;
use std::future::pending;
use std::time::Duration;

const BOUND: Duration = Duration::from_secs(20);

#[test]
fn a_named_task_shows_its_id_and_name_in_debug_of_its_handles() {
    block_on(async {
        let h = Builder::new()
            .name("conn-42")
            .spawn(pending::<()>())
            .unwrap();
        let id = h.id().as_u64();
        assert_eq!(h.name(), Some("conn-42"));
        assert_eq!(
            format!("{h:?}"),
            format!("JoinHandle {{ id: {id}, name: \"conn-42\", finished: false }}")
        );
        let a = h.abort_handle();
        assert_eq!(a.id(), h.id());
        assert_eq!(a.name(), Some("conn-42"));
        assert_eq!(
            format!("{a:?}"),
            format!("AbortHandle {{ id: {id}, name: \"conn-42\", finished: false }}")
        );
        a.abort();
        let err = timeout(BOUND, h).await.unwrap().unwrap_err();
        assert!(err.is_cancelled());
        assert_eq!(err.name(), Some("conn-42"));
        assert_eq!(
            err.to_string(),
            format!("task {id} \"conn-42\" was cancelled")
        );
        assert!(a.is_finished());
        assert_eq!(
            format!("{a:?}"),
            format!("AbortHandle {{ id: {id}, name: \"conn-42\", finished: true }}")
        );
    });
}

#[test]
fn a_panic_in_a_named_task_is_reported_with_its_name() {
    block_on(async {
        let h = Builder::new()
            .name("parser")
            .spawn(async { panic!("unexpected byte 0x{:02x}", 0xffu8) })
            .unwrap();
        let id = h.id();
        let err = timeout(BOUND, h).await.unwrap().unwrap_err();
        assert!(err.is_panic());
        assert_eq!(err.id(), Some(id));
        assert_eq!(err.name(), Some("parser"));
        assert_eq!(err.panic_message(), Some("unexpected byte 0xff"));
        assert_eq!(
            err.to_string(),
            format!("task {id} \"parser\" panicked: unexpected byte 0xff")
        );
        assert_eq!(
            format!("{err:?}"),
            format!(
                "JoinError::Panic {{ id: {id}, name: \"parser\", message: \"unexpected byte 0xff\" }}"
            )
        );
        // Into io::Error (as `?` does), the name is kept.
        let io: std::io::Error = err.into();
        assert!(io.to_string().contains("\"parser\" panicked"));
    });
}

#[test]
fn unnamed_tasks_show_their_id_only() {
    block_on(async {
        let h = spawn(pending::<()>());
        let id = h.id().as_u64();
        assert_eq!(h.name(), None);
        assert_eq!(
            format!("{h:?}"),
            format!("JoinHandle {{ id: {id}, finished: false }}")
        );
        assert_eq!(
            format!("{:?}", h.abort_handle()),
            format!("AbortHandle {{ id: {id}, finished: false }}")
        );
        let p = spawn(async { panic!("boom") });
        let pid = p.id();
        let err = timeout(BOUND, p).await.unwrap().unwrap_err();
        assert_eq!(err.name(), None);
        assert_eq!(err.id(), Some(pid));
        assert_eq!(err.to_string(), format!("task {pid} panicked: boom"));
        // Builder without a name: the same as spawn.
        let b = Builder::new().spawn(async { 3 }).unwrap();
        assert_eq!(b.name(), None);
        assert!(!format!("{b:?}").contains("name"));
        assert_eq!(timeout(BOUND, b).await.unwrap().unwrap(), 3);
    });
}

#[test]
fn builder_priority_spawn_on_spawn_local_and_errors() {
    let rt = runtime::Builder::new()
        .priorities(2)
        .unwrap()
        .build()
        .unwrap();
    // spawn_on from outside the loop, at a priority.
    let h = Builder::new()
        .name("on-rt")
        .priority(0)
        .spawn_on(async { 5 }, &rt)
        .unwrap();
    assert_eq!(h.priority(), 0);
    assert_eq!(h.name(), Some("on-rt"));
    assert!(Builder::new().priority(2).spawn_on(async {}, &rt).is_err());
    assert_eq!(rt.block_on(h).unwrap(), 5);
    // Outside a runtime, spawn is an error (not a panic).
    let err = Builder::new().name("x").spawn(async {}).unwrap_err();
    assert!(err.to_string().contains("no runtime"), "{err}");
    rt.block_on(async {
        let h = Builder::new()
            .name("local")
            .spawn_local(async { std::rc::Rc::new(1) })
            .unwrap();
        assert_eq!(*timeout(BOUND, h).await.unwrap().unwrap(), 1);
        let mut set = JoinSet::<()>::new();
        assert!(set.build_task().priority(9).spawn(async {}).is_err());
        assert!(set.is_empty());
        assert_eq!(set.join_next().await.map(|r| r.is_ok()), None);
    });
}

#[test]
fn ids_are_unique_across_tasks_and_threads() {
    let rt = runtime::Builder::new().threads(2).build().unwrap();
    let handle = rt.handle();
    let remote: Vec<_> = (0..2)
        .map(|w| {
            handle
                .spawn_on(w, || async {
                    (0..300)
                        .map(|_| spawn(async {}).id().as_u64())
                        .collect::<Vec<_>>()
                })
                .unwrap()
        })
        .collect();
    let mut ids = HashSet::new();
    rt.block_on(async {
        for _ in 0..300 {
            assert!(ids.insert(spawn(async {}).id().as_u64()));
        }
        for r in remote {
            for id in timeout(BOUND, r).await.unwrap().unwrap() {
                assert!(ids.insert(id), "id {id} handed out twice");
            }
        }
    });
    assert_eq!(ids.len(), 900);
}

/// A server names each connection's task after its peer; a client that
/// sends a bad line makes its task panic, and the server learns which
/// connection it was from the `JoinError`.
#[test]
fn a_tcp_server_finds_the_panicked_connection_task_by_name() {
    block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let clients = spawn(async move {
            let mut peers = Vec::new();
            for i in 0..4 {
                let s = TcpStream::connect(addr).await.unwrap();
                let me = s.local_addr().unwrap();
                let mut s = BufferedStream::new(s);
                let line = if i == 2 { "garbage\n" } else { "hello\n" };
                s.write_all(line.as_bytes()).await.unwrap();
                s.flush().await.unwrap();
                peers.push((me, s));
            }
            let mut bad = None;
            for (i, (me, s)) in peers.iter_mut().enumerate() {
                let r = timeout(BOUND, s.read_line(Eol::Lf)).await.unwrap().unwrap();
                if i == 2 {
                    // Its task panicked: the connection is closed unanswered.
                    assert_eq!(r, None);
                    bad = Some(*me);
                } else {
                    assert_eq!(r.unwrap(), b"olleh");
                }
            }
            bad.unwrap()
        });
        let mut set = JoinSet::new();
        for _ in 0..4 {
            let (s, peer) = timeout(BOUND, listener.accept()).await.unwrap().unwrap();
            let name = format!("conn-{peer}");
            set.build_task()
                .name(&name)
                .spawn(async move {
                    let mut s = BufferedStream::new(s);
                    let line = s.read_line(Eol::Lf).await.unwrap().unwrap();
                    assert_eq!(line, b"hello", "bad request");
                    let mut back = line.to_vec();
                    back.reverse();
                    back.push(b'\n');
                    s.write_all(&back).await.unwrap();
                    s.flush().await.unwrap();
                })
                .unwrap();
        }
        let mut panicked = Vec::new();
        while let Some(r) = timeout(BOUND, set.join_next()).await.unwrap() {
            if let Err(e) = r {
                assert!(e.is_panic());
                assert!(e.to_string().contains("bad request"), "{e}");
                panicked.push(e.name().unwrap().to_string());
            }
        }
        let bad = timeout(BOUND, clients).await.unwrap().unwrap();
        assert_eq!(panicked, [format!("conn-{bad}")]);
    });
}

#[test]
fn task_module_spawn_local_is_spawn() {
    block_on(async {
        let h = task::spawn_local(async { 1 });
        assert_eq!(timeout(BOUND, h).await.unwrap().unwrap(), 1);
    });
}

#[test]
fn try_id_is_the_polled_tasks_id_and_none_outside_tasks() {
    block_on(async {
        // block_on's own future is not a task.
        assert_eq!(task::try_id(), None);
        assert!(std::panic::catch_unwind(task::id).is_err());
        let outer = spawn(async {
            let me = task::id();
            let inner = spawn(async { (task::try_id(), task::current_name()) });
            let inner_id = inner.id();
            let (seen, name) = inner.await.unwrap();
            assert_eq!(seen, Some(inner_id));
            assert_eq!(name, None, "an unnamed task has no name");
            // After other tasks ran, this one is current again.
            task::yield_now().await;
            assert_eq!(task::try_id(), Some(me));
            (me, inner_id)
        });
        let outer_id = outer.id();
        let (me, inner_id) = timeout(BOUND, outer).await.unwrap().unwrap();
        assert_eq!(me, outer_id);
        assert_ne!(me, inner_id);
        assert_eq!(task::try_id(), None, "restored after the tasks' polls");
        // A blocking-pool thread runs no task.
        let on_pool = task::spawn_blocking(task::try_id).await.unwrap();
        assert_eq!(on_pool, None);
        // A task that panicked left no current task behind.
        let h = spawn(async { panic!("boom") });
        assert!(timeout(BOUND, h).await.unwrap().is_err());
        assert_eq!(task::try_id(), None);
    });
}

#[test]
fn a_panic_hook_can_name_the_task_that_panicked() {
    use std::sync::{Arc, Mutex};
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let previous = Arc::new(std::panic::take_hook());
    let (s, p) = (seen.clone(), previous.clone());
    std::panic::set_hook(Box::new(move |info| {
        if let (Some(id), Some(name)) = (task::try_id(), task::current_name()) {
            if name.starts_with("hooked-") {
                s.lock().unwrap().push(format!("{id} {name}: {info}"));
            }
        }
        p(info);
    }));
    let id = block_on(async {
        let h = Builder::new()
            .name("hooked-conn-9")
            .spawn(async { panic!("bad frame") })
            .unwrap();
        let id = h.id();
        let err = timeout(BOUND, h).await.unwrap().unwrap_err();
        assert_eq!(err.name(), Some("hooked-conn-9"));
        id
    });
    // Hand panics back to the hook that was there (other tests' output).
    std::panic::set_hook(Box::new(move |info| previous(info)));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].starts_with(&format!("{id} hooked-conn-9: ")) && seen[0].contains("bad frame"),
        "{seen:?}"
    );
}
