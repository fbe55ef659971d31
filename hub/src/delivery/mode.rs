//! The hub's mode: alone, or one node of a cluster. The one place where the two differ: who counts a
//! room's members, and when the hub is ready to serve.

use std::sync::Arc;

use hub_protocol::Rejection;
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;

use super::cluster::ClusterLink;
use super::room_sizes::RoomSizes;
use super::{DeliveryError, Reached, Scope, count};

/// A lone hub, or one node of a cluster.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Alone, the hub knows every socket, and keeps its rooms' sizes itself.
    Alone(Arc<RoomSizes>),
    /// In a cluster, rooms are counted by the adapter on every node; the hub is ready while it reaches
    /// Redis.
    Cluster(ClusterLink),
}

impl Mode {
    /// Whether the hub can serve: a lone hub always, a node while Redis is reachable.
    pub fn is_ready(&self) -> bool {
        match self {
            Mode::Alone(_) => true,
            Mode::Cluster(link) => link.is_up(),
        }
    }

    /// Puts `socket` in `room` and returns the room's size afterwards.
    pub async fn join<A: Adapter>(
        &self,
        socket: &SocketRef<A>,
        room: &str,
    ) -> Result<Reached<usize>, Rejection> {
        match self {
            Mode::Alone(sizes) => Ok(Reached { value: sizes.join(socket, room), scope: Scope::Cluster }),
            Mode::Cluster(_) => {
                socket.join(room.to_owned());
                Ok(self.size(socket, room).await?)
            }
        }
    }

    /// Takes `socket` out of `room` and returns the room's size afterwards.
    pub async fn leave<A: Adapter>(
        &self,
        socket: &SocketRef<A>,
        room: &str,
    ) -> Result<Reached<usize>, Rejection> {
        match self {
            Mode::Alone(sizes) => Ok(Reached { value: sizes.leave(socket, room), scope: Scope::Cluster }),
            Mode::Cluster(_) => {
                socket.leave(room.to_owned());
                Ok(self.size(socket, room).await?)
            }
        }
    }

    /// Forgets a disconnecting socket that was in `rooms`.
    pub fn forget<A: Adapter>(&self, socket: &SocketRef<A>, rooms: &[String]) {
        if let Mode::Alone(sizes) = self {
            sizes.forget(socket, rooms);
        }
    }

    /// How many sockets are in `room` of `socket`'s namespace (in a cluster: on every node).
    pub async fn size<A: Adapter>(
        &self,
        socket: &SocketRef<A>,
        room: &str,
    ) -> Result<Reached<usize>, DeliveryError> {
        match self {
            Mode::Alone(sizes) => Ok(Reached { value: sizes.size(socket.ns(), room), scope: Scope::Cluster }),
            Mode::Cluster(_) => count(|| socket.within(room.to_owned())).await,
        }
    }
}
