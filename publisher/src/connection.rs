//! One Socket.IO connection to a hub, used to publish events and wait for each ack.
//!
//! rust_socketio reports everything through callbacks: its `connect()` returns before the hub has accepted
//! the namespace, a refusal arrives as an "error" callback, and an ack that never comes is never reported.
//! Here each callback feeds a channel, so every wait is an `await` on that channel with a deadline.
//!
//! An event the hub refused with `rate_limited` is sent again after the wait the hub named: the hub did not
//! deliver it, so this cannot deliver it twice. Those waits share the event's deadline too.
//!
//! An event too large for the hub is not sent at all ([`PublishError::TooLarge`]): the hub would close the
//! connection on it, which says nothing about why and loses the events after it. The hub's limit is in
//! its Engine.IO handshake, which rust_socketio does not hand over, so [`frame_limit`] asks for it, once,
//! and only when an event is large enough to need it.

use std::time::Duration;

use futures_util::FutureExt;
use hub_protocol::{Ack, ErrorCode, PublishAck, PublishRequest, Rejection, events};
use rust_socketio::asynchronous::{Client, ClientBuilder};
use rust_socketio::{Event, Payload, TransportType};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout_at};

use crate::error::{PublishError, Stage};

/// The longest [`PublisherOptions::timeout`]: a day. Longer is taken as a day, so that no deadline
/// computed from it can overflow.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// The Engine.IO transport: a websocket from the first request, the handshake included, so there is no
/// polling and no upgrade (a reverse proxy in front of the hub must pass websocket upgrades). One
/// request instead of three, and the transport [`Endpoint`] reports.
const TRANSPORT: TransportType = TransportType::Websocket;

/// Events whose frame is at most this long are sent without asking for the hub's limit: no hub reads
/// less (its --max-payload is at least 1,024 bytes, and it reads frames of twice that).
const SMALLEST_FRAME_LIMIT: usize = 2048;

/// How to connect and how long to wait.
#[derive(Debug, Clone)]
pub struct PublisherOptions {
    /// Namespace to publish into, e.g. `/` or `/orders`.
    pub namespace: String,
    /// The hub's publish token; without it the hub answers `publish` with `forbidden`.
    pub token: Option<String>,
    /// Limit for connecting (each attempt) and for each event: its ack, and any waits for the hub's rate
    /// limit before it. At most [`MAX_TIMEOUT`]; longer is taken as that.
    pub timeout: Duration,
    /// How many times to retry a connection that failed before reaching the hub.
    pub retries: u32,
}

impl Default for PublisherOptions {
    fn default() -> Self {
        Self { namespace: "/".to_owned(), token: None, timeout: Duration::from_secs(5), retries: 0 }
    }
}

/// What the connection's callbacks report.
#[derive(Debug)]
enum Signal {
    Connected,
    ConnectRefused(String),
    Closed,
    Error(String),
}

/// A connection to a hub's namespace that has been accepted.
pub struct Publisher {
    client: Client,
    signals: mpsc::UnboundedReceiver<Signal>,
    /// The hub's URL, normalized.
    url: String,
    namespace: String,
    timeout: Duration,
    waited: Waited,
    /// The longest frame the hub reads, once asked ([`frame_limit`]); `Some(None)`: it did not say.
    frame_limit: Option<Option<usize>>,
}

/// How often, and how long in all, a [`Publisher`] waited because the hub refused an event with
/// `rate_limited`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Waited {
    pub times: u64,
    pub total: Duration,
}

impl Waited {
    /// The waits since `earlier`, a value taken from the same publisher.
    pub fn since(self, earlier: Waited) -> Waited {
        Waited {
            times: self.times.saturating_sub(earlier.times),
            total: self.total.saturating_sub(earlier.total),
        }
    }
}

impl Publisher {
    /// Connects to the hub at `url` and waits until the hub has accepted the namespace.
    /// Failures before the hub was reached are retried `options.retries` times with backoff.
    pub async fn connect(url: &str, options: PublisherOptions) -> Result<Self, PublishError> {
        let url = normalize_url(url)?;
        let mut attempt = 0;
        loop {
            match Self::connect_once(&url, &options).await {
                Err(e) if e.is_retryable() && attempt < options.retries => {
                    attempt += 1;
                    tokio::time::sleep(backoff(attempt)).await;
                }
                outcome => return outcome,
            }
        }
    }

    async fn connect_once(url: &str, options: &PublisherOptions) -> Result<Self, PublishError> {
        let timeout = options.timeout.min(MAX_TIMEOUT);
        let deadline = Instant::now() + timeout;
        let (tx, mut signals) = mpsc::unbounded_channel();
        let mut builder = ClientBuilder::new(url)
            .namespace(options.namespace.as_str())
            .transport_type(TRANSPORT)
            .reconnect(false)
            .on(Event::Connect, report(&tx, |_| Signal::Connected))
            .on(Event::Close, report(&tx, |_| Signal::Closed))
            .on(Event::Error, report(&tx, classify_error));
        if let Some(token) = &options.token {
            builder = builder.auth(serde_json::json!({ "token": token }));
        }
        let connect_failed = |reason: String| PublishError::Connect { url: url.to_owned(), reason };
        let timed_out = PublishError::Timeout { stage: Stage::Connect, after: timeout };

        let client = match timeout_at(deadline, builder.connect()).await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => return Err(connect_failed(error_chain(&e))),
            Err(_) => return Err(timed_out),
        };
        // The first signal after `connect()` tells whether the hub accepted the namespace.
        let accepted = match timeout_at(deadline, signals.recv()).await {
            Ok(Some(Signal::Connected)) => Ok(()),
            Ok(Some(Signal::ConnectRefused(message))) => Err(PublishError::ConnectRefused(message)),
            Ok(Some(Signal::Error(reason))) => Err(connect_failed(reason)),
            Ok(Some(Signal::Closed) | None) => Err(PublishError::ConnectionLost(Stage::Connect)),
            Err(_) => Err(timed_out),
        };
        match accepted {
            Ok(()) => Ok(Self {
                client,
                signals,
                url: url.to_owned(),
                namespace: options.namespace.clone(),
                timeout,
                waited: Waited::default(),
                frame_limit: None,
            }),
            Err(e) => {
                disconnect(&client).await;
                Err(e)
            }
        }
    }

    /// Publishes `event` with `data` to `rooms` (empty: the whole namespace) and returns the hub's ack:
    /// how many sockets it emitted the event to, whether only part of a cluster was reached, and where
    /// each target stream recorded it (`recorded`: the room, or none for the namespace, its offset and
    /// epoch). A `rate_limited` refusal is waited out and sent again within the timeout (see
    /// [`send`](Self::send)).
    /// Takes `&mut self` because one connection has one event in flight at a time: rust_socketio draws
    /// ack ids at random from 0..1000, so concurrent acks could be mixed up.
    pub async fn publish(
        &mut self,
        event: &str,
        data: Value,
        rooms: &[String],
    ) -> Result<PublishAck, PublishError> {
        let request = PublishRequest { event: event.to_owned(), data, rooms: rooms.to_vec(), history: true };
        self.send(request).await
    }

    /// Publishes `event` like [`publish`](Self::publish), as a volatile event: the hub delivers it to the
    /// sockets connected now and records it in no history, so no client that reconnects or joins later
    /// gets it (typing indicators, progress). Its ack's `recorded` is empty.
    pub async fn publish_volatile(
        &mut self,
        event: &str,
        data: Value,
        rooms: &[String],
    ) -> Result<PublishAck, PublishError> {
        let request = PublishRequest { event: event.to_owned(), data, rooms: rooms.to_vec(), history: false };
        self.send(request).await
    }

    /// Publishes a prepared request; see [`publish`](Self::publish).
    ///
    /// When the hub refuses it with `rate_limited`, waits as long as the hub says and sends it again, as
    /// often as needed, all within the timeout: a wait that would end past it is not begun, and the
    /// refusal is returned instead. An event larger than the hub reads is not sent
    /// ([`PublishError::TooLarge`]), and the connection stays usable.
    pub async fn send(&mut self, request: PublishRequest) -> Result<PublishAck, PublishError> {
        let payload = serde_json::to_value(&request).map_err(|e| PublishError::Protocol(e.to_string()))?;
        let deadline = Instant::now() + self.timeout;
        let frame = frame_len(&self.namespace, &payload);
        if frame > SMALLEST_FRAME_LIMIT
            && let Some(limit) = self.frame_limit(deadline).await
            && frame > limit
        {
            return Err(PublishError::TooLarge { frame, limit });
        }
        loop {
            let refusal = match self.send_once(payload.clone(), deadline).await {
                Err(PublishError::Refused(refusal)) if refusal.code == ErrorCode::RateLimited => refusal,
                outcome => return outcome,
            };
            // No jitter: the hub's clock started this wait before the ack travelled back, so waiting it
            // out from here is already late enough, and the bucket is this socket's alone.
            let Some(wait) = refusal.retry_after() else { return Err(PublishError::Refused(refusal)) };
            let resume = Instant::now() + wait;
            if resume >= deadline {
                return Err(PublishError::Refused(refusal));
            }
            tokio::time::sleep_until(resume).await;
            self.waited.times += 1;
            self.waited.total += wait;
        }
    }

    /// The longest frame the hub reads, asked once per connection; `None` if it cannot be known by
    /// `deadline` (the event is then sent, and the hub decides).
    async fn frame_limit(&mut self, deadline: Instant) -> Option<usize> {
        if self.frame_limit.is_none() {
            self.frame_limit = Some(timeout_at(deadline, frame_limit(&self.url)).await.ok().flatten());
        }
        self.frame_limit.flatten()
    }

    /// Whether the hub was asked for its frame limit, with one Engine.IO polling handshake of its own
    /// beside the websocket (for an event over 2 KiB), and what it said; `None`: not asked.
    pub fn asked_frame_limit(&self) -> Option<Option<usize>> {
        self.frame_limit
    }

    /// The waits for the hub's rate limit so far, over the life of this connection.
    pub fn waited(&self) -> Waited {
        self.waited
    }

    /// Emits the request once and waits for its ack until `deadline`.
    async fn send_once(&mut self, payload: Value, deadline: Instant) -> Result<PublishAck, PublishError> {
        let (ack_tx, mut ack_rx) = mpsc::unbounded_channel();
        let on_ack = move |payload: Payload, _: Client| {
            let _ = ack_tx.send(payload);
            async {}.boxed()
        };
        let left = deadline.saturating_duration_since(Instant::now());
        self.client
            .emit_with_ack(events::PUBLISH, payload, left, on_ack)
            .await
            .map_err(|_| PublishError::ConnectionLost(Stage::Ack))?;

        loop {
            tokio::select! {
                ack = ack_rx.recv() => return match ack {
                    Some(payload) => parse_ack(payload),
                    None => Err(PublishError::ConnectionLost(Stage::Ack)),
                },
                signal = self.signals.recv() => match signal {
                    Some(Signal::Closed) | None => return Err(PublishError::ConnectionLost(Stage::Ack)),
                    Some(_) => continue,
                },
                () = tokio::time::sleep_until(deadline) => {
                    return Err(PublishError::Timeout { stage: Stage::Ack, after: self.timeout });
                }
            }
        }
    }

    /// Disconnects cleanly (the hub sees a client disconnect, not a broken transport).
    pub async fn close(self) {
        disconnect(&self.client).await;
    }
}

/// How long the websocket frame that carries `payload` as a `publish` event is, at most: Engine.IO's
/// `4`, Socket.IO's `2`, the namespace, an ack id of up to 3 digits, and `["publish",PAYLOAD]`.
fn frame_len(namespace: &str, payload: &Value) -> usize {
    let namespace = if namespace == "/" { 0 } else { namespace.len() + 1 };
    let arguments = serde_json::to_vec(&(events::PUBLISH, payload)).map_or(0, |json| json.len());
    2 + namespace + 3 + arguments
}

/// The longest frame the hub at `url` (normalized) reads: `maxPayload` in a new Engine.IO handshake,
/// whose session is closed again at once. `None` if the hub does not say.
async fn frame_limit(url: &str) -> Option<usize> {
    let mut endpoint = url::Url::parse(url).ok()?;
    if endpoint.path() == "/" {
        endpoint.set_path("/socket.io/");
    }
    endpoint.query_pairs_mut().append_pair("EIO", "4").append_pair("transport", "polling");
    let http = reqwest::Client::new();
    let open = http.get(endpoint.clone()).send().await.ok()?.error_for_status().ok()?.text().await.ok()?;
    let handshake: Value = serde_json::from_str(open.strip_prefix('0')?).ok()?;
    if let Some(sid) = handshake.get("sid").and_then(Value::as_str) {
        endpoint.query_pairs_mut().append_pair("sid", sid);
        // Engine.IO's close packet, so that the hub forgets the session now rather than at its timeout.
        let _ = http.post(endpoint).body("1").send().await;
    }
    handshake.get("maxPayload")?.as_u64()?.try_into().ok()
}

/// An error and its sources on one line: rust_socketio's own messages are terse ("EngineIO Error").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

async fn disconnect(client: &Client) {
    let _ = tokio::time::timeout(Duration::from_secs(1), client.disconnect()).await;
}

/// A callback that turns what rust_socketio reports into a [`Signal`] on the channel.
fn report(
    tx: &mpsc::UnboundedSender<Signal>,
    to_signal: fn(Payload) -> Signal,
) -> impl for<'a> FnMut(Payload, Client) -> futures_util::future::BoxFuture<'static, ()> + Send + Sync + 'static
{
    let tx = tx.clone();
    move |payload, _| {
        let _ = tx.send(to_signal(payload));
        async {}.boxed()
    }
}

/// rust_socketio reports a `connect_error` as an error whose text is this prefix plus the packet's JSON.
const CONNECT_ERROR_PREFIX: &str = "Received an ConnectError frame: ";

fn classify_error(payload: Payload) -> Signal {
    let text = payload_text(&payload);
    match text.strip_prefix(CONNECT_ERROR_PREFIX) {
        Some(json) => {
            let message = serde_json::from_str::<Value>(json)
                .ok()
                .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_else(|| json.to_owned());
            Signal::ConnectRefused(message)
        }
        None => Signal::Error(text),
    }
}

#[allow(deprecated)] // `Payload::String` is deprecated but still produced by rust_socketio 0.6
fn payload_text(payload: &Payload) -> String {
    match payload {
        Payload::Text(values) => match values.as_slice() {
            [Value::String(text)] => text.clone(),
            values => values.iter().map(Value::to_string).collect::<Vec<_>>().join(" "),
        },
        Payload::String(text) => text.clone(),
        Payload::Binary(bytes) => format!("<{} bytes of binary data>", bytes.len()),
    }
}

fn parse_ack(payload: Payload) -> Result<PublishAck, PublishError> {
    let Payload::Text(values) = &payload else {
        return Err(PublishError::Protocol(format!("ack is not JSON: {}", payload_text(&payload))));
    };
    // rust_socketio hands over the ack's argument list as one JSON array.
    let first = match values.as_slice() {
        [Value::Array(arguments)] => arguments.first().cloned().unwrap_or(Value::Null),
        values => values.first().cloned().unwrap_or(Value::Null),
    };
    let ack: Ack<PublishAck> =
        serde_json::from_value(first.clone()).map_err(|_| PublishError::Protocol(format!("ack {first}")))?;
    Result::<PublishAck, Rejection>::from(ack).map_err(PublishError::Refused)
}

/// Where [`Publisher::connect`] connects and how, as `publish -v` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The URL of the first request, as rust_socketio and rust_engineio build it from the hub's URL
    /// (the Socket.IO path, `EIO=4`, the transport), with a password and the values of the URL's own
    /// query parameters masked: they may hold secrets.
    pub url: String,
    /// The transport, and whether polling comes first.
    pub transport: &'static str,
}

impl Endpoint {
    /// The endpoint a [`Publisher`] connects to for the hub at `url`.
    pub fn of(url: &str) -> Result<Self, PublishError> {
        let normalized = normalize_url(url)?;
        let mut endpoint = url::Url::parse(&normalized)
            .map_err(|e| PublishError::InvalidUrl { url: url.to_owned(), reason: e.to_string() })?;
        mask_secrets(&mut endpoint);
        if endpoint.path() == "/" {
            endpoint.set_path("/socket.io/");
        }
        endpoint.query_pairs_mut().append_pair("EIO", "4");
        let (query, scheme, transport) = match TRANSPORT {
            TransportType::Websocket => {
                ("websocket", "ws", "websocket only (the handshake too: no polling, no upgrade)")
            }
            TransportType::Polling => ("polling", "http", "polling only"),
            TransportType::WebsocketUpgrade => ("polling", "http", "polling, then upgraded to websocket"),
            TransportType::Any => ("polling", "http", "polling, then websocket if the upgrade works"),
        };
        endpoint.query_pairs_mut().append_pair("transport", query);
        let secure = endpoint.scheme() == "https";
        let scheme = match (scheme, secure) {
            ("ws", true) => "wss",
            ("http", true) => "https",
            (scheme, _) => scheme,
        };
        // Switching between these schemes cannot fail: both are special schemes with a host.
        let _ = endpoint.set_scheme(scheme);
        Ok(Self { url: endpoint.into(), transport })
    }
}

/// Replaces a password and the values of the query parameters with `***`.
fn mask_secrets(url: &mut url::Url) {
    if url.password().is_some() {
        let _ = url.set_password(Some("***"));
    }
    let names: Vec<String> = url.query_pairs().map(|(name, _)| name.into_owned()).collect();
    if !names.is_empty() {
        url.query_pairs_mut().clear().extend_pairs(names.iter().map(|name| (name, "***")));
    }
}

/// Accepts `http(s)://` and `ws(s)://` URLs of the hub itself (the Socket.IO path is implied).
fn normalize_url(url: &str) -> Result<String, PublishError> {
    let invalid = |reason: &str| PublishError::InvalidUrl { url: url.to_owned(), reason: reason.to_owned() };
    let mut parsed = url::Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
    let scheme = match parsed.scheme() {
        "http" | "ws" => "http",
        "https" | "wss" => "https",
        _ => return Err(invalid("the scheme must be http, https, ws or wss")),
    };
    parsed.set_scheme(scheme).map_err(|()| invalid("cannot use this scheme"))?;
    if parsed.host_str().is_none() {
        return Err(invalid("no host"));
    }
    Ok(parsed.into())
}

/// The wait before retry number `attempt` (from 1): 500 ms, 1 s, 2 s, then 4 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250u64.saturating_mul(1 << attempt.min(4)).min(4_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_errors_are_recognized() {
        let payload =
            Payload::from(format!("{CONNECT_ERROR_PREFIX}{{\"message\":\"invalid publish token\"}}"));
        assert!(matches!(classify_error(payload), Signal::ConnectRefused(m) if m == "invalid publish token"));
        assert!(matches!(classify_error(Payload::from("broken pipe".to_owned())), Signal::Error(_)));
    }

    #[test]
    fn acks_are_parsed() {
        let ok = Payload::Text(vec![serde_json::json!({"ok": true, "delivered": 4})]);
        assert_eq!(parse_ack(ok).unwrap(), PublishAck { delivered: 4, partial: false, recorded: Vec::new() });
        let wrapped = Payload::Text(vec![serde_json::json!([{"ok": true, "delivered": 5, "partial": true}])]);
        assert_eq!(
            parse_ack(wrapped).unwrap(),
            PublishAck { delivered: 5, partial: true, recorded: Vec::new() }
        );
        let refused =
            Payload::Text(vec![serde_json::json!({"ok": false, "error": "forbidden", "message": "no"})]);
        assert!(
            matches!(parse_ack(refused), Err(PublishError::Refused(r)) if r.code == hub_protocol::ErrorCode::Forbidden)
        );
        assert!(matches!(parse_ack(Payload::Text(vec![])), Err(PublishError::Protocol(_))));
    }

    #[test]
    fn urls() {
        assert_eq!(normalize_url("ws://127.0.0.1:3000").unwrap(), "http://127.0.0.1:3000/");
        assert!(normalize_url("ftp://x").is_err());
        assert!(normalize_url("127.0.0.1:3000").is_err());
    }

    #[test]
    fn the_endpoint_is_the_websocket_url_without_secrets() {
        let plain = Endpoint::of("http://127.0.0.1:3000").unwrap();
        assert_eq!(plain.url, "ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket");
        assert!(plain.transport.starts_with("websocket only"), "{}", plain.transport);
        assert_eq!(
            Endpoint::of("wss://hub.example.com/custom/").unwrap().url,
            "wss://hub.example.com/custom/?EIO=4&transport=websocket"
        );
        let secret = Endpoint::of("https://alice:hunter2@hub.example.com/?key=hunter3&x=").unwrap();
        assert_eq!(
            secret.url,
            "wss://alice:***@hub.example.com/socket.io/?key=***&x=***&EIO=4&transport=websocket"
        );
        assert!(Endpoint::of("ftp://x").is_err());
    }

    #[test]
    fn frame_lengths_count_what_goes_on_the_wire() {
        let payload = serde_json::json!({"event": "e", "data": "x"});
        let frame = format!("42/orders,999[\"publish\",{payload}]");
        assert_eq!(frame_len("/orders", &payload), frame.len());
        assert_eq!(frame_len("/", &payload), frame.len() - "/orders,".len());
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_millis(500));
        assert_eq!(backoff(30), Duration::from_millis(4000));
    }
}
