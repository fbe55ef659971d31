//! The hub's events, one file each, and the one place they are registered.
//!
//! Every handler runs through the socket's [`EventQueue`], so one socket's events are handled in the
//! order they arrived (see [`in_order`]).

mod chat;
mod echo;
mod in_order;
mod publish;
mod recovery;
mod rooms;
mod who;

use std::future::{Ready, ready};
use std::sync::Arc;

use hub_protocol::{Ack, Argument, Arguments, ChatRequest, PublishRequest, Rejection, events};
use serde::Serialize;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Event, Extension, SocketRef, State, TryData};

pub use in_order::EventQueue;
pub use recovery::{CatchUp, begin as begin_catch_up};

use crate::delivery::joined_rooms::JoinedRooms;
use crate::delivery::slow_consumers;
use crate::policy::identity::Identity;
use crate::policy::limits::SocketRate;
use crate::state::HubState;
use crate::telemetry::metrics;

/// A handler for socketioxide that extracts its arguments (`name: Extractor`, in order, the socket
/// first) when the event arrives and hands `handler(arguments)` to the socket's [`EventQueue`]. The
/// queue lives in the socket's extensions rather than in the closure: a closure that holds nothing costs
/// no allocation per socket.
macro_rules! in_order {
    ($handler:expr, $socket:ident: $socket_type:ty $(, $argument:ident: $extractor:ty)* $(,)?) => {
        |Extension(queue): Extension<Arc<EventQueue>>, $socket: $socket_type, $($argument: $extractor),*| {
            let owner = $socket.clone();
            handled(&queue, owner, $handler($socket, $($argument),*))
        }
    };
}

/// Registers every event handler on a socket being admitted. socketioxide calls these closures in the
/// order the events arrive; each hands its handler to the socket's queue and returns.
pub fn register<A: Adapter>(socket: &SocketRef<A>) {
    socket.extensions.insert(Arc::new(EventQueue::default()));
    socket.on(
        events::JOIN,
        in_order!(rooms::join, socket: SocketRef<A>, request: TryData<rooms::JoinRequest>, hub: State<HubState>,
            identity: Extension<Identity>, rate: Extension<SocketRate>, joined: Extension<Arc<JoinedRooms>>,
            ack: AckSender<A>),
    );
    socket.on(
        events::LEAVE,
        in_order!(rooms::leave, socket: SocketRef<A>, room: TryData<String>, hub: State<HubState>,
            identity: Extension<Identity>, rate: Extension<SocketRate>, joined: Extension<Arc<JoinedRooms>>,
            ack: AckSender<A>),
    );
    socket.on(
        events::CHAT,
        in_order!(chat::chat, socket: SocketRef<A>, identity: Extension<Identity>, rate: Extension<SocketRate>,
            joined: Extension<Arc<JoinedRooms>>, hub: State<HubState>, request: TryData<ChatRequest>,
            ack: AckSender<A>),
    );
    socket.on(
        events::WHO,
        in_order!(who::who, socket: SocketRef<A>, io: SocketIo<A>, room: TryData<String>, hub: State<HubState>,
            identity: Extension<Identity>, rate: Extension<SocketRate>, joined: Extension<Arc<JoinedRooms>>,
            ack: AckSender<A>),
    );
    socket.on(
        events::ECHO,
        in_order!(echo::echo, socket: SocketRef<A>, arguments: TryData<Arguments>, ack: AckSender<A>),
    );
    socket.on(
        events::PUBLISH,
        in_order!(publish::publish, socket: SocketRef<A>, identity: Extension<Identity>,
            rate: Extension<SocketRate>, hub: State<HubState>,
            request: TryData<PublishRequest<Argument>>, ack: AckSender<A>),
    );
    socket.on_fallback(in_order!(publish::direct_emit, socket: SocketRef<A>, event: Event,
        identity: Extension<Identity>, rate: Extension<SocketRate>, hub: State<HubState>,
        arguments: TryData<Arguments>, ack: AckSender<A>));
}

/// Queues the namespace replay a socket asked for at CONNECT ([`recovery`]) before its events.
pub fn catch_up<A: Adapter>(socket: &SocketRef<A>, hub: &HubState, identity: Identity) {
    let Some(CatchUp(options, admitted_ms)) = socket.extensions.remove::<CatchUp>() else { return };
    let Some(queue) = socket.extensions.get::<Arc<EventQueue>>() else { return };
    let work = recovery::catch_up(socket.clone(), hub.clone(), identity, options, admitted_ms);
    // The future `handled` returns is socketioxide's to spawn; here the work is queued already.
    drop(handled(&queue, socket.clone(), work));
}

/// Queues `work` and gives socketioxide a future that is already done, to spawn in place of the work.
/// A socket whose queue is full is disconnected: its event cannot be handled, and it is told so.
fn handled<A: Adapter>(
    queue: &Arc<EventQueue>,
    socket: SocketRef<A>,
    work: impl Future<Output = ()> + Send + 'static,
) -> Ready<()> {
    if let Err(full) = queue.run(work) {
        tracing::warn!(sid = %socket.id, "socket disconnected: it sends faster than its events are handled ({full})");
        let _ = socket.disconnect();
    }
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
    let sent = ack.send(&Ack::from(outcome));
    if let Err(e) = &sent {
        tracing::debug!(sid = %socket.id, event, "ack not sent: {e}");
    }
    slow_consumers::check_send(socket, &sent);
}

/// The refusal for a payload that does not have the shape `event` expects.
fn malformed(event: &str, expected: &str) -> Rejection {
    Rejection::bad_request(format!("`{event}` expects {expected}"))
}
