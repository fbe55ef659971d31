//! The soak's readings of the server: resident memory, open files and threads from `/proc`, and the
//! sockets it counts as connected, from its Prometheus metrics.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::probe;

/// One reading, printed as a JSON line.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub kind: &'static str,
    /// Seconds since the soak began.
    pub t: f64,
    /// `baseline` (nobody connected yet), `warmup`, `churn`, `settle` (everyone gone), `final`.
    pub phase: &'static str,
    pub rss_kib: Option<u64>,
    pub open_files: Option<u64>,
    pub threads: Option<u64>,
    /// `hub_connected_sockets`, summed over namespaces (absent for a server without it).
    pub server_sockets: Option<u64>,
    /// The soak's own connections open at that moment.
    pub clients: u64,
}

/// Reads the server now. The open files are counted before the metrics request opens one more.
pub async fn take(server: SocketAddr, pid: Option<u32>, t: f64, phase: &'static str, clients: u64) -> Sample {
    let open_files = pid.and_then(open_files);
    let threads = pid.and_then(threads);
    let rss_kib = pid.and_then(probe::rss_kib);
    let server_sockets = connected_sockets(server).await;
    Sample { kind: "sample", t, phase, rss_kib, open_files, threads, server_sockets, clients }
}

pub fn open_files(pid: u32) -> Option<u64> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64)
}

fn threads(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| line.strip_prefix("Threads:"))?.trim().parse().ok()
}

/// `GET /metrics` over plain HTTP/1.1, and the sum of the `hub_connected_sockets` gauges.
async fn connected_sockets(server: SocketAddr) -> Option<u64> {
    let exchange = async {
        let mut stream = TcpStream::connect(server).await.ok()?;
        let request = format!(
            "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
            server.port()
        );
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut body = String::new();
        stream.read_to_string(&mut body).await.ok()?;
        Some(body)
    };
    let body = tokio::time::timeout(Duration::from_secs(5), exchange).await.ok()??;
    let values: Vec<f64> = body
        .lines()
        .filter(|line| line.starts_with("hub_connected_sockets"))
        .filter_map(|line| line.rsplit(' ').next()?.parse().ok())
        .collect();
    if values.is_empty() { None } else { Some(values.iter().sum::<f64>() as u64) }
}
