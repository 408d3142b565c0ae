//! TCP: [`TcpListener`] (with the accept loop) and [`TcpStream`].

mod connecting;
mod listener;
mod stream;

pub use connecting::TcpConnecting;
pub use listener::{Incoming, TcpListener};
pub use stream::TcpStream;
