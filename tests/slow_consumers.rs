//! Slow consumers, on the real `hub` binary: a socket whose send queue is full is disconnected, told why
//! first, counted and logged, while everyone else keeps receiving every event; a burst the queue is sized
//! for disconnects nobody and loses nothing.

use e2e::binaries::HubProcess;
use e2e::polling::{Polling, SEPARATOR};
use e2e::{TestClient, WAIT, raw};
use serde_json::{Value, json};
use tokio::net::TcpSocket;
use tokio_tungstenite::MaybeTlsStream;

const TOKEN: &str = "test-publish-token";

/// A hub process of its own (so that its log and metrics are this test's), with the test token.
async fn start_hub() -> HubProcess {
    HubProcess::start(&["--bind", "127.0.0.1:0", "--publish-token", TOKEN], &[]).await
}

/// A bare websocket client connected to `/` with `auth`, whose kernel receive buffer is `receive_buffer`
/// bytes when given: a client that stops reading then stops the hub's writes after a few KiB instead of
/// several MiB of loopback buffers.
async fn connect(port: u16, auth: &str, receive_buffer: Option<u32>) -> raw::Socket {
    let socket = TcpSocket::new_v4().unwrap();
    if let Some(bytes) = receive_buffer {
        socket.set_recv_buffer_size(bytes).unwrap();
    }
    let stream = socket.connect(([127, 0, 0, 1], port).into()).await.unwrap();
    let url = format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(stream)).await.unwrap();
    assert!(raw::next_text(&mut ws).await.unwrap().starts_with('0'), "the Engine.IO open packet");
    raw::send(&mut ws, &format!("40{auth}")).await.unwrap();
    assert!(raw::next_text(&mut ws).await.unwrap().starts_with("40"), "the CONNECT reply");
    ws
}

/// The next frame that is not the hub's room bookkeeping (`members`, `presence`).
async fn next_frame(ws: &mut raw::Socket) -> String {
    loop {
        let frame = tokio::time::timeout(WAIT, raw::next_text(ws)).await.expect("a frame in time").unwrap();
        if !frame.starts_with(r#"42["members""#) && !frame.starts_with(r#"42["presence""#) {
            return frame;
        }
    }
}

/// Joins `room` (ack id 1).
async fn join(ws: &mut raw::Socket, room: &str) {
    raw::send(ws, &format!(r#"421["join","{room}"]"#)).await.unwrap();
    let ack = next_frame(ws).await;
    assert!(ack.starts_with(r#"431[{"ok":true"#), "{ack}");
}

/// An event frame's name and arguments.
fn event(frame: &str) -> (String, Vec<Value>) {
    let body = frame.strip_prefix("42").unwrap_or_else(|| panic!("an event frame: {frame}"));
    let Value::Array(mut parts) = serde_json::from_str(body).unwrap() else { panic!("{frame}") };
    let name = parts.remove(0).as_str().unwrap().to_owned();
    (name, parts)
}

/// Publishes `events` numbered from `first` into `room` through `POST /api/batch` (one request per 100
/// messages); returns each event's `delivered`.
async fn publish(hub: &HubProcess, room: &str, first: u64, events: u64, pad: &str) -> Vec<u64> {
    let http = reqwest::Client::new();
    let mut delivered = Vec::new();
    for start in (first..first + events).step_by(100) {
        let messages: Vec<Value> = (start..(start + 100).min(first + events))
            .map(|n| json!({"event": "bulk", "data": [n, pad], "rooms": [room]}))
            .collect();
        let answer: Value = http
            .post(format!("{}/api/batch", hub.url))
            .bearer_auth(TOKEN)
            .json(&json!({ "messages": messages }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for result in answer["results"].as_array().unwrap_or_else(|| panic!("{answer}")) {
            delivered.push(result["delivered"].as_u64().unwrap_or_else(|| panic!("{result}")));
        }
    }
    delivered
}

/// The value of the metric `name` (no labels).
async fn metric(hub: &HubProcess, name: &str) -> Option<f64> {
    let text = reqwest::get(format!("{}/metrics", hub.url)).await.unwrap().text().await.unwrap();
    text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_told_and_disconnected_and_the_others_get_everything() {
    let hub = start_hub().await;
    let mut readers = [TestClient::connect(&hub.url).await, TestClient::connect(&hub.url).await];
    for reader in &readers {
        reader.join("room").await;
    }
    let mut slow = connect(hub.port, "", Some(4096)).await;
    join(&mut slow, "room").await;

    // The slow client reads nothing from here on. Its kernel buffers, then its send queue, fill up;
    // publish until the hub notices (bounded: the queue holds 4,096 events).
    let pad = "z".repeat(1024);
    let mut delivered = Vec::new();
    while !hub.log().contains("slow consumer disconnected") {
        assert!(delivered.len() < 20_000, "no slow consumer noticed after {} events", delivered.len());
        let first = delivered.len() as u64;
        delivered.extend(publish(&hub, "room", first, 500, &pad).await);
    }
    // From then on it is out of the room, and the others keep receiving.
    let first = delivered.len() as u64;
    let after = publish(&hub, "room", first, 200, &pad).await;
    assert!(after.iter().all(|&n| n == 2), "only the readers are in the room now: {after:?}");
    delivered.extend(after);
    for reader in &mut readers {
        for n in 0..delivered.len() {
            assert_eq!(reader.expect_published("bulk").await.data[0], json!(n), "a reader lost nothing");
        }
    }

    // It reads again: every event counted as delivered to it, in order, then the notice, then the
    // DISCONNECT of its namespace.
    let counted: Vec<u64> = (0..delivered.len() as u64).filter(|&n| delivered[n as usize] == 3).collect();
    let mut received = Vec::new();
    let notice = loop {
        let (name, arguments) = event(&next_frame(&mut slow).await);
        match name.as_str() {
            "bulk" => received.push(arguments[0][0].as_u64().unwrap()),
            "slow_consumer" => break arguments,
            other => panic!("unexpected `{other}` {arguments:?}"),
        }
    };
    assert_eq!(received, counted, "it received exactly the events counted as delivered to it");
    assert!(received.len() < delivered.len(), "it missed some");
    let message = notice[0]["message"].as_str().unwrap();
    assert!(message.contains("send queue was full"), "{message}");
    assert!(message.contains("rejoin your rooms with `since`"), "{message}");
    assert_eq!(next_frame(&mut slow).await, "41", "then the DISCONNECT");

    // Counted once, logged once; nobody else was disconnected.
    assert_eq!(metric(&hub, "hub_slow_consumers_disconnected_total").await, Some(1.0));
    assert_eq!(metric(&hub, "hub_slow_consumers_unidentified_total").await, Some(0.0));
    let log = hub.wait_for_log("socket disconnected", 1).await;
    assert_eq!(log.matches("slow consumer disconnected").count(), 1, "{log}");
    let disconnected: Vec<&str> = log.lines().filter(|line| line.contains("socket disconnected")).collect();
    assert_eq!(disconnected.len(), 1, "{log}");
    assert!(disconnected[0].contains("ServerNSDisconnect"), "{log}");
    for reader in &readers {
        assert_eq!(reader.ack("echo", vec![json!("still here")]).await, vec![json!("still here")]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_that_overflow_the_queue_make_a_slow_consumer_too() {
    let hub = start_hub().await;
    let session = Polling::open(hub.port).await.unwrap();
    assert_eq!(session.post("40").await, (200, "ok".to_owned()));
    session.poll_until(|packet| packet.starts_with("40")).await.unwrap();

    // 5,000 requests in one POST, and no poll meanwhile: their acks wait in the queue, which holds 4,096.
    let requests: Vec<String> = (1..=5000).map(|n| format!(r#"42{n}["echo",{n}]"#)).collect();
    assert_eq!(session.post(&requests.join(&SEPARATOR.to_string())).await.0, 200);
    hub.wait_for_log("slow consumer disconnected", 1).await;

    // The acks that fitted, in order, then the notice, then the DISCONNECT.
    let mut packets = Vec::new();
    while packets.last().is_none_or(|last| last != "41") {
        let (status, payload) = tokio::time::timeout(WAIT, session.get()).await.expect("a poll in time");
        assert_eq!(status, 200, "{payload}");
        for packet in payload.split(SEPARATOR) {
            match packet {
                "2" => assert_eq!(session.post("3").await.0, 200),
                packet => packets.push(packet.to_owned()),
            }
        }
    }
    let [acks @ .., notice, _] = packets.as_slice() else { panic!("{packets:?}") };
    assert!(notice.starts_with(r#"42["slow_consumer",{"message":"#), "{notice}");
    let acked: Vec<u32> = acks
        .iter()
        .map(|ack| ack.strip_prefix("43").and_then(|ack| ack.split('[').next()?.parse().ok()).expect(ack))
        .collect();
    assert_eq!(acked, (1..=acked.len() as u32).collect::<Vec<_>>(), "the acks that fitted, in order");
    assert!((4000..5000).contains(&acked.len()), "{} acks", acked.len());
    assert_eq!(metric(&hub, "hub_slow_consumers_disconnected_total").await, Some(1.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_128_publishes_in_flight_to_100_subscribers_loses_nothing() {
    const SUBSCRIBERS: usize = 100;
    const IN_FLIGHT: u64 = 128;
    const PUBLISHES: u64 = 4 * IN_FLIGHT;
    let hub = start_hub().await;
    let mut subscribers = Vec::new();
    for _ in 0..SUBSCRIBERS {
        let mut ws = connect(hub.port, "", None).await;
        join(&mut ws, "room").await;
        subscribers.push(tokio::spawn(async move {
            let mut received = Vec::new();
            while received.len() < PUBLISHES as usize {
                let (name, arguments) = event(&next_frame(&mut ws).await);
                assert_eq!(name, "tick", "{arguments:?}");
                received.push(arguments[0].as_u64().unwrap());
            }
            raw::send(&mut ws, r#"422["echo","still here"]"#).await.unwrap();
            assert_eq!(next_frame(&mut ws).await, r#"432["still here"]"#, "still connected");
            (received, ws)
        }));
    }

    // One publisher keeps 128 publishes in flight: a new one for each ack.
    let mut publisher = connect(hub.port, &json!({ "token": TOKEN }).to_string(), None).await;
    let request = |n: u64| format!(r#"42{n}["publish",{{"event":"tick","data":{n},"rooms":["room"]}}]"#);
    for n in 0..IN_FLIGHT {
        raw::send(&mut publisher, &request(n)).await.unwrap();
    }
    let (mut sent, mut acked) = (IN_FLIGHT, 0);
    while acked < PUBLISHES {
        let ack = next_frame(&mut publisher).await;
        assert!(ack.contains(&format!(r#"{{"ok":true,"delivered":{SUBSCRIBERS},"recorded":"#)), "{ack}");
        acked += 1;
        if sent < PUBLISHES {
            raw::send(&mut publisher, &request(sent)).await.unwrap();
            sent += 1;
        }
    }

    let mut connected = Vec::new();
    for subscriber in subscribers {
        let (received, ws) =
            tokio::time::timeout(WAIT, subscriber).await.expect("every event in time").unwrap();
        assert_eq!(received, (0..PUBLISHES).collect::<Vec<_>>(), "every event, in order");
        connected.push(ws);
    }
    assert_eq!(metric(&hub, "hub_slow_consumers_disconnected_total").await, Some(0.0));
    let log = hub.log();
    assert!(!log.contains("slow consumer"), "{log}");
    assert!(!log.contains("socket disconnected"), "{log}");
}
