//! A webhook receiver on a free loopback port: records every request the hub POSTs, and answers each
//! with the next scripted status (then with the standing one), so tests can make it fail.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, KeyInit, Mac};
use hub_protocol::WebhookBatch;
use hub_protocol::webhooks::{DELIVERY_HEADER, SIGNATURE_HEADER};
use sha2::Sha256;
use tokio::task::JoinHandle;

/// One request the hub made.
#[derive(Debug, Clone)]
pub struct Received {
    pub signature: Option<String>,
    pub delivery: Option<String>,
    pub content_type: Option<String>,
    pub body: Bytes,
    /// What the receiver answered.
    pub status: u16,
}

impl Received {
    pub fn batch(&self) -> WebhookBatch {
        serde_json::from_slice(&self.body).expect("a webhook batch")
    }

    /// Whether the signature header is the HMAC-SHA256 of the body with `secret`, as a receiver checks it.
    pub fn signed_with(&self, secret: &str) -> bool {
        let Some(hex) = self.signature.as_deref().and_then(|s| s.strip_prefix("sha256=")) else {
            return false;
        };
        let Some(signature) = decode_hex(hex) else { return false };
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(&self.body);
        mac.verify_slice(&signature).is_ok()
    }
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect()
}

#[derive(Debug, Default)]
struct Script {
    next: VecDeque<u16>,
    standing: u16,
    received: Vec<Received>,
}

/// The receiver; stops when dropped.
pub struct WebhookReceiver {
    pub url: String,
    script: Arc<Mutex<Script>>,
    task: JoinHandle<()>,
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl WebhookReceiver {
    /// A receiver that answers 200 to everything.
    pub async fn start() -> Self {
        let script = Arc::new(Mutex::new(Script { standing: 200, ..Script::default() }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a free port");
        let port = listener.local_addr().unwrap().port();
        let app = Router::new().route("/hooks", post(receive)).with_state(script.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url: format!("http://127.0.0.1:{port}/hooks"), script, task }
    }

    /// Answers the next requests with `statuses`, in order, then with the standing status again.
    pub fn answer_next(&self, statuses: &[u16]) {
        self.script.lock().unwrap().next.extend(statuses);
    }

    /// Answers every request with `status` from now on.
    pub fn answer_always(&self, status: u16) {
        self.script.lock().unwrap().standing = status;
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.script.lock().unwrap().received.clone()
    }

    /// The requests answered with 2xx so far.
    pub fn accepted(&self) -> Vec<Received> {
        self.received().into_iter().filter(|r| (200..300).contains(&r.status)).collect()
    }

    /// Waits up to `within` until the accepted requests hold `events` events in all, and returns them.
    pub async fn wait_for_events(&self, events: usize, within: Duration) -> Vec<Received> {
        self.wait_until(within, |received| {
            let accepted = received.iter().filter(|r| (200..300).contains(&r.status));
            accepted.map(|r| r.batch().events.len()).sum::<usize>() >= events
        })
        .await;
        self.accepted()
    }

    /// Waits up to `within` until `done` holds for the requests received (failing the test otherwise).
    pub async fn wait_until(&self, within: Duration, done: impl Fn(&[Received]) -> bool) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let received = self.received();
            if done(&received) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the receiver did not get what was expected within {within:?}; it got {:?}",
                received.iter().map(|r| (r.status, String::from_utf8_lossy(&r.body))).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn receive(State(script): State<Arc<Mutex<Script>>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut script = script.lock().unwrap();
    let status = script.next.pop_front().unwrap_or(script.standing);
    script.received.push(Received {
        signature: header(SIGNATURE_HEADER),
        delivery: header(DELIVERY_HEADER),
        content_type: header("content-type"),
        body,
        status,
    });
    StatusCode::from_u16(status).expect("a valid status")
}
