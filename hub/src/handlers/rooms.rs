//! `join` and `leave`: room membership, acked with the room's size afterwards.

use hub_protocol::{RoomAck, RoomName, events};
use socketioxide::ParserError;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, SocketRef, TryData};

use super::{malformed, reply};
use crate::delivery;

pub async fn join<A: Adapter>(socket: SocketRef<A>, TryData(room): TryData<String>, ack: AckSender<A>) {
    let outcome = async {
        let room = parse(events::JOIN, room)?;
        socket.join(room.as_str().to_owned());
        members(&socket, room).await
    };
    reply(&socket, ack, events::JOIN, outcome.await);
}

pub async fn leave<A: Adapter>(socket: SocketRef<A>, TryData(room): TryData<String>, ack: AckSender<A>) {
    let outcome = async {
        let room = parse(events::LEAVE, room)?;
        socket.leave(room.as_str().to_owned());
        members(&socket, room).await
    };
    reply(&socket, ack, events::LEAVE, outcome.await);
}

fn parse(event: &str, room: Result<String, ParserError>) -> Result<RoomName, hub_protocol::Rejection> {
    RoomName::parse(room.map_err(|_| malformed(event, "one argument: the room name as a string"))?)
}

async fn members<A: Adapter>(
    socket: &SocketRef<A>,
    room: RoomName,
) -> Result<RoomAck, hub_protocol::Rejection> {
    let members = delivery::count(socket.within(room.as_str().to_owned())).await?;
    Ok(RoomAck { room: room.into_string(), members })
}
