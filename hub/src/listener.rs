//! TCP tuning for every accepted connection: no Nagle delay on the hub's writes, and no delayed ACKs
//! for the client's writes.
//!
//! Engine.IO sessions begin with a ping from the hub and a pong from the client. A client that keeps
//! Nagle's algorithm on (rust_socketio, for one) then holds its next small write, such as the first
//! event, until the pong is acknowledged, and Linux delays that ACK by up to 40 ms because the pong
//! gets no reply. Quick-ack mode makes the kernel ACK at once; Linux leaves the mode again on its
//! own, so it is re-armed after every read. Measured effect: README.md, "publish timing".

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// A [`TcpListener`] whose connections are [`TunedStream`]s.
pub struct TunedListener(pub TcpListener);

impl Listener for TunedListener {
    type Io = TunedStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, addr) = Listener::accept(&mut self.0).await;
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(%addr, "cannot set TCP_NODELAY: {e}");
        }
        (TunedStream(stream), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

/// The client's address, for handlers that extract `ConnectInfo<Peer>` (the HTTP API's rate limit).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub std::net::SocketAddr);

impl Connected<IncomingStream<'_, TunedListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, TunedListener>) -> Self {
        Peer(*stream.remote_addr())
    }
}

/// A TCP stream that acknowledges what it reads immediately.
pub struct TunedStream(TcpStream);

impl TunedStream {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn ack_now(&self) {
        // Failure only means the ACK may be delayed as usual.
        let _ = socket2::SockRef::from(&self.0).set_tcp_quickack(true);
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    fn ack_now(&self) {}
}

impl AsyncRead for TunedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.0).poll_read(cx, buf);
        if matches!(read, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.ack_now();
        }
        read
    }
}

impl AsyncWrite for TunedStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
