//! The hub against the Engine.IO v4 and Socket.IO v5 protocol specifications, spoken frame by frame over
//! raw HTTP long-polling and raw websockets: handshake, heartbeat, payload encoding, close, upgrade,
//! namespaces, acks and malformed input. Where the hub deliberately differs from the reference server,
//! the test says so and PROTOCOL.md ("Conformance") explains why.

use std::time::Duration;

use e2e::polling::{self, Polling, SEPARATOR};
use e2e::{TestHub, WAIT, hub::TOKEN, raw};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// The heartbeat the protocol's reference server is configured with.
const PING_INTERVAL: Duration = Duration::from_millis(300);
const PING_TIMEOUT: Duration = Duration::from_millis(200);

/// A hub with the reference heartbeat (300 ms / 200 ms), for the tests that watch it.
async fn quick_heartbeat_hub() -> TestHub {
    TestHub::start_with(|config| {
        config.ping_interval = PING_INTERVAL;
        config.ping_timeout = PING_TIMEOUT;
    })
    .await
}

fn ws_url(port: u16, query: &str) -> String {
    format!("ws://127.0.0.1:{port}/socket.io/?{query}")
}

/// A new Engine.IO session over websocket, and its open packet's JSON.
async fn ws_session(port: u16) -> (raw::Socket, Value) {
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url(port, "EIO=4&transport=websocket"))
        .await
        .expect("ws connects");
    let open = text(&mut ws).await;
    let handshake = open.strip_prefix('0').unwrap_or_else(|| panic!("expected an open packet, got {open}"));
    (ws, serde_json::from_str(handshake).expect("the open packet is JSON"))
}

/// The next frame, whatever it is (pings included, unanswered).
async fn frame(ws: &mut raw::Socket) -> Option<Message> {
    tokio::time::timeout(WAIT, ws.next()).await.expect("a frame within the wait").and_then(Result::ok)
}

/// The next text frame, pings included (unanswered).
async fn text(ws: &mut raw::Socket) -> String {
    match frame(ws).await {
        Some(Message::Text(text)) => text.to_string(),
        other => panic!("expected a text frame, got {other:?}"),
    }
}

/// The next text frame that is not a ping; pings are answered.
async fn reply(ws: &mut raw::Socket) -> String {
    tokio::time::timeout(WAIT, raw::next_text(ws)).await.expect("a reply within the wait").expect("open")
}

/// Whether the hub ends the session within the wait: a close frame, an Engine.IO close packet, or the
/// connection dropped. Pings are not answered, so run this on a hub whose heartbeat is slower than WAIT.
async fn ends(ws: &mut raw::Socket) -> bool {
    let watch = async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) if text.as_str() == "1" => return,
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => continue,
            }
        }
    };
    tokio::time::timeout(WAIT, watch).await.is_ok()
}

/// Sends the Socket.IO CONNECT `packet` and returns the hub's answer.
async fn sio_connect(ws: &mut raw::Socket, packet: &str) -> String {
    raw::send(ws, packet).await.unwrap();
    reply(ws).await
}

/// The JSON after the prefix of a CONNECT reply (`40`, `40/custom,`, `44`, ...).
fn body_after(packet: &str, prefix: &str) -> Value {
    let body = packet.strip_prefix(prefix).unwrap_or_else(|| panic!("expected {prefix}..., got {packet}"));
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {packet}"))
}

/// Connects the polling session to `/` and reads the CONNECT reply.
async fn sio_connect_over_polling(session: &Polling) {
    assert_eq!(session.post("40").await, (200, "ok".to_owned()));
    session.poll_until(|packet| packet.starts_with("40{")).await.expect("the CONNECT reply");
}

/// engineioxide pings a new session at once instead of after the ping interval (see
/// `the_first_ping_waits_for_the_ping_interval`); tests about what a poll returns take that ping first.
async fn take_first_ping(session: &Polling) {
    assert_eq!(session.get().await, (200, "2".to_owned()));
    assert_eq!(session.post("3").await.0, 200);
}

/// One poll's packets, pings answered and left out (the first ping may come at any time, see
/// `take_first_ping`).
async fn without_pings(session: &Polling) -> Vec<String> {
    let (status, payload) = session.get().await;
    assert_eq!(status, 200, "{payload}");
    let packets: Vec<String> = payload.split(SEPARATOR).map(str::to_owned).collect();
    if packets.iter().any(|packet| packet == "2") {
        session.post("3").await;
    }
    packets.into_iter().filter(|packet| packet != "2").collect()
}

fn open_packet_keys(handshake: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = handshake.as_object().expect("an object").keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

// Engine.IO: handshake

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_polling_handshake_opens_a_session_announcing_its_settings() {
    let hub = quick_heartbeat_hub().await;
    let session = Polling::open(hub.port).await.unwrap();
    let handshake = &session.handshake;
    assert_eq!(open_packet_keys(handshake), ["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"]);
    assert!(!session.sid.is_empty());
    assert_eq!(handshake["upgrades"], json!(["websocket"]));
    assert_eq!(handshake["pingInterval"], 300);
    assert_eq!(handshake["pingTimeout"], 200);
    // Deliberate: the hub reads messages up to twice --max-payload (refusing the extra with `too_large`)
    // and announces that hard cap.
    assert_eq!(handshake["maxPayload"], 2 * hub::config::DEFAULT_MAX_PAYLOAD);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_websocket_handshake_opens_a_session_with_nothing_to_upgrade_to() {
    let hub = quick_heartbeat_hub().await;
    let (_ws, handshake) = ws_session(hub.port).await;
    assert_eq!(
        open_packet_keys(&handshake),
        ["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"]
    );
    assert_eq!(handshake["upgrades"], json!([]));
    assert_eq!(handshake["pingInterval"], 300);
    assert_eq!(handshake["pingTimeout"], 200);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handshake_with_a_bad_query_or_method_is_refused() {
    let hub = TestHub::start().await;
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{}/socket.io/", hub.port);
    for query in ["transport=polling", "EIO=abc&transport=polling", "EIO=4", "EIO=4&transport=abc"] {
        let status = http.get(format!("{base}?{query}")).send().await.unwrap().status();
        assert_eq!(status, 400, "GET ?{query}");
    }
    // socket.io v2 (Engine.IO 3) is refused without --allow-eio3, however its version is spelled.
    for query in ["EIO=3&transport=polling", "EIO=3=x&transport=polling", "EIO=3=&transport=polling"] {
        let status = http.get(format!("{base}?{query}")).send().await.unwrap().status();
        assert_eq!(status, 400, "GET ?{query}");
    }
    for method in [reqwest::Method::POST, reqwest::Method::PUT] {
        let status = http.request(method.clone(), polling::endpoint(hub.port)).send().await.unwrap().status();
        assert_eq!(status, 400, "{method} without a session");
    }
    for query in ["transport=websocket", "EIO=abc&transport=websocket", "EIO=4", "EIO=4&transport=abc"] {
        match tokio_tungstenite::connect_async(ws_url(hub.port, query)).await {
            Err(_) => {}
            Ok((mut ws, _)) => assert!(ends(&mut ws).await, "websocket ?{query} is closed"),
        }
    }
    hub.stop().await;
}

// Engine.IO: messages and payload encoding

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_carries_one_packet_or_several_in_a_payload_each_way() {
    let hub = TestHub::start().await;
    let session = Polling::open(hub.port).await.unwrap();
    sio_connect_over_polling(&session).await;

    assert_eq!(session.post(r#"421["echo","hello"]"#).await, (200, "ok".to_owned()));
    assert_eq!(without_pings(&session).await, [r#"431["hello"]"#]);

    let three = [r#"422["echo","a"]"#, r#"423["echo","b"]"#, r#"424["echo","c"]"#].join("\u{1e}");
    assert_eq!(session.post(&three).await, (200, "ok".to_owned()));
    // One socket's events are handled in order, so their acks come back in order (in one payload or
    // more, as the polls happen to fall).
    let mut acks = Vec::new();
    while acks.len() < 3 {
        acks.extend(without_pings(&session).await);
    }
    assert_eq!(acks, [r#"432["a"]"#, r#"433["b"]"#, r#"434["c"]"#], "in order");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_attachments_are_echoed_over_polling() {
    let hub = TestHub::start().await;
    let session = Polling::open(hub.port).await.unwrap();
    sio_connect_over_polling(&session).await;
    let payload = "451-1[\"echo\",\"hello\",{\"_placeholder\":true,\"num\":0}]\u{1e}bAQIDBA==";
    assert_eq!(session.post(payload).await, (200, "ok".to_owned()));
    // The ack and its attachment travel in one payload, the attachment right after the ack.
    let payload = tokio::time::timeout(e2e::WAIT, async {
        loop {
            let (_, payload) = session.get().await;
            if payload.contains("461-1") {
                return payload;
            }
        }
    })
    .await
    .expect("the ack within 5 s");
    let packets: Vec<&str> = payload.split('\u{1e}').filter(|packet| *packet != "2").collect();
    assert_eq!(packets, [r#"461-1["hello",{"_placeholder":true,"num":0}]"#, "bAQIDBA=="]);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_polling_packet_ends_the_session() {
    let hub = TestHub::start().await;
    let session = Polling::open(hub.port).await.unwrap();
    let (status, _) = session.post("abc").await;
    assert!(status == 400 || status == 0, "refused or cut off, got {status}");
    assert_eq!(session.get().await.0, 400, "the session is gone");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_concurrent_poll_ends_the_session() {
    let hub = TestHub::start().await;
    let session = Polling::open(hub.port).await.unwrap();
    take_first_ping(&session).await;
    let (first, second) = tokio::join!(session.get(), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        session.get().await
    });
    assert!(second.0 == 400 || second.0 == 500, "the second poll is refused: {second:?}");
    assert_eq!(first, (200, "1".to_owned()), "the first poll gets the close packet");
    assert_eq!(session.get().await.0, 400, "the session is gone");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_carries_text_packets() {
    let hub = TestHub::start().await;
    let mut ws = raw::connect(hub.port).await.unwrap();
    raw::send(&mut ws, r#"421["echo","hello"]"#).await.unwrap();
    assert_eq!(reply(&mut ws).await, r#"431["hello"]"#);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_attachments_are_echoed_over_a_websocket() {
    let hub = TestHub::start().await;
    let mut ws = raw::connect(hub.port).await.unwrap();
    raw::send(&mut ws, r#"452-789["echo",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)
        .await
        .unwrap();
    ws.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    ws.send(Message::binary(vec![4, 5, 6])).await.unwrap();
    assert_eq!(
        reply(&mut ws).await,
        r#"462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
    );
    for expected in [[1u8, 2, 3], [4, 5, 6]] {
        match frame(&mut ws).await {
            Some(Message::Binary(bytes)) => assert_eq!(bytes.as_ref(), expected),
            other => panic!("expected an attachment, got {other:?}"),
        }
    }
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_websocket_packet_ends_the_session() {
    let hub = TestHub::start().await;
    let (mut ws, _) = ws_session(hub.port).await;
    raw::send(&mut ws, "abc").await.unwrap();
    assert!(ends(&mut ws).await);
    hub.stop().await;
}

// Engine.IO: heartbeat

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_sessions_are_pinged_and_live_on_while_they_answer() {
    let hub = quick_heartbeat_hub().await;
    let session = Polling::open(hub.port).await.unwrap();
    for round in 0..3 {
        assert_eq!(session.get().await, (200, "2".to_owned()), "ping {round}");
        assert_eq!(session.post("3").await, (200, "ok".to_owned()));
    }
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polling_session_that_does_not_answer_pings_times_out() {
    let hub = quick_heartbeat_hub().await;
    let session = Polling::open(hub.port).await.unwrap();
    tokio::time::sleep(PING_INTERVAL + PING_TIMEOUT + Duration::from_millis(100)).await;
    assert_eq!(session.get().await.0, 400);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_sessions_are_pinged_and_live_on_while_they_answer() {
    let hub = quick_heartbeat_hub().await;
    let (mut ws, _) = ws_session(hub.port).await;
    for round in 0..3 {
        assert_eq!(text(&mut ws).await, "2", "ping {round}");
        raw::send(&mut ws, "3").await.unwrap();
    }
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_session_that_does_not_answer_pings_is_closed() {
    let hub = quick_heartbeat_hub().await;
    let (mut ws, _) = ws_session(hub.port).await;
    assert!(ends(&mut ws).await);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_ping_waits_for_the_ping_interval() {
    let hub = quick_heartbeat_hub().await;
    let started = tokio::time::Instant::now();
    let (mut ws, _) = ws_session(hub.port).await;
    assert_eq!(text(&mut ws).await, "2");
    assert!(
        started.elapsed() >= PING_INTERVAL - Duration::from_millis(20),
        "pinged after {:?}",
        started.elapsed()
    );
    hub.stop().await;
}

// Engine.IO: close

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_packet_ends_a_polling_session_and_its_pending_poll() {
    let hub = TestHub::start().await;
    let session = Polling::open(hub.port).await.unwrap();
    take_first_ping(&session).await;
    let (pending, closing) = tokio::join!(session.get(), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        session.post("1").await
    });
    assert_eq!(closing, (200, "ok".to_owned()));
    assert_eq!(pending, (200, "6".to_owned()), "the pending poll ends with a noop");
    assert_eq!(session.get().await.0, 400, "the session is gone");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_packet_ends_a_websocket_session() {
    let hub = TestHub::start().await;
    let (mut ws, _) = ws_session(hub.port).await;
    raw::send(&mut ws, "1").await.unwrap();
    assert!(ends(&mut ws).await);
    hub.stop().await;
}

// Engine.IO: upgrade

/// Opens a polling session and starts upgrading it: websocket with its sid, probe, upgrade packet.
async fn upgraded(port: u16) -> (Polling, raw::Socket) {
    let session = Polling::open(port).await.unwrap();
    take_first_ping(&session).await;
    let url = ws_url(port, &format!("EIO=4&transport=websocket&sid={}", session.sid));
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("the upgrade connects");
    raw::send(&mut ws, "2probe").await.unwrap();
    assert_eq!(text(&mut ws).await, "3probe");
    (session, ws)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polling_session_upgrades_to_websocket() {
    let hub = TestHub::start().await;
    let (session, mut ws) = upgraded(hub.port).await;
    assert_eq!(session.get().await, (200, "6".to_owned()), "a poll during the upgrade gets a noop");
    raw::send(&mut ws, "5").await.unwrap();
    assert!(sio_connect(&mut ws, "40").await.starts_with("40{"));
    raw::send(&mut ws, r#"421["echo","hello"]"#).await.unwrap();
    assert_eq!(reply(&mut ws).await, r#"431["hello"]"#);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_upgrade_polling_requests_are_refused() {
    let hub = TestHub::start().await;
    let (session, mut ws) = upgraded(hub.port).await;
    raw::send(&mut ws, "5").await.unwrap();
    // The upgrade is complete once the hub has read `5`; its CONNECT reply over the websocket proves it.
    assert!(sio_connect(&mut ws, "40").await.starts_with("40{"));
    assert_eq!(session.get().await.0, 400);
    raw::send(&mut ws, r#"421["echo","still here"]"#).await.unwrap();
    assert_eq!(reply(&mut ws).await, r#"431["still here"]"#);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_upgrade_a_second_websocket_is_refused() {
    let hub = TestHub::start().await;
    let (session, mut ws) = upgraded(hub.port).await;
    raw::send(&mut ws, "5").await.unwrap();
    assert!(sio_connect(&mut ws, "40").await.starts_with("40{"));
    let url = ws_url(hub.port, &format!("EIO=4&transport=websocket&sid={}", session.sid));
    if let Ok((mut second, _)) = tokio_tungstenite::connect_async(url).await {
        assert!(ends(&mut second).await, "the second websocket is closed");
    }
    raw::send(&mut ws, r#"421["echo","still here"]"#).await.unwrap();
    assert_eq!(reply(&mut ws).await, r#"431["still here"]"#);
    hub.stop().await;
}

// Socket.IO: connect and disconnect

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_connect_to_the_main_and_custom_namespaces_with_or_without_auth() {
    let hub = TestHub::start().await;
    for (packet, prefix) in [
        ("40", "40"),
        (r#"40{"user":"123"}"#, "40"),
        ("40/custom,", "40/custom,"),
        (r#"40/custom,{"user":"abc"}"#, "40/custom,"),
    ] {
        let (mut ws, _) = ws_session(hub.port).await;
        let handshake = body_after(&sio_connect(&mut ws, packet).await, prefix);
        assert_eq!(open_packet_keys(&handshake), ["sid"], "{packet}");
        assert!(handshake["sid"].as_str().is_some_and(|sid| !sid.is_empty()), "{packet}");
    }
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_that_breaks_the_naming_rule_is_refused() {
    let hub = TestHub::start().await;
    let (mut ws, _) = ws_session(hub.port).await;
    let refusal = body_after(&sio_connect(&mut ws, "40/random!,").await, "44/random!,");
    assert_eq!(open_packet_keys(&refusal), ["message"]);
    assert!(refusal["message"].as_str().unwrap().starts_with("namespace must be"), "{refusal}");
    // Deliberate: any well-formed name is a namespace (the reference server refuses `/random`).
    assert!(sio_connect(&mut ws, "40/random,").await.starts_with("40/random,{"));
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auth_token_that_is_not_the_publish_token_is_refused() {
    let hub = TestHub::start().await;
    let (mut ws, _) = ws_session(hub.port).await;
    let refusal = body_after(&sio_connect(&mut ws, r#"40{"token":"123"}"#).await, "44");
    assert_eq!(refusal, json!({"message": hub_protocol::auth::INVALID_TOKEN_MESSAGE}));
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_instead_of_connect_closes_the_connection() {
    let hub = TestHub::start().await;
    let (mut ws, _) = ws_session(hub.port).await;
    raw::send(&mut ws, "4abc").await.unwrap();
    assert!(ends(&mut ws).await);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_that_never_connects_is_closed_by_the_heartbeat() {
    let hub = quick_heartbeat_hub().await;
    let (mut ws, _) = ws_session(hub.port).await;
    assert!(ends(&mut ws).await);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_that_answers_pings_but_never_connects_is_closed() {
    // The suite's `connectTimeout`.
    let hub = TestHub::start_with(|config| {
        config.ping_interval = PING_INTERVAL;
        config.ping_timeout = PING_TIMEOUT;
        config.connect_timeout = Duration::from_secs(1);
    })
    .await;
    let (mut ws, _) = ws_session(hub.port).await;
    let outcome = tokio::time::timeout(Duration::from_secs(5), raw::next_text(&mut ws))
        .await
        .expect("closed within 5 s");
    if let Ok(packet) = outcome {
        assert_eq!(packet, "1", "nothing but a close packet comes");
    }
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnecting_from_the_main_namespace_keeps_the_session() {
    let hub = quick_heartbeat_hub().await;
    let mut ws = raw::connect(hub.port).await.unwrap();
    raw::send(&mut ws, "41").await.unwrap();
    // Still pinged, and still answering pings keeps it: the Engine.IO session outlives the socket.
    for _ in 0..2 {
        assert_eq!(text(&mut ws).await, "2");
        raw::send(&mut ws, "3").await.unwrap();
    }
    assert!(sio_connect(&mut ws, "40").await.starts_with("40{"), "and can connect again");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnecting_from_a_custom_namespace_keeps_the_main_one() {
    let hub = TestHub::start().await;
    let mut ws = raw::connect(hub.port).await.unwrap();
    assert!(sio_connect(&mut ws, "40/custom").await.starts_with("40/custom,{"));
    raw::send(&mut ws, "41/custom").await.unwrap();
    raw::send(&mut ws, r#"421["echo","message to main namespace"]"#).await.unwrap();
    assert_eq!(reply(&mut ws).await, r#"431["message to main namespace"]"#);
    hub.stop().await;
}

// Socket.IO: events and acks

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ack_carries_the_request_id_and_the_arguments() {
    let hub = TestHub::start().await;
    let mut ws = raw::connect(hub.port).await.unwrap();
    raw::send(&mut ws, r#"42456["echo",1,"2",{"3":[false]}]"#).await.unwrap();
    assert_eq!(reply(&mut ws).await, r#"43456[1,"2",{"3":[false]}]"#);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_the_hub_does_not_handle_are_for_publishers_only() {
    let hub = TestHub::start().await;
    let mut browser = raw::connect(hub.port).await.unwrap();
    // Without an ack the refusal is silent; the reference server would answer `message-back`.
    raw::send(&mut browser, r#"42["message",1,"2",{"3":[true]}]"#).await.unwrap();
    raw::send(&mut browser, r#"429["message",1]"#).await.unwrap();
    let refusal: Value =
        serde_json::from_str(reply(&mut browser).await.strip_prefix("439").unwrap()).unwrap();
    assert_eq!(refusal[0]["error"], "forbidden", "{refusal}");

    // A publisher's event goes to the others, never back to the publisher.
    let (mut publisher, _) = ws_session(hub.port).await;
    let connect = format!(r#"40{{"token":"{TOKEN}"}}"#);
    assert!(sio_connect(&mut publisher, &connect).await.starts_with("40{"));
    raw::send(&mut publisher, r#"42["message",1,"2",{"3":[true]}]"#).await.unwrap();
    assert_eq!(reply(&mut browser).await, r#"42["message",1,"2",{"3":[true]}]"#);
    raw::send(&mut publisher, r#"421["echo","nothing before this"]"#).await.unwrap();
    assert_eq!(reply(&mut publisher).await, r#"431["nothing before this"]"#);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_packets_close_the_connection() {
    let hub = TestHub::start().await;
    for packet in ["4abc", "42{}", r#"42abc["echo",1,"2",{"3":[false]}]"#] {
        let mut ws = raw::connect(hub.port).await.unwrap();
        raw::send(&mut ws, packet).await.unwrap();
        assert!(ends(&mut ws).await, "{packet} closes the connection");
    }
    hub.stop().await;
}
