//! `publish` and direct emits: publishers push events to rooms or to the whole namespace.

use hub_protocol::{ErrorCode, EventName, PublishAck, PublishRequest, Rejection, RoomName, events};
use serde::Serialize;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Event, Extension, SocketRef, TryData};

use super::arguments::Arguments;
use super::{malformed, reply};
use crate::delivery::{self, Target};
use crate::session::Identity;

/// `publish` `[{"event":E,"data":D,"rooms":[...]}]`: emits E with the single argument D.
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
        let rooms = request.rooms.into_iter().map(RoomName::parse).collect::<Result<Vec<_>, _>>()?;
        let target =
            if rooms.is_empty() { Target::Namespace(socket.ns().to_owned()) } else { Target::Rooms(rooms) };
        deliver(&socket, &event, &target, &request.data).await
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
        deliver(&socket, &name, &Target::Namespace(socket.ns().to_owned()), &arguments).await
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

async fn deliver<A: Adapter, T: Serialize + ?Sized>(
    socket: &SocketRef<A>,
    event: &EventName,
    target: &Target,
    data: &T,
) -> Result<PublishAck, Rejection> {
    let delivered = match target {
        Target::Namespace(_) => delivery::emit_counted(|| socket.broadcast(), event.as_str(), data).await?,
        Target::Rooms(rooms) => {
            let rooms = || rooms.iter().map(|room| room.as_str().to_owned()).collect::<Vec<_>>();
            delivery::emit_counted(|| socket.to(rooms()), event.as_str(), data).await?
        }
    };
    tracing::info!(sid = %socket.id, ns = socket.ns(), event = %event, %target, delivered, "published event");
    Ok(PublishAck { delivered })
}
