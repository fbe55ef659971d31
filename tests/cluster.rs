//! Several real `hub` processes joined through one real `redis-server`.

use std::time::{Duration, Instant};

use e2e::binaries::{HubProcess, publish, run_hub};
use e2e::hub::TOKEN;
use e2e::redis::RedisServer;
use e2e::{TestClient, fake, raw};
use futures_util::{StreamExt, stream};
use serde_json::{Value, json};

/// `GET /readyz`: the status and the JSON body.
pub(crate) async fn readiness(hub: &HubProcess) -> (u16, serde_json::Value) {
    let response = reqwest::get(format!("{}/readyz", hub.url)).await.expect("the hub answers");
    (response.status().as_u16(), response.json().await.expect("a JSON body"))
}

async fn joined(url: &str, room: &str) -> TestClient {
    let client = TestClient::connect(url).await;
    client.join(room).await;
    client
}

/// A publish ack that says the event reached `delivered` sockets and was recorded at `offset` of one
/// stream (`room`, or the namespace's); the epoch is the one the ack names.
fn recorded_ack(ack: &Value, delivered: usize, room: Option<&str>, offset: u64) -> Value {
    let epoch = ack["recorded"][0]["epoch"].as_str().unwrap_or_else(|| panic!("an epoch in {ack}"));
    let recorded = match room {
        Some(room) => json!({"room": room, "offset": offset, "epoch": epoch}),
        None => json!({"offset": offset, "epoch": epoch}),
    };
    json!({"ok": true, "delivered": delivered, "recorded": [recorded]})
}

/// Like [`joined`], for a client that asked for published events' metadata.
async fn joined_meta(url: &str, room: &str) -> TestClient {
    let client = TestClient::connect_meta(url).await;
    client.join(room).await;
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_on_any_node_reaches_every_subscriber_and_nobody_else() {
    let redis = RedisServer::start().await;
    let hubs = HubProcess::cluster(&redis.url(), 3).await;
    let mut subscribers = Vec::new();
    let mut outsiders = Vec::new();
    // On every node, one subscriber takes events as published and one asks for their metadata.
    for hub in &hubs {
        subscribers.push(joined(&hub.url, "lobby").await);
        subscribers.push(joined_meta(&hub.url, "lobby").await);
        outsiders.push(joined(&hub.url, "other").await);
    }

    // The socket event, from a publisher connected to the first node.
    let publisher = TestClient::publisher(&hubs[0].url).await;
    let ack = publisher.request("publish", json!({"event": "news", "data": 1, "rooms": ["lobby"]})).await;
    let expected = recorded_ack(&ack, 6, Some("lobby"), 1);
    assert_eq!(ack, expected, "delivered counts every node's receivers");
    for subscriber in &mut subscribers {
        let published = subscriber.expect_published("news").await;
        assert_eq!(published.data, json!(1), "exactly the published data");
        if let Some(meta) = published.meta {
            assert_eq!((meta.namespace.as_str(), meta.room.as_deref()), ("/", Some("lobby")));
            assert_eq!(
                (meta.offset, meta.epoch),
                (Some(1), expected["recorded"][0]["epoch"].as_str().map(str::to_owned))
            );
        }
    }

    // The `publish` CLI pointed at each node in turn.
    for (n, hub) in hubs.iter().enumerate() {
        let data = n.to_string();
        let args =
            ["--url", &hub.url, "--token", TOKEN, "--event", "cli", "--data", &data, "--room", "lobby"];
        let output = publish(&args, &[], None).await;
        assert_eq!(String::from_utf8_lossy(&output.stdout), "delivered to 6\n", "node {n}");
        for subscriber in &mut subscribers {
            assert_eq!(subscriber.expect_published("cli").await.data, json!(data));
        }
    }

    // The whole namespace, and an Elephant.io-style direct emit: everyone but the publisher.
    let ack = publisher.request("publish", json!({"event": "all", "data": "x"})).await;
    assert_eq!(ack, recorded_ack(&ack, 9, None, 1));
    let ack = publisher.request("direct", json!("y")).await;
    assert_eq!(ack, recorded_ack(&ack, 9, None, 2));
    let epoch = &ack["recorded"][0]["epoch"];
    for (n, client) in subscribers.iter_mut().chain(outsiders.iter_mut()).enumerate() {
        client.expect_published("all").await;
        let meta = n < 6 && n % 2 == 1;
        let expected = match meta {
            true => vec![json!("y"), json!({"namespace": "/", "offset": 2, "epoch": epoch})],
            false => vec![json!("y")],
        };
        assert_eq!(client.expect_event("direct").await, expected);
    }
    for outsider in &mut outsiders {
        outsider.expect_no_event("news", Duration::ZERO).await;
        outsider.expect_no_event("cli", Duration::ZERO).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_and_member_counts_span_the_nodes() {
    let redis = RedisServer::start().await;
    let hubs = HubProcess::cluster(&redis.url(), 3).await;
    let alice = TestClient::connect_with(&hubs[0].url, "/", json!({"user": "alice"})).await.unwrap();
    let mut bob = TestClient::connect_with(&hubs[1].url, "/", json!({"user": "bob"})).await.unwrap();
    let mut carol = TestClient::connect_with(&hubs[2].url, "/", json!({"user": "carol"})).await.unwrap();
    let mut dave = joined(&hubs[1].url, "elsewhere").await;

    for (n, client) in [&alice, &bob, &carol].into_iter().enumerate() {
        assert_eq!(client.request("join", json!("lobby")).await["members"], n + 1, "cluster-wide count");
    }
    assert_eq!(bob.expect_event("members").await, vec![json!({"room": "lobby", "members": 3})]);

    alice.request("chat", json!({"room": "lobby", "text": "hi all"})).await;
    for client in [&mut bob, &mut carol] {
        let message = &client.expect_event("chat").await[0];
        assert_eq!((message["user"].as_str(), message["text"].as_str()), (Some("alice"), Some("hi all")));
    }
    dave.expect_no_event("chat", Duration::from_millis(300)).await;

    assert_eq!(carol.request("leave", json!("lobby")).await["members"], 2);
    carol.disconnect().await;
    assert_eq!(bob.request("join", json!("lobby")).await["members"], 2, "joining twice counts once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_does_not_disturb_the_others() {
    let redis = RedisServer::start().await;
    let mut hubs = HubProcess::cluster(&redis.url(), 3).await;
    let mut doomed = joined(&hubs[0].url, "lobby").await;
    let mut survivors = [joined(&hubs[1].url, "lobby").await, joined(&hubs[2].url, "lobby").await];
    let publisher = TestClient::publisher(&hubs[1].url).await;
    let request = json!({"event": "tick", "data": 1, "rooms": ["lobby"]});
    assert_eq!(publisher.request("publish", request.clone()).await["delivered"], 3);
    doomed.expect_published("tick").await;

    hubs.remove(0).kill().await;
    let started = Instant::now();
    let ack = publisher.request("publish", request).await;
    assert_eq!(ack, recorded_ack(&ack, 2, Some("lobby"), 2), "the dead node's sockets are not counted");
    assert!(started.elapsed() < Duration::from_secs(3), "no long wait for the dead node");
    for survivor in &mut survivors {
        survivor.expect_published("tick").await;
        survivor.expect_published("tick").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_serve_their_own_clients_without_redis_and_recover_when_it_returns() {
    let mut redis = RedisServer::start().await;
    let hubs = HubProcess::cluster(&redis.url(), 2).await;
    let mut local = joined(&hubs[0].url, "lobby").await;
    let mut remote = joined(&hubs[1].url, "lobby").await;
    let publisher = TestClient::publisher(&hubs[0].url).await;
    let request = |n: u32| json!({"event": "tick", "data": n, "rooms": ["lobby"]});
    assert_eq!(publisher.request("publish", request(0)).await["delivered"], 2);
    local.expect_published("tick").await;
    remote.expect_published("tick").await;

    redis.stop().await;
    let ack = publisher.request("publish", request(1)).await;
    assert_eq!(ack, json!({"ok": true, "delivered": 1, "partial": true}), "this node's clients only");
    assert_eq!(local.expect_published("tick").await.data, json!(1));
    remote.expect_no_event("tick", Duration::from_millis(300)).await;
    let args = ["--url", &hubs[0].url, "--token", TOKEN, "--event", "cli", "--room", "lobby"];
    let output = publish(&args, &[], None).await;
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("could not reach the other hubs"), "the CLI warns: {stderr}");
    local.expect_published("cli").await;
    assert!(hubs[0].log().contains("Redis connection lost"), "the hub logs it:\n{}", hubs[0].log());
    assert_eq!(
        readiness(&hubs[0]).await,
        (503, json!({"ok": false, "status": "not ready", "redis": "unreachable"}))
    );

    redis.restart().await;
    let restarted = Instant::now();
    let mut n = 2;
    loop {
        let ack = publisher.request("publish", request(n)).await;
        local.expect_published("tick").await;
        if ack["delivered"] == 2 && ack.get("partial").is_none() {
            break;
        }
        assert!(restarted.elapsed() < Duration::from_secs(20), "no recovery within 20 s: {ack}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        n += 1;
    }
    let recovery = restarted.elapsed();
    assert_eq!(remote.expect_published("tick").await.data, json!(n), "cross-node delivery resumed");
    println!("cross-node delivery resumed {recovery:?} after redis-server answered again");
    assert!(hubs[0].log().contains("Redis connection restored"));
    assert_eq!(
        readiness(&hubs[0]).await,
        (200, json!({"ok": true, "status": "ready", "redis": "connected"}))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_whose_redis_is_unreachable_at_start_exits_with_a_clear_error() {
    let url = format!("redis://127.0.0.1:{}", fake::free_port().await);
    let started = Instant::now();
    let output =
        run_hub(&["--bind", "127.0.0.1:0", "--publish-token", TOKEN, "--redis-url", &url], &[]).await;
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("hub: cannot connect to Redis at {url}")), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(8), "gave up in {:?}", started.elapsed());
}

/// `POST /api/publish` with the publish token: the JSON answer.
pub(crate) async fn api_publish(hub: &HubProcess, body: serde_json::Value) -> serde_json::Value {
    let response = reqwest::Client::new()
        .post(format!("{}/api/publish", hub.url))
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .expect("the hub answers");
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.expect("a JSON body")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_api_of_any_node_reaches_every_node_in_any_namespace() {
    let redis = RedisServer::start().await;
    let hubs = HubProcess::cluster(&redis.url(), 2).await;
    // Hub 0 never had a socket in `/orders`: it has not created the namespace.
    let mut orders = TestClient::connect_with(&hubs[1].url, "/orders", json!({})).await.unwrap();
    let mut lobby = joined(&hubs[1].url, "lobby").await;

    let ack = api_publish(&hubs[0], json!({"event": "order", "data": 7, "namespace": "/orders"})).await;
    assert_eq!(ack, recorded_ack(&ack, 1, None, 1), "the other node's socket in /orders");
    assert_eq!(orders.expect_published("order").await.data, json!(7));
    let ack = api_publish(&hubs[0], json!({"event": "news", "data": 1, "rooms": ["lobby"]})).await;
    assert_eq!(ack, recorded_ack(&ack, 1, Some("lobby"), 1), "the other node's socket in / ");
    assert_eq!(lobby.expect_published("news").await.data, json!(1));

    // A namespace nobody uses on any node: nobody to deliver to, and nothing breaks.
    let ack = api_publish(&hubs[0], json!({"event": "x", "namespace": "/nobody-here"})).await;
    assert_eq!(ack, recorded_ack(&ack, 0, None, 1));
    // The namespace the API opened serves clients as any other.
    let mut late = TestClient::connect_with(&hubs[0].url, "/nobody-here", json!({})).await.unwrap();
    let ack = api_publish(&hubs[1], json!({"event": "y", "data": 2, "namespace": "/nobody-here"})).await;
    assert_eq!(ack, recorded_ack(&ack, 1, None, 2));
    assert_eq!(late.expect_published("y").await.data, json!(2));
}

/// Sockets joining at once while the nodes count the room for each of them.
const RAMP_SOCKETS: usize = 3_000;
/// Sockets connecting and joining at the same time, as the benchmark's load generator does.
const RAMP_CONCURRENCY: usize = 256;

/// Connects a bare socket to `port` and joins `room`; returns it and the ack.
async fn raw_join(port: u16, room: &str) -> (raw::Socket, serde_json::Value) {
    let mut ws = raw::connect(port).await.expect("the hub accepts the socket");
    raw::send(&mut ws, &format!(r#"420["join","{room}"]"#)).await.unwrap();
    loop {
        let frame = raw::next_text(&mut ws).await.expect("the join is answered");
        // `members` updates may come first; the ack is `430[...]`.
        if let Some(ack) = frame.strip_prefix("430") {
            let mut ack: serde_json::Value = serde_json::from_str(ack).unwrap();
            return (ws, ack[0].take());
        }
    }
}

/// The value of the metric line that starts with `name` in a hub's `/metrics`, if any.
async fn metric(hub: &HubProcess, name: &str) -> Option<f64> {
    let response = reqwest::get(format!("{}/metrics", hub.url)).await;
    let text = response.and_then(|r| r.error_for_status()).expect("/metrics answers").text().await.unwrap();
    text.lines().find(|line| line.starts_with(name)).and_then(|line| line.rsplit(' ').next()?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_joins_across_the_nodes_lose_no_message_between_them() {
    let redis = RedisServer::start().await;
    let hubs = HubProcess::cluster(&redis.url(), 3).await;
    let ports: Vec<u16> = hubs.iter().map(|hub| hub.port).collect();
    let started = Instant::now();
    let joins: Vec<_> = stream::iter(0..RAMP_SOCKETS)
        // Held past the heartbeat on a loaded machine: their pings are answered from the start.
        .map(|n| {
            let port = ports[n % ports.len()];
            async move {
                let (ws, ack) = raw_join(port, "ramp").await;
                (raw::keep_alive(ws), ack)
            }
        })
        .buffer_unordered(RAMP_CONCURRENCY)
        .collect()
        .await;
    let took = started.elapsed();
    println!("{RAMP_SOCKETS} sockets connected and joined across 3 nodes in {took:?}");

    let (mut sockets, acks): (Vec<_>, Vec<_>) = joins.into_iter().unzip();
    for ack in &acks {
        let members = ack["members"].as_u64().unwrap();
        assert!((1..=RAMP_SOCKETS as u64).contains(&members), "a count within the room: {ack}");
    }
    // A node too busy to answer within the request timeout makes a count partial, and says so; on a
    // loaded machine that may happen without any message being lost.
    let partial = acks.iter().filter(|ack| ack.get("partial").is_some()).count();
    println!("{partial} join acks said their count may be partial");
    for hub in &hubs {
        // socketioxide-redis's own fred driver logged its losses as "pubsub channel lagged by N".
        let lagged = hub.log().matches("lagged").count();
        assert_eq!(lagged, 0, "messages between the nodes lost; log:\n{}", hub.log());
        let lost = metric(hub, "hub_cluster_messages_lost_total").await;
        assert_eq!(lost, Some(0.0), "no message between the nodes lost; log:\n{}", hub.log());
    }
    // Joining again counts once, on every node: the whole room.
    for (n, port) in ports.iter().enumerate() {
        let (ws, ack) = raw_join(*port, "ramp").await;
        let closed: Vec<_> = sockets.iter().filter(|socket| socket.is_finished()).collect();
        assert!(closed.is_empty(), "{} sockets of the room were disconnected", closed.len());
        assert_eq!(ack["members"], RAMP_SOCKETS + 1 + n, "counted on node {n}: {ack}");
        sockets.push(raw::keep_alive(ws));
    }
}
