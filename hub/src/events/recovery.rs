//! Recovery of the namespace's stream at CONNECT: a client that sends `since` or `history` in its auth
//! payload gets the events published to the whole namespace that it asked for, then the `recovery`
//! event with the stream's position.
//!
//! From admission until its replay is sent, the socket is in the hidden room
//! [`CATCHING_UP`](crate::delivery::meta_rooms::CATCHING_UP), which namespace-wide events skip: events
//! published meanwhile are recorded, and reach it through the replay, in offset order, once each.

use hub_protocol::{JoinOptions, events};
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;

use crate::delivery::{meta_rooms, replay};
use crate::history::StreamKey;
use crate::policy::identity::Identity;
use crate::state::HubState;

/// What a socket asked of its namespace's stream at CONNECT, until its replay is sent.
#[derive(Debug, Clone)]
pub struct CatchUp(pub JoinOptions);

/// Marks a socket being admitted as catching up: namespace-wide events skip it from now on.
pub fn begin<A: Adapter>(socket: &SocketRef<A>, options: JoinOptions) {
    socket.join(meta_rooms::CATCHING_UP);
    socket.extensions.insert(CatchUp(options));
}

/// Sends a connected socket what it asked for at CONNECT, then `recovery`, then lets namespace-wide
/// events reach it again.
pub async fn catch_up<A: Adapter>(
    socket: SocketRef<A>,
    hub: HubState,
    identity: Identity,
    options: JoinOptions,
) {
    let key = StreamKey::namespace(socket.ns());
    let turn = hub.history.turn(&key).await;
    let replay = hub.history.replay(&key, &options, socket.id).await;
    if let Some(position) = &replay.position
        && let Err(e) = replay::send(&socket, identity.meta, &key, position, &replay.events)
    {
        tracing::debug!(sid = %socket.id, "namespace history not sent: {e}");
        return;
    }
    let stream = replay.stream;
    if let Err(e) = socket.emit(events::RECOVERY, &stream) {
        tracing::debug!(sid = %socket.id, "`recovery` not sent: {e}");
    }
    socket.leave(meta_rooms::CATCHING_UP);
    drop(turn);
}
