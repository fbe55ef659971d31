//! The application's view and control of the hub's sockets, cluster-wide: who is in a room (`who` and
//! `GET /api/rooms/{room}` share [`room`]), the rooms of a namespace, a user's sockets, and disconnects,
//! joins and leaves on the application's request.
//!
//! Every request is answered by each hub from its own sockets ([`local`]); in a cluster, the other hubs
//! are asked over Redis ([`link`]) while this one answers its part, and the answers are merged
//! ([`merge`]). A hub that does not answer within [`READ_WAIT`] (reads) or [`ACTION_WAIT`] (disconnects,
//! joins, leaves, which may wait for a socket's earlier events or a cluster-wide count) is left out and
//! the answer says `"partial":true`.

mod admin;
pub mod link;
mod local;
mod merge;

use std::time::Duration;

use hub_protocol::admin::{AdminOperation, SerializedSocket};
use hub_protocol::control::{
    ControlAnswer, ControlQuery, Disconnected, MembershipChanged, RoomList, RoomUsers, Target, UserSockets,
};
use hub_protocol::{NamespacePath, RoomName, UserName};
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;

pub use merge::Counts;

use crate::delivery::mode::Mode;
use crate::state::HubState;

/// How long a read waits for the other hubs.
pub const READ_WAIT: Duration = Duration::from_millis(1_500);
/// How long a disconnect, join or leave waits for the other hubs: a join there may first wait for the
/// socket's earlier events and for a cluster-wide count (up to 2 s when a hub is gone).
pub const ACTION_WAIT: Duration = Duration::from_secs(3);

/// Every hub's answer to `query` (this one's included), and whether one may be missing.
async fn ask<A: Adapter>(
    io: &SocketIo<A>,
    hub: &HubState,
    query: ControlQuery,
) -> (Vec<ControlAnswer>, bool) {
    let wait = match query {
        ControlQuery::Rooms { .. }
        | ControlQuery::Room { .. }
        | ControlQuery::User { .. }
        | ControlQuery::AdminSockets => READ_WAIT,
        _ => ACTION_WAIT,
    };
    let here = local::answer(io, hub, &query);
    match &hub.mode {
        Mode::Alone(_) => (vec![here.await], false),
        Mode::Cluster(link, _) => {
            let (here, there) = tokio::join!(here, link.control().ask(&query, wait));
            let mut answers = there.answers;
            answers.push(here);
            (answers, there.scope.is_partial())
        }
    }
}

/// The rooms of `namespace` with at least one member; `None` when no hub serves the namespace.
pub async fn rooms<A: Adapter>(
    io: &SocketIo<A>,
    hub: &HubState,
    namespace: &NamespacePath,
) -> Option<RoomList> {
    let query = ControlQuery::Rooms { namespace: namespace.as_str().to_owned() };
    let (answers, partial) = ask(io, hub, query).await;
    merge::rooms(answers, partial)
}

/// The members of `room`, by user; `None` when no hub serves the namespace.
pub async fn room<A: Adapter>(
    io: &SocketIo<A>,
    hub: &HubState,
    namespace: &str,
    room: &RoomName,
) -> Option<RoomUsers> {
    let query = ControlQuery::Room { namespace: namespace.to_owned(), room: room.as_str().to_owned() };
    let (answers, partial) = ask(io, hub, query).await;
    merge::room(room.as_str().to_owned(), answers, partial)
}

/// The sockets of `user`; `None` when it has none.
pub async fn user<A: Adapter>(io: &SocketIo<A>, hub: &HubState, user: &UserName) -> Option<UserSockets> {
    let (answers, partial) = ask(io, hub, ControlQuery::User { user: user.as_str().to_owned() }).await;
    let (sockets, truncated) = merge::user(answers);
    (!sockets.is_empty()).then(|| UserSockets { user: user.as_str().to_owned(), sockets, truncated, partial })
}

/// Sends `kicked` with `reason` to the sockets `target` names (of `namespace`, or of every namespace),
/// then disconnects them; `None` when no hub serves the namespace.
pub async fn disconnect<A: Adapter>(
    io: &SocketIo<A>,
    hub: &HubState,
    namespace: Option<&NamespacePath>,
    target: Target,
    reason: String,
) -> Option<Disconnected> {
    let namespace = namespace.map(|ns| ns.as_str().to_owned());
    let (answers, partial) = ask(io, hub, ControlQuery::Disconnect { namespace, target, reason }).await;
    let counts = merge::counts(answers);
    counts.known.then_some(Disconnected { disconnected: counts.done, partial })
}

/// Whether an application's join or leave adds sockets to the room or takes them out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Join,
    Leave,
}

/// Has every socket of `user` in `namespace` join or leave `room`; the counts, and whether a hub may
/// be missing.
pub async fn change<A: Adapter>(
    io: &SocketIo<A>,
    hub: &HubState,
    change: Change,
    namespace: &NamespacePath,
    user: &UserName,
    room: &RoomName,
) -> (Counts, MembershipChanged) {
    let (namespace, user, room) =
        (namespace.as_str().to_owned(), user.as_str().to_owned(), room.as_str().to_owned());
    let query = match change {
        Change::Join => ControlQuery::Join { namespace, user, room },
        Change::Leave => ControlQuery::Leave { namespace, user, room },
    };
    let (answers, partial) = ask(io, hub, query).await;
    let counts = merge::counts(answers);
    (counts, MembershipChanged { sockets: counts.done, refused: counts.refused, partial })
}

/// Every socket of the cluster for the Admin UI (`all_sockets`), whether the list was cut, and whether
/// a hub may be missing.
pub async fn admin_sockets<A: Adapter>(
    io: &SocketIo<A>,
    hub: &HubState,
) -> (Vec<SerializedSocket>, bool, bool) {
    let (answers, partial) = ask(io, hub, ControlQuery::AdminSockets).await;
    let (sockets, truncated) = merge::admin_sockets(answers);
    (sockets, truncated, partial)
}

/// Carries out an operation of the Admin UI on every hub; the counts, and whether a hub may be missing.
pub async fn admin<A: Adapter>(
    io: &SocketIo<A>,
    hub: &HubState,
    operation: AdminOperation,
) -> (Counts, bool) {
    let (answers, partial) = ask(io, hub, ControlQuery::Admin { operation }).await;
    (merge::counts(answers), partial)
}
