//! Unix-domain sockets: [`UnixListener`], [`UnixStream`], [`UnixDatagram`],
//! on file-system paths or (Linux) in the abstract namespace. Addresses are
//! std's [`std::os::unix::net::SocketAddr`].

mod datagram;
mod listener;
mod stream;

pub use datagram::UnixDatagram;
pub use listener::{UnixIncoming, UnixListener};
pub use stream::UnixStream;
