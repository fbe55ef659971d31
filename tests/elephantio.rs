//! PHP's Elephant.io (`Version4X`, its 4.x and 5.x releases) publishes through the hub in each of its
//! three modes: the default (polling handshake, then a websocket upgrade without probe), websocket-only
//! and polling-only.
//!
//! The client here puts Elephant.io's wire sequences on the wire (support/elephant.rs): one TCP
//! connection, the CONNECT with the publish token, an emit without ack (`42[...]`) and one with ack
//! (`420[...]`, Elephant.io's first ack id is 0), replies read one packet at a time. A second, ordinary
//! client receives what the publisher emits.

use std::time::{Duration, Instant};

use e2e::elephant::{Elephant, next_packet};
use e2e::history::epoch_of;
use e2e::hub::TOKEN;
use e2e::raw::{self, Socket};
use e2e::{TestClient, TestHub, WAIT};
use serde_json::{Value, json};

/// `40{"token":...}`: Elephant.io's CONNECT to `/` with `auth => ['token' => ...]`.
fn connect_packet() -> String {
    format!("40{}", json!({ "token": TOKEN }))
}

/// The ack's arguments in `430[...]`, the reply to Elephant.io's first emit with ack.
fn ack_of(packet: &str) -> Option<Value> {
    serde_json::from_str(packet.strip_prefix("430")?).ok()
}

/// Emits like a publisher on the websocket, without and then with ack, reading as Elephant.io does
/// (`waitForPacket`: packet after packet until the ack, answering PINGs on the way); checks that the
/// receiver gets both events.
async fn publish_over_websocket(ws: &mut Socket, receiver: &mut TestClient, from: &str) {
    raw::send(ws, &format!(r#"42["news",{{"from":"{from}","n":1}}]"#)).await.expect("emit");
    raw::send(ws, &format!(r#"420["news",{{"from":"{from}","n":2}}]"#)).await.expect("emit with ack");
    let ack = tokio::time::timeout(WAIT, async {
        loop {
            let packet = next_packet(ws).await.expect("the session stays open");
            if packet == "2" {
                raw::send(ws, "3").await.expect("pong");
            } else if let Some(ack) = ack_of(&packet) {
                return ack;
            }
        }
    })
    .await
    .expect("the ack within 5 s");
    assert_acked_second(&ack);
    expect_both_events(receiver, from).await;
}

/// The ack of the second event: delivered to the receiver, and recorded right after the first one (the
/// namespace's stream had no event before).
fn assert_acked_second(ack: &Value) {
    let recorded = json!([{ "offset": 2, "epoch": epoch_of(&ack[0]["recorded"][0]) }]);
    assert_eq!(ack, &json!([{ "ok": true, "delivered": 1, "recorded": recorded }]));
}

/// The receiver gets both events, in the order they were emitted.
async fn expect_both_events(receiver: &mut TestClient, from: &str) {
    for n in 1..=2 {
        assert_eq!(receiver.expect_event("news").await, [json!({ "from": from, "n": n })], "event {n}");
    }
}

#[tokio::test]
async fn default_mode_polls_then_upgrades_without_probe() {
    let hub = TestHub::start().await;
    let mut receiver = TestClient::connect(&hub.url).await;
    let mut php = Elephant::connect(hub.port).await.unwrap();

    let open = php.handshake().await.expect("polling handshake");
    assert_eq!(open["upgrades"], json!(["websocket"]));
    assert_eq!(php.post(&connect_packet()).await.unwrap(), "ok");
    // Elephant.io reads one poll and needs the CONNECT reply in it; it answers the PING it finds.
    let packets = php.poll().await.unwrap();
    assert!(packets.iter().any(|p| p.starts_with(r#"40{"sid":"#)), "CONNECT reply in {packets:?}");
    if packets.iter().any(|p| p == "2") {
        assert_eq!(php.post("3").await.unwrap(), "ok");
    }

    let mut ws = php.websocket().await.expect("the websocket on the same connection");
    // No `2probe` / `3probe`: the upgrade packet at once.
    raw::send(&mut ws, "5").await.unwrap();
    publish_over_websocket(&mut ws, &mut receiver, "php-default").await;

    raw::send(&mut ws, "1").await.unwrap();
    hub.stop().await;
}

#[tokio::test]
async fn websocket_only_reads_the_connect_reply_right_after_connect() {
    let ping_interval = Duration::from_millis(1500);
    let ping_timeout = Duration::from_millis(400);
    let hub = TestHub::start_with(|config| {
        config.ping_interval = ping_interval;
        config.ping_timeout = ping_timeout;
    })
    .await;
    let mut receiver = TestClient::connect(&hub.url).await;

    let mut ws = Elephant::connect(hub.port).await.unwrap().websocket().await.expect("websocket handshake");
    let opened = Instant::now();
    let open = next_packet(&mut ws).await.unwrap();
    assert!(open.starts_with("0{"), "expected the OPEN packet, got {open}");
    raw::send(&mut ws, &connect_packet()).await.unwrap();
    let reply = next_packet(&mut ws).await.unwrap();
    assert!(reply.starts_with(r#"40{"sid":"#), "the packet after CONNECT is its reply, got {reply:?}");

    // Nobody read (so nobody answered) the hub's first PING: the session must outlive its ping timeout.
    tokio::time::sleep(ping_timeout * 2).await;
    publish_over_websocket(&mut ws, &mut receiver, "php-websocket").await;

    // As with Node, the first PING the client sees comes a ping interval after the OPEN packet.
    let ping = tokio::time::timeout(WAIT, next_packet(&mut ws)).await.expect("a PING").unwrap();
    assert_eq!(ping, "2");
    assert!(
        opened.elapsed() >= ping_interval - Duration::from_millis(100),
        "first PING after {:?}",
        opened.elapsed()
    );
    raw::send(&mut ws, "3").await.unwrap();

    raw::send(&mut ws, "1").await.unwrap();
    hub.stop().await;
}

#[tokio::test]
async fn polling_only_publishes_with_and_without_ack() {
    let hub = TestHub::start().await;
    let mut receiver = TestClient::connect(&hub.url).await;
    let mut php = Elephant::connect(hub.port).await.unwrap();

    php.handshake().await.expect("polling handshake");
    assert_eq!(php.post(&connect_packet()).await.unwrap(), "ok");
    let packets = php.poll().await.unwrap();
    assert!(packets.iter().any(|p| p.starts_with(r#"40{"sid":"#)), "CONNECT reply in {packets:?}");
    if packets.iter().any(|p| p == "2") {
        assert_eq!(php.post("3").await.unwrap(), "ok");
    }

    assert_eq!(php.post(r#"42["news",{"from":"php-polling","n":1}]"#).await.unwrap(), "ok");
    assert_eq!(php.post(r#"420["news",{"from":"php-polling","n":2}]"#).await.unwrap(), "ok");
    let ack = tokio::time::timeout(WAIT, async {
        loop {
            for packet in php.poll().await.expect("the session stays open") {
                if packet == "2" {
                    php.post("3").await.expect("pong");
                } else if let Some(ack) = ack_of(&packet) {
                    return ack;
                }
            }
        }
    })
    .await
    .expect("the ack within 5 s");
    assert_acked_second(&ack);
    expect_both_events(&mut receiver, "php-polling").await;

    assert_eq!(php.post("1").await.unwrap(), "ok");
    hub.stop().await;
}
