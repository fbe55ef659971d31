//! Slow consumers: sockets whose send queue is full, disconnected so that they never miss an event
//! unknowingly.
//!
//! Each socket's send queue holds [`SEND_QUEUE_PACKETS`] packets. An event, `members` count or ack that
//! finds it full is dropped for that socket alone, which would otherwise stay connected with a gap it
//! cannot see.
//! So the hub disconnects it instead, once, in this order:
//!
//! 1. It counts it (`hub_slow_consumers_disconnected_total`) and logs it, one line a second at most.
//! 2. It takes it out of its rooms in the adapter, so that no later room event is queued behind the gap
//!    and the queue can drain. The hub's own record of its rooms stays: the disconnect clears it, as for
//!    any socket.
//! 3. Once its queue has room again (the client reads), it queues the `slow_consumer` notice, then the
//!    DISCONNECT. A client that reads nothing more is closed by Engine.IO's heartbeat instead (its pong
//!    does not come, or its next ping cannot be queued either), at most `--ping-interval` +
//!    `--ping-timeout` after it stopped reading.
//!
//! Finding those sockets: socketioxide reports a failed broadcast as a list of errors without socket ids.
//! So after a broadcast with full-queue failures, the hub looks at this node's sockets of the same
//! selection and picks those whose queue is full now ([`queue_is_full`]). A socket that read between the
//! broadcast and that look is not found, and stays connected with the gap; such failures are counted
//! (`hub_slow_consumers_unidentified_total`, which should stay 0). The common path, a broadcast without
//! failures, is unchanged. The exact way needs socketioxide: docs/socketioxide-upstream.md, finding 8.

use std::time::{Duration, Instant};

use hub_protocol::SlowConsumer;
use hub_protocol::events::SLOW_CONSUMER;
use serde::ser::{Error as _, Serialize, Serializer};
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;
use socketioxide::{SendError, SocketError};

use crate::config::SEND_QUEUE_PACKETS;
use crate::telemetry::log_throttle::LogThrottle;
use crate::telemetry::metrics;

/// Slow consumers are logged at most once per this interval; the line counts the others (`held_back`).
static DISCONNECTED: LogThrottle = LogThrottle::new(Duration::from_secs(1));
/// The same for full-queue failures whose socket was not found.
static UNIDENTIFIED: LogThrottle = LogThrottle::new(Duration::from_secs(1));

/// The first wait before trying again to queue the notice and the DISCONNECT; it doubles up to
/// [`LAST_RETRY`].
const FIRST_RETRY: Duration = Duration::from_millis(10);
const LAST_RETRY: Duration = Duration::from_secs(1);

/// Marks a socket that is being disconnected as a slow consumer (in its extensions), so that it is
/// counted and handled once however many sends fail for it meanwhile.
#[derive(Debug, Clone, Copy)]
struct Marked;

/// How many of a broadcast's `failures` found a full queue.
pub fn full_queues(failures: &[SocketError]) -> usize {
    failures.iter().filter(|failure| matches!(failure, SocketError::InternalChannelFull)).count()
}

/// After a broadcast to the selection whose sockets on this node are `sockets`, in which `full` sends
/// found a full queue: disconnects every socket of the selection whose queue is full.
pub fn disconnect_full<A: Adapter>(sockets: Vec<SocketRef<A>>, full: usize) {
    let mut found = 0;
    for socket in sockets.into_iter().filter(queue_is_full) {
        found += 1;
        disconnect(socket);
    }
    if found < full {
        let unidentified = full - found;
        metrics::slow_consumers_unidentified(unidentified);
        if let Some(held_back) = UNIDENTIFIED.due(Instant::now()) {
            tracing::warn!(
                unidentified,
                held_back,
                "an event was not queued for {unidentified} socket(s) whose queue was full, and the hub did \
                 not find them: they read meanwhile and stay connected, having missed it"
            );
        }
    }
}

/// After a send to `socket` itself (an ack) failed: disconnects it if that was for a full queue.
pub fn check_send<A: Adapter>(socket: &SocketRef<A>, result: &Result<(), SendError>) {
    if let Err(SendError::Socket(SocketError::InternalChannelFull)) = result {
        disconnect(socket.clone());
    }
}

/// Disconnects `socket`, whose send queue is full, as a slow consumer (see the module's doc); nothing if
/// that is under way already.
fn disconnect<A: Adapter>(socket: SocketRef<A>) {
    if socket.extensions.insert(Marked).is_some() {
        return;
    }
    metrics::slow_consumer_disconnected();
    if let Some(held_back) = DISCONNECTED.due(Instant::now()) {
        tracing::warn!(
            sid = %socket.id,
            ns = socket.ns(),
            held_back,
            "slow consumer disconnected: its send queue (--history-size + {SEND_QUEUE_PACKETS} packets) is \
             full, so it missed an event"
        );
    }
    socket.leave_all();
    tokio::spawn(notify_and_disconnect(socket));
}

/// Queues the notice, then the DISCONNECT, as soon as the queue has room for each. Ends when both are
/// queued or the socket is closed: a client that reads nothing keeps its queue full, so Engine.IO's next
/// ping fails to be queued and closes it.
async fn notify_and_disconnect<A: Adapter>(socket: SocketRef<A>) {
    let notice = SlowConsumer {
        message:
            "this connection did not read its events fast enough: its send queue was full, so events for \
             it were dropped. Reconnect, then rejoin your rooms with `since` to receive what you missed"
                .to_owned(),
    };
    let mut notified = false;
    let mut wait = FIRST_RETRY;
    while socket.connected() {
        if !notified {
            match socket.emit(SLOW_CONSUMER, &notice) {
                Ok(()) => notified = true,
                Err(SendError::Socket(SocketError::InternalChannelFull)) => {}
                Err(e) => {
                    tracing::debug!(sid = %socket.id, "slow consumer notice not sent: {e}");
                    notified = true;
                }
            }
        }
        if notified && !matches!(socket.clone().disconnect(), Err(SocketError::InternalChannelFull)) {
            return;
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(LAST_RETRY);
    }
}

/// Whether `socket`'s send queue is full, without sending anything. socketioxide's `SocketRef::emit`
/// takes a place in the queue before it serializes the data, and gives it back when serializing fails:
/// with [`Unsendable`] data it reports a full (or closed) queue, and otherwise queues nothing. (Were that
/// order ever reversed, this would find no socket full, and the end-to-end tests of slow consumers
/// would fail.)
fn queue_is_full<A: Adapter>(socket: &SocketRef<A>) -> bool {
    matches!(
        socket.emit(SLOW_CONSUMER, &Unsendable),
        Err(SendError::Socket(SocketError::InternalChannelFull))
    )
}

/// Data that refuses to be serialized.
struct Unsendable;

impl Serialize for Unsendable {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(S::Error::custom("a look at the send queue, never sent"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_full_queues_count() {
        let failures =
            [SocketError::InternalChannelFull, SocketError::Closed, SocketError::InternalChannelFull];
        assert_eq!(full_queues(&failures), 2);
        assert_eq!(full_queues(&[SocketError::Closed]), 0);
    }

    #[test]
    fn unsendable_data_never_serializes() {
        assert!(serde_json::to_string(&Unsendable).is_err());
    }
}
