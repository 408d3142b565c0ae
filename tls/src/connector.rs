//! The client handshake.

use crate::client_config::ClientConfig;
use crate::error::TlsError;
use crate::stream::{handshake_with_timeout, TlsStream};
use futures_io::{AsyncRead, AsyncWrite};
use rustls_pki_types::ServerName;
use std::io;
use std::time::Duration;

/// Runs client handshakes with one [`ClientConfig`]; cheap to clone.
#[derive(Clone)]
pub struct TlsConnector {
    inner: futures_rustls::TlsConnector,
    config: ClientConfig,
    handshake_timeout: Option<Duration>,
    allow_dirty_shutdown: bool,
}

impl std::fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConnector")
            .field("handshake_timeout", &self.handshake_timeout)
            .field("allow_dirty_shutdown", &self.allow_dirty_shutdown)
            .finish_non_exhaustive()
    }
}

impl TlsConnector {
    /// A connector with a 10 s handshake timeout and truncation reported.
    pub fn new(config: ClientConfig) -> TlsConnector {
        TlsConnector {
            inner: futures_rustls::TlsConnector::from(config.rustls().clone()),
            config,
            handshake_timeout: Some(Duration::from_secs(10)),
            allow_dirty_shutdown: false,
        }
    }

    /// The longest a handshake may take (`None`: unbounded); a server that
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
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Runs the client handshake over `stream`, sending `server_name` by SNI
    /// (unless it is an IP address) and checking the server's certificate
    /// against it. A certificate that does not verify (unknown issuer,
    /// expired, wrong name) is an error of kind `InvalidData`.
    pub async fn connect<S>(&self, server_name: &str, stream: S) -> io::Result<TlsStream<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let name = ServerName::try_from(server_name.to_string())
            .map_err(|_| TlsError::InvalidName(server_name.to_string()))?;
        let stream =
            handshake_with_timeout(self.handshake_timeout, self.inner.connect(name, stream))
                .await?;
        Ok(TlsStream::new(stream.into(), self.allow_dirty_shutdown))
    }
}
