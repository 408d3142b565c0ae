//! The stream surface shared by `TcpStream`, `UnixStream` and their halves:
//! `futures_io::AsyncRead`/`AsyncWrite` (vectored too) and the inherent
//! async helpers, all forwarding to the one [`Socket`](crate::socket::Socket)
//! core. Each type names its socket field `sock` (a `Socket` or an
//! `Rc<Socket>`).

/// `AsyncRead` plus `read`/`read_exact`/`peek`.
macro_rules! impl_stream_read {
    ([$($g:tt)*] $ty:ty) => {
        impl<$($g)*> futures_io::AsyncRead for $ty {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.sock.poll_read(cx, buf)
            }

            fn poll_read_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.sock.poll_read_vectored(cx, bufs)
            }
        }

        impl<$($g)*> $ty {
            /// Reads what is available, up to `buf.len()` bytes; `Ok(0)` is
            /// end of stream (or an empty `buf`). Waits only if nothing is
            /// there yet.
            pub async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.sock.read(buf).await
            }

            /// Fills `buf` completely; end of stream first is an
            /// `UnexpectedEof` error.
            pub async fn read_exact(&mut self, buf: &mut [u8]) -> std::io::Result<()> {
                self.sock.read_exact(buf).await
            }

            /// Reads into several buffers with one `readv`.
            pub async fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                std::future::poll_fn(|cx| self.sock.poll_read_vectored(cx, bufs)).await
            }

            /// Reads without removing the data from the socket (`MSG_PEEK`);
            /// waits until something is there.
            pub async fn peek(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.sock.peek(buf).await
            }

            /// Polls for [`peek`](Self::peek).
            pub fn poll_peek(
                &self,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.sock.poll_peek(cx, buf)
            }
        }
    };
}

/// `AsyncWrite` plus `write`/`write_all`/`write_vectored`.
macro_rules! impl_stream_write {
    ([$($g:tt)*] $ty:ty) => {
        impl<$($g)*> futures_io::AsyncWrite for $ty {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.sock.poll_write(cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.sock.poll_write_vectored(cx, bufs)
            }

            /// Nothing is buffered in user space: always ready.
            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            /// Shuts the write half down (the peer reads end of stream).
            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(self.sock.close_write())
            }
        }

        impl<$($g)*> $ty {
            /// Writes some of `buf` (as much as the socket buffer takes),
            /// waiting only if it is full. After the write half was shut
            /// down this is a `BrokenPipe` error, never a signal.
            pub async fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.sock.write(buf).await
            }

            /// Writes all of `buf`.
            pub async fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
                self.sock.write_all(buf).await
            }

            /// Writes several buffers with one system call (`sendmsg`, which
            /// is `writev` without `SIGPIPE`); returns the bytes written.
            pub async fn write_vectored(
                &mut self,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::io::Result<usize> {
                self.sock.write_vectored(bufs).await
            }
        }
    };
}

/// `AsRawFd` and `AsFd` through the `sock` field path given.
macro_rules! impl_as_fd {
    ([$($g:tt)*] $ty:ty, $($field:ident).+) => {
        impl<$($g)*> std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                self.$($field).+.fd()
            }
        }

        impl<$($g)*> std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                self.$($field).+.as_fd()
            }
        }
    };
}

pub(crate) use impl_as_fd;
pub(crate) use impl_stream_read;
pub(crate) use impl_stream_write;
