//! Recovery of the namespace's stream at CONNECT: a client that sends `since` or `history` in its auth
//! payload gets the events published to the whole namespace that it asked for, then the `recovery`
//! event with the stream's position.
//!
//! From admission until its replay is sent, the socket is in the hidden room
//! [`CATCHING_UP`](crate::delivery::meta_rooms::CATCHING_UP), which namespace-wide events skip: events
//! published meanwhile are recorded, and reach it through the replay, in offset order, once each. With
//! `history: K` (and no `since` that still holds), the replay is the last K events plus every event
//! recorded since the socket's admission, so that none published while it connected is lost.

use hub_protocol::{JoinOptions, events};
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;

use crate::delivery::{meta_rooms, replay};
use crate::history::{StreamKey, now_ms};
use crate::policy::identity::Identity;
use crate::state::HubState;

/// Events recorded up to this long before a socket's admission count as recorded during it: the hub's
/// clock and the one that timed the records (Redis's, in a cluster) may differ a little.
const CLOCK_MARGIN_MS: u64 = 1_000;

/// What a socket asked of its namespace's stream at CONNECT, and when it was admitted (milliseconds since
/// the Unix epoch), until its replay is sent.
#[derive(Debug, Clone)]
pub struct CatchUp(pub JoinOptions, pub u64);

/// Marks a socket being admitted as catching up: namespace-wide events skip it from now on.
pub fn begin<A: Adapter>(socket: &SocketRef<A>, options: JoinOptions) {
    socket.join(meta_rooms::CATCHING_UP);
    socket.extensions.insert(CatchUp(options, now_ms()));
}

/// Sends a connected socket what it asked for at CONNECT, then `recovery`, then lets namespace-wide
/// events reach it again.
pub async fn catch_up<A: Adapter>(
    socket: SocketRef<A>,
    hub: HubState,
    identity: Identity,
    options: JoinOptions,
    admitted_ms: u64,
) {
    let key = StreamKey::namespace(socket.ns());
    let turn = hub.history.turn(&key).await;
    // With `history`, every kept event is read, and the replay keeps the last K and those recorded
    // since the admission: namespace-wide events skipped the socket from then on.
    let wide = JoinOptions { since: options.since.clone(), history: options.history.map(|_| usize::MAX) };
    let mut replay = hub.history.replay(&key, &wide, socket.id).await;
    if let Some(last) = options.history
        && replay.stream.recovered != Some(true)
    {
        let since_admission = admitted_ms.saturating_sub(CLOCK_MARGIN_MS);
        let events = &replay.events;
        let recent = events.iter().position(|r| r.at_ms >= since_admission).unwrap_or(events.len());
        let from = events.len().saturating_sub(last).min(recent);
        replay.events.drain(..from);
        replay.stream.missed = Some(replay.events.len());
    }
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
