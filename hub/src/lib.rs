//! The hub: a Socket.IO v5 server for browsers and backends.
//!
//! Browsers connect with the official `socket.io-client`, join rooms and chat; backends publish events
//! into rooms or whole namespaces with the `publish` event (or, as with Elephant.io, by emitting an event
//! directly), or through the HTTP API. The wire contract lives in the `hub-protocol` crate and
//! `PROTOCOL.md`.
//!
//! The modules are layers; each uses only those listed before it:
//!
//! * `telemetry`: logs, log throttling and Prometheus metrics.
//! * `net`: the accept loop, the TCP listener and what happens on a connection before Socket.IO sees
//!   it (deadlines and caps on waiting connections and bodies, Engine.IO requests and sessions before
//!   their CONNECT, request heads, the open-file limit, shutdown).
//! * `policy`: who may do what: publish tokens, how users sign in (JWTs, or the application through
//!   `--auth-url`, with its answers cached), identities, failed authentications, rates and sizes.
//! * `history`: the recorded events of every room and namespace, with offsets and epochs, in memory or
//!   in Redis, and the per-stream turns that keep recording and delivery in offset order.
//! * `delivery`: emitting to rooms and counting who got it, rooms and presence, published events and their
//!   replays, the hub's mode (alone or in a cluster), the cluster link, and delivering what Redis
//!   announces.
//! * `webhooks`: what happens in rooms, POSTed to the application in signed batches, never waiting.
//! * `state`: what sockets and requests share.
//! * `events`: the Socket.IO events, one file each; `session`: admission of a socket and its end.
//! * `control`: the application's view and control of the sockets (who is where; disconnects, joins and
//!   leaves on its request), cluster-wide over Redis. Its joins run on a socket's event queue like the
//!   socket's own; the `who` event is its one caller among the events.
//! * `http`: the HTTP API (publishing, history, control), health and metrics, the demo page, the Host and Origin
//!   checks.
//! * `error` gathers what stops the hub; [`Server`] puts it all together, serves, and shuts down
//!   gracefully.

mod admin;
pub mod config;
mod control;
mod delivery;
mod error;
mod events;
mod history;
mod http;
mod net;
mod policy;
mod server;
mod session;
mod state;
mod telemetry;
mod webhooks;

pub use config::Config;
pub use error::HubError;
pub use net::shutdown::signal as shutdown_signal;
pub use server::Server;
pub use telemetry::logging::init as init_logging;
