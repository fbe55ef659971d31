//! The hub's events, one file each, and the one place they are registered.
//!
//! Every handler runs through the socket's [`EventQueue`], so one socket's events are handled in the
//! order they arrived (see [`in_order`]).

mod chat;
mod echo;
mod in_order;
mod publish;
mod rooms;

use std::future::{Ready, ready};
use std::sync::Arc;

use hub_protocol::{Ack, Arguments, ChatRequest, PublishRequest, Rejection, events};
use serde::Serialize;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Event, Extension, SocketRef, State, TryData};

pub use in_order::EventQueue;

use crate::limits::SocketRate;
use crate::metrics;
use crate::session::{HubState, Identity};

/// Registers every event handler on a socket being admitted. socketioxide calls these closures in the
/// order the events arrive; each hands its handler to the socket's queue and returns.
pub fn register<A: Adapter>(socket: &SocketRef<A>) {
    socket.extensions.insert(Arc::new(EventQueue::default()));
    socket.on(
        events::JOIN,
        |socket: SocketRef<A>,
         Extension(queue): Extension<Arc<EventQueue>>,
         room: TryData<String>,
         hub: State<HubState>,
         identity: Extension<Identity>,
         ack: AckSender<A>| { handled(&queue, rooms::join(socket, room, hub, identity, ack)) },
    );
    socket.on(
        events::LEAVE,
        |socket: SocketRef<A>,
         Extension(queue): Extension<Arc<EventQueue>>,
         room: TryData<String>,
         hub: State<HubState>,
         ack: AckSender<A>| { handled(&queue, rooms::leave(socket, room, hub, ack)) },
    );
    socket.on(
        events::CHAT,
        |socket: SocketRef<A>,
         Extension(queue): Extension<Arc<EventQueue>>,
         identity: Extension<Identity>,
         rate: Extension<SocketRate>,
         hub: State<HubState>,
         request: TryData<ChatRequest>,
         ack: AckSender<A>| {
            handled(&queue, chat::chat(socket, identity, rate, hub, request, ack))
        },
    );
    socket.on(
        events::ECHO,
        |socket: SocketRef<A>,
         Extension(queue): Extension<Arc<EventQueue>>,
         arguments: TryData<Arguments>,
         ack: AckSender<A>| { handled(&queue, echo::echo(socket, arguments, ack)) },
    );
    socket.on(
        events::PUBLISH,
        |socket: SocketRef<A>,
         Extension(queue): Extension<Arc<EventQueue>>,
         identity: Extension<Identity>,
         rate: Extension<SocketRate>,
         hub: State<HubState>,
         request: TryData<PublishRequest<hub_protocol::Argument>>,
         ack: AckSender<A>| {
            handled(&queue, publish::publish(socket, identity, rate, hub, request, ack))
        },
    );
    socket.on_fallback(
        |socket: SocketRef<A>,
         Extension(queue): Extension<Arc<EventQueue>>,
         event: Event,
         identity: Extension<Identity>,
         rate: Extension<SocketRate>,
         hub: State<HubState>,
         arguments: TryData<Arguments>,
         ack: AckSender<A>| {
            handled(&queue, publish::direct_emit(socket, event, identity, rate, hub, arguments, ack))
        },
    );
}

/// Queues `work` and gives socketioxide a future that is already done, to spawn in place of the work.
fn handled(queue: &Arc<EventQueue>, work: impl Future<Output = ()> + Send + 'static) -> Ready<()> {
    queue.run(work);
    ready(())
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
