//! Thin wrappers over the libc socket calls and the `sockaddr` conversions.
//! Every socket made here is non-blocking and close-on-exec from birth
//! (`SOCK_NONBLOCK | SOCK_CLOEXEC`, `accept4`), so no `fcntl` follows.

use std::ffi::OsStr;
use std::io::{self, IoSlice, IoSliceMut};
use std::mem::{size_of, zeroed, MaybeUninit};
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::SocketAddr as UnixSocketAddr;
use std::path::Path;

/// Linux's `UIO_MAXIOV`: the most buffers one `readv`/`sendmsg` takes.
const MAX_IOV: usize = 1024;

/// Turns a `-1` return into the thread's `errno`.
pub(crate) fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Turns a `-1` byte count into the thread's `errno`.
fn cvt_len(r: libc::ssize_t) -> io::Result<usize> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

/// Wraps a descriptor the kernel just returned.
fn owned(fd: libc::c_int) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful socket/accept call, so
    // it is open and owned by no one else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// A new non-blocking, close-on-exec socket.
pub(crate) fn socket(domain: libc::c_int, ty: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: plain system call with integer arguments.
    let fd =
        cvt(unsafe { libc::socket(domain, ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0) })?;
    Ok(owned(fd))
}

/// A connected pair of non-blocking, close-on-exec Unix sockets.
pub(crate) fn socketpair(ty: libc::c_int) -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` is a live two-element array the call fills.
    cvt(unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    })?;
    Ok((owned(fds[0]), owned(fds[1])))
}

/// Switches `O_NONBLOCK` with one `ioctl(FIONBIO)`.
pub(crate) fn set_nonblocking(fd: RawFd, on: bool) -> io::Result<()> {
    let mut v: libc::c_int = on as libc::c_int;
    // SAFETY: FIONBIO reads one int from the live local `v`.
    cvt(unsafe { libc::ioctl(fd, libc::FIONBIO, &mut v) })?;
    Ok(())
}

/// A socket address in the kernel's layout: `sockaddr_storage` plus length.
#[derive(Clone)]
pub(crate) struct RawAddr {
    storage: libc::sockaddr_storage,
    len: libc::socklen_t,
}

impl RawAddr {
    fn zeroed() -> RawAddr {
        RawAddr {
            // SAFETY: sockaddr_storage is plain data; all-zero is valid.
            storage: unsafe { zeroed() },
            len: size_of::<libc::sockaddr_storage>() as libc::socklen_t,
        }
    }

    pub(crate) fn as_ptr(&self) -> *const libc::sockaddr {
        (&self.storage as *const libc::sockaddr_storage).cast()
    }

    fn as_mut_ptr(&mut self) -> *mut libc::sockaddr {
        (&mut self.storage as *mut libc::sockaddr_storage).cast()
    }

    pub(crate) fn len(&self) -> libc::socklen_t {
        self.len
    }

    fn family(&self) -> libc::c_int {
        self.storage.ss_family as libc::c_int
    }

    /// The address family to create a socket for `addr` with.
    pub(crate) fn domain_of(addr: &SocketAddr) -> libc::c_int {
        match addr {
            SocketAddr::V4(_) => libc::AF_INET,
            SocketAddr::V6(_) => libc::AF_INET6,
        }
    }

    /// An IPv4 or IPv6 address.
    pub(crate) fn from_inet(addr: &SocketAddr) -> RawAddr {
        let mut raw = RawAddr::zeroed();
        match addr {
            SocketAddr::V4(a) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: a.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(a.ip().octets()),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: sockaddr_storage is larger than and aligned for
                // every sockaddr type, sockaddr_in included.
                unsafe { raw.as_mut_ptr().cast::<libc::sockaddr_in>().write(sin) };
                raw.len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
            }
            SocketAddr::V6(a) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: a.port().to_be(),
                    sin6_flowinfo: a.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: a.ip().octets(),
                    },
                    sin6_scope_id: a.scope_id(),
                };
                // SAFETY: as above, for sockaddr_in6.
                unsafe { raw.as_mut_ptr().cast::<libc::sockaddr_in6>().write(sin6) };
                raw.len = size_of::<libc::sockaddr_in6>() as libc::socklen_t;
            }
        }
        raw
    }

    /// Reads back an IPv4 or IPv6 address.
    pub(crate) fn to_inet(&self) -> io::Result<SocketAddr> {
        match self.family() {
            libc::AF_INET if self.len as usize >= size_of::<libc::sockaddr_in>() => {
                // SAFETY: the family says the storage holds a sockaddr_in,
                // and the storage is aligned for it.
                let sin = unsafe { &*self.as_ptr().cast::<libc::sockaddr_in>() };
                let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
                Ok(SocketAddr::V4(SocketAddrV4::new(
                    ip,
                    u16::from_be(sin.sin_port),
                )))
            }
            libc::AF_INET6 if self.len as usize >= size_of::<libc::sockaddr_in6>() => {
                // SAFETY: as above, for sockaddr_in6.
                let sin6 = unsafe { &*self.as_ptr().cast::<libc::sockaddr_in6>() };
                Ok(SocketAddr::V6(SocketAddrV6::new(
                    Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                    u16::from_be(sin6.sin6_port),
                    sin6.sin6_flowinfo,
                    sin6.sin6_scope_id,
                )))
            }
            f => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not an IP socket address (family {f})"),
            )),
        }
    }

    fn sun_path_offset() -> usize {
        std::mem::offset_of!(libc::sockaddr_un, sun_path)
    }

    /// A Unix address from its `sun_path` bytes (a leading NUL makes it
    /// abstract; empty means unnamed).
    fn unix_from_bytes(bytes: &[u8], abstract_name: bool) -> io::Result<RawAddr> {
        let mut raw = RawAddr::zeroed();
        // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_un.
        let sun = unsafe { &mut *raw.as_mut_ptr().cast::<libc::sockaddr_un>() };
        sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
        let start = abstract_name as usize;
        // A path needs room for its terminating NUL; an abstract name does not.
        let room = sun.sun_path.len() - start - (!abstract_name) as usize;
        if bytes.len() > room {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "Unix socket name is {} bytes, at most {room} fit",
                    bytes.len()
                ),
            ));
        }
        if !abstract_name && bytes.contains(&0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "Unix socket path contains a NUL byte",
            ));
        }
        for (dst, src) in sun.sun_path[start..].iter_mut().zip(bytes) {
            *dst = *src as libc::c_char;
        }
        let mut len = Self::sun_path_offset() + start + bytes.len();
        if !abstract_name && !bytes.is_empty() {
            len += 1; // the NUL terminator, as the kernel reports it back
        }
        raw.len = len as libc::socklen_t;
        Ok(raw)
    }

    /// A Unix address for a file-system path.
    pub(crate) fn from_path(path: &Path) -> io::Result<RawAddr> {
        let bytes = path.as_os_str().as_bytes();
        if bytes.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "empty Unix socket path",
            ));
        }
        RawAddr::unix_from_bytes(bytes, false)
    }

    /// A Unix address in Linux's abstract namespace.
    pub(crate) fn from_abstract(name: &[u8]) -> io::Result<RawAddr> {
        RawAddr::unix_from_bytes(name, true)
    }

    /// A Unix address from std's representation.
    pub(crate) fn from_unix(addr: &UnixSocketAddr) -> io::Result<RawAddr> {
        if let Some(p) = addr.as_pathname() {
            RawAddr::from_path(p)
        } else if let Some(name) = addr.as_abstract_name() {
            RawAddr::from_abstract(name)
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot send to an unnamed Unix socket address",
            ))
        }
    }

    /// Reads back a Unix address as std's `SocketAddr`.
    pub(crate) fn to_unix(&self) -> io::Result<UnixSocketAddr> {
        if self.family() != libc::AF_UNIX && self.len as usize > size_of::<libc::sa_family_t>() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not a Unix socket address (family {})", self.family()),
            ));
        }
        let off = Self::sun_path_offset();
        let len = (self.len as usize).min(size_of::<libc::sockaddr_un>());
        if len <= off {
            // Unnamed: std makes that from an empty path.
            return UnixSocketAddr::from_pathname("");
        }
        // SAFETY: the family is AF_UNIX (or the address is unnamed, handled
        // above), and the storage is aligned for sockaddr_un.
        let sun = unsafe { &*self.as_ptr().cast::<libc::sockaddr_un>() };
        let path: Vec<u8> = sun.sun_path[..len - off].iter().map(|&c| c as u8).collect();
        if path[0] == 0 {
            UnixSocketAddr::from_abstract_name(&path[1..])
        } else {
            let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
            UnixSocketAddr::from_pathname(Path::new(OsStr::from_bytes(&path[..end])))
        }
    }
}

pub(crate) fn bind(fd: RawFd, addr: &RawAddr) -> io::Result<()> {
    // SAFETY: `addr` points to `addr.len()` valid bytes of a sockaddr.
    cvt(unsafe { libc::bind(fd, addr.as_ptr(), addr.len()) })?;
    Ok(())
}

pub(crate) fn listen(fd: RawFd, backlog: i32) -> io::Result<()> {
    // SAFETY: plain system call with integer arguments.
    cvt(unsafe { libc::listen(fd, backlog) })?;
    Ok(())
}

/// Starts a connect; a non-blocking TCP socket answers `EINPROGRESS`.
pub(crate) fn connect(fd: RawFd, addr: &RawAddr) -> io::Result<()> {
    loop {
        // SAFETY: `addr` points to `addr.len()` valid bytes of a sockaddr.
        match cvt(unsafe { libc::connect(fd, addr.as_ptr(), addr.len()) }) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r.map(drop),
        }
    }
}

/// One `accept4`, the new descriptor non-blocking and close-on-exec.
pub(crate) fn accept(fd: RawFd) -> io::Result<(OwnedFd, RawAddr)> {
    let mut addr = RawAddr::zeroed();
    // SAFETY: the kernel writes at most `addr.len` bytes into the storage
    // and updates `addr.len`.
    let new = cvt(unsafe {
        libc::accept4(
            fd,
            addr.as_mut_ptr(),
            &mut addr.len,
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    })?;
    Ok((owned(new), addr))
}

pub(crate) fn local_addr(fd: RawFd) -> io::Result<RawAddr> {
    let mut addr = RawAddr::zeroed();
    // SAFETY: the kernel writes at most `addr.len` bytes and updates it.
    cvt(unsafe { libc::getsockname(fd, addr.as_mut_ptr(), &mut addr.len) })?;
    Ok(addr)
}

pub(crate) fn peer_addr(fd: RawFd) -> io::Result<RawAddr> {
    let mut addr = RawAddr::zeroed();
    // SAFETY: the kernel writes at most `addr.len` bytes and updates it.
    cvt(unsafe { libc::getpeername(fd, addr.as_mut_ptr(), &mut addr.len) })?;
    Ok(addr)
}

pub(crate) fn shutdown(fd: RawFd, how: Shutdown) -> io::Result<()> {
    let how = match how {
        Shutdown::Read => libc::SHUT_RD,
        Shutdown::Write => libc::SHUT_WR,
        Shutdown::Both => libc::SHUT_RDWR,
    };
    // SAFETY: plain system call with integer arguments.
    cvt(unsafe { libc::shutdown(fd, how) })?;
    Ok(())
}

pub(crate) fn recv(fd: RawFd, buf: &mut [u8], flags: libc::c_int) -> io::Result<usize> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`.
    cvt_len(unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), flags) })
}

/// Sends without raising `SIGPIPE`: a closed peer is an `EPIPE` error.
pub(crate) fn send(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: the kernel reads at most `buf.len()` bytes from `buf`.
    cvt_len(unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) })
}

/// `readv` over at most [`MAX_IOV`] buffers; returns the byte count and
/// the total capacity offered.
pub(crate) fn readv(fd: RawFd, bufs: &mut [IoSliceMut<'_>]) -> io::Result<(usize, usize)> {
    let count = bufs.len().min(MAX_IOV);
    let bufs = &mut bufs[..count];
    let cap = bufs.iter().map(|b| b.len()).sum();
    // SAFETY: IoSliceMut is guaranteed ABI-compatible with iovec on Unix;
    // every buffer is live and writable for its length.
    let n = cvt_len(unsafe {
        libc::readv(
            fd,
            bufs.as_ptr().cast::<libc::iovec>(),
            bufs.len() as libc::c_int,
        )
    })?;
    Ok((n, cap))
}

/// A gathering write: `sendmsg` with the iovecs, which is `writev` plus
/// `MSG_NOSIGNAL` (plain `writev` would raise `SIGPIPE` on a closed
/// socket). Returns the byte count and the total length offered.
pub(crate) fn writev(fd: RawFd, bufs: &[IoSlice<'_>]) -> io::Result<(usize, usize)> {
    let bufs = &bufs[..bufs.len().min(MAX_IOV)];
    let total = bufs.iter().map(|b| b.len()).sum();
    // SAFETY: msghdr is plain data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { zeroed() };
    // The kernel only reads through msg_iov for sendmsg.
    msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = bufs.len() as _;
    // SAFETY: IoSlice is guaranteed ABI-compatible with iovec on Unix; every
    // buffer is live for its length, and the header names no address or
    // control data.
    let n = cvt_len(unsafe { libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL) })?;
    Ok((n, total))
}

pub(crate) fn recv_from(
    fd: RawFd,
    buf: &mut [u8],
    flags: libc::c_int,
) -> io::Result<(usize, RawAddr)> {
    let mut addr = RawAddr::zeroed();
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf` and at
    // most `addr.len` bytes of address, updating `addr.len`.
    let n = cvt_len(unsafe {
        libc::recvfrom(
            fd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            flags,
            addr.as_mut_ptr(),
            &mut addr.len,
        )
    })?;
    Ok((n, addr))
}

/// Most datagrams one [`recv_mmsg`] call asks for.
pub(crate) const MAX_BATCH: usize = 64;

/// One datagram's outcome in a [`recv_mmsg`] call: its length, whether the
/// kernel cut it to fit (`MSG_TRUNC`), and its source.
pub(crate) struct Received {
    pub(crate) len: usize,
    pub(crate) truncated: bool,
    pub(crate) source: RawAddr,
}

/// `recvmmsg`: up to `min(buf.len() / slot, MAX_BATCH)` datagrams in one
/// system call, the `i`th into `buf[i * slot..(i + 1) * slot]`; `out`
/// receives one entry per datagram (cleared first). Returns how many
/// arrived and how many were asked for: fewer means the receive queue was
/// empty when the call returned.
pub(crate) fn recv_mmsg(
    fd: RawFd,
    buf: &mut [u8],
    slot: usize,
    out: &mut Vec<Received>,
) -> io::Result<(usize, usize)> {
    let count = buf.len().checked_div(slot).unwrap_or(0).min(MAX_BATCH);
    out.clear();
    if count == 0 {
        return Ok((0, 0));
    }
    // Only the first `count` entries are initialised (and only those are
    // handed to the kernel): no need to clear the whole arrays each call.
    let mut iov = [const { MaybeUninit::<libc::iovec>::uninit() }; MAX_BATCH];
    let mut hdrs = [const { MaybeUninit::<libc::mmsghdr>::uninit() }; MAX_BATCH];
    let mut addrs = [const { MaybeUninit::<libc::sockaddr_storage>::uninit() }; MAX_BATCH];
    for (i, chunk) in buf.chunks_exact_mut(slot).take(count).enumerate() {
        let v = iov[i].write(libc::iovec {
            iov_base: chunk.as_mut_ptr().cast(),
            iov_len: chunk.len(),
        });
        // SAFETY: mmsghdr is plain data; all-zero is a valid value.
        let mut h: libc::mmsghdr = unsafe { zeroed() };
        h.msg_hdr.msg_iov = v;
        h.msg_hdr.msg_iovlen = 1;
        h.msg_hdr.msg_name = addrs[i].as_mut_ptr().cast();
        h.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        hdrs[i].write(h);
    }
    let n = loop {
        // SAFETY: the first `count` headers are initialised; each points at
        // its own live iovec describing a distinct writable `slot`-byte
        // chunk of `buf`, and at a live sockaddr_storage whose size it
        // gives. The kernel writes only within those and into the headers
        // (`msg_len`, `msg_namelen`, `msg_flags`). No timeout pointer.
        let r = unsafe {
            libc::recvmmsg(
                fd,
                hdrs.as_mut_ptr().cast(),
                count as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        match cvt(r) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => break r? as usize,
        }
    };
    for i in 0..n.min(count) {
        // SAFETY: headers below `count` were initialised above.
        let h = unsafe { hdrs[i].assume_init_ref() };
        let mut source = RawAddr::zeroed();
        let len = (h.msg_hdr.msg_namelen as usize).min(size_of::<libc::sockaddr_storage>());
        // SAFETY: the kernel wrote `msg_namelen` bytes of address into
        // `addrs[i]` (clamped to its size); `source.storage` is a separate
        // live sockaddr_storage of that size.
        unsafe {
            std::ptr::copy_nonoverlapping(
                addrs[i].as_ptr().cast::<u8>(),
                source.as_mut_ptr().cast::<u8>(),
                len,
            );
        }
        source.len = len as libc::socklen_t;
        out.push(Received {
            len: h.msg_len as usize,
            truncated: h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0,
            source,
        });
    }
    Ok((n, count))
}

/// `sendmmsg`: the first `min(bufs.len(), MAX_BATCH)` buffers, one
/// datagram each, in one system call; to the connected peer, or with
/// `addrs` (as long as `bufs`) each to its own address. Returns how many
/// were sent (the kernel stops at the first that cannot be).
pub(crate) fn send_mmsg(
    fd: RawFd,
    bufs: &[IoSlice<'_>],
    addrs: Option<&[RawAddr]>,
) -> io::Result<usize> {
    let mut count = bufs.len().min(MAX_BATCH);
    if let Some(a) = addrs {
        count = count.min(a.len());
    }
    if count == 0 {
        return Ok(0);
    }
    let mut hdrs = [const { MaybeUninit::<libc::mmsghdr>::uninit() }; MAX_BATCH];
    for (i, (h, b)) in hdrs.iter_mut().zip(&bufs[..count]).enumerate() {
        // SAFETY: mmsghdr is plain data; all-zero is a valid value.
        let mut m: libc::mmsghdr = unsafe { zeroed() };
        // IoSlice is guaranteed ABI-compatible with iovec on Unix; the
        // kernel only reads through msg_iov and msg_name for sendmmsg.
        m.msg_hdr.msg_iov = (b as *const IoSlice<'_>).cast_mut().cast();
        m.msg_hdr.msg_iovlen = 1;
        if let Some(a) = addrs {
            m.msg_hdr.msg_name = a[i].as_ptr().cast_mut().cast();
            m.msg_hdr.msg_namelen = a[i].len();
        }
        h.write(m);
    }
    loop {
        // SAFETY: the first `count` headers are initialised, each naming one
        // live buffer of `bufs` for its length and either no address or a
        // live RawAddr of `addrs` for its length, no control data; the
        // kernel reads those and writes only `msg_len`.
        let r = unsafe {
            libc::sendmmsg(
                fd,
                hdrs.as_mut_ptr().cast(),
                count as libc::c_uint,
                libc::MSG_NOSIGNAL,
            )
        };
        match cvt(r) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r.map(|n| n as usize),
        }
    }
}

pub(crate) fn send_to(fd: RawFd, buf: &[u8], addr: &RawAddr) -> io::Result<usize> {
    // SAFETY: the kernel reads `buf.len()` bytes from `buf` and `addr.len()`
    // bytes of address.
    cvt_len(unsafe {
        libc::sendto(
            fd,
            buf.as_ptr().cast(),
            buf.len(),
            libc::MSG_NOSIGNAL,
            addr.as_ptr(),
            addr.len(),
        )
    })
}

/// Sets a socket option of plain-data type `T`.
pub(crate) fn setsockopt<T: Copy>(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: T,
) -> io::Result<()> {
    // SAFETY: the kernel reads `size_of::<T>()` bytes from the live `value`.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// Reads a socket option of plain-data type `T` (all-zero must be a valid `T`).
pub(crate) fn getsockopt<T: Copy>(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
) -> io::Result<T> {
    let mut value = MaybeUninit::<T>::zeroed();
    let mut len = size_of::<T>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `value`.
    cvt(unsafe { libc::getsockopt(fd, level, name, value.as_mut_ptr().cast(), &mut len) })?;
    // SAFETY: the option types used here (ints, linger) are plain data for
    // which all-zero, partly overwritten by the kernel, is a valid value.
    Ok(unsafe { value.assume_init() })
}

pub(crate) fn set_bool(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    on: bool,
) -> io::Result<()> {
    setsockopt(fd, level, name, on as libc::c_int)
}

pub(crate) fn get_bool(fd: RawFd, level: libc::c_int, name: libc::c_int) -> io::Result<bool> {
    Ok(getsockopt::<libc::c_int>(fd, level, name)? != 0)
}

/// `SO_ERROR`: the pending error, cleared by reading it.
pub(crate) fn take_error(fd: RawFd) -> io::Result<Option<io::Error>> {
    let e: libc::c_int = getsockopt(fd, libc::SOL_SOCKET, libc::SO_ERROR)?;
    Ok((e != 0).then(|| io::Error::from_raw_os_error(e)))
}

/// `IP_TTL`.
pub(crate) fn set_ttl(fd: RawFd, ttl: u32) -> io::Result<()> {
    setsockopt(fd, libc::IPPROTO_IP, libc::IP_TTL, ttl as libc::c_int)
}

/// `IP_TTL`.
pub(crate) fn ttl(fd: RawFd) -> io::Result<u32> {
    Ok(getsockopt::<libc::c_int>(fd, libc::IPPROTO_IP, libc::IP_TTL)? as u32)
}

/// Takes a std socket's descriptor and makes it non-blocking.
pub(crate) fn from_std<S: Into<OwnedFd>>(s: S) -> io::Result<OwnedFd> {
    let fd: OwnedFd = s.into();
    set_nonblocking(fd.as_raw_fd(), true)?;
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inet_round_trip() {
        for a in [
            "127.0.0.1:80",
            "[::1]:443",
            "[fe80::1%3]:9",
            "[::ffff:127.0.0.1]:7",
        ] {
            let a: SocketAddr = a.parse().unwrap();
            assert_eq!(RawAddr::from_inet(&a).to_inet().unwrap(), a);
        }
    }

    #[test]
    fn unix_round_trip() {
        let p = RawAddr::from_path(Path::new("/tmp/x.sock")).unwrap();
        assert_eq!(
            p.to_unix().unwrap().as_pathname(),
            Some(Path::new("/tmp/x.sock"))
        );
        let a = RawAddr::from_abstract(b"name").unwrap();
        assert_eq!(a.to_unix().unwrap().as_abstract_name(), Some(&b"name"[..]));
        let mut unnamed = RawAddr::zeroed();
        unnamed.len = size_of::<libc::sa_family_t>() as libc::socklen_t;
        assert!(unnamed.to_unix().unwrap().is_unnamed());
        assert!(RawAddr::from_path(Path::new("")).is_err());
        assert!(RawAddr::from_path(Path::new(&"x".repeat(200))).is_err());
        assert!(RawAddr::from_path(Path::new("a\0b")).is_err());
        let back = RawAddr::from_unix(&a.to_unix().unwrap()).unwrap();
        assert_eq!(
            back.to_unix().unwrap().as_abstract_name(),
            Some(&b"name"[..])
        );
    }
}
