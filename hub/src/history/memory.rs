//! The history of a lone hub, in memory: each stream keeps its last `--history-size` events for
//! `--history-ttl`, and all streams together at most `--history-memory` bytes.
//!
//! Every kept event, of every stream, is in one map ordered by when it was recorded, so that the oldest
//! events go first when time or memory runs out, whichever stream they belong to. A stream that keeps no
//! event still remembers its epoch and last offset (a client that saw nothing yet can recover from offset
//! 0) until it has been idle for the TTL or memory runs short: idle streams go before any event.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::{Event, Position, Read, Record, Since, StreamKey, new_epoch};

/// What one kept event costs besides its data: the record, its slot in its stream and in the order map
/// (measured, see BENCHMARKS.md "History").
pub const EVENT_OVERHEAD: usize = 160;
/// What a stream costs besides its name: its entry in the map, epoch and queue.
pub const STREAM_OVERHEAD: usize = 160;

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
    /// What the streams and their events cost, as [`EVENT_OVERHEAD`] and [`STREAM_OVERHEAD`] count it.
    bytes: usize,
}

#[derive(Debug)]
struct Stream {
    epoch: Arc<str>,
    /// The last offset given out.
    top: u64,
    /// Kept events, oldest first, with their sequence numbers; offsets follow each other without a gap.
    events: VecDeque<(u64, Arc<Record>)>,
    /// While the stream keeps no event: its entry in [`Store::idle`].
    idle_since: Option<u64>,
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
        self.events.front().map_or(self.top + 1, |(_, record)| record.offset)
    }
}

impl MemoryHistory {
    pub fn new(settings: Settings) -> Self {
        Self { settings, store: Mutex::default() }
    }

    /// Records `event` in `key`'s stream, at the next offset, and returns where.
    /// (`at_ms` is the time now.)
    pub fn record(&self, key: &StreamKey, at_ms: u64, event: Event) -> Position {
        let now_ms = at_ms;
        let mut store = self.lock();
        store.expire(now_ms, self.settings.ttl);
        let key = store.stream(key, now_ms);
        let seq = store.next_seq();
        let stream = store.streams.get_mut(&key).expect("the stream was just looked up");
        let was_idle = stream.idle_since.take();
        stream.top += 1;
        let record = Arc::new(Record { offset: stream.top, at_ms, event });
        let cost = EVENT_OVERHEAD + record.event.size();
        stream.events.push_back((seq, record));
        let trimmed = match stream.events.len() > self.settings.size {
            true => stream.events.pop_front(),
            false => None,
        };
        let position = stream.position();
        if let Some(idle) = was_idle {
            store.idle.remove(&idle);
        }
        store.events.insert(seq, key);
        store.bytes += cost;
        if let Some((seq, record)) = trimmed {
            store.events.remove(&seq);
            store.bytes -= EVENT_OVERHEAD + record.event.size();
        }
        store.shrink_to(self.settings.memory, now_ms);
        position
    }

    /// The stream's position and the kept events `since` asks for.
    pub fn read(&self, key: &StreamKey, since: &Since, now_ms: u64) -> Read {
        let mut store = self.lock();
        store.expire(now_ms, self.settings.ttl);
        let key = match since {
            Since::Page { .. } => store.stream_within(key, now_ms, self.settings.memory),
            Since::Last(_) | Since::After(..) => Some(store.stream(key, now_ms)),
        };
        let Some(key) = key else { return Read::forgotten(since) };
        let stream = &store.streams[&key];
        let position = stream.position();
        let kept = |from: u64, limit: usize| -> Vec<Arc<Record>> {
            let skip = (from.saturating_sub(stream.first())) as usize;
            stream.events.iter().skip(skip).take(limit).map(|(_, record)| Arc::clone(record)).collect()
        };
        let read = match since {
            Since::Last(n) => {
                let from = stream.first() + stream.events.len().saturating_sub(*n) as u64;
                Read { position, events: kept(from, *n), recovered: None }
            }
            Since::After(after, limit) => match continues(stream, after.offset, &after.epoch) {
                true => Read { position, events: kept(after.offset + 1, *limit), recovered: Some(true) },
                false => Read { position, events: Vec::new(), recovered: Some(false) },
            },
            Since::Page { after, epoch, limit } => {
                let recovered = epoch.as_ref().map(|epoch| continues(stream, *after, epoch));
                let from = match recovered {
                    Some(false) => stream.first(),
                    Some(true) | None => after.saturating_add(1),
                };
                Read { position, events: kept(from, *limit), recovered }
            }
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

/// Whether every event after offset `after` of `epoch` is kept: same epoch, and nothing after it dropped.
fn continues(stream: &Stream, after: u64, epoch: &str) -> bool {
    *stream.epoch == *epoch && after <= stream.top && after + 1 >= stream.first()
}

impl Read {
    /// What a read of a stream that is not kept says: one started and forgotten at once.
    fn forgotten(since: &Since) -> Self {
        let recovered = match since {
            Since::Last(_) | Since::Page { epoch: None, .. } => None,
            Since::After(..) | Since::Page { epoch: Some(_), .. } => Some(false),
        };
        Read { position: Position { offset: 0, epoch: new_epoch() }, events: Vec::new(), recovered }
    }
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
        self.bytes += STREAM_OVERHEAD + key.size();
        let seq = self.next_seq();
        let mut stream = Stream::new();
        stream.idle_since = Some(seq);
        self.idle.insert(seq, (Arc::clone(&key), now_ms));
        self.streams.insert(Arc::clone(&key), stream);
        key
    }

    /// The shared name of `key`'s stream, which is created as [`stream`](Self::stream) does only if the
    /// store then still fits in `memory` bytes: `None` when it does not exist and there is no room.
    fn stream_within(&mut self, key: &StreamKey, now_ms: u64, memory: usize) -> Option<Arc<StreamKey>> {
        let exists = self.streams.contains_key(key);
        (exists || self.bytes + STREAM_OVERHEAD + key.size() <= memory).then(|| self.stream(key, now_ms))
    }

    /// Drops events recorded, and idle streams left, `ttl` or longer ago.
    fn expire(&mut self, now_ms: u64, ttl: Duration) {
        let deadline = now_ms.saturating_sub(ttl.as_millis() as u64);
        while let Some((&seq, (_, since))) = self.idle.first_key_value() {
            if *since > deadline {
                break;
            }
            self.drop_idle(seq);
        }
        while let Some((_, key)) = self.events.first_key_value() {
            let recorded_at = self.streams[key].events.front().map_or(0, |(_, record)| record.at_ms);
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
            self.bytes -= STREAM_OVERHEAD + key.size();
        }
    }

    /// Drops the oldest event of all; its stream becomes idle if that was its last one.
    fn drop_oldest(&mut self, now_ms: u64) {
        let Some((_, key)) = self.events.pop_first() else { return };
        let stream = self.streams.get_mut(&key).expect("a kept event's stream exists");
        let (_, record) = stream.events.pop_front().expect("the oldest event is its stream's oldest");
        self.bytes -= EVENT_OVERHEAD + record.event.size();
        if stream.events.is_empty() {
            let seq = self.next_seq();
            let stream = self.streams.get_mut(&key).expect("a kept event's stream exists");
            stream.idle_since = Some(seq);
            self.idle.insert(seq, (key, now_ms));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn history(size: usize, memory: usize) -> MemoryHistory {
        MemoryHistory::new(Settings { size, ttl: HOUR, memory })
    }

    fn chat(text: &str) -> Event {
        Event::Chat { user: "u".to_owned(), text: text.to_owned() }
    }

    fn page(after: u64, epoch: Option<&str>, limit: usize) -> Since {
        Since::Page { after, epoch: epoch.map(str::to_owned), limit }
    }

    fn offsets(read: &Read) -> Vec<u64> {
        read.events.iter().map(|record| record.offset).collect()
    }

    #[test]
    fn a_page_lists_the_events_after_an_offset_oldest_first_up_to_its_limit() {
        let memory = history(100, 1 << 20);
        let lobby = StreamKey::room("/", "lobby");
        for n in 0..5 {
            memory.record(&lobby, 1_000 + n, chat(&n.to_string()));
        }
        let first = memory.read(&lobby, &page(0, None, 3), 2_000);
        assert_eq!((offsets(&first), first.position.offset, first.recovered), (vec![1, 2, 3], 5, None));
        assert_eq!(first.events[0].at_ms, 1_000);
        assert_eq!(offsets(&memory.read(&lobby, &page(3, None, 1_000), 2_000)), [4, 5]);
        assert_eq!(offsets(&memory.read(&lobby, &page(5, None, 1_000), 2_000)), [] as [u64; 0]);
        assert_eq!(offsets(&memory.read(&lobby, &page(u64::MAX, None, 1_000), 2_000)), [] as [u64; 0]);
        let position_only = memory.read(&lobby, &page(0, None, 0), 2_000);
        assert_eq!((offsets(&position_only), position_only.position.offset), (vec![], 5));
    }

    #[test]
    fn a_page_with_an_epoch_says_whether_it_follows_and_else_starts_at_the_oldest_kept() {
        let memory = history(3, 1 << 20);
        let lobby = StreamKey::room("/", "lobby");
        for n in 0..5 {
            memory.record(&lobby, 1_000 + n, chat("x"));
        }
        let epoch = memory.read(&lobby, &Since::Last(0), 2_000).position.epoch.to_string();
        let read = |after, epoch: &str| memory.read(&lobby, &page(after, Some(epoch), 1_000), 2_000);

        let follows = read(2, &epoch);
        assert_eq!((offsets(&follows), follows.recovered), (vec![3, 4, 5], Some(true)));
        let follows = read(4, &epoch);
        assert_eq!((offsets(&follows), follows.recovered), (vec![5], Some(true)));
        for (after, epoch, why) in
            [(1, epoch.as_str(), "offset 2 is gone"), (2, "another", "another epoch"), (6, &epoch, "ahead")]
        {
            let gap = read(after, epoch);
            assert_eq!((offsets(&gap), gap.recovered), (vec![3, 4, 5], Some(false)), "{why}");
        }
        let without_epoch = memory.read(&lobby, &page(1, None, 1_000), 2_000);
        assert_eq!((offsets(&without_epoch), without_epoch.recovered), (vec![3, 4, 5], None));
    }

    #[test]
    fn a_page_starts_an_unknown_stream_only_while_there_is_room_for_it() {
        let roomy = history(100, 1 << 20);
        let new = StreamKey::room("/", "new");
        let first = roomy.read(&new, &page(0, None, 10), 1_000);
        assert_eq!((first.position.offset, first.events.len()), (0, 0));
        let epoch = first.position.epoch;
        assert_eq!(roomy.read(&new, &page(0, None, 10), 1_000).position.epoch, epoch, "kept");
        assert_eq!(roomy.read(&new, &Since::Last(5), 1_000).position.epoch, epoch, "a join sees it");

        // Room for one stream with five events; a page of another stream pushes nothing out.
        let full_key = StreamKey::room("/", "full");
        let cap = STREAM_OVERHEAD + full_key.size() + 5 * (EVENT_OVERHEAD + 2);
        let full = history(100, cap);
        for _ in 0..5 {
            full.record(&full_key, 1_000, chat("x"));
        }
        let unknown = full.read(&new, &page(0, Some("e"), 10), 1_000);
        assert_eq!((unknown.position.offset, unknown.events.len()), (0, 0));
        assert_eq!(unknown.recovered, Some(false));
        let again = full.read(&new, &page(0, None, 10), 1_000);
        assert_ne!(again.position.epoch, unknown.position.epoch, "not kept: each read says so");
        assert_eq!(again.recovered, None);
        assert_eq!(offsets(&full.read(&full_key, &page(0, None, 10), 1_000)), [1, 2, 3, 4, 5]);
        assert_eq!(full.lock().streams.len(), 1);
        assert_eq!(full.lock().bytes, cap);
    }
}
