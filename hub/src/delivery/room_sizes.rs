//! Room sizes kept by a lone hub itself, so that `join`, `leave` and `members` know a room's size at once.
//!
//! socketioxide can only count a room by listing its sockets, so 10,000 sockets joining one room listed
//! 50 million sockets: with that, the `idle` benchmark connected 1,686 sockets/s; with these sizes, 6,330
//! (medians, BENCHMARKS.md). In a cluster the sizes must be cluster-wide and still come from the adapter.

use std::collections::HashMap;
use std::sync::Mutex;

use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;

/// Sockets per room, by namespace.
#[derive(Debug, Default)]
pub struct RoomSizes {
    sizes: Mutex<HashMap<String, HashMap<String, usize>>>,
}

impl RoomSizes {
    /// Puts `socket` in `room` (once) and returns the room's size afterwards.
    pub fn join<A: Adapter>(&self, socket: &SocketRef<A>, room: &str) -> usize {
        // The lock spans the membership check and the join, so that concurrent joins count once.
        let mut sizes = self.sizes.lock().expect("room sizes lock poisoned");
        let size = sizes.entry(socket.ns().to_owned()).or_default().entry(room.to_owned()).or_default();
        if !is_in(socket, room) {
            socket.join(room.to_owned());
            *size += 1;
        }
        *size
    }

    /// Takes `socket` out of `room` (if it was in) and returns the room's size afterwards.
    pub fn leave<A: Adapter>(&self, socket: &SocketRef<A>, room: &str) -> usize {
        let mut sizes = self.sizes.lock().expect("room sizes lock poisoned");
        if is_in(socket, room) {
            socket.leave(room.to_owned());
            return decrement(&mut sizes, socket.ns(), room);
        }
        sizes.get(socket.ns()).and_then(|rooms| rooms.get(room)).copied().unwrap_or(0)
    }

    /// Forgets a disconnecting socket: one less in each of its rooms.
    pub fn forget<A: Adapter>(&self, socket: &SocketRef<A>, rooms: &[String]) {
        let mut sizes = self.sizes.lock().expect("room sizes lock poisoned");
        for room in rooms {
            decrement(&mut sizes, socket.ns(), room);
        }
    }

    /// The size of `room` in `namespace`.
    pub fn size(&self, namespace: &str, room: &str) -> usize {
        let sizes = self.sizes.lock().expect("room sizes lock poisoned");
        sizes.get(namespace).and_then(|rooms| rooms.get(room)).copied().unwrap_or(0)
    }
}

fn is_in<A: Adapter>(socket: &SocketRef<A>, room: &str) -> bool {
    socket.rooms().iter().any(|joined| joined == room)
}

/// One less in `room`; an empty room is removed. Returns the size afterwards.
fn decrement(sizes: &mut HashMap<String, HashMap<String, usize>>, namespace: &str, room: &str) -> usize {
    let Some(rooms) = sizes.get_mut(namespace) else { return 0 };
    let Some(size) = rooms.get_mut(room) else { return 0 };
    *size = size.saturating_sub(1);
    let left = *size;
    if left == 0 {
        rooms.remove(room);
        if rooms.is_empty() {
            sizes.remove(namespace);
        }
    }
    left
}
