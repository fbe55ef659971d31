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

use super::packed::Packed;
use super::{Event, Position, Read, Record, Since, StreamKey, new_epoch};

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
        let key = store.stream(key, now_ms, self.settings.memory);
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
        let key = match since {
            Since::Page { .. } => store.stream_within(key, now_ms, self.settings.memory),
            Since::Last(_) | Since::After(..) => Some(store.stream(key, now_ms, self.settings.memory)),
        };
        let Some(key) = key else { return Read::forgotten(since) };
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
    ///
    /// A new stream makes room for itself within `memory` first: made last, it would be the first idle
    /// stream to go, and the epoch just read (a `join` ack's) would be gone before its first event.
    fn stream(&mut self, key: &StreamKey, now_ms: u64, memory: usize) -> Arc<StreamKey> {
        if let Some((key, _)) = self.streams.get_key_value(key) {
            return Arc::clone(key);
        }
        let key = Arc::new(key.clone());
        let cost = stream_cost(&key);
        self.shrink_to(memory.saturating_sub(cost), now_ms);
        self.bytes += cost;
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
        (exists || self.bytes + stream_cost(key) <= memory).then(|| self.stream(key, now_ms, memory))
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
    use std::collections::{HashMap, HashSet};

    use hub_protocol::{Argument, Arguments, StreamPosition};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    const TTL_MS: u64 = 1_000;
    /// A time in milliseconds since the Unix epoch, long after it (as the hub's clock gives).
    const T: u64 = 1_700_000_000_000;
    const MIB: usize = 1 << 20;

    fn history(size: usize, memory: usize) -> MemoryHistory {
        MemoryHistory::new(Settings { size, ttl: Duration::from_millis(TTL_MS), memory })
    }

    fn key(room: &str) -> StreamKey {
        StreamKey::room("/", room)
    }

    /// A history whose events outlive every test (the page tests).
    fn hour_history(size: usize, memory: usize) -> MemoryHistory {
        MemoryHistory::new(Settings { size, ttl: Duration::from_secs(3600), memory })
    }

    /// A chat message whose cost is `EVENT_OVERHEAD + 2` (like [`stream_cost`] of a one-letter room).
    fn chat(text: &str) -> Event {
        Event::Chat { user: "u".to_owned(), text: text.to_owned() }
    }

    fn page(after: u64, epoch: Option<&str>, limit: usize) -> Since {
        Since::Page { after, epoch: epoch.map(str::to_owned), limit }
    }

    /// What a store holds after recording one chat message into each stream in `streams`, in order.
    fn measured(streams: &[&StreamKey]) -> usize {
        let history = history(100, usize::MAX);
        for (n, key) in streams.iter().enumerate() {
            history.record(key, T + n as u64, chat("x"));
        }
        history.bytes()
    }

    /// What a kept chat message costs, its slot in its stream's queue aside.
    fn event_cost(event: &Event) -> usize {
        let Event::Chat { user, text } = event else { panic!("chat messages only") };
        EVENT_OVERHEAD + allocated(user.len()) + allocated(text.len())
    }

    fn last(n: usize) -> Since {
        Since::Last(n)
    }

    fn after(position: &Position, offset: u64) -> Since {
        Since::After(StreamPosition { offset, epoch: position.epoch.to_string() }, usize::MAX)
    }

    fn offsets(read: &Read) -> Vec<u64> {
        read.events.iter().map(|record| record.offset).collect()
    }

    #[test]
    fn a_page_lists_the_events_after_an_offset_oldest_first_up_to_its_limit() {
        let memory = hour_history(100, 1 << 20);
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
        let memory = hour_history(3, 1 << 20);
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
        let roomy = hour_history(100, 1 << 20);
        let new = StreamKey::room("/", "new");
        let first = roomy.read(&new, &page(0, None, 10), 1_000);
        assert_eq!((first.position.offset, first.events.len()), (0, 0));
        let epoch = first.position.epoch;
        assert_eq!(roomy.read(&new, &page(0, None, 10), 1_000).position.epoch, epoch, "kept");
        assert_eq!(roomy.read(&new, &Since::Last(5), 1_000).position.epoch, epoch, "a join sees it");

        // Room for one stream with five events; a page of another stream pushes nothing out.
        let full_key = StreamKey::room("/", "full");
        let cap = {
            let measure = hour_history(100, usize::MAX);
            for _ in 0..5 {
                measure.record(&full_key, 1_000, chat("x"));
            }
            measure.bytes()
        };
        let full = hour_history(100, cap);
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

    impl MemoryHistory {
        fn bytes(&self) -> usize {
            self.lock().bytes
        }
    }

    #[test]
    fn offsets_start_at_1_and_follow_each_other_within_one_epoch() {
        let history = history(100, MIB);
        let fresh = history.read(&key("a"), &last(10), T);
        assert_eq!((fresh.position.offset, fresh.events.len(), fresh.recovered), (0, 0, None));

        let positions: Vec<Position> =
            ["one", "two", "three"].map(|text| history.record(&key("a"), T + 1, chat(text))).into();
        assert_eq!(positions.iter().map(|p| p.offset).collect::<Vec<_>>(), [1, 2, 3]);
        assert!(positions.iter().all(|p| p.epoch == fresh.position.epoch), "one epoch: {positions:?}");

        let read = history.read(&key("a"), &last(10), T + 2);
        assert_eq!(read.position, positions[2]);
        assert_eq!(offsets(&read), [1, 2, 3]);
        assert_eq!(read.events[1].event, chat("two"));
        assert_eq!(read.events[1].at_ms, T + 1);

        let other = history.record(&key("b"), T + 3, chat("x"));
        let namespace = history.record(&StreamKey::namespace("/"), T + 3, chat("x"));
        assert_eq!((other.offset, namespace.offset), (1, 1), "each stream numbers its own events");
        assert_ne!(other.epoch, positions[0].epoch);
        assert_ne!(namespace.epoch, other.epoch);
    }

    #[test]
    fn history_size_keeps_the_newest_events_of_each_stream() {
        let history = history(3, MIB);
        let top = (1..=5).map(|n| history.record(&key("a"), T + n, chat("x"))).last().unwrap();
        assert_eq!(top.offset, 5);
        assert_eq!(offsets(&history.read(&key("a"), &last(10), T + 6)), [3, 4, 5]);
        let read = history.read(&key("a"), &after(&top, 2), T + 6);
        assert_eq!((read.recovered, offsets(&read)), (Some(true), vec![3, 4, 5]));
        let read = history.read(&key("a"), &after(&top, 1), T + 6);
        assert_eq!((read.recovered, offsets(&read)), (Some(false), vec![]), "event 2 is gone: a gap");
        let three = MemoryHistory::new(Settings { size: 3, ttl: Duration::from_millis(TTL_MS), memory: MIB });
        for n in 1..=3 {
            three.record(&key("a"), T + n, chat("x"));
        }
        assert_eq!(history.bytes(), three.bytes(), "what 3 events cost, not 5");
    }

    #[test]
    fn offset_0_of_a_fresh_stream_recovers_everything() {
        let history = history(100, MIB);
        let joined = history.read(&key("a"), &last(0), T).position;
        let read = history.read(&key("a"), &after(&joined, 0), T);
        assert_eq!((read.recovered, offsets(&read)), (Some(true), vec![]), "nothing missed yet");
        for n in 1..=3 {
            history.record(&key("a"), T + n, chat("x"));
        }
        let read = history.read(&key("a"), &after(&joined, 0), T + 4);
        assert_eq!((read.recovered, offsets(&read)), (Some(true), vec![1, 2, 3]));
        assert_eq!(read.position.epoch, joined.epoch);
    }

    #[test]
    fn a_position_beyond_the_top_or_of_another_epoch_is_not_recovered() {
        let history = history(100, MIB);
        let top = (1..=3).map(|n| history.record(&key("a"), T + n, chat("x"))).last().unwrap();
        let read = |since: &Since| {
            let read = history.read(&key("a"), since, T + 4);
            (read.recovered, offsets(&read))
        };
        assert_eq!(read(&after(&top, 3)), (Some(true), vec![]), "up to date");
        assert_eq!(read(&after(&top, 4)), (Some(false), vec![]), "beyond the top");
        assert_eq!(read(&after(&top, u64::MAX)), (Some(false), vec![]));
        let elsewhere = Position { offset: 3, epoch: Arc::from("another") };
        assert_eq!(read(&after(&elsewhere, 1)), (Some(false), vec![]), "another epoch");
        let limited = Since::After(StreamPosition { offset: 0, epoch: top.epoch.to_string() }, 2);
        assert_eq!(read(&limited), (Some(true), vec![1, 2]), "at most `limit`, from the first missed");
    }

    #[test]
    fn since_last_n_gives_the_last_n_kept() {
        let history = history(4, MIB);
        for n in 1..=6 {
            history.record(&key("a"), T + n, chat("x"));
        }
        let read = |n: usize| {
            let read = history.read(&key("a"), &last(n), T + 7);
            assert_eq!((read.position.offset, read.recovered), (6, None));
            offsets(&read)
        };
        assert_eq!(read(0), Vec::<u64>::new());
        assert_eq!(read(2), [5, 6]);
        assert_eq!(read(4), [3, 4, 5, 6]);
        assert_eq!(read(10), [3, 4, 5, 6], "no more than are kept");
        assert_eq!(read(usize::MAX), [3, 4, 5, 6]);
    }

    #[test]
    fn the_ttl_drops_events_then_the_idle_stream_whose_next_event_starts_a_new_epoch() {
        let history = history(100, MIB);
        let first = history.record(&key("a"), T + 10_000, chat("x"));
        let second = history.record(&key("a"), T + 10_400, chat("x"));

        history.expire(T + 10_000 + TTL_MS);
        let read = history.read(&key("a"), &after(&first, 1), T + 10_000 + TTL_MS);
        assert_eq!((read.recovered, offsets(&read)), (Some(true), vec![2]), "event 1 was kept for the TTL");
        let read = history.read(&key("a"), &after(&first, 0), T + 10_000 + TTL_MS);
        assert_eq!(read.recovered, Some(false), "event 1 is gone");

        // Without events, the stream still knows its epoch and top: a client that has everything is
        // up to date, one that misses anything is not.
        history.expire(T + 10_400 + TTL_MS);
        let read = history.read(&key("a"), &after(&second, 2), T + 10_400 + TTL_MS);
        assert_eq!(
            (read.position.clone(), read.recovered, offsets(&read)),
            (second.clone(), Some(true), vec![])
        );
        let read = history.read(&key("a"), &after(&second, 1), T + 10_400 + TTL_MS);
        assert_eq!(read.recovered, Some(false));
        assert_eq!(history.bytes(), stream_cost(&key("a")));

        // Idle for the TTL, the stream goes, and its memory with it.
        history.expire(T + 10_400 + 2 * TTL_MS - 1);
        assert_eq!(history.bytes(), stream_cost(&key("a")), "reads do not keep a stream alive, time does");
        history.expire(T + 10_400 + 2 * TTL_MS);
        assert_eq!(history.bytes(), 0);
        let again = history.record(&key("a"), T + 12_400 + TTL_MS, chat("x"));
        assert_eq!(again.offset, 1);
        assert_ne!(again.epoch, second.epoch, "a stream that lost its history has a new epoch");
        let read = history.read(&key("a"), &after(&second, 2), T + 12_400 + TTL_MS);
        assert_eq!(read.recovered, Some(false), "a position of the old epoch recovers nothing");
    }

    #[test]
    fn a_stream_that_was_only_read_expires_after_the_ttl() {
        let history = history(100, MIB);
        let joined = history.read(&key("a"), &last(0), T).position;
        history.expire(T + TTL_MS);
        assert_eq!(history.bytes(), 0);
        assert_ne!(history.read(&key("a"), &last(0), T + TTL_MS).position.epoch, joined.epoch);
    }

    #[test]
    fn the_memory_cap_drops_the_oldest_events_of_all_streams_first() {
        let (a, b) = (key("a"), key("b"));
        let cap = measured(&[&a, &b, &a, &b]) - 1;
        let history = history(100, cap);
        let a1 = history.record(&a, T + 1, chat("x"));
        let b1 = history.record(&b, T + 2, chat("x"));
        history.record(&a, T + 3, chat("x"));
        history.record(&b, T + 4, chat("x"));
        let kept = |key: &StreamKey| offsets(&history.read(key, &last(10), T + 5));
        assert_eq!((kept(&a), kept(&b)), (vec![2], vec![1, 2]), "a's first event was the oldest of all");
        history.record(&a, T + 5, chat("x"));
        assert_eq!((kept(&a), kept(&b)), (vec![2, 3], vec![2]), "then b's first");
        assert!(history.bytes() <= cap);
        assert_eq!(
            history.read(&a, &last(0), T + 6).position.epoch,
            a1.epoch,
            "the streams keep their epochs"
        );
        assert_eq!(history.read(&b, &last(0), T + 6).position.epoch, b1.epoch);
    }

    #[test]
    fn the_memory_cap_drops_idle_streams_before_any_event() {
        let (a, idle) = (key("a"), key("i"));
        // Room for a's three events and not quite for the idle stream beside them.
        let history = history(100, measured(&[&a, &a, &a]) + stream_cost(&idle) - 1);
        history.record(&a, T + 1, chat("x"));
        let joined = history.read(&idle, &last(0), T + 2).position;
        history.record(&a, T + 3, chat("x"));
        history.record(&a, T + 4, chat("x"));
        assert_eq!(offsets(&history.read(&a, &last(10), T + 5)), [1, 2, 3], "the idle stream made room");
        let recreated = history.record(&idle, T + 6, chat("x"));
        assert_ne!(recreated.epoch, joined.epoch, "the idle stream was dropped, and its epoch with it");
    }

    #[test]
    fn a_stream_read_while_memory_is_full_keeps_the_epoch_it_was_read_with() {
        let (a, quiet) = (key("a"), key("q"));
        let event = event_cost(&chat("x"));
        let history = history(100, stream_cost(&a) + 2 * event);
        history.record(&a, T + 1, chat("x"));
        history.record(&a, T + 2, chat("x"));
        // A client joins a quiet room when memory is full: the oldest event makes room for its stream,
        // so that the epoch in the join ack is the one its first event gets.
        let joined = history.read(&quiet, &last(0), T + 3).position;
        assert!(history.bytes() <= stream_cost(&a) + 2 * event);
        let first = history.record(&quiet, T + 4, chat("x"));
        assert_eq!(first, Position { offset: 1, epoch: joined.epoch.clone() });
        let read = history.read(&quiet, &after(&joined, 0), T + 5);
        assert_eq!((read.recovered, offsets(&read)), (Some(true), vec![1]));
    }

    /// What a test recorded and may still be kept, and the newest event gone for lack of memory.
    #[derive(Default)]
    struct Recorded {
        /// Events recorded and not yet seen gone.
        kept: Vec<Recording>,
        /// The last offset of each epoch.
        tops: HashMap<Arc<str>, u64>,
        /// Events recorded so far, across streams.
        order: u64,
        newest_evicted: u64,
    }

    struct Recording {
        epoch: Arc<str>,
        offset: u64,
        at_ms: u64,
        order: u64,
    }

    impl Recorded {
        fn add(&mut self, position: &Position, at_ms: u64) {
            let top = self.tops.entry(Arc::clone(&position.epoch)).or_default();
            assert_eq!(position.offset, *top + 1, "offsets start at 1 and follow each other in an epoch");
            *top = position.offset;
            self.order += 1;
            let epoch = Arc::clone(&position.epoch);
            self.kept.push(Recording { epoch, offset: position.offset, at_ms, order: self.order });
        }
    }

    impl MemoryHistory {
        /// Checks the store's bookkeeping and limits, and that every event that went for lack of memory
        /// (not by `--history-size`, not by the TTL) is older than every event still kept.
        fn check(&self, recorded: &mut Recorded, now_ms: u64) {
            let store = self.lock();
            let (size, ttl) = (self.settings.size as u64, self.settings.ttl.as_millis() as u64);
            assert!(store.bytes <= self.settings.memory, "{} bytes, over the cap", store.bytes);
            let mut bytes = 0;
            let mut kept = HashSet::new();
            for (key, stream) in &store.streams {
                bytes += stream_cost(key) + stream.queue_cost();
                assert!(stream.events.len() as u64 <= size);
                assert_eq!(stream.idle_since.is_some(), stream.events.is_empty());
                if let Some(seq) = stream.idle_since {
                    assert_eq!(store.idle.get(&seq).map(|(k, _)| k), Some(key));
                }
                let mut next = stream.first();
                for kept_event in &stream.events {
                    let offset = next;
                    next += 1;
                    assert_eq!(store.events.get(&kept_event.seq), Some(key));
                    assert!(kept_event.at_ms + ttl > now_ms, "kept past the TTL");
                    bytes += kept_event.cost();
                    kept.insert((Arc::clone(&stream.epoch), offset));
                }
                assert_eq!(next, stream.top + 1, "the newest event kept is the top");
            }
            assert_eq!(store.bytes, bytes);
            assert_eq!(store.events.len(), kept.len());
            assert_eq!(store.idle.len(), store.streams.values().filter(|s| s.idle_since.is_some()).count());

            recorded.kept.retain(|event| {
                if kept.contains(&(Arc::clone(&event.epoch), event.offset)) {
                    return true;
                }
                let trimmed = event.offset + size <= recorded.tops[&event.epoch];
                let expired = event.at_ms + ttl <= now_ms;
                if !trimmed && !expired {
                    recorded.newest_evicted = recorded.newest_evicted.max(event.order);
                }
                false
            });
            assert_eq!(recorded.kept.len(), kept.len(), "only what was recorded is kept");
            let oldest_kept = recorded.kept.iter().map(|event| event.order).min().unwrap_or(u64::MAX);
            assert!(recorded.newest_evicted < oldest_kept, "an event went for memory before an older one");
        }
    }

    /// Random records, reads and expiries on a few streams, under tight limits: after each, the
    /// bookkeeping holds, the bytes stay under the cap, and recovery never skips an event.
    #[test]
    fn random_operations_keep_the_limits_and_never_skip_an_event() {
        for seed in 0..40 {
            let mut rng = StdRng::seed_from_u64(seed);
            let size = rng.random_range(1..=8);
            let memory = rng.random_range(400..4_000);
            let history = history(size, memory);
            let keys: Vec<StreamKey> = (0..5).map(|n| key(&format!("room-{n}"))).collect();
            let mut recorded = Recorded::default();
            // Where a client of each stream stands, as a client tracks it from what it receives.
            let mut clients: HashMap<StreamKey, Position> = HashMap::new();
            let mut now = T;
            for _ in 0..1_000 {
                now += rng.random_range(0..60);
                let key = &keys[rng.random_range(0..keys.len())];
                match rng.random_range(0..10) {
                    0..=5 => {
                        let text = "x".repeat(rng.random_range(0..200));
                        let kept =
                            history.lock().streams.get(key).map(|s| (Arc::clone(&s.epoch), s.events.len()));
                        let position = history.record(key, now, chat(&text));
                        if let Some((epoch, kept)) = kept {
                            assert!(
                                epoch == position.epoch || kept == 0,
                                "seed {seed}: new epoch, {kept} kept"
                            );
                        }
                        recorded.add(&position, now);
                    }
                    6..=8 => {
                        let since = match clients.get(key) {
                            Some(position) => after(position, position.offset),
                            None => last(rng.random_range(0..10)),
                        };
                        let read = history.read(key, &since, now);
                        if let Since::After(from, _) = &since {
                            let recovered = read.recovered == Some(true);
                            if recovered {
                                let expected: Vec<u64> = (from.offset + 1..=read.position.offset).collect();
                                assert_eq!(offsets(&read), expected, "seed {seed}: all missed, in order");
                                assert_eq!(*from.epoch, *read.position.epoch);
                            } else {
                                assert!(read.events.is_empty());
                            }
                        }
                        clients.insert(key.clone(), read.position);
                    }
                    _ => history.expire(now),
                }
                history.check(&mut recorded, now);
            }
        }
    }

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
