//! Prometheus metrics, served at `/metrics` in the text format by `metrics-exporter-prometheus`.
//!
//! | metric | labels | what |
//! |---|---|---|
//! | `hub_connected_sockets` | `namespace` | sockets connected now |
//! | `hub_events_received_total` | `event` | events received from sockets (the hub's own names; `other`) |
//! | `hub_events_emitted_total` | `event` | broadcasts sent (one per emit, whatever the number of receivers) |
//! | `hub_publishes_total` | `via` (`socket`, `api`) | accepted publishes |
//! | `hub_deliveries_total` | | sockets reached by publishes |
//! | `hub_rejections_total` | `code` | refused requests, by error code |
//! | `hub_publish_duration_seconds` | `via` | time to carry out a publish (histogram) |
//! | `hub_cluster_messages_lost_total` | | messages from other hubs lost before this one read them (0 unless `--redis-url`) |
//! | `hub_slow_consumers_disconnected_total` | | sockets disconnected because their send queue was full |
//! | `hub_slow_consumers_unidentified_total` | | full-queue sends whose socket the hub did not find (should stay 0) |
//! | `hub_control_messages_dropped_total` | `reason` (`too_large`, `malformed`, `late`, `not_sent`) | control messages between the hubs not used: answers that came after their request gave up waiting, or could not be read or sent (0 unless `--redis-url`) |
//! | `hub_presence_changes_dropped_total` | | presence changes dropped because 65,536 were waiting to be announced (a cluster reconciles them with Redis) |
//! | `hub_control_requests_incomplete_total` | | control requests answered without every hub's part (a hub did not answer in time, or Redis is unreachable) |
//! | `hub_webhook_events_sent_total` | | webhook events the receiver accepted (with `--webhook-url`) |
//! | `hub_webhook_events_dropped_total` | `reason` (`queue_full`, `undeliverable`, `shutdown`) | webhook events never delivered |
//! | `hub_webhook_batches_sent_total` | | webhook requests the receiver accepted |
//! | `hub_webhook_attempts_failed_total` | | webhook requests that failed (each is retried, or its batch dropped) |
//! | `hub_webhook_queue_depth` | | webhook events waiting or being delivered |
//! | `hub_app_sign_in_requests_total` | `outcome` (`admitted`, `refused`, `unreachable`, `timeout`, `bad_status`, `bad_answer`) | requests to the application that signs users in (`--auth-url`) |
//! | `hub_app_sign_in_cache_hits_total` | `answer` (`admitted`, `refused`) | sign-ins answered from the application's recent answers |
//! | `hub_admin_events_dropped_total` | | live events for the Admin UI dropped because 10,000 were waiting (with `--admin-password`) |
//! | `hub_admin_sign_ins_total` | `outcome` (`password`, `session`, `refused`, `busy`) | connections to the Admin UI's `/admin` namespace |
//!
//! Clients choose namespaces and the names of published events, and every label value is a series that
//! Prometheus keeps: so each of those labels has its own value for the first [`OWN_LABELS`] names seen
//! only, and `other` for the rest ([`BoundedLabels`]).

use std::collections::HashSet;
use std::sync::{Arc, LazyLock, OnceLock, PoisonError, RwLock};
use std::time::Duration;

use hub_protocol::{ErrorCode, events};
use metrics::{Counter, SharedString, counter, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

const SLOW_CONSUMERS_DISCONNECTED: &str = "hub_slow_consumers_disconnected_total";
const SLOW_CONSUMERS_UNIDENTIFIED: &str = "hub_slow_consumers_unidentified_total";
const CONTROL_INCOMPLETE: &str = "hub_control_requests_incomplete_total";

const PUBLISH_BUCKETS: &[f64] =
    &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0];

/// Installs the process-wide recorder once and returns the handle that renders it.
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(PUBLISH_BUCKETS)
                .expect("non-empty buckets")
                .build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder was installed first (an embedding application's own).
            let _ = metrics::set_global_recorder(recorder);
            let _ = RECEIVED
                .set(RECEIVED_LABELS.map(|label| counter!("hub_events_received_total", "event" => label)));
            // Shown from the start, so that an alert on their increase has a first value.
            for name in [SLOW_CONSUMERS_DISCONNECTED, SLOW_CONSUMERS_UNIDENTIFIED, CONTROL_INCOMPLETE] {
                counter!(name).increment(0);
            }
            handle
        })
        .clone()
}

/// How many client-chosen values of one label get a series of their own.
pub const OWN_LABELS: usize = 100;

/// The label value for every client-chosen value past the first [`OWN_LABELS`].
const OTHER_LABEL: &str = "other";

/// The values of one label that clients choose: the first `own` values seen keep their own label, later
/// ones are `other`. A value's label never changes (the set only grows, and stops growing once full), so a
/// gauge raised and lowered under it stays right.
#[derive(Debug)]
struct BoundedLabels {
    own: usize,
    known: RwLock<HashSet<Arc<str>>>,
}

impl BoundedLabels {
    fn new(own: usize) -> Self {
        Self { own, known: RwLock::new(HashSet::new()) }
    }

    fn label(&self, value: &str) -> SharedString {
        {
            let known = self.known.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(known) = known.get(value) {
                return SharedString::from(Arc::clone(known));
            }
            if known.len() >= self.own {
                return SharedString::const_str(OTHER_LABEL);
            }
        }
        let mut known = self.known.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(known) = known.get(value) {
            return SharedString::from(Arc::clone(known));
        }
        if known.len() >= self.own {
            return SharedString::const_str(OTHER_LABEL);
        }
        let value: Arc<str> = Arc::from(value);
        known.insert(Arc::clone(&value));
        SharedString::from(value)
    }
}

/// The `namespace` labels of `hub_connected_sockets`: any client may open namespaces (up to
/// `--max-namespaces`).
static NAMESPACES: LazyLock<BoundedLabels> = LazyLock::new(|| BoundedLabels::new(OWN_LABELS));

/// The `event` labels of `hub_events_emitted_total`: publishers name their events freely.
static EMITTED: LazyLock<BoundedLabels> = LazyLock::new(|| BoundedLabels::new(OWN_LABELS));

pub fn socket_connected(namespace: &str) {
    gauge!("hub_connected_sockets", "namespace" => NAMESPACES.label(namespace)).increment(1.0);
}

pub fn socket_disconnected(namespace: &str) {
    gauge!("hub_connected_sockets", "namespace" => NAMESPACES.label(namespace)).decrement(1.0);
}

/// The `event` labels of `hub_events_received_total`: the hub's own names, and `other` for the rest
/// (those are chosen by clients).
const RECEIVED_LABELS: [&str; 7] =
    [events::JOIN, events::LEAVE, events::CHAT, events::ECHO, events::PUBLISH, events::WHO, "other"];

/// Where `other` is in [`RECEIVED_LABELS`]: last.
const OTHER: usize = RECEIVED_LABELS.len() - 1;

/// `hub_events_received_total`, one counter per label in [`RECEIVED_LABELS`] order, made once the
/// recorder is installed: `counter!` looks its key up in the registry on every call, about 2% of the
/// hub's CPU in the `echo` benchmark.
static RECEIVED: OnceLock<[Counter; RECEIVED_LABELS.len()]> = OnceLock::new();

/// An event from a socket.
pub fn event_received(event: &str) {
    let index = RECEIVED_LABELS[..OTHER].iter().position(|label| *label == event).unwrap_or(OTHER);
    match RECEIVED.get() {
        Some(counters) => counters[index].increment(1),
        None => counter!("hub_events_received_total", "event" => RECEIVED_LABELS[index]).increment(1),
    }
}

/// One broadcast of `event`.
pub fn event_emitted(event: &str) {
    counter!("hub_events_emitted_total", "event" => EMITTED.label(event)).increment(1);
}

/// A publish carried out: how many sockets it reached and how long it took.
pub fn published(via: &'static str, delivered: usize, took: Duration) {
    counter!("hub_publishes_total", "via" => via).increment(1);
    counter!("hub_deliveries_total").increment(delivered as u64);
    histogram!("hub_publish_duration_seconds", "via" => via).record(took.as_secs_f64());
}

/// `n` messages from other hubs lost on their way in (`n` may be 0: the counter shows from the start).
pub fn cluster_messages_lost(n: u64) {
    counter!("hub_cluster_messages_lost_total").increment(n);
}

/// A socket disconnected because its send queue was full.
pub fn slow_consumer_disconnected() {
    counter!(SLOW_CONSUMERS_DISCONNECTED).increment(1);
}

/// `n` sends that found a full queue, whose socket the hub did not find afterwards.
pub fn slow_consumers_unidentified(n: usize) {
    counter!(SLOW_CONSUMERS_UNIDENTIFIED).increment(n as u64);
}

/// A control message between the hubs that was not used, and why (a fixed label).
pub fn control_message_dropped(reason: &'static str) {
    counter!("hub_control_messages_dropped_total", "reason" => reason).increment(1);
}

/// A presence change dropped because too many were waiting to be announced.
pub fn presence_changes_dropped() {
    counter!("hub_presence_changes_dropped_total").increment(1);
}

/// A live event for the Admin UI dropped because its queue was full.
pub fn admin_events_dropped() {
    counter!("hub_admin_events_dropped_total").increment(1);
}

/// A connection to the Admin UI's namespace, and how it ended (a fixed label).
pub fn admin_sign_in(outcome: &'static str) {
    counter!("hub_admin_sign_ins_total", "outcome" => outcome).increment(1);
}

/// A control request answered without every hub's part.
pub fn control_request_incomplete() {
    counter!(CONTROL_INCOMPLETE).increment(1);
}

/// Why webhook events were dropped.
#[derive(Debug, Clone, Copy)]
pub enum WebhookDrop {
    /// `--webhook-queue` events were waiting already.
    QueueFull,
    /// Their batch was not accepted for 5 minutes.
    Undeliverable,
    /// Still queued when the hub stopped.
    Shutdown,
}

impl WebhookDrop {
    const ALL: [Self; 3] = [Self::QueueFull, Self::Undeliverable, Self::Shutdown];

    fn label(self) -> &'static str {
        match self {
            Self::QueueFull => "queue_full",
            Self::Undeliverable => "undeliverable",
            Self::Shutdown => "shutdown",
        }
    }
}

const WEBHOOK_EVENTS_SENT: &str = "hub_webhook_events_sent_total";
const WEBHOOK_EVENTS_DROPPED: &str = "hub_webhook_events_dropped_total";
const WEBHOOK_BATCHES_SENT: &str = "hub_webhook_batches_sent_total";
const WEBHOOK_ATTEMPTS_FAILED: &str = "hub_webhook_attempts_failed_total";
const WEBHOOK_QUEUE_DEPTH: &str = "hub_webhook_queue_depth";

/// Webhooks are on: their metrics show from the start, so that an alert on an increase has a first value.
pub fn webhooks_started() {
    // Before the recorder is installed, counters would register nowhere.
    handle();
    for name in [WEBHOOK_EVENTS_SENT, WEBHOOK_BATCHES_SENT, WEBHOOK_ATTEMPTS_FAILED] {
        counter!(name).increment(0);
    }
    for reason in WebhookDrop::ALL {
        counter!(WEBHOOK_EVENTS_DROPPED, "reason" => reason.label()).increment(0);
    }
    gauge!(WEBHOOK_QUEUE_DEPTH).set(0.0);
}

/// A batch of `events` webhook events accepted by the receiver.
pub fn webhook_batch_sent(events: usize) {
    counter!(WEBHOOK_BATCHES_SENT).increment(1);
    counter!(WEBHOOK_EVENTS_SENT).increment(events as u64);
}

/// `n` webhook events dropped.
pub fn webhook_events_dropped(reason: WebhookDrop, n: usize) {
    counter!(WEBHOOK_EVENTS_DROPPED, "reason" => reason.label()).increment(n as u64);
}

/// One webhook request that failed.
pub fn webhook_attempt_failed() {
    counter!(WEBHOOK_ATTEMPTS_FAILED).increment(1);
}

/// Webhook events held now, waiting or being delivered.
pub fn webhook_queue_depth(held: usize) {
    gauge!(WEBHOOK_QUEUE_DEPTH).set(held as f64);
}

/// A request to the application that signs users in, and how it ended.
pub fn app_sign_in_request(outcome: &'static str) {
    counter!("hub_app_sign_in_requests_total", "outcome" => outcome).increment(1);
}

/// A sign-in answered from the application's recent answers.
pub fn app_sign_in_cache_hit(admitted: bool) {
    let answer = if admitted { "admitted" } else { "refused" };
    counter!("hub_app_sign_in_cache_hits_total", "answer" => answer).increment(1);
}

pub fn rejected(code: ErrorCode) {
    counter!("hub_rejections_total", "code" => code.as_str()).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_values_keep_their_label_and_later_ones_are_other() {
        let labels = BoundedLabels::new(2);
        let label = |value| labels.label(value).to_string();
        assert_eq!(label("/a"), "/a");
        assert_eq!(label("/b"), "/b");
        assert_eq!(label("/c"), OTHER_LABEL);
        assert_eq!(label("/a"), "/a", "a value keeps its label");
        assert_eq!(label("/c"), OTHER_LABEL, "and so does one past the limit");
    }
}
