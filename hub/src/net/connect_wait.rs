//! A polling CONNECT is answered once the hub has handled it, as Node's engine.io answers it.
//!
//! Over polling, a client sends its Socket.IO CONNECT in a POST and reads the reply with its next GET.
//! Node handles the CONNECT before it answers the POST, so that GET always holds the reply. socketioxide
//! handles it in a task of its own and the POST is answered at once; engineioxide also pings a new
//! session right away. So a GET sent just after the POST can return that ping alone, and a client that
//! reads one poll after its CONNECT, as Elephant.io does, finds no reply and gives up ("Unable to switch
//! namespace"). The hub holds the answer to a POST that carries a CONNECT until the socket is connected
//! (at most [`MAX_WAIT`]): the reply is then already waiting for the GET.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::Notify;

use super::engine_io::{query_param, reaches_engine_io};

/// The longest a POST waits for its CONNECT to be handled (a refused CONNECT is answered later: it
/// waits this long).
pub const MAX_WAIT: Duration = Duration::from_millis(200);

/// Largest POST body looked at: a CONNECT with its auth payload is far smaller; longer bodies pass.
const MAX_INSPECTED: usize = 4096;

/// The sessions whose CONNECT is being handled, by Engine.IO session id (which socketioxide also gives
/// the socket).
#[derive(Debug, Default)]
pub struct ConnectWaits {
    waiting: Mutex<HashMap<String, Arc<Notify>>>,
}

impl ConnectWaits {
    /// Records that the socket `sid` is connected: its CONNECT reply is queued.
    pub fn connected(&self, sid: &str) {
        if let Some(notify) = self.lock().get(sid) {
            notify.notify_one();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Notify>>> {
        self.waiting.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Middleware: holds the answer to a polling POST that carries a CONNECT until it is handled.
pub async fn hold(State(waits): State<Arc<ConnectWaits>>, request: Request, next: Next) -> Response {
    let Some(sid) = connect_candidate(&request) else { return next.run(request).await };
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_INSPECTED).await else {
        // Not readable within the bound: Engine.IO answers it as it would any broken body.
        return next.run(Request::from_parts(parts, Body::empty())).await;
    };
    if !carries_connect(&bytes) {
        return next.run(Request::from_parts(parts, Body::from(bytes))).await;
    }
    let notify = Arc::new(Notify::new());
    waits.lock().insert(sid.clone(), Arc::clone(&notify));
    // Removed however this ends, a client that goes away mid-request included.
    let _entry = Entry { waits: &waits, sid };
    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    let _ = tokio::time::timeout(MAX_WAIT, notify.notified()).await;
    response
}

/// A session's place in [`ConnectWaits`], given up when dropped.
struct Entry<'a> {
    waits: &'a ConnectWaits,
    sid: String,
}

impl Drop for Entry<'_> {
    fn drop(&mut self) {
        self.waits.lock().remove(&self.sid);
    }
}

/// The session id of a small polling POST to Engine.IO, the only requests that can carry a CONNECT
/// the hub should wait for.
fn connect_candidate(request: &Request) -> Option<String> {
    if request.method() != Method::POST || !reaches_engine_io(request.uri().path()) {
        return None;
    }
    let small = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|len| len.to_str().ok()?.parse::<usize>().ok())
        .is_some_and(|len| len <= MAX_INSPECTED);
    let polling = query_param(request.uri(), "transport") == Some("polling");
    let sid = query_param(request.uri(), "sid")?;
    (small && polling).then(|| sid.to_owned())
}

/// Whether a polling payload holds a Socket.IO CONNECT packet (`40...`), alone or among others.
fn carries_connect(payload: &[u8]) -> bool {
    payload.split(|&b| b == 0x1e).any(|packet| packet.starts_with(b"40"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_connect_anywhere_in_a_payload() {
        assert!(carries_connect(b"40"));
        assert!(carries_connect(br#"40{"token":"t"}"#));
        assert!(carries_connect(b"3\x1e40/orders,"));
        assert!(!carries_connect(br#"42["echo",40]"#));
        assert!(!carries_connect(b"3"));
    }

    #[tokio::test]
    async fn a_connected_socket_wakes_its_post_even_before_it_waits() {
        let waits = ConnectWaits::default();
        let notify = Arc::new(Notify::new());
        waits.lock().insert("sid".to_owned(), Arc::clone(&notify));
        waits.connected("sid");
        let woke = tokio::time::timeout(Duration::from_secs(1), notify.notified()).await;
        assert!(woke.is_ok(), "the permit is kept for the waiter");
        waits.connected("unknown");
    }
}
