//! `who` `[room]`: the users in a room the socket is in, each with its public info and how many of its
//! sockets are in the room, counted on every hub of a cluster. The same query answers the
//! application's `GET /api/rooms/{room}` ([`control::room`]).
//!
//! Members only: a socket cannot list the users of rooms it may not join (JWT `rooms` claim). In a
//! cluster a `who` asks every hub, so it costs what a `join` costs under the socket's rate limit.

use std::sync::Arc;

use hub_protocol::control::RoomUsers;
use hub_protocol::{ErrorCode, Rejection, events};
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Extension, SocketRef, State, TryData};

use super::{malformed, reply};
use crate::control;
use crate::delivery::joined_rooms::JoinedRooms;
use crate::policy::identity::Identity;
use crate::policy::limits::{Action, SocketRate};
use crate::state::HubState;

#[allow(clippy::too_many_arguments)]
pub async fn who<A: Adapter>(
    socket: SocketRef<A>,
    io: SocketIo<A>,
    TryData(room): TryData<String>,
    State(hub): State<HubState>,
    Extension(identity): Extension<Identity>,
    Extension(rate): Extension<SocketRate>,
    Extension(joined): Extension<Arc<JoinedRooms>>,
    ack: AckSender<A>,
) {
    let outcome = async {
        let room = room.map_err(|_| malformed(events::WHO, "one argument: the room name as a string"))?;
        let room = hub_protocol::RoomName::parse(room)?;
        if !joined.contains(room.as_str()) {
            let message = format!("join room {:?} to see who is in it", room.as_str());
            return Err(Rejection::new(ErrorCode::NotInRoom, message));
        }
        if !identity.publisher {
            hub.limits.check_rate(&rate, Action::Join)?;
        }
        // The namespace is this socket's: it is served.
        let users = control::room(&io, &hub, socket.ns(), &room).await;
        users.ok_or_else(|| Rejection::new(ErrorCode::Unavailable, "the namespace closed meanwhile"))
    };
    let outcome: Result<RoomUsers, Rejection> = outcome.await;
    reply(&socket, ack, events::WHO, outcome);
}
