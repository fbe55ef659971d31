//! `chat`: a message to the other members of a room the sender has joined.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use hub_protocol::names::check_chat_text;
use hub_protocol::{ChatAck, ChatMessage, ChatRequest, ErrorCode, Rejection, RoomName, events};
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Extension, SocketRef, State, TryData};

use super::{malformed, reply};
use crate::delivery;
use crate::delivery::joined_rooms::JoinedRooms;
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
        let ts = now_millis();
        let message = ChatMessage {
            room: room.into_string(),
            text: request.text,
            user: identity.user.into_string(),
            ts,
        };
        delivery::emit(|| socket.to(message.room.clone()), events::CHAT, &message).await?;
        Ok(ChatAck { ts })
    };
    reply(&socket, ack, events::CHAT, outcome.await);
}

fn now_millis() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}
