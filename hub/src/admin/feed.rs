//! What the hub tells the Admin UI as it happens: sockets connected, upgraded and disconnected, rooms
//! joined and left, and the counts behind the dashboard's charts.
//!
//! Nothing is built or sent while no Admin UI is open anywhere in the cluster ([`Feed::watched`]): the
//! hot paths pay one atomic load. Events go through a bounded queue to one task that broadcasts them to
//! the `/admin` namespace, so they reach every UI, on whichever hub it is connected, in the order they
//! happened here; when that queue is full (a UI far behind), the newest are dropped and counted in
//! `hub_admin_events_dropped_total`, and the UI's next reload shows the truth again (`all_sockets`).

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hub_protocol::admin::{AggregatedEvent, SerializedSocket, ServerStats, SocketUpdate};
use socketioxide::TransportType;
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;
use socketioxide::socket::{DisconnectReason, Sid};
use tokio::sync::mpsc;

use super::sockets::{self, ConnectedAt};
use crate::telemetry::log_throttle::LogThrottle;
use crate::telemetry::metrics;

/// Events waiting to be broadcast to the UIs.
pub const QUEUE: usize = 10_000;

/// Most distinct (second, kind) counts kept between two `server_stats`; a second's counts are few.
const MAX_COUNTS: usize = 1_000;

/// A second (in ms since the epoch), a kind of event and its sub-kind.
type CountKey = (u64, &'static str, Option<&'static str>);

/// One thing to tell the UIs.
#[derive(Debug)]
pub enum FeedEvent {
    SocketConnected(Box<SerializedSocket>, String),
    SocketUpdated(SocketUpdate),
    SocketDisconnected { nsp: String, id: String, reason: &'static str, at: String },
    RoomJoined { nsp: String, room: String, id: String, at: String },
    RoomLeft { nsp: String, room: String, id: String, at: String },
    ServerStats(Box<ServerStats>),
}

/// The hub's side of the UIs' live view.
#[derive(Debug)]
pub struct Feed {
    /// Admin UIs connected to this hub.
    local: AtomicUsize,
    /// Whether one is connected to another hub of the cluster (refreshed by the ticker).
    remote: AtomicBool,
    queue: mpsc::Sender<FeedEvent>,
    /// Sockets still on HTTP long-polling, by namespace and id: the ticker tells the UIs when they upgrade.
    polling: Mutex<HashSet<(String, Sid)>>,
    /// Counts by second (ms since the epoch), kind and sub-kind, for the next `server_stats`.
    counts: Mutex<BTreeMap<CountKey, u64>>,
}

impl Feed {
    /// A feed and the receiving end of its queue, for [`super::ticker`]'s broadcasting task.
    pub fn new() -> (Self, mpsc::Receiver<FeedEvent>) {
        let (queue, events) = mpsc::channel(QUEUE);
        let feed = Self {
            local: AtomicUsize::new(0),
            remote: AtomicBool::new(false),
            queue,
            polling: Mutex::default(),
            counts: Mutex::default(),
        };
        (feed, events)
    }

    /// Whether an Admin UI is open anywhere in the cluster.
    pub fn watched(&self) -> bool {
        self.local.load(Ordering::Relaxed) > 0 || self.remote.load(Ordering::Relaxed)
    }

    /// Admin UIs connected to this hub.
    pub fn local_watchers(&self) -> usize {
        self.local.load(Ordering::Relaxed)
    }

    pub fn watcher_connected(&self) {
        self.local.fetch_add(1, Ordering::Relaxed);
    }

    pub fn watcher_disconnected(&self) {
        self.local.fetch_sub(1, Ordering::Relaxed);
    }

    /// Another hub has (or no longer has) an Admin UI connected.
    pub fn set_remote(&self, watched: bool) {
        self.remote.store(watched, Ordering::Relaxed);
    }

    /// `socket` was admitted: it will be listed with its connection time, and followed while it polls.
    pub fn admitted<A: Adapter>(&self, socket: &SocketRef<A>) {
        socket.extensions.insert(ConnectedAt(SystemTime::now()));
        if socket.transport_type() == TransportType::Polling {
            self.polling().insert((socket.ns().to_owned(), socket.id));
        }
    }

    /// `socket` connected (its CONNECT was answered).
    pub fn connected<A: Adapter>(&self, socket: &SocketRef<A>) {
        if !self.watched() {
            return;
        }
        self.count("rawConnection", None);
        self.send(FeedEvent::SocketConnected(Box::new(sockets::serialize(socket)), now()));
    }

    /// `socket` disconnected, leaving `rooms`.
    pub fn disconnected<A: Adapter>(
        &self,
        socket: &SocketRef<A>,
        reason: DisconnectReason,
        rooms: &[String],
    ) {
        self.polling().remove(&(socket.ns().to_owned(), socket.id));
        if !self.watched() {
            return;
        }
        let reason = reason_name(reason);
        self.count("rawDisconnection", Some(reason));
        let (nsp, id, at) = (socket.ns().to_owned(), socket.id.to_string(), now());
        self.send(FeedEvent::SocketDisconnected { nsp: nsp.clone(), id: id.clone(), reason, at: at.clone() });
        // Socket.IO takes a socket out of every room, its own included: the UI drops it from each.
        for room in rooms.iter().chain(std::iter::once(&id)) {
            let room = room.clone();
            self.send(FeedEvent::RoomLeft { nsp: nsp.clone(), room, id: id.clone(), at: at.clone() });
        }
    }

    /// `socket` joined `room`.
    pub fn joined<A: Adapter>(&self, socket: &SocketRef<A>, room: &str) {
        if self.watched() {
            let (nsp, room, id) = (socket.ns().to_owned(), room.to_owned(), socket.id.to_string());
            self.send(FeedEvent::RoomJoined { nsp, room, id, at: now() });
        }
    }

    /// `socket` left `room` (and stays connected).
    pub fn left<A: Adapter>(&self, socket: &SocketRef<A>, room: &str) {
        if self.watched() {
            let (nsp, room, id) = (socket.ns().to_owned(), room.to_owned(), socket.id.to_string());
            self.send(FeedEvent::RoomLeft { nsp, room, id, at: now() });
        }
    }

    /// Queues `event` for the UIs; drops and counts it when the queue is full.
    pub fn send(&self, event: FeedEvent) {
        if self.queue.try_send(event).is_err() {
            metrics::admin_events_dropped();
            static DROPPED: LogThrottle = LogThrottle::new(Duration::from_secs(10));
            if let Some(held_back) = DROPPED.due(std::time::Instant::now()) {
                tracing::warn!(held_back, "Admin UI events dropped: the UIs are {QUEUE} events behind");
            }
        }
    }

    /// The sockets still polling, and how many.
    pub fn polling_sockets(&self) -> Vec<(String, Sid)> {
        self.polling().iter().cloned().collect()
    }

    /// `socket` upgraded to a websocket: no longer followed.
    pub fn upgraded(&self, namespace: &str, sid: Sid) {
        self.polling().remove(&(namespace.to_owned(), sid));
    }

    /// The counts since the last call.
    pub fn take_counts(&self) -> Vec<AggregatedEvent> {
        let counts = std::mem::take(&mut *self.counts.lock().unwrap_or_else(PoisonError::into_inner));
        counts
            .into_iter()
            .map(|((timestamp, kind, sub_type), count)| AggregatedEvent {
                timestamp,
                kind: kind.to_owned(),
                sub_type: sub_type.map(str::to_owned),
                count,
            })
            .collect()
    }

    fn count(&self, kind: &'static str, sub_type: Option<&'static str>) {
        let second = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() * 1000;
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if counts.len() < MAX_COUNTS || counts.contains_key(&(second, kind, sub_type)) {
            *counts.entry((second, kind, sub_type)).or_default() += 1;
        }
    }

    fn polling(&self) -> MutexGuard<'_, HashSet<(String, Sid)>> {
        self.polling.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Now, as the UI reads timestamps.
pub fn now() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// The reason as Node's Socket.IO names it (the UI shows it).
fn reason_name(reason: DisconnectReason) -> &'static str {
    match reason {
        DisconnectReason::TransportClose => "transport close",
        DisconnectReason::MultipleHttpPollingError | DisconnectReason::PacketParsingError => "parse error",
        DisconnectReason::TransportError => "transport error",
        DisconnectReason::HeartbeatTimeout => "ping timeout",
        DisconnectReason::ClientNSDisconnect => "client namespace disconnect",
        DisconnectReason::ServerNSDisconnect => "server namespace disconnect",
        DisconnectReason::ClosingServer => "server shutting down",
    }
}
