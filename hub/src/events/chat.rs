//! `chat`: a message to the other members of a room the sender has joined, recorded in the room's
//! history, and sent to the application's webhook (by the hub that accepted it: once per cluster).

use std::sync::Arc;

use hub_protocol::names::check_chat_text;
use hub_protocol::{
    ChatAck, ChatMessage, ChatRequest, ErrorCode, Rejection, RoomName, WebhookEvent, WebhookEventName, events,
};
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Extension, SocketRef, State, TryData};

use super::{malformed, reply};
use crate::delivery;
use crate::delivery::joined_rooms::JoinedRooms;
use crate::history::announcement::Audience;
use crate::history::{Event, Position, StreamKey, now_ms};
use crate::policy::identity::Identity;
use crate::policy::limits::{Action, SocketRate};
use crate::state::HubState;

pub async fn chat<A: Adapter>(
    socket: SocketRef<A>,
    Extension(identity): Extension<Identity>,
    Extension(rate): Extension<SocketRate>,
    Extension(joined): Extension<Arc<JoinedRooms>>,
    State(hub): State<HubState>,
    TryData(request): TryData<ChatRequest>,
    ack: AckSender<A>,
) {
    let outcome = async {
        hub.limits.check_rate(&rate, Action::Chat)?;
        let request = request.map_err(|_| malformed(events::CHAT, r#"{"room": string, "text": string}"#))?;
        let room = RoomName::parse(request.room)?;
        check_chat_text(&request.text)?;
        if !joined.contains(room.as_str()) {
            return Err(Rejection::new(
                ErrorCode::NotInRoom,
                format!("join room {:?} before chatting in it", room.as_str()),
            ));
        }
        let key = StreamKey::room(socket.ns(), room.as_str());
        let ts = now_ms();
        let (user, text) = (identity.user.into_string(), request.text);
        let event = Event::Chat { user: user.clone(), text: text.clone() };
        let webhook = hub.webhooks.wants(WebhookEventName::Chat).then(|| WebhookEvent::Chat {
            namespace: socket.ns().to_owned(),
            room: room.as_str().to_owned(),
            user: user.clone(),
            text: text.clone(),
            ts,
        });
        let shared = hub.history.shared();
        // In a cluster that keeps history, Redis records the message and announces it to every hub,
        // which deliver it to their members of the room (`delivery::dispatch`).
        if let Some(shared) = shared {
            let audience = Audience { key: key.clone(), earlier: Vec::new(), sender: Some(socket.id) };
            if let Ok(Some(Position { offset, epoch })) = shared.announce(&audience, ts, &event, true).await {
                let (offset, epoch) = (Some(offset), Some(epoch.to_string()));
                if let Some(webhook) = webhook {
                    hub.webhooks.send(webhook);
                }
                return Ok(ChatAck { ts, offset, epoch, partial: false });
            }
            // Redis is unreachable: to this hub's members only, unrecorded.
            shared.broke(&key);
        }
        // Recorded and delivered within the room's turn: its members get its messages in offset order.
        let _turn = hub.history.turn(&key).await;
        let position = match shared {
            Some(_) => None,
            None => hub.history.record(&key, ts, event).await?,
        };
        let (offset, epoch) = match position {
            Some(Position { offset, epoch }) => (Some(offset), Some(epoch.to_string())),
            None => (None, None),
        };
        let message = ChatMessage { room: room.into_string(), text, user, ts, offset, epoch };
        let members = || {
            let room = socket.to(message.room.clone());
            if shared.is_some() { room.local() } else { room }
        };
        let reached = delivery::emit(members, events::CHAT, &message).await?;
        // Once the message is accepted, and only then.
        if let Some(webhook) = webhook {
            hub.webhooks.send(webhook);
        }
        let ChatMessage { offset, epoch, .. } = message;
        let partial = reached.scope.is_partial() || shared.is_some();
        Ok(ChatAck { ts, offset, epoch, partial })
    };
    reply(&socket, ack, events::CHAT, outcome.await);
}
