//! What a run measured, as one JSON line, and the Markdown table built from many. Runs against a
//! cluster (`nodes`) get tables of their own, apart from the same scenario against one server.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::scenarios::Setup;

/// Latencies in microseconds, sorted.
pub struct Latencies(Vec<u32>);

impl Latencies {
    pub fn new(mut values: Vec<u32>) -> Self {
        values.sort_unstable();
        Self(values)
    }

    pub fn count(&self) -> u64 {
        self.0.len() as u64
    }

    /// The `q` quantile in milliseconds.
    fn quantile_ms(&self, q: f64) -> Option<f64> {
        let last = self.0.len().checked_sub(1)?;
        let index = ((self.0.len() as f64 * q) as usize).min(last);
        Some(f64::from(self.0[index]) / 1000.0)
    }
}

/// One run of one scenario against one server.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report {
    pub server: String,
    pub scenario: String,
    /// Server processes the clients were spread over, when more than one (a cluster).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodes: Option<usize>,
    pub clients: usize,
    pub payload: usize,
    pub seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_per_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rss_kib_per_conn: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_rss_mib: Option<f64>,
    /// Connections still open after `idle --hold`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held: Option<usize>,
    /// Events recorded (`history`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<u64>,
    /// The server's RSS growth per recorded event, in bytes (`history`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rss_bytes_per_event: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliveries_per_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lost: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests_per_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p50_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p90_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p99_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cpu_pct: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loadgen_cpu_pct: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loadgen_us_per_message: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loop_lag_max_ms: Option<f64>,
}

impl Report {
    pub fn new(setup: &Setup, scenario: &str) -> Self {
        Self {
            server: setup.server_name.clone(),
            scenario: scenario.to_owned(),
            nodes: (setup.servers.len() > 1).then_some(setup.servers.len()),
            clients: setup.clients,
            payload: setup.payload,
            seconds: setup.duration.as_secs_f64(),
            ..Self::default()
        }
    }

    /// Records deliveries against what was expected.
    pub fn traffic(&mut self, expected: u64, latencies: &Latencies, wall: Duration, refused: u64) {
        let received = latencies.count();
        self.expected = Some(expected);
        self.received = Some(received);
        self.lost = Some(expected.saturating_sub(received));
        self.refused = Some(refused);
        self.deliveries_per_s = Some(received as f64 / wall.as_secs_f64());
        self.latencies(latencies);
    }

    pub fn latencies(&mut self, latencies: &Latencies) {
        self.p50_ms = latencies.quantile_ms(0.50);
        self.p90_ms = latencies.quantile_ms(0.90);
        self.p99_ms = latencies.quantile_ms(0.99);
        self.max_ms = latencies.quantile_ms(1.0);
    }

    /// Records a connect phase: `clients` connections opened in `took`, and the servers' RSS (KiB)
    /// before and after, when it could be read.
    pub fn connected(&mut self, clients: usize, took: Duration, before: Option<u64>, after: Option<u64>) {
        self.connect_per_s = Some(clients as f64 / took.as_secs_f64());
        if let (Some(before), Some(after)) = (before, after) {
            self.rss_kib_per_conn = Some(after.saturating_sub(before) as f64 / clients as f64);
            self.server_rss_mib = Some(after as f64 / 1024.0);
        }
    }

    /// Whether the load generator, rather than the server, may have limited this run.
    fn loadgen_limited(&self) -> bool {
        self.loadgen_cpu_pct.is_some_and(|pct| pct > 90.0) || self.loop_lag_max_ms.is_some_and(|ms| ms > 50.0)
    }
}

/// A column of the table: its title and how to read it from a report.
type Metric = (&'static str, fn(&Report) -> Option<f64>);

/// The medians of repeated runs as a Markdown table: each scenario's figures per server, with the hub's
/// ratios to Node and to the ceiling.
pub fn table(reports: &[Report]) -> String {
    // `saturate` runs with different windows are different scenarios.
    type Key = (String, usize, usize, Option<usize>);
    let mut groups: BTreeMap<Key, BTreeMap<String, Vec<&Report>>> = BTreeMap::new();
    for report in reports {
        let window = if report.scenario.ends_with("saturate") { report.window } else { None };
        groups
            .entry((report.scenario.clone(), report.clients, report.nodes.unwrap_or(1), window))
            .or_default()
            .entry(report.server.clone())
            .or_default()
            .push(report);
    }
    let mut out = String::new();
    for ((scenario, clients, nodes, window), servers) in &groups {
        let metrics: &[Metric] = match scenario.as_str() {
            "idle" => &[
                ("connects/s", |r| r.connect_per_s),
                ("RSS KiB/conn", |r| r.rss_kib_per_conn),
                ("still open", |r| r.held.map(|n| n as f64)),
            ],
            "echo" => {
                &[("requests/s", |r| r.requests_per_s), ("p50 ms", |r| r.p50_ms), ("p99 ms", |r| r.p99_ms)]
            }
            s if s.starts_with("history") => &[
                ("events", |r| r.events.map(|n| n as f64)),
                ("RSS bytes/event", |r| r.rss_bytes_per_event),
                ("RSS MiB", |r| r.server_rss_mib),
            ],
            _ => &[
                ("deliveries/s", |r| r.deliveries_per_s),
                ("lost", |r| r.lost.map(|l| l as f64)),
                ("p50 ms", |r| r.p50_ms),
                ("p90 ms", |r| r.p90_ms),
                ("p99 ms", |r| r.p99_ms),
                ("max ms", |r| r.max_ms),
            ],
        };
        let cluster = if *nodes > 1 { format!(", cluster of {nodes} servers") } else { String::new() };
        let in_flight = window.map(|w| format!(", {w} publishes in flight")).unwrap_or_default();
        let _ = writeln!(out, "\n### {scenario}, {clients} clients{cluster}{in_flight}\n");
        let _ = writeln!(
            out,
            "| server | runs | {} | server CPU % | loadgen CPU % | loadgen lag max ms |",
            metrics.iter().map(|m| m.0).collect::<Vec<_>>().join(" | ")
        );
        let _ = writeln!(out, "|:---|---:|{}---:|---:|---:|", "---:|".repeat(metrics.len()));
        for (server, runs) in servers {
            let cells: Vec<String> = metrics.iter().map(|(_, get)| fmt(median(runs, *get))).collect();
            let limited = if runs.iter().any(|r| r.loadgen_limited()) { " (loadgen-bound)" } else { "" };
            let _ = writeln!(
                out,
                "| {server}{limited} | {} | {} | {} | {} | {} |",
                runs.len(),
                cells.join(" | "),
                fmt(median(runs, |r| r.server_cpu_pct)),
                fmt(median(runs, |r| r.loadgen_cpu_pct)),
                fmt(median(runs, |r| r.loop_lag_max_ms)),
            );
        }
        // `hub-nohist` is the hub with `--history-size 0`: its ratio to `hub` is the cost of recording.
        for (ours, peer, label) in [
            ("hub", "node", "hub / node"),
            ("hub", "ceiling", "hub / ceiling"),
            ("hub-nohist", "node", "hub-nohist / node"),
            ("hub", "hub-nohist", "hub / hub-nohist"),
        ] {
            if let (Some(hub), Some(other)) = (servers.get(ours), servers.get(peer)) {
                // What history takes is what the hub holds beyond the same run without it.
                let memory = scenario.starts_with("history");
                let ratios: Vec<String> = metrics
                    .iter()
                    .map(|(_, get)| match (median(hub, *get), median(other, *get)) {
                        (Some(a), Some(b)) if memory => fmt(Some(a - b)),
                        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
                        _ => "-".to_owned(),
                    })
                    .collect();
                let label = if memory { label.replace(" / ", " - ") } else { label.to_owned() };
                let _ = writeln!(out, "| *{label}* | | {} | | | |", ratios.join(" | "));
            }
        }
    }
    out
}

fn median(runs: &[&Report], get: fn(&Report) -> Option<f64>) -> Option<f64> {
    let mut values: Vec<f64> = runs.iter().filter_map(|r| get(r)).collect();
    values.sort_by(|a, b| a.total_cmp(b));
    values.get(values.len().checked_sub(1)? / 2).copied()
}

fn fmt(value: Option<f64>) -> String {
    match value {
        None => "-".to_owned(),
        Some(v) if v >= 100.0 || v == v.trunc() => format!("{v:.0}"),
        Some(v) if v >= 10.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.2}"),
    }
}

#[cfg(test)]
mod tests {
    use super::{Report, table};

    fn run(server: &str, nodes: Option<usize>, deliveries_per_s: f64) -> Report {
        Report {
            server: server.to_owned(),
            scenario: "saturate".to_owned(),
            nodes,
            clients: 3000,
            deliveries_per_s: Some(deliveries_per_s),
            ..Report::default()
        }
    }

    #[test]
    fn a_cluster_gets_its_own_table_and_ratio() {
        let reports = [
            run("hub", None, 900.0),
            run("node", None, 300.0),
            run("hub", Some(3), 600.0),
            run("node", Some(3), 100.0),
        ];
        let out = table(&reports);
        let (alone, cluster) =
            out.split_once("### saturate, 3000 clients, cluster of 3 servers").expect("a cluster table");
        assert!(alone.contains("### saturate, 3000 clients\n"), "{out}");
        assert!(alone.contains("| *hub / node* | | 3.00x |"), "{out}");
        assert!(cluster.contains("| *hub / node* | | 6.00x |"), "{out}");
    }

    #[test]
    fn one_server_reports_say_nothing_of_nodes() {
        let json = serde_json::to_string(&run("hub", None, 1.0)).unwrap();
        assert!(!json.contains("nodes"), "{json}");
        let old: Report =
            serde_json::from_str(r#"{"server":"hub","scenario":"idle","clients":1,"payload":0,"seconds":1}"#)
                .unwrap();
        assert_eq!(old.nodes, None);
    }
}
