//! Webhooks: what happens in rooms (chat messages, rooms occupied and vacated, members added and
//! removed), POSTed to the application's `--webhook-url` in signed batches.
//!
//! [`Webhooks`] is the handle the rest of the hub holds: [`send`](Webhooks::send) queues an event and
//! never waits, so a slow or absent receiver never slows the hub. One task per hub takes batches from
//! the queue ([`batcher`]), signs them ([`signer`]) and delivers them one after the other, in order,
//! retrying each for up to 5 minutes ([`sender`]). When the hub stops, what is queued goes at once, for
//! up to [`FLUSH_WITHIN`]. Whatever is dropped on the way (queue full, receiver down too long, shutdown)
//! is counted in `/metrics` and logged.

mod batcher;
mod queue;
mod sender;
mod signer;

use std::sync::Arc;
use std::time::Duration;

use hub_protocol::{WebhookBatch, WebhookEvent, WebhookEventName};

pub use sender::ClientError;

use self::queue::Queue;
use self::sender::{Delivery, Sender};
use self::signer::Signer;
use crate::config::WebhookConfig;
use crate::history::now_ms;
use crate::telemetry::log_throttle::LogThrottle;
use crate::telemetry::metrics::{self, WebhookDrop};

/// How long a stopping hub waits for what is queued to be delivered.
pub const FLUSH_WITHIN: Duration = Duration::from_secs(1);

/// Where the hub's events go; cheap to clone. The disabled handle wants nothing.
#[derive(Debug, Clone, Default)]
pub struct Webhooks {
    inner: Option<Arc<Inner>>,
}

#[derive(Debug)]
struct Inner {
    queue: Queue,
    /// Indexed like [`WebhookEventName::ALL`].
    wanted: [bool; WebhookEventName::ALL.len()],
}

impl Webhooks {
    /// No webhooks: [`wants`](Self::wants) is always false and [`send`](Self::send) does nothing.
    pub fn disabled() -> Self {
        Self::default()
    }

    /// Starts the task that delivers what is sent (within a tokio runtime).
    pub fn start(config: &WebhookConfig) -> Result<Self, ClientError> {
        let sender = Sender::new(config.url.clone(), Signer::new(&config.secret))?;
        let wanted = WebhookEventName::ALL.map(|name| config.events.contains(&name));
        let inner = Arc::new(Inner { queue: Queue::new(config.queue), wanted });
        metrics::webhooks_started();
        // The URL without credentials or query, which may hold secrets.
        let mut shown = config.url.clone();
        let _ = (shown.set_username(""), shown.set_password(None));
        shown.set_query(None);
        tracing::info!(events = ?config.event_names(), "webhooks to {shown} (queue of {} events)", config.queue);
        tokio::spawn(deliver(Arc::clone(&inner), sender));
        Ok(Self { inner: Some(inner) })
    }

    /// Whether events of this kind are sent: callers skip building those that are not.
    pub fn wants(&self, name: WebhookEventName) -> bool {
        self.inner.as_ref().is_some_and(|inner| inner.wants(name))
    }

    /// Queues `event` for delivery, if its kind is wanted; never waits. When the queue is full the
    /// event is dropped, counted and logged.
    pub fn send(&self, event: WebhookEvent) {
        let Some(inner) = &self.inner else { return };
        if !inner.wants(event.name()) {
            return;
        }
        if inner.queue.push(event).is_err() {
            metrics::webhook_events_dropped(WebhookDrop::QueueFull, 1);
            static FULL: LogThrottle = LogThrottle::new(Duration::from_secs(10));
            if let Some(held_back) = FULL.due(std::time::Instant::now()) {
                tracing::warn!(
                    held_back,
                    "webhook event dropped: the queue is full (--webhook-queue); the receiver is down or \
                     slower than the hub's events"
                );
            }
        }
    }

    /// At shutdown: sends what is queued at once and waits up to [`FLUSH_WITHIN`] for it to be
    /// delivered; what is left then is dropped, counted and logged.
    pub async fn stop(&self) {
        let Some(inner) = &self.inner else { return };
        inner.queue.stop();
        let deadline = tokio::time::Instant::now() + FLUSH_WITHIN;
        while inner.queue.held() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let left = inner.queue.close();
        if left > 0 {
            metrics::webhook_events_dropped(WebhookDrop::Shutdown, left);
            tracing::warn!("{left} webhook events not delivered: the hub stopped");
        }
    }
}

impl Inner {
    fn wants(&self, name: WebhookEventName) -> bool {
        WebhookEventName::ALL.iter().position(|n| *n == name).is_some_and(|i| self.wanted[i])
    }
}

/// Delivers batches one after the other, for as long as the hub runs.
async fn deliver(inner: Arc<Inner>, sender: Sender) {
    // Names each batch for the receiver's de-duplication: unique across hubs and restarts.
    let hub_id = format!("{:016x}", rand::random::<u64>());
    for sequence in 1u64.. {
        let events = batcher::next_batch(&inner.queue).await;
        let n = events.len();
        let batch = WebhookBatch { time_ms: now_ms(), events };
        let id = format!("{hub_id}-{sequence}");
        match sender.deliver(&id, &batch).await {
            Delivery::Sent => metrics::webhook_batch_sent(n),
            Delivery::GaveUp => metrics::webhook_events_dropped(WebhookDrop::Undeliverable, n),
        }
        inner.queue.done(n);
    }
}
