//! The Admin UI's background work on one hub: the task that broadcasts the feed to the `/admin`
//! namespace (every hub's UIs, through the adapter), and a tick every [`TICK`] that sends this hub's
//! `server_stats`, tells the UIs about sockets that upgraded from polling to websocket, and, in a
//! cluster, keeps the hubs informed of whether a UI is open anywhere.
//!
//! In a cluster each hub with a UI connected sets a Redis key that expires after [`WATCHED_FOR`]; every
//! hub reads it at each tick. A UI's `all_sockets` request also tells every hub at once (see
//! `control::admin::sockets`), so nothing that happens after the UI's list is missed.

use std::sync::Arc;
use std::time::Duration;

use fred::prelude::KeysInterface;
use fred::types::Expiration;
use hub_protocol::admin::{
    NAMESPACE, NamespaceDetails, ROOM_JOINED, ROOM_LEFT, SERVER_STATS, SOCKET_CONNECTED, SOCKET_DISCONNECTED,
    SOCKET_UPDATED, ServerStats, SocketUpdate,
};
use socketioxide::adapter::Adapter;
use socketioxide::{SocketIo, TransportType};
use tokio::sync::mpsc;

use super::Admin;
use super::feed::FeedEvent;
use super::sockets::transport_name;
use crate::policy::limits::Limits;

/// How often `server_stats` is sent (as Node's admin server does).
pub const TICK: Duration = Duration::from_secs(2);

/// How long a hub's word that a UI is open on it lasts, unless renewed at its next tick.
const WATCHED_FOR: Duration = Duration::from_secs(6);

/// The Redis key that says a UI is open on some hub.
const WATCHED_KEY: &str = "hub:admin:watched";

/// This hub as the UI lists it.
#[derive(Debug, Clone)]
pub struct ServerIdentity {
    /// `hostname#pid`: unique even for several hubs on one machine.
    pub id: String,
    pub hostname: String,
    pub pid: u32,
}

impl ServerIdentity {
    pub fn of_this_process() -> Self {
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|name| name.trim().to_owned())
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "hub".to_owned());
        let pid = std::process::id();
        Self { id: format!("{hostname}#{pid}"), hostname, pid }
    }
}

/// Starts broadcasting `events` and ticking; both end with the runtime.
pub fn start<A: Adapter>(
    io: SocketIo<A>,
    admin: Arc<Admin>,
    limits: Arc<Limits>,
    events: mpsc::Receiver<FeedEvent>,
) {
    tokio::spawn(broadcast(io.clone(), events));
    tokio::spawn(tick(io, admin, limits));
}

impl Admin {
    /// In a cluster, tells the other hubs now that a UI is open on this one.
    pub async fn announce_watched(&self) {
        let Some(redis) = &self.watchers else { return };
        let expiry = Some(Expiration::PX(WATCHED_FOR.as_millis() as i64));
        if let Err(e) = redis.set::<(), _, _>(WATCHED_KEY, 1, expiry, None, false).await {
            tracing::debug!("cannot tell the other hubs that an Admin UI is open: {e}");
        }
    }

    /// In a cluster, whether a UI is open on another hub (`None`: Redis did not answer).
    async fn watched_elsewhere(&self) -> Option<bool> {
        let redis = self.watchers.as_ref()?;
        redis.exists::<u32, _>(WATCHED_KEY).await.ok().map(|n| n > 0)
    }

    /// This hub's `server_stats`, with the counts since the last ones.
    pub fn server_stats(&self, limits: &Limits) -> ServerStats {
        let namespaces = limits
            .namespace_sizes()
            .into_iter()
            .map(|(name, sockets_count)| NamespaceDetails { name, sockets_count })
            .collect();
        ServerStats {
            server_id: self.server.id.clone(),
            hostname: self.server.hostname.clone(),
            pid: self.server.pid,
            uptime: self.started.elapsed().as_secs_f64(),
            clients_count: limits.connected(),
            polling_clients_count: self.feed.polling_sockets().len(),
            aggregated_events: self.feed.take_counts(),
            namespaces,
        }
    }
}

async fn broadcast<A: Adapter>(io: SocketIo<A>, mut events: mpsc::Receiver<FeedEvent>) {
    while let Some(event) = events.recv().await {
        let Some(ns) = io.of(NAMESPACE) else { continue };
        let sent = match event {
            FeedEvent::SocketConnected(socket, at) => ns.emit(SOCKET_CONNECTED, &(socket, at)).await,
            FeedEvent::SocketUpdated(update) => ns.emit(SOCKET_UPDATED, &update).await,
            FeedEvent::SocketDisconnected { nsp, id, reason, at } => {
                ns.emit(SOCKET_DISCONNECTED, &(nsp, id, reason, at)).await
            }
            FeedEvent::RoomJoined { nsp, room, id, at } => ns.emit(ROOM_JOINED, &(nsp, room, id, at)).await,
            FeedEvent::RoomLeft { nsp, room, id, at } => ns.emit(ROOM_LEFT, &(nsp, room, id, at)).await,
            FeedEvent::ServerStats(stats) => ns.emit(SERVER_STATS, &stats).await,
        };
        if let Err(e) = sent {
            tracing::debug!("Admin UI event not sent to every hub: {e}");
        }
    }
}

async fn tick<A: Adapter>(io: SocketIo<A>, admin: Arc<Admin>, limits: Arc<Limits>) {
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if admin.feed.local_watchers() > 0 {
            admin.announce_watched().await;
        }
        if let Some(elsewhere) = admin.watched_elsewhere().await {
            admin.feed.set_remote(elsewhere);
        }
        if !admin.feed.watched() {
            continue;
        }
        for (namespace, id) in admin.feed.polling_sockets() {
            let socket = io.of(&namespace).and_then(|ns| ns.get_socket(id));
            match socket {
                Some(socket) if socket.transport_type() == TransportType::Polling => {}
                Some(socket) => {
                    admin.feed.upgraded(&namespace, id);
                    let transport = transport_name(socket.transport_type()).to_owned();
                    let update = SocketUpdate { id: id.to_string(), nsp: namespace, transport };
                    admin.feed.send(FeedEvent::SocketUpdated(update));
                }
                None => admin.feed.upgraded(&namespace, id),
            }
        }
        admin.feed.send(FeedEvent::ServerStats(Box::new(admin.server_stats(&limits))));
    }
}
