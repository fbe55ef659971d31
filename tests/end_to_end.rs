//! Every end-to-end test, in one test binary: one link instead of one per file, and one pool of test
//! threads for the whole suite. Each file is a module of its own; `cargo test -p e2e -- contract::`
//! runs one file's tests.

#[path = "api.rs"]
mod api;
#[path = "client_auth.rs"]
mod client_auth;
#[path = "cluster.rs"]
mod cluster;
#[path = "configuration.rs"]
mod configuration;
#[path = "contract.rs"]
mod contract;
#[path = "elephantio.rs"]
mod elephantio;
#[path = "hub_binary.rs"]
mod hub_binary;
#[path = "immediate_emit.rs"]
mod immediate_emit;
#[path = "limits.rs"]
mod limits;
#[path = "observability.rs"]
mod observability;
#[path = "ordering.rs"]
mod ordering;
#[path = "protocol_conformance.rs"]
mod protocol_conformance;
#[path = "publish_cli.rs"]
mod publish_cli;
#[path = "publisher_library.rs"]
mod publisher_library;
#[path = "resources.rs"]
mod resources;
#[path = "rooms.rs"]
mod rooms;
