//! `GET /healthz` (the process is alive), `GET /readyz` (it can serve: in a cluster, Redis is reachable)
//! and `GET /metrics` (Prometheus text format).

use axum::Json;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::routing::get;
use serde::Serialize;

use crate::cluster::ClusterLink;
use crate::metrics;

/// What `/readyz` depends on.
#[derive(Debug, Clone)]
pub enum Readiness {
    /// A lone hub is ready as soon as it listens.
    Alone,
    /// A hub in a cluster is ready while it reaches Redis.
    Cluster(ClusterLink),
}

#[derive(Debug, Serialize)]
struct Health {
    ok: bool,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    redis: Option<&'static str>,
}

pub fn routes(readiness: Readiness) -> Router {
    let prometheus = metrics::handle();
    Router::new()
        .route("/healthz", get(|| async { Json(Health { ok: true, status: "alive", redis: None }) }))
        .route(
            "/readyz",
            get(move || {
                let readiness = readiness.clone();
                async move {
                    let (ready, redis) = match &readiness {
                        Readiness::Alone => (true, None),
                        Readiness::Cluster(link) if link.is_up() => (true, Some("connected")),
                        Readiness::Cluster(_) => (false, Some("unreachable")),
                    };
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
