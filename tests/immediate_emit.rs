//! No event is lost right after CONNECT: 1,000 fresh connections each emit the instant the hub's CONNECT
//! reply arrives, and every one gets its ack.
//!
//! This speaks Engine.IO v4 / Socket.IO v5 over a raw websocket, so nothing sits between the CONNECT
//! reply and the first event: the event is written the moment the reply is read.

use std::time::Duration;

use e2e::history::epoch_of;
use e2e::{TestHub, raw};
use futures_util::StreamExt;
use serde_json::{Value, json};

const CONNECTIONS: usize = 1_000;
const IN_FLIGHT: usize = 100;

/// Connects to `/`, emits the instant the CONNECT reply is read, and returns the ack packet.
async fn connect_and_emit_at_once(port: u16, n: usize) -> Result<String, String> {
    let mut ws = raw::connect(port).await?;
    // Alternate between two handlers so both a plain ack and a room operation are covered.
    let event = if n.is_multiple_of(2) {
        format!(r#"421["echo",{n}]"#)
    } else {
        format!(r#"421["join","room-{n}"]"#)
    };
    raw::send(&mut ws, &event).await?;
    let ack = loop {
        let text = raw::next_text(&mut ws).await.map_err(|e| format!("{e} before the ack"))?;
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
        if n.is_multiple_of(2) {
            assert_eq!(ack, &format!("431[{n}]"), "connection {n}");
        } else {
            let arguments: Value = serde_json::from_str(ack.strip_prefix("431").unwrap_or(ack))
                .unwrap_or_else(|_| panic!("connection {n}: an ack, got {ack}"));
            let epoch = epoch_of(&arguments[0]);
            let joined =
                json!([{"ok": true, "room": format!("room-{n}"), "members": 1, "offset": 0, "epoch": epoch}]);
            assert_eq!(arguments, joined, "connection {n}");
        }
        acked += 1;
    }
    assert_eq!(acked, CONNECTIONS);
    hub.stop().await;
}
