//! The encrypted stream both handshakes yield.

use crate::error::Truncated;
use futures_io::{AsyncRead, AsyncWrite};
use futures_rustls::rustls;
use rustls_pki_types::CertificateDer;
use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Runs a handshake future under an optional timeout.
pub(crate) async fn handshake_with_timeout<F, T>(
    limit: Option<Duration>,
    handshake: F,
) -> io::Result<T>
where
    F: Future<Output = io::Result<T>>,
{
    match limit {
        None => handshake.await,
        Some(limit) => match runtime_reactor::time::timeout(limit, handshake).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("TLS handshake did not finish within {limit:?}"),
            )),
        },
    }
}

/// A TLS connection over a stream `S`, server or client side: `AsyncRead`
/// and `AsyncWrite` of plaintext. `close` sends `close_notify` and then
/// closes `S`. A read that meets the end of `S` without the peer's
/// `close_notify` fails with [`Truncated`] (kind `UnexpectedEof`) unless
/// dirty shutdowns were allowed, when it reads as an end of stream.
#[derive(Debug)]
pub struct TlsStream<S> {
    inner: futures_rustls::TlsStream<S>,
    allow_dirty_shutdown: bool,
}

impl<S> TlsStream<S> {
    pub(crate) fn new(inner: futures_rustls::TlsStream<S>, allow_dirty_shutdown: bool) -> Self {
        TlsStream {
            inner,
            allow_dirty_shutdown,
        }
    }

    /// The stream underneath.
    pub fn get_ref(&self) -> &S {
        self.inner.get_ref().0
    }

    /// The stream underneath, mutably (writing to it breaks the session).
    pub fn get_mut(&mut self) -> &mut S {
        self.inner.get_mut().0
    }

    /// The stream underneath, dropping the session without `close_notify`.
    pub fn into_inner(self) -> S {
        match self.inner {
            futures_rustls::TlsStream::Client(s) => s.into_inner().0,
            futures_rustls::TlsStream::Server(s) => s.into_inner().0,
        }
    }

    fn state(&self) -> &rustls::CommonState {
        self.inner.get_ref().1
    }

    /// Whether this end ran the server handshake.
    pub fn is_server(&self) -> bool {
        matches!(self.inner, futures_rustls::TlsStream::Server(_))
    }

    /// The ALPN protocol both ends agreed on, if any.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.state().alpn_protocol()
    }

    /// On the server side, the name the client asked for by SNI.
    pub fn sni_hostname(&self) -> Option<&str> {
        match &self.inner {
            futures_rustls::TlsStream::Server(s) => s.get_ref().1.server_name(),
            futures_rustls::TlsStream::Client(_) => None,
        }
    }

    /// The peer's certificate chain, leaf first (the client's only when the
    /// server asked for one).
    pub fn peer_certificates(&self) -> Option<&[CertificateDer<'static>]> {
        self.state().peer_certificates()
    }

    /// The protocol version in use.
    pub fn protocol_version(&self) -> Option<rustls::ProtocolVersion> {
        self.state().protocol_version()
    }

    /// The cipher suite in use.
    pub fn cipher_suite(&self) -> Option<rustls::SupportedCipherSuite> {
        self.state().negotiated_cipher_suite()
    }

    /// Whether dirty shutdowns read as an end of stream.
    pub fn allows_dirty_shutdown(&self) -> bool {
        self.allow_dirty_shutdown
    }

    /// Changes [`Self::allows_dirty_shutdown`].
    pub fn set_allow_dirty_shutdown(&mut self, allow: bool) {
        self.allow_dirty_shutdown = allow;
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            // rustls reports an end of the transport without close_notify
            // as UnexpectedEof with no payload of ours.
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                if this.allow_dirty_shutdown {
                    Poll::Ready(Ok(0))
                } else {
                    Poll::Ready(Err(Truncated.into_io()))
                }
            }
            other => other,
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}
