//! `join` and `leave`: room membership (through [`membership`], the path the control API's joins take
//! too), acked with the room's size afterwards (and, for `join`, where the
//! room's history stands, after the recorded events the socket asked for) (counted as the hub's
//! [`Mode`](crate::delivery::mode::Mode) counts). The room's other members hear of a change through
//! [`presence`](crate::delivery::presence); a request that changes nothing (joining a room twice, leaving
//! one the socket is not in) is not a change, costs no rate and tells nobody.
//!
//! A socket learns a room's size only as a member: leaving a room it is not in is acked with 0, so a
//! socket cannot count the members of rooms it may not join (JWT `rooms` claim).

use std::sync::Arc;

use std::fmt;

use hub_protocol::{ErrorCode, JoinAck, JoinOptions, Rejection, RoomName, events};
use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use socketioxide::ParserError;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Extension, SocketRef, State, TryData};

use super::{malformed, reply};
use crate::delivery::joined_rooms::JoinedRooms;
use crate::delivery::membership;
use crate::policy::identity::Identity;
use crate::policy::limits::{Action, SocketRate};
use crate::state::HubState;

pub async fn join<A: Adapter>(
    socket: SocketRef<A>,
    TryData(request): TryData<JoinRequest>,
    State(hub): State<HubState>,
    Extension(identity): Extension<Identity>,
    Extension(rate): Extension<SocketRate>,
    Extension(joined): Extension<Arc<JoinedRooms>>,
    ack: AckSender<A>,
) {
    let checked = request
        .map_err(|_| malformed(events::JOIN, JOIN_SHAPE))
        .and_then(|JoinRequest(room, options)| Ok((RoomName::parse(room)?, options)))
        .and_then(|(room, options)| {
            if !identity.may_join(room.as_str()) {
                return Err(Rejection::new(
                    ErrorCode::Forbidden,
                    format!("your sign-in does not allow room {:?}", room.as_str()),
                ));
            }
            // Events of one socket run one at a time: only a disconnect can change its rooms meanwhile,
            // and `Mode::join` refuses a disconnected socket.
            // A join that asks for history costs a join even for a member: each one replays.
            if !identity.publisher && (!joined.contains(room.as_str()) || !options.is_empty()) {
                hub.limits.check_rate(&rate, Action::Join)?;
            }
            Ok((room, options))
        });
    match checked {
        Ok((room, options)) => {
            let then = |outcome| reply(&socket, ack, events::JOIN, outcome);
            membership::join(&socket, &hub, &identity, &joined, room, options, then).await;
        }
        Err(rejection) => reply(&socket, ack, events::JOIN, Err::<JoinAck, _>(rejection)),
    }
}

/// What `join` expects, for the refusal of anything else.
const JOIN_SHAPE: &str =
    r#"the room name, then optionally {"since": {"offset": N, "epoch": E}} or {"history": N}"#;

/// `join`'s arguments: the room, and what to send first.
#[derive(Debug)]
pub struct JoinRequest(String, JoinOptions);

impl<'de> Deserialize<'de> for JoinRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Arguments;
        impl<'de> Visitor<'de> for Arguments {
            type Value = JoinRequest;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(JOIN_SHAPE)
            }

            fn visit_seq<S: SeqAccess<'de>>(self, mut arguments: S) -> Result<JoinRequest, S::Error> {
                let room = arguments.next_element()?.ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let options = arguments.next_element::<Option<JoinOptions>>()?.flatten().unwrap_or_default();
                if arguments.next_element::<de::IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(3, &self));
                }
                Ok(JoinRequest(room, options))
            }
        }
        // Tuple-like, so that socketioxide hands over every argument rather than the first.
        deserializer.deserialize_tuple(2, Arguments)
    }
}

pub async fn leave<A: Adapter>(
    socket: SocketRef<A>,
    TryData(room): TryData<String>,
    State(hub): State<HubState>,
    Extension(identity): Extension<Identity>,
    Extension(rate): Extension<SocketRate>,
    Extension(joined): Extension<Arc<JoinedRooms>>,
    ack: AckSender<A>,
) {
    let outcome = async {
        let room = parse(events::LEAVE, room)?;
        if !identity.publisher && joined.contains(room.as_str()) {
            hub.limits.check_rate(&rate, Action::Join)?;
        }
        membership::leave(&socket, &hub, &joined, room).await.map(|(members, _)| members)
    };
    reply(&socket, ack, events::LEAVE, outcome.await);
}

fn parse(event: &str, room: Result<String, ParserError>) -> Result<RoomName, Rejection> {
    RoomName::parse(room.map_err(|_| malformed(event, "one argument: the room name as a string"))?)
}
