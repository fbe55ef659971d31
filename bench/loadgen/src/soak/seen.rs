//! What a soak client has received of a room's stream, by offset: enough to tell a gap or a duplicate
//! from the events themselves, without keeping every offset of a long run.

use std::collections::BTreeSet;

use serde_json::Value;

/// One client's view of one room's stream since it joined: every offset up to `next - 1`, and those
/// above it in `ahead` (events that came out of order).
#[derive(Debug, Clone)]
pub struct Seen {
    pub epoch: String,
    first: u64,
    next: u64,
    ahead: BTreeSet<u64>,
}

/// What [`Seen::record`] made of an offset.
#[derive(Debug, PartialEq, Eq)]
pub enum Arrival {
    InOrder,
    /// A later offset than the next one expected: either the earlier ones come later, or they are lost.
    Early,
    /// Received before (or older than the join).
    Duplicate,
}

impl Seen {
    /// From the position a `join` ack gave: the events that follow `offset` are the ones to receive.
    pub fn after(offset: u64, epoch: &str) -> Self {
        Self { epoch: epoch.to_owned(), first: offset, next: offset + 1, ahead: BTreeSet::new() }
    }

    pub fn record(&mut self, offset: u64) -> Arrival {
        if offset < self.next || self.ahead.contains(&offset) {
            return Arrival::Duplicate;
        }
        if offset > self.next {
            self.ahead.insert(offset);
            return Arrival::Early;
        }
        self.next += 1;
        while self.ahead.remove(&self.next) {
            self.next += 1;
        }
        Arrival::InOrder
    }

    /// The offset the client joined at: it follows the events after it.
    pub fn first(&self) -> u64 {
        self.first
    }

    /// The last offset received with none missing before it: where a `since` resumes.
    pub fn contiguous(&self) -> u64 {
        self.next - 1
    }

    /// The highest offset received.
    pub fn last(&self) -> u64 {
        self.ahead.last().copied().unwrap_or(self.next - 1)
    }

    /// Offsets after the join, up to `last`, that never arrived.
    pub fn missing_up_to(&self, last: u64) -> u64 {
        if last < self.next {
            return 0;
        }
        (last - self.next + 1) - self.ahead.range(self.next..=last).count() as u64
    }
}

/// Where a room event stands in its stream.
#[derive(Debug, PartialEq, Eq)]
pub struct Position {
    pub room: String,
    pub offset: u64,
    pub epoch: String,
}

/// The position of an event frame (`42[...]`): a `chat` carries it in its payload, a published event
/// in its metadata, the last argument (the soak's clients connect with `meta: true`). `None` for
/// anything else (`members`, `presence`, acks, pings).
pub fn position_of(frame: &str) -> Option<Position> {
    let body = frame.strip_prefix("42")?;
    let arguments: Vec<Value> = serde_json::from_str(body).ok()?;
    let (name, rest) = arguments.split_first()?;
    let carrier = if name == "chat" { rest.first()? } else { rest.last()? };
    Some(Position {
        room: carrier.get("room")?.as_str()?.to_owned(),
        offset: carrier.get("offset")?.as_u64()?,
        epoch: carrier.get("epoch")?.as_str()?.to_owned(),
    })
}

/// The ack's object, from the arguments of an ack frame (`[{...}]`).
pub fn ack_object(arguments: &str) -> Option<Value> {
    let mut arguments: Vec<Value> = serde_json::from_str(arguments).ok()?;
    if arguments.is_empty() { None } else { Some(arguments.swap_remove(0)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_gaps_duplicates_and_late_arrivals() {
        let mut seen = Seen::after(10, "e");
        assert_eq!(seen.record(11), Arrival::InOrder);
        assert_eq!(seen.record(13), Arrival::Early);
        assert_eq!(seen.contiguous(), 11);
        assert_eq!(seen.last(), 13);
        assert_eq!(seen.missing_up_to(15), 3);
        assert_eq!(seen.record(12), Arrival::InOrder);
        assert_eq!(seen.contiguous(), 13);
        assert_eq!(seen.record(12), Arrival::Duplicate);
        assert_eq!(seen.record(10), Arrival::Duplicate);
        assert_eq!(seen.missing_up_to(13), 0);
        assert_eq!(Seen::after(5, "e").missing_up_to(5), 0);
    }

    #[test]
    fn reads_positions_from_chat_and_from_metadata() {
        let chat = r#"42["chat",{"room":"r1","text":"hi","user":"u","ts":1,"offset":7,"epoch":"ab"}]"#;
        assert_eq!(position_of(chat), Some(Position { room: "r1".into(), offset: 7, epoch: "ab".into() }));
        let published = r#"42["tick",{"seq":3},{"namespace":"/","room":"r2","offset":9,"epoch":"cd"}]"#;
        assert_eq!(position_of(published).map(|p| (p.room, p.offset)), Some(("r2".into(), 9)));
        assert_eq!(position_of(r#"42["members",{"room":"r1","members":3}]"#), None);
        assert_eq!(position_of(r#"431[{"ok":true}]"#), None);
        assert_eq!(ack_object(r#"[{"ok":true,"offset":4}]"#).and_then(|a| a["offset"].as_u64()), Some(4));
    }
}
