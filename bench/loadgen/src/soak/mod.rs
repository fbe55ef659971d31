//! `soak`: a leak hunt, not a speed test. For `--seconds`, moderate churn against one hub: receivers
//! that stay connected in every room and check each room's stream for gaps and duplicates, churners
//! that connect, join (with `since` when they were there before, checking the replay), chat, leave and
//! disconnect over and over, and a publisher at `--rate`. Every `--sample-every` seconds it prints the
//! hub's RSS, open files and sockets as a JSON line; then it stops the churn, counts what each receiver
//! missed against where the rooms' streams ended, disconnects everyone, lets the hub settle and samples
//! it once more. `bench/soak.sh` runs it and writes the table.

mod clients;
mod sample;
mod seen;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures_util::{StreamExt, stream};
use serde::Serialize;
use tokio::sync::watch;
use tokio::time::Instant;

use self::clients::{Heard, Receiver, Tally};
use self::sample::Sample;
use crate::probe;
use crate::report::Report;
use crate::scenarios::Setup;

/// The `soak` scenario's own flags.
#[derive(clap::Args)]
pub struct SoakArgs {
    /// Rooms the receivers are all in and the churners visit (`soak`).
    #[arg(long, default_value_t = 4)]
    soak_rooms: usize,
    /// Churning clients, each connecting, visiting rooms and disconnecting in a loop (`soak`).
    #[arg(long, default_value_t = 20)]
    churners: usize,
    /// Seconds between two readings of the server (`soak`).
    #[arg(long, default_value_t = 10.0)]
    sample_every: f64,
    /// Seconds of warm-up (`soak`): the server's RSS at its end is what the final RSS is held to.
    #[arg(long, default_value_t = 60.0)]
    warmup: f64,
    /// Longest wait, once everyone has gone, for the server's open files and sockets to come back down
    /// (`soak`).
    #[arg(long, default_value_t = 30.0)]
    settle: f64,
}

/// How long the receivers get, after the churn stops, for the last events to reach them.
const DRAIN: Duration = Duration::from_secs(2);
/// Receivers connecting at once.
const CONNECT_CONCURRENCY: usize = 64;

/// The last JSON line but one: what the soak found.
#[derive(Serialize)]
struct Summary<'a> {
    kind: &'static str,
    receivers: usize,
    churners: usize,
    rooms: usize,
    rate: u32,
    baseline: &'a Sample,
    warmup_end: &'a Sample,
    churn_end: &'a Sample,
    #[serde(rename = "final")]
    settled: &'a Sample,
    /// Room events the receivers still connected at the end should have got (each room's stream from
    /// their join to its end), how many of those never came, and how many of the receivers dropped.
    expected: u64,
    lost: u64,
    tally: &'a Tally,
}

pub async fn run(setup: &Setup, rate: u32, args: &SoakArgs) -> anyhow::Result<Report> {
    let rooms: Arc<Vec<String>> =
        Arc::new((0..args.soak_rooms.max(1)).map(|i| format!("soak-{i}")).collect());
    let tally = Arc::new(Tally::default());
    let started = Instant::now();
    let read = |phase: &'static str| {
        let clients = Tally::get(&tally.clients);
        sample::take(setup.server(), setup.server_pid(), started.elapsed().as_secs_f64(), phase, clients)
    };
    let baseline = print(read("baseline").await);
    let server_cpu = setup.server_pid().and_then(probe::cpu_of);
    let own_cpu = probe::own_cpu();

    let receivers: Vec<Receiver> = stream::iter(0..setup.clients)
        .map(|n| Receiver::connect(setup.server(), &rooms, n, &tally))
        .buffer_unordered(CONNECT_CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()
        .context("connecting the receivers")?;
    let (stop_receivers, receivers_stopped) = watch::channel(false);
    let listening: Vec<_> = receivers
        .into_iter()
        .map(|receiver| tokio::spawn(receiver.listen(receivers_stopped.clone(), tally.clone())))
        .collect();
    let (stop_churn, churn_stopped) = watch::channel(false);
    let mut churning: Vec<_> = (0..args.churners)
        .map(|n| {
            tokio::spawn(clients::churn(
                n,
                setup.server(),
                rooms.clone(),
                tally.clone(),
                churn_stopped.clone(),
            ))
        })
        .collect();
    let pad = "x".repeat(setup.payload);
    let publisher = clients::publish(
        setup.server(),
        setup.token.clone(),
        rooms.clone(),
        rate,
        pad,
        tally.clone(),
        churn_stopped,
    );
    churning.push(tokio::spawn(publisher));

    // Readings every `sample_every` seconds, one at the end of the warm-up and one at the end.
    let duration = setup.duration.as_secs_f64();
    let warmup = args.warmup.min(duration);
    let every = args.sample_every.max(0.1);
    let mut times: Vec<f64> = (1..).map(|k| k as f64 * every).take_while(|t| *t < duration).collect();
    times.extend([warmup, duration]);
    times.sort_by(f64::total_cmp);
    times.dedup();
    let (mut warmup_end, mut churn_end) = (None, None);
    for t in times {
        tokio::time::sleep_until(started + Duration::from_secs_f64(t)).await;
        let phase = if t == duration {
            "churn-end"
        } else if t == warmup {
            "warmup-end"
        } else if t < warmup {
            "warmup"
        } else {
            "churn"
        };
        let reading = print(read(phase).await);
        if t == warmup {
            warmup_end = Some(reading.clone());
        }
        if t == duration {
            churn_end = Some(reading);
        }
    }
    let server_cpu = server_cpu.zip(setup.server_pid().and_then(probe::cpu_of)).map(|(a, b)| b - a);
    let own_cpu = probe::own_cpu() - own_cpu;

    let _ = stop_churn.send(true);
    for task in churning {
        let abort = task.abort_handle();
        if tokio::time::timeout(Duration::from_secs(20), task).await.is_err() {
            abort.abort();
        }
    }
    tokio::time::sleep(DRAIN).await;
    let ends = clients::positions(setup.server(), &rooms).await.context("reading where the rooms ended")?;
    let _ = stop_receivers.send(true);
    let mut heard = Vec::new();
    for task in listening {
        heard.push(task.await?);
    }
    let (expected, lost) = losses(&heard, &ends, &tally);
    drop(heard);

    // Everyone has gone: wait for the server to close what they held, then read it once more.
    let settle_until = Instant::now() + Duration::from_secs_f64(args.settle);
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let reading = print(read("settle").await);
        let files_back = match (reading.open_files, baseline.open_files) {
            (Some(now), Some(before)) => now <= before,
            _ => true,
        };
        if (files_back && reading.server_sockets.unwrap_or(0) == 0) || Instant::now() >= settle_until {
            break;
        }
    }
    let settled = print(read("final").await);

    let warmup_end = warmup_end.context("no reading at the end of the warm-up")?;
    let churn_end = churn_end.context("no reading at the end of the churn")?;
    let summary = Summary {
        kind: "summary",
        receivers: setup.clients,
        churners: args.churners,
        rooms: rooms.len(),
        rate,
        baseline: &baseline,
        warmup_end: &warmup_end,
        churn_end: &churn_end,
        settled: &settled,
        expected,
        lost,
        tally: &tally,
    };
    println!("{}", serde_json::to_string(&summary)?);

    let mut report = Report::new(setup, "soak");
    report.rate = Some(f64::from(rate));
    report.expected = Some(expected);
    report.received = Some(expected - lost);
    report.lost = Some(lost);
    report.refused = Some(Tally::get(&tally.refused));
    report.server_rss_mib = settled.rss_kib.map(|kib| kib as f64 / 1024.0);
    report.server_cpu_pct = server_cpu.map(|cpu| cpu.as_secs_f64() / duration * 100.0);
    report.loadgen_cpu_pct = Some(own_cpu.as_secs_f64() / duration * 100.0);
    Ok(report)
}

/// What the receivers still connected should have got, and never did: for each room, every offset from
/// their join to where the stream ended.
fn losses(heard: &[Heard], ends: &HashMap<String, (u64, String)>, tally: &Tally) -> (u64, u64) {
    let (mut expected, mut lost) = (0, 0);
    for receiver in heard.iter().filter(|r| !r.dropped) {
        for (room, seen) in &receiver.rooms {
            let Some((end, epoch)) = ends.get(room) else { continue };
            if *epoch != seen.epoch {
                tally.epoch_changes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                continue;
            }
            expected += end.saturating_sub(seen.first());
            lost += seen.missing_up_to(*end);
        }
    }
    (expected, lost)
}

fn print(sample: Sample) -> Sample {
    if let Ok(line) = serde_json::to_string(&sample) {
        println!("{line}");
    }
    sample
}
