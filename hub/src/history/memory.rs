//! The history of a lone hub, in memory: each stream keeps its last `--history-size` events for
//! `--history-ttl`, and all streams together at most `--history-memory` bytes.
//!
//! Every kept event, of every stream, is in one map ordered by when it was recorded, so that the oldest
//! events go first when time or memory runs out, whichever stream they belong to. A stream that keeps no
//! event still remembers its epoch and last offset (a client that saw nothing yet can recover from offset
//! 0) until it has been idle for the TTL or memory runs short: idle streams go before any event.
//!
//! `--history-memory` bounds the bytes the store allocates, as the allocator hands them out: each
//! event's packed data and its slot in its stream's queue (by the queue's capacity), each stream's
//! names, plus the measured cost of the maps that index them ([`STREAM_OVERHEAD`], [`EVENT_OVERHEAD`]).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::mem::size_of;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hub_protocol::StreamPosition;

use super::packed::Packed;
use super::{Event, Position, Read, Record, Since, StreamKey};

/// What one kept event costs besides its packed data and its slot in its stream's queue: its entry in
/// the order map (16 bytes, in B-tree nodes that appending leaves about half full), and what the
/// allocator's arenas hold beyond the blocks. Measured (BENCHMARKS.md "History"): a published event of
/// 85 bytes of JSON grows the hub by 222 bytes, counted 237; a 100-character chat message 241, counted 285.
pub const EVENT_OVERHEAD: usize = 80;
/// What a stream costs besides its names and its queue: its slot in the streams' table (81 bytes, in
/// a table between 7/16 and 7/8 full), its shared key, its epoch, and its entry in the idle map while
/// it keeps no event. Measured with one event each, 100,000 streams grow the hub by 501 bytes each,
/// counted 650.
pub const STREAM_OVERHEAD: usize = 2 * 81 + 80 + 48 + 56;

/// The limits of a lone hub's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Events kept per stream (`--history-size`, at least 1 here).
    pub size: usize,
    /// How long an event is kept (`--history-ttl`).
    pub ttl: Duration,
    /// Bytes all streams may use together (`--history-memory`).
    pub memory: usize,
}

/// Every stream of a lone hub.
#[derive(Debug)]
pub struct MemoryHistory {
    settings: Settings,
    store: Mutex<Store>,
}

#[derive(Debug, Default)]
struct Store {
    streams: HashMap<Arc<StreamKey>, Stream>,
    /// Every kept event by its sequence number (the order they were recorded in, across streams).
    events: BTreeMap<u64, Arc<StreamKey>>,
    /// Streams that keep no event, by the sequence number they became idle at, with that time.
    idle: BTreeMap<u64, (Arc<StreamKey>, u64)>,
    next_seq: u64,
    /// When [`Store::expire`] last ran.
    expired_at: Option<u64>,
    /// What the streams and their events cost, as [`allocated`] counts it.
    bytes: usize,
}

#[derive(Debug)]
struct Stream {
    epoch: Arc<str>,
    /// The last offset given out.
    top: u64,
    /// Kept events, oldest first; their offsets follow each other without a gap, up to `top`.
    events: VecDeque<Kept>,
    /// While the stream keeps no event: its entry in [`Store::idle`].
    idle_since: Option<u64>,
}

/// A kept event.
#[derive(Debug)]
struct Kept {
    /// Its entry in [`Store::events`].
    seq: u64,
    at_ms: u64,
    event: Packed,
}

impl Kept {
    fn cost(&self) -> usize {
        let blocks = match &self.event {
            Packed::Chat { user, text } => allocated(user.len()) + allocated(text.len()),
            Packed::Published(bytes) => allocated(bytes.len()),
        };
        EVENT_OVERHEAD + blocks
    }
}

impl Stream {
    fn new() -> Self {
        Self { epoch: new_epoch(), top: 0, events: VecDeque::new(), idle_since: None }
    }

    fn position(&self) -> Position {
        Position { offset: self.top, epoch: Arc::clone(&self.epoch) }
    }

    /// The offset of the oldest event kept; `top + 1` when none is.
    fn first(&self) -> u64 {
        self.top + 1 - self.events.len() as u64
    }

    /// The block its queue of events takes.
    fn queue_cost(&self) -> usize {
        match self.events.capacity() {
            0 => 0,
            capacity => allocated(capacity * size_of::<Kept>()),
        }
    }
}

/// What a stream costs, its queue of events aside.
fn stream_cost(key: &StreamKey) -> usize {
    STREAM_OVERHEAD
        + allocated(key.namespace.len())
        + key.room.as_ref().map_or(0, |room| allocated(room.len()))
}

/// The bytes a heap block of `len` bytes takes, as glibc's malloc hands it out: 8 bytes of header,
/// rounded up to 16, at least 32.
fn allocated(len: usize) -> usize {
    ((len + 8).next_multiple_of(16)).max(32)
}

/// A fresh epoch: 16 hex digits, random, so that no two streams' histories are ever mistaken for each other.
fn new_epoch() -> Arc<str> {
    Arc::from(format!("{:016x}", rand::random::<u64>()))
}

impl MemoryHistory {
    pub fn new(settings: Settings) -> Self {
        Self { settings, store: Mutex::default() }
    }

    /// Records `event` in `key`'s stream, at the next offset, and returns where.
    /// (`at_ms` is the time now.)
    pub fn record(&self, key: &StreamKey, at_ms: u64, event: Event) -> Position {
        let now_ms = at_ms;
        let event = Packed::pack(event);
        let mut store = self.lock();
        store.expire(now_ms, self.settings.ttl);
        let key = store.stream(key, now_ms);
        let seq = store.next_seq();
        let stream = store.streams.get_mut(&key).expect("the stream was just looked up");
        let was_idle = stream.idle_since.take();
        stream.top += 1;
        let kept = Kept { seq, at_ms, event };
        let queue_before = stream.queue_cost();
        if stream.events.capacity() == 0 {
            // Most streams keep few events: the first gets a queue of one, not of four.
            stream.events.reserve_exact(1);
        }
        let mut added = kept.cost();
        stream.events.push_back(kept);
        let trimmed = match stream.events.len() > self.settings.size {
            true => stream.events.pop_front(),
            false => None,
        };
        added += stream.queue_cost();
        let position = stream.position();
        if let Some(idle) = was_idle {
            store.idle.remove(&idle);
        }
        store.events.insert(seq, key);
        store.bytes = store.bytes + added - queue_before;
        if let Some(trimmed) = trimmed {
            store.events.remove(&trimmed.seq);
            store.bytes -= trimmed.cost();
        }
        store.shrink_to(self.settings.memory, now_ms);
        position
    }

    /// The stream's position and the kept events `since` asks for.
    pub fn read(&self, key: &StreamKey, since: &Since, now_ms: u64) -> Read {
        let mut store = self.lock();
        store.expire(now_ms, self.settings.ttl);
        let key = store.stream(key, now_ms);
        let stream = &store.streams[&key];
        let position = stream.position();
        let kept = |from: u64, limit: usize| -> Vec<Arc<Record>> {
            let first = stream.first();
            let skip = from.saturating_sub(first) as usize;
            let records = stream.events.iter().enumerate().skip(skip).take(limit);
            records
                .map(|(i, kept)| {
                    let offset = first + i as u64;
                    Arc::new(Record { offset, at_ms: kept.at_ms, event: kept.event.unpack() })
                })
                .collect()
        };
        let read = match since {
            Since::Last(n) => {
                let from = stream.first() + stream.events.len().saturating_sub(*n) as u64;
                Read { position, events: kept(from, *n), recovered: None }
            }
            Since::After(after, limit) => match continues(stream, after) {
                true => Read { position, events: kept(after.offset + 1, *limit), recovered: Some(true) },
                false => Read { position, events: Vec::new(), recovered: Some(false) },
            },
        };
        store.shrink_to(self.settings.memory, now_ms);
        read
    }

    /// Drops what has been kept longer than the TTL, so that an idle hub gives its memory back.
    pub fn expire(&self, now_ms: u64) {
        self.lock().expire(now_ms, self.settings.ttl);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        // Only this file's code runs under the lock, and none of it panics halfway.
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether every event after `after` is kept: same epoch, and nothing after it dropped.
fn continues(stream: &Stream, after: &StreamPosition) -> bool {
    *stream.epoch == *after.epoch && after.offset <= stream.top && after.offset + 1 >= stream.first()
}

impl Store {
    fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// The shared name of `key`'s stream, which is created (idle since `now_ms`) if it does not exist.
    fn stream(&mut self, key: &StreamKey, now_ms: u64) -> Arc<StreamKey> {
        if let Some((key, _)) = self.streams.get_key_value(key) {
            return Arc::clone(key);
        }
        let key = Arc::new(key.clone());
        self.bytes += stream_cost(&key);
        let seq = self.next_seq();
        let mut stream = Stream::new();
        stream.idle_since = Some(seq);
        self.idle.insert(seq, (Arc::clone(&key), now_ms));
        self.streams.insert(Arc::clone(&key), stream);
        key
    }

    /// Drops events recorded, and idle streams left, `ttl` or longer ago.
    fn expire(&mut self, now_ms: u64, ttl: Duration) {
        // Nothing more expires within the same millisecond: a busy hub records many events in one.
        if self.expired_at == Some(now_ms) {
            return;
        }
        self.expired_at = Some(now_ms);
        let deadline = now_ms.saturating_sub(ttl.as_millis() as u64);
        while let Some((&seq, (_, since))) = self.idle.first_key_value() {
            if *since > deadline {
                break;
            }
            self.drop_idle(seq);
        }
        while let Some((_, key)) = self.events.first_key_value() {
            let recorded_at = self.streams[key].events.front().map_or(0, |kept| kept.at_ms);
            if recorded_at > deadline {
                break;
            }
            self.drop_oldest(now_ms);
        }
    }

    /// Drops idle streams, then the oldest events, until the store fits in `memory` bytes.
    fn shrink_to(&mut self, memory: usize, now_ms: u64) {
        while self.bytes > memory {
            if let Some((&seq, _)) = self.idle.first_key_value() {
                self.drop_idle(seq);
            } else if !self.events.is_empty() {
                self.drop_oldest(now_ms);
            } else {
                return;
            }
        }
    }

    fn drop_idle(&mut self, seq: u64) {
        if let Some((key, _)) = self.idle.remove(&seq) {
            self.streams.remove(&key);
            self.bytes -= stream_cost(&key);
            // The table does not shrink by itself: after a burst of streams it would keep their slots.
            if self.streams.capacity() > 1024 && self.streams.len() * 4 < self.streams.capacity() {
                self.streams.shrink_to(self.streams.len() * 2);
            }
        }
    }

    /// Drops the oldest event of all; its stream becomes idle if that was its last one.
    fn drop_oldest(&mut self, now_ms: u64) {
        let Some((_, key)) = self.events.pop_first() else { return };
        let stream = self.streams.get_mut(&key).expect("a kept event's stream exists");
        let queue_before = stream.queue_cost();
        let kept = stream.events.pop_front().expect("the oldest event is its stream's oldest");
        let (len, capacity) = (stream.events.len(), stream.events.capacity());
        if len == 0 {
            stream.events = VecDeque::new();
        } else if capacity > 8 && len * 4 <= capacity {
            stream.events.shrink_to(len * 2);
        }
        self.bytes = self.bytes + stream.queue_cost() - queue_before - kept.cost();
        if len == 0 {
            let seq = self.next_seq();
            let stream = self.streams.get_mut(&key).expect("a kept event's stream exists");
            stream.idle_since = Some(seq);
            self.idle.insert(seq, (key, now_ms));
        }
    }
}

#[cfg(test)]
mod tests {
    use hub_protocol::{Argument, Arguments};

    use super::*;

    fn store(memory: usize) -> MemoryHistory {
        MemoryHistory::new(Settings { size: 100, ttl: Duration::from_secs(60), memory })
    }

    fn order(id: usize) -> Event {
        let data = Argument::Object(vec![("id".into(), Argument::Number(id.into()))]);
        Event::Published { event: "order".into(), arguments: Arc::new(Arguments(vec![data])) }
    }

    #[test]
    fn the_count_goes_back_to_nothing_when_everything_expired() {
        let history = store(1 << 30);
        for i in 0..1_000 {
            let key = StreamKey::room("/", &format!("room-{}", i % 37));
            history.record(&key, 1_000, order(i));
            history.record(&key, 1_000, Event::Chat { user: "alice".into(), text: "hi".repeat(i % 50) });
        }
        assert!(history.lock().bytes > 0);
        // The events go after the TTL; their streams, idle from then on, after one more.
        history.expire(1_000 + 60_000);
        let idle = history.lock().bytes;
        assert_eq!(idle, 37 * (STREAM_OVERHEAD + allocated(1) + allocated("room-00".len())));
        history.expire(1_000 + 120_000);
        let store = history.lock();
        assert_eq!((store.bytes, store.streams.len(), store.events.len()), (0, 0, 0));
    }

    #[test]
    fn many_streams_keep_to_the_memory_and_the_newest_events_stay() {
        let history = store(1 << 20);
        for i in 0..20_000 {
            history.record(&StreamKey::room("/", &format!("room-{i}")), 1_000, order(i));
            assert!(history.lock().bytes <= 1 << 20);
        }
        let read =
            |i: usize| history.read(&StreamKey::room("/", &format!("room-{i}")), &Since::Last(10), 1_000);
        let newest = read(19_999);
        assert_eq!(newest.events.len(), 1);
        assert_eq!(newest.events[0].event, order(19_999));
        assert!(read(0).events.is_empty());
    }
}
