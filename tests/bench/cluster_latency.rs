//! Cross-node publish latency: from a `publish` on one hub to its receipt on another hub, through a real
//! `redis-server`, next to the same measurement on a single hub without Redis, and in a cluster that
//! keeps no history.
//!
//! Usage: `cluster-latency [SUBSCRIBERS] [MESSAGES] [RATE_PER_S]` (default 100 1000 200). Run it from a
//! release build (`bench/cluster_latency.sh` does). Prints a Markdown table.
//!
//! Subscribers are bare Engine.IO websocket clients (`e2e::raw`) that timestamp each frame as it is read;
//! the publisher is the `publisher` library, sending one acked publish at a time at a fixed rate, each
//! carrying its send time. Both run in this process, so the two clocks are the same clock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e::binaries::HubProcess;
use e2e::hub::TOKEN;
use e2e::raw;
use e2e::redis::RedisServer;
use publisher::{Publisher, PublisherOptions};
use serde_json::json;

const ROOM: &str = "bench";
const EVENT: &str = "tick";

#[tokio::main]
async fn main() {
    let arg =
        |n: usize, default: u64| std::env::args().nth(n).map_or(default, |a| a.parse().expect("a number"));
    let (subscribers, messages, rate) = (arg(1, 100) as usize, arg(2, 1000) as usize, arg(3, 200));

    // The publisher sends faster than the default 20 publishes per second.
    let common = ["--bind", "127.0.0.1:0", "--publish-token", TOKEN, "--publish-rate-limit", "100000"];
    let alone = HubProcess::start(&common, &[]).await;
    let single = measure(&alone, &alone, subscribers, messages, rate).await;
    drop(alone);

    let redis = RedisServer::start().await;
    let url = redis.url();
    let args = [&common[..], &["--redis-url", &url]].concat();
    let (a, b) = (HubProcess::start(&args, &[]).await, HubProcess::start(&args, &[]).await);
    let cross = measure(&a, &b, subscribers, messages, rate).await;
    drop((a, b));
    // Without history, events go through the adapter's broadcast instead of the recording script.
    let args = [&args[..], &["--history-size", "0"]].concat();
    let (a, b) = (HubProcess::start(&args, &[]).await, HubProcess::start(&args, &[]).await);
    let unrecorded = measure(&a, &b, subscribers, messages, rate).await;

    println!("{subscribers} subscribers, {messages} publishes at {rate}/s, one acked publish at a time\n");
    println!("| path | received | lost | p50 | p90 | p99 | max |");
    println!("|:---|---:|---:|---:|---:|---:|---:|");
    single.row("one hub, no Redis");
    cross.row("hub A -> Redis -> hub B");
    unrecorded.row("hub A -> Redis -> hub B, --history-size 0");
}

/// Latencies of one run, in microseconds, sorted.
struct Run {
    expected: usize,
    latencies: Vec<u64>,
}

impl Run {
    fn row(&self, path: &str) {
        let at = |q: f64| {
            let i = ((self.latencies.len() as f64 * q) as usize).min(self.latencies.len().saturating_sub(1));
            self.latencies.get(i).map_or("-".to_owned(), |us| format!("{:.2} ms", *us as f64 / 1000.0))
        };
        let received = self.latencies.len();
        println!(
            "| {path} | {received} | {} | {} | {} | {} | {} |",
            self.expected - received,
            at(0.50),
            at(0.90),
            at(0.99),
            at(1.0)
        );
    }
}

/// Publishes on `publish_on` to `subscribers` sockets on `receive_on`.
async fn measure(
    publish_on: &HubProcess,
    receive_on: &HubProcess,
    subscribers: usize,
    messages: usize,
    rate: u64,
) -> Run {
    let epoch = Arc::new(Instant::now());
    let mut readers = Vec::new();
    for _ in 0..subscribers {
        let mut ws = raw::connect(receive_on.port).await.expect("subscriber connects");
        raw::send(&mut ws, &format!(r#"420["join","{ROOM}"]"#)).await.unwrap();
        let ack = raw::next_text(&mut ws).await.unwrap();
        assert!(ack.starts_with("430"), "join ack: {ack}");
        readers.push(tokio::spawn(receive(ws, epoch.clone(), messages)));
    }

    let options = PublisherOptions { token: Some(TOKEN.to_owned()), ..PublisherOptions::default() };
    let mut publisher = Publisher::connect(&publish_on.url, options).await.expect("publisher connects");
    let rooms = [ROOM.to_owned()];
    let mut ticks = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    for seq in 0..messages {
        ticks.tick().await;
        let sent = epoch.elapsed().as_micros() as u64;
        publisher.publish(EVENT, json!({"seq": seq, "sent": sent}), &rooms).await.expect("publish");
    }
    publisher.close().await;

    let mut latencies = Vec::new();
    for reader in readers {
        latencies.extend(reader.await.expect("reader"));
    }
    latencies.sort_unstable();
    Run { expected: subscribers * messages, latencies }
}

/// Reads until `messages` events arrived or 5 s passed without one; returns each event's latency.
async fn receive(mut ws: raw::Socket, epoch: Arc<Instant>, messages: usize) -> Vec<u64> {
    let mut latencies = Vec::with_capacity(messages);
    let prefix = format!(r#"42["{EVENT}","#);
    while latencies.len() < messages {
        let Ok(Ok(frame)) = tokio::time::timeout(Duration::from_secs(5), raw::next_text(&mut ws)).await
        else {
            break;
        };
        let now = epoch.elapsed().as_micros() as u64;
        if let Some(rest) = frame.strip_prefix(&prefix) {
            let arguments: serde_json::Value =
                serde_json::from_str(&format!("[{rest}")).expect("event arguments are JSON");
            let sent = arguments[0]["sent"].as_u64().expect("send time");
            latencies.push(now.saturating_sub(sent));
        }
    }
    latencies
}
