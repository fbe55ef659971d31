//! Event names: the ones the hub handles, and the ones nobody may publish.

/// `join` `[room]` or `[room, JoinOptions]`: join a room (first sending the recorded events asked for);
/// acked with [`JoinAck`](crate::JoinAck).
pub const JOIN: &str = "join";
/// `leave` `[room]`: leave a room; acked with [`RoomMembers`](crate::RoomMembers).
pub const LEAVE: &str = "leave";
/// `chat` `[ChatRequest]` from a client, `chat` `[ChatMessage]` to the other members of the room.
pub const CHAT: &str = "chat";
/// `echo` with any arguments: acked with the same arguments.
pub const ECHO: &str = "echo";
/// `publish` `[PublishRequest]`: publishers only; acked with [`PublishAck`](crate::PublishAck).
pub const PUBLISH: &str = "publish";
/// `members` `[RoomMembers]`, from the hub to a room's members when its membership has changed (joins,
/// leaves, disconnects), at most once per [`MEMBERS_INTERVAL_MS`] per room.
pub const MEMBERS: &str = "members";

/// `recovery` `[Replayed]`, from the hub to a socket that asked for the namespace's stream in its
/// CONNECT auth (`since` or `history`), after the events it asked for.
pub const RECOVERY: &str = "recovery";

/// The shortest time between two `members` events for one room: changes within it are sent as one.
pub const MEMBERS_INTERVAL_MS: u64 = 500;
/// `slow_consumer` `[SlowConsumer]`, from the hub to a socket just before it disconnects it because the
/// socket's send queue was full: it missed events, and should reconnect and rejoin its rooms.
pub const SLOW_CONSUMER: &str = "slow_consumer";

/// `who` `[room]`: members only; acked with the room's users, each with its public info and how many
/// sockets it has in the room.
pub const WHO: &str = "who";
/// `presence` `[[PresenceChange, ...]]`, from the hub to a room's members when a user's first socket
/// joined the room or its last socket left it (a user with three tabs is one user): one argument, the
/// changes of one room within [`MEMBERS_INTERVAL_MS`], oldest first.
pub const PRESENCE: &str = "presence";
/// `kicked` `[{"reason"}]`, from the hub to a socket just before it disconnects it on the application's
/// request (`POST /api/disconnect`): Socket.IO's DISCONNECT packet carries no reason.
pub const KICKED: &str = "kicked";

/// Whether `event` is one the hub sends a room's members on its own after joins, leaves and
/// disconnects (`members`, `presence`), at its own pace: clients that wait for other events skip them.
pub fn is_room_bookkeeping(event: &str) -> bool {
    event == MEMBERS || event == PRESENCE
}

/// Names that no publisher may emit to clients: the Socket.IO client's own lifecycle events, and the
/// hub's own events (a published `chat` would be indistinguishable from a real one).
pub const RESERVED: [&str; 17] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
    JOIN,
    LEAVE,
    CHAT,
    ECHO,
    PUBLISH,
    MEMBERS,
    RECOVERY,
    SLOW_CONSUMER,
    WHO,
    PRESENCE,
    KICKED,
];

/// Whether `name` is one of the [`RESERVED`] event names.
pub fn is_reserved(name: &str) -> bool {
    RESERVED.contains(&name)
}
