//! # runtime-tls
//!
//! TLS streams for runtime (libevent's `bufferevent_openssl` job), built on
//! rustls through `futures-rustls`: no cryptography or record layer is
//! written here. The crypto provider is rustls' `ring` provider (it builds
//! from crates.io with gcc alone; `aws-lc-rs` needs cmake).
//!
//! - [`TlsAcceptor`] / [`TlsConnector`] run the server and client handshakes
//!   over any `AsyncRead + AsyncWrite` (TCP, Unix, `BufferedStream`, pairs)
//!   and yield a [`TlsStream`], itself `AsyncRead + AsyncWrite`, so a
//!   `BufferedStream` sits on top of it as on a socket.
//! - [`ServerConfig`] / [`ClientConfig`] build the rustls configurations:
//!   PEM certificate chains and keys ([`pem`]), certificates chosen by SNI,
//!   ALPN, verification against a CA file or the bundled web roots, client
//!   certificates.
//! - A handshake timeout on both sides; `close` sends `close_notify`; a peer
//!   that closes without one is reported as [`Truncated`] unless the stream
//!   allows a "dirty shutdown" (libevent's `allow_dirty_shutdown`).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use runtime::net::TcpStream;
//! use runtime::tls::{ClientConfig, TlsConnector};
//! let config = ClientConfig::builder().ca_file("ca.pem")?.alpn(&[b"http/1.1"]).build()?;
//! let connector = TlsConnector::new(config);
//! let tcp = TcpStream::connect("127.0.0.1:8443").await?;
//! let tls = connector.connect("example.test", tcp).await?;
//! # let _ = tls; Ok(()) }
//! ```

#![warn(missing_docs)]

mod acceptor;
mod client_config;
mod connector;
mod error;
pub mod pem;
mod server_config;
mod stream;

pub use acceptor::TlsAcceptor;
pub use client_config::{ClientConfig, ClientConfigBuilder};
pub use connector::TlsConnector;
pub use error::{TlsError, Truncated};
pub use server_config::{ServerConfig, ServerConfigBuilder};
pub use stream::TlsStream;

/// The rustls crate this one is built on, for settings not wrapped here.
pub use futures_rustls::rustls;

use std::sync::Arc;

/// The crypto provider every configuration here uses: rustls' `ring`.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
