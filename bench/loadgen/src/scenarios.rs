//! The scenarios: `idle`, `fanout`, `saturate`, `echo`, `history`. Each returns a [`Report`]. Against
//! a cluster, the clients are spread over its servers and the publisher connects to the first, so
//! that most deliveries cross the cluster.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::{SinkExt, StreamExt, stream};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

use crate::conn::{Conn, sent_at};
use crate::probe::{self, LagMonitor};
use crate::report::{Latencies, Report};

const ROOM: &str = "bench";
/// Connections opened at once while connecting many.
const CONNECT_CONCURRENCY: usize = 256;

/// What every scenario needs to know.
#[derive(Debug, Clone)]
pub struct Setup {
    /// One server, or a cluster's: connections are spread over them in turn, publishers use the first.
    /// Never empty.
    pub servers: Vec<SocketAddr>,
    pub server_name: String,
    /// The servers' processes, whose memory and CPU are summed.
    pub server_pids: Vec<u32>,
    pub token: String,
    pub clients: usize,
    pub duration: Duration,
    pub payload: usize,
}

impl Setup {
    fn auth(&self) -> String {
        format!("{{\"token\":\"{}\"}}", self.token)
    }

    /// Where the publisher connects: the first server, so that in a cluster the others receive every
    /// event through the cluster.
    pub(crate) fn publisher_server(&self) -> SocketAddr {
        self.servers[0]
    }

    /// Where the `i`th subscriber (or echo client) connects: the servers in turn.
    pub(crate) fn server_for(&self, i: usize) -> SocketAddr {
        self.servers[i % self.servers.len()]
    }

    /// The one server of a single-server scenario (`soak`): the first.
    pub(crate) fn server(&self) -> SocketAddr {
        self.servers[0]
    }

    /// The one server's process, if given.
    pub(crate) fn server_pid(&self) -> Option<u32> {
        self.server_pids.first().copied()
    }

    /// The servers' resident memory, in KiB.
    pub(crate) fn server_rss_kib(&self) -> Option<u64> {
        probe::summed(&self.server_pids, probe::rss_kib)
    }

    /// CPU time the servers have used so far.
    pub(crate) fn server_cpu(&self) -> Option<Duration> {
        probe::summed(&self.server_pids, probe::cpu_of)
    }
}

/// Opens `n` connections (joined to the bench room when `join`); returns them and the time it took.
async fn connect_many(setup: &Setup, n: usize, join: bool) -> anyhow::Result<(Vec<Conn>, Duration)> {
    let started = Instant::now();
    let conns: Vec<anyhow::Result<Conn>> = stream::iter(0..n)
        .map(|i| async move {
            let mut conn = Conn::open(setup.server_for(i), None).await?;
            if join {
                conn.join(ROOM).await?;
            }
            Ok(conn)
        })
        .buffer_unordered(CONNECT_CONCURRENCY)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let conns = conns.into_iter().collect::<anyhow::Result<Vec<_>>>().context("connecting the clients")?;
    Ok((conns, elapsed))
}

/// `idle`: N connections joined to one room and held; memory per connection and connect rate. With a
/// `hold`, the connections answer the server's pings for that long, and the report counts how many
/// were still open at the end.
pub async fn idle(setup: &Setup, hold: Duration) -> anyhow::Result<Report> {
    let before = setup.server_rss_kib();
    let (conns, took) = connect_many(setup, setup.clients, true).await?;
    let mut report = Report::new(setup, "idle");
    let conns = if hold.is_zero() {
        // Let the server settle (presence updates, allocator) before reading its memory.
        tokio::time::sleep(Duration::from_secs(2)).await;
        conns
    } else {
        let open = hold_open(conns, hold).await;
        report.held = Some(open.len());
        open
    };
    let after = setup.server_rss_kib();
    report.connected(setup.clients, took, before, after);
    drop(conns);
    Ok(report)
}

/// Reads every connection (answering pings) until `hold` has passed; returns those still open.
async fn hold_open(conns: Vec<Conn>, hold: Duration) -> Vec<Conn> {
    let deadline = tokio::time::Instant::now() + hold;
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut conn| {
            tokio::spawn(async move {
                loop {
                    match tokio::time::timeout_at(deadline, conn.next()).await {
                        Err(_) => return Some(conn),
                        Ok(Ok(_)) => {}
                        Ok(Err(_)) => return None,
                    }
                }
            })
        })
        .collect();
    let mut open = Vec::new();
    for task in tasks {
        if let Ok(Some(conn)) = task.await {
            open.push(conn);
        }
    }
    open
}

/// Subscribers that record the latency of every `tick` they receive until told to stop.
struct Subscribers {
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<Vec<u32>>>,
}

impl Subscribers {
    fn start(conns: Vec<Conn>, epoch: Instant) -> Self {
        let (stop, stopped) = watch::channel(false);
        let tasks = conns
            .into_iter()
            .map(|mut conn| {
                let mut stopped = stopped.clone();
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    loop {
                        tokio::select! {
                            _ = stopped.changed() => break,
                            frame = conn.next() => match frame {
                                Ok(frame) if frame.starts_with("42[\"tick\"") => {
                                    if let Some(sent) = sent_at(&frame) {
                                        let now = epoch.elapsed().as_micros() as u64;
                                        latencies.push(now.saturating_sub(sent).min(u32::MAX as u64) as u32);
                                    }
                                }
                                Ok(_) => {}
                                Err(_) => break,
                            },
                        }
                    }
                    latencies
                })
            })
            .collect();
        Self { stop, tasks }
    }

    async fn finish(self) -> Latencies {
        let _ = self.stop.send(true);
        let mut all = Vec::new();
        for task in self.tasks {
            all.extend(task.await.unwrap_or_default());
        }
        Latencies::new(all)
    }
}

/// The `publish` request: a `tick` into the bench room, carrying its send time.
fn publish_request(epoch: Instant, pad: &str) -> String {
    let t = epoch.elapsed().as_micros();
    format!(r#"{{"event":"tick","data":{{"t":{t},"pad":"{pad}"}},"rooms":["{ROOM}"]}}"#)
}

/// `fanout`: one publisher sends `rate` publishes per second, each acked before the next.
pub async fn fanout(setup: &Setup, rate: u32) -> anyhow::Result<Report> {
    let (conns, _) = connect_many(setup, setup.clients, true).await?;
    let mut publisher = Conn::open(setup.publisher_server(), Some(&setup.auth())).await?;
    let epoch = Instant::now();
    let subscribers = Subscribers::start(conns, epoch);
    let pad = "x".repeat(setup.payload);
    let measure = Measure::start(setup);
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    let mut published = 0u64;
    let mut refused = 0u64;
    let started = Instant::now();
    while started.elapsed() < setup.duration {
        ticks.tick().await;
        published += 1;
        let ack = publisher.request(published, "publish", &publish_request(epoch, &pad)).await?;
        refused += u64::from(!ack.contains("\"ok\":true"));
    }
    let wall = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let latencies = subscribers.finish().await;
    let mut report = measure.finish(setup, "fanout", wall, latencies.count());
    report.traffic(published * setup.clients as u64, &latencies, wall, refused);
    report.rate = Some(f64::from(rate));
    Ok(report)
}

/// `saturate`: one publisher keeps `window` publishes in flight, as fast as the server acks them.
pub async fn saturate(setup: &Setup, window: usize) -> anyhow::Result<Report> {
    let (conns, _) = connect_many(setup, setup.clients, true).await?;
    let publisher = Conn::open(setup.publisher_server(), Some(&setup.auth())).await?;
    let epoch = Instant::now();
    let subscribers = Subscribers::start(conns, epoch);
    let (mut sink, mut source) = publisher.into_split();
    let (out, mut outbox) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        while let Some(frame) = outbox.recv().await {
            if sink.send(Message::text(frame)).await.is_err() {
                break;
            }
        }
    });
    let permits = Arc::new(Semaphore::new(window));
    let acked = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let reader = {
        let (permits, acked, refused, out) = (permits.clone(), acked.clone(), refused.clone(), out.clone());
        tokio::spawn(async move {
            while let Some(Ok(Message::Text(frame))) = source.next().await {
                if frame.as_str() == "2" {
                    let _ = out.send("3".to_owned());
                } else if frame.starts_with("43") {
                    acked.fetch_add(1, Ordering::Relaxed);
                    refused.fetch_add(u64::from(!frame.contains("\"ok\":true")), Ordering::Relaxed);
                    permits.add_permits(1);
                }
            }
        })
    };
    let pad = "x".repeat(setup.payload);
    let measure = Measure::start(setup);
    let started = Instant::now();
    let mut published = 0u64;
    while started.elapsed() < setup.duration {
        permits.acquire().await?.forget();
        published += 1;
        // Ack ids only need to be unique among those in flight.
        let id = published % 1_000_000;
        out.send(format!("42{id}[\"publish\",{}]", publish_request(epoch, &pad)))?;
    }
    let wall = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(5);
    while acked.load(Ordering::Relaxed) < published && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let latencies = subscribers.finish().await;
    reader.abort();
    writer.abort();
    let mut report = measure.finish(setup, "saturate", wall, latencies.count());
    let expected = (published - refused.load(Ordering::Relaxed)) * setup.clients as u64;
    report.traffic(expected, &latencies, wall, refused.load(Ordering::Relaxed));
    report.window = Some(window);
    Ok(report)
}

/// `echo`: every client sends `echo` and waits for the ack, back to back.
pub async fn echo(setup: &Setup) -> anyhow::Result<Report> {
    let (conns, _) = connect_many(setup, setup.clients, false).await?;
    let measure = Measure::start(setup);
    let started = Instant::now();
    let duration = setup.duration;
    let payload = format!("\"{}\"", "e".repeat(setup.payload));
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut conn| {
            let payload = payload.clone();
            tokio::spawn(async move {
                let mut rtts = Vec::new();
                let mut id = 0;
                while started.elapsed() < duration {
                    id += 1;
                    let sent = Instant::now();
                    if conn.request(id, "echo", &payload).await.is_err() {
                        break;
                    }
                    rtts.push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
                }
                rtts
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap_or_default());
    }
    let wall = started.elapsed();
    let latencies = Latencies::new(all);
    let mut report = measure.finish(setup, "echo", wall, latencies.count());
    report.requests_per_s = Some(latencies.count() as f64 / wall.as_secs_f64());
    report.latencies(&latencies);
    Ok(report)
}

/// Requests in flight while recording history.
const HISTORY_WINDOW: usize = 64;

/// `history`: one publisher records `events` events into each of `rooms` rooms, round after round, and
/// nobody else is connected; the server's memory growth per recorded event. Published events are
/// `{"id":N,"text":PAD}` into one room each; chat messages are PAD (the server must allow the rate:
/// `--rate-limit`). Run it against the server with history and without: the difference is history's.
pub async fn history(setup: &Setup, rooms: usize, events: usize, chat: bool) -> anyhow::Result<Report> {
    let auth = format!("{{\"token\":\"{}\",\"user\":\"bench\"}}", setup.token);
    let publisher = Conn::open(setup.publisher_server(), Some(&auth)).await?;
    let pad = "x".repeat(setup.payload);
    let room = |i: usize| format!("room-{i}");
    let mut publisher = Pipeline::start(publisher);
    if chat {
        publisher.run((0..rooms).map(|i| format!("[\"join\",\"{}\"]", room(i)))).await?;
    }
    // Let the server settle (joins, allocator) before reading its memory.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = setup.server_rss_kib();
    let measure = Measure::start(setup);
    let started = Instant::now();
    let requests = (0..events).flat_map(|round| (0..rooms).map(move |i| (round, i))).map(|(round, i)| {
        if chat {
            format!(r#"["chat",{{"room":"{}","text":"{pad}"}}]"#, room(i))
        } else {
            let id = round * rooms + i;
            format!(
                r#"["publish",{{"event":"order","data":{{"id":{id},"text":"{pad}"}},"rooms":["{}"]}}]"#,
                room(i)
            )
        }
    });
    let refused = publisher.run(requests).await?;
    let wall = started.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = setup.server_rss_kib();
    let recorded = (rooms * events) as u64;
    let mut report = measure.finish(setup, if chat { "history-chat" } else { "history-publish" }, wall, 0);
    report.clients = rooms;
    report.seconds = wall.as_secs_f64();
    report.events = Some(recorded);
    report.refused = Some(refused);
    if let (Some(before), Some(after)) = (before, after) {
        report.rss_bytes_per_event = Some(after.saturating_sub(before) as f64 * 1024.0 / recorded as f64);
        report.server_rss_mib = Some(after as f64 / 1024.0);
    }
    Ok(report)
}

/// One connection that keeps a window of acked requests in flight.
struct Pipeline {
    out: mpsc::UnboundedSender<String>,
    acks: mpsc::UnboundedReceiver<bool>,
    tasks: [tokio::task::JoinHandle<()>; 2],
}

impl Pipeline {
    fn start(conn: Conn) -> Self {
        let (mut sink, mut source) = conn.into_split();
        let (out, mut outbox) = mpsc::unbounded_channel::<String>();
        let (acked, acks) = mpsc::unbounded_channel();
        let writer = tokio::spawn(async move {
            while let Some(frame) = outbox.recv().await {
                if sink.send(Message::text(frame)).await.is_err() {
                    break;
                }
            }
        });
        let pong = out.clone();
        let reader = tokio::spawn(async move {
            while let Some(Ok(Message::Text(frame))) = source.next().await {
                if frame.as_str() == "2" {
                    let _ = pong.send("3".to_owned());
                } else if frame.starts_with("43") && acked.send(frame.contains("\"ok\":true")).is_err() {
                    break;
                }
            }
        });
        Self { out, acks, tasks: [writer, reader] }
    }

    /// Sends every request (an event as a JSON array), `HISTORY_WINDOW` at a time, and waits for all
    /// their acks; returns how many were refused.
    async fn run(&mut self, requests: impl Iterator<Item = String>) -> anyhow::Result<u64> {
        let (mut in_flight, mut refused) = (0usize, 0u64);
        for (id, request) in requests.enumerate() {
            if in_flight == HISTORY_WINDOW {
                refused += u64::from(!self.ack().await?);
                in_flight -= 1;
            }
            // Ack ids only need to be unique among those in flight.
            self.out.send(format!("42{}{request}", id % 1_000_000))?;
            in_flight += 1;
        }
        for _ in 0..in_flight {
            refused += u64::from(!self.ack().await?);
        }
        Ok(refused)
    }

    async fn ack(&mut self) -> anyhow::Result<bool> {
        let ack = tokio::time::timeout(Duration::from_secs(10), self.acks.recv());
        ack.await.context("no ack within 10 s")?.context("connection closed")
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        self.tasks.iter().for_each(|task| task.abort());
    }
}

/// CPU of the server and of the load generator, and event-loop lag, over one run.
struct Measure {
    server_cpu: Option<Duration>,
    own_cpu: Duration,
    lag: LagMonitor,
}

impl Measure {
    fn start(setup: &Setup) -> Self {
        Self { server_cpu: setup.server_cpu(), own_cpu: probe::own_cpu(), lag: LagMonitor::start() }
    }

    fn finish(self, setup: &Setup, scenario: &str, wall: Duration, messages: u64) -> Report {
        let mut report = Report::new(setup, scenario);
        let seconds = wall.as_secs_f64();
        if let (Some(before), Some(after)) = (self.server_cpu, setup.server_cpu()) {
            report.server_cpu_pct = Some((after - before).as_secs_f64() / seconds * 100.0);
        }
        let own = probe::own_cpu() - self.own_cpu;
        report.loadgen_cpu_pct = Some(own.as_secs_f64() / seconds * 100.0);
        if messages > 0 {
            report.loadgen_us_per_message = Some(own.as_secs_f64() * 1e6 / messages as f64);
        }
        report.loop_lag_max_ms = Some(self.lag.stop());
        report
    }
}
