//! The hub: a Socket.IO v5 server for browsers and backends.
//!
//! Browsers connect with the official `socket.io-client`, join rooms and chat; backends publish events
//! into rooms or whole namespaces with the `publish` event (or, as with Elephant.io, by emitting an event
//! directly). The wire contract lives in the `hub-protocol` crate and `PROTOCOL.md`.
//!
//! * [`Server`] binds, serves the demo page and Socket.IO, and shuts down gracefully.
//! * [`session`] admits each socket to a namespace and registers its event handlers.
//! * [`handlers`] implement the events; [`delivery`] emits to rooms and counts who got it.
//! * [`cluster`] joins several hubs through Redis; the handlers are the same for one node or many.

pub mod api;
pub mod cluster;
pub mod config;
pub mod connect_wait;
pub mod delivery;
pub mod demo;
pub mod error;
pub mod file_limit;
mod first_frames;
pub mod handlers;
pub mod health;
pub mod idempotency;
pub mod jwt;
pub mod limits;
pub mod listener;
pub mod log_throttle;
pub mod logging;
pub mod meta_rooms;
pub mod metrics;
pub mod origins;
pub mod presence;
pub mod publishing;
pub mod request_head;
pub mod room_sizes;
pub mod server;
pub mod session;
pub mod shutdown;
pub mod token;

pub use config::Config;
pub use error::HubError;
pub use server::Server;
