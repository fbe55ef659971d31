//! `members`: tells a room's members how many they are after joins, leaves and disconnects.
//!
//! Changes are coalesced per room. The first change to a room schedules one count-and-send
//! [`MEMBERS_INTERVAL_MS`] later; changes until then ride along with it. A room that 10,000 sockets join
//! within a second costs two broadcasts, not 10,000.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hub_protocol::RoomMembers;
use hub_protocol::events::{MEMBERS, MEMBERS_INTERVAL_MS};
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;

use super::mode::Mode;
use super::{Reached, emit};

/// The rooms, by namespace, whose `members` event is scheduled and not yet sent.
#[derive(Debug, Default)]
pub struct Presence {
    pending: Mutex<HashSet<(String, String)>>,
}

impl Presence {
    /// Records that `socket` joined or left `room` (in its namespace); the room's members hear of it soon.
    pub fn changed<A: Adapter>(self: &Arc<Self>, socket: &SocketRef<A>, room: &str, mode: &Mode) {
        let key = (socket.ns().to_owned(), room.to_owned());
        if !self.pending.lock().expect("presence lock poisoned").insert(key.clone()) {
            return; // already scheduled: this change is counted when it runs
        }
        let presence = Arc::clone(self);
        let socket = socket.clone();
        let mode = mode.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(MEMBERS_INTERVAL_MS)).await;
            // Unscheduled before counting: a change from here on schedules a fresh count.
            presence.pending.lock().expect("presence lock poisoned").remove(&key);
            let (_, room) = key;
            announce(&socket, room, &mode).await;
        });
    }
}

/// Counts `room` and sends the count to its members. `socket` may have disconnected meanwhile: it only
/// names the namespace, and is not excluded from the selection.
async fn announce<A: Adapter>(socket: &SocketRef<A>, room: String, mode: &Mode) {
    let members = match mode.size(socket, &room).await {
        Ok(Reached { value: 0, .. }) => return,
        Ok(members) => members,
        Err(e) => {
            tracing::warn!(ns = socket.ns(), room, "member count not sent: {e}");
            return;
        }
    };
    let update = RoomMembers { room, members: members.value, partial: members.scope.is_partial() };
    if let Err(e) = emit(|| socket.within(update.room.clone()), MEMBERS, &update).await {
        tracing::warn!(ns = socket.ns(), room = update.room, "member count not sent: {e}");
    }
}
