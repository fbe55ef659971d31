//! Webhooks: what the hub POSTs to the application's `--webhook-url`.
//!
//! Each request carries one [`WebhookBatch`] as its JSON body: up to [`MAX_BATCH_EVENTS`] events that
//! happened within about a second, oldest first, signed in the [`SIGNATURE_HEADER`] header as
//! `sha256=` followed by the lowercase hex HMAC-SHA256 of the exact body, keyed with `--webhook-secret`.
//! A batch the receiver did not accept (no answer, or not 2xx) is sent again, byte for byte, so a
//! receiver may see a batch more than once: [`DELIVERY_HEADER`] names it for de-duplication.
//!
//! [`WebhookEventName`] is the list `--webhook-events` chooses from.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The header holding `sha256=<hex HMAC-SHA256 of the body>`.
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature";

/// The header naming a batch, the same on every attempt to deliver it: `<hub id>-<sequence number>`.
pub const DELIVERY_HEADER: &str = "X-Hub-Delivery";

/// Most events in one batch.
pub const MAX_BATCH_EVENTS: usize = 100;

/// The body of one webhook request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookBatch {
    /// When the hub made the batch (its first attempt), in milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// Oldest first.
    pub events: Vec<WebhookEvent>,
}

/// One thing that happened, named by its `name` field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum WebhookEvent {
    /// A room got its first member, anywhere in the cluster.
    RoomOccupied { namespace: String, room: String },
    /// A room lost its last member, anywhere in the cluster.
    RoomVacated { namespace: String, room: String },
    /// A user joined a room in which they had no socket yet.
    MemberAdded {
        namespace: String,
        room: String,
        user: String,
        /// The user's public info, when their identity carries some.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        info: Option<Value>,
    },
    /// A user's last socket in a room left it.
    MemberRemoved {
        namespace: String,
        room: String,
        user: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        info: Option<Value>,
    },
    /// A chat message the hub accepted, as the room's members received it.
    Chat {
        namespace: String,
        room: String,
        user: String,
        text: String,
        /// When the hub accepted it, in milliseconds since the Unix epoch.
        ts: u64,
    },
}

impl WebhookEvent {
    pub fn name(&self) -> WebhookEventName {
        match self {
            Self::RoomOccupied { .. } => WebhookEventName::RoomOccupied,
            Self::RoomVacated { .. } => WebhookEventName::RoomVacated,
            Self::MemberAdded { .. } => WebhookEventName::MemberAdded,
            Self::MemberRemoved { .. } => WebhookEventName::MemberRemoved,
            Self::Chat { .. } => WebhookEventName::Chat,
        }
    }
}

/// The name of a kind of [`WebhookEvent`], as in its `name` field and in `--webhook-events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookEventName {
    RoomOccupied,
    RoomVacated,
    MemberAdded,
    MemberRemoved,
    Chat,
}

impl WebhookEventName {
    /// Every kind, in the order the documentation lists them.
    pub const ALL: [Self; 5] =
        [Self::RoomOccupied, Self::RoomVacated, Self::MemberAdded, Self::MemberRemoved, Self::Chat];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RoomOccupied => "room_occupied",
            Self::RoomVacated => "room_vacated",
            Self::MemberAdded => "member_added",
            Self::MemberRemoved => "member_removed",
            Self::Chat => "chat",
        }
    }
}

impl fmt::Display for WebhookEventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of [`WebhookEventName::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown webhook event {name:?}: expected one of room_occupied, room_vacated, member_added, member_removed, chat"
)]
pub struct UnknownWebhookEvent {
    pub name: String,
}

impl FromStr for WebhookEventName {
    type Err = UnknownWebhookEvent;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|name| name.as_str() == text)
            .ok_or_else(|| UnknownWebhookEvent { name: text.chars().take(100).collect() })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn events_are_flat_objects_named_by_their_name_field() {
        let chat = WebhookEvent::Chat {
            namespace: "/".into(),
            room: "lobby".into(),
            user: "alice".into(),
            text: "hi".into(),
            ts: 17,
        };
        let json = serde_json::to_value(&chat).unwrap();
        assert_eq!(
            json,
            json!({"name": "chat", "namespace": "/", "room": "lobby", "user": "alice", "text": "hi", "ts": 17})
        );
        assert_eq!(serde_json::from_value::<WebhookEvent>(json).unwrap(), chat);
        let added = WebhookEvent::MemberAdded {
            namespace: "/".into(),
            room: "lobby".into(),
            user: "bob".into(),
            info: None,
        };
        assert_eq!(
            serde_json::to_value(&added).unwrap(),
            json!({"name": "member_added", "namespace": "/", "room": "lobby", "user": "bob"})
        );
        let vacated = WebhookEvent::RoomVacated { namespace: "/".into(), room: "lobby".into() };
        assert_eq!(vacated.name().as_str(), serde_json::to_value(&vacated).unwrap()["name"]);
    }

    #[test]
    fn every_name_parses_back_and_others_are_refused() {
        for name in WebhookEventName::ALL {
            assert_eq!(name.as_str().parse::<WebhookEventName>(), Ok(name));
            assert_eq!(serde_json::to_value(name).unwrap(), json!(name.as_str()));
        }
        let error = "messages".parse::<WebhookEventName>().unwrap_err();
        assert!(error.to_string().starts_with("unknown webhook event \"messages\""), "{error}");
    }
}
