//! Sockets for `runtime`: [`TcpListener`], [`TcpStream`], [`UdpSocket`],
//! [`UnixListener`], [`UnixStream`], [`UnixDatagram`].
//!
//! Every socket is non-blocking and close-on-exec from birth and is
//! registered once, edge-triggered for both directions, with the reactor of
//! the thread that made it, so sockets are `!Send`: they live on that
//! thread (shard listeners over worker threads with [`serve_sharded`]).
//! Streams implement `futures_io::AsyncRead` and `AsyncWrite`, so the
//! futures ecosystem plugs in, and have inherent async `read`/`write`
//! helpers too.
//!
//! The system-call economy follows the design rules: the I/O call is tried
//! first and readiness is awaited only after `WouldBlock`; readiness is
//! cleared on `WouldBlock`, or on a short read or write of a stream (the
//! kernel buffer is then known empty or full, and edge-triggered epoll will
//! report the next change); many buffers go out with one `sendmsg`
//! (`writev` without `SIGPIPE`). Writes never raise `SIGPIPE`.
//!
//! Listeners run libevent's `evconnlistener` accept loop: enable/disable,
//! errors as stream items, and a timer back-off instead of a busy loop when
//! descriptors run out (`EMFILE`).
//!
//! ```
//! use runtime::net::{TcpListener, TcpStream};
//!
//! runtime::block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     // An echo server task.
//!     runtime::spawn(async move {
//!         while let Ok((mut conn, _peer)) = listener.accept().await {
//!             runtime::spawn(async move {
//!                 let mut buf = [0u8; 1024];
//!                 while let Ok(n @ 1..) = conn.read(&mut buf).await {
//!                     if conn.write_all(&buf[..n]).await.is_err() {
//!                         break;
//!                     }
//!                 }
//!             });
//!         }
//!     });
//!     let mut client = TcpStream::connect(addr).await?;
//!     client.write_all(b"hello").await?;
//!     let mut reply = [0u8; 5];
//!     client.read_exact(&mut reply).await?;
//!     assert_eq!(&reply, b"hello");
//!     Ok::<_, std::io::Error>(())
//! })
//! .unwrap();
//! ```

#![warn(missing_docs)]

mod accept;
mod batch;
mod options;
mod resolve;
mod shard;
mod socket;
mod split;
mod stream;
mod stream_socket;
mod sys;
pub mod tcp;
mod udp;
pub mod unix;

/// The I/O traits the streams implement (re-exported from `futures-io`).
pub use futures_io::{AsyncRead, AsyncWrite};

pub use accept::{ACCEPT_BACKOFF_MAX, ACCEPT_BACKOFF_MIN};
pub use batch::RecvBatch;
pub use options::ListenOptions;
pub use resolve::{set_name_resolver, AddrTarget, NameResolver, ToSocketAddrs};
pub use shard::{serve_sharded, ShardedServer};
pub use split::{ReadHalf, ReuniteError, WriteHalf};
pub use stream_socket::StreamSocket;
pub use tcp::{Incoming, TcpConnecting, TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixIncoming, UnixListener, UnixStream};
