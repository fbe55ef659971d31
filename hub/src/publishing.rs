//! Publishing: validating a publish request and delivering it, for the `publish` event, publishers'
//! direct emits and the HTTP API alike.

use std::fmt;
use std::time::Instant;

use hub_protocol::names::parse_target_rooms;
use hub_protocol::{EventName, PublishAck, PublishRequest, Rejection, RoomName, Route};
use serde_json::Value;
use socketioxide::adapter::Adapter;
use socketioxide::operators::BroadcastOperators;

use crate::delivery::{self, Reached, Scope};
use crate::limits::Limits;
use crate::metrics;

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

/// A checked `publish` request.
#[derive(Debug, Clone)]
pub struct Publication {
    pub event: EventName,
    pub target: Target,
    pub data: Value,
}

impl Publication {
    /// Checks a request for `namespace`: event name, rooms, data size.
    pub fn parse(request: PublishRequest, namespace: &str, limits: &Limits) -> Result<Self, Rejection> {
        let event = EventName::parse(request.event)?;
        let rooms = parse_target_rooms(request.rooms)?;
        limits.check_size("data", &request.data)?;
        let target =
            if rooms.is_empty() { Target::Namespace(namespace.to_owned()) } else { Target::Rooms(rooms) };
        Ok(Self { event, target, data: request.data })
    }

    /// Emits the event with its data and [`Route`] to the target, every receiver once. `base` selects
    /// the namespace's sockets that may receive (for a publisher's socket: all but itself).
    pub async fn deliver<A: Adapter>(
        &self,
        base: impl Fn() -> BroadcastOperators<A>,
        namespace: &str,
    ) -> Result<Reached<usize>, Rejection> {
        let event = self.event.as_str();
        let rooms = match &self.target {
            Target::Namespace(_) => {
                let route = Route { namespace: namespace.to_owned(), room: None };
                return Ok(delivery::emit_counted(&base, event, &(&self.data, &route)).await?);
            }
            Target::Rooms(rooms) => rooms,
        };
        // One broadcast per room, each sparing the sockets of the rooms before it: every receiver gets
        // the event once, with the first target room it is in as the route.
        let mut total = Reached { value: 0, scope: Scope::Cluster };
        for (i, room) in rooms.iter().enumerate() {
            let route = Route { namespace: namespace.to_owned(), room: Some(room.to_string()) };
            let earlier = || rooms[..i].iter().map(|r| r.to_string()).collect::<Vec<_>>();
            let select = || base().to(room.to_string()).except(earlier());
            let reached = delivery::emit_counted(select, event, &(&self.data, &route)).await?;
            total.value += reached.value;
            if reached.scope == Scope::ThisNode {
                total.scope = Scope::ThisNode;
            }
        }
        Ok(total)
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
    let (delivered, partial) = (reached.value, reached.scope == Scope::ThisNode);
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
