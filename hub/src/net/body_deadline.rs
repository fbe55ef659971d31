//! A deadline on request bodies: a client that announces a body and then sends nothing, or stops in
//! the middle, would otherwise hold its connection (and a file descriptor) forever, since the idle
//! timeout only covers waiting for a request head. Each part of the body must arrive within the idle
//! timeout of the one before; a body that stalls ends the request with an error, and the connection
//! with it.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::timeout::TimeoutBody;

/// Middleware: gives the request's body a deadline of `timeout` between its parts.
pub async fn limit(State(timeout): State<Duration>, request: Request, next: Next) -> Response {
    next.run(request.map(|body| Body::new(TimeoutBody::new(timeout, body)))).await
}
