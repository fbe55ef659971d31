//! Emitting to a selection of sockets and counting how many it reached.
//!
//! The count is the number of sockets the selection held, less those whose send failed (a closed
//! socket, a full send queue). A socket whose queue was full is disconnected as a [slow
//! consumer](slow_consumers), so that it never misses an event unknowingly. Sends to closing sockets are
//! logged, one line a second at most, counting the others (`held_back`).
//!
//! In a cluster, when the other nodes cannot be reached (Redis is down), every operation falls back to
//! this node's own sockets and reports [`Scope::ThisNode`]: local clients keep being served. An
//! operation during which a message between the nodes was lost ([`link`]), or that waited out the
//! request timeout for a node's answer, reports [`Scope::Incomplete`].

pub mod audience;
pub mod cluster;
pub mod dispatch;
pub mod joined_rooms;
pub mod link;
pub mod membership;
pub mod meta_rooms;
pub mod mode;
pub mod occupancy;
pub mod presence;
pub mod publishing;
pub mod replay;
pub mod room_sizes;
pub mod slow_consumers;

use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

use hub_protocol::{ErrorCode, Rejection};
use serde::Serialize;
use socketioxide::adapter::Adapter;
use socketioxide::operators::BroadcastOperators;
use socketioxide::{AdapterError, BroadcastError};

use crate::telemetry::log_throttle::LogThrottle;
use crate::telemetry::metrics;

/// At most one warning a minute about results that may have missed another node.
static INCOMPLETE_WARNING: LogThrottle = LogThrottle::new(Duration::from_secs(60));

/// Delivery failed as a whole, even to this node's own sockets.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("delivery failed: {0}")]
    Broadcast(#[from] BroadcastError),
    #[error("counting failed: {0}")]
    Count(#[from] AdapterError),
}

impl From<crate::history::HistoryError> for Rejection {
    fn from(e: crate::history::HistoryError) -> Self {
        Rejection::new(ErrorCode::Unavailable, e.to_string())
    }
}

impl From<DeliveryError> for Rejection {
    fn from(e: DeliveryError) -> Self {
        Rejection::new(ErrorCode::Unavailable, e.to_string())
    }
}

/// How far an operation reached, from the best to the worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Every node (a lone hub is its whole cluster).
    Cluster,
    /// Every node as far as this node knows, but a message between the nodes was lost meanwhile or a
    /// node did not answer in time: a count may be low, a broadcast may have missed a node.
    Incomplete,
    /// Only this node's sockets: the link to the other nodes is down.
    ThisNode,
}

impl Scope {
    /// Whether the result may leave out sockets of other nodes (`partial` in acks).
    pub fn is_partial(self) -> bool {
        self != Scope::Cluster
    }
}

/// A result, and how far it reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reached<T> {
    pub value: T,
    pub scope: Scope,
}

impl Reached<usize> {
    /// Both counts added up; reached as far as the shorter of the two.
    pub fn and(self, other: Reached<usize>) -> Reached<usize> {
        Reached { value: self.value + other.value, scope: self.scope.max(other.scope) }
    }
}

/// Runs `op` on `select()`; if the adapter fails (Redis is down), runs it again on this node's sockets
/// only, and says so in the log.
async fn with_fallback<A, T, E, F, Fut>(
    select: impl Fn() -> BroadcastOperators<A>,
    what: &str,
    op: F,
) -> Result<Reached<T>, DeliveryError>
where
    A: Adapter,
    E: fmt::Display + Into<DeliveryError>,
    F: Fn(BroadcastOperators<A>) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let (lost_before, started) = (link::lost_messages(), Instant::now());
    match op(select()).await {
        Ok(value) => {
            // Only an answer that never came makes a cluster operation last the request timeout.
            let lost = link::lost_messages() != lost_before;
            let late = started.elapsed() >= cluster::REQUEST_TIMEOUT;
            if !lost && !late {
                return Ok(Reached { value, scope: Scope::Cluster });
            }
            if let Some(held_back) = INCOMPLETE_WARNING.due(Instant::now()) {
                let why =
                    if lost { "a message between the hubs was lost" } else { "a hub did not answer in time" };
                tracing::warn!(held_back, "{what} may have missed another hub's sockets: {why}");
            }
            Ok(Reached { value, scope: Scope::Incomplete })
        }
        Err(cluster_error) => {
            tracing::warn!(
                "{what} reached this node only: the other nodes are unreachable ({cluster_error})"
            );
            let value = op(select().local()).await.map_err(Into::into)?;
            Ok(Reached { value, scope: Scope::ThisNode })
        }
    }
}

/// How many sockets `select` currently picks.
pub async fn count<A: Adapter>(
    select: impl Fn() -> BroadcastOperators<A>,
) -> Result<Reached<usize>, DeliveryError> {
    let count = |op: BroadcastOperators<A>| async move {
        op.fetch_sockets().await.map(|sockets| sockets.len()).map_err(Into::<AdapterError>::into)
    };
    with_fallback(select, "a member count", count).await
}

/// Emits `event` with `data` to the sockets `select` picks; returns how many sends failed. Sockets whose
/// send queue was full are disconnected as [slow consumers](slow_consumers).
pub async fn emit<A, T>(
    select: impl Fn() -> BroadcastOperators<A>,
    event: &str,
    data: &T,
) -> Result<Reached<usize>, DeliveryError>
where
    A: Adapter,
    T: Serialize + ?Sized,
{
    // Counted once the broadcast happened, so that a cluster attempt that fell back is not counted twice.
    let send = |op: BroadcastOperators<A>| async {
        match op.emit(event, data).await {
            Ok(()) => {
                metrics::event_emitted(event);
                Ok(0)
            }
            Err(BroadcastError::Socket(failures)) => {
                metrics::event_emitted(event);
                let full = slow_consumers::full_queues(&failures);
                if full > 0 {
                    // Failures name no socket: those of this node's sockets whose queue is full now.
                    slow_consumers::disconnect_full(select().sockets(), full);
                }
                if full < failures.len() {
                    static NOT_DELIVERED: LogThrottle = LogThrottle::new(Duration::from_secs(1));
                    if let Some(held_back) = NOT_DELIVERED.due(Instant::now()) {
                        let closed = failures.len() - full;
                        tracing::warn!(event, held_back, "event not delivered to {closed} closing socket(s)");
                    }
                }
                Ok(failures.len())
            }
            Err(e) => Err(e),
        }
    };
    with_fallback(&select, event, send).await
}

/// Emits like [`emit`], and returns how many sockets the event was emitted to.
///
/// `select` is called more than once (to count, to emit) because socketioxide's operators are consumed
/// by use.
pub async fn emit_counted<A, T>(
    select: impl Fn() -> BroadcastOperators<A>,
    event: &str,
    data: &T,
) -> Result<Reached<usize>, DeliveryError>
where
    A: Adapter,
    T: Serialize + ?Sized,
{
    let targets = count(&select).await?;
    if targets.value == 0 {
        return Ok(targets);
    }
    // Emitted with the same scope as counted, so that the count matches the receivers.
    let failed = match targets.scope {
        Scope::Cluster | Scope::Incomplete => emit(&select, event, data).await?,
        Scope::ThisNode => emit(|| select().local(), event, data).await?,
    };
    Ok(Reached { value: targets.value.saturating_sub(failed.value), scope: targets.scope.max(failed.scope) })
}
