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

/// Names that no publisher may emit to clients: the Socket.IO client's own lifecycle events, and the
/// hub's own events (a published `chat` would be indistinguishable from a real one).
pub const RESERVED: [&str; 14] = [
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
];

/// Whether `name` is one of the [`RESERVED`] event names.
pub fn is_reserved(name: &str) -> bool {
    RESERVED.contains(&name)
}
