//! Publishing: validating a publish request, recording it in the target streams' history and
//! delivering it, for the `publish` event, publishers' direct emits and the HTTP API alike.
//!
//! Each target stream (each room, or the namespace) records the event and delivers it within its
//! [`turn`](crate::history::Turns): its members receive its events in offset order.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use hub_protocol::names::parse_target_rooms;
use hub_protocol::{
    Argument, Arguments, EventMeta, EventName, PublishAck, PublishRequest, RecordedAt, Rejection, RoomName,
    WithTrailing,
};
use socketioxide::adapter::Adapter;
use socketioxide::operators::BroadcastOperators;

use super::{self as delivery, Reached, Scope, meta_rooms};
use crate::history::{Event, History, Position, StreamKey, now_ms};
use crate::policy::limits::Limits;
use crate::telemetry::metrics;

/// Where a published event goes.
#[derive(Debug, Clone)]
pub enum Target {
    /// Every socket of the namespace but the sender.
    Namespace(String),
    /// Every socket in any of the rooms but the sender.
    Rooms(Vec<RoomName>),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Namespace(ns) => write!(f, "namespace {ns}"),
            Target::Rooms(rooms) => {
                f.write_str("rooms ")?;
                for (i, room) in rooms.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{:?}", room.as_str())?;
                }
                Ok(())
            }
        }
    }
}

/// A checked publication: a `publish` request, a publisher's direct emit or an API message.
#[derive(Debug, Clone)]
pub struct Publication {
    pub event: EventName,
    pub target: Target,
    /// Exactly what the receivers get: for `publish`, its `data` as the one argument. Shared with the
    /// history that records it.
    pub arguments: Arc<Arguments>,
    /// Recorded in the target streams' history (not a volatile event).
    pub recorded: bool,
}

/// What a delivery reached, and where each target stream recorded the event.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub reached: Reached<usize>,
    pub recorded: Vec<RecordedAt>,
}

impl Publication {
    /// Checks a `publish` request for `namespace`: event name, rooms, data size.
    pub fn parse(
        request: PublishRequest<Argument>,
        namespace: &str,
        limits: &Limits,
    ) -> Result<Self, Rejection> {
        let event = EventName::parse(request.event)?;
        let rooms = parse_target_rooms(request.rooms)?;
        limits.check_size("data", request.data.encoded_len())?;
        let target =
            if rooms.is_empty() { Target::Namespace(namespace.to_owned()) } else { Target::Rooms(rooms) };
        let arguments = Arc::new(Arguments(vec![request.data]));
        Ok(Self { event, target, arguments, recorded: request.history })
    }

    /// A publisher's direct emit: `event` with its arguments unchanged, to the whole `namespace`.
    pub fn direct(
        event: &str,
        arguments: Arguments,
        namespace: &str,
        limits: &Limits,
    ) -> Result<Self, Rejection> {
        let event = EventName::parse(event)?;
        limits.check_size("the arguments", arguments.encoded_len())?;
        let target = Target::Namespace(namespace.to_owned());
        Ok(Self { event, target, arguments: Arc::new(arguments), recorded: true })
    }

    /// Records the event in each target stream and emits it to the target, every receiver once: with
    /// exactly its arguments, and to the sockets that asked for it ([`meta_rooms`]) with its
    /// [`EventMeta`] after them. `base` selects the namespace's sockets that may receive (for a
    /// publisher's socket: all but itself).
    pub async fn deliver<A: Adapter>(
        &self,
        base: impl Fn() -> BroadcastOperators<A>,
        namespace: &str,
        history: &History,
    ) -> Result<Delivered, Rejection> {
        let rooms = match &self.target {
            Target::Namespace(_) => {
                // Sockets that are still catching up with the namespace's history get these events from
                // their replay instead.
                let hidden = [meta_rooms::ALL, meta_rooms::CATCHING_UP];
                let plain = || base().except(hidden);
                let asked = || base().to(meta_rooms::ALL).except(meta_rooms::CATCHING_UP);
                let key = StreamKey::namespace(namespace);
                let (reached, position) = self.record_and_emit(&key, history, plain, asked).await?;
                let recorded = position.iter().map(|p| p.recorded_at(&key)).collect();
                return Ok(Delivered { reached, recorded });
            }
            Target::Rooms(rooms) => rooms,
        };
        // One broadcast per room and group, each sparing the sockets of the rooms before it: every
        // receiver gets the event once, with the first target room it is in as the metadata's room.
        let mut delivered =
            Delivered { reached: Reached { value: 0, scope: Scope::Cluster }, recorded: Vec::new() };
        for (i, room) in rooms.iter().enumerate() {
            let earlier = || rooms[..i].iter().map(|r| r.to_string());
            let shadow = meta_rooms::shadow(room.as_str());
            let plain =
                || base().to(room.to_string()).except(earlier().chain([shadow.clone()]).collect::<Vec<_>>());
            let asked = || base().to(shadow.clone()).except(earlier().collect::<Vec<_>>());
            let key = StreamKey::room(namespace, room.as_str());
            let (reached, position) = self.record_and_emit(&key, history, plain, asked).await?;
            delivered.reached = delivered.reached.and(reached);
            delivered.recorded.extend(position.map(|p| p.recorded_at(&key)));
        }
        Ok(delivered)
    }

    /// Records the event in each target stream, and delivers it to nobody: for a namespace that has no
    /// socket on a lone hub.
    pub async fn record(&self, namespace: &str, history: &History) -> Result<Vec<RecordedAt>, Rejection> {
        let keys = match &self.target {
            Target::Namespace(_) => vec![StreamKey::namespace(namespace)],
            Target::Rooms(rooms) => {
                rooms.iter().map(|room| StreamKey::room(namespace, room.as_str())).collect()
            }
        };
        let mut recorded = Vec::with_capacity(keys.len());
        for key in &keys {
            let _turn = history.turn(key).await;
            if let Some(position) = self.record_in(key, history).await? {
                recorded.push(position.recorded_at(key));
            }
        }
        Ok(recorded)
    }

    /// Records the event in `key`'s stream (call it within the stream's turn), unless it is volatile.
    async fn record_in(&self, key: &StreamKey, history: &History) -> Result<Option<Position>, Rejection> {
        if !self.recorded {
            return Ok(None);
        }
        let event = Event::Published {
            event: self.event.as_str().to_owned(),
            arguments: Arc::clone(&self.arguments),
        };
        Ok(history.record(key, now_ms(), event).await?)
    }

    /// Within `key`'s turn: records the event (unless it is volatile) and emits it with exactly its
    /// arguments to `plain`, and with its metadata after them to `asked`.
    async fn record_and_emit<A: Adapter>(
        &self,
        key: &StreamKey,
        history: &History,
        plain: impl Fn() -> BroadcastOperators<A>,
        asked: impl Fn() -> BroadcastOperators<A>,
    ) -> Result<(Reached<usize>, Option<Position>), Rejection> {
        let _turn = history.turn(key).await;
        let position = self.record_in(key, history).await?;
        let meta = EventMeta {
            namespace: key.namespace.clone(),
            room: key.room.clone(),
            offset: position.as_ref().map(|p| p.offset),
            epoch: position.as_ref().map(|p| p.epoch.to_string()),
        };
        let event = self.event.as_str();
        let plain = delivery::emit_counted(plain, event, &*self.arguments).await?;
        let asked = delivery::emit_counted(asked, event, &WithTrailing(&*self.arguments, &meta)).await?;
        Ok((plain.and(asked), position))
    }
}

/// Where a publish came from, for logs and metrics.
#[derive(Debug, Clone, Copy)]
pub enum Via<'a> {
    /// A publisher's socket.
    Socket(&'a str),
    /// An HTTP API request.
    Api(&'a str),
}

/// Logs and counts a publish carried out since `started`, and builds its ack.
pub fn published(
    via: Via<'_>,
    event: &EventName,
    target: &Target,
    Delivered { reached, recorded }: Delivered,
    started: Instant,
) -> PublishAck {
    let (delivered, partial) = (reached.value, reached.scope.is_partial());
    match via {
        Via::Socket(sid) => {
            tracing::info!(sid, event = %event, %target, delivered, partial, "published event");
            metrics::published("socket", delivered, started.elapsed());
        }
        Via::Api(request_id) => {
            tracing::info!(request_id, event = %event, %target, delivered, partial, "published event");
            metrics::published("api", delivered, started.elapsed());
        }
    }
    PublishAck { delivered, partial, recorded }
}
