//! A broadcast chat server: every line a client sends goes to every other
//! client. Shows tasks (a `JoinSet` of connections), channels (one
//! `broadcast` channel for the room), line reading on a split socket
//! (`BufferedReader` over the read half, `BufferedWriter` over the write
//! half) and `select!` over the next line, the next room message and
//! Ctrl-C.
//!
//! ```text
//! cargo run --release --example chat
//! chat: listening on 127.0.0.1:40716 pid=12345
//! $ nc 127.0.0.1 40716          (in two or more terminals)
//! * you are guest1; 1 other here
//! hello
//! ```
//!
//! Flags: `--addr ADDR` (127.0.0.1:40716; port 0 picks a free port),
//! `--history N` (messages a slow client may fall behind by before it
//! skips some; 64). `SIGINT` (Ctrl-C) or `SIGTERM` closes every
//! connection and exits with status 0.

use runtime::io::{BufferedReader, BufferedWriter, Eol};
use runtime::net::{TcpListener, TcpStream};
use runtime::signal::{signal, SignalKind};
use runtime::sync::broadcast;
use runtime::JoinSet;
use std::cell::Cell;
use std::io;
use std::rc::Rc;

/// The longest line a client may send.
const MAX_LINE: usize = 4096;

/// A message in the room: who sent it (0 for the server) and the text.
#[derive(Clone, Debug)]
struct Message {
    from: u64,
    text: Rc<str>,
}

fn usage(why: &str) -> ! {
    let code = if why == "help" { 0 } else { 2 };
    let text = "usage: chat [--addr ADDR] [--history N]\n\
                A broadcast chat server: each line a client sends reaches every other client.\n\
                  --addr ADDR    listen address (default 127.0.0.1:40716)\n\
                  --history N    messages a slow client may fall behind (default 64)\n\
                Ctrl-C or SIGTERM stops it.";
    if code == 0 {
        println!("{text}");
    } else {
        eprintln!("chat: {why}\n{text}");
    }
    std::process::exit(code)
}

#[runtime::main]
async fn main() -> io::Result<()> {
    let mut addr = String::from("127.0.0.1:40716");
    let mut history = 64usize;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--addr" => addr = args.next().unwrap_or_else(|| usage("--addr needs a value")),
            "--history" => {
                history = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&n| n > 0)
                    .unwrap_or_else(|| usage("--history needs a positive number"))
            }
            "-h" | "--help" => usage("help"),
            other => usage(&format!("unknown flag {other}")),
        }
    }
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let listener = TcpListener::bind(&addr).await?;
    println!(
        "chat: listening on {} pid={}",
        listener.local_addr()?,
        std::process::id()
    );
    // The room stays open with no client in it (an inactive receiver
    // keeps the channel without buffering for it).
    let (room, first) = broadcast::channel::<Message>(history);
    let _keep_open = first.deactivate();
    let online = Rc::new(Cell::new(0usize));
    let mut clients = JoinSet::new();
    let mut next_id = 0u64;
    let why = loop {
        runtime::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    next_id += 1;
                    clients.spawn(client(next_id, stream, room.clone(), online.clone()));
                }
                Err(e) => eprintln!("chat: accept: {e}"),
            },
            // Reap finished connections so the set does not grow.
            Some(done) = clients.join_next() => {
                if let Err(e) = done {
                    eprintln!("chat: a connection task failed: {e}");
                }
            }
            _ = interrupt.recv() => break "SIGINT",
            _ = terminate.recv() => break "SIGTERM",
        }
    };
    // Dropping the set aborts every connection task (their sockets close).
    clients.shutdown().await;
    eprintln!("chat: {why}: exiting");
    Ok(())
}

/// One client: its lines go to the room, the room's messages (but its
/// own) go to it.
async fn client(
    id: u64,
    stream: TcpStream,
    room: broadcast::Sender<Message>,
    online: Rc<Cell<usize>>,
) -> io::Result<()> {
    let peer = stream.peer_addr()?;
    let (rd, wr) = stream.into_split();
    let mut lines = BufferedReader::from_reader(rd);
    lines.set_max_line(MAX_LINE);
    let mut lines = lines.lines(Eol::Crlf);
    let mut out = BufferedWriter::from_writer(wr);
    let mut inbox = room.new_receiver();

    let others = online.get();
    online.set(others + 1);
    eprintln!("chat: guest{id} joined from {peer}");
    out.write_all(format!("* you are guest{id}; {others} other(s) here\n").as_bytes())
        .await?;
    out.flush().await?;
    say(&room, 0, format!("* guest{id} joined"));

    let result = loop {
        runtime::select! {
            // Both are cancel safe: a line half-read stays buffered, a
            // room message not taken stays in the channel.
            line = lines.next_line() => match line {
                Ok(Some(text)) => say(&room, id, format!("guest{id}: {text}")),
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            },
            msg = inbox.recv() => {
                let text = match msg {
                    Ok(m) if m.from == id => continue,
                    Ok(m) => format!("{}\n", m.text),
                    Err(broadcast::RecvError::Overflowed(n)) => {
                        format!("* you missed {n} message(s)\n")
                    }
                    Err(broadcast::RecvError::Closed) => break Ok(()),
                };
                if let Err(e) = async {
                    out.write_all(text.as_bytes()).await?;
                    out.flush().await
                }
                .await
                {
                    break Err(e);
                }
            }
        }
    };
    online.set(online.get() - 1);
    say(&room, 0, format!("* guest{id} left"));
    eprintln!("chat: guest{id} left");
    result
}

/// Sends to the room; never waits (the channel drops the oldest message
/// when a reader is `history` behind).
fn say(room: &broadcast::Sender<Message>, from: u64, text: String) {
    let _ = room.try_broadcast(Message {
        from,
        text: text.into(),
    });
}
