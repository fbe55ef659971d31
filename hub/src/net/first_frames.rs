//! The first websocket frames of a connection, as Node's engine.io would have them, for clients written
//! against it: PHP's Elephant.io (`Version4X`) fails on two of engineioxide's habits otherwise.
//!
//! * **Upgrade without probe.** After its polling handshake, Elephant.io opens the websocket and sends
//!   the upgrade packet `5` at once. Node's engine.io accepts that; engineioxide expects `2probe` first
//!   and closes the session. When a client's first frame is `5`, the hub feeds engineioxide a `2probe`
//!   ahead of it and keeps engineioxide's `3probe` reply from the client.
//! * **First PING at once.** engineioxide sends a PING right after the OPEN packet, where Node waits
//!   `pingInterval`. A client that sends its CONNECT and reads "the next packet" (Elephant.io in
//!   websocket-only mode) gets that PING instead of the CONNECT reply; and a client that reads nothing
//!   for a while misses the PING's deadline. On a fresh websocket session the hub keeps this first PING
//!   from the client (it is among the first few frames, usually right after the OPEN packet) and answers
//!   it itself with a PONG, slipped in between two of the client's frames; the client sees its first
//!   PING `pingInterval` later, as with Node.
//!
//! docs/engineioxide-upstream.md describes both and the change proposed to engineioxide.
//!
//! The connection's stream wrapper ([`listener`](super::listener)) hands a connection to [`FirstFrames`] when the
//! hub starts writing a `101 Switching Protocols` response on it, and takes it back as a plain
//! pass-through once these few frames are settled, usually within the first round trip. No request head
//! is needed: the frames tell the cases apart (a fresh session's first frame is the hub's OPEN packet; an
//! upgrade's first frame comes from the client), and the stream is the only place that sees them.
//!
//! Frames are recognised by their exact bytes. That is sound because engineioxide negotiates no
//! websocket extension (its `101` carries no `Sec-WebSocket-Extensions`), so no frame is compressed;
//! the hub's frames are unmasked; the client's are masked, with a key of its choosing, and the frames
//! made up here are masked with a zero key (which leaves the payload as it is). A fragmented `5` or
//! anything else unexpected ends the inspection and lets every byte through unchanged, as if this module
//! did not exist. Bytes may come split over reads and writes or several frames at once: the state
//! machine ([`Rewrite`]) takes any slicing.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How a response that switches the connection to the websocket protocol begins.
pub const SWITCHING_PROTOCOLS: &[u8] = b"HTTP/1.1 101 ";

/// First byte of a single-frame text message.
const FIN_TEXT: u8 = 0x81;
/// Second-byte bit of a masked frame (every client frame).
const MASKED: u8 = 0x80;

/// The client's `2probe`, made up for a client that sent `5` without it.
const PROBE: [u8; 12] = [FIN_TEXT, MASKED | 6, 0, 0, 0, 0, b'2', b'p', b'r', b'o', b'b', b'e'];
/// The client's PONG `3`, made up to answer the PING kept from the client.
const PONG: [u8; 7] = [FIN_TEXT, MASKED | 1, 0, 0, 0, 0, b'3'];
/// The hub's `3probe`, its reply to [`PROBE`].
const PROBE_REPLY: [u8; 8] = [FIN_TEXT, 6, b'3', b'p', b'r', b'o', b'b', b'e'];
/// The hub's PING `2`.
const PING: [u8; 3] = [FIN_TEXT, 1, b'2'];
/// A client frame carrying `5`: two header bytes, the mask key, one payload byte.
const UPGRADE_FRAME_LEN: usize = 7;
/// How many of a fresh session's frames after its OPEN packet may come before the first PING, which is
/// kept from the client only among these. engineioxide queues it at once, so at most a slow start puts
/// the CONNECT reply or a few events ahead of it.
const FRAMES_BEFORE_PING: usize = 32;
/// The blank line that ends an HTTP head.
const END_OF_HEAD: &[u8] = b"\r\n\r\n";

/// [`Rewrite`] between a connection and the hub, with the bytes it holds back or makes up.
#[derive(Debug, Default)]
pub struct FirstFrames {
    rewrite: Rewrite,
    /// Bytes for the hub's reader, ahead of anything not yet read from the client.
    to_hub: Vec<u8>,
    /// Bytes the hub wrote that are not yet written to the client.
    to_client: Vec<u8>,
    /// The hub's reader while it waits for the client, woken when it is owed a PONG.
    reader: Option<Waker>,
}

impl FirstFrames {
    /// Whether the first frames are settled and nothing is held: the connection can be a pass-through.
    pub fn finished(&self) -> bool {
        self.rewrite.settled() && self.to_hub.is_empty() && self.to_client.is_empty()
    }

    /// Reads for the hub: what [`Rewrite`] makes of the client's bytes.
    pub fn poll_read<S: AsyncRead + Unpin>(
        &mut self,
        io: &mut S,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            if !self.to_hub.is_empty() {
                let n = self.to_hub.len().min(buf.remaining());
                buf.put_slice(&self.to_hub[..n]);
                self.to_hub.drain(..n);
                return Poll::Ready(Ok(()));
            }
            self.rewrite.pong_if_due(&mut self.to_hub);
            if !self.to_hub.is_empty() {
                continue;
            }
            if self.rewrite.reads_settled() {
                return Pin::new(io).poll_read(cx, buf);
            }
            let before = buf.filled().len();
            match Pin::new(&mut *io).poll_read(cx, buf) {
                Poll::Pending => {
                    if !self.reader.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                        self.reader = Some(cx.waker().clone());
                    }
                    return Poll::Pending;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => {}
            }
            let read = &buf.filled()[before..];
            if read.is_empty() {
                self.rewrite.client_closed(&mut self.to_hub);
                if self.to_hub.is_empty() {
                    return Poll::Ready(Ok(()));
                }
            } else {
                self.rewrite.client_sent(read, &mut self.to_hub);
                buf.set_filled(before);
            }
        }
    }

    /// Writes from the hub: what [`Rewrite`] makes of them goes to the client. Bytes taken but not yet
    /// written go out before the next write, or on flush.
    pub fn poll_write<S: AsyncWrite + Unpin>(
        &mut self,
        io: &mut S,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_drain(io, cx))?;
        if !self.rewrite.writes_settled() {
            let taken = self.rewrite.hub_wrote(buf, &mut self.to_client);
            if self.rewrite.pong_owed
                && let Some(reader) = self.reader.take()
            {
                reader.wake();
            }
            if taken > 0 {
                if let Poll::Ready(Err(e)) = self.poll_drain(io, cx) {
                    return Poll::Ready(Err(e));
                }
                return Poll::Ready(Ok(taken));
            }
            ready!(self.poll_drain(io, cx))?;
        }
        Pin::new(io).poll_write(cx, buf)
    }

    pub fn poll_flush<S: AsyncWrite + Unpin>(
        &mut self,
        io: &mut S,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(io, cx))?;
        Pin::new(io).poll_flush(cx)
    }

    pub fn poll_shutdown<S: AsyncWrite + Unpin>(
        &mut self,
        io: &mut S,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(io, cx))?;
        Pin::new(io).poll_shutdown(cx)
    }

    /// Writes what the hub wrote earlier and is still held here.
    fn poll_drain<S: AsyncWrite + Unpin>(
        &mut self,
        io: &mut S,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        while !self.to_client.is_empty() {
            let n = ready!(Pin::new(&mut *io).poll_write(cx, &self.to_client))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.to_client.drain(..n);
        }
        Poll::Ready(Ok(()))
    }
}

/// The decisions, on bytes only: what the hub writes ([`Rewrite::hub_wrote`]) and what the client sends
/// ([`Rewrite::client_sent`]), each in order, in pieces of any size.
#[derive(Debug, Default)]
struct Rewrite {
    hub: Hub,
    client: Client,
    /// A `2probe` was fed to the hub, whose `3probe` is to be kept from the client.
    probe_fed: bool,
    /// The hub's first PING was kept from the client; the hub gets a PONG at the client's next frame
    /// boundary.
    pong_owed: bool,
}

/// What the hub has written since the `101` began.
#[derive(Debug)]
enum Hub {
    /// The rest of the `101` head: how much of the blank line that ends it was seen.
    Head {
        end: usize,
    },
    /// No frame yet.
    Quiet,
    /// The first frame, looked at to see whether it is an OPEN packet.
    First {
        frame: FrameCursor,
        open: bool,
    },
    /// A fresh session's frames after the OPEN packet, looked through for the first PING.
    Frames {
        frame: FrameCursor,
        seen: usize,
        no_ping: bool,
    },
    /// A frame to keep from the client, held while the bytes match it.
    Dropping {
        kept: Kept,
        matched: usize,
        seen: usize,
    },
    Settled,
}

impl Default for Hub {
    fn default() -> Self {
        Hub::Head { end: 0 }
    }
}

/// The frames of the hub that a client never sees.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kept {
    ProbeReply,
    FirstPing,
}

impl Kept {
    fn frame(self) -> &'static [u8] {
        match self {
            Kept::ProbeReply => &PROBE_REPLY,
            Kept::FirstPing => &PING,
        }
    }
}

/// What the client has sent since the `101`.
#[derive(Debug)]
enum Client {
    /// Nothing yet, or the start of a first frame that may be a lone `5`.
    First {
        held: [u8; UPGRADE_FRAME_LEN],
        have: usize,
    },
    /// A fresh session's frames, followed until the PONG owed to the hub can go between two of them.
    Frames(FrameCursor),
    Settled,
}

impl Default for Client {
    fn default() -> Self {
        Client::First { held: [0; UPGRADE_FRAME_LEN], have: 0 }
    }
}

impl Rewrite {
    fn reads_settled(&self) -> bool {
        matches!(self.client, Client::Settled)
    }

    fn writes_settled(&self) -> bool {
        matches!(self.hub, Hub::Settled)
    }

    fn settled(&self) -> bool {
        self.reads_settled() && self.writes_settled() && !self.pong_owed
    }

    /// Whether the hub has written nothing since the `101` head, as in an upgrade before the probe.
    fn hub_quiet(&self) -> bool {
        matches!(self.hub, Hub::Head { .. } | Hub::Quiet)
    }

    /// Takes bytes the hub writes from the front of `bytes` and appends what the client gets to
    /// `to_client`; returns how many were taken. Once the writes are settled the rest is not taken: it
    /// goes to the client unchanged.
    fn hub_wrote(&mut self, bytes: &[u8], to_client: &mut Vec<u8>) -> usize {
        let mut taken = 0;
        while taken < bytes.len() {
            let rest = &bytes[taken..];
            match &mut self.hub {
                Hub::Head { end } => {
                    let mut n = 0;
                    while n < rest.len() && *end < END_OF_HEAD.len() {
                        *end = if rest[n] == END_OF_HEAD[*end] {
                            *end + 1
                        } else {
                            usize::from(rest[n] == END_OF_HEAD[0])
                        };
                        n += 1;
                    }
                    to_client.extend_from_slice(&rest[..n]);
                    taken += n;
                    if *end == END_OF_HEAD.len() {
                        self.hub = Hub::Quiet;
                    }
                }
                Hub::Quiet => {
                    self.hub = if self.probe_fed {
                        Hub::Dropping { kept: Kept::ProbeReply, matched: 0, seen: 0 }
                    } else {
                        Hub::First { frame: FrameCursor::default(), open: false }
                    };
                }
                Hub::First { frame, open } => {
                    if !*open && frame.in_payload() {
                        if frame.header[0] != FIN_TEXT || rest[0] != b'0' {
                            self.hub = Hub::Settled;
                            continue;
                        }
                        *open = true;
                    }
                    let n = frame.advance(rest);
                    to_client.extend_from_slice(&rest[..n]);
                    taken += n;
                    if frame.at_boundary() {
                        self.hub = if *open {
                            Hub::Frames { frame: FrameCursor::default(), seen: 0, no_ping: false }
                        } else {
                            Hub::Settled
                        };
                    }
                }
                Hub::Frames { frame, seen, no_ping } => {
                    if frame.at_boundary() && !*no_ping {
                        self.hub = if *seen < FRAMES_BEFORE_PING {
                            Hub::Dropping { kept: Kept::FirstPing, matched: 0, seen: *seen }
                        } else {
                            Hub::Settled
                        };
                        continue;
                    }
                    let n = frame.advance(rest);
                    to_client.extend_from_slice(&rest[..n]);
                    taken += n;
                    if frame.at_boundary() {
                        *seen += 1;
                        *no_ping = false;
                    }
                }
                Hub::Dropping { kept, matched, seen } => {
                    let frame = kept.frame();
                    let n = rest.iter().zip(&frame[*matched..]).take_while(|(a, b)| a == b).count();
                    *matched += n;
                    taken += n;
                    if *matched == frame.len() {
                        self.pong_owed = *kept == Kept::FirstPing;
                        self.hub = Hub::Settled;
                    } else if n < rest.len() {
                        // Another frame after all: what was held goes out as it came.
                        let held = &frame[..*matched];
                        to_client.extend_from_slice(held);
                        self.hub = match kept {
                            Kept::ProbeReply => Hub::Settled,
                            Kept::FirstPing => {
                                let mut frame = FrameCursor::default();
                                let mut skipped = 0;
                                while skipped < held.len() {
                                    skipped += frame.advance(&held[skipped..]);
                                }
                                let seen = *seen;
                                Hub::Frames { frame, seen, no_ping: true }
                            }
                        };
                    }
                }
                Hub::Settled => break,
            }
        }
        self.settle_client();
        taken
    }

    /// The client's bytes, in order: appends what the hub reads to `to_hub`.
    fn client_sent(&mut self, bytes: &[u8], to_hub: &mut Vec<u8>) {
        let hub_quiet = self.hub_quiet();
        let mut rest = bytes;
        while !rest.is_empty() {
            let pong_may_be_owed = self.pong_may_be_owed();
            match &mut self.client {
                Client::First { held, have } => {
                    if *have == 0 && !hub_quiet {
                        // The hub spoke first: no upgrade is waiting for its probe.
                        self.client = if pong_may_be_owed {
                            Client::Frames(FrameCursor::default())
                        } else {
                            Client::Settled
                        };
                        continue;
                    }
                    let byte = rest[0];
                    let fits = match *have {
                        0 => byte == FIN_TEXT,
                        1 => byte == MASKED | 1,
                        6 => byte ^ held[2] == b'5',
                        _ => true,
                    };
                    if !fits {
                        to_hub.extend_from_slice(&held[..*have]);
                        self.client = Client::Settled;
                        continue;
                    }
                    held[*have] = byte;
                    *have += 1;
                    rest = &rest[1..];
                    if *have == UPGRADE_FRAME_LEN {
                        if hub_quiet {
                            to_hub.extend_from_slice(&PROBE);
                            self.probe_fed = true;
                        }
                        to_hub.extend_from_slice(held);
                        self.client = Client::Settled;
                    }
                }
                Client::Frames(frame) => {
                    if frame.at_boundary() && self.pong_owed {
                        to_hub.extend_from_slice(&PONG);
                        self.pong_owed = false;
                        self.client = Client::Settled;
                        continue;
                    }
                    let n = frame.advance(rest);
                    to_hub.extend_from_slice(&rest[..n]);
                    rest = &rest[n..];
                }
                Client::Settled => {
                    to_hub.extend_from_slice(rest);
                    break;
                }
            }
        }
    }

    /// The client closed its side: whatever was held goes to the hub.
    fn client_closed(&mut self, to_hub: &mut Vec<u8>) {
        if let Client::First { held, have } = &self.client {
            to_hub.extend_from_slice(&held[..*have]);
        }
        self.client = Client::Settled;
        self.pong_owed = false;
    }

    /// Appends the PONG owed to the hub to `to_hub` if the client is between two frames.
    fn pong_if_due(&mut self, to_hub: &mut Vec<u8>) {
        let between_frames = match &self.client {
            Client::First { have, .. } => *have == 0,
            Client::Frames(frame) => frame.at_boundary(),
            Client::Settled => false,
        };
        if self.pong_owed && between_frames {
            to_hub.extend_from_slice(&PONG);
            self.pong_owed = false;
            self.client = Client::Settled;
        }
    }

    /// Whether the hub owes, or may still come to owe, a PONG: until its writes are settled, unless it is
    /// an upgrade.
    fn pong_may_be_owed(&self) -> bool {
        self.pong_owed || !(self.writes_settled() || self.probe_fed)
    }

    /// Stops following the client's frames once no PONG can be owed any more.
    fn settle_client(&mut self) {
        let following = match &self.client {
            Client::First { have, .. } => *have == 0 && !self.hub_quiet(),
            Client::Frames(_) => true,
            Client::Settled => false,
        };
        if following && !self.pong_may_be_owed() {
            self.client = Client::Settled;
        }
    }
}

/// Where a stream of websocket frames stands: in a frame's header (how much of it), or in its payload.
#[derive(Debug, Default)]
struct FrameCursor {
    header: [u8; 14],
    have: usize,
    /// Payload bytes still to come, once the header is complete.
    payload_left: Option<u64>,
}

impl FrameCursor {
    fn at_boundary(&self) -> bool {
        self.have == 0
    }

    /// The header is complete and no payload byte has come yet.
    fn in_payload(&self) -> bool {
        self.payload_left == Some(self.payload_len())
    }

    fn header_len(&self) -> usize {
        if self.have < 2 {
            return 2;
        }
        let extended = match self.header[1] & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let mask_key = if self.header[1] & MASKED != 0 { 4 } else { 0 };
        2 + extended + mask_key
    }

    fn payload_len(&self) -> u64 {
        match self.header[1] & 0x7f {
            126 => u16::from_be_bytes([self.header[2], self.header[3]]).into(),
            127 => {
                let mut len = [0; 8];
                len.copy_from_slice(&self.header[2..10]);
                u64::from_be_bytes(len)
            }
            len => len.into(),
        }
    }

    /// Moves over bytes of the current frame at the front of `bytes`, stopping at the end of its header
    /// and at its end; returns how many.
    fn advance(&mut self, bytes: &[u8]) -> usize {
        if let Some(left) = self.payload_left {
            let n = usize::try_from(left).unwrap_or(usize::MAX).min(bytes.len());
            let left = left - n as u64;
            if left == 0 {
                *self = Self::default();
            } else {
                self.payload_left = Some(left);
            }
            return n;
        }
        let mut n = 0;
        while n < bytes.len() && self.have < self.header_len() {
            self.header[self.have] = bytes[n];
            self.have += 1;
            n += 1;
        }
        if self.have == self.header_len() {
            match self.payload_len() {
                0 => *self = Self::default(),
                len => self.payload_left = Some(len),
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
        sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

    fn header(first: u8, mask: u8, len: usize) -> Vec<u8> {
        match len {
            0..=125 => vec![first, mask | len as u8],
            126..=0xffff => [vec![first, mask | 126], (len as u16).to_be_bytes().to_vec()].concat(),
            _ => [vec![first, mask | 127], (len as u64).to_be_bytes().to_vec()].concat(),
        }
    }

    fn from_hub(text: &str) -> Vec<u8> {
        [header(FIN_TEXT, 0, text.len()), text.as_bytes().to_vec()].concat()
    }

    fn from_client_with(first: u8, text: &str, key: [u8; 4]) -> Vec<u8> {
        let masked = text.bytes().enumerate().map(|(i, b)| b ^ key[i % 4]);
        [header(first, MASKED, text.len()), key.to_vec(), masked.collect()].concat()
    }

    fn from_client(text: &str) -> Vec<u8> {
        from_client_with(FIN_TEXT, text, [0x37, 0xfa, 0x21, 0x3d])
    }

    fn open_packet() -> String {
        // Longer than 125 bytes, so its frame has a 16-bit length.
        format!(
            r#"0{{"sid":"{}","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":2097152}}"#,
            "s".repeat(60)
        )
    }

    /// Something that happens on the connection, in order.
    enum Step<'a> {
        Hub(&'a [u8]),
        Client(&'a [u8]),
        /// The hub's reader asks for more (it gets a PONG that is due, if any).
        Read,
    }

    /// Runs the steps with every piece cut into `chunk`-byte reads and writes, the way the stream
    /// wrapper drives [`Rewrite`]; returns what the client and the hub get.
    fn run(steps: &[Step<'_>], chunk: usize) -> (Vec<u8>, Vec<u8>) {
        let mut rewrite = Rewrite::default();
        let (mut to_client, mut to_hub) = (Vec::new(), Vec::new());
        for step in steps {
            match step {
                Step::Hub(bytes) => {
                    for piece in bytes.chunks(chunk) {
                        let mut rest: &[u8] = piece;
                        while !rest.is_empty() {
                            if rewrite.writes_settled() {
                                to_client.extend_from_slice(rest);
                                break;
                            }
                            let taken = rewrite.hub_wrote(rest, &mut to_client);
                            assert!(taken > 0 || rewrite.writes_settled(), "a write makes progress");
                            rest = &rest[taken..];
                        }
                    }
                }
                Step::Client(bytes) => {
                    for piece in bytes.chunks(chunk) {
                        rewrite.pong_if_due(&mut to_hub);
                        if rewrite.reads_settled() {
                            to_hub.extend_from_slice(piece);
                        } else {
                            rewrite.client_sent(piece, &mut to_hub);
                        }
                    }
                }
                Step::Read => rewrite.pong_if_due(&mut to_hub),
            }
        }
        assert!(rewrite.settled(), "settled after the first frames: {rewrite:?}");
        (to_client, to_hub)
    }

    /// [`run`] with every chunk size, from one byte at a time to everything at once.
    fn each_slicing(steps: &[Step<'_>], expect_client: &[u8], expect_hub: &[u8]) {
        let longest = steps
            .iter()
            .map(|s| match s {
                Step::Hub(b) | Step::Client(b) => b.len(),
                Step::Read => 0,
            })
            .max()
            .unwrap_or(1);
        for chunk in 1..=longest {
            let (to_client, to_hub) = run(steps, chunk);
            assert_eq!(to_client, expect_client, "what the client gets, in {chunk}-byte pieces");
            assert_eq!(to_hub, expect_hub, "what the hub reads, in {chunk}-byte pieces");
        }
    }

    #[test]
    fn an_upgrade_without_probe_gets_one_and_its_reply_is_kept_from_the_client() {
        let upgrade = from_client("5");
        let after = from_client(r#"42["news",{"from":"php"}]"#);
        let reply_and_event = [from_hub("3probe"), from_hub(r#"42["news","x"]"#)].concat();
        let steps =
            [Step::Hub(HEAD), Step::Client(&upgrade), Step::Hub(&reply_and_event), Step::Client(&after)];
        each_slicing(
            &steps,
            &[HEAD, &from_hub(r#"42["news","x"]"#)].concat(),
            &[&PROBE[..], &upgrade, &after].concat(),
        );
    }

    #[test]
    fn an_upgrade_with_probe_passes_unchanged() {
        let probe = from_client("2probe");
        let upgrade = from_client("5");
        // A PING after the upgrade is the client's to answer.
        let hub = [from_hub("3probe"), from_hub("2")].concat();
        let steps = [Step::Hub(HEAD), Step::Client(&probe), Step::Hub(&hub), Step::Client(&upgrade)];
        each_slicing(&steps, &[HEAD, &hub].concat(), &[&probe[..], &upgrade].concat());
    }

    #[test]
    fn a_first_frame_that_only_starts_like_5_passes_unchanged() {
        for frame in [
            from_client("52"),
            from_client_with(0x01, "5", [1, 2, 3, 4]), // the first fragment of a message
            from_client_with(FIN_TEXT, "6", [0, 0, 0, 0]),
        ] {
            let hub = from_hub("3probe");
            let steps = [Step::Hub(HEAD), Step::Client(&frame), Step::Hub(&hub)];
            each_slicing(&steps, &[HEAD, &hub].concat(), &frame);
        }
    }

    #[test]
    fn a_fresh_session_has_its_first_ping_answered_by_the_hub() {
        let open = from_hub(&open_packet());
        let connect = from_client(r#"40{"token":"secret"}"#);
        let reply = from_hub(r#"40{"sid":"abc"}"#);
        // The PING comes before the client says anything, alone or with the OPEN packet.
        let alone = [
            Step::Hub(HEAD),
            Step::Hub(&open),
            Step::Hub(&PING),
            Step::Read,
            Step::Client(&connect),
            Step::Hub(&reply),
        ];
        let head_open_ping = [HEAD, &open, &PING].concat();
        let together = [Step::Hub(&head_open_ping), Step::Client(&connect), Step::Hub(&reply)];
        for steps in [&alone[..], &together] {
            each_slicing(steps, &[HEAD, &open, &reply].concat(), &[&PONG[..], &connect].concat());
        }
    }

    #[test]
    fn the_pong_goes_between_two_frames_of_the_client() {
        let open = from_hub(&open_packet());
        let long = from_client(&format!(r#"42["echo","{}"]"#, "x".repeat(300)));
        let (first_half, second_half) = long.split_at(long.len() / 2);
        let next = from_client(r#"42["echo",2]"#);
        let rest = [second_half, &next].concat();
        let ping_and_reply = [&PING[..], &from_hub("40")].concat();
        let steps = [
            Step::Hub(HEAD),
            Step::Hub(&open),
            Step::Client(first_half),
            Step::Hub(&ping_and_reply),
            Step::Read,
            Step::Client(&rest),
        ];
        each_slicing(&steps, &[HEAD, &open, &from_hub("40")].concat(), &[&long, &PONG[..], &next].concat());
    }

    #[test]
    fn the_first_ping_is_kept_even_behind_other_frames_and_only_the_first() {
        let open = from_hub(&open_packet());
        let connect = from_client("40");
        // Frames that start like a PING, or are as short, are not one.
        let before =
            [from_hub(r#"40{"sid":"abc"}"#), from_hub("4"), from_hub(""), from_hub("3"), from_hub("22")]
                .concat();
        let later_ping = from_hub("2");
        let hub = [&before[..], &PING, &later_ping].concat();
        let steps = [Step::Hub(HEAD), Step::Hub(&open), Step::Client(&connect), Step::Hub(&hub), Step::Read];
        each_slicing(&steps, &[HEAD, &open, &before, &later_ping].concat(), &[&connect[..], &PONG].concat());
    }

    #[test]
    fn a_ping_behind_many_frames_is_left_to_the_client() {
        let open = from_hub(&open_packet());
        let events: Vec<u8> =
            (0..FRAMES_BEFORE_PING).flat_map(|n| from_hub(&format!(r#"42["news",{n}]"#))).collect();
        let hub = [&events[..], &PING].concat();
        let connect = from_client("40");
        let steps = [Step::Hub(HEAD), Step::Hub(&open), Step::Client(&connect), Step::Hub(&hub)];
        each_slicing(&steps, &[HEAD, &open, &hub].concat(), &connect);
    }

    #[test]
    fn a_client_that_leaves_mid_frame_gets_its_bytes_through() {
        let upgrade = from_client("5");
        let mut rewrite = Rewrite::default();
        let mut to_client = Vec::new();
        rewrite.hub_wrote(HEAD, &mut to_client);
        let mut to_hub = Vec::new();
        rewrite.client_sent(&upgrade[..4], &mut to_hub);
        assert!(to_hub.is_empty(), "held while it may be a lone 5");
        rewrite.client_closed(&mut to_hub);
        assert_eq!(to_hub, &upgrade[..4]);
        assert!(rewrite.reads_settled());
    }

    /// The hub's reader is parked on a quiet client when the PING is kept: it is woken for the PONG.
    #[tokio::test]
    async fn a_waiting_reader_gets_the_pong_without_the_client_sending_anything() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

        struct Wrapped(DuplexStream, FirstFrames);
        impl AsyncRead for Wrapped {
            fn poll_read(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                let Wrapped(io, first) = &mut *self;
                first.poll_read(io, cx, buf)
            }
        }
        impl AsyncWrite for Wrapped {
            fn poll_write(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                let Wrapped(io, first) = &mut *self;
                first.poll_write(io, cx, buf)
            }
            fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                let Wrapped(io, first) = &mut *self;
                first.poll_flush(io, cx)
            }
            fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                let Wrapped(io, first) = &mut *self;
                first.poll_shutdown(io, cx)
            }
        }

        let (hub_end, mut client) = tokio::io::duplex(4096);
        let (mut hub_reader, mut hub_writer) = tokio::io::split(Wrapped(hub_end, FirstFrames::default()));
        let reader = tokio::spawn(async move {
            let mut pong = [0; PONG.len()];
            hub_reader.read_exact(&mut pong).await.map(|_| pong)
        });
        tokio::task::yield_now().await;
        let open = from_hub(&open_packet());
        hub_writer.write_all(&[HEAD, &open].concat()).await.unwrap();
        hub_writer.write_all(&PING).await.unwrap();
        hub_writer.flush().await.unwrap();

        let pong = tokio::time::timeout(std::time::Duration::from_secs(5), reader).await;
        assert_eq!(pong.expect("the reader is woken").unwrap().unwrap(), PONG);
        let mut seen = vec![0; HEAD.len() + open.len()];
        client.read_exact(&mut seen).await.unwrap();
        assert_eq!(seen, [HEAD, &open].concat(), "the client gets the head and the OPEN packet, no PING");
    }
}
