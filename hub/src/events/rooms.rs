//! `join` and `leave`: room membership, acked with the room's size afterwards (counted as the hub's
//! [`Mode`](crate::delivery::mode::Mode) counts). The room's other members hear of a change through
//! [`presence`](crate::delivery::presence); a request that changes nothing (joining a room twice, leaving
//! one the socket is not in) is not a change, costs no rate and tells nobody.
//!
//! A socket learns a room's size only as a member: leaving a room it is not in is acked with 0, so a
//! socket cannot count the members of rooms it may not join (JWT `rooms` claim).

use std::sync::Arc;

use hub_protocol::{ErrorCode, Rejection, RoomMembers, RoomName, events};
use socketioxide::ParserError;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Extension, SocketRef, State, TryData};

use super::{malformed, reply};
use crate::delivery::joined_rooms::JoinedRooms;
use crate::policy::identity::Identity;
use crate::policy::limits::{Action, SocketRate};
use crate::state::HubState;

pub async fn join<A: Adapter>(
    socket: SocketRef<A>,
    TryData(room): TryData<String>,
    State(hub): State<HubState>,
    Extension(identity): Extension<Identity>,
    Extension(rate): Extension<SocketRate>,
    Extension(joined): Extension<Arc<JoinedRooms>>,
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
        // Events of one socket run one at a time: only a disconnect can change its rooms meanwhile, and
        // `Mode::join` refuses a disconnected socket.
        if !identity.publisher && !joined.contains(room.as_str()) {
            hub.limits.check_rate(&rate, Action::Join)?;
        }
        let max = hub.limits.max_rooms(identity.publisher);
        let membership = hub.mode.join(&socket, &joined, room.as_str(), max).await?;
        if membership.changed {
            hub.presence.changed(&socket, room.as_str(), &hub.mode);
        }
        Ok(RoomMembers {
            room: room.into_string(),
            members: membership.members.value,
            partial: membership.members.scope.is_partial(),
        })
    };
    reply(&socket, ack, events::JOIN, outcome.await);
}

pub async fn leave<A: Adapter>(
    socket: SocketRef<A>,
    TryData(room): TryData<String>,
    State(hub): State<HubState>,
    Extension(identity): Extension<Identity>,
    Extension(rate): Extension<SocketRate>,
    Extension(joined): Extension<Arc<JoinedRooms>>,
    ack: AckSender<A>,
) {
    let outcome = async {
        let room = parse(events::LEAVE, room)?;
        if !identity.publisher && joined.contains(room.as_str()) {
            hub.limits.check_rate(&rate, Action::Join)?;
        }
        let membership = hub.mode.leave(&socket, &joined, room.as_str()).await?;
        if membership.changed {
            hub.presence.changed(&socket, room.as_str(), &hub.mode);
        }
        Ok(RoomMembers {
            room: room.into_string(),
            members: membership.members.value,
            partial: membership.members.scope.is_partial(),
        })
    };
    reply(&socket, ack, events::LEAVE, outcome.await);
}

fn parse(event: &str, room: Result<String, ParserError>) -> Result<RoomName, Rejection> {
    RoomName::parse(room.map_err(|_| malformed(event, "one argument: the room name as a string"))?)
}
