//! The soak's three kinds of client: receivers that stay connected in every room and check each room's
//! stream for gaps and duplicates, churners that come and go and check what `join` with `since` replays,
//! and the publisher that feeds the rooms at a steady rate. What they find goes into one [`Tally`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, ensure};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::time::Instant;

use super::seen::{Arrival, Seen, ack_object, position_of};
use crate::conn::Conn;

/// How long a request may wait for its ack.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);
/// The hub's default `--history-size`: a churner away for more events than this cannot be replayed
/// everything, and that is not a fault.
const HISTORY_SIZE: u64 = 100;
/// Rooms a churner visits per connection, one after the other.
const ROOMS_PER_VISIT: usize = 2;
/// `chat` messages a churner sends per room visited, each followed by `LINGER` of listening.
const CHATS_PER_VISIT: usize = 2;
const LINGER: Duration = Duration::from_millis(300);
/// Error messages kept for the summary; the counters count them all.
const ERRORS_KEPT: usize = 20;

/// Everything the clients counted, shared by all of them.
#[derive(Debug, Default, Serialize)]
pub struct Tally {
    /// Connections of receivers and churners open now.
    pub clients: AtomicU64,
    /// Receivers connected now (the publisher expects each publish to reach at least these).
    pub receivers_live: AtomicU64,
    /// Room events receivers got live.
    pub received: AtomicU64,
    /// Events a receiver or churner got twice.
    pub duplicates: AtomicU64,
    /// Events a receiver got before an earlier offset of their room (not a loss if the earlier one
    /// came, but the contract promises offset order).
    pub out_of_order: AtomicU64,
    /// The same for churners, whose own `chat` offsets come in its ack, which may follow the room's
    /// next event (the hub acks once the message is delivered): told apart, not a fault.
    pub churn_out_of_order: AtomicU64,
    /// Events with another epoch than the one the client joined with: the room's history was lost.
    pub epoch_changes: AtomicU64,
    /// Receivers whose connection ended before the soak did.
    pub receivers_dropped: AtomicU64,
    /// Churner connections that went through their whole visit.
    pub churn_cycles: AtomicU64,
    /// Events a churner, while in a room, never got before it left (the room's offsets in between).
    pub churn_missing: AtomicU64,
    pub chats: AtomicU64,
    /// Joins with `since`, and how they ended.
    pub replays: AtomicU64,
    pub replays_complete: AtomicU64,
    pub replayed_events: AtomicU64,
    pub replays_incomplete: AtomicU64,
    /// `recovered: false` for a churner away for more than the history keeps: expected, not a fault.
    pub replays_beyond_history: AtomicU64,
    pub published: AtomicU64,
    pub delivered: AtomicU64,
    /// Publishes whose ack counted fewer sockets than the receivers connected.
    pub short_deliveries: AtomicU64,
    pub refused: AtomicU64,
    /// Requests that failed or connections that broke, other than the above.
    pub errors: AtomicU64,
    pub error_messages: Mutex<Vec<String>>,
}

impl Tally {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    fn error(&self, message: String) {
        Self::add(&self.errors, 1);
        let mut kept = self.error_messages.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() < ERRORS_KEPT {
            kept.push(message);
        }
    }

    /// Notes one room event a client got; `rooms` are the streams it is following.
    fn note(&self, rooms: &mut HashMap<String, Seen>, frame: &str, receiver: bool) {
        let Some(position) = position_of(frame) else { return };
        let Some(seen) = rooms.get_mut(&position.room) else { return };
        if position.epoch != seen.epoch {
            Self::add(&self.epoch_changes, 1);
            return;
        }
        if receiver {
            Self::add(&self.received, 1);
        }
        match seen.record(position.offset) {
            Arrival::InOrder => {}
            Arrival::Early if receiver => Self::add(&self.out_of_order, 1),
            Arrival::Early => Self::add(&self.churn_out_of_order, 1),
            Arrival::Duplicate => Self::add(&self.duplicates, 1),
        }
    }

    /// Counts a connection as open until the guard is dropped.
    fn opened(self: &Arc<Self>, counter: fn(&Self) -> &AtomicU64) -> Open {
        Self::add(counter(self), 1);
        Open(self.clone(), counter)
    }
}

/// An open connection in one of the tally's gauges.
struct Open(Arc<Tally>, fn(&Tally) -> &AtomicU64);

impl Drop for Open {
    fn drop(&mut self) {
        self.1(&self.0).fetch_sub(1, Ordering::Relaxed);
    }
}

/// Sends `event` with `arguments` (JSON values separated by commas) under ack id `id`, and hands every
/// other frame to `on_frame` until that ack comes; returns the ack's object.
async fn request(
    conn: &mut Conn,
    id: u64,
    event: &str,
    arguments: &str,
    mut on_frame: impl FnMut(&str),
) -> anyhow::Result<Value> {
    conn.send(format!("42{id}[\"{event}\",{arguments}]")).await?;
    let prefix = format!("43{id}[");
    let wait = async {
        loop {
            let frame = conn.next().await?;
            match frame.strip_prefix(&prefix) {
                Some(rest) => return ack_object(&format!("[{rest}")).context("unreadable ack"),
                None => on_frame(&frame),
            }
        }
    };
    tokio::time::timeout(ACK_TIMEOUT, wait).await.with_context(|| format!("no {event} ack within 10 s"))?
}

fn ok(ack: &Value) -> bool {
    ack["ok"] == json!(true)
}

/// The offset and epoch of a `join` ack.
fn position(ack: &Value) -> anyhow::Result<(u64, String)> {
    let offset = ack["offset"].as_u64().context("join ack without offset: the hub must keep history")?;
    Ok((offset, ack["epoch"].as_str().context("join ack without epoch")?.to_owned()))
}

/// A client that stays connected, in every room, for the whole soak.
pub struct Receiver {
    conn: Conn,
    rooms: HashMap<String, Seen>,
    _open: [Open; 2],
}

/// What a receiver got: per room, from its join until the end.
pub struct Heard {
    pub rooms: HashMap<String, Seen>,
    pub dropped: bool,
}

impl Receiver {
    pub async fn connect(
        server: SocketAddr,
        rooms: &[String],
        n: usize,
        tally: &Arc<Tally>,
    ) -> anyhow::Result<Self> {
        let mut conn = Conn::open(server, Some(&format!(r#"{{"meta":true,"user":"receiver-{n}"}}"#))).await?;
        let open = [tally.opened(|t| &t.clients), tally.opened(|t| &t.receivers_live)];
        let mut following = HashMap::new();
        for (id, room) in rooms.iter().enumerate() {
            let ack = request(&mut conn, id as u64, "join", &json!(room).to_string(), |frame| {
                tally.note(&mut following, frame, true)
            })
            .await?;
            ensure!(ok(&ack), "join refused: {ack}");
            let (offset, epoch) = position(&ack)?;
            following.insert(room.clone(), Seen::after(offset, &epoch));
        }
        Ok(Self { conn, rooms: following, _open: open })
    }

    /// Reads until told to stop, noting every room event.
    pub async fn listen(mut self, mut stop: watch::Receiver<bool>, tally: Arc<Tally>) -> Heard {
        let mut dropped = false;
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                frame = self.conn.next() => match frame {
                    Ok(frame) => tally.note(&mut self.rooms, &frame, true),
                    Err(e) => {
                        dropped = true;
                        Tally::add(&tally.receivers_dropped, 1);
                        tally.error(format!("a receiver's connection ended: {e:#}"));
                        break;
                    }
                },
            }
        }
        Heard { rooms: self.rooms, dropped }
    }
}

/// Churner `n`: connects, visits rooms (join, chat, listen, leave), disconnects, stays away a moment,
/// and again, until told to stop. It rejoins a room it visited before with `since`, and checks that
/// the replay is exactly the events it missed.
pub async fn churn(
    n: usize,
    server: SocketAddr,
    rooms: Arc<Vec<String>>,
    tally: Arc<Tally>,
    mut stop: watch::Receiver<bool>,
) {
    let mut positions: HashMap<String, (u64, String)> = HashMap::new();
    let mut cycle = 0;
    while !*stop.borrow() {
        match visit(n, cycle, server, &rooms, &tally, &mut positions).await {
            Ok(()) => Tally::add(&tally.churn_cycles, 1),
            Err(e) => tally.error(format!("churner {n}: {e:#}")),
        }
        cycle += 1;
        // Away for 0.5 to 2 s, so that the rooms move on and the next join has something to replay.
        let away = Duration::from_millis(500 + ((n * 7919 + cycle * 104_729) % 1500) as u64);
        tokio::select! {
            _ = stop.changed() => {}
            _ = tokio::time::sleep(away) => {}
        }
    }
}

async fn visit(
    n: usize,
    cycle: usize,
    server: SocketAddr,
    rooms: &[String],
    tally: &Arc<Tally>,
    positions: &mut HashMap<String, (u64, String)>,
) -> anyhow::Result<()> {
    let mut conn = Conn::open(server, Some(&format!(r#"{{"meta":true,"user":"churner-{n}"}}"#))).await?;
    let _open = tally.opened(|t| &t.clients);
    let mut id = 0;
    for k in 0..ROOMS_PER_VISIT {
        let room = &rooms[(n + cycle + k) % rooms.len()];
        id += 1;
        let mut following =
            HashMap::from([(room.clone(), join(&mut conn, id, room, positions.get(room), tally).await?)]);
        for m in 0..CHATS_PER_VISIT {
            id += 1;
            let chat = json!({"room": room, "text": format!("soak {n}.{cycle}.{k}.{m}")}).to_string();
            let ack = request(&mut conn, id, "chat", &chat, |f| tally.note(&mut following, f, false)).await?;
            ensure!(ok(&ack), "chat refused: {ack}");
            Tally::add(&tally.chats, 1);
            // Its own message never comes back live: the ack says where it went.
            let offset = ack["offset"].as_u64().context("chat ack without offset")?;
            following.get_mut(room).map(|seen| seen.record(offset));
            let until = Instant::now() + LINGER;
            while let Ok(frame) = tokio::time::timeout_at(until, conn.next()).await {
                tally.note(&mut following, &frame?, false);
            }
        }
        id += 1;
        let ack = request(&mut conn, id, "leave", &json!(room).to_string(), |f| {
            tally.note(&mut following, f, false)
        })
        .await?;
        ensure!(ok(&ack), "leave refused: {ack}");
        // Every event of the room emitted to it came before the leave ack.
        let seen = &following[room];
        Tally::add(&tally.churn_missing, seen.missing_up_to(seen.last()));
        positions.insert(room.clone(), (seen.contiguous(), seen.epoch.clone()));
    }
    // Half the time a Socket.IO DISCONNECT first; otherwise the connection just closes.
    if cycle.is_multiple_of(2) {
        conn.send("41".to_owned()).await?;
    }
    Ok(())
}

/// Joins `room`, with `since` when the churner was there before, and checks the replay: every offset
/// after `since`, in order, up to the ack's, and `missed` counting them.
async fn join(
    conn: &mut Conn,
    id: u64,
    room: &str,
    since: Option<&(u64, String)>,
    tally: &Tally,
) -> anyhow::Result<Seen> {
    let arguments = match since {
        Some((offset, epoch)) => {
            format!("{},{}", json!(room), json!({"since": {"offset": offset, "epoch": epoch}}))
        }
        None => json!(room).to_string(),
    };
    let mut replayed = Vec::new();
    let ack = request(conn, id, "join", &arguments, |frame| {
        if let Some(position) = position_of(frame).filter(|p| p.room == room) {
            replayed.push(position.offset);
        }
    })
    .await?;
    ensure!(ok(&ack), "join refused: {ack}");
    let (offset, epoch) = position(&ack)?;
    let Some((from, was)) = since else { return Ok(Seen::after(offset, &epoch)) };
    Tally::add(&tally.replays, 1);
    let missed = ack["missed"].as_u64().unwrap_or(0);
    if *was != epoch {
        Tally::add(&tally.epoch_changes, 1);
        tally.error(format!("{room}: the epoch changed from {was} to {epoch}"));
    } else if ack["recovered"] == json!(true) {
        let expected: Vec<u64> = (from + 1..=offset).collect();
        if replayed == expected && missed == replayed.len() as u64 {
            Tally::add(&tally.replays_complete, 1);
            Tally::add(&tally.replayed_events, missed);
        } else {
            Tally::add(&tally.replays_incomplete, 1);
            tally.error(format!(
                "{room}: replay since {from} brought offsets {replayed:?} (missed: {missed}), expected {}..={offset}",
                from + 1
            ));
        }
    } else if offset.saturating_sub(*from) > HISTORY_SIZE {
        Tally::add(&tally.replays_beyond_history, 1);
    } else {
        Tally::add(&tally.replays_incomplete, 1);
        tally.error(format!("{room}: since {from} not recovered although the room is at {offset}: {ack}"));
    }
    Ok(Seen::after(offset, &epoch))
}

/// The publisher: `rate` publishes a second, each into one room in turn, each acked before the next.
/// Reconnects if its connection breaks.
pub async fn publish(
    server: SocketAddr,
    token: String,
    rooms: Arc<Vec<String>>,
    rate: u32,
    pad: String,
    tally: Arc<Tally>,
    mut stop: watch::Receiver<bool>,
) {
    let auth = json!({"token": token}).to_string();
    let mut conn: Option<Conn> = None;
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate.max(1))));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seq: u64 = 0;
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = ticks.tick() => {}
        }
        let connection = match conn.as_mut() {
            Some(connection) => connection,
            None => match Conn::open(server, Some(&auth)).await {
                Ok(connection) => conn.insert(connection),
                Err(e) => {
                    tally.error(format!("publisher: {e:#}"));
                    continue;
                }
            },
        };
        seq += 1;
        let room = &rooms[seq as usize % rooms.len()];
        let event = json!({"event": "tick", "data": {"seq": seq, "pad": pad}, "rooms": [room]}).to_string();
        let expected = Tally::get(&tally.receivers_live);
        match request(connection, seq % 1_000_000, "publish", &event, |_| {}).await {
            Ok(ack) if ok(&ack) => {
                Tally::add(&tally.published, 1);
                let delivered = ack["delivered"].as_u64().unwrap_or(0);
                Tally::add(&tally.delivered, delivered);
                if delivered < expected {
                    Tally::add(&tally.short_deliveries, 1);
                }
            }
            Ok(ack) => {
                Tally::add(&tally.refused, 1);
                tally.error(format!("publish refused: {ack}"));
            }
            Err(e) => {
                tally.error(format!("publisher: {e:#}"));
                conn = None;
            }
        }
    }
}

/// Where each room's stream stands now, from the acks of a fresh client joining them all.
pub async fn positions(
    server: SocketAddr,
    rooms: &[String],
) -> anyhow::Result<HashMap<String, (u64, String)>> {
    let mut conn = Conn::open(server, None).await?;
    let mut out = HashMap::new();
    for (id, room) in rooms.iter().enumerate() {
        let ack = request(&mut conn, id as u64, "join", &json!(room).to_string(), |_| {}).await?;
        ensure!(ok(&ack), "join refused: {ack}");
        out.insert(room.clone(), position(&ack)?);
    }
    Ok(out)
}
