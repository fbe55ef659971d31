//! Health, readiness, Prometheus metrics and log formats of the real `hub` binary (one process per test,
//! so the metrics count only what the test did).

use e2e::TestClient;
use e2e::binaries::HubProcess;
use e2e::hub::TOKEN;
use serde_json::{Value, json};

/// Each client-chosen label value (published event names, namespaces) up to this many has its own series;
/// later ones count as `other`.
const OWN_LABELS: usize = 100;

async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.expect("the hub answers");
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The value of the sample `name` (with its labels, exactly as rendered) in Prometheus text.
fn sample(metrics: &str, name: &str) -> Option<f64> {
    metrics.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness_answer_json() {
    let hub = HubProcess::start(&["--bind", "127.0.0.1:0", "--publish-token", TOKEN], &[]).await;
    let (status, body) = get(&format!("{}/healthz", hub.url)).await;
    assert_eq!(
        (status, serde_json::from_str::<Value>(&body).unwrap()),
        (200, json!({"ok": true, "status": "alive"}))
    );
    let (status, body) = get(&format!("{}/readyz", hub.url)).await;
    assert_eq!(
        (status, serde_json::from_str::<Value>(&body).unwrap()),
        (200, json!({"ok": true, "status": "ready"}))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_what_happened() {
    let hub = HubProcess::start(&["--bind", "127.0.0.1:0", "--publish-token", TOKEN], &[]).await;
    let alice = TestClient::connect(&hub.url).await;
    let mut bob = TestClient::connect(&hub.url).await;
    let _orders = TestClient::connect_with(&hub.url, "/orders", json!({})).await.unwrap();
    alice.join("lobby").await;
    bob.join("lobby").await;
    alice.request("chat", json!({"room": "lobby", "text": "hi"})).await;
    bob.expect_event("chat").await;
    alice.request("chat", json!({"room": "elsewhere", "text": "hi"})).await; // not_in_room
    alice.request("publish", json!({"event": "x"})).await; // forbidden
    let publisher = TestClient::publisher(&hub.url).await;
    for _ in 0..3 {
        publisher.request("publish", json!({"event": "tick", "rooms": ["lobby"]})).await;
    }
    let response = reqwest::Client::new()
        .post(format!("{}/api/publish", hub.url))
        .bearer_auth(TOKEN)
        .json(&json!({"event": "api", "rooms": ["lobby"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let (status, metrics) = get(&format!("{}/metrics", hub.url)).await;
    assert_eq!(status, 200);
    let expect =
        |name: &str, value: f64| assert_eq!(sample(&metrics, name), Some(value), "{name} in\n{metrics}");
    expect(r#"hub_connected_sockets{namespace="/"}"#, 3.0);
    expect(r#"hub_connected_sockets{namespace="/orders"}"#, 1.0);
    expect(r#"hub_events_received_total{event="join"}"#, 2.0);
    expect(r#"hub_events_received_total{event="chat"}"#, 2.0);
    expect(r#"hub_events_received_total{event="publish"}"#, 4.0);
    expect(r#"hub_rejections_total{code="not_in_room"}"#, 1.0);
    expect(r#"hub_rejections_total{code="forbidden"}"#, 1.0);
    expect(r#"hub_publishes_total{via="socket"}"#, 3.0);
    expect(r#"hub_publishes_total{via="api"}"#, 1.0);
    expect("hub_deliveries_total", 8.0);
    expect(r#"hub_events_emitted_total{event="tick"}"#, 3.0);
    expect(r#"hub_publish_duration_seconds_count{via="socket"}"#, 3.0);

    bob.disconnect().await;
    let mut connected = None;
    for _ in 0..40 {
        let (_, metrics) = get(&format!("{}/metrics", hub.url)).await;
        connected = sample(&metrics, r#"hub_connected_sockets{namespace="/"}"#);
        if connected == Some(2.0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(connected, Some(2.0), "a disconnect counts");
}

/// The samples of the metric `name` in Prometheus text: each label value and its value.
fn series(metrics: &str, name: &str, label: &str) -> Vec<(String, f64)> {
    let prefix = format!("{name}{{{label}=\"");
    metrics
        .lines()
        .filter_map(|line| {
            let (value, rest) = line.strip_prefix(&prefix)?.split_once("\"}")?;
            Some((value.to_owned(), rest.trim().parse().ok()?))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_that_clients_choose_are_bounded() {
    let hub = HubProcess::start(&["--bind", "127.0.0.1:0", "--publish-token", TOKEN], &[]).await;
    let _subscriber = TestClient::connect(&hub.url).await;
    let client = reqwest::Client::new();
    for batch in 0..10 {
        let messages: Vec<Value> = (0..100).map(|n| json!({"event": format!("e{batch}-{n}")})).collect();
        let response = client
            .post(format!("{}/api/batch", hub.url))
            .bearer_auth(TOKEN)
            .json(&json!({ "messages": messages }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    // An anonymous client opens 150 namespaces over one connection.
    let mut ws = e2e::raw::connect(hub.port).await.unwrap();
    for n in 0..150 {
        e2e::raw::send(&mut ws, &format!("40/ns{n},")).await.unwrap();
        let reply = e2e::raw::next_text(&mut ws).await.unwrap();
        assert!(reply.starts_with(&format!("40/ns{n},")), "{reply}");
    }

    let (_, metrics) = get(&format!("{}/metrics", hub.url)).await;
    let emitted = series(&metrics, "hub_events_emitted_total", "event");
    assert!(emitted.len() <= OWN_LABELS + 1, "{} series of emitted events", emitted.len());
    assert_eq!(emitted.iter().map(|(_, n)| n).sum::<f64>(), 1_000.0, "every emit counts: {emitted:?}");
    assert!(emitted.iter().any(|(event, n)| event == "other" && *n >= 900.0), "{emitted:?}");
    let connected = series(&metrics, "hub_connected_sockets", "namespace");
    assert!(connected.len() <= OWN_LABELS + 1, "{} series of namespaces", connected.len());
    assert_eq!(connected.iter().map(|(_, n)| n).sum::<f64>(), 152.0, "{connected:?}");
    assert!(connected.iter().any(|(namespace, n)| namespace == "other" && *n >= 50.0), "{connected:?}");
    assert_eq!(sample(&metrics, r#"hub_connected_sockets{namespace="/"}"#), Some(2.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_the_socket_id_or_the_request_id() {
    let hub =
        HubProcess::start(&["--bind", "127.0.0.1:0", "--publish-token", TOKEN, "--log-format", "json"], &[])
            .await;
    let publisher = TestClient::publisher(&hub.url).await;
    publisher.request("publish", json!({"event": "from-socket"})).await;
    let response = reqwest::Client::new()
        .post(format!("{}/api/publish", hub.url))
        .bearer_auth(TOKEN)
        .header("x-request-id", "req-42")
        .json(&json!({"event": "from-api"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "req-42", "the id comes back");
    let generated = reqwest::Client::new()
        .post(format!("{}/api/publish", hub.url))
        .bearer_auth(TOKEN)
        .json(&json!({"event": "from-api-2"}))
        .send()
        .await
        .unwrap();
    assert!(!generated.headers()["x-request-id"].is_empty(), "one is made when the client sent none");
    let log = hub.wait_for_log("published event", 3).await;
    let lines: Vec<Value> =
        log.lines().map(|line| serde_json::from_str(line).expect("every line is JSON")).collect();
    let published = |event: &str| {
        lines.iter().find(|line| line["message"] == "published event" && line["event"] == event).cloned()
    };
    let from_socket = published("from-socket").expect("the socket publish is logged");
    assert!(from_socket["sid"].as_str().is_some_and(|sid| !sid.is_empty()), "{from_socket}");
    let from_api = published("from-api").expect("the API publish is logged");
    assert_eq!(from_api["request_id"], "req-42", "{from_api}");
    assert_eq!(from_api["level"], "INFO");
}
