//! Measurements beside the traffic: the server's memory and CPU (from `/proc`), this process's own CPU,
//! and how late its event loop runs, so a report can say when the load generator was the bottleneck.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The server process's resident memory, in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time a process has used so far (user + system).
pub fn cpu_of(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Some(Duration::from_millis(ticks * 1000 / per_second))
}

/// `read` summed over several processes (a cluster's servers): `None` when there are none, or when one
/// of them cannot be read, rather than a sum that leaves one out.
pub fn summed<T: std::iter::Sum>(pids: &[u32], read: fn(u32) -> Option<T>) -> Option<T> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|&pid| read(pid)).sum()
}

/// CPU time this process has used so far.
pub fn own_cpu() -> Duration {
    cpu_of(std::process::id()).unwrap_or_default()
}

/// Watches the event loop: a task that asks to wake every 10 ms and records how late it wakes.
pub struct LagMonitor {
    worst_us: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl LagMonitor {
    pub fn start() -> Self {
        let worst_us = Arc::new(AtomicU64::new(0));
        let worst = worst_us.clone();
        let task = tokio::spawn(async move {
            let period = Duration::from_millis(10);
            loop {
                let asked = Instant::now();
                tokio::time::sleep(period).await;
                let late = asked.elapsed().saturating_sub(period).as_micros() as u64;
                worst.fetch_max(late, Ordering::Relaxed);
            }
        });
        Self { worst_us, task }
    }

    /// The worst lateness seen, in milliseconds.
    pub fn stop(self) -> f64 {
        self.task.abort();
        self.worst_us.load(Ordering::Relaxed) as f64 / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::{rss_kib, summed};

    #[test]
    fn sums_over_processes_or_says_nothing() {
        let me = std::process::id();
        let one = rss_kib(me).expect("this process's RSS");
        assert!(summed(&[me, me], rss_kib).expect("both readable") >= 2 * one - 1024);
        assert_eq!(summed(&[], rss_kib), None);
        // No such process: a sum without it would understate the cluster.
        assert_eq!(summed(&[me, u32::MAX], rss_kib), None);
    }
}
