//! What a client sends in its CONNECT auth payload (`io(url, { auth: {...} })` in JavaScript).

use serde::{Deserialize, Serialize};

use crate::history::{JoinOptions, StreamPosition};

/// The CONNECT auth payload. Every field is optional; unknown fields are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectAuth {
    /// Display name used as `user` in `chat` messages (1..=64 characters, no control characters).
    /// Without it the hub names the socket `anon-<short id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The hub's publish token. With the right token the socket is a publisher; with a wrong one the
    /// connection is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// `true`: published events arrive with one more, last argument, their
    /// [`EventMeta`](crate::EventMeta). Without it they carry exactly the published arguments.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub meta: bool,
    /// Recovery of the namespace's stream (events published to the whole namespace), as `join` does for
    /// a room: with either field, the hub sends what was asked, then the
    /// [`RECOVERY`](crate::events::RECOVERY) event with the stream's position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<StreamPosition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<usize>,
}

impl ConnectAuth {
    /// What the client asked of the namespace's stream.
    pub fn recovery(&self) -> JoinOptions {
        JoinOptions { since: self.since.clone(), history: self.history }
    }
}

/// The `connect_error` message for a wrong publish token.
pub const INVALID_TOKEN_MESSAGE: &str = "invalid publish token";
