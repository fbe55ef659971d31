//! One hub's part of the Admin UI's requests: its sockets for `all_sockets`, and the UI's operations
//! (emit, join, leave, disconnect) carried out on its own sockets.
//!
//! The UI names sockets by namespace and a filter that is a room or a socket's id. Socket.IO puts each
//! socket in a room named by its id; socketioxide does not, so the id the UI was shown
//! (`admin::sockets::shown_id`) is looked for first, and names that socket alone: any client may join a
//! room of that name here. Joins and leaves go through [`membership`](crate::delivery::membership) on
//! each socket's own event queue, like the application's `POST /api/join`, so rooms' sizes, presence and
//! history stay right.

use hub_protocol::admin::{
    AdminOperation, DISCONNECT_REASON, MAX_SOCKETS_PER_HUB, NAMESPACE, Selection, SerializedSocket,
};
use hub_protocol::control::ControlAnswer;
use hub_protocol::{Argument, Arguments};
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;
use socketioxide::socket::Sid;

use super::Change;
use super::local::{change, kick};
use crate::admin::sockets::{self, SHOWN_ID_CHARS, shown_id};
use crate::state::HubState;

/// This hub's sockets, in every namespace but the UI's own, sorted by namespace and id.
pub fn sockets<A: Adapter>(io: &SocketIo<A>, hub: &HubState) -> ControlAnswer {
    // A UI is open somewhere: from now on this hub tells it what happens, until the ticker learns
    // otherwise from Redis.
    if let Some(admin) = &hub.admin {
        admin.feed.set_remote(true);
    }
    let mut listed: Vec<SerializedSocket> = Vec::new();
    let mut truncated = false;
    for socket in io.nsps().into_iter().flat_map(|ns| ns.sockets()) {
        if socket.ns() == NAMESPACE {
            continue;
        }
        if listed.len() == MAX_SOCKETS_PER_HUB {
            truncated = true;
            break;
        }
        listed.push(sockets::serialize(&socket));
    }
    listed.sort_unstable_by(|a, b| (&a.nsp, &a.id).cmp(&(&b.nsp, &b.id)));
    ControlAnswer::AdminSockets { sockets: listed, truncated }
}

/// Carries out `operation` on this hub's sockets.
pub async fn operate<A: Adapter>(
    io: &SocketIo<A>,
    hub: &HubState,
    operation: &AdminOperation,
) -> ControlAnswer {
    match operation {
        AdminOperation::Emit { sockets, event, args } => {
            let Some(selected) = select(io, sockets) else { return unknown() };
            let arguments = Arguments(args.iter().cloned().map(Argument::from).collect());
            let done =
                selected.iter().filter(|socket| socket.emit(event.as_str(), &arguments).is_ok()).count();
            ControlAnswer::Count { known: true, found: selected.len(), done, refused: selected.len() - done }
        }
        AdminOperation::Join { sockets, room } => change(hub, select(io, sockets), room, Change::Join).await,
        AdminOperation::Leave { sockets, room } => {
            change(hub, select(io, sockets), room, Change::Leave).await
        }
        AdminOperation::Disconnect { sockets, close } => {
            let Some(mut selected) = select(io, sockets) else { return unknown() };
            if *close {
                // The client goes: its sockets in the other namespaces too (they share its id).
                let ids: Vec<Sid> = selected.iter().map(|socket| socket.id).collect();
                for ns in io.nsps() {
                    for id in &ids {
                        if let Some(other) = ns.get_socket(*id)
                            && other.ns() != sockets.namespace
                            && other.ns() != NAMESPACE
                        {
                            selected.push(other);
                        }
                    }
                }
            }
            let done = kick(&selected, DISCONNECT_REASON);
            ControlAnswer::Count { known: true, found: selected.len(), done, refused: selected.len() - done }
        }
    }
}

fn unknown() -> ControlAnswer {
    ControlAnswer::Count { known: false, found: 0, done: 0, refused: 0 }
}

/// The sockets `selection` names on this hub; `None` when it does not serve the namespace (the UI's
/// own namespace is not for operations).
fn select<A: Adapter>(io: &SocketIo<A>, selection: &Selection) -> Option<Vec<SocketRef<A>>> {
    if selection.namespace == NAMESPACE {
        return None;
    }
    let ns = io.of(&selection.namespace)?;
    let Some(filter) = &selection.filter else { return Some(ns.sockets()) };
    // A socket's id names that socket alone, as its own room does in Socket.IO: any client may join a
    // room of that name here, and must not get what the UI sends one socket, nor be acted on with it.
    if filter.len() == SHOWN_ID_CHARS {
        let socket: Vec<_> =
            ns.clone().sockets().into_iter().filter(|socket| shown_id(socket.id) == *filter).collect();
        if !socket.is_empty() {
            return Some(socket);
        }
    }
    Some(ns.clone().within(filter.clone()).sockets())
}
