//! Room sizes kept by a lone hub itself, so that `join`, `leave` and `members` know a room's size at once.
//!
//! socketioxide can only count a room by listing its sockets, so 10,000 sockets joining one room listed
//! 50 million sockets: with that, the `idle` benchmark connected 1,686 sockets/s; with these sizes, 6,330
//! (medians, BENCHMARKS.md). In a cluster the sizes must be cluster-wide and still come from the adapter.
//!
//! Whether a socket is in a room is [`JoinedRooms`](super::joined_rooms::JoinedRooms)' business; this
//! only counts. The map is sharded ([`DashMap`]): joins to different rooms rarely wait for each other.

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;

/// Sockets per room, by namespace and room.
#[derive(Debug, Default)]
pub struct RoomSizes {
    sizes: DashMap<(String, String), usize>,
}

impl RoomSizes {
    /// One more socket in `room`; returns the room's size afterwards.
    pub fn add(&self, namespace: &str, room: &str) -> usize {
        let mut size = self.sizes.entry((namespace.to_owned(), room.to_owned())).or_default();
        *size += 1;
        *size
    }

    /// One less in `room`; an empty room is removed. Returns the size afterwards.
    pub fn remove(&self, namespace: &str, room: &str) -> usize {
        match self.sizes.entry((namespace.to_owned(), room.to_owned())) {
            Entry::Occupied(mut size) if *size.get() > 1 => {
                *size.get_mut() -= 1;
                *size.get()
            }
            Entry::Occupied(size) => {
                size.remove();
                0
            }
            Entry::Vacant(_) => 0,
        }
    }

    /// The size of `room` in `namespace`.
    pub fn size(&self, namespace: &str, room: &str) -> usize {
        self.sizes.get(&(namespace.to_owned(), room.to_owned())).map_or(0, |size| *size)
    }

    /// How many rooms hold at least one socket, in every namespace.
    #[cfg(test)]
    fn rooms(&self) -> usize {
        self.sizes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_namespace_and_forgets_empty_rooms() {
        let sizes = RoomSizes::default();
        assert_eq!((sizes.add("/", "r"), sizes.add("/", "r"), sizes.add("/x", "r")), (1, 2, 1));
        assert_eq!((sizes.size("/", "r"), sizes.size("/x", "r"), sizes.size("/", "other")), (2, 1, 0));
        assert_eq!((sizes.remove("/", "r"), sizes.remove("/", "r"), sizes.remove("/", "r")), (1, 0, 0));
        assert_eq!(sizes.remove("/x", "r"), 0);
        assert_eq!(sizes.rooms(), 0, "empty rooms take no memory");
    }
}
