//! `join` and `leave`: room membership, acked with the room's size afterwards (counted as the hub's
//! [`Mode`](crate::delivery::mode::Mode) counts). The room's other members hear of the change through
//! [`presence`](crate::delivery::presence).

use hub_protocol::{ErrorCode, Rejection, RoomMembers, RoomName, events};
use socketioxide::ParserError;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Extension, SocketRef, State, TryData};

use super::{malformed, reply};
use crate::delivery::meta_rooms;
use crate::policy::identity::Identity;
use crate::state::HubState;

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
        let members = hub.mode.join(&socket, room.as_str()).await?;
        if identity.meta {
            socket.join(meta_rooms::shadow(room.as_str()));
        }
        hub.presence.changed(&socket, room.as_str(), &hub.mode);
        Ok(RoomMembers {
            room: room.into_string(),
            members: members.value,
            partial: members.scope.is_partial(),
        })
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
        let members = hub.mode.leave(&socket, room.as_str()).await?;
        hub.presence.changed(&socket, room.as_str(), &hub.mode);
        Ok(RoomMembers {
            room: room.into_string(),
            members: members.value,
            partial: members.scope.is_partial(),
        })
    };
    reply(&socket, ack, events::LEAVE, outcome.await);
}

fn parse(event: &str, room: Result<String, ParserError>) -> Result<RoomName, Rejection> {
    RoomName::parse(room.map_err(|_| malformed(event, "one argument: the room name as a string"))?)
}
