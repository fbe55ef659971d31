//! `who` and the control API across 3 real hubs joined through a real `redis-server`: answers merge
//! every hub's sockets, actions reach the sockets of every hub, and a hub that does not answer delays
//! an answer by a bounded time and makes it `partial`.

use std::time::{Duration, Instant};

use e2e::binaries::HubProcess;
use e2e::control::{get, post};
use e2e::redis::RedisServer;
use e2e::{QUIET, TestClient, raw};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A socket of `user` on `/` of the hub at `url`, in `rooms`.
async fn user(url: &str, user: &str, rooms: &[&str]) -> TestClient {
    let client =
        TestClient::connect_with(url, "/", json!({"user": user})).await.expect("the hub accepts the user");
    for room in rooms {
        client.join(room).await;
    }
    client
}

fn ok(body: Value) -> (StatusCode, Value) {
    (StatusCode::OK, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_merge_every_hubs_sockets() {
    let redis = RedisServer::start().await;
    let hubs = HubProcess::cluster(&redis.url(), 3).await;
    let alice = user(&hubs[0].url, "alice", &["r"]).await;
    let _alice_tab = user(&hubs[1].url, "alice", &["r", "a"]).await;
    let _bob = user(&hubs[2].url, "bob", &["r"]).await;
    let _carol = user(&hubs[2].url, "carol", &["b"]).await;

    let rooms = json!({"ok": true, "rooms": [
        {"room": "a", "members": 1}, {"room": "b", "members": 1}, {"room": "r", "members": 3},
    ]});
    let users =
        json!([{"user": "alice", "info": null, "sockets": 2}, {"user": "bob", "info": null, "sockets": 1}]);
    let room = json!({"ok": true, "room": "r", "members": 3, "users": users});
    let alices = json!({"ok": true, "user": "alice", "sockets": [
        {"namespace": "/", "rooms": ["a", "r"]}, {"namespace": "/", "rooms": ["r"]},
    ]});
    for hub in &hubs {
        assert_eq!(get(&hub.url, "/api/rooms").await, ok(rooms.clone()), "asked at {}", hub.url);
        assert_eq!(get(&hub.url, "/api/rooms/r").await, ok(room.clone()), "asked at {}", hub.url);
        assert_eq!(get(&hub.url, "/api/users/alice").await, ok(alices.clone()), "asked at {}", hub.url);
    }
    assert_eq!(alice.request("who", json!("r")).await, room, "`who` is the same query");
    let unknown = get(&hubs[0].url, "/api/users/nobody").await;
    assert_eq!((unknown.0, &unknown.1["error"]), (StatusCode::NOT_FOUND, &json!("not_found")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_is_disconnected_on_every_hub_and_told_why_first() {
    let redis = RedisServer::start().await;
    let hubs = HubProcess::cluster(&redis.url(), 3).await;
    let mut sockets = Vec::new();
    for hub in &hubs {
        sockets.push(raw::connect_with(hub.port, r#"40{"user":"mallory"}"#).await.unwrap());
    }
    let mut bystander = user(&hubs[1].url, "bob", &[]).await;

    let answer = post(&hubs[0].url, "/api/disconnect", &json!({"user": "mallory", "reason": "spam"})).await;
    assert_eq!(answer, ok(json!({"ok": true, "disconnected": 3})), "every hub's sockets are counted");
    for socket in &mut sockets {
        let frames = raw::frames_until_disconnect(socket).await;
        assert_eq!(frames, [r#"42["kicked",{"reason":"spam"}]"#, "41"], "the reason, then the DISCONNECT");
    }
    let gone = get(&hubs[2].url, "/api/users/mallory").await;
    assert_eq!(gone.0, StatusCode::NOT_FOUND, "{}", gone.1);
    bystander.expect_silence().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_and_leave_reach_the_users_sockets_on_other_hubs() {
    let redis = RedisServer::start().await;
    let hubs = HubProcess::cluster(&redis.url(), 3).await;
    let mut here = user(&hubs[1].url, "carol", &[]).await;
    let mut there = user(&hubs[2].url, "carol", &[]).await;
    let _member = user(&hubs[0].url, "dan", &["r"]).await;

    let joined = post(&hubs[0].url, "/api/join", &json!({"user": "carol", "room": "r"})).await;
    assert_eq!(joined, ok(json!({"ok": true, "sockets": 2})));
    publish(&hubs[0].url, 1).await;
    for carol in [&mut here, &mut there] {
        assert_eq!(carol.expect_published("news").await.data, json!(1), "the room's traffic reaches her");
    }
    assert_eq!(there.request("who", json!("r")).await["members"], 3);

    let left = post(&hubs[0].url, "/api/leave", &json!({"user": "carol", "room": "r"})).await;
    assert_eq!(left, ok(json!({"ok": true, "sockets": 2})));
    publish(&hubs[0].url, 2).await;
    for carol in [&mut here, &mut there] {
        carol.expect_no_event("news", QUIET).await;
    }
}

async fn publish(url: &str, data: u64) {
    let answer = post(url, "/api/publish", &json!({"event": "news", "data": data, "rooms": ["r"]})).await;
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.1);
}

/// Stops (SIGSTOP) or continues (SIGCONT) a hub process.
fn signal(hub: &HubProcess, signal: &str) {
    let status = std::process::Command::new("kill").args([signal, &hub.pid().to_string()]).status().unwrap();
    assert!(status.success(), "kill {signal}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_that_does_not_answer_makes_answers_partial_not_late() {
    let redis = RedisServer::start().await;
    let hubs = HubProcess::cluster(&redis.url(), 3).await;
    let _alice = user(&hubs[0].url, "alice", &["r"]).await;
    let _bob = user(&hubs[1].url, "bob", &["r"]).await;
    let _carol = user(&hubs[2].url, "carol", &["r"]).await;

    signal(&hubs[2], "-STOP");
    let started = Instant::now();
    let answer = get(&hubs[0].url, "/api/rooms/r").await;
    let took = started.elapsed();
    signal(&hubs[2], "-CONT");
    let users =
        json!([{"user": "alice", "info": null, "sockets": 1}, {"user": "bob", "info": null, "sockets": 1}]);
    let expected = json!({"ok": true, "room": "r", "members": 2, "users": users, "partial": true});
    assert_eq!(answer, ok(expected), "what the answering hubs have, marked partial");
    assert!(took >= Duration::from_millis(1_400) && took < Duration::from_secs(3), "waited {took:?}");
    let metrics = reqwest::get(format!("{}/metrics", hubs[0].url)).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("hub_control_requests_incomplete_total 1"), "{metrics}");

    // Back, it answers again; its late answer was dropped and counted.
    let users = json!([
        {"user": "alice", "info": null, "sockets": 1},
        {"user": "bob", "info": null, "sockets": 1},
        {"user": "carol", "info": null, "sockets": 1},
    ]);
    let complete = json!({"ok": true, "room": "r", "members": 3, "users": users});
    assert_eq!(get(&hubs[0].url, "/api/rooms/r").await, ok(complete));
    let metrics = reqwest::get(format!("{}/metrics", hubs[0].url)).await.unwrap().text().await.unwrap();
    assert!(metrics.contains(r#"hub_control_messages_dropped_total{reason="late"} 1"#), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_a_hub_answers_for_its_own_sockets_and_says_so() {
    let mut redis = RedisServer::start().await;
    let hubs = HubProcess::cluster(&redis.url(), 2).await;
    let alice = user(&hubs[0].url, "alice", &["r"]).await;
    let _bob = user(&hubs[1].url, "bob", &["r"]).await;
    assert_eq!(get(&hubs[0].url, "/api/rooms/r").await.1["members"], 2);

    redis.stop().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while reqwest::get(format!("{}/readyz", hubs[0].url)).await.unwrap().status() == StatusCode::OK {
        assert!(Instant::now() < deadline, "the hub notices that Redis is gone");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let users = json!([{"user": "alice", "info": null, "sockets": 1}]);
    let expected = json!({"ok": true, "room": "r", "members": 1, "users": users, "partial": true});
    assert_eq!(get(&hubs[0].url, "/api/rooms/r").await, ok(expected.clone()));
    assert_eq!(alice.request("who", json!("r")).await, expected);
}
