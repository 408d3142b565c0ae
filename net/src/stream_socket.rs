//! [`StreamSocket`]: a connected stream socket of either family, from a
//! descriptor whose kind is only known at run time (libevent's
//! `bufferevent_socket_new(base, fd, …)` takes any stream socket).

use crate::socket::Socket;
use crate::sys;
use crate::tcp::TcpStream;
use crate::unix::UnixStream;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

/// A stream socket whose family was read from the descriptor: TCP (IPv4 or
/// IPv6) or Unix.
///
/// ```
/// use runtime::net::StreamSocket;
/// let rt = runtime::Runtime::new().unwrap();
/// let _in = rt.reactor().enter();
/// let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
/// assert!(matches!(StreamSocket::from_fd(a.into()), Ok(StreamSocket::Unix(_))));
/// // Not a socket: a clear InvalidInput error.
/// let file = std::fs::File::open("/dev/null").unwrap();
/// let err = StreamSocket::from_fd(file.into()).unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
/// ```
#[derive(Debug)]
pub enum StreamSocket {
    /// An `AF_INET` or `AF_INET6` stream socket.
    Tcp(TcpStream),
    /// An `AF_UNIX` stream socket.
    Unix(UnixStream),
}

impl StreamSocket {
    /// Takes over a connected stream socket: checks its type and family,
    /// makes it non-blocking and registers it with the current thread's
    /// reactor. A descriptor that is not a socket, a socket that is not a
    /// stream (UDP, datagram Unix) or of another family is an
    /// `InvalidInput` error (the descriptor is closed with it).
    pub fn from_fd(fd: OwnedFd) -> io::Result<StreamSocket> {
        let raw = fd.as_raw_fd();
        let invalid = |msg: String| io::Error::new(io::ErrorKind::InvalidInput, msg);
        let ty: libc::c_int =
            sys::getsockopt(raw, libc::SOL_SOCKET, libc::SO_TYPE).map_err(|e| {
                if e.raw_os_error() == Some(libc::ENOTSOCK) {
                    invalid(format!(
                        "fd {raw} is not a socket (a stream socket is needed)"
                    ))
                } else {
                    e
                }
            })?;
        if ty != libc::SOCK_STREAM {
            return Err(invalid(format!("fd {raw} is not a stream socket")));
        }
        let domain: libc::c_int = sys::getsockopt(raw, libc::SOL_SOCKET, libc::SO_DOMAIN)?;
        let sock = match domain {
            libc::AF_UNIX | libc::AF_INET | libc::AF_INET6 => Socket::new(sys::from_std(fd)?)?,
            d => return Err(invalid(format!("fd {raw}: unsupported socket family {d}"))),
        };
        Ok(match domain {
            libc::AF_UNIX => StreamSocket::Unix(UnixStream::from_socket(sock)),
            _ => StreamSocket::Tcp(TcpStream::from_socket(sock)),
        })
    }
}
