//! One stream's events are recorded and delivered one at a time, in offset order.
//!
//! Each stream maps to one of a fixed set of async locks (by a hash of its name): no memory per stream,
//! and two streams rarely share a lock (when they do, they only wait for each other's short turns).
//! A turn is held across the delivery of one event to the local sockets, or across a replay and the
//! join that follows it; never across a wait on another node.

use std::hash::{BuildHasher, Hash, RandomState};

use tokio::sync::{Mutex, MutexGuard};

use super::StreamKey;

/// Locks per hub.
const LOCKS: usize = 256;

/// The streams' locks.
#[derive(Debug)]
pub struct Turns {
    locks: Box<[Mutex<()>]>,
    hasher: RandomState,
}

/// A stream's turn: its events wait until this is dropped.
pub type Turn<'a> = MutexGuard<'a, ()>;

impl Default for Turns {
    fn default() -> Self {
        Self { locks: (0..LOCKS).map(|_| Mutex::new(())).collect(), hasher: RandomState::new() }
    }
}

impl Turns {
    /// Waits for `key`'s turn.
    pub async fn of(&self, key: &StreamKey) -> Turn<'_> {
        let mut hasher = self.hasher.build_hasher();
        key.hash(&mut hasher);
        let i = (std::hash::Hasher::finish(&hasher) as usize) % LOCKS;
        self.locks[i].lock().await
    }
}
