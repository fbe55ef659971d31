//! Joining and leaving a room, the one path for both a socket's own `join` and `leave` events and the
//! application's `POST /api/join` and `/api/leave`: the room's size counted as the hub's
//! [`Mode`](super::mode::Mode) counts, `--max-rooms-per-socket`, the history asked for, the room's turn
//! and the `members` update. Who may ask (a JWT's `rooms` claim, the socket's rate) is the caller's
//! check: the events check it, the application is trusted and does not.

use hub_protocol::{ErrorCode, JoinAck, JoinOptions, Rejection, RoomMembers, RoomName};
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;

use super::joined_rooms::JoinedRooms;
use super::mode::Membership;
use super::replay;
use crate::history::StreamKey;
use crate::policy::identity::Identity;
use crate::state::HubState;

/// Puts `socket` in `room` after sending the recorded events `options` asks for, and hands the outcome
/// to `then` while the room's turn is still held: the events replayed, then whatever `then` sends (the
/// ack), then the room's live events, each after the one before.
pub async fn join<A: Adapter>(
    socket: &SocketRef<A>,
    hub: &HubState,
    identity: &Identity,
    joined: &JoinedRooms,
    room: RoomName,
    options: JoinOptions,
    then: impl FnOnce(Result<JoinAck, Rejection>),
) {
    let key = StreamKey::room(socket.ns(), room.as_str());
    // In a cluster the room is counted before its turn is taken: counting waits for the other hubs.
    let counted = hub.mode.count_before_join(socket, room.as_str()).await;
    let _turn = hub.history.turn(&key).await;
    let outcome = async {
        let counted = counted?;
        // Refused before the history is sent, so that a refused join sends nothing of the room.
        let max = hub.limits.max_rooms(identity.publisher);
        joined.may_join(room.as_str(), max)?;
        let replay = hub.history.replay(&key, &options, socket.id).await;
        if let Some(position) = &replay.position {
            replay::send(socket, identity.meta, &key, position, &replay.events)
                .map_err(|e| Rejection::new(ErrorCode::Unavailable, format!("history not sent: {e}")))?;
        }
        let membership = hub.mode.join(socket, joined, room.as_str(), max, counted)?;
        if membership.changed {
            hub.presence.changed(socket, room.as_str(), &hub.mode);
            if let Some(feed) = hub.admin_feed() {
                feed.joined(socket, room.as_str());
            }
        }
        Ok(JoinAck { members: room_members(room, &membership), stream: replay.stream })
    };
    then(outcome.await);
}

/// Takes `socket` out of `room`; returns the room's size afterwards (0 when it was not in it) and
/// whether it was in it.
pub async fn leave<A: Adapter>(
    socket: &SocketRef<A>,
    hub: &HubState,
    joined: &JoinedRooms,
    room: RoomName,
) -> Result<(RoomMembers, bool), Rejection> {
    let membership = hub.mode.leave(socket, joined, room.as_str()).await?;
    if membership.changed {
        hub.presence.changed(socket, room.as_str(), &hub.mode);
        if let Some(feed) = hub.admin_feed() {
            feed.left(socket, room.as_str());
        }
    }
    Ok((room_members(room, &membership), membership.changed))
}

/// The room's size after a join or leave, as the ack gives it.
fn room_members(room: RoomName, membership: &Membership) -> RoomMembers {
    RoomMembers {
        room: room.into_string(),
        members: membership.members.value,
        partial: membership.members.scope.is_partial(),
    }
}
