//! History: every room of a namespace, and the namespace itself, has a stream of its recorded events,
//! numbered by an offset within an epoch. A client that knows where it stopped asks for what it missed.
//!
//! * An **offset** is 1 for a stream's first event and one more for each next one.
//! * An **epoch** names one unbroken history of a stream. It changes whenever the history was lost (an
//!   in-memory hub restarted, Redis lost its data, the stream expired): offsets of another epoch say
//!   nothing about this one.
//!
//! `join` takes [`JoinOptions`] as its optional second argument and acks with [`JoinAck`]; a CONNECT auth
//! payload may carry the same options for the namespace's stream, answered by the [`RECOVERY`] event.
//!
//! [`RECOVERY`]: crate::events::RECOVERY

use serde::{Deserialize, Serialize};

use crate::{Argument, RoomMembers};

/// Where a client stands in a stream: the last offset it has, in which epoch.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamPosition {
    pub offset: u64,
    pub epoch: String,
}

/// What a client asks to be sent first when it joins a room (the second argument of `join`), or connects
/// to a namespace (in its CONNECT auth).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinOptions {
    /// Every recorded event after this position, if the hub still keeps all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<StreamPosition>,
    /// The last `history` recorded events (as many as are kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<usize>,
}

impl JoinOptions {
    /// Whether the options ask for anything.
    pub fn is_empty(&self) -> bool {
        self.since.is_none() && self.history.is_none()
    }
}

/// Where a stream stands after a `join` or a namespace recovery, and what was sent before it.
///
/// `offset` and `epoch` are absent when the hub keeps no history (`--history-size 0`), or could not
/// read it (in a cluster, while Redis is unreachable).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replayed {
    /// The stream's last offset (0 for a stream without events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<String>,
    /// For a request with `since`: `true` when every event after it was sent first, `false` when the hub
    /// no longer has them all (another epoch, too old): nothing was sent, reload from the application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered: Option<bool>,
    /// How many events were sent first (with `since` or `history`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missed: Option<usize>,
}

/// Ack body of `join`: the room's members, and where its stream stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinAck {
    #[serde(flatten)]
    pub members: RoomMembers,
    #[serde(flatten)]
    pub stream: Replayed,
}

/// The position an event was recorded at, in one stream: in `publish` acks, one per target stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedAt {
    /// The room whose stream recorded it; absent for the namespace's stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    pub offset: u64,
    pub epoch: String,
}

/// The query string of `GET /api/history`, e.g. `?namespace=/&room=lobby&since=12&epoch=E&limit=50`.
/// Every parameter is optional; any other is refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// The namespace (`/` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The room whose stream to read; absent: the namespace's own stream (events published to all of it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// The last offset the caller has: the page starts after it. Absent: at the oldest event kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<u64>,
    /// The epoch of `since` (needs `since`): the answer then says whether the page follows it directly
    /// ([`HistoryPage::recovered`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<String>,
    /// Most events in the page: 0 to [`HISTORY_PAGE_MAX`], which is the default. 0 asks for the
    /// stream's position only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// One recorded event, as `GET /api/history` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEvent {
    pub offset: u64,
    /// The event's name (`chat` for a chat message).
    pub event: String,
    /// Its arguments exactly as receivers without metadata got them (binary attachments as arrays of
    /// byte values).
    pub args: Vec<Argument>,
    /// When the hub recorded it, in milliseconds since the Unix epoch.
    pub ts: u64,
}

/// Success body of `GET /api/history`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryPage {
    pub namespace: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// The stream's last offset and its epoch.
    pub offset: u64,
    pub epoch: String,
    /// With `epoch` in the request: whether `events` follow `since` directly in that epoch. `false`: the
    /// events asked for are gone, and `events` starts at the oldest event kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered: Option<bool>,
    /// At most `limit` events after `since`, oldest first.
    pub events: Vec<HistoryEvent>,
}

/// Most events one `GET /api/history` returns, and the default `limit`.
pub const HISTORY_PAGE_MAX: usize = 1_000;
