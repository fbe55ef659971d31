//! The history of a cluster, in Redis: every hub reads and writes the same streams, so offsets and
//! epochs are the same on every hub, and a client may recover on another hub than the one it left.
//!
//! Each stream is a Redis stream of its last `--history-size` events, whose entry ids are the offsets,
//! and a small hash with its epoch and last offset ([`keys`]; the scripts in `redis/` say how they are
//! used). Both expire: the events a `--history-ttl` after the last one was recorded, the position a TTL
//! later (as a lone hub forgets an idle stream); older events count as gone as soon as they pass the
//! TTL, by Redis's clock.
//!
//! Every change is one Lua script, so it is atomic: recording an event gives it the next offset, keeps
//! it, and publishes it on [`CHANNEL`] in one step. So every hub receives each stream's events in offset
//! order, whichever hubs recorded them, and delivers them to its own sockets in that order
//! ([`delivery::dispatch`](crate::delivery::dispatch)). (Recording first and broadcasting after, through the
//! adapter, would let the broadcasts of two hubs cross on their way.)
//!
//! Without Redis nothing can be recorded: a hub that delivers events to its own sockets meanwhile marks
//! their streams as [broken](RedisHistory::broke), and starts them over in a new epoch as soon as
//! Redis answers again, so that clients learn their history has a hole. Redis losing its data does the
//! same by itself: a stream Redis does not know starts in a new epoch.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use fred::clients::Client;
use fred::interfaces::{ClientLike, PubsubInterface};
use fred::types::Value;
use fred::types::scripts::Script;
use socketioxide::socket::Sid;

use super::announcement::{self, Audience, CHANNEL};
use super::fences::{self, Fences};
use super::{Event, HistoryError, Position, Read, Since, StreamKey, new_epoch};
use crate::telemetry::log_throttle::LogThrottle;

/// What a cluster keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Events kept per stream (`--history-size`, at least 1 here).
    pub size: usize,
    /// How long an event is kept (`--history-ttl`).
    pub ttl: Duration,
}

fn script(body: &'static str) -> Script {
    Script::from_lua(format!("{}{body}", include_str!("redis/prelude.lua")))
}

static RECORD: LazyLock<Script> = LazyLock::new(|| script(include_str!("redis/record.lua")));
static READ: LazyLock<Script> = LazyLock::new(|| script(include_str!("redis/read.lua")));
static RESET: LazyLock<Script> = LazyLock::new(|| script(include_str!("redis/reset.lua")));

/// A cluster's history, as this hub reaches it.
pub struct RedisHistory {
    client: Client,
    settings: Settings,
    fences: Fences,
    /// Streams whose history has a hole, each with the number of its latest break: events this hub
    /// delivered while Redis was unreachable.
    broken: Mutex<HashMap<StreamKey, u64>>,
    breaks: AtomicU64,
}

impl std::fmt::Debug for RedisHistory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisHistory").field("settings", &self.settings).finish_non_exhaustive()
    }
}

/// The Redis keys of `key`'s stream: its events and its position. Both carry the stream's name as a hash
/// tag, escaped so that no two streams share a key (and a Redis Cluster keeps both on one node).
pub fn keys(key: &StreamKey) -> [String; 2] {
    let mut tag = escape(&key.namespace);
    if let Some(room) = &key.room {
        tag.push(':');
        tag.push_str(&escape(room));
    }
    [format!("hub:history:{{{tag}}}:events"), format!("hub:history:{{{tag}}}:position")]
}

/// `name` with every byte but letters, digits and `-_./` written as `%XX`: no `:` to separate names,
/// no `{}` to end the hash tag.
pub fn escape(name: &str) -> String {
    let mut escaped = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_./".contains(&byte) {
            escaped.push(byte as char);
        } else {
            let _ = write!(escaped, "%{byte:02X}");
        }
    }
    escaped
}

impl RedisHistory {
    pub fn new(client: Client, settings: Settings) -> Self {
        Self { client, settings, fences: Fences::default(), broken: Mutex::default(), breaks: 0.into() }
    }

    /// Records `event` of `audience`'s stream at its next offset and announces it to every hub, or only
    /// announces it (`recorded` false: a volatile event). Returns where it was recorded.
    ///
    /// A failure is logged; the caller then delivers the event to this hub's sockets only, and marks the
    /// stream as [broken](Self::broke) if the event was to be recorded.
    pub async fn announce(
        &self,
        audience: &Audience,
        at_ms: u64,
        event: &Event,
        recorded: bool,
    ) -> Result<Option<Position>, HistoryError> {
        let announced = self.try_announce(audience, at_ms, event, recorded).await;
        if let Err(e) = &announced {
            static NOT_ANNOUNCED: LogThrottle = LogThrottle::new(Duration::from_secs(1));
            if let Some(held_back) = NOT_ANNOUNCED.due(Instant::now()) {
                let key = &audience.key;
                tracing::warn!(
                    ns = key.namespace,
                    room = key.room,
                    held_back,
                    "event delivered to this hub's sockets only, unrecorded: {e}"
                );
            }
        }
        announced
    }

    async fn try_announce(
        &self,
        audience: &Audience,
        at_ms: u64,
        event: &Event,
        recorded: bool,
    ) -> Result<Option<Position>, HistoryError> {
        let head = announcement::event_head(audience)?;
        let stored = announcement::stored(at_ms, event)?;
        if !recorded {
            self.ensure_up()?;
            let message = announcement::volatile(&head, &stored)?;
            self.client.publish::<(), _, _>(CHANNEL, message).await?;
            return Ok(None);
        }
        let key = &audience.key;
        let broken = self.broken_since(key);
        let args = vec![
            Value::from(new_epoch().as_ref()),
            fresh(broken),
            Value::from(self.settings.size as i64),
            self.ttl_ms(),
            Value::from(CHANNEL),
            Value::Bytes(head.into()),
            Value::Bytes(stored.into()),
        ];
        let reply = self.call(&RECORD, key, args).await?;
        let position = match reply.into_array().as_slice() {
            [offset, epoch] => Position { offset: integer(offset)?, epoch: text(epoch)? },
            _ => return Err(HistoryError::Reply("record")),
        };
        self.repaired(key, broken);
        Ok(Some(position))
    }

    /// `key`'s position and the kept events `since` asks for.
    pub async fn read(&self, key: &StreamKey, since: &Since) -> Result<Read, HistoryError> {
        // A stream never keeps more than `size` events.
        let most = |n: usize| Value::from(n.min(self.settings.size) as i64);
        let (asked, limit) = match since {
            Since::Last(n) => (["last".into(), most(*n), Value::from("")], most(*n)),
            Since::After(after, limit) => {
                let offset = Value::from(after.offset.to_string());
                (["after".into(), offset, Value::from(after.epoch.as_str())], most(*limit))
            }
            Since::Page { after, epoch, limit } => {
                let epoch = Value::from(epoch.as_deref().unwrap_or(""));
                (["page".into(), Value::from(after.to_string()), epoch], most(*limit))
            }
        };
        let broken = self.broken_since(key);
        let mut args = vec![Value::from(new_epoch().as_ref()), fresh(broken), self.ttl_ms()];
        args.extend(asked);
        args.push(limit);
        let reply = self.call(&READ, key, args).await?;
        let [epoch, top, recovered, found] =
            <[Value; 4]>::try_from(reply.into_array()).map_err(|_| HistoryError::Reply("read"))?;
        let position = Position { offset: integer(&top)?, epoch: text(&epoch)? };
        let recovered = match recovered.as_i64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        };
        let mut events = Vec::new();
        for pair in found.into_array().chunks(2) {
            let [offset, stored] = pair else { return Err(HistoryError::Reply("read")) };
            let stored = stored.as_bytes().ok_or(HistoryError::Reply("read"))?;
            events.push(Arc::new(announcement::record(integer(offset)?, stored)?));
        }
        self.repaired(key, broken);
        Ok(Read { position, events, recovered })
    }

    /// `reader` was replayed `key`'s stream up to `top` and is about to become one of its members on
    /// this hub (call it within the stream's turn): events up to `top` that are still on their way here
    /// skip it ([`fences`](super::fences)).
    pub async fn fence(&self, key: &StreamKey, reader: Sid, top: &Position) -> Result<(), HistoryError> {
        if top.offset == 0 {
            return Ok(());
        }
        let token = fences::token();
        let message = announcement::fence(key, token)?;
        self.ensure_up()?;
        // Published after the read was answered: after every event recorded before it. (It cannot be
        // handled before it is raised: handling it takes the stream's turn.)
        self.client.publish::<(), _, _>(CHANNEL, message).await?;
        self.fences.raise(key, reader, top.clone(), token);
        Ok(())
    }

    /// The sockets that must not get `key`'s event at `position` live: they were just replayed it.
    pub fn held_back(&self, key: &StreamKey, position: &Position) -> Vec<Sid> {
        self.fences.held_back(key, position)
    }

    /// The fence `token` of `key` arrived.
    pub fn fence_arrived(&self, key: &StreamKey, token: u64) {
        self.fences.lower(key, token);
    }

    /// `key`'s history has a hole: this hub delivered one of its events without recording it.
    pub fn broke(&self, key: &StreamKey) {
        let n = self.breaks.fetch_add(1, Ordering::Relaxed) + 1;
        self.lock_broken().insert(key.clone(), n);
    }

    /// Starts every broken stream over in a new epoch, once Redis answers; and forgets fences whose
    /// message never came. Called every second.
    pub async fn repair(&self) {
        self.fences.forget_older(Instant::now());
        if !self.client.is_connected() {
            return;
        }
        let broken: Vec<(StreamKey, u64)> =
            self.lock_broken().iter().map(|(key, n)| (key.clone(), *n)).collect();
        for (key, n) in broken {
            let args = vec![Value::from(new_epoch().as_ref()), self.ttl_ms()];
            match self.call(&RESET, &key, args).await {
                Ok(_) => {
                    tracing::info!(
                        ns = key.namespace,
                        room = key.room,
                        "history starts over in a new epoch: events were delivered while Redis was unreachable"
                    );
                    self.repaired(&key, Some(n));
                }
                Err(e) => {
                    tracing::debug!("broken streams not started over yet: {e}");
                    return;
                }
            }
        }
    }

    /// The number of `key`'s latest break, if it is broken.
    fn broken_since(&self, key: &StreamKey) -> Option<u64> {
        self.lock_broken().get(key).copied()
    }

    /// `key` started over after its break `n`: it is whole again, unless it broke again meanwhile.
    fn repaired(&self, key: &StreamKey, n: Option<u64>) {
        if let Some(n) = n {
            let mut broken = self.lock_broken();
            if broken.get(key) == Some(&n) {
                broken.remove(key);
            }
        }
    }

    fn ttl_ms(&self) -> Value {
        Value::from(self.settings.ttl.as_millis() as i64)
    }

    fn ensure_up(&self) -> Result<(), HistoryError> {
        // Refused at once: a command would wait for the connection to come back.
        if self.client.is_connected() { Ok(()) } else { Err(HistoryError::Unreachable) }
    }

    async fn call(&self, script: &Script, key: &StreamKey, args: Vec<Value>) -> Result<Value, HistoryError> {
        self.ensure_up()?;
        let keys: Vec<String> = keys(key).into();
        Ok(script.evalsha_with_reload(&self.client, keys, args).await?)
    }

    fn lock_broken(&self) -> MutexGuard<'_, HashMap<StreamKey, u64>> {
        self.broken.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The scripts' flag to start a stream over.
fn fresh(broken: Option<u64>) -> Value {
    Value::from(if broken.is_some() { "1" } else { "" })
}

fn integer(value: &Value) -> Result<u64, HistoryError> {
    value.as_u64().ok_or(HistoryError::Reply("an offset"))
}

fn text(value: &Value) -> Result<Arc<str>, HistoryError> {
    value.as_str().map(|s| Arc::from(s.as_ref())).ok_or(HistoryError::Reply("an epoch"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stream_has_keys_of_its_own() {
        let names = [
            StreamKey::namespace("/"),
            StreamKey::room("/", ""),
            StreamKey::room("/", "a:b"),
            StreamKey::room("/", "a%3Ab"),
            StreamKey::room("/a", "b"),
            StreamKey::room("/", "a}b{c"),
            StreamKey::room("/", "é"),
        ];
        let keys: Vec<[String; 2]> = names.iter().map(keys).collect();
        for (i, a) in keys.iter().enumerate() {
            assert_eq!(a[0].replace(":events", ":position"), a[1], "one tag for both keys");
            for b in &keys[i + 1..] {
                assert_ne!(a[0], b[0]);
            }
        }
        assert_eq!(keys[0][0], "hub:history:{/}:events");
        assert_eq!(keys[2][0], "hub:history:{/:a%3Ab}:events");
        assert_eq!(keys[5][1], "hub:history:{/:a%7Db%7Bc}:position");
    }
}
