//! Every end-to-end test, in one test binary: one link instead of one per file, and one pool of test
//! threads for the whole suite. Each file is a module of its own; `cargo test -p e2e -- contract::`
//! runs one file's tests.
//!
//! Measured against one binary per file (16), same 145 tests, interleaved, 2 cores: rebuilding the tests
//! after a change to the hub took 10.5 s and 9.1 s instead of 49.9 s and 23.8 s; running them, 86.0 s
//! and 62.0 s instead of 86.8 s and 69.2 s.

#[path = "admin.rs"]
mod admin;
#[path = "admin_ui.rs"]
mod admin_ui;
#[path = "api.rs"]
mod api;
#[path = "app_auth.rs"]
mod app_auth;
#[path = "client_auth.rs"]
mod client_auth;
#[path = "cluster.rs"]
mod cluster;
#[path = "cluster_admin.rs"]
mod cluster_admin;
#[path = "cluster_control.rs"]
mod cluster_control;
#[path = "cluster_history.rs"]
mod cluster_history;
#[path = "configuration.rs"]
mod configuration;
#[path = "contract.rs"]
mod contract;
#[path = "control.rs"]
mod control;
#[path = "elephantio.rs"]
mod elephantio;
#[path = "history.rs"]
mod history;
#[path = "history_load.rs"]
mod history_load;
#[path = "hub_binary.rs"]
mod hub_binary;
#[path = "immediate_emit.rs"]
mod immediate_emit;
#[path = "limits.rs"]
mod limits;
#[path = "observability.rs"]
mod observability;
#[path = "operator_tools.rs"]
mod operator_tools;
#[path = "ordering.rs"]
mod ordering;
#[path = "presence.rs"]
mod presence;
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
#[path = "service_unit.rs"]
mod service_unit;
#[path = "slow_consumers.rs"]
mod slow_consumers;
#[path = "webhooks.rs"]
mod webhooks;
