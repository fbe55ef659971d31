//! The `hub` binary: parse the flags, start logging, serve until SIGINT or SIGTERM.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = hub::Config::parse();
    hub::logging::init();
    match hub::Server::bind(config).await {
        Ok(server) => match server.run(hub::shutdown::signal()).await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => fail(e),
        },
        Err(e) => fail(e),
    }
}

fn fail(e: hub::HubError) -> std::process::ExitCode {
    tracing::error!("{e:#}");
    eprintln!("hub: {e}");
    std::process::ExitCode::FAILURE
}
