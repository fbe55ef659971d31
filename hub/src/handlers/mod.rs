//! The hub's events, one file each, and the one place they are registered.

mod arguments;
mod chat;
mod echo;
mod publish;
mod rooms;

use hub_protocol::{Ack, Rejection, events};
use serde::Serialize;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, SocketRef};

use crate::metrics;

/// Registers every event handler on a socket being admitted.
pub fn register<A: Adapter>(socket: &SocketRef<A>) {
    socket.on(events::JOIN, rooms::join::<A>);
    socket.on(events::LEAVE, rooms::leave::<A>);
    socket.on(events::CHAT, chat::chat::<A>);
    socket.on(events::ECHO, echo::echo::<A>);
    socket.on(events::PUBLISH, publish::publish::<A>);
    socket.on_fallback(publish::direct_emit::<A>);
}

/// Sends the outcome of a request as its ack. Without an ack id, the outcome is only logged.
fn reply<A: Adapter, T: Serialize>(
    socket: &SocketRef<A>,
    ack: AckSender<A>,
    event: &str,
    outcome: Result<T, Rejection>,
) {
    metrics::event_received(event);
    if let Err(rejection) = &outcome {
        metrics::rejected(rejection.code);
        tracing::debug!(sid = %socket.id, event, code = %rejection.code, "request refused: {}", rejection.message);
    }
    if let Err(e) = ack.send(&Ack::from(outcome)) {
        tracing::debug!(sid = %socket.id, event, "ack not sent: {e}");
    }
}

/// The refusal for a payload that does not have the shape `event` expects.
fn malformed(event: &str, expected: &str) -> Rejection {
    Rejection::bad_request(format!("`{event}` expects {expected}"))
}
