//! The hub's settings: each one a flag with an `HUB_*` environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// A Socket.IO v5 hub: browsers join rooms and chat, backends publish events into rooms.
///
/// The demo page is served at `/`, Socket.IO at `/socket.io/`.
#[derive(Debug, Clone, Parser)]
#[command(name = "hub", version)]
pub struct Config {
    /// Address and port to listen on. Use 0.0.0.0:PORT to accept connections from other machines.
    #[arg(long, env = "HUB_BIND", default_value = "127.0.0.1:3000", value_name = "ADDR:PORT")]
    pub bind: SocketAddr,

    /// Token that makes a socket a publisher (sent as `auth: {token}` when connecting). When none is
    /// given, the hub generates one and writes it to the token file, where `publish` finds it.
    #[arg(long, env = "HUB_PUBLISH_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    pub publish_token: Option<String>,

    /// Where to write a generated publish token. Default:
    /// $XDG_RUNTIME_DIR/socketio-hub/publish-token-PORT, else ~/.local/state/socketio-hub/publish-token-PORT.
    #[arg(long, env = "HUB_TOKEN_FILE", value_name = "PATH")]
    pub token_file: Option<PathBuf>,

    /// Join a cluster of hubs through this Redis (7 or newer), e.g. redis://127.0.0.1:6379. Events then
    /// reach sockets on every hub that uses the same Redis. Without it the hub runs alone, in memory.
    #[arg(long, env = "HUB_REDIS_URL", hide_env_values = true, value_name = "URL")]
    pub redis_url: Option<String>,
}

impl Config {
    /// A configuration for tests and embedding: listen on `bind` with a fixed publish token.
    pub fn with_token(bind: SocketAddr, token: impl Into<String>) -> Self {
        Self { bind, publish_token: Some(token.into()), token_file: None, redis_url: None }
    }
}
