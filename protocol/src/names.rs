//! Validated names. Each `parse` checks one documented rule and explains a refusal in words;
//! lengths count characters (Unicode scalar values), not bytes.
//!
//! User and room names are shown to people, so they must look like what they are: no character that is
//! invisible or changes how the text around it is displayed (PROTOCOL.md, "Names", has the rule).
//! Otherwise `al\u{202e}ecila` displays as `alice`, and `alice\u{200b}` is another user who looks the same.

use std::fmt;
use std::ops::RangeInclusive;

use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};

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

/// Letters and marks that display as nothing: the code points Unicode lists as `Default_Ignorable_Code_Point`
/// outside the categories that [`refused_in_name`] refuses whole (Hangul fillers, the combining grapheme
/// joiner, Khmer inherent vowels, variation selectors), and the Braille blank, a symbol that shows as a
/// space.
const INVISIBLE: [RangeInclusive<char>; 10] = [
    '\u{2800}'..='\u{2800}',
    '\u{34f}'..='\u{34f}',
    '\u{115f}'..='\u{1160}',
    '\u{17b4}'..='\u{17b5}',
    '\u{180b}'..='\u{180f}',
    '\u{3164}'..='\u{3164}',
    '\u{fe00}'..='\u{fe0f}',
    '\u{ffa0}'..='\u{ffa0}',
    '\u{e0100}'..='\u{e01ef}',
    // Listed for completeness; unassigned in current Unicode, so also refused by category.
    '\u{2065}'..='\u{2065}',
];

/// The bidi embeddings, overrides and isolates (LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI): they
/// reorder the text displayed after them, beyond the character itself.
const BIDI_CONTROLS: [RangeInclusive<char>; 2] = ['\u{202a}'..='\u{202e}', '\u{2066}'..='\u{2069}'];

/// Why `c` may not appear in a user or room name, if it may not: what kind of character it is.
fn refused_in_name(c: char) -> Option<&'static str> {
    match c.general_category() {
        GeneralCategory::Control => Some("a control character"),
        GeneralCategory::Format => Some("an invisible format character"),
        GeneralCategory::PrivateUse => Some("a private-use character"),
        GeneralCategory::Surrogate => Some("a surrogate"),
        GeneralCategory::Unassigned => Some("an unassigned code point"),
        GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator => {
            Some("a line or paragraph separator")
        }
        GeneralCategory::SpaceSeparator if c != ' ' => Some("a space other than U+0020"),
        _ if INVISIBLE.iter().any(|range| range.contains(&c)) => Some("an invisible character"),
        _ => None,
    }
}

/// `c` as people and Unicode charts name code points: `U+202E`.
fn code_point(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

/// Checks that `value` has `1..=max` characters.
fn check_length(what: &str, value: &str, max: usize) -> Result<(), Rejection> {
    let chars = value.chars().count();
    if chars == 0 || chars > max {
        return Err(Rejection::bad_request(format!("{what} must be 1 to {max} characters, got {chars}")));
    }
    Ok(())
}

/// Checks that `value` has `1..=max` characters and no control characters.
fn check_text(what: &str, value: &str, max: usize) -> Result<(), Rejection> {
    check_length(what, value, max)?;
    if value.chars().any(char::is_control) {
        return Err(Rejection::bad_request(format!("{what} must not contain control characters")));
    }
    Ok(())
}

/// Checks a name people read: `1..=max` characters, none of them [refused](refused_in_name), no space at
/// either end, and no combining mark first (it would combine with whatever the name is displayed after).
fn check_visible_name(what: &str, value: &str, max: usize) -> Result<(), Rejection> {
    check_length(what, value, max)?;
    for (index, c) in value.chars().enumerate() {
        if let Some(kind) = refused_in_name(c) {
            return Err(Rejection::bad_request(format!(
                "{what} must not contain {} ({kind}), found at character {}",
                code_point(c),
                index + 1
            )));
        }
    }
    if value.starts_with(' ') || value.ends_with(' ') {
        return Err(Rejection::bad_request(format!("{what} must not start or end with a space")));
    }
    if let Some(first) = value.chars().next()
        && first.general_category_group() == GeneralCategoryGroup::Mark
    {
        return Err(Rejection::bad_request(format!(
            "{what} must not start with a combining mark ({})",
            code_point(first)
        )));
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
    /// A room: 1..=128 characters, visible (see [`check_visible_name`]).
    RoomName
);
name_type!(
    /// An event a publisher may emit: 1..=64 characters, no control characters, not [reserved](events::RESERVED).
    EventName
);
name_type!(
    /// A display name: 1..=64 characters, visible (see [`check_visible_name`]).
    UserName
);
name_type!(
    /// A namespace: `/`, or `/` followed by 1..=64 of `A-Z a-z 0-9 _ -`.
    NamespacePath
);

impl RoomName {
    pub fn parse(value: impl Into<String>) -> Result<Self, Rejection> {
        let value = value.into();
        check_visible_name("room name", &value, ROOM_MAX_CHARS)?;
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
        check_visible_name("user name", &value, USER_MAX_CHARS)?;
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
        if value == crate::admin::NAMESPACE {
            // The Admin UI's: whoever may publish or use the HTTP API must not reach the UIs through it
            // (forged sockets, a session id of their choosing), nor read or disconnect them.
            return Err(Rejection::bad_request(format!(
                "namespace {} is reserved for the Admin UI",
                crate::admin::NAMESPACE
            )));
        }
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
/// Control characters such as newlines are allowed: chat text is multi-line. The bidi embeddings,
/// overrides and isolates are not: a page that shows anything after the text on its line (a time, a
/// sender) would show it reordered. Writers of right-to-left scripts need none of them; the marks
/// (U+200E, U+200F, U+061C), which reorder nothing beyond themselves, are allowed.
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
    let bidi_control = text.chars().enumerate().find(|(_, c)| BIDI_CONTROLS.iter().any(|r| r.contains(c)));
    if let Some((index, c)) = bidi_control {
        return Err(Rejection::bad_request(format!(
            "chat text must not contain {} (a bidi embedding, override or isolate), found at character {}: \
             it reorders the text shown after it; use the marks U+200E or U+200F instead",
            code_point(c),
            index + 1
        )));
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
    fn names_people_read_are_visible() {
        for name in ["alice", "Zoë", "Zoe\u{308}", "नमस्ते", "مرحبا", "東京 タワー", "Ana María", "❤"]
        {
            assert!(UserName::parse(name).is_ok(), "{name:?}");
            assert!(RoomName::parse(name).is_ok(), "{name:?}");
        }
        for name in [
            "al\u{202e}ice",
            "alice\u{200b}",
            "ali\u{200c}ce",
            "\u{feff}alice",
            "\u{a0}",
            "a\u{3000}b",
            "a\u{2029}b",
            "a\u{e000}",
            "a\u{378}",
            "a\u{3164}b",
            "a\u{2800}b",
            "a\u{fe0f}",
            "a\u{e0100}",
            "a\tb",
            " alice",
            "alice ",
            " ",
            "\u{301}alice",
        ] {
            assert_eq!(UserName::parse(name).unwrap_err().code, ErrorCode::BadRequest, "{name:?}");
            assert_eq!(RoomName::parse(name).unwrap_err().code, ErrorCode::BadRequest, "{name:?}");
        }
    }

    #[test]
    fn refusals_name_the_character_and_where_it_is() {
        let refused = UserName::parse("al\u{202e}ice").unwrap_err();
        assert_eq!(
            refused.message,
            "user name must not contain U+202E (an invisible format character), found at character 3"
        );
        let refused = RoomName::parse("lobby\u{a0}").unwrap_err();
        assert_eq!(
            refused.message,
            "room name must not contain U+00A0 (a space other than U+0020), found at character 6"
        );
        let refused = RoomName::parse("\u{301}x").unwrap_err();
        assert_eq!(refused.message, "room name must not start with a combining mark (U+0301)");
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
        // The Admin UI's namespace is for nothing else; other names of that shape are ordinary.
        assert!(NamespacePath::parse("/admin").is_err());
        assert!(NamespacePath::parse("/Admin").is_ok());
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
        for control in ['\u{202a}', '\u{202e}', '\u{2066}', '\u{2069}'] {
            let refused = check_chat_text(&format!("ab{control}")).unwrap_err();
            assert!(refused.message.contains("found at character 3"), "{}", refused.message);
        }
        assert!(check_chat_text("\u{5e9}\u{200f} \u{200e}x\u{200b}").is_ok(), "marks are allowed");
    }

    #[test]
    fn anonymous_names_are_short() {
        assert_eq!(UserName::anonymous("Xa81bcQ9zzzz").as_str(), "anon-Xa81bc");
    }
}
