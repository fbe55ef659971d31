//! Errors that stop the hub from starting or serving.

use std::path::PathBuf;

/// Why the hub could not start or keep serving.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: std::net::SocketAddr, source: std::io::Error },
    #[error("the publish token must not be empty")]
    EmptyToken,
    #[error("no directory for the publish token file: set HOME, XDG_RUNTIME_DIR or --token-file")]
    NoTokenDir,
    #[error("cannot write the publish token file {path}: {source}")]
    TokenFile { path: PathBuf, source: std::io::Error },
    #[error("unsafe place for the publish token file: {0}")]
    TokenDir(#[from] hub_protocol::token_file::TokenFileError),
    #[error(transparent)]
    Cluster(#[from] crate::cluster::ClusterError),
    #[error("server error: {0}")]
    Serve(#[from] std::io::Error),
}
