//! Who receives an event of a stream: the selections that the hub publishing it counts, and that every
//! hub delivering it emits to.
//!
//! A published event reaches most members with exactly its arguments (`plain`), and the members that
//! asked for metadata with its [`EventMeta`] after them (`asked`, see [`meta_rooms`]). An event published
//! into several rooms is one event per room's stream; each spares the members of the rooms before it,
//! so that every receiver gets it once.

use hub_protocol::EventMeta;
use socketioxide::adapter::Adapter;
use socketioxide::operators::BroadcastOperators;

use super::meta_rooms;
use crate::history::{Position, StreamKey};

/// The members of `key`'s stream among `base` that get a published event with exactly its arguments,
/// but those in the `earlier` rooms. Sockets still catching up with their namespace's history get its
/// events from their replay instead.
pub fn plain<A: Adapter>(
    key: &StreamKey,
    earlier: &[String],
    base: BroadcastOperators<A>,
) -> BroadcastOperators<A> {
    match &key.room {
        None => base.except([meta_rooms::ALL, meta_rooms::CATCHING_UP]),
        Some(room) => {
            let spared = earlier.iter().cloned().chain([meta_rooms::shadow(room)]);
            base.to(room.clone()).except(spared.collect::<Vec<_>>())
        }
    }
}

/// The members of `key`'s stream among `base` that asked for metadata, but those in the `earlier` rooms.
pub fn asked<A: Adapter>(
    key: &StreamKey,
    earlier: &[String],
    base: BroadcastOperators<A>,
) -> BroadcastOperators<A> {
    match &key.room {
        None => base.to(meta_rooms::ALL).except(meta_rooms::CATCHING_UP),
        Some(room) => base.to(meta_rooms::shadow(room)).except(earlier.to_vec()),
    }
}

/// The metadata of `key`'s event recorded at `position` (`None`: not recorded).
pub fn meta(key: &StreamKey, position: Option<&Position>) -> EventMeta {
    EventMeta {
        namespace: key.namespace.clone(),
        room: key.room.clone(),
        offset: position.map(|p| p.offset),
        epoch: position.map(|p| p.epoch.to_string()),
    }
}
