//! A client that puts on the wire what PHP's Elephant.io (`Version4X`) does, byte for byte where it
//! matters: one keep-alive TCP connection for the polling requests and then, in place, the websocket.
//!
//! Elephant.io is synchronous: it sends a request or a frame, then reads exactly one response or
//! "the next packet", and only answers a PING when it happens to read one. The helpers here do the same
//! and nothing more, so a test fails wherever Elephant.io would.

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_tungstenite::MaybeTlsStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::raw::Socket;
use futures_util::StreamExt;

/// The Engine.IO v4 packet separator in a polling payload.
const SEPARATOR: char = '\u{1e}';

/// One Elephant.io connection, before it turns into a websocket.
pub struct Elephant {
    conn: BufReader<TcpStream>,
    port: u16,
    /// The Engine.IO session id, once the polling handshake gave one.
    sid: Option<String>,
    /// Elephant.io's `t` parameter (a yeast timestamp) gets a counter suffix on each request.
    requests: u32,
}

impl Elephant {
    /// Opens the TCP connection that every request of this client will use.
    pub async fn connect(port: u16) -> Result<Self, String> {
        let stream = TcpStream::connect(("127.0.0.1", port)).await.map_err(|e| e.to_string())?;
        Ok(Self { conn: BufReader::new(stream), port, sid: None, requests: 0 })
    }

    /// The polling handshake: `GET ?EIO=4&transport=polling&t=...`; returns the OPEN packet's data.
    pub async fn handshake(&mut self) -> Result<Value, String> {
        let body = self.request("GET", "polling", None).await?;
        let open = body.strip_prefix('0').ok_or_else(|| format!("expected an OPEN packet, got {body:?}"))?;
        let open: Value = serde_json::from_str(open).map_err(|e| format!("OPEN packet {open:?}: {e}"))?;
        self.sid = open["sid"].as_str().map(str::to_owned);
        Ok(open)
    }

    /// Sends one packet with a polling `POST` (Engine.IO v4: the packet is the whole body).
    pub async fn post(&mut self, packet: &str) -> Result<String, String> {
        self.request("POST", "polling", Some(packet)).await
    }

    /// One polling `GET`: the packets it returns.
    pub async fn poll(&mut self) -> Result<Vec<String>, String> {
        let body = self.request("GET", "polling", None).await?;
        Ok(body.split(SEPARATOR).map(str::to_owned).collect())
    }

    /// Opens the websocket on this same connection: an upgrade of the polling session if the handshake
    /// gave a `sid`, else a new websocket session.
    pub async fn websocket(mut self) -> Result<Socket, String> {
        let target = self.target("websocket");
        let url = format!("ws://127.0.0.1:{}{target}", self.port);
        let mut request = url.into_client_request().map_err(|e| e.to_string())?;
        for (name, value) in self.headers() {
            request.headers_mut().insert(name, HeaderValue::from_str(&value).unwrap());
        }
        if !self.conn.buffer().is_empty() {
            return Err("bytes left over from the polling responses".to_owned());
        }
        let stream = MaybeTlsStream::Plain(self.conn.into_inner());
        let (ws, response) =
            tokio_tungstenite::client_async(request, stream).await.map_err(|e| e.to_string())?;
        if response.status().as_u16() != 101 {
            return Err(format!("upgrade answered {}", response.status()));
        }
        Ok(ws)
    }

    fn target(&mut self, transport: &str) -> String {
        let t = match self.requests {
            0 => "PbX3kQz".to_owned(),
            n => format!("PbX3kQz.{}", n - 1),
        };
        self.requests += 1;
        let sid = self.sid.as_ref().map(|sid| format!("&sid={sid}")).unwrap_or_default();
        format!("/socket.io/?EIO=4&transport={transport}&t={t}{sid}")
    }

    /// The headers Elephant.io sends with every request (with its default options).
    fn headers(&self) -> Vec<(&'static str, String)> {
        let origin = format!("http://127.0.0.1:{}", self.port);
        vec![
            ("accept", "*/*".to_owned()),
            ("origin", origin.clone()),
            ("referer", origin),
            ("user-agent", "Elephant.io/*".to_owned()),
        ]
    }

    async fn request(&mut self, method: &str, transport: &str, body: Option<&str>) -> Result<String, String> {
        let target = self.target(transport);
        let mut head = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n", self.port);
        if let Some(body) = body {
            head += &format!("Content-Type: text/plain; charset=UTF-8\r\nContent-Length: {}\r\n", body.len());
        }
        for (name, value) in self.headers() {
            head += &format!("{name}: {value}\r\n");
        }
        head += "Connection: keep-alive\r\n\r\n";
        head += body.unwrap_or_default();
        let conn = self.conn.get_mut();
        conn.write_all(head.as_bytes()).await.map_err(|e| e.to_string())?;

        let mut status = String::new();
        self.conn.read_line(&mut status).await.map_err(|e| e.to_string())?;
        let mut length = 0;
        loop {
            let mut line = String::new();
            if self.conn.read_line(&mut line).await.map_err(|e| e.to_string())? == 0 {
                return Err(format!("connection closed in the response to {method} {target}"));
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().map_err(|_| format!("bad content-length {value}"))?;
            }
        }
        let mut body = vec![0; length];
        self.conn.read_exact(&mut body).await.map_err(|e| e.to_string())?;
        let body = String::from_utf8(body).map_err(|e| e.to_string())?;
        if !status.starts_with("HTTP/1.1 200") {
            return Err(format!("{method} {target}: {} {body}", status.trim_end()));
        }
        Ok(body)
    }
}

/// The next packet on the websocket, whatever it is (a PING included), as Elephant.io reads it.
pub async fn next_packet(ws: &mut Socket) -> Result<String, String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => return Ok(text.to_string()),
            Some(Ok(Message::Close(_))) | None => return Err("closed".to_owned()),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.to_string()),
        }
    }
}
