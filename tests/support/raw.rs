//! A bare Engine.IO v4 / Socket.IO v5 client over one websocket: nothing between the test and the frames.

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text frame that is not an Engine.IO ping (`2`); pings are answered (`3`) on the way.
pub async fn next_text(ws: &mut Socket) -> Result<String, String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) if text.as_str() == "2" => send(ws, "3").await?,
            Some(Ok(Message::Text(text))) => return Ok(text.to_string()),
            Some(Ok(Message::Close(_))) | None => return Err("closed".to_owned()),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.to_string()),
        }
    }
}

/// Opens an Engine.IO session on the hub at `port` and connects to `/`; returns once the hub's CONNECT
/// reply has been read, so the caller's next frame follows it immediately.
pub async fn connect(port: u16) -> Result<Socket, String> {
    connect_with(port, "40").await
}

/// Like [`connect`], with `connect` as the CONNECT packet (`40{...}` carries an auth payload).
pub async fn connect_with(port: u16, connect: &str) -> Result<Socket, String> {
    let url = format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.map_err(|e| e.to_string())?;
    let open = next_text(&mut ws).await?;
    if !open.starts_with('0') {
        return Err(format!("expected the Engine.IO open packet, got {open}"));
    }
    send(&mut ws, connect).await?;
    let connected = next_text(&mut ws).await?;
    if !connected.starts_with("40") {
        return Err(format!("expected the CONNECT reply, got {connected}"));
    }
    Ok(ws)
}

/// Hands `ws` to a task that answers the hub's pings, so that a socket the test holds idle longer than
/// the heartbeat (25 s + 20 s) stays connected. The task ends when the connection does, with the reason.
pub fn keep_alive(mut ws: Socket) -> tokio::task::JoinHandle<String> {
    tokio::spawn(async move {
        loop {
            if let Err(reason) = next_text(&mut ws).await {
                return reason;
            }
        }
    })
}

pub async fn send(ws: &mut Socket, text: &str) -> Result<(), String> {
    ws.send(Message::text(text)).await.map_err(|e| e.to_string())
}

/// The text frames up to the DISCONNECT (`41`) included, without the hub's room bookkeeping (`members`,
/// `presence`), which follows joins and leaves at its own pace.
pub async fn frames_until_disconnect(ws: &mut Socket) -> Vec<String> {
    let mut frames = Vec::new();
    while frames.last().is_none_or(|last: &String| last != "41") {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(5), next_text(ws))
            .await
            .expect("a frame in time")
            .expect("the connection stays open until the DISCONNECT");
        if !frame.starts_with(r#"42["members""#) && !frame.starts_with(r#"42["presence""#) {
            frames.push(frame);
        }
    }
    frames
}
