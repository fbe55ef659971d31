//! History: the recorded events of every room and namespace, numbered, so that a client that lost its
//! connection gets what it missed (the wire contract is `hub_protocol::history`).
//!
//! Each stream ([`StreamKey`]) numbers its events 1, 2, 3... within an epoch. Recording an event and
//! delivering it happen under the stream's [`Turns`] lock, and so does a replay followed by the join that
//! makes its socket a member: so every member receives a stream's events in offset order, and a socket
//! that recovers gets each event either from the replay or live, never both and never neither.
//!
//! A lone hub keeps history in memory ([`memory`]); the nodes of a cluster share it through Redis
//! ([`redis`]), where recording an event also announces it to every hub ([`announcement`]).

pub mod announcement;
mod fences;
pub mod memory;
mod packed;
pub mod redis;
mod turns;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hub_protocol::{Arguments, ChatMessage, JoinOptions, RecordedAt, Replayed, StreamPosition};
use serde::{Deserialize, Serialize};
use socketioxide::socket::Sid;

pub use memory::MemoryHistory;
pub use redis::RedisHistory;
pub use turns::{Turn, Turns};

use announcement::{Audience, DecodeError, EncodeError};

/// A stream: a room of a namespace, or the namespace itself (events published to all of it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StreamKey {
    pub namespace: String,
    pub room: Option<String>,
}

impl StreamKey {
    pub fn room(namespace: &str, room: &str) -> Self {
        Self { namespace: namespace.to_owned(), room: Some(room.to_owned()) }
    }

    pub fn namespace(namespace: &str) -> Self {
        Self { namespace: namespace.to_owned(), room: None }
    }
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub offset: u64,
    /// When it was recorded, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    pub event: Event,
}

impl Record {
    /// The `chat` message `user` sent as `text`, recorded here in `key`'s room of `epoch`: exactly what
    /// the room's members received.
    pub fn chat_message(&self, key: &StreamKey, epoch: &Arc<str>, user: &str, text: &str) -> ChatMessage {
        let position = Position { offset: self.offset, epoch: Arc::clone(epoch) };
        chat_message(key, user, text, self.at_ms, Some(&position))
    }
}

/// A `chat` message of `key`'s room sent at `ts`, as its members receive it: with the position it was
/// recorded at (`None`: not recorded).
pub fn chat_message(
    key: &StreamKey,
    user: &str,
    text: &str,
    ts: u64,
    position: Option<&Position>,
) -> ChatMessage {
    ChatMessage {
        room: key.room.clone().unwrap_or_default(),
        text: text.to_owned(),
        user: user.to_owned(),
        ts,
        offset: position.map(|p| p.offset),
        epoch: position.map(|p| p.epoch.to_string()),
    }
}

/// What a recorded event was, so that it can be sent again as it was sent live.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A `chat` message (its room is the stream's, its time the record's).
    Chat { user: String, text: String },
    /// A published event: its name and its arguments, without metadata.
    Published { event: String, arguments: Arc<Arguments> },
}

impl Event {
    /// Bytes of its data as the wire carries it (binary counted by length): what a page of
    /// `GET /api/history` budgets against `--max-payload`.
    pub fn wire_len(&self) -> usize {
        match self {
            Event::Chat { user, text } => user.len() + text.len(),
            Event::Published { event, arguments } => event.len() + arguments.encoded_len(),
        }
    }
}

/// Where a stream stands: its last offset, in its epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub offset: u64,
    pub epoch: Arc<str>,
}

impl Position {
    /// As a `publish` ack lists it.
    pub fn recorded_at(&self, key: &StreamKey) -> RecordedAt {
        RecordedAt { room: key.room.clone(), offset: self.offset, epoch: self.epoch.to_string() }
    }
}

/// Which kept events a read asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Since {
    /// The last `n`.
    Last(usize),
    /// Up to `limit` events after this position, if none of them is gone; else none.
    After(StreamPosition, usize),
    /// A page for `GET /api/history`: up to `limit` kept events after offset `after` (0: from the oldest
    /// kept). With `epoch`, the read says whether they follow `after` directly in that epoch, and when
    /// they do not, the page starts at the oldest kept event instead.
    ///
    /// Unlike the other reads, a page never pushes anything out of the history: a stream nobody used
    /// yet is started only while the history has room for it (so that its epoch holds for a later
    /// `since`); otherwise it is answered as a stream started and forgotten at once (no event, offset
    /// 0, an epoch of its own).
    Page { after: u64, epoch: Option<String>, limit: usize },
}

/// A stream's position and the events a read asked for, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Read {
    pub position: Position,
    pub events: Vec<Arc<Record>>,
    /// For [`Since::After`], and [`Since::Page`] with an epoch: whether the events follow its position
    /// directly.
    pub recovered: Option<bool>,
}

impl Read {
    /// What a `join` ack or a `recovery` event says about it.
    pub fn replayed(&self) -> Replayed {
        Replayed {
            offset: Some(self.position.offset),
            epoch: Some(self.position.epoch.to_string()),
            recovered: self.recovered,
            missed: None,
        }
    }
}

/// The hub's history: where it is kept, and the streams' turns.
#[derive(Debug, Clone)]
pub struct History {
    store: Store,
    turns: Arc<Turns>,
}

#[derive(Debug, Clone)]
enum Store {
    /// `--history-size 0`: nothing is recorded.
    Off,
    /// A lone hub's, in memory.
    Memory(Arc<MemoryHistory>),
    /// A cluster's, in Redis.
    Redis(Arc<RedisHistory>),
}

/// History could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("Redis is unreachable")]
    Unreachable,
    #[error("Redis: {0}")]
    Redis(#[from] fred::error::Error),
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("Redis answered {0} with something else")]
    Reply(&'static str),
}

impl History {
    /// No history: events are delivered and forgotten.
    pub fn off() -> Self {
        Self { store: Store::Off, turns: Arc::default() }
    }

    /// A lone hub's history, in memory. Expired events are dropped as new ones come, and every second
    /// while the hub runs, so that an idle hub gives its memory back.
    pub fn in_memory(settings: memory::Settings) -> Self {
        let memory = Arc::new(MemoryHistory::new(settings));
        let weak = Arc::downgrade(&memory);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(Duration::from_secs(1));
            loop {
                ticks.tick().await;
                let Some(memory) = weak.upgrade() else { return };
                memory.expire(now_ms());
            }
        });
        Self { store: Store::Memory(memory), turns: Arc::default() }
    }

    /// A cluster's history, in Redis. Every second while the hub runs, broken streams are started over
    /// once Redis answers (see [`RedisHistory::repair`]).
    pub fn in_redis(redis: RedisHistory) -> Self {
        let redis = Arc::new(redis);
        let weak = Arc::downgrade(&redis);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(Duration::from_secs(1));
            loop {
                ticks.tick().await;
                let Some(redis) = weak.upgrade() else { return };
                redis.repair().await;
            }
        });
        Self { store: Store::Redis(redis), turns: Arc::default() }
    }

    /// The cluster's history, when it is shared through Redis: events are recorded and delivered through
    /// [`RedisHistory::announce`] rather than [`record`](Self::record) and a local emit.
    pub fn shared(&self) -> Option<&Arc<RedisHistory>> {
        match &self.store {
            Store::Redis(redis) => Some(redis),
            Store::Off | Store::Memory(_) => None,
        }
    }

    /// Waits for `key`'s turn: hold it while recording and delivering an event, or while replaying and
    /// joining. `None` when nothing is recorded (there is no order to keep).
    pub async fn turn(&self, key: &StreamKey) -> Option<Turn<'_>> {
        match self.store {
            Store::Off => None,
            Store::Memory(_) | Store::Redis(_) => Some(self.turns.of(key).await),
        }
    }

    /// Records `event` in `key`'s stream (call it with the stream's turn held) and returns its position;
    /// `None` when nothing is recorded. In a cluster, recording also delivers it to the stream's members on
    /// every hub.
    pub async fn record(
        &self,
        key: &StreamKey,
        at_ms: u64,
        event: Event,
    ) -> Result<Option<Position>, HistoryError> {
        match &self.store {
            Store::Off => Ok(None),
            Store::Memory(memory) => Ok(Some(memory.record(key, at_ms, event))),
            Store::Redis(redis) => {
                let audience = Audience { key: key.clone(), earlier: Vec::new(), sender: None };
                redis.announce(&audience, at_ms, &event, true).await
            }
        }
    }

    /// What `options` ask of `key`'s stream for `reader`, a socket about to become a member of the
    /// stream (call it with the stream's turn held): every event after `since` if all are kept (else,
    /// with `history` too, the last `history` events), or the last `history` events; nothing without
    /// options. History that cannot be read (Redis is unreachable) is replayed as none: no position,
    /// and `recovered: false` for `since`.
    pub async fn replay(&self, key: &StreamKey, options: &JoinOptions, reader: Sid) -> Replay {
        match self.try_replay(key, options, reader).await {
            Ok(replay) => replay,
            Err(e) => {
                tracing::warn!(
                    ns = key.namespace,
                    room = key.room,
                    "history not read, nothing replayed: {e}"
                );
                let recovered = options.since.as_ref().map(|_| false);
                let missed = (!options.is_empty()).then_some(0);
                Replay { stream: Replayed { recovered, missed, ..Replayed::default() }, ..Replay::default() }
            }
        }
    }

    async fn try_replay(
        &self,
        key: &StreamKey,
        options: &JoinOptions,
        reader: Sid,
    ) -> Result<Replay, HistoryError> {
        let asked = !options.is_empty();
        let missed = |events: &[Arc<Record>]| asked.then_some(events.len());
        let first = match &options.since {
            Some(since) => Since::After(since.clone(), usize::MAX),
            None => Since::Last(options.history.unwrap_or(0)),
        };
        let Some(mut read) = self.read(key, &first).await? else {
            let recovered = options.since.as_ref().map(|_| false);
            let stream = Replayed { offset: None, epoch: None, recovered, missed: missed(&[]) };
            return Ok(Replay { position: None, events: Vec::new(), stream });
        };
        if let (Some(false), Some(n)) = (read.recovered, options.history) {
            let fallback = self.read(key, &Since::Last(n)).await?.unwrap_or_else(|| read.clone());
            read = Read { recovered: Some(false), ..fallback };
        }
        if let Store::Redis(redis) = &self.store {
            redis.fence(key, reader, &read.position).await?;
        }
        let stream = Replayed { missed: missed(&read.events), ..read.replayed() };
        Ok(Replay { position: Some(read.position), events: read.events, stream })
    }

    /// `key`'s position and the events `since` asks for; `None` when nothing is recorded.
    pub async fn read(&self, key: &StreamKey, since: &Since) -> Result<Option<Read>, HistoryError> {
        match &self.store {
            Store::Off => Ok(None),
            Store::Memory(memory) => Ok(Some(memory.read(key, since, now_ms()))),
            Store::Redis(redis) => Ok(Some(redis.read(key, since).await?)),
        }
    }
}

/// What a `join` or a CONNECT asked of a stream: the events to send first, and what the ack says.
#[derive(Debug, Clone, Default)]
pub struct Replay {
    /// The stream's position (`None` without history).
    pub position: Option<Position>,
    pub events: Vec<Arc<Record>>,
    /// For the ack: the position, `recovered`, and `missed` (the number of `events`).
    pub stream: Replayed,
}

/// A fresh epoch: 16 hex digits, random, so that no two streams' histories are ever mistaken for each other.
pub fn new_epoch() -> Arc<str> {
    Arc::from(format!("{:016x}", rand::random::<u64>()))
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}
