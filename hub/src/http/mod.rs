//! Everything served over plain HTTP: the publish, history and control API, health and metrics, the demo page,
//! the Admin UI, the host check in front of everything and the origin check in front of Socket.IO.

pub mod admin_ui;
pub mod api;
pub mod control;
pub mod demo;
pub mod health;
pub mod history;
pub mod hosts;
mod idempotency;
pub mod origins;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hub_protocol::{Ack, ErrorCode, PublishAck, Rejection};

/// The `403` every check in front of the hub answers with: the JSON refusal, saying what to change.
fn forbidden(message: String) -> Response {
    let refusal = Rejection::new(ErrorCode::Forbidden, message);
    (StatusCode::FORBIDDEN, Json(Ack::<PublishAck>::from(Err(refusal)))).into_response()
}
