//! `echo`: acks with exactly the arguments it was sent, however many, binary ones as binary (the
//! classic echo server).

use hub_protocol::Arguments;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, SocketRef, TryData};

use crate::delivery::slow_consumers;

pub async fn echo<A: Adapter>(
    socket: SocketRef<A>,
    TryData(arguments): TryData<Arguments>,
    ack: AckSender<A>,
) {
    crate::telemetry::metrics::event_received(hub_protocol::events::ECHO);
    match arguments {
        Ok(arguments) => {
            let sent = ack.send(&arguments);
            if let Err(e) = &sent {
                tracing::debug!(sid = %socket.id, "echo ack not sent: {e}");
            }
            slow_consumers::check_send(&socket, &sent);
        }
        Err(e) => tracing::debug!(sid = %socket.id, "echo with unreadable arguments: {e}"),
    }
}
