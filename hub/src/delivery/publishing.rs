//! Publishing: validating a publish request, recording it in the target streams' history and
//! delivering it, for the `publish` event, publishers' direct emits and the HTTP API alike.
//!
//! Each target stream (each room, or the namespace) records the event and delivers it within its
//! [`turn`](crate::history::Turns): its members receive its events in offset order. In a cluster that
//! keeps history, Redis records the event and announces it to every hub in one step, and each hub
//! delivers it within the stream's turn ([`dispatch`](super::dispatch)); this hub only counts the
//! receivers first.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use hub_protocol::names::parse_target_rooms;
use hub_protocol::{
    Argument, Arguments, EventName, PublishAck, PublishRequest, RecordedAt, Rejection, RoomName, WithTrailing,
};
use socketioxide::adapter::Adapter;
use socketioxide::operators::BroadcastOperators;
use socketioxide::socket::Sid;

use super::mode::Mode;
use super::{self as delivery, Reached, Scope, audience};
use crate::history::announcement::Audience;
use crate::history::{Event, History, Position, RedisHistory, StreamKey, now_ms};
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
    /// exactly its arguments, and to the sockets that asked for it ([`meta_rooms`](super::meta_rooms))
    /// with its [`EventMeta`](hub_protocol::EventMeta) after them. `base` selects the namespace's
    /// sockets that may receive: for a publisher's socket (`sender`), all but itself.
    pub async fn deliver<A: Adapter>(
        &self,
        base: impl Fn() -> BroadcastOperators<A>,
        sender: Option<Sid>,
        namespace: &str,
        history: &History,
        mode: &Mode,
    ) -> Result<Delivered, Rejection> {
        // One stream per target room, each sparing the sockets of the rooms before it: every receiver
        // gets the event once, with the first target room it is in as the metadata's room.
        let audiences: Vec<Audience> = match &self.target {
            Target::Namespace(_) => {
                vec![Audience { key: StreamKey::namespace(namespace), earlier: Vec::new(), sender }]
            }
            Target::Rooms(rooms) => rooms
                .iter()
                .enumerate()
                .map(|(i, room)| Audience {
                    key: StreamKey::room(namespace, room.as_str()),
                    earlier: rooms[..i].iter().map(|r| r.to_string()).collect(),
                    sender,
                })
                .collect(),
        };
        let mut delivered =
            Delivered { reached: Reached { value: 0, scope: Scope::Cluster }, recorded: Vec::new() };
        for audience in &audiences {
            let (reached, position) = match history.shared() {
                Some(shared) => self.announce(audience, shared, history, mode, &base).await?,
                None => self.record_and_emit(audience, history, &base).await?,
            };
            delivered.reached = delivered.reached.and(reached);
            delivered.recorded.extend(position.map(|p| p.recorded_at(&audience.key)));
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

    /// The event, as history records it.
    fn event(&self) -> Event {
        Event::Published { event: self.event.as_str().to_owned(), arguments: Arc::clone(&self.arguments) }
    }

    /// Records the event in `key`'s stream (call it within the stream's turn), unless it is volatile.
    async fn record_in(&self, key: &StreamKey, history: &History) -> Result<Option<Position>, Rejection> {
        if !self.recorded {
            return Ok(None);
        }
        Ok(history.record(key, now_ms(), self.event()).await?)
    }

    /// Within the stream's turn: records the event (unless it is volatile) and emits it to its
    /// `audience`.
    async fn record_and_emit<A: Adapter>(
        &self,
        audience: &Audience,
        history: &History,
        base: &impl Fn() -> BroadcastOperators<A>,
    ) -> Result<(Reached<usize>, Option<Position>), Rejection> {
        let Audience { key, earlier, .. } = audience;
        let _turn = history.turn(key).await;
        let position = self.record_in(key, history).await?;
        let plain = || audience::plain(key, earlier, base());
        let asked = || audience::asked(key, earlier, base());
        let reached = self.emit(key, position.as_ref(), plain, asked).await?;
        Ok((reached, position))
    }

    /// In a cluster that keeps history: counts the event's receivers on every hub, then has Redis record
    /// it and announce it to every hub, which deliver it. Without Redis, delivers it to this hub's
    /// receivers only, within the stream's turn, and unrecorded.
    async fn announce<A: Adapter>(
        &self,
        audience: &Audience,
        shared: &RedisHistory,
        history: &History,
        mode: &Mode,
        base: &impl Fn() -> BroadcastOperators<A>,
    ) -> Result<(Reached<usize>, Option<Position>), Rejection> {
        let Audience { key, earlier, .. } = audience;
        let plain = || audience::plain(key, earlier, base());
        let asked = || audience::asked(key, earlier, base());
        let counted = match mode {
            // This hub's receivers, and a number from each other hub.
            Mode::Cluster(link, _) => {
                let here = plain().sockets().len() + asked().sockets().len();
                let there = link.receivers_elsewhere(audience).await;
                Reached { value: here + there.value, scope: there.scope }
            }
            Mode::Alone(_) => delivery::count(plain).await?.and(delivery::count(asked).await?),
        };
        if counted.scope != Scope::ThisNode
            && let Ok(position) = shared.announce(audience, now_ms(), &self.event(), self.recorded).await
        {
            return Ok((counted, position));
        }
        if self.recorded {
            shared.broke(key);
        }
        let _turn = history.turn(key).await;
        let reached = self.emit(key, None, || plain().local(), || asked().local()).await?;
        Ok((Reached { scope: Scope::ThisNode, ..reached }, None))
    }

    /// Emits the event recorded at `position` with exactly its arguments to `plain`, and with its
    /// metadata after them to `asked`.
    async fn emit<A: Adapter>(
        &self,
        key: &StreamKey,
        position: Option<&Position>,
        plain: impl Fn() -> BroadcastOperators<A>,
        asked: impl Fn() -> BroadcastOperators<A>,
    ) -> Result<Reached<usize>, Rejection> {
        let meta = audience::meta(key, position);
        let event = self.event.as_str();
        let plain = delivery::emit_counted(plain, event, &*self.arguments).await?;
        let asked = delivery::emit_counted(asked, event, &WithTrailing(&*self.arguments, &meta)).await?;
        Ok(plain.and(asked))
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
