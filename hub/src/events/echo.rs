//! `echo`: acks with exactly the arguments it was sent, however many, binary ones as binary (the
//! classic echo server).

use hub_protocol::Arguments;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, SocketRef, TryData};

pub async fn echo<A: Adapter>(
    socket: SocketRef<A>,
    TryData(arguments): TryData<Arguments>,
    ack: AckSender<A>,
) {
    crate::telemetry::metrics::event_received(hub_protocol::events::ECHO);
    match arguments {
        Ok(arguments) => {
            if let Err(e) = ack.send(&arguments) {
                tracing::debug!(sid = %socket.id, "echo ack not sent: {e}");
            }
        }
        Err(e) => tracing::debug!(sid = %socket.id, "echo with unreadable arguments: {e}"),
    }
}
