//! Errors that stop the hub from starting or serving.

/// Why the hub could not start or keep serving.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: std::net::SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Token(#[from] crate::policy::token::TokenError),
    #[error(transparent)]
    SignIn(#[from] crate::policy::app_sign_in::SetupError),
    #[error(transparent)]
    Cluster(#[from] crate::delivery::cluster::ClusterError),
    #[error(transparent)]
    Webhooks(#[from] crate::webhooks::ClientError),
    #[error("server error: {0}")]
    Serve(#[from] std::io::Error),
}
