//! Presence decided once for a whole cluster, in Redis.
//!
//! Each hub tells Redis which users it has in each room ([`change.lua`](change.lua)): Redis counts, per
//! room and user, the hubs that have sockets of that user there, and answers which of the hub's changes
//! changed the room for the cluster (a user's first hub came, its last hub went, the room became
//! occupied or vacated). Only that hub announces it, so each change is announced once per cluster,
//! wherever the user's sockets are.
//!
//! Keys: for each room, the users of the cluster (a hash) and the users of each hub (a set), both tagged
//! with the room as the history's keys are, so one script touches one Redis Cluster slot, as is the
//! set of users the room's members were last told are there ([`confirm.lua`](confirm.lua)); for each hub,
//! the rooms where it has users (a set), so that its users can be taken out if it dies; and the hubs
//! with their last heartbeat (a sorted set).
//!
//! A hub that stops without saying goodbye (a crash, a lost machine) stops its heartbeat; after
//! [`GONE_AFTER`] any hub takes its users out of their rooms and announces their departures. A hub
//! that could not reach Redis (its changes were refused meanwhile), or that was taken for gone,
//! reconciles: it compares what Redis holds for it with the users it really has, and sends the
//! difference. Every operation is idempotent, so a change that arrives after a reconciliation that
//! already counted it changes nothing.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use fred::clients::Client;
use fred::interfaces::{ClientLike, KeysInterface, SetsInterface, SortedSetsInterface};
use fred::types::Value;
use fred::types::scripts::Script;
use hub_protocol::{PresenceChange, PresenceState, UserName};
use serde_json::Value as Json;

use super::{Change, RoomKey, RoomSnapshot, RoomUser, Step};
use crate::history::new_epoch;
use crate::history::redis::escape;
use crate::telemetry::log_throttle::LogThrottle;

/// How often a hub says it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// How long a hub may stay silent before its users count as gone: three heartbeats.
pub const GONE_AFTER: Duration = Duration::from_secs(15);

static CHANGE: LazyLock<Script> = LazyLock::new(|| Script::from_lua(include_str!("change.lua")));
static CONFIRM: LazyLock<Script> = LazyLock::new(|| Script::from_lua(include_str!("confirm.lua")));
static HEARTBEAT_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::from_lua(include_str!("heartbeat.lua")));

/// The hubs with users in rooms, and their last heartbeats.
const HUBS: &str = "hub:presence:hubs";

/// Why Redis could not decide.
#[derive(Debug, thiserror::Error)]
pub enum PresenceError {
    #[error("Redis is unreachable")]
    Unreachable,
    #[error("Redis: {0}")]
    Redis(#[from] fred::error::Error),
    #[error("unexpected answer from Redis's {0} script")]
    Reply(&'static str),
}

/// This hub's side of the cluster's presence.
pub struct RedisPresence {
    client: Client,
    /// This hub, for as long as it runs.
    hub: Arc<str>,
    /// Rooms this hub listed among its rooms in Redis.
    listed: HashSet<RoomKey>,
    /// Whether this hub's heartbeat was seen since it started.
    alive: bool,
    /// A change was refused: Redis may not hold what this hub has.
    stale: bool,
    /// Since when Redis has answered every command, without a break.
    up_since: Option<Instant>,
}

impl std::fmt::Debug for RedisPresence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisPresence").field("hub", &self.hub).field("stale", &self.stale).finish()
    }
}

/// The keys of `room`'s users in the cluster, and of `hub`'s users in it.
fn room_keys(room: &RoomKey, hub: &str) -> [String; 2] {
    let tag = room_tag(room);
    [format!("hub:presence:{{{tag}}}:users"), format!("hub:presence:{{{tag}}}:hub:{hub}")]
}

/// The keys of `room`'s users in the cluster, and of the users its members were told are there.
fn told_keys(room: &RoomKey) -> [String; 2] {
    let tag = room_tag(room);
    [format!("hub:presence:{{{tag}}}:users"), format!("hub:presence:{{{tag}}}:told")]
}

fn room_tag((namespace, room): &RoomKey) -> String {
    format!("{}:{}", escape(namespace), escape(room))
}

/// The key of the rooms where `hub` has users.
fn rooms_key(hub: &str) -> String {
    format!("hub:presence:rooms:{hub}")
}

/// One operation of [`change.lua`](change.lua).
struct Op {
    user: UserName,
    info: Option<Arc<Json>>,
    arrived: bool,
}

impl RedisPresence {
    pub fn new(client: Client) -> Self {
        Self { client, hub: new_epoch(), listed: HashSet::new(), alive: false, stale: false, up_since: None }
    }

    /// Which of this hub's `changes` change their room for the cluster, with `room_edge` as the cluster
    /// sees it. Changes Redis could not take are left to the next reconciliation.
    pub async fn decide(&mut self, changes: Vec<Change>) -> Vec<Change> {
        let mut rooms: HashMap<RoomKey, Vec<Op>> = HashMap::new();
        for change in changes {
            let op = Op { user: change.user, info: change.info, arrived: change.step == Step::Arrived };
            rooms.entry((change.namespace, change.room)).or_default().push(op);
        }
        let mut decided = Vec::new();
        let outcome = self.apply(rooms, &mut decided).await;
        self.settled(outcome);
        decided
    }

    /// Makes the next [`maintain`](Self::maintain) reconcile: changes were lost on their way here.
    pub fn reconcile_next(&mut self) {
        self.stale = true;
    }

    /// The changes of `room` still to be announced when their event is due. Hubs announce what they
    /// decided each on its own interval, so a change may reach the members after a later one from
    /// another hub: a user's tab leaving hub A just before another tab joins hub B. Redis keeps what
    /// the members were told, and only a change that makes it true again is announced. When Redis
    /// does not answer, the changes go as they are.
    pub async fn confirm(&self, room: &RoomKey, changes: Vec<PresenceChange>) -> Vec<PresenceChange> {
        let mut args = Vec::with_capacity(changes.len() * 2);
        for change in &changes {
            args.push(Value::from(if change.state == PresenceState::Joined { "+" } else { "-" }));
            args.push(Value::from(change.user.as_str()));
        }
        let confirmed: Result<Value, PresenceError> = match self.ensure_up() {
            Ok(()) => CONFIRM
                .evalsha_with_reload(&self.client, Vec::from(told_keys(room)), args)
                .await
                .map_err(Into::into),
            Err(e) => Err(e),
        };
        let keep = match confirmed.map(Value::into_array) {
            Ok(keep) if keep.len() == changes.len() => keep,
            outcome => {
                static FAILED: LogThrottle = LogThrottle::new(Duration::from_secs(10));
                if let Some(held_back) = FAILED.due(Instant::now()) {
                    let error =
                        outcome.err().map_or_else(|| "unexpected answer".to_owned(), |e| e.to_string());
                    tracing::warn!(held_back, "presence announced unconfirmed: {error}");
                }
                return changes;
            }
        };
        changes
            .into_iter()
            .zip(keep)
            .filter(|(_, keep)| keep.as_i64() == Some(1))
            .map(|(change, _)| change)
            .collect()
    }

    /// Says this hub is alive; reconciles when Redis may not hold what this hub has; takes the users of
    /// gone hubs out of their rooms. Returns the changes that made, for the cluster.
    pub async fn maintain(&mut self, snapshot: impl FnOnce() -> Vec<RoomSnapshot>) -> Vec<Change> {
        let mut decided = Vec::new();
        let outcome = self.try_maintain(snapshot, &mut decided).await;
        self.settled(outcome);
        decided
    }

    /// Adds the changes it made to `changes` as it goes, so that those made before a failure are
    /// announced all the same (Redis counted them: they would not come again).
    async fn try_maintain(
        &mut self,
        snapshot: impl FnOnce() -> Vec<RoomSnapshot>,
        changes: &mut Vec<Change>,
    ) -> Result<(), PresenceError> {
        self.ensure_up()?;
        let args = vec![Value::from(self.hub.as_ref()), Value::from(GONE_AFTER.as_millis() as i64)];
        let reply: Value = HEARTBEAT_SCRIPT.evalsha_with_reload(&self.client, vec![HUBS], args).await?;
        let [listed, gone] =
            <[Value; 2]>::try_from(reply.into_array()).map_err(|_| PresenceError::Reply("heartbeat"))?;
        if listed.as_i64() == Some(1) && self.alive {
            tracing::warn!(
                "another hub took this one for gone (no heartbeat reached Redis): announcing its users again"
            );
            self.stale = true;
        }
        self.alive = true;
        let up_since = *self.up_since.get_or_insert_with(Instant::now);
        if self.stale {
            self.reconcile(snapshot(), changes).await?;
            self.stale = false;
        }
        // After an outage every hub's heartbeat is late: a hub waits until the others had the time to
        // say they are alive before it takes anyone for gone.
        if up_since.elapsed() >= GONE_AFTER {
            for hub in gone.into_array() {
                let Some(hub) = hub.as_string() else { continue };
                if hub != self.hub.as_ref() {
                    self.sweep(&hub, changes).await?;
                }
            }
        }
        Ok(())
    }

    /// Sends Redis the difference between what it holds for this hub and the users this hub has.
    async fn reconcile(
        &mut self,
        snapshot: Vec<RoomSnapshot>,
        changes: &mut Vec<Change>,
    ) -> Result<(), PresenceError> {
        let mut wanted: HashMap<RoomKey, Vec<RoomUser>> = snapshot.into_iter().collect();
        let listed: Vec<String> = self.client.smembers(rooms_key(&self.hub)).await?;
        for room in listed.iter().filter_map(|entry| serde_json::from_str::<RoomKey>(entry).ok()) {
            wanted.entry(room).or_default();
        }
        let mut rooms = HashMap::new();
        for (room, users) in wanted {
            let users_here = !users.is_empty();
            let held: HashSet<String> = self.client.smembers(&room_keys(&room, &self.hub)[1]).await?;
            let mut ops: Vec<Op> = held
                .iter()
                .filter(|user| !users.iter().any(|(u, _)| u.as_str() == user.as_str()))
                .filter_map(|user| UserName::parse(user.as_str()).ok())
                .map(|user| Op { user, info: None, arrived: false })
                .collect();
            ops.extend(
                users.into_iter().filter(|(user, _)| !held.contains(user.as_str())).map(|(user, info)| Op {
                    user,
                    info,
                    arrived: true,
                }),
            );
            // Listed again whatever Redis lost: a sweep may have taken this hub's list.
            if users_here {
                self.list(&room).await?;
            } else {
                self.listed.remove(&room);
            }
            rooms.insert(room, ops);
        }
        tracing::info!(rooms = rooms.len(), "presence reconciled with Redis");
        self.apply(rooms, changes).await
    }

    /// Lists `room` among this hub's rooms in Redis, so that if this hub dies its users are found.
    async fn list(&mut self, room: &RoomKey) -> Result<(), PresenceError> {
        let entry = serde_json::to_string(room).expect("a pair of strings serializes");
        let _: i64 = self.client.sadd(rooms_key(&self.hub), entry).await?;
        self.listed.insert(room.clone());
        Ok(())
    }

    /// Takes the users of `hub`, which is gone, out of their rooms, unless another hub does it first.
    ///
    /// The hub stays listed until its users are all out, so a sweep that fails halfway is taken up
    /// again at the next heartbeat, by this hub or another; two hubs sweeping at once announce each
    /// departure once, since [`change.lua`](change.lua) takes each user out of the hub's set once.
    async fn sweep(&mut self, hub: &str, changes: &mut Vec<Change>) -> Result<(), PresenceError> {
        let index = rooms_key(hub);
        let listed: Vec<String> = self.client.smembers(&index).await?;
        let before = changes.len();
        for room in listed.iter().filter_map(|entry| serde_json::from_str::<RoomKey>(entry).ok()) {
            let keys = room_keys(&room, hub);
            let users: Vec<String> = self.client.smembers(&keys[1]).await?;
            let ops = users.iter().filter_map(|user| UserName::parse(user.as_str()).ok());
            let ops: Vec<Op> = ops.map(|user| Op { user, info: None, arrived: false }).collect();
            let (decided, _) = self.run(&room, keys, ops).await?;
            changes.extend(decided);
        }
        let _: i64 = self.client.del(&index).await?;
        let removed: i64 = self.client.zrem(HUBS, hub).await?;
        if removed == 1 || changes.len() > before {
            tracing::warn!(
                hub,
                rooms = listed.len(),
                departed = changes.len() - before,
                "a hub went silent: its users left their rooms"
            );
        }
        Ok(())
    }

    /// Runs each room's operations for this hub.
    /// Adds the changes to `changes` room by room: those decided before a failure are kept.
    async fn apply(
        &mut self,
        rooms: HashMap<RoomKey, Vec<Op>>,
        changes: &mut Vec<Change>,
    ) -> Result<(), PresenceError> {
        self.ensure_up()?;
        let index = rooms_key(&self.hub);
        for (room, ops) in rooms {
            if ops.is_empty() {
                continue;
            }
            // Listed before its users go in, so that if this hub dies they are found.
            if !self.listed.contains(&room) && ops.iter().any(|op| op.arrived) {
                self.list(&room).await?;
            }
            let keys = room_keys(&room, &self.hub);
            let (decided, left) = self.run(&room, keys, ops).await?;
            if left == 0 && self.listed.remove(&room) {
                let entry = serde_json::to_string(&room).expect("a pair of strings serializes");
                let _: i64 = self.client.srem(&index, entry).await?;
            }
            changes.extend(decided);
        }
        Ok(())
    }

    /// Runs [`change.lua`](change.lua) on one room; returns the changes for the cluster and how many users
    /// the hub of `keys` still has there.
    async fn run(
        &self,
        room: &RoomKey,
        keys: [String; 2],
        ops: Vec<Op>,
    ) -> Result<(Vec<Change>, i64), PresenceError> {
        let mut args = Vec::with_capacity(ops.len() * 2);
        for op in &ops {
            args.push(Value::from(if op.arrived { "+" } else { "-" }));
            args.push(Value::from(op.user.as_str()));
        }
        let reply: Value = CHANGE.evalsha_with_reload(&self.client, Vec::from(keys), args).await?;
        let [codes, left] =
            <[Value; 2]>::try_from(reply.into_array()).map_err(|_| PresenceError::Reply("change"))?;
        let codes = codes.into_array();
        if codes.len() != ops.len() {
            return Err(PresenceError::Reply("change"));
        }
        let changes = ops
            .into_iter()
            .zip(codes)
            .filter_map(|(op, code)| {
                let (step, room_edge) = match code.as_i64()? {
                    1 => (Step::Arrived, false),
                    2 => (Step::Arrived, true),
                    -1 => (Step::Departed, false),
                    -2 => (Step::Departed, true),
                    _ => return None,
                };
                let (namespace, room) = room.clone();
                Some(Change { namespace, room, user: op.user, info: op.info, step, room_edge })
            })
            .collect();
        Ok((changes, left.as_i64().ok_or(PresenceError::Reply("change"))?))
    }

    fn ensure_up(&self) -> Result<(), PresenceError> {
        // Refused at once: a command would wait for the connection to come back.
        if self.client.is_connected() { Ok(()) } else { Err(PresenceError::Unreachable) }
    }

    /// After a failure Redis may not hold what this hub has: it reconciles once Redis answers again.
    fn settled(&mut self, outcome: Result<(), PresenceError>) {
        if let Err(e) = outcome {
            static FAILED: LogThrottle = LogThrottle::new(Duration::from_secs(10));
            if let Some(held_back) = FAILED.due(Instant::now()) {
                tracing::warn!(held_back, "presence not announced: {e}; reconciling once Redis answers");
            }
            self.stale = true;
            self.up_since = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_room_has_keys_of_its_own_in_one_slot() {
        let [users, mine] = room_keys(&("/".into(), "a:b".into()), "h1");
        assert_eq!(users, "hub:presence:{/:a%3Ab}:users");
        assert_eq!(mine, "hub:presence:{/:a%3Ab}:hub:h1");
        assert_ne!(room_keys(&("/".into(), "a:b".into()), "h1"), room_keys(&("/a".into(), "b".into()), "h1"));
    }
}
