//! A bare Engine.IO v4 client over HTTP long-polling: each call is one request, and the body comes back
//! exactly as the hub wrote it.

use std::time::Duration;

use serde_json::Value;

/// Separates the packets of one long-polling payload.
pub const SEPARATOR: char = '\u{1e}';

/// Longest a single request may take (a poll with nothing to deliver waits for the next ping).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The handshake URL of the hub at `port`, without a session id.
pub fn endpoint(port: u16) -> String {
    format!("http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling")
}

/// One Engine.IO session over long-polling.
pub struct Polling {
    http: reqwest::Client,
    url: String,
    /// The session id from the handshake.
    pub sid: String,
    /// The open packet's JSON (`sid`, `upgrades`, `pingInterval`, `pingTimeout`, `maxPayload`).
    pub handshake: Value,
}

impl Polling {
    /// Opens a session on the hub at `port` with the handshake request.
    pub async fn open(port: u16) -> Result<Self, String> {
        let http = reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build().map_err(|e| e.to_string())?;
        let response = http.get(endpoint(port)).send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response.text().await.map_err(|e| e.to_string())?;
        let open =
            body.strip_prefix('0').ok_or_else(|| format!("expected an open packet, got {status} {body}"))?;
        let handshake: Value = serde_json::from_str(open).map_err(|e| format!("{e}: {open}"))?;
        let sid = handshake["sid"].as_str().ok_or("the open packet has no sid")?.to_owned();
        let url = format!("{}&sid={sid}", endpoint(port));
        Ok(Self { http, url, sid, handshake })
    }

    /// A poll: the status and the payload.
    pub async fn get(&self) -> (u16, String) {
        answer(self.http.get(&self.url).send().await).await
    }

    /// Sends `payload`: the status and the body (`ok` on success).
    pub async fn post(&self, payload: &str) -> (u16, String) {
        answer(self.http.post(&self.url).body(payload.to_owned()).send().await).await
    }

    /// Polls until a packet for which `wanted` holds arrives, answering pings on the way; returns it, or
    /// an error if none came within [`WAIT`](crate::WAIT).
    pub async fn poll_until(&self, wanted: impl Fn(&str) -> bool) -> Result<String, String> {
        tokio::time::timeout(crate::WAIT, self.poll_for(wanted))
            .await
            .unwrap_or_else(|_| Err(format!("nothing wanted came within {:?}", crate::WAIT)))
    }

    async fn poll_for(&self, wanted: impl Fn(&str) -> bool) -> Result<String, String> {
        loop {
            let (status, payload) = self.get().await;
            if status != 200 {
                return Err(format!("poll answered {status} {payload}"));
            }
            let mut found = None;
            for packet in payload.split(SEPARATOR) {
                if packet == "2" {
                    self.post("3").await;
                } else if found.is_none() && wanted(packet) {
                    found = Some(packet.to_owned());
                }
            }
            if let Some(packet) = found {
                return Ok(packet);
            }
        }
    }
}

/// The status and body of a response; a request that failed outright reads as status 0.
async fn answer(response: reqwest::Result<reqwest::Response>) -> (u16, String) {
    match response {
        Ok(response) => {
            let status = response.status().as_u16();
            (status, response.text().await.unwrap_or_default())
        }
        Err(e) => (0, e.to_string()),
    }
}
