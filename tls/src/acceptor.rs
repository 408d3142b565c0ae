//! The server handshake.

use crate::server_config::ServerConfig;
use crate::stream::{handshake_with_timeout, TlsStream};
use futures_io::{AsyncRead, AsyncWrite};
use std::io;
use std::time::Duration;

/// Runs server handshakes with one [`ServerConfig`]; cheap to clone.
#[derive(Clone)]
pub struct TlsAcceptor {
    inner: futures_rustls::TlsAcceptor,
    config: ServerConfig,
    handshake_timeout: Option<Duration>,
    allow_dirty_shutdown: bool,
}

impl std::fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsAcceptor")
            .field("handshake_timeout", &self.handshake_timeout)
            .field("allow_dirty_shutdown", &self.allow_dirty_shutdown)
            .finish_non_exhaustive()
    }
}

impl TlsAcceptor {
    /// An acceptor with a 10 s handshake timeout and truncation reported.
    pub fn new(config: ServerConfig) -> TlsAcceptor {
        TlsAcceptor {
            inner: futures_rustls::TlsAcceptor::from(config.rustls().clone()),
            config,
            handshake_timeout: Some(Duration::from_secs(10)),
            allow_dirty_shutdown: false,
        }
    }

    /// The longest a handshake may take (`None`: unbounded); a peer that
    /// stalls longer gets an error of kind `TimedOut`.
    pub fn handshake_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Whether streams treat a peer's close without `close_notify` as a
    /// plain end of stream (libevent's dirty shutdown) instead of reporting
    /// [`crate::Truncated`]. Off by default.
    pub fn allow_dirty_shutdown(mut self, allow: bool) -> Self {
        self.allow_dirty_shutdown = allow;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Runs the server handshake over `stream`. A client that sends
    /// something other than a ClientHello gets an alert and an error here.
    pub async fn accept<S>(&self, stream: S) -> io::Result<TlsStream<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let stream =
            handshake_with_timeout(self.handshake_timeout, self.inner.accept(stream)).await?;
        Ok(TlsStream::new(stream.into(), self.allow_dirty_shutdown))
    }
}
