//! Listener sharding: [`serve_sharded`] gives every worker thread of a
//! per-thread runtime its own `SO_REUSEPORT` listener on one port, so the
//! kernel spreads connections over the workers and an accepted connection
//! never crosses a thread.

use crate::options::ListenOptions;
use crate::sys::{self, RawAddr};
use crate::tcp::TcpListener;
use runtime_executor::{Handle, JoinError, RemoteHandle};
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};

/// The shards started by [`serve_sharded`]: the address they listen on and
/// one [`RemoteHandle`] per worker (shard `i` runs on worker `i`).
///
/// Dropping it detaches the shards (they run until they return or the
/// runtime shuts down); [`abort`](ShardedServer::abort) stops them.
pub struct ShardedServer {
    local_addr: SocketAddr,
    shards: Vec<RemoteHandle<io::Result<()>>>,
}

impl fmt::Debug for ShardedServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShardedServer")
            .field("local_addr", &self.local_addr)
            .field("shards", &self.shards.len())
            .finish()
    }
}

impl ShardedServer {
    /// The address every shard listens on (with the port the kernel chose
    /// when `serve_sharded` was given port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Number of shards (the runtime's worker count).
    pub fn shards(&self) -> usize {
        self.shards.len()
    }

    /// Whether every shard's future has returned (or panicked, or was
    /// cancelled).
    pub fn is_finished(&self) -> bool {
        self.shards.iter().all(RemoteHandle::is_finished)
    }

    /// Cancels every shard: each serve future (and its listener) is dropped
    /// on its worker. Tasks the shards spawned themselves keep running.
    pub fn abort(&self) {
        for s in &self.shards {
            s.abort();
        }
    }

    /// The shards' handles, in worker order.
    pub fn into_handles(self) -> Vec<RemoteHandle<io::Result<()>>> {
        self.shards
    }

    /// Waits until every shard has returned; the first error (in worker
    /// order) is returned. A shard that panicked or was cancelled is an
    /// error of kind `Other` carrying the [`JoinError`].
    pub async fn join(self) -> io::Result<()> {
        let mut first = None;
        for s in self.shards {
            let r = match s.await {
                Ok(r) => r,
                Err(e) => Err(join_error(e)),
            };
            if let (Err(e), None) = (r, &first) {
                first = Some(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

fn join_error(e: JoinError) -> io::Error {
    io::Error::other(format!("a listener shard did not complete: {e}"))
}

/// Serves `addr` on every worker of a per-thread runtime
/// ([`Builder::threads`](runtime_executor::Builder::threads)): one
/// listening socket per worker, all bound to the same address with
/// `SO_REUSEPORT`, so the kernel spreads incoming connections over the
/// workers (by a hash of the connection's addresses) and every accept, and
/// every connection accepted, stays on one thread — libevent's "one
/// `event_base` and one `evconnlistener` per thread".
///
/// `serve` is cloned once per worker and called **on** that worker with its
/// [`TcpListener`], registered with that worker's reactor; the future it
/// returns runs there as a task (it need not be `Send`). It typically loops
/// on [`accept`](TcpListener::accept) and spawns a task per connection with
/// `runtime::spawn`, which keeps the connection on the same worker.
///
/// The sockets are created, configured and bound here, on the calling
/// thread, so bind errors come back from this call and, with port 0, the
/// first socket's port is chosen by the kernel and the others bind to it
/// ([`ShardedServer::local_addr`] reports it). `SO_REUSEPORT` is turned on
/// whatever `options` says; the other options (backlog, `SO_REUSEADDR`,
/// `IPV6_V6ONLY`) apply to every shard. With a fixed port, note that any
/// other socket of the same user that listens there with `SO_REUSEPORT`
/// joins the same group.
///
/// Errors: `InvalidInput` on a runtime without worker threads; the socket,
/// bind or listen error; an error if the runtime is shutting down (shards
/// already started are then aborted).
///
/// ```
/// use runtime::net::{serve_sharded, ListenOptions, TcpStream};
///
/// let rt = runtime::Builder::new().threads(2).build().unwrap();
/// let addr = "127.0.0.1:0".parse().unwrap();
/// // An echo server on both workers.
/// let server = serve_sharded(&rt.handle(), addr, ListenOptions::new(), |listener| async move {
///     loop {
///         let (mut conn, _peer) = listener.accept().await?;
///         runtime::spawn(async move {
///             let mut buf = [0u8; 1024];
///             while let Ok(n @ 1..) = conn.read(&mut buf).await {
///                 if conn.write_all(&buf[..n]).await.is_err() {
///                     break;
///                 }
///             }
///         });
///     }
/// })
/// .unwrap();
/// assert_eq!(server.shards(), 2);
/// let addr = server.local_addr();
/// rt.block_on(async move {
///     let mut client = TcpStream::connect(addr).await.unwrap();
///     client.write_all(b"hello").await.unwrap();
///     let mut reply = [0u8; 5];
///     client.read_exact(&mut reply).await.unwrap();
///     assert_eq!(&reply, b"hello");
/// });
/// server.abort();
/// ```
pub fn serve_sharded<F, Fut>(
    handle: &Handle,
    addr: SocketAddr,
    options: ListenOptions,
    serve: F,
) -> io::Result<ShardedServer>
where
    F: FnOnce(TcpListener) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = io::Result<()>> + 'static,
{
    let n = handle.workers();
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "serve_sharded needs a runtime with worker threads (Builder::threads)",
        ));
    }
    let options = options.reuse_port(true);
    let first = bind_socket(addr, &options)?;
    let local_addr = sys::local_addr(first.as_raw_fd())?.to_inet()?;
    let mut sockets = Vec::with_capacity(n);
    sockets.push(first);
    for _ in 1..n {
        sockets.push(bind_socket(local_addr, &options)?);
    }
    let mut shards: Vec<RemoteHandle<io::Result<()>>> = Vec::with_capacity(n);
    for (worker, fd) in sockets.into_iter().enumerate() {
        let serve = serve.clone();
        let std_listener = std::net::TcpListener::from(fd);
        let spawned = handle.spawn_on(worker, move || async move {
            // Registered here, with this worker's reactor.
            let listener = TcpListener::from_std(std_listener)?;
            serve(listener).await
        });
        match spawned {
            Ok(h) => shards.push(h),
            Err(e) => {
                for s in &shards {
                    s.abort();
                }
                return Err(e);
            }
        }
    }
    Ok(ShardedServer { local_addr, shards })
}

/// A non-blocking, close-on-exec listening socket with `options` applied.
fn bind_socket(addr: SocketAddr, options: &ListenOptions) -> io::Result<OwnedFd> {
    let fd = sys::socket(RawAddr::domain_of(&addr), libc::SOCK_STREAM)?;
    options.apply_inet(fd.as_raw_fd(), addr.is_ipv6())?;
    sys::bind(fd.as_raw_fd(), &RawAddr::from_inet(&addr))?;
    sys::listen(fd.as_raw_fd(), options.listen_backlog())?;
    Ok(fd)
}
