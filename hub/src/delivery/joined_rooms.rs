//! The rooms one socket has joined, as the hub itself records them (in the socket's extensions).
//!
//! The adapter can only answer "is this socket in that room?" by listing every room of the namespace,
//! so a socket that joined 50,000 rooms made each further `join` slower than the last and pinned a core.
//! This set answers at once, caps how many rooms one socket may be in (`--max-rooms-per-socket`, the
//! same on every node of a cluster), and is closed for good when the socket disconnects: a `join` still
//! queued behind the disconnect is refused instead of putting a gone socket back into a room.

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::meta_rooms;
use super::occupancy::Occupant;

/// Why a socket could not join a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JoinRefused {
    #[error("the socket has disconnected")]
    Disconnected,
    #[error("this socket is already in {0} rooms, the most it may be in")]
    Full(usize),
}

/// One socket's rooms.
#[derive(Debug)]
pub struct JoinedRooms {
    /// `None` once the socket has disconnected.
    rooms: Mutex<Option<HashSet<String>>>,
    /// The socket asked for published events' metadata: it is in each room's shadow too.
    meta: bool,
    /// Counts the socket's user in and out of its rooms, under the lock above.
    occupant: Option<Occupant>,
}

impl JoinedRooms {
    pub fn new(meta: bool, occupant: Option<Occupant>) -> Self {
        Self { rooms: Mutex::new(Some(HashSet::new())), meta, occupant }
    }

    /// The adapter's rooms that stand for `room`: the room, and its [`meta_rooms::shadow`] for a socket
    /// that asked for metadata.
    pub fn adapter_rooms(&self, room: &str) -> Vec<String> {
        match self.meta {
            true => vec![room.to_owned(), meta_rooms::shadow(room)],
            false => vec![room.to_owned()],
        }
    }

    /// Records `room` unless it is in it already, at most `max` rooms (`None`: no cap). `enter` runs
    /// only for a new room, under the lock, so that a disconnect cannot pass between the check and
    /// whatever `enter` does: it returns `Some(enter())`, or `None` when the socket was in `room`.
    pub fn join<T>(
        &self,
        room: &str,
        max: Option<usize>,
        enter: impl FnOnce() -> T,
    ) -> Result<Option<T>, JoinRefused> {
        let mut guard = self.lock();
        let rooms = guard.as_mut().ok_or(JoinRefused::Disconnected)?;
        if rooms.contains(room) {
            return Ok(None);
        }
        admits(rooms, max)?;
        rooms.insert(room.to_owned());
        let entered = enter();
        if let Some(occupant) = &self.occupant {
            occupant.entered(room);
        }
        Ok(Some(entered))
    }

    /// Whether [`join`](Self::join) would accept `room` now, for what must happen before it (a `join`
    /// sends the history it asked for first, and must not when the join is refused).
    pub fn may_join(&self, room: &str, max: Option<usize>) -> Result<(), JoinRefused> {
        let guard = self.lock();
        let rooms = guard.as_ref().ok_or(JoinRefused::Disconnected)?;
        if rooms.contains(room) { Ok(()) } else { admits(rooms, max) }
    }

    /// Forgets `room`; `exit` runs under the lock when the socket was in it, and its result is returned.
    /// `None`: the socket was not in `room` (or has disconnected), and nothing changed.
    pub fn leave<T>(&self, room: &str, exit: impl FnOnce() -> T) -> Option<T> {
        let mut guard = self.lock();
        let left = guard.as_mut()?.remove(room).then(exit);
        if let (Some(occupant), Some(_)) = (&self.occupant, &left) {
            occupant.left(room);
        }
        left
    }

    /// Whether the socket is in `room`.
    pub fn contains(&self, room: &str) -> bool {
        self.lock().as_ref().is_some_and(|rooms| rooms.contains(room))
    }

    /// The rooms the socket is in now (none once it has disconnected), in no particular order.
    pub fn rooms(&self) -> Vec<String> {
        self.lock().as_ref().map(|rooms| rooms.iter().cloned().collect()).unwrap_or_default()
    }

    /// Closes the set for a disconnecting socket and returns the rooms it was in. Called once; later
    /// calls return nothing.
    pub fn close(&self) -> Vec<String> {
        let mut guard = self.lock();
        let rooms: Vec<String> = guard.take().map(|rooms| rooms.into_iter().collect()).unwrap_or_default();
        if let Some(occupant) = &self.occupant {
            for room in &rooms {
                occupant.left(room);
            }
        }
        rooms
    }

    fn lock(&self) -> MutexGuard<'_, Option<HashSet<String>>> {
        // Only set operations and the caller's `enter`/`exit` (joining the adapter's room, counting)
        // run under the lock; a panic there leaves the set as consistent as the adapter.
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether a socket in `rooms` may enter one more, at most `max` (`None`: no cap).
fn admits(rooms: &HashSet<String>, max: Option<usize>) -> Result<(), JoinRefused> {
    match max {
        Some(max) if rooms.len() >= max => Err(JoinRefused::Full(max)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_once_up_to_the_cap() {
        let joined = JoinedRooms::new(false, None);
        assert_eq!(joined.join("a", Some(2), || 1), Ok(Some(1)));
        assert_eq!(joined.join("a", Some(2), || 2), Ok(None), "already in: `enter` does not run");
        assert_eq!(joined.join("b", Some(2), || 3), Ok(Some(3)));
        assert_eq!(joined.may_join("c", Some(2)), Err(JoinRefused::Full(2)));
        assert_eq!(joined.join("c", Some(2), || 4), Err(JoinRefused::Full(2)));
        assert_eq!(joined.may_join("a", Some(2)), Ok(()), "a room it is in is not refused");
        assert_eq!(joined.join("a", Some(2), || 5), Ok(None), "a room it is in is not refused");
        assert_eq!(joined.join("c", None, || 6), Ok(Some(6)), "no cap");
        assert!(joined.contains("c") && !joined.contains("d"));
    }

    #[test]
    fn leaves_only_rooms_it_is_in() {
        let joined = JoinedRooms::new(false, None);
        assert_eq!(joined.leave("a", || 1), None);
        joined.join("a", None, || ()).unwrap();
        assert_eq!(joined.leave("a", || 2), Some(2));
        assert_eq!(joined.leave("a", || 3), None);
    }

    #[test]
    fn a_closed_set_refuses_joins_and_forgets_nothing_twice() {
        let joined = JoinedRooms::new(false, None);
        joined.join("a", None, || ()).unwrap();
        assert_eq!(joined.close(), ["a"]);
        assert_eq!(joined.join("b", None, || ()), Err(JoinRefused::Disconnected));
        assert_eq!(joined.leave("a", || ()), None);
        assert!(joined.close().is_empty());
    }

    #[test]
    fn a_socket_that_asked_for_metadata_is_in_the_shadow_rooms_too() {
        assert_eq!(JoinedRooms::new(false, None).adapter_rooms("r"), ["r"]);
        assert_eq!(
            JoinedRooms::new(true, None).adapter_rooms("r"),
            ["r".to_owned(), meta_rooms::shadow("r")]
        );
    }
}
