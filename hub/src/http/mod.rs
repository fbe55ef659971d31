//! Everything served over plain HTTP: the publish API, health and metrics, the demo page, the host
//! check in front of everything and the origin check in front of Socket.IO.

pub mod api;
pub mod demo;
pub mod health;
pub mod hosts;
mod idempotency;
pub mod origins;
