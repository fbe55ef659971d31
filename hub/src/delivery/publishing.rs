//! Publishing: validating a publish request and delivering it, for the `publish` event, publishers'
//! direct emits and the HTTP API alike.

use std::fmt;
use std::time::Instant;

use hub_protocol::names::parse_target_rooms;
use hub_protocol::{
    Argument, Arguments, EventMeta, EventName, PublishAck, PublishRequest, Rejection, RoomName, WithTrailing,
};
use socketioxide::adapter::Adapter;
use socketioxide::operators::BroadcastOperators;

use super::{self as delivery, Reached, Scope, meta_rooms};
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
    /// Exactly what the receivers get: for `publish`, its `data` as the one argument.
    pub arguments: Arguments,
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
        Ok(Self { event, target, arguments: Arguments(vec![request.data]) })
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
        Ok(Self { event, target: Target::Namespace(namespace.to_owned()), arguments })
    }

    /// Emits the event to the target, every receiver once: with exactly its arguments, and to the
    /// sockets that asked for it ([`meta_rooms`]) with its [`EventMeta`] after them. `base` selects the
    /// namespace's sockets that may receive (for a publisher's socket: all but itself).
    pub async fn deliver<A: Adapter>(
        &self,
        base: impl Fn() -> BroadcastOperators<A>,
        namespace: &str,
    ) -> Result<Reached<usize>, Rejection> {
        let rooms = match &self.target {
            Target::Namespace(_) => {
                let meta = EventMeta { namespace: namespace.to_owned(), room: None };
                let plain = || base().except(meta_rooms::ALL);
                return self.emit_to_both(plain, || base().to(meta_rooms::ALL), &meta).await;
            }
            Target::Rooms(rooms) => rooms,
        };
        // One broadcast per room and group, each sparing the sockets of the rooms before it: every
        // receiver gets the event once, with the first target room it is in as the metadata's room.
        let mut total = Reached { value: 0, scope: Scope::Cluster };
        for (i, room) in rooms.iter().enumerate() {
            let earlier = || rooms[..i].iter().map(|r| r.to_string());
            let shadow = meta_rooms::shadow(room.as_str());
            let plain =
                || base().to(room.to_string()).except(earlier().chain([shadow.clone()]).collect::<Vec<_>>());
            let asked = || base().to(shadow.clone()).except(earlier().collect::<Vec<_>>());
            let meta = EventMeta { namespace: namespace.to_owned(), room: Some(room.to_string()) };
            total = total.and(self.emit_to_both(plain, asked, &meta).await?);
        }
        Ok(total)
    }

    /// Emits the event with exactly its arguments to `plain`, and with `meta` after them to `asked`.
    async fn emit_to_both<A: Adapter>(
        &self,
        plain: impl Fn() -> BroadcastOperators<A>,
        asked: impl Fn() -> BroadcastOperators<A>,
        meta: &EventMeta,
    ) -> Result<Reached<usize>, Rejection> {
        let event = self.event.as_str();
        let plain = delivery::emit_counted(plain, event, &self.arguments).await?;
        let asked = delivery::emit_counted(asked, event, &WithTrailing(&self.arguments, meta)).await?;
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
    reached: Reached<usize>,
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
    PublishAck { delivered, partial }
}
