//! The Admin UI's protocol across 3 real hubs joined through a real `redis-server`: a UI connected to
//! one hub lists the sockets of every hub, follows their life, acts on them, and sees every hub in its
//! Servers page; a session id given by one hub opens the UI on another.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use e2e::binaries::HubProcess;
use e2e::control::get;
use e2e::redis::RedisServer;
use e2e::{TestClient, WAIT};
use serde_json::{Value, json};

use crate::admin::open_ui;

const PASSWORD: &str = "an admin password for the cluster";

async fn cluster(redis_url: &str) -> Vec<HubProcess> {
    let mut hubs = Vec::new();
    for _ in 0..3 {
        let args = [
            "--bind",
            "127.0.0.1:0",
            "--publish-token",
            e2e::hub::TOKEN,
            "--redis-url",
            redis_url,
            "--admin-password",
            PASSWORD,
        ];
        hubs.push(HubProcess::start(&args, &[]).await);
    }
    hubs
}

fn login() -> Value {
    json!({"username": "admin", "password": PASSWORD})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ui_on_one_hub_sees_and_acts_on_every_hub() {
    let redis = RedisServer::start().await;
    let hubs = cluster(&redis.url()).await;
    let mut alice =
        TestClient::connect_with(&hubs[1].url, "/", json!({"user": "alice"})).await.expect("alice");
    alice.join("lobby").await;

    let (mut ui, _, sockets) = open_ui(&hubs[0].url, login()).await;
    assert_eq!(sockets.len(), 1, "alice, on another hub: {sockets:?}");
    assert_eq!(sockets[0]["data"]["user"], "alice");
    let alice_id = sockets[0]["id"].as_str().expect("an id").to_owned();
    assert_eq!(sockets[0]["rooms"], json!([alice_id, "lobby"]));

    // A socket connecting to a third hub right after the UI's list is told to the UI.
    let mut bob = TestClient::connect_with(&hubs[2].url, "/", json!({"user": "bob"})).await.expect("bob");
    let connected = ui.wait_for_event("socket_connected", WAIT).await;
    assert_eq!(connected[0]["data"]["user"], "bob", "{connected:?}");
    let bob_id = connected[0]["id"].as_str().expect("an id").to_owned();

    let done = ui.ack("join", vec![json!("/"), json!("staff"), json!(bob_id)]).await;
    assert_eq!(done, [json!({"ok": true, "sockets": 1})]);
    let joined = ui.wait_for_event("room_joined", WAIT).await;
    assert_eq!(&joined[..3], &[json!("/"), json!("staff"), json!(bob_id)]);
    let (_, users) = get(&hubs[1].url, "/api/users/bob").await;
    assert_eq!(users["sockets"], json!([{"namespace": "/", "rooms": ["staff"]}]));

    let done = ui.ack("emit", vec![json!("/"), Value::Null, json!("news"), json!("to all")]).await;
    assert_eq!(done, [json!({"ok": true, "sockets": 2})]);
    assert_eq!(alice.expect_event("news").await, [json!("to all")]);
    assert_eq!(bob.expect_event("news").await, [json!("to all")]);

    let done = ui.ack("_disconnect", vec![json!("/"), json!(false), json!("lobby")]).await;
    assert_eq!(done, [json!({"ok": true, "sockets": 1})]);
    assert_eq!(alice.expect_event("kicked").await, [json!({"reason": "disconnected by an operator"})]);
    let gone = ui.wait_for_event("socket_disconnected", WAIT).await;
    assert_eq!(&gone[..2], &[json!("/"), json!(alice_id)]);

    // Every hub reports its own stats to the UI.
    let mut servers = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(8);
    while servers.len() < 3 && Instant::now() < deadline {
        let stats = ui.wait_for_event("server_stats", Duration::from_secs(3)).await.remove(0);
        servers.insert(stats["serverId"].as_str().expect("a server id").to_owned());
    }
    assert_eq!(servers.len(), 3, "{servers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_given_by_one_hub_opens_the_ui_on_another() {
    let redis = RedisServer::start().await;
    let hubs = cluster(&redis.url()).await;
    let mut ui = TestClient::connect_with(&hubs[0].url, "/admin", login()).await.expect("the UI opens");
    let session = ui.wait_for_event("session", WAIT).await.remove(0);
    open_ui(&hubs[2].url, json!({ "sessionId": session })).await;
}
