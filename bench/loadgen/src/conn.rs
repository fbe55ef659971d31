//! One bare Socket.IO v5 client over one Engine.IO v4 websocket: only what the scenarios need, and
//! small buffers, so that tens of thousands fit in one process.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, bail};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// An open Socket.IO connection to the namespace `/`.
pub struct Conn {
    ws: WebSocketStream<TcpStream>,
}

/// Spreads connections over 127.0.0.1..127.0.0.N as source addresses: one source address has only
/// about 28,000 ephemeral ports towards one server port.
static NEXT_SOURCE: AtomicUsize = AtomicUsize::new(0);
const SOURCES: usize = 16;

impl Conn {
    /// Connects, opens the Engine.IO session and the Socket.IO connection (with `auth` when given).
    pub async fn open(server: SocketAddr, auth: Option<&str>) -> anyhow::Result<Self> {
        let source = 1 + NEXT_SOURCE.fetch_add(1, Ordering::Relaxed) % SOURCES;
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, source as u8)), 0))?;
        let stream = socket.connect(server).await.context("TCP connect")?;
        stream.set_nodelay(true)?;
        let url = format!("ws://{server}/socket.io/?EIO=4&transport=websocket");
        let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
        let (ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(config))
            .await
            .context("websocket handshake")?;
        let mut conn = Self { ws };
        let open = conn.next().await?;
        if !open.starts_with('0') {
            bail!("expected the Engine.IO open packet, got {open}");
        }
        match auth {
            Some(auth) => conn.send(format!("40{auth}")).await?,
            None => conn.send("40".to_owned()).await?,
        }
        let connected = conn.next().await?;
        if !connected.starts_with("40") {
            bail!("expected the CONNECT reply, got {connected}");
        }
        Ok(conn)
    }

    /// Sends one text frame.
    pub async fn send(&mut self, text: String) -> anyhow::Result<()> {
        self.ws.send(Message::text(text)).await.context("send")
    }

    /// The next frame that is not a ping; pings are answered on the way.
    pub async fn next(&mut self) -> anyhow::Result<String> {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(text))) if text.as_str() == "2" => self.send("3".to_owned()).await?,
                Some(Ok(Message::Text(text))) => return Ok(text.as_str().to_owned()),
                Some(Ok(Message::Close(_))) | None => bail!("connection closed"),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e).context("receive"),
            }
        }
    }

    /// Sends `event` with `argument` (already JSON) and ack id `id`, then waits for that ack; returns its
    /// arguments as JSON text. Other frames are skipped.
    pub async fn request(&mut self, id: u64, event: &str, argument: &str) -> anyhow::Result<String> {
        self.send(format!("42{id}[\"{event}\",{argument}]")).await?;
        let prefix = format!("43{id}[");
        loop {
            let frame = self.next().await?;
            if let Some(rest) = frame.strip_prefix(&prefix) {
                return Ok(format!("[{rest}"));
            }
        }
    }

    /// The two halves of the websocket, for a client that sends and receives at the same time.
    pub fn into_split(
        self,
    ) -> (SplitSink<WebSocketStream<TcpStream>, Message>, SplitStream<WebSocketStream<TcpStream>>) {
        self.ws.split()
    }

    /// Joins `room`, waiting for the ack.
    pub async fn join(&mut self, room: &str) -> anyhow::Result<()> {
        let ack = self.request(0, "join", &format!("\"{room}\"")).await?;
        if !ack.contains("\"ok\":true") {
            bail!("join refused: {ack}");
        }
        Ok(())
    }
}

/// The integer after `"t":` in a frame: the send time the publisher put in the data.
pub fn sent_at(frame: &str) -> Option<u64> {
    let start = frame.find("\"t\":")? + 4;
    let digits = &frame[start..];
    let end = digits.find(|c: char| !c.is_ascii_digit()).unwrap_or(digits.len());
    digits[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_send_time() {
        assert_eq!(super::sent_at(r#"42["tick",{"t":12345,"pad":"x"}]"#), Some(12345));
        assert_eq!(super::sent_at(r#"42["tick","no time"]"#), None);
    }
}
