//! `loadgen`: drives a Socket.IO server with thousands of bare Engine.IO websocket clients on loopback
//! and prints what it measured as one JSON line; `loadgen table` turns such lines into Markdown.
//!
//! Given several servers (a cluster: `--server A,B,C`, or `--server` repeated), it spreads the
//! subscribers and echo clients over them in turn and publishes through the first; with their
//! `--pid`s, the report's server memory and CPU are the sums over those processes.

mod conn;
mod hold;
mod probe;
mod report;
mod scenarios;
mod soak;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::report::Report;
use crate::scenarios::Setup;

#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs one scenario against a server and prints a JSON report.
    Run(RunArgs),
    /// Prints the Markdown table of JSON reports (one per line) read from files.
    Table { files: Vec<PathBuf> },
}

#[derive(Clone, Copy, ValueEnum)]
enum Scenario {
    Idle,
    Fanout,
    Saturate,
    Echo,
    /// One publisher records `--events` events into each of `--rooms` rooms; memory per kept event.
    History,
    /// Like `idle --hold`, but each connection answers pings from the moment it is connected.
    Hold,
    /// Churn against one hub for `--seconds`, reading its memory and open files: a leak hunt.
    Soak,
}

/// What the `history` scenario records.
#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    /// Published events: `{"id":N,"text":PAD}`, each into one room.
    Publish,
    /// `chat` messages of `--payload` characters.
    Chat,
}

#[derive(clap::Args)]
struct RunArgs {
    #[arg(long, value_enum)]
    scenario: Scenario,
    /// The server, as 127.0.0.1:PORT; for a cluster, several (comma-separated, or the flag repeated):
    /// subscribers and echo clients are spread over them in turn, publishers connect to the first.
    #[arg(long, required = true, value_delimiter = ',')]
    server: Vec<SocketAddr>,
    /// A name for the server in the report.
    #[arg(long)]
    name: String,
    /// The server's process id, to read its memory and CPU; for a cluster, each server's
    /// (comma-separated, or the flag repeated): the report gives the sums.
    #[arg(long, value_delimiter = ',')]
    pid: Vec<u32>,
    /// The publish token.
    #[arg(long, default_value = "bench-publish-token")]
    token: String,
    /// Connections (subscribers, echo clients, or the receivers of `soak`).
    #[arg(long, default_value_t = 1000)]
    clients: usize,
    /// How long the traffic lasts, in seconds.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Padding bytes in each published event or echo.
    #[arg(long, default_value_t = 64)]
    payload: usize,
    /// Publishes per second (`fanout`, `soak`).
    #[arg(long, default_value_t = 5)]
    rate: u32,
    /// Publishes in flight (`saturate`).
    #[arg(long, default_value_t = 16)]
    window: usize,
    /// Seconds to keep the connections open, answering the server's pings, before reading its memory
    /// and counting those still open (`idle`, `hold`; for `idle` 0: read after 2 s without answering).
    #[arg(long, default_value_t = 0.0)]
    hold: f64,
    /// Rooms that record events (`history`).
    #[arg(long, default_value_t = 1000)]
    rooms: usize,
    /// Events recorded into each room (`history`).
    #[arg(long, default_value_t = 100)]
    events: usize,
    /// What is recorded (`history`).
    #[arg(long, value_enum, default_value_t = Kind::Publish)]
    kind: Kind,
    #[command(flatten)]
    soak: soak::SoakArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Run(args) => {
            let setup = Setup {
                servers: args.server,
                server_name: args.name,
                server_pids: args.pid,
                token: args.token,
                clients: args.clients,
                duration: Duration::from_secs_f64(args.seconds),
                payload: args.payload,
            };
            let report = match args.scenario {
                Scenario::Idle => scenarios::idle(&setup, Duration::from_secs_f64(args.hold)).await?,
                Scenario::Fanout => scenarios::fanout(&setup, args.rate).await?,
                Scenario::Saturate => scenarios::saturate(&setup, args.window).await?,
                Scenario::Echo => scenarios::echo(&setup).await?,
                Scenario::History => {
                    let chat = matches!(args.kind, Kind::Chat);
                    scenarios::history(&setup, args.rooms, args.events, chat).await?
                }
                Scenario::Hold => hold::hold(&setup, Duration::from_secs_f64(args.hold)).await?,
                Scenario::Soak => soak::run(&setup, args.rate, &args.soak).await?,
            };
            println!("{}", serde_json::to_string(&report)?);
        }
        Command::Table { files } => {
            let mut reports = Vec::new();
            for file in files {
                for line in std::fs::read_to_string(&file)?.lines().filter(|l| !l.trim().is_empty()) {
                    reports.push(serde_json::from_str::<Report>(line)?);
                }
            }
            print!("{}", report::table(&reports));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{Cli, Command};

    fn run_args(args: &[&str]) -> super::RunArgs {
        let cli =
            Cli::try_parse_from([&["loadgen", "run", "--scenario", "fanout", "--name", "x"], args].concat())
                .expect("valid arguments");
        match cli.command {
            Command::Run(args) => args,
            Command::Table { .. } => unreachable!(),
        }
    }

    #[test]
    fn one_server_as_before() {
        let args = run_args(&["--server", "127.0.0.1:3000", "--pid", "42"]);
        assert_eq!(args.server, ["127.0.0.1:3000".parse().unwrap()]);
        assert_eq!(args.pid, [42]);
    }

    #[test]
    fn several_servers_as_a_list_or_repeated() {
        let listed = run_args(&["--server", "127.0.0.1:1,127.0.0.1:2", "--pid", "1,2"]);
        let repeated =
            run_args(&["--server", "127.0.0.1:1", "--server", "127.0.0.1:2", "--pid", "1", "--pid", "2"]);
        assert_eq!(listed.server, repeated.server);
        assert_eq!(listed.server.len(), 2);
        assert_eq!(listed.pid, repeated.pid);
    }

    #[test]
    fn a_server_is_required() {
        let missing = Cli::try_parse_from(["loadgen", "run", "--scenario", "fanout", "--name", "x"]);
        assert!(missing.is_err());
    }
}
