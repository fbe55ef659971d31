//! The `publish` command: emit one event into a hub (or many with `--stdin-lines`) and wait for its ack.

use clap::Parser;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let args = publisher::cli::Args::parse();
    publisher::cli::run(args).await.into()
}
