//! [`ListenOptions`]: how a listening socket is set up before `listen`.

use crate::sys;
use std::io;
use std::os::fd::RawFd;

/// Options for [`TcpListener::bind_with`](crate::TcpListener::bind_with)
/// (and, backlog only, [`UnixListener::bind_with`](crate::UnixListener::bind_with)),
/// builder-style.
///
/// Defaults: backlog 1024, `SO_REUSEADDR` on (as std does, so a restarted
/// server can bind while old connections linger in `TIME_WAIT`),
/// `SO_REUSEPORT` off, `IPV6_V6ONLY` left at the system default,
/// `TCP_DEFER_ACCEPT` off.
///
/// ```
/// use runtime::net::{ListenOptions, TcpListener};
/// runtime::block_on(async {
///     let opts = ListenOptions::new().backlog(16).reuse_port(true);
///     let a = TcpListener::bind_with("127.0.0.1:0", opts.clone()).await.unwrap();
///     // With SO_REUSEPORT, a second listener may share the port (sharding).
///     let b = TcpListener::bind_with(a.local_addr().unwrap(), opts).await.unwrap();
///     assert_eq!(a.local_addr().unwrap(), b.local_addr().unwrap());
/// });
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenOptions {
    backlog: i32,
    reuse_address: bool,
    reuse_port: bool,
    ipv6_only: Option<bool>,
    defer_accept: bool,
}

impl Default for ListenOptions {
    fn default() -> Self {
        ListenOptions {
            backlog: ListenOptions::DEFAULT_BACKLOG,
            reuse_address: true,
            reuse_port: false,
            ipv6_only: None,
            defer_accept: false,
        }
    }
}

impl ListenOptions {
    /// The backlog used unless told otherwise.
    pub const DEFAULT_BACKLOG: i32 = 1024;

    /// The defaults.
    pub fn new() -> ListenOptions {
        ListenOptions::default()
    }

    /// The length of the queue of connections waiting to be accepted (the
    /// kernel caps it at `net.core.somaxconn`). Negative means the maximum.
    pub fn backlog(mut self, backlog: i32) -> ListenOptions {
        self.backlog = backlog;
        self
    }

    /// `SO_REUSEADDR`.
    pub fn reuse_address(mut self, yes: bool) -> ListenOptions {
        self.reuse_address = yes;
        self
    }

    /// `SO_REUSEPORT`: several sockets (one per thread) may listen on the
    /// same port, and the kernel spreads connections over them.
    pub fn reuse_port(mut self, yes: bool) -> ListenOptions {
        self.reuse_port = yes;
        self
    }

    /// `IPV6_V6ONLY` for IPv6 listeners: `true` refuses IPv4-mapped
    /// connections; `false` accepts them. Ignored for IPv4.
    pub fn ipv6_only(mut self, yes: bool) -> ListenOptions {
        self.ipv6_only = Some(yes);
        self
    }

    /// `TCP_DEFER_ACCEPT` (TCP only, set once listening): a connection is
    /// reported to `accept` only once the client has sent data (libevent's
    /// `LEV_OPT_DEFERRED_ACCEPT`), for protocols where the client speaks
    /// first.
    pub fn defer_accept(mut self, yes: bool) -> ListenOptions {
        self.defer_accept = yes;
        self
    }

    /// Whether `TCP_DEFER_ACCEPT` will be set.
    pub fn get_defer_accept(&self) -> bool {
        self.defer_accept
    }

    /// The configured backlog.
    pub fn get_backlog(&self) -> i32 {
        self.backlog
    }

    /// Whether `SO_REUSEADDR` will be set.
    pub fn get_reuse_address(&self) -> bool {
        self.reuse_address
    }

    /// Whether `SO_REUSEPORT` will be set.
    pub fn get_reuse_port(&self) -> bool {
        self.reuse_port
    }

    /// The `IPV6_V6ONLY` setting, if any.
    pub fn get_ipv6_only(&self) -> Option<bool> {
        self.ipv6_only
    }

    /// Applies the options that precede `bind` to an IP socket.
    pub(crate) fn apply_inet(&self, fd: RawFd, ipv6: bool) -> io::Result<()> {
        if self.reuse_address {
            sys::set_bool(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, true)?;
        }
        if self.reuse_port {
            sys::set_bool(fd, libc::SOL_SOCKET, libc::SO_REUSEPORT, true)?;
        }
        if let (true, Some(only)) = (ipv6, self.ipv6_only) {
            sys::set_bool(fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, only)?;
        }
        Ok(())
    }

    /// Applies the options that follow `listen` to a TCP socket.
    pub(crate) fn apply_listening(&self, fd: RawFd) -> io::Result<()> {
        if self.defer_accept {
            sys::setsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_DEFER_ACCEPT,
                1 as libc::c_int,
            )?;
        }
        Ok(())
    }

    /// The backlog to pass to `listen`.
    pub(crate) fn listen_backlog(&self) -> i32 {
        if self.backlog < 0 {
            i32::MAX
        } else {
            self.backlog
        }
    }
}
