//! The `hub` binary: parse the flags, start logging, serve until SIGINT or SIGTERM.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = hub::Config::parse();
    hub::logging::init();
    let shutdown = hub::shutdown::signal();
    let served = async { hub::Server::bind(config).await?.run(shutdown).await };
    match served.await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hub: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
