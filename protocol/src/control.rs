//! Controlling the hub from the application: the `who` ack, the `kicked` event, the HTTP control API's
//! requests and answers (`/api/rooms`, `/api/users`, `/api/disconnect`, `/api/join`, `/api/leave`), and
//! the messages the hubs of a cluster exchange to answer them together.
//!
//! Every list is bounded: at most [`MAX_USERS`] users (or sockets) and [`MAX_ROOMS`] rooms, sorted,
//! with `"truncated":true` when there were more. An answer that may leave out another hub's sockets (a
//! hub did not answer in time, or Redis is unreachable) says `"partial":true`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::admin::{AdminOperation, SerializedSocket};

/// Most users in a `who` ack or a room's detail, and most sockets in a user's detail.
pub const MAX_USERS: usize = 1_000;
/// Most rooms in `GET /api/rooms`.
pub const MAX_ROOMS: usize = 10_000;
/// Longest `reason` of `POST /api/disconnect`, in characters.
pub const MAX_REASON_CHARS: usize = 200;
/// The `reason` a kicked socket receives when the application gave none.
pub const DEFAULT_REASON: &str = "disconnected by the application";

fn is_false(value: &bool) -> bool {
    !value
}

/// One user of a room: its name, its public info (`null` when it has none) and how many of its
/// sockets are in the room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomUser {
    pub user: String,
    #[serde(default)]
    pub info: Option<Value>,
    pub sockets: usize,
}

/// The ack body of `who`, and the answer of `GET /api/rooms/{room}`: the room's size in sockets, and
/// its users sorted by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomUsers {
    pub room: String,
    pub members: usize,
    pub users: Vec<RoomUser>,
    /// More than [`MAX_USERS`] users: only the first ones by name are listed. Absent when false.
    #[serde(default, skip_serializing_if = "is_false")]
    pub truncated: bool,
    /// A hub of the cluster did not answer: its sockets may be missing. Absent when false.
    #[serde(default, skip_serializing_if = "is_false")]
    pub partial: bool,
}

/// A room and its size in sockets, in `GET /api/rooms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomCount {
    pub room: String,
    pub members: usize,
}

/// The answer of `GET /api/rooms`: every room with at least one member, sorted by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomList {
    pub rooms: Vec<RoomCount>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub truncated: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub partial: bool,
}

/// One socket of a user: its namespace and its rooms (sorted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSocket {
    pub namespace: String,
    pub rooms: Vec<String>,
}

/// The answer of `GET /api/users/{user}`: the user's sockets, sorted by namespace then rooms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSockets {
    pub user: String,
    pub sockets: Vec<UserSocket>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub truncated: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub partial: bool,
}

/// `POST /api/disconnect`: the sockets of one user (in every namespace, or in `namespace` only) or
/// those in one room (of `namespace`, `/` by default). Exactly one of `user` and `room`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiDisconnect {
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub room: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    /// Sent to each socket in `kicked` before it is disconnected; [`DEFAULT_REASON`] when absent.
    #[serde(default)]
    pub reason: Option<String>,
}

/// The answer of `POST /api/disconnect`: how many sockets were disconnected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disconnected {
    pub disconnected: usize,
    #[serde(default, skip_serializing_if = "is_false")]
    pub partial: bool,
}

/// `POST /api/join` and `POST /api/leave`: the user's sockets of `namespace` (`/` by default) join or
/// leave `room`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiMembership {
    pub user: String,
    pub room: String,
    #[serde(default)]
    pub namespace: Option<String>,
}

/// The answer of `POST /api/join` and `POST /api/leave`: how many of the user's sockets are in the
/// room afterwards (join) or left it (leave); `refused` counts the sockets that could not join (they
/// were in `--max-rooms-per-socket` rooms already, or disconnecting).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembershipChanged {
    pub sockets: usize,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub refused: usize,
    #[serde(default, skip_serializing_if = "is_false")]
    pub partial: bool,
}

fn is_zero(value: &usize) -> bool {
    *value == 0
}

/// `kicked`, from the hub to a socket just before it disconnects it on the application's request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kicked {
    pub reason: String,
}

/// The plain Redis pub/sub channel every hub of a cluster reads control requests from.
pub const CONTROL_CHANNEL: &str = "hub:control";

/// The channel on which the hub `hub` reads the answers to its own control requests.
pub fn reply_channel(hub: &str) -> String {
    format!("{CONTROL_CHANNEL}:reply:{hub}")
}

/// A control request from one hub to the others, which answer on [`reply_channel`]`(from)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlRequest {
    /// Unique among the asking hub's requests: its answers carry it.
    pub id: u64,
    /// The asking hub.
    pub from: String,
    pub query: ControlQuery,
}

/// What a control request asks each hub, about its own sockets. Names are validated by the asking
/// hub; the answering one checks them again, as every input from the network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ControlQuery {
    Rooms {
        namespace: String,
    },
    Room {
        namespace: String,
        room: String,
    },
    User {
        user: String,
    },
    Disconnect {
        namespace: Option<String>,
        target: Target,
        reason: String,
    },
    Join {
        namespace: String,
        user: String,
        room: String,
    },
    Leave {
        namespace: String,
        user: String,
        room: String,
    },
    /// How many of the hub's sockets an event of one stream reaches: a publish counts its receivers on
    /// every hub before Redis records and announces the event. `room`: the stream's room (none: the
    /// namespace's own stream); `earlier`: the publish's rooms before it, whose members it spares.
    Receivers {
        namespace: String,
        room: Option<String>,
        earlier: Vec<String>,
    },
    /// The Admin UI's list of every socket (`all_sockets`).
    AdminSockets,
    /// An operation of the Admin UI.
    Admin {
        operation: AdminOperation,
    },
}

/// Whose sockets a disconnect is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    User(String),
    Room(String),
}

/// One hub's answer to a [`ControlRequest`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlReply {
    pub id: u64,
    pub answer: ControlAnswer,
}

/// One hub's part of the answer; lists are sorted and bounded like the merged answer, so that merging
/// the hubs' first ones gives the cluster's first ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ControlAnswer {
    /// `known`: the hub serves the namespace.
    Rooms {
        known: bool,
        rooms: Vec<RoomCount>,
        truncated: bool,
    },
    Room {
        known: bool,
        members: usize,
        users: Vec<RoomUser>,
        truncated: bool,
    },
    User {
        sockets: Vec<UserSocket>,
        truncated: bool,
    },
    /// The hub's sockets for the Admin UI, at most [`MAX_SOCKETS_PER_HUB`](crate::admin::MAX_SOCKETS_PER_HUB).
    AdminSockets {
        sockets: Vec<SerializedSocket>,
        truncated: bool,
    },
    /// The receivers counted for [`ControlQuery::Receivers`]; `known`: the hub serves the namespace.
    Receivers {
        known: bool,
        count: usize,
    },
    /// Sockets disconnected, joined or left; `found`: sockets the request was about.
    Count {
        known: bool,
        found: usize,
        done: usize,
        refused: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_messages_round_trip_as_tagged_json() {
        let request = ControlRequest {
            id: 7,
            from: "h1".into(),
            query: ControlQuery::Disconnect {
                namespace: None,
                target: Target::User("alice".into()),
                reason: "bye".into(),
            },
        };
        let text = serde_json::to_string(&request).unwrap();
        assert!(text.contains(r#""kind":"disconnect""#) && text.contains(r#""user":"alice""#), "{text}");
        assert_eq!(serde_json::from_str::<ControlRequest>(&text).unwrap(), request);
    }

    #[test]
    fn api_bodies_refuse_unknown_fields_and_answers_hide_false_flags() {
        assert!(serde_json::from_str::<ApiMembership>(r#"{"user":"a","room":"r","rooom":1}"#).is_err());
        let answer = Disconnected { disconnected: 2, partial: false };
        assert_eq!(serde_json::to_string(&answer).unwrap(), r#"{"disconnected":2}"#);
    }
}
