//! Validated names. Each `parse` checks one documented rule and explains a refusal in words;
//! lengths count characters (Unicode scalar values), not bytes.

use std::fmt;

use crate::ack::{ErrorCode, Rejection};
use crate::events;

/// Longest room name, in characters.
pub const ROOM_MAX_CHARS: usize = 128;
/// Longest event name, in characters.
pub const EVENT_MAX_CHARS: usize = 64;
/// Longest user name, in characters.
pub const USER_MAX_CHARS: usize = 64;
/// Longest namespace name after its leading `/`, in characters.
pub const NAMESPACE_MAX_CHARS: usize = 64;
/// Longest chat text, in characters.
pub const CHAT_TEXT_MAX_CHARS: usize = 4096;
/// Most target rooms in one `publish`.
pub const PUBLISH_MAX_ROOMS: usize = 100;

/// Checks that `value` has `1..=max` characters and no control characters.
fn check_text(what: &str, value: &str, max: usize) -> Result<(), Rejection> {
    let chars = value.chars().count();
    if chars == 0 || chars > max {
        return Err(Rejection::bad_request(format!("{what} must be 1 to {max} characters, got {chars}")));
    }
    if value.chars().any(char::is_control) {
        return Err(Rejection::bad_request(format!("{what} must not contain control characters")));
    }
    Ok(())
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

name_type!(
    /// A room: 1..=128 characters, no control characters.
    RoomName
);
name_type!(
    /// An event a publisher may emit: 1..=64 characters, no control characters, not [reserved](events::RESERVED).
    EventName
);
name_type!(
    /// A display name: 1..=64 characters, no control characters.
    UserName
);
name_type!(
    /// A namespace: `/`, or `/` followed by 1..=64 of `A-Z a-z 0-9 _ -`.
    NamespacePath
);

impl RoomName {
    pub fn parse(value: impl Into<String>) -> Result<Self, Rejection> {
        let value = value.into();
        check_text("room name", &value, ROOM_MAX_CHARS)?;
        Ok(Self(value))
    }
}

impl EventName {
    pub fn parse(value: impl Into<String>) -> Result<Self, Rejection> {
        let value = value.into();
        check_text("event name", &value, EVENT_MAX_CHARS)?;
        if events::is_reserved(&value) {
            return Err(Rejection::bad_request(format!("event name `{value}` is reserved")));
        }
        Ok(Self(value))
    }
}

impl UserName {
    pub fn parse(value: impl Into<String>) -> Result<Self, Rejection> {
        let value = value.into();
        check_text("user name", &value, USER_MAX_CHARS)?;
        Ok(Self(value))
    }

    /// The name of a socket that gave none: `anon-` and the first characters of its id.
    pub fn anonymous(socket_id: &str) -> Self {
        Self(format!("anon-{}", socket_id.chars().take(6).collect::<String>()))
    }
}

impl NamespacePath {
    pub fn parse(value: impl Into<String>) -> Result<Self, Rejection> {
        let value = value.into();
        let valid = value == "/"
            || value.strip_prefix('/').is_some_and(|name| {
                (1..=NAMESPACE_MAX_CHARS).contains(&name.len())
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            });
        if valid {
            Ok(Self(value))
        } else {
            Err(Rejection::bad_request(format!(
                "namespace must be `/` or `/` followed by 1 to {NAMESPACE_MAX_CHARS} of A-Z a-z 0-9 _ -"
            )))
        }
    }
}

/// Parses the target rooms of a `publish`: each a valid [`RoomName`], at most [`PUBLISH_MAX_ROOMS`] of
/// them (more is `too_large`). Repeats are dropped; the order is kept.
pub fn parse_target_rooms(rooms: Vec<String>) -> Result<Vec<RoomName>, Rejection> {
    if rooms.len() > PUBLISH_MAX_ROOMS {
        return Err(Rejection::new(
            ErrorCode::TooLarge,
            format!("a publish targets at most {PUBLISH_MAX_ROOMS} rooms, got {}", rooms.len()),
        ));
    }
    let mut parsed: Vec<RoomName> = Vec::with_capacity(rooms.len());
    for room in rooms {
        let room = RoomName::parse(room)?;
        if !parsed.contains(&room) {
            parsed.push(room);
        }
    }
    Ok(parsed)
}

/// Checks a chat text: 1..=4096 characters. Too long is `too_large`; empty is `bad_request`.
/// Control characters such as newlines are allowed: chat text is multi-line.
pub fn check_chat_text(text: &str) -> Result<(), Rejection> {
    let chars = text.chars().count();
    if chars == 0 {
        return Err(Rejection::bad_request("chat text must not be empty"));
    }
    if chars > CHAT_TEXT_MAX_CHARS {
        return Err(Rejection::new(
            ErrorCode::TooLarge,
            format!("chat text must be at most {CHAT_TEXT_MAX_CHARS} characters, got {chars}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names() {
        assert!(RoomName::parse("lobby").is_ok());
        assert!(RoomName::parse("é".repeat(128)).is_ok());
        assert!(RoomName::parse("x".repeat(129)).is_err());
        assert!(RoomName::parse("").is_err());
        assert!(RoomName::parse("a\nb").is_err());
        assert!(RoomName::parse("a\u{7f}b").is_err());
    }

    #[test]
    fn event_names() {
        assert!(EventName::parse("foo").is_ok());
        for reserved in events::RESERVED {
            assert_eq!(EventName::parse(reserved).unwrap_err().code, ErrorCode::BadRequest);
        }
        assert!(EventName::parse("x".repeat(65)).is_err());
    }

    #[test]
    fn namespaces() {
        assert!(NamespacePath::parse("/").is_ok());
        assert!(NamespacePath::parse("/chat_2-b").is_ok());
        assert!(NamespacePath::parse(format!("/{}", "a".repeat(64))).is_ok());
        assert!(NamespacePath::parse(format!("/{}", "a".repeat(65))).is_err());
        assert!(NamespacePath::parse("/a/b").is_err());
        assert!(NamespacePath::parse("//").is_err());
        assert!(NamespacePath::parse("chat").is_err());
        assert!(NamespacePath::parse("/é").is_err());
    }

    #[test]
    fn target_rooms() {
        let rooms = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let parsed = parse_target_rooms(rooms(&["b", "a", "b"])).unwrap();
        assert_eq!(parsed.iter().map(RoomName::as_str).collect::<Vec<_>>(), ["b", "a"]);
        assert!(parse_target_rooms(Vec::new()).unwrap().is_empty());
        assert_eq!(parse_target_rooms(rooms(&["ok", ""])).unwrap_err().code, ErrorCode::BadRequest);
        let many = (0..=PUBLISH_MAX_ROOMS).map(|i| i.to_string()).collect();
        assert_eq!(parse_target_rooms(many).unwrap_err().code, ErrorCode::TooLarge);
    }

    #[test]
    fn chat_text() {
        assert!(check_chat_text("hi\nthere").is_ok());
        assert_eq!(check_chat_text("").unwrap_err().code, ErrorCode::BadRequest);
        assert_eq!(check_chat_text(&"x".repeat(4097)).unwrap_err().code, ErrorCode::TooLarge);
    }

    #[test]
    fn anonymous_names_are_short() {
        assert_eq!(UserName::anonymous("Xa81bcQ9zzzz").as_str(), "anon-Xa81bc");
    }
}
