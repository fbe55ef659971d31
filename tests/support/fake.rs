//! Misbehaving peers, to prove that clients never hang: one that accepts TCP and says nothing, one
//! that speaks Socket.IO up to CONNECT and then never acks, and one that refuses every event with
//! `rate_limited`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

/// A server on a free loopback port; stops when dropped.
pub struct FakeServer {
    pub url: String,
    pub port: u16,
    task: JoinHandle<()>,
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn listen() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a free port");
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

/// Accepts connections and never sends a byte.
pub async fn silent() -> FakeServer {
    let (listener, port) = listen().await;
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    FakeServer { url: format!("http://127.0.0.1:{port}"), port, task }
}

/// Opens Engine.IO sessions over websocket, accepts every namespace CONNECT, and ignores every event.
pub async fn never_acks() -> FakeServer {
    serve_socketio(|_| None).await
}

/// Like [`never_acks`], but acks every event with `rate_limited` and `retry_after_ms`; `events` counts the
/// events received, so a test sees how often a client sent again.
pub async fn always_rate_limited(retry_after_ms: u64) -> (FakeServer, Arc<AtomicUsize>) {
    let events = Arc::new(AtomicUsize::new(0));
    let counted = events.clone();
    let server = serve_socketio(move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
        Some(serde_json::json!({
            "ok": false,
            "error": "rate_limited",
            "message": "slow down",
            "retry_after_ms": retry_after_ms,
        }))
    })
    .await;
    (server, events)
}

/// A Socket.IO server over websocket that accepts every namespace CONNECT and answers each event that
/// asks for an ack with what `answer` returns (no answer: the ack never comes).
async fn serve_socketio(
    answer: impl Fn(&str) -> Option<serde_json::Value> + Clone + Send + Sync + 'static,
) -> FakeServer {
    let (listener, port) = listen().await;
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve_connection(stream, answer.clone()));
        }
    });
    FakeServer { url: format!("http://127.0.0.1:{port}"), port, task }
}

async fn serve_connection(stream: TcpStream, answer: impl Fn(&str) -> Option<serde_json::Value>) {
    let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else { return };
    let open =
        r#"0{"sid":"fake","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
    let _ = ws.send(Message::text(open)).await;
    while let Some(Ok(message)) = ws.next().await {
        let Message::Text(text) = message else { continue };
        if let Some(namespace) = text.strip_prefix("40") {
            let namespace = namespace.split_once(',').map_or("", |(ns, _)| ns);
            let separator = if namespace.is_empty() { "" } else { "," };
            let reply = format!(r#"40{namespace}{separator}{{"sid":"fake"}}"#);
            let _ = ws.send(Message::text(reply)).await;
        } else if let Some(event) = text.strip_prefix("42")
            && let Some((prefix, id, arguments)) = split_event(event)
            && let Some(ack) = answer(arguments)
        {
            let _ = ws.send(Message::text(format!("43{prefix}{id}[{ack}]"))).await;
        }
    }
}

/// Splits an EVENT packet after its type, `[/ns,]ID[...]`, into the namespace prefix (`/ns,` or empty),
/// the ack id and the arguments; `None` when the event asks for no ack.
fn split_event(packet: &str) -> Option<(&str, &str, &str)> {
    let prefix_len = if packet.starts_with('/') { packet.find(',')? + 1 } else { 0 };
    let (prefix, rest) = packet.split_at(prefix_len);
    let id_len = rest.find(|c: char| !c.is_ascii_digit())?;
    let (id, arguments) = rest.split_at(id_len);
    if id.is_empty() { None } else { Some((prefix, id, arguments)) }
}

/// A loopback port that nothing listens on (bound once, then released).
pub async fn free_port() -> u16 {
    listen().await.1
}
