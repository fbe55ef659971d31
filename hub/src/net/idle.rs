//! Connections that wait for a request, and the cap on how many may wait at once.
//!
//! An HTTP connection costs the hub a file descriptor and a read buffer before it has asked for
//! anything. Connections that stay silent, send half a request head, or linger between requests are
//! closed by the request-head timeout ([`serve`](super::serve)); this cap bounds how many exist
//! meanwhile, so that a client opening them faster than they time out cannot exhaust the open-files
//! limit. At the cap, the connection that has waited longest is closed, not the newest one: a real
//! client sends its request as soon as it has connected, so a flood of silent connections pushes out
//! its own oldest members and the real client's request still gets in.
//!
//! A connection waits from the moment it is accepted until a request head has been read, and again
//! from the end of each response. While a request is handled (a long-polling GET included) it is busy;
//! a websocket has left HTTP and is never counted again.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

/// The connections waiting for a request, oldest first.
#[derive(Debug)]
pub struct IdleConnections {
    max: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Handed out in order, so the smallest key is the connection that has waited longest.
    next_key: u64,
    waiting: BTreeMap<u64, Arc<Notify>>,
}

/// One accepted connection's place among the waiting ones.
#[derive(Debug)]
pub struct Connection {
    idle: Arc<IdleConnections>,
    /// Its key while it waits.
    key: Mutex<Option<u64>>,
    closing: Arc<Notify>,
}

/// A request being handled on a [`Connection`]: it waits again once this is dropped (with the response
/// body, once written).
#[derive(Debug)]
pub struct Busy(Arc<Connection>);

impl IdleConnections {
    /// At most `max` (at least 1) connections wait at once.
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self { max: max.max(1), state: Mutex::default() })
    }

    /// Registers a connection just accepted; it waits for its first request. Returns it and how many
    /// older ones were told to close to make room.
    pub fn open(self: &Arc<Self>) -> (Arc<Connection>, usize) {
        let connection = Arc::new(Connection {
            idle: Arc::clone(self),
            key: Mutex::new(None),
            closing: Arc::new(Notify::new()),
        });
        let evicted = connection.wait();
        (connection, evicted)
    }

    /// Tells the connection that has waited longest to close; false when none waits.
    pub fn close_oldest(&self) -> bool {
        let oldest = self.lock().waiting.pop_first();
        oldest.map(|(_, closing)| closing.notify_one()).is_some()
    }

    /// How many connections wait now.
    pub fn waiting(&self) -> usize {
        self.lock().waiting.len()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Connection {
    /// A request head has been read: the connection no longer waits until the returned guard is dropped.
    pub fn busy(self: &Arc<Self>) -> Busy {
        if let Some(key) = self.key().take() {
            self.idle.lock().waiting.remove(&key);
        }
        Busy(Arc::clone(self))
    }

    /// Whether it waits for a request now.
    pub fn is_waiting(&self) -> bool {
        self.key().is_some()
    }

    /// Completes when the connection should close to make room for a newer one.
    pub async fn closing(&self) {
        self.closing.notified().await;
    }

    /// Enters the waiting connections as the newest; beyond the cap, the oldest are told to close.
    fn wait(&self) -> usize {
        let mut key = self.key();
        let mut state = self.idle.lock();
        let new_key = state.next_key;
        state.next_key += 1;
        state.waiting.insert(new_key, Arc::clone(&self.closing));
        *key = Some(new_key);
        let mut evicted = 0;
        while state.waiting.len() > self.idle.max {
            // Never itself: its key is the largest and the cap is at least 1.
            let Some((_, closing)) = state.waiting.pop_first() else { break };
            closing.notify_one();
            evicted += 1;
        }
        evicted
    }

    fn key(&self) -> MutexGuard<'_, Option<u64>> {
        self.key.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.wait();
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(key) = self.key().take() {
            self.idle.lock().waiting.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    async fn told_to_close(connection: &Connection) -> bool {
        tokio::time::timeout(Duration::from_millis(50), connection.closing()).await.is_ok()
    }

    #[tokio::test]
    async fn at_the_cap_the_longest_waiting_connection_closes() {
        let idle = IdleConnections::new(2);
        let (first, _) = idle.open();
        let (second, _) = idle.open();
        let busy = second.busy();
        let (third, evicted) = idle.open();
        assert_eq!((evicted, idle.waiting()), (0, 2), "a busy connection does not wait");
        drop(busy);
        assert_eq!(idle.waiting(), 2, "the first is told to close as the second waits again");
        assert!(told_to_close(&first).await);
        assert!(!told_to_close(&third).await);
        let (_fourth, evicted) = idle.open();
        assert_eq!(evicted, 1);
        assert!(told_to_close(&third).await, "third had waited longer than second");
        drop(second);
        assert_eq!(idle.waiting(), 1);
        assert!(idle.close_oldest());
        assert!(!idle.close_oldest());
    }
}
