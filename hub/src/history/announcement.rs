//! What the hubs of a cluster tell each other about recorded events, and how Redis keeps an event:
//! the messages on [`CHANNEL`] and their MessagePack encoding.
//!
//! A message is a sequence of MessagePack values:
//!
//! ```text
//! offset epoch head [event]
//! ```
//!
//! `offset` and `epoch` are where the event was recorded (written by the recording script, which knows
//! them; both nil for a volatile event and for a fence), `head` says what the message is ([`Head`]), and
//! for an event, `event` is the event exactly as its stream keeps it (its time and content), so that the
//! script stores and announces the same bytes. MessagePack keeps binary arguments binary.

use std::sync::Arc;

use hub_protocol::Arguments;
use serde::{Deserialize, Serialize};
use socketioxide::socket::Sid;

use super::{Event, Position, Record, StreamKey};

/// The Redis channel every hub of a cluster reads recorded events from.
pub const CHANNEL: &str = "hub:history";

/// Who receives one stream's event, on every hub: the stream's members (a room's, or the namespace's),
/// but the sender and the members of the rooms the event was published to before this one (they get it
/// from those rooms' streams).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audience {
    pub key: StreamKey,
    pub earlier: Vec<String>,
    pub sender: Option<Sid>,
}

/// What a message on [`CHANNEL`] is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Head {
    /// An event, and who receives it.
    Event(Audience),
    /// The end of a read that `key`'s stream was replayed from, on the hub that made it: every event of
    /// the stream recorded before the read came before this message ([`Fences`](super::fences::Fences)).
    Fence { key: StreamKey, token: u64 },
}

/// A message read from [`CHANNEL`].
#[derive(Debug, Clone, PartialEq)]
pub enum Announcement {
    /// An event to deliver: recorded at `position`, or volatile (`None`).
    Event {
        position: Option<Position>,
        audience: Audience,
        at_ms: u64,
        event: Event,
    },
    Fence {
        key: StreamKey,
        token: u64,
    },
}

impl Announcement {
    /// The stream it is about.
    pub fn key(&self) -> &StreamKey {
        match self {
            Announcement::Event { audience, .. } => &audience.key,
            Announcement::Fence { key, .. } => key,
        }
    }
}

/// An event could not be encoded (a bug: every argument can be).
#[derive(Debug, thiserror::Error)]
#[error("cannot encode an event for Redis: {0}")]
pub struct EncodeError(#[from] rmp_serde::encode::Error);

/// A message or a stored event that is not what this hub writes (another program, another version).
#[derive(Debug, thiserror::Error)]
#[error("cannot decode an event from Redis: {0}")]
pub struct DecodeError(#[from] rmp_serde::decode::Error);

/// An event as its stream keeps it: when it was recorded (the hub's clock) and what it was.
#[derive(Serialize)]
struct StoredRef<'a>(u64, EventRef<'a>);

#[derive(Serialize)]
enum EventRef<'a> {
    Chat { user: &'a str, text: &'a str },
    Published { event: &'a str, arguments: &'a Arguments },
}

/// The same as [`StoredRef`], read back.
#[derive(Deserialize)]
struct Stored(u64, StoredEvent);

#[derive(Deserialize)]
enum StoredEvent {
    Chat { user: String, text: String },
    Published { event: String, arguments: Arguments },
}

impl From<StoredEvent> for Event {
    fn from(event: StoredEvent) -> Self {
        match event {
            StoredEvent::Chat { user, text } => Event::Chat { user, text },
            StoredEvent::Published { event, arguments } => {
                Event::Published { event, arguments: Arc::new(arguments) }
            }
        }
    }
}

/// `event`, recorded at `at_ms`, as its stream keeps it.
pub fn stored(at_ms: u64, event: &Event) -> Result<Vec<u8>, EncodeError> {
    let event = match event {
        Event::Chat { user, text } => EventRef::Chat { user, text },
        Event::Published { event, arguments } => EventRef::Published { event, arguments },
    };
    Ok(rmp_serde::to_vec(&StoredRef(at_ms, event))?)
}

/// The head of an event's message.
pub fn event_head(audience: &Audience) -> Result<Vec<u8>, EncodeError> {
    Ok(rmp_serde::to_vec(&Head::Event(audience.clone()))?)
}

/// The whole message of a volatile event: no position, then `head` and `stored`.
pub fn volatile(head: &[u8], stored: &[u8]) -> Result<Vec<u8>, EncodeError> {
    let mut message = unpositioned()?;
    message.extend_from_slice(head);
    message.extend_from_slice(stored);
    Ok(message)
}

/// The whole message of a fence.
pub fn fence(key: &StreamKey, token: u64) -> Result<Vec<u8>, EncodeError> {
    let mut message = unpositioned()?;
    rmp_serde::encode::write(&mut message, &Head::Fence { key: key.clone(), token })?;
    Ok(message)
}

/// The start of a message without a position: two nils.
fn unpositioned() -> Result<Vec<u8>, EncodeError> {
    let mut message = Vec::new();
    rmp_serde::encode::write(&mut message, &None::<u64>)?;
    rmp_serde::encode::write(&mut message, &None::<String>)?;
    Ok(message)
}

/// Reads a message from [`CHANNEL`].
pub fn decode(message: &[u8]) -> Result<Announcement, DecodeError> {
    let mut values = rmp_serde::Deserializer::new(message);
    let offset = Option::<u64>::deserialize(&mut values)?;
    let epoch = Option::<String>::deserialize(&mut values)?;
    Ok(match Head::deserialize(&mut values)? {
        Head::Fence { key, token } => Announcement::Fence { key, token },
        Head::Event(audience) => {
            let Stored(at_ms, event) = Stored::deserialize(&mut values)?;
            let position = match (offset, epoch) {
                (Some(offset), Some(epoch)) => Some(Position { offset, epoch: Arc::from(epoch) }),
                _ => None,
            };
            Announcement::Event { position, audience, at_ms, event: event.into() }
        }
    })
}

/// A kept event read back from its stream.
pub fn record(offset: u64, stored: &[u8]) -> Result<Record, DecodeError> {
    let Stored(at_ms, event) = rmp_serde::from_slice(stored)?;
    Ok(Record { offset, at_ms, event: event.into() })
}

#[cfg(test)]
mod tests {
    use hub_protocol::Argument;

    use super::*;

    fn published() -> Event {
        let arguments = Arguments(vec![
            Argument::Binary(vec![0, 159, 146, 150, 255]),
            Argument::Object(vec![
                ("z".into(), Argument::from(serde_json::json!(1.5))),
                ("a".into(), Argument::Array(vec![Argument::Null, Argument::Binary(vec![])])),
                ("n".into(), Argument::from(serde_json::json!(-7))),
                ("u".into(), Argument::from(serde_json::json!(u64::MAX))),
            ]),
            Argument::String("é\u{0}".into()),
        ]);
        Event::Published { event: "news".into(), arguments: Arc::new(arguments) }
    }

    /// What the recording script writes before the head: `cmsgpack.pack(offset, epoch)`.
    fn position_prefix(offset: u64, epoch: &str) -> Vec<u8> {
        let mut prefix = Vec::new();
        rmp_serde::encode::write(&mut prefix, &offset).unwrap();
        rmp_serde::encode::write(&mut prefix, epoch).unwrap();
        prefix
    }

    #[test]
    fn a_recorded_event_round_trips_binary_and_key_order_included() {
        let audience = Audience {
            key: StreamKey::room("/chat", "lobby"),
            earlier: vec!["first".into()],
            sender: Some(Sid::new()),
        };
        let event = published();
        let stored = stored(1_700_000_000_123, &event).unwrap();
        let mut message = position_prefix(42, "0123456789abcdef");
        message.extend(event_head(&audience).unwrap());
        message.extend(&stored);
        let expected = Announcement::Event {
            position: Some(Position { offset: 42, epoch: Arc::from("0123456789abcdef") }),
            audience,
            at_ms: 1_700_000_000_123,
            event: event.clone(),
        };
        assert_eq!(decode(&message).unwrap(), expected);
        assert_eq!(record(42, &stored).unwrap(), Record { offset: 42, at_ms: 1_700_000_000_123, event });
    }

    #[test]
    fn volatile_events_chats_and_fences_round_trip() {
        let audience = Audience { key: StreamKey::namespace("/"), earlier: Vec::new(), sender: None };
        let chat = Event::Chat { user: "ann".into(), text: "hi".into() };
        let message = volatile(&event_head(&audience).unwrap(), &stored(5, &chat).unwrap()).unwrap();
        let expected = Announcement::Event { position: None, audience, at_ms: 5, event: chat };
        assert_eq!(decode(&message).unwrap(), expected);

        let key = StreamKey::room("/", "a:b");
        let fence = fence(&key, u64::MAX).unwrap();
        assert_eq!(decode(&fence).unwrap(), Announcement::Fence { key, token: u64::MAX });
    }

    #[test]
    fn anything_else_is_refused() {
        assert!(decode(b"").is_err());
        assert!(decode(b"\xc0\xc0\x01").is_err());
        assert!(record(1, b"{\"json\":1}").is_err());
    }
}
