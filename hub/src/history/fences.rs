//! In a cluster: which sockets must not get which events live, because a replay already sent them.
//!
//! A socket that joins a room reads the room's stream from Redis (up to its last offset, `top`) and is
//! replayed what it asked for; events recorded before that read may still be on their way to this hub.
//! Delivered live, they would reach the socket a second time (after its ack, which says `top`). So the
//! read leaves a fence: a message that the read itself publishes on the channel, which reaches this hub
//! after every event recorded before the read. Until the fence arrives, events of that stream up to
//! `top` skip the socket; after it, no such event is left.
//!
//! A fence whose message was lost (the link to Redis dropped meanwhile) is forgotten after
//! [`MAX_AGE`]; until then it only holds back events the socket was replayed.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use socketioxide::socket::Sid;

use super::{Position, StreamKey};

/// How long a fence is kept without its message: far longer than a message takes between two hubs.
pub const MAX_AGE: Duration = Duration::from_secs(60);

/// One socket's fence on one stream.
#[derive(Debug, Clone)]
struct Fence {
    socket: Sid,
    /// The position the socket was replayed up to.
    top: Position,
    token: u64,
    since: Instant,
}

/// Every fence of this hub, by stream.
#[derive(Debug, Default)]
pub struct Fences {
    streams: Mutex<HashMap<StreamKey, Vec<Fence>>>,
}

impl Fences {
    /// Holds back `key`'s events up to `top` from `socket` until the fence `token` arrives.
    pub fn raise(&self, key: &StreamKey, socket: Sid, top: Position, token: u64) {
        let fence = Fence { socket, top, token, since: Instant::now() };
        self.lock().entry(key.clone()).or_default().push(fence);
    }

    /// The sockets that must not get `key`'s event recorded at `position` live.
    pub fn held_back(&self, key: &StreamKey, position: &Position) -> Vec<Sid> {
        let streams = self.lock();
        let Some(fences) = streams.get(key) else { return Vec::new() };
        fences
            .iter()
            .filter(|fence| fence.top.epoch == position.epoch && fence.top.offset >= position.offset)
            .map(|fence| fence.socket)
            .collect()
    }

    /// The fence `token` of `key` arrived: nothing it holds back is left on the way.
    pub fn lower(&self, key: &StreamKey, token: u64) {
        let mut streams = self.lock();
        if let Some(fences) = streams.get_mut(key) {
            fences.retain(|fence| fence.token != token);
            if fences.is_empty() {
                streams.remove(key);
            }
        }
    }

    /// Forgets fences older than [`MAX_AGE`] at `now`.
    pub fn forget_older(&self, now: Instant) {
        self.lock().retain(|_, fences| {
            fences.retain(|fence| now.duration_since(fence.since) < MAX_AGE);
            !fences.is_empty()
        });
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<StreamKey, Vec<Fence>>> {
        // Only this file's map operations run under the lock.
        self.streams.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A fresh token: random, so that no two reads, on any hub, share one.
pub fn token() -> u64 {
    rand::random()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn at(offset: u64, epoch: &str) -> Position {
        Position { offset, epoch: Arc::from(epoch) }
    }

    #[test]
    fn a_fence_holds_back_what_was_replayed_until_it_arrives() {
        let fences = Fences::default();
        let key = StreamKey::room("/", "lobby");
        let (ann, bob) = (Sid::new(), Sid::new());
        fences.raise(&key, ann, at(5, "e"), 1);
        fences.raise(&key, bob, at(7, "e"), 2);
        assert_eq!(fences.held_back(&key, &at(5, "e")), [ann, bob]);
        assert_eq!(fences.held_back(&key, &at(6, "e")), [bob]);
        assert!(fences.held_back(&key, &at(8, "e")).is_empty(), "recorded after both reads");
        assert!(fences.held_back(&key, &at(1, "other")).is_empty(), "another epoch");
        assert!(fences.held_back(&StreamKey::namespace("/"), &at(1, "e")).is_empty());

        fences.lower(&key, 2);
        assert_eq!(fences.held_back(&key, &at(5, "e")), [ann]);
        fences.lower(&key, 1);
        assert!(fences.lock().is_empty(), "a stream without fences takes no room");
    }

    #[test]
    fn fences_whose_message_never_came_are_forgotten() {
        let fences = Fences::default();
        let key = StreamKey::room("/", "lobby");
        fences.raise(&key, Sid::new(), at(5, "e"), 1);
        fences.forget_older(Instant::now());
        assert_eq!(fences.held_back(&key, &at(5, "e")).len(), 1);
        fences.forget_older(Instant::now() + MAX_AGE);
        assert!(fences.lock().is_empty());
    }
}
