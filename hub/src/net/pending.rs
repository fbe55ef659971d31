//! Engine.IO sessions that have not connected a socket yet, and the cap on how many may exist at once.
//!
//! A handshake is cheap for a client and not for the hub: a session costs about 10 KB and, until its
//! Socket.IO CONNECT, counts against no other limit (`--max-connections` counts sockets). socketioxide
//! closes a session that has not connected within the connect timeout; this cap bounds how many wait
//! meanwhile. Each handshake takes a [`PendingSlot`], which Engine.IO keeps with the session (in the
//! request's extensions); the slot is given back when the session's socket connects, or when the
//! session is gone. A handshake beyond the cap is answered `503` with what to change, and creates no
//! session. socket.io v2 sessions count the same way: a refused one keeps its slot for as long as it
//! stays open, so such sessions too are bounded by the cap.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::engine_io::{query_param, reaches_engine_io};
use crate::telemetry::log_throttle::LogThrottle;

/// The sessions of one hub that wait for their CONNECT.
#[derive(Debug)]
pub struct PendingSessions {
    max: usize,
    /// What a refused client is told to wait before trying again.
    retry_after: Duration,
    pending: AtomicUsize,
}

/// One session's place among the pending ones, given back once.
#[derive(Debug)]
pub struct PendingSlot {
    sessions: Arc<PendingSessions>,
    given_back: AtomicBool,
}

impl PendingSessions {
    /// At most `max` sessions wait for their CONNECT, each at most `connect_timeout`.
    pub fn new(max: usize, connect_timeout: Duration) -> Arc<Self> {
        Arc::new(Self { max, retry_after: connect_timeout, pending: AtomicUsize::new(0) })
    }

    /// A place for a new session, or `None` at the cap.
    pub fn try_take(self: &Arc<Self>) -> Option<PendingSlot> {
        let taken = self.pending.fetch_add(1, Ordering::Relaxed);
        if taken >= self.max {
            self.pending.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        Some(PendingSlot { sessions: Arc::clone(self), given_back: AtomicBool::new(false) })
    }

    /// How many sessions wait for their CONNECT now.
    #[cfg(test)]
    fn pending(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }
}

impl PendingSlot {
    /// The session's socket is connected: it no longer waits.
    pub fn connected(&self) {
        if !self.given_back.swap(true, Ordering::Relaxed) {
            self.sessions.pending.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Drop for PendingSlot {
    fn drop(&mut self) {
        self.connected();
    }
}

/// Middleware: gives each Engine.IO handshake a [`PendingSlot`] (an `Arc<PendingSlot>` extension of its
/// request, which the session keeps), or refuses it beyond the cap.
pub async fn admit(
    State(sessions): State<Arc<PendingSessions>>,
    mut request: Request,
    next: Next,
) -> Response {
    if !is_handshake(&request) {
        return next.run(request).await;
    }
    match sessions.try_take() {
        Some(slot) => {
            request.extensions_mut().insert(Arc::new(slot));
            next.run(request).await
        }
        None => refuse(&sessions),
    }
}

/// An Engine.IO request without a session id opens a session (on either transport).
fn is_handshake(request: &Request) -> bool {
    request.method() == Method::GET
        && reaches_engine_io(request.uri().path())
        && query_param(request.uri(), "sid").is_none()
}

/// `503` with an Engine.IO error body that says what to change, and when to try again.
fn refuse(sessions: &PendingSessions) -> Response {
    static REFUSED: LogThrottle = LogThrottle::new(Duration::from_secs(60));
    if let Some(held_back) = REFUSED.due(Instant::now()) {
        tracing::warn!(
            held_back,
            "handshake refused: {} sessions wait for their CONNECT (--max-pending-sessions)",
            sessions.max
        );
    }
    let message = format!(
        "Too many sessions waiting for their CONNECT: the hub accepts at most {} (--max-pending-sessions); \
         try again later",
        sessions.max
    );
    let body = serde_json::json!({ "code": 4, "message": message }).to_string();
    let retry_after = HeaderValue::from(sessions.retry_after.as_secs().max(1));
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (header::RETRY_AFTER, retry_after),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_given_back_once_when_connected_or_dropped() {
        let sessions = PendingSessions::new(2, Duration::from_secs(10));
        let first = sessions.try_take().unwrap();
        let second = sessions.try_take().unwrap();
        assert!(sessions.try_take().is_none(), "at the cap");
        first.connected();
        assert_eq!(sessions.pending(), 1);
        drop(first);
        assert_eq!(sessions.pending(), 1, "given back once");
        drop(second);
        assert_eq!(sessions.pending(), 0);
        assert!(sessions.try_take().is_some());
    }
}
