//! What every socket and request of one hub shares.

use std::sync::Arc;

use crate::admin::Admin;
use crate::admin::feed::Feed;

use crate::delivery::mode::Mode;
use crate::delivery::occupancy::Occupancy;
use crate::delivery::presence::Presence;
use crate::history::History;
use crate::net::connect_wait::ConnectWaits;
use crate::policy::auth_failures::AuthFailures;
use crate::policy::limits::Limits;
use crate::policy::sign_in::SignIn;
use crate::policy::token::PublishToken;
use crate::webhooks::Webhooks;

/// State shared by every socket of one hub.
#[derive(Debug, Clone)]
pub struct HubState {
    pub publish_token: PublishToken,
    pub presence: Arc<Presence>,
    /// Who is in each room, user by user (the `presence` event).
    pub occupancy: Arc<Occupancy>,
    pub limits: Arc<Limits>,
    /// How users sign in: open, with JWTs (`--jwt-secret`) or through the application (`--auth-url`).
    pub sign_in: SignIn,
    /// Alone or in a cluster.
    pub mode: Mode,
    /// Recorded events, for replays.
    pub history: History,
    /// Polling POSTs waiting for their CONNECT to be handled.
    pub connect_waits: Arc<ConnectWaits>,
    /// Failed authentications per client address, on Socket.IO and the HTTP API alike.
    pub auth_failures: Arc<AuthFailures>,
    /// Where events go for the application (`--webhook-url`); disabled by default.
    pub webhooks: Webhooks,
    /// The Admin UI (`--admin-password`); `None` by default.
    pub admin: Option<Arc<Admin>>,
}

impl HubState {
    pub fn new(
        publish_token: PublishToken,
        limits: Arc<Limits>,
        sign_in: SignIn,
        mode: Mode,
        history: History,
    ) -> Self {
        let presence = Arc::default();
        Self {
            publish_token,
            presence,
            occupancy: Arc::default(),
            limits,
            sign_in,
            mode,
            history,
            connect_waits: Arc::default(),
            auth_failures: Arc::default(),
            webhooks: Webhooks::disabled(),
            admin: None,
        }
    }

    /// The same state, with the Admin UI on.
    pub fn with_admin(mut self, admin: Option<Arc<Admin>>) -> Self {
        self.admin = admin;
        self
    }

    /// What the Admin UI is told, when it is on.
    pub fn admin_feed(&self) -> Option<&Feed> {
        self.admin.as_deref().map(|admin| &admin.feed)
    }

    /// The same state, sending events to `webhooks`.
    pub fn with_webhooks(mut self, webhooks: Webhooks) -> Self {
        self.webhooks = webhooks;
        self
    }
}
