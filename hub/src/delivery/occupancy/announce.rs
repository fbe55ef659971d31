//! The task that turns this hub's [`Change`]s into `presence` events for the rooms' members.
//!
//! In a cluster it has Redis decide first ([`RedisPresence`]) and keeps this hub's heartbeat. The
//! changes of one room are then sent like `members`: the first schedules one event
//! [`MEMBERS_INTERVAL_MS`] later, and those until then ride along with it, so 10,000 users joining a
//! room within the interval cost one broadcast, not 10,000. Within one event, a user who came and went
//! again (or went and came back) is left out: the members' view before and after is the same.
//!
//! The application's webhooks hear every decided change as it is, without coalescing: `room_occupied`
//! before a room's first `member_added`, `room_vacated` after its last `member_removed`.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use hub_protocol::events::{MEMBERS_INTERVAL_MS, PRESENCE};
use hub_protocol::webhooks::{WebhookEvent, WebhookEventName};
use hub_protocol::{PresenceChange, PresenceState};
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::redis::{HEARTBEAT, RedisPresence};
use super::{Change, Occupancy, RoomKey, Step};
use crate::delivery::emit;
use crate::delivery::mode::Mode;
use crate::webhooks::Webhooks;

/// Most changes taken from the queue at once (one Redis script per room for all of them).
const BATCH: usize = 1024;

/// Where the task's changes go besides the rooms' members.
pub struct Announcer<A: Adapter> {
    pub io: SocketIo<A>,
    pub occupancy: Arc<Occupancy>,
    /// Redis decides, or (`None`) this hub alone does.
    pub cluster: Option<RedisPresence>,
    pub webhooks: Webhooks,
    /// Rooms with more members than this get no `presence` events (`--presence-max-members`).
    pub max_members: usize,
    /// Who counts a room's members.
    pub mode: Mode,
}

/// Starts the task; it ends when the hub stops.
pub fn start<A: Adapter>(announcer: Announcer<A>) {
    let Some(changes) = announcer.occupancy.take_changes() else { return };
    tokio::spawn(run(announcer, changes));
}

async fn run<A: Adapter>(announcer: Announcer<A>, mut changes: mpsc::Receiver<Change>) {
    let Announcer { io, occupancy, mut cluster, webhooks, max_members, mode } = announcer;
    let mut pending = Pending::default();
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let due = pending.next_due();
        tokio::select! {
            received = changes.recv_many(&mut batch, BATCH) => {
                if received == 0 {
                    return; // the hub stopped
                }
                let changes = std::mem::take(&mut batch);
                let decided = match &mut cluster {
                    Some(cluster) => cluster.decide(changes).await,
                    None => changes,
                };
                notify(&webhooks, &decided);
                pending.add(decided, Instant::now());
            }
            () = sleep_until(due), if due.is_some() => {
                for (room, changes) in pending.take_due(Instant::now()) {
                    let changes = match &cluster {
                        Some(cluster) => cluster.confirm(&room, changes).await,
                        None => changes,
                    };
                    if !changes.is_empty() {
                        send(&io, room, changes, max_members, &mode).await;
                    }
                }
            }
            _ = heartbeat.tick(), if cluster.is_some() => {
                let cluster = cluster.as_mut().expect("ticks only in a cluster");
                if occupancy.take_overflow() {
                    cluster.reconcile_next();
                }
                let decided = cluster.maintain(|| occupancy.snapshot()).await;
                notify(&webhooks, &decided);
                pending.add(decided, Instant::now());
            }
        }
    }
}

/// Tells the application's webhooks of decided changes: once per cluster, since only the hub whose
/// change made the difference has it.
fn notify(webhooks: &Webhooks, changes: &[Change]) {
    use WebhookEventName::{MemberAdded, MemberRemoved, RoomOccupied, RoomVacated};
    if ![RoomOccupied, RoomVacated, MemberAdded, MemberRemoved].into_iter().any(|name| webhooks.wants(name)) {
        return;
    }
    for change in changes {
        let (namespace, room) = (change.namespace.clone(), change.room.clone());
        let user = change.user.as_str().to_owned();
        let info = change.info.as_deref().cloned();
        match change.step {
            Step::Arrived => {
                if change.room_edge {
                    webhooks.send(WebhookEvent::RoomOccupied {
                        namespace: namespace.clone(),
                        room: room.clone(),
                    });
                }
                webhooks.send(WebhookEvent::MemberAdded { namespace, room, user, info });
            }
            Step::Departed => {
                let vacated = change
                    .room_edge
                    .then(|| WebhookEvent::RoomVacated { namespace: namespace.clone(), room: room.clone() });
                webhooks.send(WebhookEvent::MemberRemoved { namespace, room, user, info });
                if let Some(vacated) = vacated {
                    webhooks.send(vacated);
                }
            }
        }
    }
}

async fn sleep_until(due: Option<Instant>) {
    if let Some(due) = due {
        tokio::time::sleep_until(due).await;
    }
}

/// The changes of each room waiting for their event, and when each room's event is due.
#[derive(Debug, Default)]
struct Pending {
    changes: HashMap<RoomKey, Vec<Change>>,
    /// In the order they are due: every room waits the same interval.
    due: VecDeque<(Instant, RoomKey)>,
}

impl Pending {
    fn add(&mut self, changes: Vec<Change>, now: Instant) {
        for change in changes {
            let key = (change.namespace.clone(), change.room.clone());
            let waiting = self.changes.entry(key.clone()).or_default();
            if waiting.is_empty() {
                self.due.push_back((now + Duration::from_millis(MEMBERS_INTERVAL_MS), key));
            }
            waiting.push(change);
        }
    }

    fn next_due(&self) -> Option<Instant> {
        self.due.front().map(|(at, _)| *at)
    }

    fn take_due(&mut self, now: Instant) -> Vec<(RoomKey, Vec<PresenceChange>)> {
        let mut due = Vec::new();
        while let Some((at, _)) = self.due.front()
            && *at <= now
        {
            let (_, key) = self.due.pop_front().expect("just looked");
            let changes = self.changes.remove(&key).unwrap_or_default();
            let net = net(changes);
            if !net.is_empty() {
                due.push((key, net));
            }
        }
        due
    }
}

/// The changes as one event: for each user, its last change if it changed the user's presence, in the
/// order of the users' first changes. A user's changes alternate (came, went, came...), so an even number
/// of them leaves the user as it was.
fn net(changes: Vec<Change>) -> Vec<PresenceChange> {
    let mut order: Vec<String> = Vec::new();
    let mut last: HashMap<String, (usize, Change)> = HashMap::new();
    for change in changes {
        let user = change.user.as_str().to_owned();
        match last.get_mut(&user) {
            Some((count, previous)) => {
                *count += 1;
                *previous = change;
            }
            None => {
                order.push(user.clone());
                last.insert(user, (1, change));
            }
        }
    }
    order
        .into_iter()
        .filter_map(|user| last.remove(&user))
        .filter(|(count, _)| count % 2 == 1)
        .map(|(_, change)| PresenceChange {
            room: change.room,
            user: change.user.into_string(),
            info: change.info.map(|info| (*info).clone()),
            state: match change.step {
                Step::Arrived => PresenceState::Joined,
                Step::Departed => PresenceState::Left,
            },
        })
        .collect()
}

/// Sends one room's changes to its members (on every hub, through the adapter), unless the room has
/// more than `max_members`: each change would cost a delivery to every member, and a burst of N arrivals
/// N x N deliveries (10,000 sockets joining one room took 113 KiB each in presence waiting to be sent).
/// A namespace this hub no longer serves has no members here to tell; in a cluster, the hubs that serve
/// it hear of it through their own users' changes only.
async fn send<A: Adapter>(
    io: &SocketIo<A>,
    (namespace, room): RoomKey,
    changes: Vec<PresenceChange>,
    max_members: usize,
    mode: &Mode,
) {
    let Some(operators) = io.of(namespace.as_str()) else {
        tracing::debug!(ns = namespace, room, "presence not sent: this hub no longer serves the namespace");
        return;
    };
    if max_members == 0 {
        return;
    }
    // Counted where the room is: on every hub in a cluster.
    let members = mode.room_size(&namespace, &room).await.value;
    if members > max_members {
        tracing::debug!(ns = namespace, room, members, "presence not sent: a big room");
        return;
    }
    let select = || operators.clone().within(room.clone());
    if let Err(e) = emit(select, PRESENCE, &(changes,)).await {
        tracing::warn!(ns = namespace, room, "presence not sent: {e}");
    }
}

#[cfg(test)]
mod tests {
    use hub_protocol::UserName;

    use super::*;

    fn change(user: &str, step: Step) -> Change {
        Change {
            namespace: "/".into(),
            room: "r".into(),
            user: UserName::parse(user).unwrap(),
            info: None,
            step,
            room_edge: false,
        }
    }

    #[test]
    fn a_user_who_came_and_went_within_one_event_is_left_out() {
        use Step::{Arrived, Departed};
        let changes = vec![
            change("alice", Arrived),
            change("bob", Departed),
            change("alice", Departed),
            change("carol", Arrived),
            change("bob", Arrived),
            change("dave", Arrived),
            change("dave", Departed),
            change("dave", Arrived),
        ];
        let net: Vec<_> = net(changes).into_iter().map(|c| (c.user, c.state)).collect();
        assert_eq!(net, [("carol".into(), PresenceState::Joined), ("dave".into(), PresenceState::Joined)]);
    }

    #[test]
    fn each_room_gets_one_event_per_interval() {
        let mut pending = Pending::default();
        let start = Instant::now();
        let mut other = change("bob", Step::Arrived);
        other.room = "s".into();
        pending.add(vec![change("alice", Step::Arrived), other], start);
        pending.add(vec![change("carol", Step::Arrived)], start + Duration::from_millis(10));
        assert!(pending.take_due(start).is_empty(), "not yet");
        let due = pending.take_due(start + Duration::from_millis(MEMBERS_INTERVAL_MS));
        let rooms: Vec<_> = due.iter().map(|((_, room), changes)| (room.as_str(), changes.len())).collect();
        assert_eq!(rooms.len(), 2);
        assert!(rooms.contains(&("r", 2)) && rooms.contains(&("s", 1)), "{rooms:?}");
        assert_eq!(pending.next_due(), None);
    }
}
