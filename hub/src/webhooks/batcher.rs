//! Gathers queued events into batches of at most [`MAX_BATCH_EVENTS`]: a batch starts when an event is
//! waiting and goes when it is full or [`BATCH_WINDOW`] later, whichever comes first. So a busy hub
//! sends few requests, and no event waits more than the window for a healthy receiver. Once the hub is
//! stopping, batches go without waiting.

use std::time::Duration;

use hub_protocol::WebhookEvent;
use hub_protocol::webhooks::MAX_BATCH_EVENTS;
use tokio::time::Instant;

use super::queue::Queue;

/// How long a batch gathers events after its first.
pub const BATCH_WINDOW: Duration = Duration::from_secs(1);

/// The next batch: waits for an event, then for more until the batch is full or the window is over.
pub async fn next_batch(queue: &Queue) -> Vec<WebhookEvent> {
    while queue.waiting() == 0 {
        queue.pushed().await;
    }
    let deadline = Instant::now() + BATCH_WINDOW;
    while queue.waiting() < MAX_BATCH_EVENTS && !queue.is_stopping() {
        if tokio::time::timeout_at(deadline, queue.pushed()).await.is_err() {
            break;
        }
    }
    queue.take(MAX_BATCH_EVENTS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::queue::tests::event;

    #[tokio::test]
    async fn a_batch_goes_when_full_or_after_the_window() {
        let queue = Queue::new(1000);
        for n in 0..250 {
            queue.push(event(n)).unwrap();
        }
        let started = Instant::now();
        assert_eq!(next_batch(&queue).await.len(), 100);
        assert_eq!(next_batch(&queue).await.len(), 100);
        assert!(started.elapsed() < BATCH_WINDOW / 2, "full batches go at once");
        let last = next_batch(&queue).await;
        assert_eq!((last.len(), last[0].clone()), (50, event(200)));
        let took = started.elapsed();
        assert!(took >= BATCH_WINDOW && took < BATCH_WINDOW * 2, "a partial one after the window: {took:?}");
    }
}
