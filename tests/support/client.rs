//! A rust_socketio client that records every event it receives and waits for acks with a deadline.

use std::time::Duration;

use futures_util::FutureExt;
use hub_protocol::{EventMeta, events};
use rust_socketio::asynchronous::{Client, ClientBuilder};
use rust_socketio::{Event, Payload, TransportType};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::{QUIET, WAIT};

/// A connected socket of the hub under test.
pub struct TestClient {
    client: Client,
    events: mpsc::UnboundedReceiver<(String, Vec<Value>)>,
    /// Connected with `auth: {meta: true}`: published events carry their metadata last.
    meta: bool,
}

/// An event as `publish` delivers it.
#[derive(Debug)]
pub struct Published {
    pub data: Value,
    /// Present exactly when the client asked for it.
    pub meta: Option<EventMeta>,
}

impl Published {
    /// The metadata of an event received by a client that asked for it.
    pub fn meta(&self) -> &EventMeta {
        self.meta.as_ref().expect("the client connected with `meta: true`")
    }
}

/// How a connection attempt ended, when it did not succeed.
#[derive(Debug, PartialEq)]
pub enum Refused {
    /// `connect_error` with this message.
    ConnectError(String),
    Other(String),
}

impl TestClient {
    /// Connects to `/` with no auth payload.
    pub async fn connect(url: &str) -> Self {
        Self::connect_with(url, "/", json!({})).await.expect("the hub accepts the connection")
    }

    /// Connects to `/` asking for published events' metadata (`auth: {meta: true}`).
    pub async fn connect_meta(url: &str) -> Self {
        Self::connect_with(url, "/", json!({ "meta": true })).await.expect("the hub accepts the connection")
    }

    /// Connects to `/` as a publisher with the test token.
    pub async fn publisher(url: &str) -> Self {
        Self::connect_with(url, "/", json!({ "token": crate::hub::TOKEN }))
            .await
            .expect("the hub accepts the publisher")
    }

    /// Connects to `namespace` with `auth`, and waits for the hub's answer to the CONNECT.
    pub async fn connect_with(url: &str, namespace: &str, auth: Value) -> Result<Self, Refused> {
        Self::connect_with_headers(url, namespace, auth, &[]).await
    }

    /// Connects like [`connect_with`](Self::connect_with), sending `headers` (e.g. a `Cookie`) with the
    /// request that opens the session.
    pub async fn connect_with_headers(
        url: &str,
        namespace: &str,
        auth: Value,
        headers: &[(&str, &str)],
    ) -> Result<Self, Refused> {
        let meta = auth.get("meta") == Some(&Value::Bool(true));
        let (events_tx, events) = mpsc::unbounded_channel();
        let (status_tx, mut status) = mpsc::unbounded_channel::<Result<(), Refused>>();
        let connected = status_tx.clone();
        let mut builder = ClientBuilder::new(url);
        for (name, value) in headers {
            builder = builder.opening_header(*name, *value);
        }
        let client = builder
            .namespace(namespace)
            .transport_type(TransportType::Websocket)
            .reconnect(false)
            .auth(auth)
            .on(Event::Connect, move |_, _| {
                let _ = connected.send(Ok(()));
                async {}.boxed()
            })
            .on(Event::Error, move |payload, _| {
                let text = text_of(&payload);
                let refusal = match text.strip_prefix("Received an ConnectError frame: ") {
                    Some(json) => {
                        let message = serde_json::from_str::<Value>(json)
                            .ok()
                            .and_then(|v| v["message"].as_str().map(str::to_owned));
                        Refused::ConnectError(message.unwrap_or_else(|| json.to_owned()))
                    }
                    None => Refused::Other(text),
                };
                let _ = status_tx.send(Err(refusal));
                async {}.boxed()
            })
            .on_any(move |event, payload, _| {
                if let Payload::Text(arguments) = payload {
                    let _ = events_tx.send((event.to_string(), arguments));
                }
                async {}.boxed()
            })
            .connect()
            .await
            .map_err(|e| Refused::Other(e.to_string()))?;
        match tokio::time::timeout(WAIT, status.recv()).await {
            Ok(Some(Ok(()))) => Ok(Self { client, events, meta }),
            Ok(Some(Err(refused))) => Err(refused),
            Ok(None) => Err(Refused::Other("connection closed".to_owned())),
            Err(_) => Err(Refused::Other("no answer to CONNECT".to_owned())),
        }
    }

    /// Connects expecting the hub to refuse with `connect_error`, and returns its message.
    pub async fn connect_error(url: &str, namespace: &str, auth: Value) -> String {
        match Self::connect_with(url, namespace, auth.clone()).await {
            Err(Refused::ConnectError(message)) => message,
            Err(other) => panic!("{namespace} {auth}: expected connect_error, got {other:?}"),
            Ok(_) => {
                panic!("{namespace} {auth}: expected connect_error, but the hub accepted the connection")
            }
        }
    }

    /// Emits `event` with `arguments` and returns the ack's arguments.
    pub async fn ack(&self, event: &str, arguments: Vec<Value>) -> Vec<Value> {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let on_ack = move |payload: Payload, _: Client| {
            let _ = tx.send(payload);
            async {}.boxed()
        };
        self.client.emit_with_ack(event, Payload::Text(arguments), WAIT, on_ack).await.expect("emit");
        let payload = tokio::time::timeout(WAIT, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no ack for `{event}` within {WAIT:?}"))
            .expect("ack channel open");
        match payload {
            // rust_socketio hands over an ack's arguments as one JSON array.
            Payload::Text(mut values) if values.len() == 1 && values[0].is_array() => {
                let Value::Array(arguments) = values.remove(0) else { unreachable!() };
                arguments
            }
            Payload::Text(values) => values,
            other => panic!("unexpected ack payload {other:?}"),
        }
    }

    /// Emits `event` with one argument and returns the ack's (single) object.
    pub async fn request(&self, event: &str, argument: Value) -> Value {
        let mut arguments = self.ack(event, vec![argument]).await;
        assert_eq!(arguments.len(), 1, "`{event}` acks with one object, got {arguments:?}");
        arguments.remove(0)
    }

    /// Emits without asking for an ack.
    pub async fn emit(&self, event: &str, arguments: Vec<Value>) {
        self.client.emit(event, Payload::Text(arguments)).await.expect("emit");
    }

    /// Joins `room` and returns the ack.
    pub async fn join(&self, room: &str) -> Value {
        let ack = self.request("join", json!(room)).await;
        assert_eq!(ack["ok"], true, "join {room}: {ack}");
        ack
    }

    /// Waits for the next event, which must be named `name`, and returns its arguments. Any other event
    /// fails the test (an extra or misplaced delivery is a bug), except the hub's room bookkeeping
    /// (`members`, `presence`), which follows joins and leaves at its own pace and is skipped unless
    /// `name` is one of them.
    pub async fn expect_event(&mut self, name: &str) -> Vec<Value> {
        self.expect_event_within(name, WAIT).await
    }

    /// Like [`expect_event`](Self::expect_event), waiting up to `wait` for it.
    pub async fn expect_event_within(&mut self, name: &str, wait: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some((event, arguments))) if event == name => return arguments,
                Ok(Some((event, _))) if events::is_room_bookkeeping(&event) => continue,
                Ok(Some((event, arguments))) => {
                    panic!("expected `{name}`, got an unexpected `{event}` {arguments:?}")
                }
                Ok(None) => panic!("connection closed while waiting for `{name}`"),
                Err(_) => panic!("no `{name}` event within {wait:?}"),
            }
        }
    }

    /// Waits up to `wait` for the next `name` event, skipping any other (for a stream of events whose
    /// interleaving is not the test's subject, such as the Admin UI's feed).
    pub async fn wait_for_event(&mut self, name: &str, wait: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some((event, arguments))) if event == name => return arguments,
                Ok(Some(_)) => continue,
                Ok(None) => panic!("connection closed while waiting for `{name}`"),
                Err(_) => panic!("no `{name}` event within {wait:?}"),
            }
        }
    }

    /// Waits for an event delivered by `publish`: exactly its data, then its metadata when this client
    /// asked for it.
    pub async fn expect_published(&mut self, name: &str) -> Published {
        let arguments = self.expect_event(name).await;
        match (self.meta, <[Value; 2]>::try_from(arguments)) {
            (true, Ok([data, meta])) => Published {
                data,
                meta: Some(serde_json::from_value(meta).expect("the last argument is the metadata")),
            },
            (false, Err(arguments)) if arguments.len() == 1 => {
                Published { data: arguments.into_iter().next().expect("one argument"), meta: None }
            }
            (true, arguments) => panic!("`{name}` should carry data and metadata, got {arguments:?}"),
            (false, arguments) => panic!("`{name}` should carry exactly its data, got {arguments:?}"),
        }
    }

    /// Asserts that no event arrives for a short while, apart from the hub's room bookkeeping
    /// (`members`, `presence`), which follows every join and leave.
    pub async fn expect_silence(&mut self) {
        self.expect_silence_for(QUIET).await;
    }

    pub async fn expect_silence_for(&mut self, duration: Duration) {
        let deadline = tokio::time::Instant::now() + duration;
        while let Ok(Some((event, arguments))) = tokio::time::timeout_at(deadline, self.events.recv()).await {
            if !events::is_room_bookkeeping(&event) {
                panic!("expected no event, got `{event}` {arguments:?}");
            }
        }
    }

    /// Asserts that no `name` event arrives within `duration` (other events are skipped).
    pub async fn expect_no_event(&mut self, name: &str, duration: Duration) {
        let deadline = tokio::time::Instant::now() + duration;
        while let Ok(Some((event, arguments))) = tokio::time::timeout_at(deadline, self.events.recv()).await {
            assert_ne!(event, name, "unexpected `{event}` {arguments:?}");
        }
    }

    pub async fn disconnect(self) {
        let _ = self.client.disconnect().await;
    }
}

#[allow(deprecated)] // rust_socketio 0.6 still produces `Payload::String`
fn text_of(payload: &Payload) -> String {
    match payload {
        Payload::Text(values) => match values.as_slice() {
            [Value::String(text)] => text.clone(),
            values => format!("{values:?}"),
        },
        Payload::String(text) => text.clone(),
        Payload::Binary(bytes) => format!("{} bytes", bytes.len()),
    }
}
