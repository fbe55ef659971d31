//! Where a hub that was given no publish token leaves the one it generated, so that `publish` run by the
//! same user on the same machine finds it without configuration.
//!
//! The file is `$XDG_RUNTIME_DIR/socketio-hub/publish-token-<port>` when `XDG_RUNTIME_DIR` is set (a
//! per-user directory that the system clears at logout), else
//! `$HOME/.local/state/socketio-hub/publish-token-<port>`. One file per port lets several hubs run side
//! by side. The hub creates the directory with mode 0700 and the file with mode 0600.

use std::path::PathBuf;

/// The directory that holds the token files, or `None` when neither variable is set.
pub fn token_dir() -> Option<PathBuf> {
    let from_env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    from_env("XDG_RUNTIME_DIR")
        .or_else(|| from_env("HOME").map(|home| home.join(".local").join("state")))
        .map(|base| base.join("socketio-hub"))
}

/// The token file of the hub listening on `port`.
pub fn default_token_file(port: u16) -> Option<PathBuf> {
    token_dir().map(|dir| dir.join(format!("publish-token-{port}")))
}
