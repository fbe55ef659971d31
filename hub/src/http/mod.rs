//! Everything served over plain HTTP: the publish API, health and metrics, the demo page, and the
//! origin check in front of Socket.IO.

pub mod api;
pub mod demo;
pub mod health;
mod idempotency;
pub mod origins;
