//! `join` and `leave`: room membership, acked with the room's size afterwards (from
//! [`room_sizes`](crate::room_sizes) on a lone hub, from the adapter in a cluster). The room's other
//! members hear of the change through [`presence`](crate::presence).

use hub_protocol::{ErrorCode, Rejection, RoomMembers, RoomName, events};
use socketioxide::ParserError;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Extension, SocketRef, State, TryData};

use super::{malformed, reply};
use crate::session::{HubState, Identity};
use crate::{delivery, meta_rooms};

pub async fn join<A: Adapter>(
    socket: SocketRef<A>,
    TryData(room): TryData<String>,
    State(hub): State<HubState>,
    Extension(identity): Extension<Identity>,
    ack: AckSender<A>,
) {
    let outcome = async {
        let room = parse(events::JOIN, room)?;
        if !identity.may_join(room.as_str()) {
            return Err(Rejection::new(
                ErrorCode::Forbidden,
                format!("your token does not allow room {:?}", room.as_str()),
            ));
        }
        let members = match &hub.room_sizes {
            Some(sizes) => sizes.join(&socket, room.as_str()),
            None => {
                socket.join(room.as_str().to_owned());
                count(&socket, &room).await?
            }
        };
        if identity.meta {
            socket.join(meta_rooms::shadow(room.as_str()));
        }
        hub.presence.changed(&socket, room.as_str());
        Ok(RoomMembers { room: room.into_string(), members })
    };
    reply(&socket, ack, events::JOIN, outcome.await);
}

pub async fn leave<A: Adapter>(
    socket: SocketRef<A>,
    TryData(room): TryData<String>,
    State(hub): State<HubState>,
    ack: AckSender<A>,
) {
    let outcome = async {
        let room = parse(events::LEAVE, room)?;
        // Harmless for a socket that is not in it.
        socket.leave(meta_rooms::shadow(room.as_str()));
        let members = match &hub.room_sizes {
            Some(sizes) => sizes.leave(&socket, room.as_str()),
            None => {
                socket.leave(room.as_str().to_owned());
                count(&socket, &room).await?
            }
        };
        hub.presence.changed(&socket, room.as_str());
        Ok(RoomMembers { room: room.into_string(), members })
    };
    reply(&socket, ack, events::LEAVE, outcome.await);
}

fn parse(event: &str, room: Result<String, ParserError>) -> Result<RoomName, Rejection> {
    RoomName::parse(room.map_err(|_| malformed(event, "one argument: the room name as a string"))?)
}

/// The room's size from the adapter (in a cluster: on every node).
async fn count<A: Adapter>(socket: &SocketRef<A>, room: &RoomName) -> Result<usize, Rejection> {
    Ok(delivery::count(|| socket.within(room.as_str().to_owned())).await?.value)
}
