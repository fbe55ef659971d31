//! Misbehaving peers, to prove that clients never hang: one that accepts TCP and says nothing, and one
//! that speaks Socket.IO up to CONNECT and then never acks.

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
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
    let (listener, port) = listen().await;
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else { return };
                let open = r#"0{"sid":"fake","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
                let _ = ws.send(Message::text(open)).await;
                while let Some(Ok(message)) = ws.next().await {
                    if let Message::Text(text) = message
                        && let Some(namespace) = text.strip_prefix("40")
                    {
                        let namespace = namespace.split_once(',').map_or("", |(ns, _)| ns);
                        let separator = if namespace.is_empty() { "" } else { "," };
                        let reply = format!(r#"40{namespace}{separator}{{"sid":"fake"}}"#);
                        let _ = ws.send(Message::text(reply)).await;
                    }
                }
            });
        }
    });
    FakeServer { url: format!("http://127.0.0.1:{port}"), port, task }
}

/// A loopback port that nothing listens on (bound once, then released).
pub async fn free_port() -> u16 {
    listen().await.1
}
