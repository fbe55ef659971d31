//! TCP tuning for every accepted connection: no Nagle delay on the hub's writes, and no delayed ACKs
//! for the client's writes.
//!
//! Engine.IO sessions begin with a ping from the hub and a pong from the client (on polling; a new
//! websocket session gets its first ping a ping interval later, see below). A client that keeps
//! Nagle's algorithm on (rust_socketio, for one) then holds its next small write, such as the first
//! event, until the pong is acknowledged, and Linux delays that ACK by up to 40 ms because the pong
//! gets no reply. Quick-ack mode makes the kernel ACK at once; Linux leaves the mode again on its
//! own, so it is re-armed after a read, but not after every read: re-arming is a system call, and it
//! sends a bare ACK that would otherwise ride on the reply. It is re-armed for the first reads of a
//! connection (the handshake, the upgrade, the first events) and for any read that follows a quiet
//! spell (a pong, the first event after a pause); reads in a busy stream get their ACKs with the
//! replies. Measured effect: README.md, "publish timing", and BENCHMARKS.md (echo).
//!
//! The first frames of a websocket go through [`FirstFrames`], for clients written against Node's
//! engine.io such as Elephant.io (see that module): from the `101` response the hub writes until they
//! are settled. Before and after, a connection is a plain pass-through.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use super::first_frames::{FirstFrames, SWITCHING_PROTOCOLS};

/// A [`TcpListener`] whose connections are [`TunedStream`]s.
pub struct TunedListener(pub TcpListener);

impl TunedListener {
    /// The next connection, tuned.
    pub async fn accept(&self) -> io::Result<(TunedStream, SocketAddr)> {
        let (stream, addr) = self.0.accept().await?;
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(%addr, "cannot set TCP_NODELAY: {e}");
        }
        Ok((TunedStream::new(stream), addr))
    }
}

/// The client's address, for handlers that extract `ConnectInfo<Peer>` (the HTTP API's rate limit).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// Reads at the start of a connection after which quick-ack is always re-armed.
const HANDSHAKE_READS: u32 = 8;

/// After the handshake, quick-ack is re-armed for a read that comes at least this long after the
/// previous one.
const QUIET: Duration = Duration::from_millis(5);

/// When to re-arm quick-ack: after each of the first reads, then after reads that end a quiet spell.
#[derive(Debug)]
struct QuickAck {
    reads: u32,
    last_read: Instant,
}

impl QuickAck {
    fn new(now: Instant) -> Self {
        Self { reads: 0, last_read: now }
    }

    /// Records a read that returned data at `now`; true when quick-ack should be re-armed.
    fn on_read(&mut self, now: Instant) -> bool {
        let quiet = now.saturating_duration_since(self.last_read) >= QUIET;
        self.last_read = now;
        if self.reads < HANDSHAKE_READS {
            self.reads += 1;
            return true;
        }
        quiet
    }
}

/// Bytes a websocket may send while the hub cannot write to it. The websocket library answers every
/// PING frame with a PONG and keeps whatever it cannot write: a client that sends PINGs and never reads
/// grew a hub by 230 MiB/s. Past this budget the hub stops reading from that client until its writes
/// go out again, so what it holds for the client stays bounded; a client that never reads again is
/// dropped by the Engine.IO heartbeat.
const READ_WHILE_WRITES_WAIT: usize = 256 * 1024;

/// A TCP stream that acknowledges what it reads immediately unless a reply will carry the ACK soon, and
/// stops reading from a websocket client that does not read what the hub writes.
pub struct TunedStream {
    stream: TcpStream,
    quick_ack: QuickAck,
    websocket: Websocket,
    /// Bytes read since a write had to wait (`None`: writes go out).
    read_while_blocked: Option<usize>,
    /// The reader held back while writes wait, woken when one goes out.
    parked_reader: Option<Waker>,
}

/// Where a connection stands with the websocket protocol.
enum Websocket {
    /// HTTP: each write is checked for the start of a `101 Switching Protocols` response.
    NotYet,
    /// Upgraded: the first frames go through [`FirstFrames`].
    Opening(Box<FirstFrames>),
    /// Past the first frames: bytes pass through untouched.
    Open,
}

impl TunedStream {
    fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            quick_ack: QuickAck::new(Instant::now()),
            websocket: Websocket::NotYet,
            read_while_blocked: None,
            parked_reader: None,
        }
    }

    /// Notes how a write on the open websocket went: a write that waits starts the read budget, one
    /// that goes through ends it and wakes a reader held back.
    fn wrote<T>(&mut self, written: Poll<T>) -> Poll<T> {
        if !matches!(self.websocket, Websocket::Open) {
            return written;
        }
        match written {
            Poll::Pending => {
                self.read_while_blocked.get_or_insert(0);
            }
            Poll::Ready(_) => {
                self.read_while_blocked = None;
                if let Some(reader) = self.parked_reader.take() {
                    reader.wake();
                }
            }
        }
        written
    }

    /// Hands the connection to [`FirstFrames`] if `buf` begins the response that switches it to websocket.
    fn notice_upgrade(&mut self, buf: &[u8]) {
        if matches!(self.websocket, Websocket::NotYet) && buf.starts_with(SWITCHING_PROTOCOLS) {
            self.websocket = Websocket::Opening(Box::default());
        }
    }

    /// Runs `op` on [`FirstFrames`] while the first frames are not settled, or returns `None`.
    fn opening<T>(&mut self, op: impl FnOnce(&mut FirstFrames, &mut TcpStream) -> T) -> Option<T> {
        let Websocket::Opening(first) = &mut self.websocket else { return None };
        let out = op(first, &mut self.stream);
        if first.finished() {
            self.websocket = Websocket::Open;
        }
        Some(out)
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn ack_now(&self) {
        // Failure only means the ACK may be delayed as usual.
        let _ = socket2::SockRef::from(&self.stream).set_tcp_quickack(true);
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
        if self.read_while_blocked.is_some_and(|read| read >= READ_WHILE_WRITES_WAIT) {
            self.parked_reader = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let before = buf.filled().len();
        let read = match self.opening(|first, stream| first.poll_read(stream, cx, buf)) {
            Some(read) => read,
            None => Pin::new(&mut self.stream).poll_read(cx, buf),
        };
        let got = buf.filled().len() - before;
        if let Some(read) = &mut self.read_while_blocked {
            *read += got;
        }
        let got_data = matches!(read, Poll::Ready(Ok(()))) && got > 0;
        if got_data && self.quick_ack.on_read(Instant::now()) {
            self.ack_now();
        }
        read
    }
}

impl AsyncWrite for TunedStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.notice_upgrade(buf);
        match self.opening(|first, stream| first.poll_write(stream, cx, buf)) {
            Some(written) => written,
            None => {
                let written = Pin::new(&mut self.stream).poll_write(cx, buf);
                self.wrote(written)
            }
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if matches!(self.websocket, Websocket::Open) {
            let written = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
            return self.wrote(written);
        }
        let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| &**b);
        self.notice_upgrade(first);
        if matches!(self.websocket, Websocket::Opening(_)) {
            // One buffer at a time while the first frames are looked at.
            return self.poll_write(cx, first);
        }
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.opening(|first, stream| first.poll_flush(stream, cx)) {
            Some(flushed) => flushed,
            // A TCP stream's flush is always done at once: it says nothing about writes going out.
            None => Pin::new(&mut self.stream).poll_flush(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.opening(|first, stream| first.poll_shutdown(stream, cx)) {
            Some(shut) => shut,
            None => Pin::new(&mut self.stream).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_ack_for_the_handshake_then_only_after_quiet() {
        let start = Instant::now();
        let mut quick_ack = QuickAck::new(start);
        let busy = Duration::from_micros(100);
        let mut now = start;
        for read in 0..HANDSHAKE_READS {
            now += busy;
            assert!(quick_ack.on_read(now), "handshake read {read}");
        }
        now += busy;
        assert!(!quick_ack.on_read(now), "a busy stream gets its ACKs with the replies");
        now += QUIET;
        assert!(quick_ack.on_read(now), "the first read after a quiet spell");
        now += busy;
        assert!(!quick_ack.on_read(now));
    }
}
