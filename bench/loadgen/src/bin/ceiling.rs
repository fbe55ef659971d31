//! `ceiling`: a minimal hand-written websocket broadcaster that speaks just enough Engine.IO v4 /
//! Socket.IO v5 for the benchmark scenarios (CONNECT, `join`, `publish` into one room, `echo`), with no
//! heartbeat, no validation and no adapter. It is the ceiling any Socket.IO server could reach here:
//! each published event is encoded once and the same bytes are queued to every member.
//!
//! Usage: `ceiling PORT` (0: any free port). Prints "listening on PORT" once ready.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// Frames waiting for one connection; when full, that member misses the frame (as a real server drops
/// for a client that does not read).
const QUEUE: usize = 1024;

type Members = HashMap<u64, mpsc::Sender<Utf8Bytes>>;
type Rooms = Arc<Mutex<HashMap<String, Members>>>;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(3000);
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on {}", listener.local_addr()?.port());
    let rooms = Rooms::default();
    let mut next_id = 0u64;
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        next_id += 1;
        tokio::spawn(serve(stream, next_id, rooms.clone()));
    }
}

async fn serve(stream: TcpStream, id: u64, rooms: Rooms) {
    // Frames are fed into the write buffer and flushed once per burst (see the writer below); reads
    // take 1 KiB at a time, as in the hub.
    let config = WebSocketConfig::default().read_buffer_size(1024);
    let Ok(ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await else { return };
    let (mut sink, mut source) = ws.split();
    let (queue, mut outbox) = mpsc::channel::<Utf8Bytes>(QUEUE);
    // Writes whatever is queued, then flushes once: one syscall for a burst, not one per frame.
    let writer = tokio::spawn(async move {
        while let Some(frame) = outbox.recv().await {
            let mut frame = Some(frame);
            while let Some(next) = frame.take().or_else(|| outbox.try_recv().ok()) {
                if sink.feed(Message::Text(next)).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
    });
    let open = r#"0{"sid":"ceiling","upgrades":[],"pingInterval":3000000,"pingTimeout":2000000,"maxPayload":1000000}"#;
    let _ = queue.send(open.into()).await;
    let mut joined = Vec::new();
    while let Some(Ok(Message::Text(frame))) = source.next().await {
        let text = frame.as_str();
        if text.starts_with("40") {
            let _ = queue.send(r#"40{"sid":"ceiling"}"#.into()).await;
            continue;
        }
        let Some(rest) = text.strip_prefix("42") else { continue };
        let split = rest.find('[').unwrap_or(0);
        let (ack_id, body) = rest.split_at(split);
        let Ok(serde_json::Value::Array(arguments)) = serde_json::from_str::<serde_json::Value>(body) else {
            continue;
        };
        let reply = match arguments.first().and_then(|e| e.as_str()) {
            Some("join") => {
                let room = arguments.get(1).and_then(|r| r.as_str()).unwrap_or_default().to_owned();
                let mut rooms = rooms.lock().unwrap();
                let members = rooms.entry(room.clone()).or_default();
                members.insert(id, queue.clone());
                joined.push(room.clone());
                format!(r#"[{{"ok":true,"room":{},"members":{}}}]"#, serde_json::json!(room), members.len())
            }
            Some("publish") => {
                let request = arguments.get(1).cloned().unwrap_or_default();
                let event = request["event"].as_str().unwrap_or("tick");
                let frame: Utf8Bytes = format!("42[{},{}]", serde_json::json!(event), request["data"]).into();
                let mut delivered = 0;
                for room in request["rooms"].as_array().into_iter().flatten().filter_map(|r| r.as_str()) {
                    let rooms = rooms.lock().unwrap();
                    for (member, member_queue) in rooms.get(room).into_iter().flatten() {
                        if *member != id && member_queue.try_send(frame.clone()).is_ok() {
                            delivered += 1;
                        }
                    }
                }
                format!(r#"[{{"ok":true,"delivered":{delivered}}}]"#)
            }
            Some("echo") => serde_json::Value::Array(arguments[1..].to_vec()).to_string(),
            _ => continue,
        };
        if !ack_id.is_empty() {
            let _ = queue.send(format!("43{ack_id}{reply}").into()).await;
        }
    }
    let mut rooms = rooms.lock().unwrap();
    for room in joined {
        if let Some(members) = rooms.get_mut(&room) {
            members.remove(&id);
        }
    }
    writer.abort();
}
