//! The hub's mode: alone, or one node of a cluster. The one place where the two differ: who counts a
//! room's members, and when the hub is ready to serve. Membership itself is the socket's
//! [`JoinedRooms`] in both.

use std::sync::Arc;

use hub_protocol::{ErrorCode, Rejection};
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;

use super::cluster::ClusterLink;
use super::joined_rooms::{JoinRefused, JoinedRooms};
use super::room_sizes::RoomSizes;
use super::{DeliveryError, Reached, Scope};

/// A lone hub, or one node of a cluster.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Alone, the hub knows every socket, and keeps its rooms' sizes itself.
    Alone(Arc<RoomSizes>),
    /// In a cluster, each node keeps its own rooms' sizes and asks the others for theirs; the hub is ready
    /// while it reaches Redis.
    Cluster(ClusterLink, Arc<RoomSizes>),
}

/// A room's size after a `join` or `leave` (and how far the count reached), and whether the socket's
/// membership changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Membership {
    pub members: Reached<usize>,
    pub changed: bool,
}

/// A count that is complete: a lone hub's own.
fn whole(value: usize) -> Reached<usize> {
    Reached { value, scope: Scope::Cluster }
}

impl From<JoinRefused> for Rejection {
    fn from(refused: JoinRefused) -> Self {
        match refused {
            JoinRefused::Disconnected => Rejection::new(ErrorCode::Unavailable, refused.to_string()),
            JoinRefused::Full(_) => Rejection::new(
                ErrorCode::TooManyRooms,
                format!("{refused} (--max-rooms-per-socket): leave one first"),
            ),
        }
    }
}

impl Mode {
    /// Whether the hub can serve: a lone hub always, a node while Redis is reachable.
    pub fn is_ready(&self) -> bool {
        match self {
            Mode::Alone(_) => true,
            Mode::Cluster(link, _) => link.is_up(),
        }
    }

    /// What [`join`](Self::join) needs counted first: in a cluster, the size of `socket`'s `room` on
    /// every node. Counting waits for the other nodes' answers, so a join counts before it takes the
    /// room's turn, which holds back the room's events on this hub. A lone hub counts as it joins.
    pub async fn count_before_join<A: Adapter>(
        &self,
        socket: &SocketRef<A>,
        room: &str,
    ) -> Result<Option<Reached<usize>>, DeliveryError> {
        match self {
            Mode::Alone(_) => Ok(None),
            Mode::Cluster(..) => self.size(socket, room).await.map(Some),
        }
    }

    /// Puts `socket` in `room` (once), at most `max` rooms, and returns the room's size afterwards (in a
    /// cluster: as `counted` before, and this socket if it was not in it).
    pub fn join<A: Adapter>(
        &self,
        socket: &SocketRef<A>,
        joined: &JoinedRooms,
        room: &str,
        max: Option<usize>,
        counted: Option<Reached<usize>>,
    ) -> Result<Membership, Rejection> {
        let enter = || socket.join(joined.adapter_rooms(room));
        match (self, counted) {
            (Mode::Alone(sizes), _) => {
                let entered = joined.join(room, max, || {
                    enter();
                    sizes.add(socket.ns(), room)
                })?;
                Ok(match entered {
                    Some(members) => Membership { members: whole(members), changed: true },
                    None => Membership { members: whole(sizes.size(socket.ns(), room)), changed: false },
                })
            }
            (Mode::Cluster(_, sizes), counted) => {
                let changed = joined
                    .join(room, max, || {
                        enter();
                        sizes.add(socket.ns(), room)
                    })?
                    .is_some();
                let before = counted.unwrap_or(Reached { value: 0, scope: Scope::Incomplete });
                let members = Reached { value: before.value + usize::from(changed), ..before };
                Ok(Membership { members, changed })
            }
        }
    }

    /// Takes `socket` out of `room` and returns the room's size afterwards. A socket that was not in
    /// `room` learns nothing about it: the size is 0.
    pub async fn leave<A: Adapter>(
        &self,
        socket: &SocketRef<A>,
        joined: &JoinedRooms,
        room: &str,
    ) -> Result<Membership, Rejection> {
        let exit = || socket.leave(joined.adapter_rooms(room));
        let unchanged = Membership { members: whole(0), changed: false };
        match self {
            Mode::Alone(sizes) => Ok(joined
                .leave(room, || {
                    exit();
                    sizes.remove(socket.ns(), room)
                })
                .map_or(unchanged, |members| Membership { members: whole(members), changed: true })),
            Mode::Cluster(_, sizes) => match joined.leave(room, || {
                exit();
                sizes.remove(socket.ns(), room)
            }) {
                Some(_) => Ok(Membership { members: self.size(socket, room).await?, changed: true }),
                None => Ok(unchanged),
            },
        }
    }

    /// Forgets a disconnecting socket and returns the rooms it was in; it can join none from now on.
    /// (socketioxide takes it out of the adapter's rooms itself.)
    pub fn forget<A: Adapter>(&self, socket: &SocketRef<A>, joined: &JoinedRooms) -> Vec<String> {
        let rooms = joined.close();
        let (Mode::Alone(sizes) | Mode::Cluster(_, sizes)) = self;
        for room in &rooms {
            sizes.remove(socket.ns(), room);
        }
        rooms
    }

    /// How many sockets are in `room` of `socket`'s namespace (in a cluster: on every node).
    pub async fn size<A: Adapter>(
        &self,
        socket: &SocketRef<A>,
        room: &str,
    ) -> Result<Reached<usize>, DeliveryError> {
        Ok(self.room_size(socket.ns(), room).await)
    }

    /// How many sockets are in `room` of `namespace`: this hub's own count, and in a cluster a number
    /// from each other hub.
    pub async fn room_size(&self, namespace: &str, room: &str) -> Reached<usize> {
        match self {
            Mode::Alone(sizes) => whole(sizes.size(namespace, room)),
            Mode::Cluster(link, sizes) => {
                let there = link.members_elsewhere(namespace, room).await;
                Reached { value: sizes.size(namespace, room) + there.value, scope: there.scope }
            }
        }
    }
}
