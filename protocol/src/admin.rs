//! The server side of the official Socket.IO Admin UI (`@socket.io/admin-ui`), as its UI speaks it: the
//! `/admin` namespace, what the UI sends in its CONNECT auth, the events the hub sends it and the
//! operations it sends the hub.
//!
//! The shapes are the UI's own (`lib/typed-events.ts` in socketio/socket.io-admin-ui, version 0.5.1):
//! camelCase fields, timestamps as ISO 8601 strings (what `new Date()` serializes to).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The namespace the UI connects to.
pub const NAMESPACE: &str = "/admin";

/// The one refusal the UI translates (and the only one it shows on its login form).
pub const INVALID_CREDENTIALS: &str = "invalid credentials";

/// The refusal of a CONNECT with no credentials at all, as the UI sends on a first visit (it tries the
/// server it was given before anything is typed): a hint, not an error.
pub const SIGN_IN_REQUIRED: &str = "sign in with the Admin UI's user name and password";

/// Hub to UI: a session id the UI keeps and sends instead of the password when the page is reloaded.
pub const SESSION: &str = "session";
/// Hub to UI: what the UI may do ([`AdminConfig`]).
pub const CONFIG: &str = "config";
/// Hub to UI, from every hub every 2 s: [`ServerStats`].
pub const SERVER_STATS: &str = "server_stats";
/// Hub to UI, once after CONNECT: every socket of the cluster ([`SerializedSocket`] list).
pub const ALL_SOCKETS: &str = "all_sockets";
/// Hub to UI: `(SerializedSocket, timestamp)`.
pub const SOCKET_CONNECTED: &str = "socket_connected";
/// Hub to UI: `(SocketUpdate)`, when a socket's transport was upgraded.
pub const SOCKET_UPDATED: &str = "socket_updated";
/// Hub to UI: `(namespace, socket id, reason, timestamp)`.
pub const SOCKET_DISCONNECTED: &str = "socket_disconnected";
/// Hub to UI: `(namespace, room, socket id, timestamp)`.
pub const ROOM_JOINED: &str = "room_joined";
/// Hub to UI: `(namespace, room, socket id, timestamp)`.
pub const ROOM_LEFT: &str = "room_left";
/// Hub to UI: `(namespace, socket id, [event, ...arguments], timestamp)`, an event a socket sent.
pub const EVENT_RECEIVED: &str = "event_received";

/// UI to hub: `(namespace, filter, event, ...arguments)`: emit `event` to the namespace's sockets, or
/// to those in the room (or with the socket id) `filter`.
pub const EMIT: &str = "emit";
/// UI to hub: `(namespace, room, filter)`: the sockets (all, or those `filter` names) join `room`.
pub const JOIN: &str = "join";
/// UI to hub: `(namespace, room, filter)`: the sockets leave `room`.
pub const LEAVE: &str = "leave";
/// UI to hub: `(namespace, close, filter)`: disconnect the sockets (`close`: from every namespace).
pub const DISCONNECT: &str = "_disconnect";

/// What the UI sends in its CONNECT auth: a username and password from its login form, or the
/// session id the hub gave it, on a reload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminAuth {
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub session_id: Option<String>,
}

/// A capability the UI shows controls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Feature {
    Emit,
    Join,
    Leave,
    Disconnect,
    /// Join, leave and disconnect many sockets at once (with a room as filter).
    Mjoin,
    Mleave,
    Mdisconnect,
    /// `server_stats` carries `aggregatedEvents` (the dashboard's charts).
    AggregatedEvents,
    /// Per-socket events: without it the UI hides its Sockets, Rooms, Clients and Events pages.
    AllEvents,
}

impl Feature {
    /// The operations, which a read-only hub does not advertise (nor accept).
    pub const OPERATIONS: [Feature; 7] = [
        Feature::Emit,
        Feature::Join,
        Feature::Leave,
        Feature::Disconnect,
        Feature::Mjoin,
        Feature::Mleave,
        Feature::Mdisconnect,
    ];
}

/// The `config` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminConfig {
    pub supported_features: Vec<Feature>,
}

/// One namespace of a hub and its sockets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceDetails {
    pub name: String,
    pub sockets_count: usize,
}

/// How many of one kind of event happened within one second (`timestamp`, in ms since the epoch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AggregatedEvent {
    pub timestamp: u64,
    /// `rawConnection` or `rawDisconnection` (with the reason as `subType`).
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_type: Option<String>,
    pub count: u64,
}

/// The `server_stats` event: one hub's view of itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerStats {
    /// Unique in the cluster: `hostname#pid`.
    pub server_id: String,
    pub hostname: String,
    pub pid: u32,
    /// Seconds since the hub started.
    pub uptime: f64,
    /// Sockets connected to this hub.
    pub clients_count: usize,
    /// Of which over HTTP long-polling.
    pub polling_clients_count: usize,
    pub aggregated_events: Vec<AggregatedEvent>,
    pub namespaces: Vec<NamespaceDetails>,
}

/// What a socket's handshake said: where it came from and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Handshake {
    pub address: String,
    /// The request's headers, but those that carry credentials (cookie, authorization), which are
    /// replaced by `"(hidden)"`.
    pub headers: BTreeMap<String, String>,
    /// The query string's parameters (a v2 client's `token` hidden).
    pub query: BTreeMap<String, String>,
    /// When the socket connected, in ms since the epoch.
    pub issued: u64,
    pub secure: bool,
    /// When the socket connected, as an ISO 8601 string.
    pub time: String,
    pub url: String,
    pub xdomain: bool,
}

/// One socket, as the UI lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SerializedSocket {
    pub id: String,
    /// The Engine.IO session's id, cut to 12 characters as the UI expects; the sockets of one client in
    /// several namespaces share it.
    pub client_id: String,
    /// `polling` or `websocket`.
    pub transport: String,
    pub nsp: String,
    /// The hub's view of the socket: its user and the public info the application gave it.
    pub data: Value,
    pub handshake: Handshake,
    /// The socket's own id first (Socket.IO's private room), then its rooms.
    pub rooms: Vec<String>,
}

/// The `socket_updated` event: a socket's transport changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocketUpdate {
    pub id: String,
    pub nsp: String,
    pub transport: String,
}

/// Most sockets in `all_sockets` (each hub sends at most [`MAX_SOCKETS_PER_HUB`]): the UI keeps them
/// all in memory and renders them in one table.
pub const MAX_SOCKETS: usize = 10_000;
/// Most sockets one hub lists for `all_sockets`.
pub const MAX_SOCKETS_PER_HUB: usize = 5_000;

/// Which sockets of a namespace an operation is for: all of them, or those in a room, or the one
/// socket with that id (the UI targets one socket by giving its id as the room, as Socket.IO allows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    pub namespace: String,
    /// `None`: every socket of the namespace.
    #[serde(default)]
    pub filter: Option<String>,
}

/// An operation of the UI, carried out by every hub of the cluster on its own sockets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum AdminOperation {
    Emit {
        sockets: Selection,
        event: String,
        args: Vec<Value>,
    },
    Join {
        sockets: Selection,
        room: String,
    },
    Leave {
        sockets: Selection,
        room: String,
    },
    /// `close`: the client's sockets in every namespace go too.
    Disconnect {
        sockets: Selection,
        close: bool,
    },
}

/// The `kicked` reason a socket receives when an operator disconnects it from the Admin UI.
pub const DISCONNECT_REASON: &str = "disconnected by an operator";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_are_named_as_the_ui_expects() {
        let config = AdminConfig { supported_features: vec![Feature::Mjoin, Feature::AllEvents] };
        assert_eq!(
            serde_json::to_string(&config).unwrap(),
            r#"{"supportedFeatures":["MJOIN","ALL_EVENTS"]}"#
        );
    }

    #[test]
    fn the_ui_reload_sends_a_session_id() {
        let auth: AdminAuth = serde_json::from_str(r#"{"sessionId":"abc"}"#).unwrap();
        assert_eq!(auth.session_id.as_deref(), Some("abc"));
        assert_eq!(auth.username, None);
    }

    #[test]
    fn aggregated_events_have_a_type() {
        let event =
            AggregatedEvent { timestamp: 1000, kind: "rawConnection".into(), sub_type: None, count: 2 };
        assert_eq!(
            serde_json::to_string(&event).unwrap(),
            r#"{"timestamp":1000,"type":"rawConnection","count":2}"#
        );
    }
}
