//! No event is lost right after CONNECT: 1,000 fresh connections each emit the instant the hub's CONNECT
//! reply arrives, and every one gets its ack.
//!
//! This speaks Engine.IO v4 / Socket.IO v5 over a raw websocket, so nothing sits between the CONNECT
//! reply and the first event: the event is written the moment the reply is read.

use std::time::Duration;

use e2e::TestHub;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

const CONNECTIONS: usize = 1_000;
const IN_FLIGHT: usize = 100;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text frame that is not an Engine.IO ping.
async fn next_text(ws: &mut Socket) -> Result<String, String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) if text.as_str() == "2" => continue,
            Some(Ok(Message::Text(text))) => return Ok(text.to_string()),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("closed".to_owned()),
        }
    }
}

/// Opens a websocket session, connects to `/`, emits at once and returns the ack packet.
async fn connect_and_emit_at_once(port: u16, n: usize) -> Result<String, String> {
    let url = format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.map_err(|e| e.to_string())?;
    let open = next_text(&mut ws).await?;
    if !open.starts_with('0') {
        return Err(format!("expected the Engine.IO open packet, got {open}"));
    }
    ws.send(Message::text("40")).await.map_err(|e| e.to_string())?;
    let connected = next_text(&mut ws).await?;
    if !connected.starts_with("40") {
        return Err(format!("expected the CONNECT reply, got {connected}"));
    }
    // Alternate between two handlers so both a plain ack and a room operation are covered.
    let event = if n.is_multiple_of(2) {
        format!(r#"421["echo",{n}]"#)
    } else {
        format!(r#"421["join","room-{n}"]"#)
    };
    ws.send(Message::text(event)).await.map_err(|e| e.to_string())?;
    let ack = loop {
        let text = next_text(&mut ws).await.map_err(|e| format!("{e} before the ack"))?;
        if text.starts_with("431") {
            break text;
        }
    };
    let _ = ws.close(None).await;
    Ok(ack)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_immediate_emits_all_get_their_ack() {
    let hub = TestHub::start().await;
    let port = hub.port;
    let acks: Vec<(usize, Result<String, String>)> = futures_util::stream::iter(0..CONNECTIONS)
        .map(|n| async move {
            let outcome = tokio::time::timeout(Duration::from_secs(10), connect_and_emit_at_once(port, n))
                .await
                .unwrap_or_else(|_| Err("no ack within 10 s".to_owned()));
            (n, outcome)
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;

    let mut acked = 0;
    for (n, outcome) in &acks {
        let ack = outcome.as_ref().unwrap_or_else(|e| panic!("connection {n}: {e}"));
        let expected = if n.is_multiple_of(2) {
            format!("431[{n}]")
        } else {
            format!(r#"431[{{"ok":true,"room":"room-{n}","members":1}}]"#)
        };
        assert_eq!(ack, &expected, "connection {n}");
        acked += 1;
    }
    assert_eq!(acked, CONNECTIONS);
    hub.stop().await;
}
