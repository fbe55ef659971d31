//! Hidden rooms: the sockets that asked for published events' metadata (`auth: {meta: true}`), and
//! those still catching up with their namespace's history.
//!
//! A published event reaches most clients with exactly the published arguments, and the clients that
//! asked with one more, last argument, its [`EventMeta`](hub_protocol::EventMeta). The two groups get
//! two broadcasts, and the adapter must tell them apart on every hub of a cluster: so the second group
//! is a room. Such a socket is in [`ALL`] and, for every room it joins, in that room's [`shadow`] too.
//! Their names start with a control character, which no room a client names may contain, so no client
//! can join, leave or chat into them.

/// Every socket of the namespace that asked for metadata.
pub const ALL: &str = "\u{1}meta";

/// Sockets that asked for their namespace's history at CONNECT and have not been sent all of it yet:
/// events published to the whole namespace skip them, and reach them through that replay instead (see
/// [`history`](crate::history)).
pub const CATCHING_UP: &str = "\u{1}catching-up";

/// The sockets of `room` that asked for metadata.
pub fn shadow(room: &str) -> String {
    format!("\u{1}meta:{room}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_rooms_are_not_valid_room_names() {
        assert!(hub_protocol::RoomName::parse(ALL).is_err());
        assert!(hub_protocol::RoomName::parse(CATCHING_UP).is_err());
        assert!(hub_protocol::RoomName::parse(shadow("lobby")).is_err());
    }
}
