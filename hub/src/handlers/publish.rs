//! `publish` and direct emits: publishers push events to rooms or to the whole namespace.

use hub_protocol::names::parse_target_rooms;
use hub_protocol::{ErrorCode, EventName, PublishAck, PublishRequest, Rejection, Route, events};
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Event, Extension, SocketRef, TryData};

use super::arguments::Arguments;
use super::{malformed, reply};
use crate::delivery::{self, Reached, Scope, Target};
use crate::session::Identity;

/// `publish` `[{"event":E,"data":D,"rooms":[...]}]`: emits E with the arguments D and its [`Route`].
pub async fn publish<A: Adapter>(
    socket: SocketRef<A>,
    Extension(identity): Extension<Identity>,
    TryData(request): TryData<PublishRequest>,
    ack: AckSender<A>,
) {
    let outcome = async {
        require_publisher(&identity, events::PUBLISH)?;
        let request = request.map_err(|_| {
            malformed(events::PUBLISH, r#"{"event": string, "data": any, "rooms": [string]}"#)
        })?;
        let event = EventName::parse(request.event)?;
        let rooms = parse_target_rooms(request.rooms)?;
        let target =
            if rooms.is_empty() { Target::Namespace(socket.ns().to_owned()) } else { Target::Rooms(rooms) };
        let reached = deliver(&socket, &event, &target, &request.data).await?;
        Ok(published(&socket, &event, &target, reached))
    };
    reply(&socket, ack, events::PUBLISH, outcome.await);
}

/// Any other event from a publisher (Elephant.io style, e.g. `foo` `["bar"]`) goes to the whole namespace
/// with its arguments unchanged.
pub async fn direct_emit<A: Adapter>(
    socket: SocketRef<A>,
    Event(event): Event,
    Extension(identity): Extension<Identity>,
    TryData(arguments): TryData<Arguments>,
    ack: AckSender<A>,
) {
    let outcome = async {
        require_publisher(&identity, &event)?;
        let name = EventName::parse(event.as_str())?;
        let arguments = arguments.map_err(|_| malformed(&event, "JSON arguments"))?;
        let reached = delivery::emit_counted(|| socket.broadcast(), name.as_str(), &arguments).await?;
        Ok(published(&socket, &name, &Target::Namespace(socket.ns().to_owned()), reached))
    };
    reply(&socket, ack, &event, outcome.await);
}

fn require_publisher(identity: &Identity, event: &str) -> Result<(), Rejection> {
    if identity.publisher {
        Ok(())
    } else if event == events::PUBLISH {
        Err(Rejection::new(
            ErrorCode::Forbidden,
            "only publishers may publish: connect with the hub's publish token",
        ))
    } else {
        Err(Rejection::new(
            ErrorCode::Forbidden,
            format!("`{event}` is not an event of this hub; only publishers may emit other events"),
        ))
    }
}

/// Emits `event` with `data` and its [`Route`] to `target`.
async fn deliver<A: Adapter>(
    socket: &SocketRef<A>,
    event: &EventName,
    target: &Target,
    data: &serde_json::Value,
) -> Result<Reached<usize>, Rejection> {
    let namespace = socket.ns().to_owned();
    let rooms = match target {
        Target::Namespace(_) => {
            let route = Route { namespace, room: None };
            return Ok(delivery::emit_counted(|| socket.broadcast(), event.as_str(), &(data, &route)).await?);
        }
        Target::Rooms(rooms) => rooms,
    };
    // One broadcast per room, each sparing the sockets of the rooms before it: every receiver gets the
    // event once, with the first target room it is in as the route.
    let mut total = Reached { value: 0, scope: Scope::Cluster };
    for (i, room) in rooms.iter().enumerate() {
        let route = Route { namespace: namespace.clone(), room: Some(room.to_string()) };
        let earlier = || rooms[..i].iter().map(|r| r.to_string()).collect::<Vec<_>>();
        let select = || socket.to(room.to_string()).except(earlier());
        let reached = delivery::emit_counted(select, event.as_str(), &(data, &route)).await?;
        total.value += reached.value;
        if reached.scope == Scope::ThisNode {
            total.scope = Scope::ThisNode;
        }
    }
    Ok(total)
}

fn published<A: Adapter>(
    socket: &SocketRef<A>,
    event: &EventName,
    target: &Target,
    reached: Reached<usize>,
) -> PublishAck {
    let (delivered, partial) = (reached.value, reached.scope == Scope::ThisNode);
    tracing::info!(sid = %socket.id, ns = socket.ns(), event = %event, %target, delivered, partial, "published event");
    PublishAck { delivered, partial }
}
