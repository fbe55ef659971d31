//! The `hub` binary: read the configuration, start logging, serve until SIGINT or SIGTERM.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let args = hub::config::Args::parse();
    let config = match hub::Config::load(&args) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("hub: {e}");
            return ExitCode::from(2);
        }
    };
    if args.print_config {
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
