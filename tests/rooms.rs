//! Rooms under attack and under churn: the cap on rooms per socket, the rate of `join` and `leave`,
//! room sizes after sockets that join and vanish at once, and `members` only for real changes.

use std::time::Duration;

use e2e::polling::{Polling, SEPARATOR};
use e2e::{TestClient, TestHub, WAIT, raw};
use futures_util::StreamExt;
use serde_json::{Value, json};

fn error_of(ack: &Value) -> &str {
    ack["error"].as_str().unwrap_or("ok")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_may_be_in_at_most_max_rooms_per_socket() {
    let hub = TestHub::start_with(|config| config.max_rooms_per_socket = 3).await;
    let client = TestClient::connect(&hub.url).await;
    for room in ["a", "b", "c"] {
        client.join(room).await;
    }
    let refused = client.request("join", json!("d")).await;
    assert_eq!(error_of(&refused), "too_many_rooms", "{refused}");
    let message = refused["message"].as_str().unwrap();
    assert!(message.contains("3 rooms") && message.contains("--max-rooms-per-socket"), "{message}");
    assert_eq!(client.join("a").await["members"], 1, "a room it is in is no new room");
    client.request("leave", json!("a")).await;
    client.join("d").await;

    // Each socket has its own rooms; publishers are trusted and not capped.
    TestClient::connect(&hub.url).await.join("e").await;
    let publisher = TestClient::publisher(&hub.url).await;
    for n in 0..10 {
        publisher.join(&format!("p{n}")).await;
    }
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_refused_as_one_room_too_many_sends_none_of_its_history() {
    let hub = TestHub::start_with(|config| config.max_rooms_per_socket = 1).await;
    let publisher = TestClient::publisher(&hub.url).await;
    let published = publisher.request("publish", json!({"event": "old", "data": 1, "rooms": ["b"]})).await;
    assert_eq!(published["ok"], true, "{published}");
    let mut client = TestClient::connect(&hub.url).await;
    client.join("a").await;
    let refused = client.ack("join", vec![json!("b"), json!({"history": 10})]).await;
    assert_eq!(error_of(&refused[0]), "too_many_rooms", "{refused:?}");
    client.expect_silence().await;
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_and_leaves_beyond_their_rate_are_refused_and_repeats_cost_nothing() {
    let hub = TestHub::start_with(|config| {
        config.join_rate_limit = 1;
        config.join_rate_burst = 3;
    })
    .await;
    let client = TestClient::connect(&hub.url).await;
    let mut codes = Vec::new();
    for room in ["a", "b", "c", "d"] {
        codes.push(error_of(&client.request("join", json!(room)).await).to_owned());
    }
    assert_eq!(codes, ["ok", "ok", "ok", "rate_limited"]);
    let refused = client.request("leave", json!("a")).await;
    assert_eq!(error_of(&refused), "rate_limited", "{refused}");
    assert!(refused["retry_after_ms"].as_u64().is_some_and(|ms| ms <= 1000), "{refused}");
    // What changes nothing is not counted: joining a room again, leaving one it is not in.
    assert_eq!(client.join("a").await["members"], 1);
    assert_eq!(client.request("leave", json!("never")).await["ok"], true);

    // Another socket has its own bucket, and publishers are not limited.
    TestClient::connect(&hub.url).await.join("a").await;
    let publisher = TestClient::publisher(&hub.url).await;
    for n in 0..10 {
        publisher.join(&format!("p{n}")).await;
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(client.request("leave", json!("a")).await["members"], 1, "the bucket refills");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_is_sent_for_real_changes_only_and_leaving_reveals_nothing() {
    let hub = TestHub::start().await;
    let mut watcher = TestClient::connect(&hub.url).await;
    let member = TestClient::connect(&hub.url).await;
    let outsider = TestClient::connect(&hub.url).await;
    watcher.join("lobby").await;
    member.join("lobby").await;
    assert_eq!(watcher.expect_event("members").await, vec![json!({"room": "lobby", "members": 2})]);

    // A socket outside the room learns nothing of its size, and its members hear of nothing.
    let ack = outsider.request("leave", json!("lobby")).await;
    assert_eq!(ack, json!({"ok": true, "room": "lobby", "members": 0}));
    // Joining a room twice changes nothing either.
    assert_eq!(member.join("lobby").await["members"], 2);
    watcher.expect_no_event("members", Duration::from_millis(800)).await;

    // A real change is still announced.
    member.request("leave", json!("lobby")).await;
    assert_eq!(watcher.expect_event("members").await, vec![json!({"room": "lobby", "members": 1})]);
    hub.stop().await;
}

/// Rooms the storms join.
const STORM_ROOMS: usize = 5;
/// Sockets per storm, and joins each sends before it vanishes.
const STORM_SOCKETS: usize = 200;
const JOINS_PER_SOCKET: usize = 20;

/// A hub that notices vanished sockets within a second, for the storms.
async fn storm_hub() -> TestHub {
    TestHub::start_with(|config| {
        config.ping_interval = Duration::from_millis(300);
        config.ping_timeout = Duration::from_millis(300);
    })
    .await
}

/// `JOINS_PER_SOCKET` acked joins, as Socket.IO packets.
fn joins(socket: usize) -> Vec<String> {
    (0..JOINS_PER_SOCKET)
        .map(|n| format!(r#"42{n}["join","storm-{}"]"#, (socket + n) % STORM_ROOMS))
        .collect()
}

/// Waits until every storm room is empty again, as a fresh socket that joins it sees.
async fn assert_storm_rooms_empty(hub: &TestHub) {
    let probe = TestClient::connect(&hub.url).await;
    let deadline = tokio::time::Instant::now() + 2 * WAIT;
    for n in 0..STORM_ROOMS {
        let room = format!("storm-{n}");
        loop {
            let members = probe.join(&room).await["members"].as_u64().unwrap();
            probe.request("leave", json!(room)).await;
            if members == 1 {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{room} still counts {} gone sockets",
                members - 1
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_sizes_return_to_zero_after_storms_of_websockets_that_join_and_vanish() {
    let hub = storm_hub().await;
    let port = hub.port;
    futures_util::stream::iter(0..STORM_SOCKETS)
        .for_each_concurrent(50, |socket| async move {
            let Ok(mut ws) = raw::connect(port).await else { return };
            for join in joins(socket) {
                let _ = raw::send(&mut ws, &join).await;
            }
            // Half leave the namespace first, half just drop the connection.
            if socket % 2 == 0 {
                let _ = raw::send(&mut ws, "41").await;
            }
            drop(ws);
        })
        .await;
    assert_storm_rooms_empty(&hub).await;
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_sizes_return_to_zero_after_storms_of_polling_sessions_that_join_and_vanish() {
    let hub = storm_hub().await;
    let port = hub.port;
    futures_util::stream::iter(0..STORM_SOCKETS)
        .for_each_concurrent(50, |socket| async move {
            let Ok(session) = Polling::open(port).await else { return };
            session.post("40").await;
            let payload = joins(socket).join(&SEPARATOR.to_string());
            // The joins race a close: an Engine.IO close packet, or a second POST while the first is
            // being read (which ends the session), or nothing at all (the session times out).
            match socket % 3 {
                0 => drop(tokio::join!(session.post(&payload), session.post("1"))),
                1 => drop(tokio::join!(session.post(&payload), session.post("41"))),
                _ => drop(session.post(&payload).await),
            }
        })
        .await;
    assert_storm_rooms_empty(&hub).await;
    hub.stop().await;
}
