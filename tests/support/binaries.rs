//! The `hub` and `publish` binaries of this workspace, as built by `cargo build --workspace --bins`.

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

/// Path of a workspace binary built with the same profile as the running test or tool.
pub fn path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // A test runs from target/<profile>/deps/, a tool binary from target/<profile>/.
    let mut dir = exe.parent().expect("target directory");
    if dir.ends_with("deps") {
        dir = dir.parent().expect("target directory");
    }
    let binary = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.exists(),
        "{} is missing: build the binaries first (`cargo build --workspace --bins`, as scripts/test.sh does)",
        binary.display()
    );
    binary
}

/// Runs `publish` with `args`, extra environment variables and optional stdin, and waits for it.
pub async fn publish(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    publish_with_bytes(args, env, stdin.map(str::as_bytes)).await
}

/// Runs `publish` like [`publish`], with stdin given as bytes (which need not be UTF-8).
pub async fn publish_with_bytes(args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Output {
    let mut command = Command::new(path("publish"));
    command
        .args(args)
        .env_remove("HUB_URL")
        .env_remove("HUB_PUBLISH_TOKEN")
        .env_remove("HUB_TOKEN_FILE")
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("spawn publish");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        // A `publish` that stops early (a usage error) closes its end: what it did is in its output.
        let _ = pipe.write_all(input).await;
        drop(pipe);
    }
    tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("publish never hangs")
        .expect("publish runs")
}

/// Runs `publish` with `args` in an environment as bare as cron's: nothing but `PATH` and `env` (cron sets
/// `HOME`, but no `XDG_RUNTIME_DIR`).
pub async fn publish_in_bare_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let run = Command::new(path("publish"))
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("publish never hangs")
        .expect("publish runs")
}

/// The `hub` binary, with none of the `HUB_*` settings of the environment the tests run in.
fn hub_command() -> Command {
    without_hub_settings(Command::new(path("hub")))
}

/// The `hub` binary started with a soft open-files limit of `limit` (the hard limit is left as it is).
fn hub_command_with_open_files(limit: u64) -> Command {
    let mut command = Command::new("bash");
    command.arg("-c").arg(format!("ulimit -Sn {limit} && exec \"$0\" \"$@\"")).arg(path("hub"));
    without_hub_settings(command)
}

/// The `hub` binary started with soft and hard open-files limits of `limit`.
fn hub_command_with_hard_open_files(limit: u64) -> Command {
    let mut command = Command::new("bash");
    command.arg("-c").arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\"")).arg(path("hub"));
    without_hub_settings(command)
}

fn without_hub_settings(mut command: Command) -> Command {
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("HUB_")) {
        command.env_remove(name);
    }
    command
}

/// Runs `hub` with `args` and `env` until it exits (for runs that must refuse to start or only print).
pub async fn run_hub(args: &[&str], env: &[(&str, &str)]) -> Output {
    let run = hub_command().args(args).envs(env.iter().copied()).stdin(Stdio::null()).output();
    tokio::time::timeout(Duration::from_secs(30), run).await.expect("hub exits").expect("hub runs")
}

/// A `hub` process whose log is collected.
pub struct HubProcess {
    child: Child,
    pub port: u16,
    pub url: String,
    log: Arc<Mutex<String>>,
}

impl HubProcess {
    /// Starts `n` hubs on free ports, all joined through the Redis at `redis_url`.
    pub async fn cluster(redis_url: &str, n: usize) -> Vec<Self> {
        let mut hubs = Vec::with_capacity(n);
        for _ in 0..n {
            let args =
                ["--bind", "127.0.0.1:0", "--publish-token", crate::hub::TOKEN, "--redis-url", redis_url];
            hubs.push(Self::start(&args, &[]).await);
        }
        hubs
    }

    /// Starts `hub` with `args` and `env` (add `--bind 127.0.0.1:0` for a free port) and waits for its
    /// "listening" line.
    pub async fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::spawn(hub_command(), args, env).await
    }

    /// Starts `hub` like [`start`](Self::start), under a soft open-files limit of `limit`.
    pub async fn start_with_open_files(limit: u64, args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::spawn(hub_command_with_open_files(limit), args, env).await
    }

    /// Starts `hub` like [`start`](Self::start), under a hard open-files limit of `limit`: it cannot raise it.
    pub async fn start_with_hard_open_files(limit: u64, args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::spawn(hub_command_with_hard_open_files(limit), args, env).await
    }

    async fn spawn(mut command: Command, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = command
            .args(args)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn hub");
        let log = Arc::new(Mutex::new(String::new()));
        let (port_tx, port_rx) = tokio::sync::oneshot::channel();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let collected = log.clone();
        tokio::spawn(async move {
            let mut port_tx = Some(port_tx);
            while let Ok(Some(line)) = lines.next_line().await {
                {
                    let mut log = collected.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
                if let Some(port) = listening_port(&line)
                    && let Some(tx) = port_tx.take()
                {
                    let _ = tx.send(port);
                }
            }
        });
        let port = match tokio::time::timeout(Duration::from_secs(10), port_rx).await {
            Ok(Ok(port)) => port,
            _ => panic!("hub did not report where it listens; log:\n{}", log.lock().unwrap()),
        };
        Self { child, port, url: format!("http://127.0.0.1:{port}"), log }
    }

    /// The hub's process id (to stop and continue it with signals).
    pub fn pid(&self) -> u32 {
        self.child.id().expect("hub is running")
    }

    /// Everything the hub logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the log holds `count` lines containing `text`, and returns the log.
    pub async fn wait_for_log(&self, text: &str, count: usize) -> String {
        let deadline = tokio::time::Instant::now() + crate::WAIT;
        loop {
            let log = self.log();
            if log.lines().filter(|line| line.contains(text)).count() >= count {
                return log;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{count} log lines with {text:?} within {:?}:\n{log}",
                crate::WAIT
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// The hub's resident memory, in bytes (Linux).
    pub fn resident_bytes(&self) -> u64 {
        let pid = self.child.id().expect("hub is running");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc/PID/status");
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/PID/status");
        kib * 1024
    }

    /// Kills the hub (SIGKILL, as in a crash) and waits for it to be gone.
    pub async fn kill(mut self) {
        self.child.kill().await.expect("kill hub");
    }

    /// Sends SIGTERM and waits for the exit; returns the exit code and how long the exit took.
    pub async fn terminate(mut self) -> (Option<i32>, Duration) {
        let pid = self.child.id().expect("hub is running").to_string();
        let started = Instant::now();
        let status = std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("run kill");
        assert!(status.success(), "kill -TERM {pid}");
        let exit = tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .expect("hub exits after SIGTERM")
            .expect("wait for hub");
        (exit.code(), started.elapsed())
    }
}

/// The port in the hub's "hub listening on http://ADDR:PORT" line.
fn listening_port(line: &str) -> Option<u16> {
    let rest = line.split("hub listening on http://").nth(1)?;
    let addr = rest.split_whitespace().next()?;
    addr.rsplit(':').next()?.parse().ok()
}
