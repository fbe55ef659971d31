//! In a cluster that keeps history: each hub delivers the events Redis announces to its own sockets, in
//! the order Redis recorded them.
//!
//! Redis publishes every recorded event on one channel in the same step that gives it its offset
//! ([`history::redis`](crate::history::redis)), and sends a subscriber the channel's messages in the
//! order they were published. This hub reads them in that order and hands each to one of [`LANES`]
//! tasks by its stream, so that one stream's events are delivered one after the other while other
//! streams' go on beside them. Each is delivered within its stream's turn, so that a `join` replaying
//! the stream on this hub comes between two of them, never in the middle of one; the sockets that the
//! replay already sent an event to are spared it ([`held_back`](crate::history::RedisHistory::held_back)).
//!
//! Delivery is local: the publishing hub counted the receivers on every hub before recording, and
//! every hub delivers to its own, as the publishing hub would have (the same [`audience`] selections,
//! the sender left out).

use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hub_protocol::{WithTrailing, events};
use serde::Serialize;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::operators::BroadcastOperators;
use socketioxide::socket::Sid;
use socketioxide_redis::drivers::{ChanItem, MessageStream};
use tokio::sync::mpsc;

use super::cluster::ClusterAdapter;
use super::{audience, emit};
use crate::history::announcement::{self, Announcement, Audience};
use crate::history::{self, Event, History, Position, RedisHistory};
use crate::telemetry::log_throttle::LogThrottle;
use crate::telemetry::metrics;

/// Streams delivered side by side.
const LANES: usize = 16;
/// Announcements that may wait for one lane. Beyond, reading the channel waits, and the link's own
/// queue takes the rest ([`cluster::CHANNEL_QUEUE`](super::cluster::CHANNEL_QUEUE)).
const LANE_QUEUE: usize = 4096;

/// Delivers the announcements read from `messages` to `io`'s sockets, until the link is closed.
pub fn start(io: SocketIo<ClusterAdapter>, history: History, mut messages: MessageStream<ChanItem>) {
    let Some(shared) = history.shared().cloned() else { return };
    let lanes: Vec<_> = (0..LANES)
        .map(|_| {
            let (queue, announcements) = mpsc::channel(LANE_QUEUE);
            tokio::spawn(lane(io.clone(), history.clone(), shared.clone(), announcements));
            queue
        })
        .collect();
    let hasher = RandomState::new();
    tokio::spawn(async move {
        while let Some((_, message)) = messages.next().await {
            let announcement = match announcement::decode(&message) {
                Ok(announcement) => announcement,
                Err(e) => {
                    static UNREADABLE: LogThrottle = LogThrottle::new(Duration::from_secs(60));
                    if let Some(held_back) = UNREADABLE.due(Instant::now()) {
                        tracing::warn!(held_back, channel = announcement::CHANNEL, "message ignored: {e}");
                    }
                    continue;
                }
            };
            let lane = hasher.hash_one(announcement.key()) as usize % LANES;
            if lanes[lane].send(announcement).await.is_err() {
                return;
            }
        }
    });
}

/// Delivers one lane's announcements, one at a time, each within its stream's turn.
async fn lane(
    io: SocketIo<ClusterAdapter>,
    history: History,
    shared: Arc<RedisHistory>,
    mut announcements: mpsc::Receiver<Announcement>,
) {
    while let Some(announcement) = announcements.recv().await {
        let _turn = history.turn(announcement.key()).await;
        match announcement {
            Announcement::Fence { key, token } => shared.fence_arrived(&key, token),
            Announcement::Event { position, audience, at_ms, event } => {
                let Some(namespace) = io.of(audience.key.namespace.as_str()) else {
                    // No socket of that namespace here.
                    continue;
                };
                let held_back = match &position {
                    Some(position) => shared.held_back(&audience.key, position),
                    None => Vec::new(),
                };
                let delivery = Delivery { namespace, audience, position, held_back };
                delivery.send(at_ms, &event).await;
            }
        }
    }
}

/// One announced event, for this hub's sockets.
struct Delivery<A: Adapter> {
    namespace: BroadcastOperators<A>,
    audience: Audience,
    position: Option<Position>,
    /// Sockets that were replayed the event already.
    held_back: Vec<Sid>,
}

impl<A: Adapter> Delivery<A> {
    async fn send(&self, at_ms: u64, event: &Event) {
        let Audience { key, earlier, sender } = &self.audience;
        let sender = sender.and_then(|sid| self.namespace.get_socket(sid));
        let base = || match &sender {
            Some(socket) => socket.broadcast().local(),
            None => self.namespace.clone().local(),
        };
        match event {
            Event::Chat { user, text } => {
                let message = history::chat_message(key, user, text, at_ms, self.position.as_ref());
                self.emit(|| base().to(message.room.clone()), events::CHAT, &message).await;
            }
            Event::Published { event, arguments } => {
                let meta = audience::meta(key, self.position.as_ref());
                self.emit(|| audience::plain(key, earlier, base()), event, &**arguments).await;
                let with_meta = WithTrailing(&**arguments, &meta);
                self.emit(|| audience::asked(key, earlier, base()), event, &with_meta).await;
            }
        }
    }

    /// Emits to the sockets `select` picks, but those held back.
    async fn emit<T: Serialize + ?Sized>(
        &self,
        select: impl Fn() -> BroadcastOperators<A>,
        event: &str,
        data: &T,
    ) {
        if self.held_back.is_empty() {
            // Failures are logged by `emit`; a local emit falls back to nothing.
            let _ = emit(select, event, data).await;
            return;
        }
        // Only just after a `join` with events on their way: one socket at a time.
        let mut sent = false;
        for socket in select().sockets().into_iter().filter(|s| !self.held_back.contains(&s.id)) {
            sent = true;
            if let Err(e) = socket.emit(event, data) {
                static NOT_DELIVERED: LogThrottle = LogThrottle::new(Duration::from_secs(1));
                if let Some(held_back) = NOT_DELIVERED.due(Instant::now()) {
                    tracing::warn!(event, held_back, "event not delivered to a socket: {e}");
                }
            }
        }
        if sent {
            metrics::event_emitted(event);
        }
    }
}
