//! The `hub` binary: read the command line; run an operator tool (`hub::cli`), or read the configuration,
//! start logging, and serve until SIGINT or SIGTERM. Exit codes: 0 ok, 1 the hub failed to start or
//! serve, 2 usage or configuration error.

use std::process::ExitCode;

use clap::Parser;
use hub::cli::{Cli, Task};

#[tokio::main]
async fn main() -> ExitCode {
    let (args, print_config) = match Cli::parse().into_task() {
        Task::Tool(tool) => {
            return match tool.run(&mut std::io::stdout().lock()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("hub: {e}");
                    ExitCode::from(e.exit_code())
                }
            };
        }
        Task::Serve { args, print_config } => (args, print_config),
    };
    let config = match hub::Config::load(&args) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("hub: {e}");
            return ExitCode::from(2);
        }
    };
    if print_config {
        print!("{}", config.to_masked_toml());
        return ExitCode::SUCCESS;
    }
    hub::init_logging(config.log_format);
    let shutdown = hub::shutdown_signal();
    let served = async { hub::Server::bind(config).await?.run(shutdown).await };
    match served.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hub: {e}");
            ExitCode::FAILURE
        }
    }
}
