//! The events waiting for delivery: a bounded queue that never makes the hub wait. An event that finds
//! it full is dropped, counted and logged. The bound covers the batch being delivered too, so that it
//! bounds everything webhooks hold while the receiver is down or slow.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use hub_protocol::WebhookEvent;
use tokio::sync::Notify;

use crate::telemetry::metrics;

#[derive(Debug)]
pub struct Queue {
    capacity: usize,
    state: Mutex<State>,
    /// Woken on every push, and when the hub starts stopping.
    pushed: Notify,
    /// The hub is stopping: batches go without waiting for more events.
    stopping: AtomicBool,
}

#[derive(Debug, Default)]
struct State {
    waiting: VecDeque<WebhookEvent>,
    /// Events taken for the batch being delivered.
    in_flight: usize,
}

impl State {
    fn held(&self) -> usize {
        self.waiting.len() + self.in_flight
    }
}

/// The queue held `capacity` events already: this one was dropped.
#[derive(Debug, PartialEq, Eq)]
pub struct Full;

impl Queue {
    pub fn new(capacity: usize) -> Self {
        Self { capacity, state: Mutex::default(), pushed: Notify::new(), stopping: AtomicBool::new(false) }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `event`, or drops it when the queue holds `capacity` events.
    pub fn push(&self, event: WebhookEvent) -> Result<(), Full> {
        let mut state = self.state();
        if state.held() >= self.capacity {
            return Err(Full);
        }
        state.waiting.push_back(event);
        metrics::webhook_queue_depth(state.held());
        drop(state);
        self.pushed.notify_one();
        Ok(())
    }

    /// Events waiting or in flight.
    pub fn held(&self) -> usize {
        self.state().held()
    }

    /// The hub is stopping: what is queued should go at once.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::Relaxed);
        self.pushed.notify_one();
    }

    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    /// Events waiting (not those in flight).
    pub fn waiting(&self) -> usize {
        self.state().waiting.len()
    }

    /// Returns once an event was pushed since the last call (or at once if one was pushed before any).
    pub async fn pushed(&self) {
        self.pushed.notified().await;
    }

    /// Takes up to `max` of the oldest events for delivery; they count against the bound until
    /// [`done`](Self::done).
    pub fn take(&self, max: usize) -> Vec<WebhookEvent> {
        let mut state = self.state();
        let n = max.min(state.waiting.len());
        let batch: Vec<_> = state.waiting.drain(..n).collect();
        state.in_flight += batch.len();
        batch
    }

    /// `n` taken events are gone (delivered, or given up).
    pub fn done(&self, n: usize) {
        let mut state = self.state();
        state.in_flight = state.in_flight.saturating_sub(n);
        metrics::webhook_queue_depth(state.held());
    }

    /// Empties the queue (at shutdown) and says how many events it held, in flight included.
    pub fn close(&self) -> usize {
        let mut state = self.state();
        let held = state.held();
        *state = State::default();
        metrics::webhook_queue_depth(0);
        held
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A chat event told apart by its `ts`, for the queue's and the batcher's tests.
    pub(in crate::webhooks) fn event(n: u64) -> WebhookEvent {
        WebhookEvent::Chat {
            namespace: "/".into(),
            room: "r".into(),
            user: "u".into(),
            text: "t".into(),
            ts: n,
        }
    }

    #[test]
    fn the_bound_counts_the_batch_in_flight() {
        let queue = Queue::new(3);
        for n in 0..3 {
            assert_eq!(queue.push(event(n)), Ok(()));
        }
        assert_eq!(queue.push(event(3)), Err(Full));
        let batch = queue.take(2);
        assert_eq!(batch, [event(0), event(1)], "oldest first");
        assert_eq!(queue.push(event(4)), Err(Full), "the batch still counts");
        queue.done(2);
        assert_eq!(queue.push(event(5)), Ok(()));
        assert_eq!(queue.take(10), [event(2), event(5)]);
        assert_eq!(queue.close(), 2);
    }
}
