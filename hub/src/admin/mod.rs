//! The server side of the official Socket.IO Admin UI (`@socket.io/admin-ui`): the `/admin` namespace
//! the UI connects to, with `--admin-password`.
//!
//! * [`credentials`]: the login (user name and password, plain or bcrypt) and stateless session ids;
//! * [`namespace`]: admission to `/admin`, what a UI gets when it connects, and its operations (emit,
//!   join, leave, disconnect), carried out cluster-wide through the control requests (`control::admin`);
//! * [`feed`]: what happens to the hub's sockets, told to every UI as it happens;
//! * [`ticker`]: every 2 s, `server_stats` and transport upgrades; in a cluster, whether a UI is open on
//!   another hub;
//! * [`sockets`]: one socket as the UI lists it.
//!
//! Without `--admin-password` none of this exists, and a client asking for `/admin` is refused like any
//! unknown namespace. The wire shapes are in `hub_protocol::admin`; PROTOCOL.md documents them.

pub mod credentials;
pub mod feed;
pub mod namespace;
pub mod sockets;
pub mod ticker;

use std::time::Instant;

use fred::clients::Client;
use hub_protocol::admin::{AdminConfig as UiConfig, Feature};
use tokio::sync::mpsc;

use crate::config::AdminConfig;
use credentials::Credentials;
use feed::{Feed, FeedEvent};

/// Most Admin UIs connected to one hub at once: each gets every event.
pub const MAX_WATCHERS: usize = 64;

/// The Admin UI's state on one hub.
#[derive(Debug)]
pub struct Admin {
    pub read_only: bool,
    pub credentials: Credentials,
    pub feed: Feed,
    /// This hub as the UI's Servers page lists it.
    pub server: ticker::ServerIdentity,
    pub started: Instant,
    /// In a cluster: where the hubs tell each other that a UI is open.
    watchers: Option<Client>,
}

impl Admin {
    /// The Admin UI's state, and the receiving end of its feed (for [`ticker::start`]).
    pub fn new(config: &AdminConfig, watchers: Option<Client>) -> (Self, mpsc::Receiver<FeedEvent>) {
        let (feed, events) = Feed::new();
        let admin = Self {
            read_only: config.read_only,
            credentials: Credentials::new(config),
            feed,
            server: ticker::ServerIdentity::of_this_process(),
            started: Instant::now(),
            watchers,
        };
        (admin, events)
    }

    /// What the UI may do: everything but the operations when read-only. `ALL_EVENTS` makes the UI show
    /// its Sockets, Rooms and Clients pages.
    pub fn ui_config(&self) -> UiConfig {
        let mut supported_features = match self.read_only {
            true => Vec::new(),
            false => Feature::OPERATIONS.to_vec(),
        };
        supported_features.extend([Feature::AggregatedEvents, Feature::AllEvents]);
        UiConfig { supported_features }
    }
}
