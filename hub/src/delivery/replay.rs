//! Sending one socket the recorded events it asked for, each exactly as it was sent live: a `chat`
//! message with its offset and epoch, a published event with exactly its arguments, and its
//! [`EventMeta`] after them for a socket that asked for metadata.

use std::sync::Arc;

use hub_protocol::{WithTrailing, events};
use socketioxide::SendError;
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;

use super::{audience, slow_consumers};
use crate::history::{Event, Position, Record, StreamKey};

/// Sends `records` of `key`'s stream (at `position`) to `socket`, oldest first. Stops at the first event
/// that cannot be queued: the socket is gone, or its send queue is full, and is then disconnected as a
/// [slow consumer](super::slow_consumers).
pub fn send<A: Adapter>(
    socket: &SocketRef<A>,
    meta: bool,
    key: &StreamKey,
    position: &Position,
    records: &[Arc<Record>],
) -> Result<(), SendError> {
    let sent = send_each(socket, meta, key, position, records);
    slow_consumers::check_send(socket, &sent);
    sent
}

fn send_each<A: Adapter>(
    socket: &SocketRef<A>,
    meta: bool,
    key: &StreamKey,
    position: &Position,
    records: &[Arc<Record>],
) -> Result<(), SendError> {
    for record in records {
        match &record.event {
            Event::Chat { user, text } => {
                socket.emit(events::CHAT, &record.chat_message(key, &position.epoch, user, text))?;
            }
            Event::Published { event, arguments } if meta => {
                let recorded = Position { offset: record.offset, epoch: Arc::clone(&position.epoch) };
                let meta = audience::meta(key, Some(&recorded));
                socket.emit(event.clone(), &WithTrailing(&**arguments, &meta))?;
            }
            Event::Published { event, arguments } => socket.emit(event.clone(), &**arguments)?,
        }
    }
    Ok(())
}
