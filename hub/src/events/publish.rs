//! `publish` and direct emits: publishers push events to rooms or to the whole namespace.

use std::time::Instant;

use hub_protocol::{Argument, Arguments, ErrorCode, PublishRequest, Rejection, events};
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Event, Extension, SocketRef, State, TryData};

use super::{malformed, reply};
use crate::delivery::publishing::{Publication, Via, published};
use crate::policy::identity::Identity;
use crate::policy::limits::{Action, SocketRate};
use crate::state::HubState;

/// `publish` `[{"event":E,"data":D,"rooms":[...]}]`: emits E with the one argument D.
pub async fn publish<A: Adapter>(
    socket: SocketRef<A>,
    Extension(identity): Extension<Identity>,
    Extension(rate): Extension<SocketRate>,
    State(hub): State<HubState>,
    TryData(request): TryData<PublishRequest<Argument>>,
    ack: AckSender<A>,
) {
    let started = Instant::now();
    let outcome = async {
        require_publisher(&identity, events::PUBLISH)?;
        hub.limits.check_rate(&rate, Action::Publish)?;
        let request = request.map_err(|_| {
            malformed(events::PUBLISH, r#"{"event": string, "data": any, "rooms": [string]}"#)
        })?;
        let publication = Publication::parse(request, socket.ns(), &hub.limits)?;
        let delivered = publication
            .deliver(|| socket.broadcast(), Some(socket.id), socket.ns(), &hub.history, &hub.mode)
            .await?;
        let via = Via::Socket(&socket.id.to_string());
        Ok(published(via, &publication.event, &publication.target, delivered, started))
    };
    reply(&socket, ack, events::PUBLISH, outcome.await);
}

/// Any other event from a publisher (Elephant.io style, e.g. `foo` `["bar"]`) goes to the whole namespace
/// with its arguments unchanged, binary ones included.
pub async fn direct_emit<A: Adapter>(
    socket: SocketRef<A>,
    Event(event): Event,
    Extension(identity): Extension<Identity>,
    Extension(rate): Extension<SocketRate>,
    State(hub): State<HubState>,
    TryData(arguments): TryData<Arguments>,
    ack: AckSender<A>,
) {
    let started = Instant::now();
    let outcome = async {
        require_publisher(&identity, &event)?;
        hub.limits.check_rate(&rate, Action::Publish)?;
        let arguments = arguments.map_err(|_| malformed(&event, "JSON or binary arguments"))?;
        let publication = Publication::direct(&event, arguments, socket.ns(), &hub.limits)?;
        let delivered = publication
            .deliver(|| socket.broadcast(), Some(socket.id), socket.ns(), &hub.history, &hub.mode)
            .await?;
        let via = Via::Socket(&socket.id.to_string());
        Ok(published(via, &publication.event, &publication.target, delivered, started))
    };
    reply(&socket, ack, &event, outcome.await);
}

fn require_publisher(identity: &Identity, event: &str) -> Result<(), Rejection> {
    if identity.publisher {
        Ok(())
    } else if event == events::PUBLISH {
        Err(Rejection::new(
            ErrorCode::Forbidden,
            "only publishers may publish: connect with the hub's publish token",
        ))
    } else {
        Err(Rejection::new(
            ErrorCode::Forbidden,
            format!("`{event}` is not an event of this hub; only publishers may emit other events"),
        ))
    }
}
