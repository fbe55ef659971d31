//! Who is in each room, user by user: a user with three tabs in a room is one user there.
//!
//! Every socket's [`JoinedRooms`](super::joined_rooms::JoinedRooms) holds an [`Occupant`], which counts the
//! socket in and out of this hub's [`Occupancy`] under the socket's own lock, so a join and a disconnect
//! of one socket can never be counted in the wrong order. When a user's first socket on this hub comes
//! into a room, or its last one goes, the occupancy queues a [`Change`] for the [`announce`] task.
//!
//! Alone, a change on this hub is a change of the whole room: the task announces it as it is. In a
//! cluster a user may have sockets on several hubs, so the task first asks Redis ([`redis`]), which
//! decides once for the whole cluster whether the user came, went, or was there already, and whether
//! the room itself just became occupied or vacated; only the hub whose change made the difference
//! announces it.

pub mod announce;
pub mod redis;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use hub_protocol::UserName;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::telemetry::log_throttle::LogThrottle;
use crate::telemetry::metrics;

/// Changes waiting for the [`announce`] task at most. Beyond, a change is dropped and counted; in a
/// cluster the hub then reconciles with Redis, which brings it back.
const QUEUED_CHANGES: usize = 65_536;

/// A user came into a room, or went out of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Arrived,
    Departed,
}

/// A user's arrival in a room or departure from it, on this hub or (once decided) in the whole cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub namespace: String,
    pub room: String,
    pub user: UserName,
    /// The user's public info, when known.
    pub info: Option<Arc<Value>>,
    pub step: Step,
    /// The room had no user before this arrival, or has none after this departure.
    pub room_edge: bool,
}

/// One user's sockets in one room of this hub.
#[derive(Debug)]
struct Present {
    sockets: usize,
    info: Option<Arc<Value>>,
}

/// The users of one room on this hub.
type RoomUsers = HashMap<UserName, Present>;

/// The users of every room of this hub, by namespace and room.
#[derive(Debug)]
pub struct Occupancy {
    rooms: DashMap<RoomKey, RoomUsers>,
    changes: mpsc::Sender<Change>,
    /// Taken once by the [`announce`] task.
    receiver: Mutex<Option<mpsc::Receiver<Change>>>,
    /// A change was dropped because the queue was full.
    overflowed: AtomicBool,
}

impl Default for Occupancy {
    fn default() -> Self {
        let (changes, receiver) = mpsc::channel(QUEUED_CHANGES);
        Self {
            rooms: DashMap::new(),
            changes,
            receiver: Mutex::new(Some(receiver)),
            overflowed: AtomicBool::new(false),
        }
    }
}

/// A room, by namespace and name.
pub type RoomKey = (String, String);

/// The users of one room of this hub, with their info, for a cluster's reconciliation.
pub type RoomSnapshot = (RoomKey, Vec<RoomUser>);

/// A user in a room, with its public info.
pub type RoomUser = (UserName, Option<Arc<Value>>);

impl Occupancy {
    /// The changes, in the order they happened; `None` once taken.
    pub fn take_changes(&self) -> Option<mpsc::Receiver<Change>> {
        self.receiver.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    /// Whether a change was dropped since the last call.
    pub fn take_overflow(&self) -> bool {
        self.overflowed.swap(false, Ordering::Relaxed)
    }

    /// Counts one more socket of `user` in `room`.
    fn enter(&self, namespace: &str, room: &str, user: &UserName, info: &Option<Arc<Value>>) {
        let key = (namespace.to_owned(), room.to_owned());
        let mut users = self.rooms.entry(key).or_default();
        let room_edge = users.is_empty();
        let present = users.entry(user.clone()).or_insert_with(|| Present { sockets: 0, info: info.clone() });
        present.sockets += 1;
        if present.sockets == 1 {
            // Queued under the room's lock: the changes of one room are queued in the order they happen.
            self.queue(namespace, room, user, info.clone(), Step::Arrived, room_edge);
        }
    }

    /// Counts one socket of `user` fewer in `room`; an empty room is forgotten.
    fn exit(&self, namespace: &str, room: &str, user: &UserName) {
        let Entry::Occupied(mut users) = self.rooms.entry((namespace.to_owned(), room.to_owned())) else {
            return;
        };
        let Some(present) = users.get_mut().get_mut(user) else { return };
        present.sockets -= 1;
        if present.sockets > 0 {
            return;
        }
        let info = users.get_mut().remove(user).and_then(|present| present.info);
        let room_edge = users.get().is_empty();
        self.queue(namespace, room, user, info, Step::Departed, room_edge);
        if room_edge {
            users.remove();
        }
    }

    fn queue(
        &self,
        namespace: &str,
        room: &str,
        user: &UserName,
        info: Option<Arc<Value>>,
        step: Step,
        room_edge: bool,
    ) {
        let change = Change {
            namespace: namespace.to_owned(),
            room: room.to_owned(),
            user: user.clone(),
            info,
            step,
            room_edge,
        };
        match self.changes.try_send(change) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.overflowed.store(true, Ordering::Relaxed);
                metrics::presence_changes_dropped();
                static FULL: LogThrottle = LogThrottle::new(Duration::from_secs(10));
                if let Some(held_back) = FULL.due(Instant::now()) {
                    tracing::warn!(
                        held_back,
                        "presence change dropped: {QUEUED_CHANGES} are waiting to be announced (Redis is slow?); \
                         in a cluster the hub reconciles with Redis at its next heartbeat"
                    );
                }
            }
            // Closed only when the hub stops: then nobody is left to tell.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    /// Every room of this hub with its users.
    pub fn snapshot(&self) -> Vec<RoomSnapshot> {
        self.rooms
            .iter()
            .map(|entry| {
                let users = entry.value().iter().map(|(user, p)| (user.clone(), p.info.clone())).collect();
                (entry.key().clone(), users)
            })
            .collect()
    }
}

/// One socket, as its rooms' occupancy counts it: its namespace, its user and the user's info.
#[derive(Debug, Clone)]
pub struct Occupant {
    occupancy: Arc<Occupancy>,
    namespace: String,
    user: UserName,
    info: Option<Arc<Value>>,
}

impl Occupant {
    pub fn new(occupancy: Arc<Occupancy>, namespace: &str, user: UserName, info: Option<Arc<Value>>) -> Self {
        Self { occupancy, namespace: namespace.to_owned(), user, info }
    }

    /// The socket came into `room`.
    pub fn entered(&self, room: &str) {
        self.occupancy.enter(&self.namespace, room, &self.user, &self.info);
    }

    /// The socket went out of `room`, or disconnected.
    pub fn left(&self, room: &str) {
        self.occupancy.exit(&self.namespace, room, &self.user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn occupant(occupancy: &Arc<Occupancy>, user: &str) -> Occupant {
        let info = Some(Arc::new(serde_json::json!({"name": user})));
        Occupant::new(occupancy.clone(), "/", UserName::parse(user).unwrap(), info)
    }

    fn drain(changes: &mut mpsc::Receiver<Change>) -> Vec<(String, Step, bool)> {
        std::iter::from_fn(|| changes.try_recv().ok())
            .map(|c| (c.user.as_str().to_owned(), c.step, c.room_edge))
            .collect()
    }

    #[test]
    fn a_user_comes_with_its_first_socket_and_goes_with_its_last() {
        let occupancy = Arc::new(Occupancy::default());
        let mut changes = occupancy.take_changes().unwrap();
        let (tab1, tab2, bob) =
            (occupant(&occupancy, "alice"), occupant(&occupancy, "alice"), occupant(&occupancy, "bob"));
        tab1.entered("r");
        tab2.entered("r");
        bob.entered("r");
        assert_eq!(
            drain(&mut changes),
            [("alice".into(), Step::Arrived, true), ("bob".into(), Step::Arrived, false)],
            "alice's second tab changes nothing; the room was empty before alice"
        );
        tab1.left("r");
        bob.left("r");
        assert_eq!(drain(&mut changes), [("bob".into(), Step::Departed, false)]);
        tab2.left("r");
        assert_eq!(drain(&mut changes), [("alice".into(), Step::Departed, true)], "the room is empty");
        assert!(occupancy.snapshot().is_empty(), "an empty room takes no memory");
        bob.left("r");
        assert!(drain(&mut changes).is_empty(), "leaving twice changes nothing");
    }

    #[test]
    fn rooms_and_namespaces_are_counted_apart() {
        let occupancy = Arc::new(Occupancy::default());
        let mut changes = occupancy.take_changes().unwrap();
        let alice = occupant(&occupancy, "alice");
        let elsewhere = Occupant::new(occupancy.clone(), "/x", UserName::parse("alice").unwrap(), None);
        alice.entered("r");
        alice.entered("s");
        elsewhere.entered("r");
        assert_eq!(drain(&mut changes).len(), 3);
        let mut snapshot = occupancy.snapshot();
        snapshot.sort_by(|a, b| a.0.cmp(&b.0));
        let rooms: Vec<_> = snapshot.iter().map(|(key, users)| (key.clone(), users.len())).collect();
        let key = |ns: &str, room: &str| (ns.to_owned(), room.to_owned());
        assert_eq!(rooms, [(key("/", "r"), 1), (key("/", "s"), 1), (key("/x", "r"), 1)]);
    }
}
