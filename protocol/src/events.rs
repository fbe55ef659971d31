//! Event names: the ones the hub handles, and the ones nobody may publish.

/// `join` `[room]`: join a room; acked with [`RoomAck`](crate::RoomAck).
pub const JOIN: &str = "join";
/// `leave` `[room]`: leave a room; acked with [`RoomAck`](crate::RoomAck).
pub const LEAVE: &str = "leave";
/// `chat` `[ChatRequest]` from a client, `chat` `[ChatMessage]` to the other members of the room.
pub const CHAT: &str = "chat";
/// `echo` with any arguments: acked with the same arguments.
pub const ECHO: &str = "echo";
/// `publish` `[PublishRequest]`: publishers only; acked with [`PublishAck`](crate::PublishAck).
pub const PUBLISH: &str = "publish";

/// Names that no publisher may emit to clients: the Socket.IO client's own lifecycle events, and the
/// hub's own events (a published `chat` would be indistinguishable from a real one).
pub const RESERVED: [&str; 11] = [
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
];

/// Whether `name` is one of the [`RESERVED`] event names.
pub fn is_reserved(name: &str) -> bool {
    RESERVED.contains(&name)
}
