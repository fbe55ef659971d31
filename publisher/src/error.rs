//! What can go wrong when publishing, and the exit code each failure maps to.

use std::time::Duration;

use hub_protocol::Rejection;

/// What the publisher was waiting for when time ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The hub accepting the connection to the namespace.
    Connect,
    /// The hub's ack of a published event.
    Ack,
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stage::Connect => "the hub to accept the connection",
            Stage::Ack => "the hub's confirmation",
        })
    }
}

/// Why a publish did not reach the hub or was refused by it.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The URL cannot be used.
    #[error("invalid hub URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// The hub answered the connection with `connect_error` (e.g. an invalid publish token).
    #[error("the hub refused the connection: {0}")]
    ConnectRefused(String),
    /// The hub acked the event with an error.
    #[error("the hub refused the event: {0}")]
    Refused(Rejection),
    /// The hub could not be reached, or the connection broke while connecting.
    #[error("cannot connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    /// The event is larger than the hub reads: it was not sent (the hub would close the connection).
    #[error(
        "the event is too large for the hub (too_large): its frame would be {frame} bytes, over the {limit} \
         bytes the hub reads (twice its --max-payload); send less data, or raise the hub's --max-payload"
    )]
    TooLarge { frame: usize, limit: usize },
    /// The connection closed before the hub's ack arrived.
    #[error("the connection closed before {0}")]
    ConnectionLost(Stage),
    #[error("timed out after {after:?} waiting for {stage}")]
    Timeout { stage: Stage, after: Duration },
    /// The hub answered with something that is not in the wire contract.
    #[error("unexpected answer from the hub: {0}")]
    Protocol(String),
}

impl PublishError {
    /// Whether trying again might help: the hub was not reached at all. Nothing was sent then, so a retry
    /// cannot deliver an event twice.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            PublishError::Connect { .. }
                | PublishError::ConnectionLost(Stage::Connect)
                | PublishError::Timeout { stage: Stage::Connect, .. }
        )
    }

    pub fn exit_code(&self) -> ExitCode {
        match self {
            // The hub's own rule, as when it acks `too_large` itself: sending again would not help.
            PublishError::ConnectRefused(_) | PublishError::Refused(_) | PublishError::TooLarge { .. } => {
                ExitCode::Refused
            }
            PublishError::InvalidUrl { .. } => ExitCode::Usage,
            PublishError::Connect { .. }
            | PublishError::ConnectionLost(_)
            | PublishError::Timeout { .. }
            | PublishError::Protocol(_) => ExitCode::Unreachable,
        }
    }
}

/// The `publish` command's exit codes, part of its interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitCode {
    /// 0: the hub confirmed every event.
    Delivered = 0,
    /// 1: the hub refused (forbidden, bad_request, invalid token, too large, ...); its message is printed.
    Refused = 1,
    /// 2: usage or input error (bad flags, invalid --json, unreadable file, a line not in UTF-8).
    Usage = 2,
    /// 3: could not connect, the connection broke, or time ran out.
    Unreachable = 3,
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code as u8)
    }
}
