//! Test support: a real hub on a free loopback port, a recording Socket.IO client, the built binaries, and
//! a webhook receiver.

pub mod binaries;
pub mod client;
pub mod control;
pub mod elephant;
pub mod fake;
pub mod history;
pub mod hub;
pub mod polling;
pub mod raw;
pub mod redis;
pub mod sign_in_app;
pub mod webhook_receiver;

pub use client::TestClient;
pub use hub::TestHub;

use std::time::Duration;

/// How long a test waits for something that should happen (generous: CI machines are slow).
pub const WAIT: Duration = Duration::from_secs(5);
/// How long a test watches for something that must not happen.
pub const QUIET: Duration = Duration::from_millis(300);
