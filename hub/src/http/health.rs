//! `GET /healthz` (the process is alive), `GET /readyz` (it can serve: in a cluster, Redis is reachable)
//! and `GET /metrics` (Prometheus text format).

use axum::Json;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::routing::get;
use serde::Serialize;

use crate::delivery::mode::Mode;
use crate::telemetry::metrics;

#[derive(Debug, Serialize)]
struct Health {
    ok: bool,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    redis: Option<&'static str>,
}

/// Whether `path` is `/healthz` or `/readyz`, which say nothing but whether the hub serves.
pub fn is_health(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz")
}

/// The routes; `/readyz` answers as the hub's `mode` is ready.
pub fn routes(mode: Mode) -> Router {
    let prometheus = metrics::handle();
    if let Mode::Cluster(..) = mode {
        // Shown from the start, so that a dashboard sees 0 rather than nothing.
        metrics::cluster_messages_lost(0);
    }
    Router::new()
        .route("/healthz", get(|| async { Json(Health { ok: true, status: "alive", redis: None }) }))
        .route(
            "/readyz",
            get(move || {
                let ready = mode.is_ready();
                let redis = match &mode {
                    Mode::Alone(_) => None,
                    Mode::Cluster(..) if ready => Some("connected"),
                    Mode::Cluster(..) => Some("unreachable"),
                };
                async move {
                    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
                    let body = Health { ok: ready, status: if ready { "ready" } else { "not ready" }, redis };
                    (status, Json(body))
                }
            }),
        )
        .route(
            "/metrics",
            get(move || {
                let text = prometheus.render();
                async move { ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text) }
            }),
        )
}
