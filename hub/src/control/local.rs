//! One hub's part of a control request, answered from its own sockets: who is in a room, a user's
//! sockets, and the application's disconnects, joins and leaves carried out on them.
//!
//! Joins and leaves run on the socket's own [`EventQueue`], after the events it sent before, exactly as
//! if the socket had sent them, through [`membership`] like its own `join` and `leave`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use hub_protocol::control::{
    ControlAnswer, ControlQuery, Kicked, MAX_ROOMS, MAX_USERS, RoomCount, RoomUser, Target, UserSocket,
};
use hub_protocol::events::KICKED;
use hub_protocol::{JoinOptions, Rejection, RoomName};
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;
use tokio::sync::oneshot;

use super::{Change, admin};
use crate::delivery::joined_rooms::JoinedRooms;
use crate::delivery::mode::Mode;
use crate::delivery::{audience, membership};
use crate::events::EventQueue;
use crate::history::StreamKey;
use crate::policy::identity::Identity;
use crate::state::HubState;

/// How long a join or leave may wait behind the events its socket sent before; the application's
/// request answers without the sockets still waiting (they still join or leave).
const QUEUED_WAIT: Duration = Duration::from_secs(2);

/// This hub's answer to `query`.
pub async fn answer<A: Adapter>(io: &SocketIo<A>, hub: &HubState, query: &ControlQuery) -> ControlAnswer {
    match query {
        ControlQuery::Rooms { namespace } => rooms(io, namespace),
        ControlQuery::Room { namespace, room } => room_users(io, namespace, room),
        ControlQuery::User { user } => user_sockets(io, user),
        ControlQuery::Disconnect { namespace, target, reason } => {
            disconnect(io, namespace.as_deref(), target, reason)
        }
        ControlQuery::Join { namespace, user, room } => {
            change(hub, users_sockets(io, namespace, user), room, Change::Join).await
        }
        ControlQuery::Leave { namespace, user, room } => {
            change(hub, users_sockets(io, namespace, user), room, Change::Leave).await
        }
        ControlQuery::Receivers { namespace, room, earlier } => {
            receivers(io, hub, namespace, room.as_deref(), earlier)
        }
        ControlQuery::AdminSockets => admin::sockets(io, hub),
        ControlQuery::Admin { operation } => admin::operate(io, hub, operation).await,
    }
}

/// This hub's sockets that an event of `room`'s stream (or the namespace's, for `None`) reaches, those in
/// the `earlier` rooms spared: the selections that [`dispatch`](crate::delivery::dispatch) emits it to
/// here.
fn receivers<A: Adapter>(
    io: &SocketIo<A>,
    hub: &HubState,
    namespace: &str,
    room: Option<&str>,
    earlier: &[String],
) -> ControlAnswer {
    let valid =
        room.into_iter().chain(earlier.iter().map(String::as_str)).all(|r| RoomName::parse(r).is_ok());
    let (Some(ns), true) = (io.of(namespace), valid) else {
        return ControlAnswer::Receivers { known: false, count: 0 };
    };
    // One room's events reach all its members (those who asked for metadata through its shadow room
    // too): the size this hub keeps, without listing them.
    if let (Some(room), true, Mode::Cluster(_, sizes)) = (room, earlier.is_empty(), &hub.mode) {
        return ControlAnswer::Receivers { known: true, count: sizes.size(namespace, room) };
    }
    let key = match room {
        Some(room) => StreamKey::room(namespace, room),
        None => StreamKey::namespace(namespace),
    };
    let plain = audience::plain(&key, earlier, ns.clone()).sockets().len();
    let asked = audience::asked(&key, earlier, ns).sockets().len();
    ControlAnswer::Receivers { known: true, count: plain + asked }
}

/// The rooms of `namespace` with at least one of this hub's sockets, by name.
fn rooms<A: Adapter>(io: &SocketIo<A>, namespace: &str) -> ControlAnswer {
    let Some(sockets) = io.of(namespace).map(|ns| ns.sockets()) else {
        return ControlAnswer::Rooms { known: false, rooms: Vec::new(), truncated: false };
    };
    let mut sizes = BTreeMap::<String, usize>::new();
    for socket in &sockets {
        for room in joined(socket).map(|joined| joined.rooms()).unwrap_or_default() {
            *sizes.entry(room).or_default() += 1;
        }
    }
    let truncated = sizes.len() > MAX_ROOMS;
    let rooms =
        sizes.into_iter().take(MAX_ROOMS).map(|(room, members)| RoomCount { room, members }).collect();
    ControlAnswer::Rooms { known: true, rooms, truncated }
}

/// This hub's sockets in `room`, by user.
fn room_users<A: Adapter>(io: &SocketIo<A>, namespace: &str, room: &str) -> ControlAnswer {
    let (Some(ns), Ok(room)) = (io.of(namespace), RoomName::parse(room)) else {
        return ControlAnswer::Room { known: false, members: 0, users: Vec::new(), truncated: false };
    };
    let mut users = BTreeMap::<String, RoomUser>::new();
    let mut members = 0;
    for socket in ns.within(room.into_string()).sockets() {
        let Some(identity) = socket.extensions.get::<Identity>() else { continue };
        members += 1;
        let user = identity.user.as_str();
        users
            .entry(user.to_owned())
            .or_insert_with(|| RoomUser {
                user: user.to_owned(),
                info: identity.info.as_deref().cloned(),
                sockets: 0,
            })
            .sockets += 1;
    }
    let truncated = users.len() > MAX_USERS;
    let users = users.into_values().take(MAX_USERS).collect();
    ControlAnswer::Room { known: true, members, users, truncated }
}

/// This hub's sockets of `user`, in every namespace, sorted.
fn user_sockets<A: Adapter>(io: &SocketIo<A>, user: &str) -> ControlAnswer {
    let mut sockets: Vec<UserSocket> = io
        .nsps()
        .into_iter()
        .flat_map(|ns| ns.sockets())
        .filter(|socket| is_of(socket, user))
        .map(|socket| {
            let mut rooms = joined(&socket).map(|joined| joined.rooms()).unwrap_or_default();
            rooms.sort_unstable();
            UserSocket { namespace: socket.ns().to_owned(), rooms }
        })
        .collect();
    sockets.sort_unstable_by(|a, b| (&a.namespace, &a.rooms).cmp(&(&b.namespace, &b.rooms)));
    let truncated = sockets.len() > MAX_USERS;
    sockets.truncate(MAX_USERS);
    ControlAnswer::User { sockets, truncated }
}

/// Sends `kicked` to each socket `target` names, then disconnects it.
fn disconnect<A: Adapter>(
    io: &SocketIo<A>,
    namespace: Option<&str>,
    target: &Target,
    reason: &str,
) -> ControlAnswer {
    let namespaces = match namespace {
        Some(path) => io.of(path).into_iter().collect(),
        None => io.nsps(),
    };
    let known = namespace.is_none() || !namespaces.is_empty();
    let sockets: Vec<SocketRef<A>> = match target {
        Target::User(user) => {
            namespaces.into_iter().flat_map(|ns| ns.sockets()).filter(|socket| is_of(socket, user)).collect()
        }
        Target::Room(room) => match RoomName::parse(room.as_str()) {
            Ok(room) => {
                namespaces.into_iter().flat_map(|ns| ns.within(room.as_str().to_owned()).sockets()).collect()
            }
            Err(_) => Vec::new(),
        },
    };
    let done = kick(&sockets, reason);
    if done > 0 {
        tracing::info!(disconnected = done, reason, "sockets disconnected on the application's request");
    }
    ControlAnswer::Count { known, found: sockets.len(), done, refused: sockets.len() - done }
}

/// Sends `kicked` with `reason` to each of `sockets`, then disconnects it; how many were disconnected.
pub(super) fn kick<A: Adapter>(sockets: &[SocketRef<A>], reason: &str) -> usize {
    let kicked = Kicked { reason: reason.to_owned() };
    let mut done = 0;
    for socket in sockets {
        // The reason first, in the same queue as the DISCONNECT: the client reads it before.
        if let Err(e) = socket.emit(KICKED, &kicked) {
            tracing::debug!(sid = %socket.id, "`kicked` not sent: {e}");
        }
        match socket.clone().disconnect() {
            Ok(()) => done += 1,
            Err(e) => tracing::warn!(sid = %socket.id, "socket not disconnected on request: {e}"),
        }
    }
    done
}

/// The sockets of `user` in `namespace`; `None` when this hub does not serve the namespace.
fn users_sockets<A: Adapter>(io: &SocketIo<A>, namespace: &str, user: &str) -> Option<Vec<SocketRef<A>>> {
    let ns = io.of(namespace)?;
    Some(ns.sockets().into_iter().filter(|socket| is_of(socket, user)).collect())
}

/// Has each of `sockets` (`None`: the namespace is not served here) join or leave `room`, on the
/// socket's own event queue. `done`: for a join, the sockets in the room afterwards; for a leave, those
/// that left it.
pub(super) async fn change<A: Adapter>(
    hub: &HubState,
    sockets: Option<Vec<SocketRef<A>>>,
    room: &str,
    change: Change,
) -> ControlAnswer {
    let (Some(sockets), Ok(room)) = (sockets, RoomName::parse(room)) else {
        return ControlAnswer::Count { known: false, found: 0, done: 0, refused: 0 };
    };
    let mut pending = Vec::with_capacity(sockets.len());
    let mut refused = 0;
    for socket in &sockets {
        let (Some(queue), Some(identity), Some(joined)) =
            (socket.extensions.get::<Arc<EventQueue>>(), socket.extensions.get::<Identity>(), joined(socket))
        else {
            refused += 1;
            continue;
        };
        let (done, outcome) = oneshot::channel();
        let (socket, hub, room) = (socket.clone(), hub.clone(), room.clone());
        let work = async move {
            let changed = match change {
                Change::Join => {
                    let mut joined_it = None;
                    // The application is trusted: a JWT's `rooms` claim and the socket's rate do not
                    // apply; `--max-rooms-per-socket` does.
                    let options = JoinOptions::default();
                    membership::join(&socket, &hub, &identity, &joined, room, options, |outcome| {
                        joined_it = Some(outcome.map(|_| true));
                    })
                    .await;
                    joined_it.unwrap_or(Ok(false))
                }
                Change::Leave => membership::leave(&socket, &hub, &joined, room).await.map(|(_, left)| left),
            };
            let _ = done.send(changed);
        };
        if queue.run(work).is_err() {
            refused += 1;
            continue;
        }
        pending.push(outcome);
    }
    let mut done = 0;
    for outcome in pending {
        match tokio::time::timeout(QUEUED_WAIT, outcome).await {
            Ok(Ok(Ok(true))) => done += 1,
            Ok(Ok(Ok(false))) => {}
            Ok(Ok(Err(rejection))) => {
                refused += 1;
                refusal(&rejection);
            }
            Ok(Err(_)) | Err(_) => refused += 1,
        }
    }
    ControlAnswer::Count { known: true, found: sockets.len(), done, refused }
}

fn refusal(rejection: &Rejection) {
    tracing::info!(code = %rejection.code, "a join or leave on the application's or an operator's request was refused: {}", rejection.message);
}

fn is_of<A: Adapter>(socket: &SocketRef<A>, user: &str) -> bool {
    socket.extensions.get::<Identity>().is_some_and(|identity| identity.user.as_str() == user)
}

fn joined<A: Adapter>(socket: &SocketRef<A>) -> Option<Arc<JoinedRooms>> {
    socket.extensions.get::<Arc<JoinedRooms>>()
}
