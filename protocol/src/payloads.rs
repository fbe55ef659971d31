//! Request, broadcast and ack bodies of the hub's events. Requests carry raw strings as they arrive;
//! the hub validates them with [`names`](crate::names).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::history::RecordedAt;

/// A room and how many sockets are in it: the ack body of `join` and `leave` (the count afterwards), and
/// the body of the `members` event the hub pushes to a room after its membership changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomMembers {
    pub room: String,
    pub members: usize,
    /// In a cluster: `members` may leave out other hubs' sockets (Redis is unreachable, or a message
    /// between the hubs was lost). Absent when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

/// `slow_consumer`: why the hub is about to disconnect this socket (it sends the DISCONNECT right after).
/// The socket's send queue was full, so events for it were dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlowConsumer {
    /// A sentence for people: what happened and what to do.
    pub message: String,
}

/// One change of a room's users, in the `presence` event: a user's first socket joined the room, or its
/// last socket left it. The event's one argument is an array of these, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceChange {
    pub room: String,
    pub user: String,
    /// The user's public info (what the application's sign-in said), `null` when there is none or it is
    /// no longer known (a user whose hub stopped without saying goodbye).
    pub info: Option<Value>,
    pub state: PresenceState,
}

/// Whether a user came into a room or went out of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PresenceState {
    Joined,
    Left,
}

/// `chat` from a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatRequest {
    pub room: String,
    pub text: String,
}

/// `chat` as the other members of the room receive it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub room: String,
    pub text: String,
    /// The sender's display name.
    pub user: String,
    /// When the hub accepted the message, in milliseconds since the Unix epoch.
    pub ts: u64,
    /// Where the room's stream recorded it ([`history`](crate::history)); absent when the hub keeps no
    /// history, or could not record it (in a cluster, while Redis is unreachable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<String>,
}

/// Ack body of `chat`: the timestamp the message was sent with, and where it was recorded (as in
/// [`ChatMessage`]), so that the sender recognises its own message when a history replay brings it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatAck {
    pub ts: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<String>,
    /// Present and `true` only when a hub in a cluster could not reach the other hubs: the message
    /// reached this hub's members only, and was not recorded.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
}

/// `publish` from a publisher, and one line of `publish --stdin-lines`.
///
/// `D` is the data's type: JSON for the `publish` CLI, [`Argument`](crate::Argument) in the hub, which
/// relays binary attachments too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishRequest<D = Value> {
    /// The event the subscribers receive.
    pub event: String,
    /// The receivers' one argument (then the [`EventMeta`], for clients that asked for it); `null` when
    /// absent.
    #[serde(default)]
    pub data: D,
    /// Target rooms; absent or empty means the whole namespace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rooms: Vec<String>,
    /// `false`: a volatile event, delivered to whoever is connected now and not recorded in any stream's
    /// history (`publish --volatile`). Absent means `true`.
    #[serde(default = "recorded", skip_serializing_if = "is_recorded")]
    pub history: bool,
}

fn recorded() -> bool {
    true
}

fn is_recorded(history: &bool) -> bool {
    *history
}

/// Ack body of `publish` and of a publisher's direct emit: how many sockets the event was emitted to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishAck {
    pub delivered: usize,
    /// Present and `true` only when a hub in a cluster could not reach the other hubs (Redis is down:
    /// the event went to this hub's own sockets only, and `delivered` counts those), or may have missed
    /// some of them (a message between the hubs was lost, or a hub did not answer in time).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
    /// Where the event was recorded: one position per target stream (each target room, or the
    /// namespace). Absent for a volatile event, or when the hub keeps no history.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recorded: Vec<RecordedAt>,
}

/// A published event's metadata: one more, last argument after the published ones, for clients that
/// connected with `auth: {meta: true}`. Others receive exactly the published arguments.
///
/// A receiver learns only what concerns it: for a publish into several rooms, `room` is the first of the
/// target rooms that the receiver is in, never the whole list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMeta {
    /// The namespace the event was published in, e.g. `/`.
    pub namespace: String,
    /// The target room that reached this receiver; absent when the whole namespace was targeted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// Where that room's stream (or the namespace's) recorded the event; absent for a volatile event, or
    /// when it was not recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<String>,
}

/// Body of `POST /api/publish`, and one message of `POST /api/batch`: a [`PublishRequest`] plus the
/// namespace to publish in (`/` when absent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiPublish {
    pub event: String,
    #[serde(default)]
    pub data: Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rooms: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// As in [`PublishRequest::history`].
    #[serde(default = "recorded", skip_serializing_if = "is_recorded")]
    pub history: bool,
}

impl ApiPublish {
    /// The namespace and the request as the `publish` event would carry it.
    pub fn into_parts(self) -> (String, PublishRequest) {
        let namespace = self.namespace.unwrap_or_else(|| "/".to_owned());
        let request =
            PublishRequest { event: self.event, data: self.data, rooms: self.rooms, history: self.history };
        (namespace, request)
    }
}

/// Most messages in one `POST /api/batch`.
pub const API_BATCH_MAX_MESSAGES: usize = 100;

/// Body of `POST /api/batch`. Each message is checked on its own, so one bad message does not sink the
/// others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiBatch {
    pub messages: Vec<Value>,
}

/// Success body of `POST /api/batch`: one ack per message, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiBatchAck {
    pub results: Vec<crate::Ack<PublishAck>>,
}
