//! Emitting to a selection of sockets and counting how many it reached.
//!
//! The count is the number of sockets the selection held, less those whose send failed (a closed
//! socket, a full buffer). Failures are logged, so no message is lost without anyone being told.

use std::fmt;

use hub_protocol::{ErrorCode, Rejection, RoomName};
use serde::Serialize;
use socketioxide::BroadcastError;
use socketioxide::adapter::Adapter;
use socketioxide::operators::BroadcastOperators;

/// Where a published event goes.
#[derive(Debug, Clone)]
pub enum Target {
    /// Every socket of the namespace but the sender.
    Namespace(String),
    /// Every socket in any of the rooms but the sender.
    Rooms(Vec<RoomName>),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Namespace(ns) => write!(f, "namespace {ns}"),
            Target::Rooms(rooms) => {
                f.write_str("rooms ")?;
                for (i, room) in rooms.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{:?}", room.as_str())?;
                }
                Ok(())
            }
        }
    }
}

/// Delivery failed as a whole (the adapter could not broadcast at all).
#[derive(Debug, thiserror::Error)]
#[error("delivery failed: {0}")]
pub struct DeliveryError(String);

impl From<DeliveryError> for Rejection {
    fn from(e: DeliveryError) -> Self {
        Rejection::new(ErrorCode::Unavailable, e.to_string())
    }
}

/// How many sockets `select` currently picks.
pub async fn count<A: Adapter>(select: BroadcastOperators<A>) -> Result<usize, DeliveryError> {
    select.fetch_sockets().await.map(|sockets| sockets.len()).map_err(|e| DeliveryError(e.to_string()))
}

/// Emits `event` with `data` to the sockets `select` picks; returns how many sends failed (each is logged).
pub async fn emit<A, T>(select: BroadcastOperators<A>, event: &str, data: &T) -> Result<usize, DeliveryError>
where
    A: Adapter,
    T: Serialize + ?Sized,
{
    match select.emit(event, data).await {
        Ok(()) => Ok(0),
        Err(BroadcastError::Socket(failures)) => {
            for failure in &failures {
                tracing::warn!(event, "event not delivered to a socket: {failure}");
            }
            Ok(failures.len())
        }
        Err(e) => Err(DeliveryError(e.to_string())),
    }
}

/// Emits like [`emit`], and returns how many sockets the event was emitted to.
///
/// `select` is called twice, once to count and once to emit, because socketioxide's operators are
/// consumed by use.
pub async fn emit_counted<A, T>(
    select: impl Fn() -> BroadcastOperators<A>,
    event: &str,
    data: &T,
) -> Result<usize, DeliveryError>
where
    A: Adapter,
    T: Serialize + ?Sized,
{
    let targets = count(select()).await?;
    if targets == 0 {
        return Ok(0);
    }
    let failed = emit(select(), event, data).await?;
    Ok(targets.saturating_sub(failed))
}
