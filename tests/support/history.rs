//! Helpers for the history tests: the hub binary with history settings, stream positions as the hub
//! reports them in acks and metadata, and a [`Subscriber`] that sees every packet in the order the hub
//! wrote it (a replay, then the ack that follows it) and whose connection a test can cut.

use std::time::Duration;

use hub_protocol::{StreamPosition, events};
use serde_json::{Value, json};

use crate::binaries::HubProcess;
use crate::hub::TOKEN;
use crate::{QUIET, WAIT, raw};

/// Starts the hub binary on a free port with the test token and `args`.
pub async fn start_hub(args: &[&str]) -> HubProcess {
    let mut all = vec!["--bind", "127.0.0.1:0", "--publish-token", TOKEN];
    all.extend_from_slice(args);
    HubProcess::start(&all, &[]).await
}

/// The metadata a `meta` client gets with an event published into `room` (or to the namespace).
pub fn meta(room: Option<&str>, offset: u64, epoch: &str) -> Value {
    match room {
        Some(room) => json!({"namespace": "/", "room": room, "offset": offset, "epoch": epoch}),
        None => json!({"namespace": "/", "offset": offset, "epoch": epoch}),
    }
}

/// The `epoch` of a position (a join ack, a `recorded` entry, an event's metadata): a non-empty string,
/// random, so a test reads it rather than predicting it.
pub fn epoch_of(position: &Value) -> String {
    match position["epoch"].as_str() {
        Some(epoch) if !epoch.is_empty() => epoch.to_owned(),
        _ => panic!("an epoch (a non-empty string) in {position}"),
    }
}

/// The `offset` and `epoch` of a position, as a client sends them back in `since`.
pub fn position_of(position: &Value) -> StreamPosition {
    let offset = position["offset"].as_u64().unwrap_or_else(|| panic!("an offset in {position}"));
    StreamPosition { offset, epoch: epoch_of(position) }
}

/// `{"since": {"offset": N, "epoch": E}}`, the options of a `join` (or a CONNECT auth, with more keys).
pub fn since(position: &StreamPosition) -> Value {
    json!({ "since": position })
}

/// An event as a client receives it: its name and its arguments.
pub type Received = (String, Vec<Value>);

/// A packet from the hub.
#[derive(Debug, Clone, PartialEq)]
pub enum Packet {
    Event(Received),
    /// The ack of the request with this id, and its arguments.
    Ack(u64, Vec<Value>),
}

/// A Socket.IO client over one raw websocket, connected to `/`.
pub struct Subscriber {
    ws: raw::Socket,
    next_id: u64,
}

impl Subscriber {
    /// Connects with `auth` as the CONNECT payload; returns once the CONNECT reply is read.
    pub async fn connect(port: u16, auth: &Value) -> Result<Self, String> {
        let ws = tokio::time::timeout(WAIT, raw::connect_with(port, &format!("40{auth}")))
            .await
            .map_err(|_| "no CONNECT reply".to_owned())??;
        Ok(Self { ws, next_id: 0 })
    }

    /// Emits `event` with `arguments`, asking for an ack; returns the ack id.
    pub async fn emit(&mut self, event: &str, arguments: &[Value]) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let mut packet = vec![json!(event)];
        packet.extend_from_slice(arguments);
        raw::send(&mut self.ws, &format!("42{id}{}", Value::Array(packet)))
            .await
            .expect("the socket is open");
        id
    }

    /// The next packet, the room bookkeeping (`members`, `presence`) left out; `Err` when the connection ends or nothing comes
    /// within `wait`.
    pub async fn try_next(&mut self, wait: Duration) -> Result<Packet, String> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let text = tokio::time::timeout_at(deadline, raw::next_text(&mut self.ws))
                .await
                .map_err(|_| format!("no packet within {wait:?}"))??;
            match parse(&text)? {
                Packet::Event((name, _)) if events::is_room_bookkeeping(&name) => continue,
                packet => return Ok(packet),
            }
        }
    }

    /// The next packet, `members` events left out; fails the test if none comes.
    pub async fn next(&mut self) -> Packet {
        self.try_next(WAIT).await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// Sends `event` with `arguments` and returns the events that came before its ack, and the ack's
    /// (single) argument.
    pub async fn request(&mut self, event: &str, arguments: &[Value]) -> (Vec<Received>, Value) {
        let id = self.emit(event, arguments).await;
        let mut before = Vec::new();
        loop {
            match self.next().await {
                Packet::Event(received) => before.push(received),
                Packet::Ack(acked, mut arguments) if acked == id && arguments.len() == 1 => {
                    return (before, arguments.remove(0));
                }
                other => panic!("expected the ack {id} of `{event}`, got {other:?}"),
            }
        }
    }

    /// The events up to the first one named `name` (left out), and that one's arguments.
    pub async fn events_until(&mut self, name: &str) -> (Vec<Received>, Vec<Value>) {
        let mut before = Vec::new();
        loop {
            match self.next().await {
                Packet::Event((event, arguments)) if event == name => return (before, arguments),
                Packet::Event(received) => before.push(received),
                other => panic!("expected `{name}`, got {other:?}"),
            }
        }
    }

    /// The next `count` events (no ack may come between).
    pub async fn events(&mut self, count: usize) -> Vec<Received> {
        let mut received = Vec::with_capacity(count);
        while received.len() < count {
            match self.next().await {
                Packet::Event(event) => received.push(event),
                other => panic!("expected an event ({} of {count} so far), got {other:?}", received.len()),
            }
        }
        received
    }

    /// Fails the test if a packet other than `members` or `presence` arrives for a short while.
    pub async fn expect_silence(&mut self) {
        match self.try_next(QUIET).await {
            Err(_) => {}
            Ok(packet) => panic!("expected nothing more, got {packet:?}"),
        }
    }

    /// Cuts the connection as a network failure would: the TCP connection is closed without a Socket.IO
    /// DISCONNECT or a websocket close frame.
    pub fn cut(self) {
        drop(self.ws);
    }
}

/// `42[...]` and `42<id>[...]` events, `43<id>[...]` acks (the namespace `/`, no binary attachments).
fn parse(text: &str) -> Result<Packet, String> {
    let split = |rest: &str| -> Result<(Option<u64>, Vec<Value>), String> {
        let bracket = rest.find('[').ok_or_else(|| format!("no arguments in {text}"))?;
        let id = (bracket > 0).then(|| rest[..bracket].parse()).transpose().map_err(|_| text.to_owned())?;
        let arguments = serde_json::from_str(&rest[bracket..]).map_err(|e| format!("{e}: {text}"))?;
        Ok((id, arguments))
    };
    if let Some(rest) = text.strip_prefix("42") {
        let (_, mut arguments) = split(rest)?;
        let name = match arguments.first() {
            Some(Value::String(_)) => arguments.remove(0).as_str().unwrap_or_default().to_owned(),
            _ => return Err(format!("an event without a name: {text}")),
        };
        return Ok(Packet::Event((name, arguments)));
    }
    if let Some(rest) = text.strip_prefix("43") {
        let (id, arguments) = split(rest)?;
        return Ok(Packet::Ack(id.ok_or_else(|| format!("an ack without an id: {text}"))?, arguments));
    }
    Err(format!("unexpected packet {text}"))
}
