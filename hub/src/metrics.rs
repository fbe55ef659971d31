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

use std::sync::OnceLock;
use std::time::Duration;

use hub_protocol::{ErrorCode, events};
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

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
            handle
        })
        .clone()
}

pub fn socket_connected(namespace: &str) {
    gauge!("hub_connected_sockets", "namespace" => namespace.to_owned()).increment(1.0);
}

pub fn socket_disconnected(namespace: &str) {
    gauge!("hub_connected_sockets", "namespace" => namespace.to_owned()).decrement(1.0);
}

/// An event from a socket. Names outside the hub's own count as `other` (they are chosen by clients).
pub fn event_received(event: &str) {
    let label: &'static str = match event {
        events::JOIN => events::JOIN,
        events::LEAVE => events::LEAVE,
        events::CHAT => events::CHAT,
        events::ECHO => events::ECHO,
        events::PUBLISH => events::PUBLISH,
        _ => "other",
    };
    counter!("hub_events_received_total", "event" => label).increment(1);
}

/// One broadcast of `event`.
pub fn event_emitted(event: &str) {
    counter!("hub_events_emitted_total", "event" => event.to_owned()).increment(1);
}

/// A publish carried out: how many sockets it reached and how long it took.
pub fn published(via: &'static str, delivered: usize, took: Duration) {
    counter!("hub_publishes_total", "via" => via).increment(1);
    counter!("hub_deliveries_total").increment(delivered as u64);
    histogram!("hub_publish_duration_seconds", "via" => via).record(took.as_secs_f64());
}

pub fn rejected(code: ErrorCode) {
    counter!("hub_rejections_total", "code" => code.as_str()).increment(1);
}
