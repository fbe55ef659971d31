//! Limits that protect everyone else: connections, message size, and rates. Each test checks that the
//! hub keeps serving the other clients meanwhile.

use std::time::Duration;

use e2e::{TestClient, TestHub, raw};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_after_the_limit_is_refused_and_the_others_are_unaffected() {
    let hub = TestHub::start_with(|config| config.max_connections = 2).await;
    let first = TestClient::connect(&hub.url).await;
    let second = TestClient::connect(&hub.url).await;
    let message = TestClient::connect_error(&hub.url, "/", json!({})).await;
    assert_eq!(
        message,
        "the hub is full: it accepts at most 2 connections (its operator can raise --max-connections)"
    );
    assert_eq!(first.ack("echo", vec![json!(1)]).await, vec![json!(1)]);
    assert_eq!(second.ack("echo", vec![json!(2)]).await, vec![json!(2)]);

    first.disconnect().await;
    let mut replacement = None;
    for _ in 0..50 {
        if let Ok(client) = TestClient::connect_with(&hub.url, "/", json!({})).await {
            replacement = Some(client);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let replacement = replacement.expect("a freed place is taken again");
    assert_eq!(replacement.ack("echo", vec![json!(3)]).await, vec![json!(3)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_clients_that_fill_the_hub_do_not_lock_out_publishers() {
    let hub = TestHub::start_with(|config| config.max_connections = 2).await;
    let mut first = TestClient::connect(&hub.url).await;
    let _second = TestClient::connect(&hub.url).await;
    assert!(TestClient::connect_error(&hub.url, "/", json!({})).await.starts_with("the hub is full"));

    let publisher = TestClient::publisher(&hub.url).await;
    let ack = publisher.request("publish", json!({"event": "news", "data": 1})).await;
    assert_eq!(ack["delivered"], 2, "{ack}");
    first.expect_published("news").await;
    assert!(
        TestClient::connect_error(&hub.url, "/", json!({})).await.starts_with("the hub is full"),
        "the publishers' reserve is theirs alone"
    );
}

/// Connects to `namespace` as soon as the hub has a place for it (a disconnect is noticed a moment later).
async fn connect_when_possible(hub: &TestHub, namespace: &str) -> TestClient {
    for _ in 0..100 {
        if let Ok(client) = TestClient::connect_with(&hub.url, namespace, json!({})).await {
            return client;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no place for {namespace} within 2 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_nobody_uses_any_more_are_reclaimed() {
    let hub = TestHub::start_with(|config| config.max_namespaces = 2).await;
    for name in ["/a", "/b", "/c", "/a"] {
        let client = connect_when_possible(&hub, name).await;
        assert_eq!(client.ack("echo", vec![json!(name)]).await, vec![json!(name)]);
        let message = TestClient::connect_error(&hub.url, "/other", json!({})).await;
        assert!(message.starts_with("too many namespaces in use (at most 2)"), "{message}");
        client.disconnect().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_sockets_leave_no_namespace_behind() {
    let hub = TestHub::start_with(|config| config.max_namespaces = 2).await;
    for n in 0..5 {
        let message = TestClient::connect_error(&hub.url, &format!("/junk{n}"), json!({"user": ""})).await;
        assert!(message.starts_with("invalid user"), "{message}");
    }
    let client = TestClient::connect_with(&hub.url, "/real", json!({})).await.expect("a place for /real");
    assert_eq!(client.ack("echo", vec![json!(1)]).await, vec![json!(1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_max_payload_is_refused_and_a_huge_one_drops_only_its_sender() {
    let hub = TestHub::start_with(|config| config.max_payload = 4096).await;
    let publisher = TestClient::publisher(&hub.url).await;
    let mut bystander = TestClient::connect(&hub.url).await;

    let ack = publisher.request("publish", json!({"event": "big", "data": "x".repeat(5000)})).await;
    assert_eq!((ack["ok"].clone(), ack["error"].clone()), (json!(false), json!("too_large")), "{ack}");
    let ack = publisher.request("publish", json!({"event": "fits", "data": "x".repeat(3000)})).await;
    assert_eq!(ack["delivered"], 1);
    bystander.expect_published("fits").await;

    // Over twice the limit the frame is not even read: that socket's connection is closed.
    let mut ws = raw::connect(hub.port).await.unwrap();
    raw::send(&mut ws, &format!(r#"420["echo","{}"]"#, "y".repeat(10_000))).await.unwrap();
    assert!(raw::next_text(&mut ws).await.is_err(), "the connection is closed");
    assert_eq!(bystander.ack("echo", vec![json!("still here")]).await, vec![json!("still here")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_and_publish_beyond_their_rate_are_refused_per_socket() {
    let hub = TestHub::start_with(|config| {
        config.rate_burst = 5;
        config.rate_limit = 1;
        config.publish_rate_burst = Some(3);
        config.publish_rate_limit = Some(1);
    })
    .await;
    let chatty = TestClient::connect(&hub.url).await;
    let mut calm = TestClient::connect(&hub.url).await;
    chatty.join("r").await;
    calm.join("r").await;

    let mut codes = Vec::new();
    for n in 0..7 {
        let ack = chatty.request("chat", json!({"room": "r", "text": format!("{n}")})).await;
        codes.push(ack["error"].as_str().unwrap_or("ok").to_owned());
    }
    assert_eq!(codes, ["ok", "ok", "ok", "ok", "ok", "rate_limited", "rate_limited"]);
    let refused = chatty.request("chat", json!({"room": "r", "text": "again"})).await;
    assert!(refused["message"].as_str().unwrap().contains("at most 1 messages per second"), "{refused}");
    // Another socket has its own bucket.
    assert_eq!(calm.request("chat", json!({"room": "r", "text": "calm"})).await["ok"], true);
    for _ in 0..5 {
        calm.expect_event("chat").await;
    }

    let publisher = TestClient::publisher(&hub.url).await;
    let mut codes = Vec::new();
    for _ in 0..4 {
        let ack = publisher.request("publish", json!({"event": "tick", "rooms": ["r"]})).await;
        codes.push(ack["error"].as_str().unwrap_or("ok").to_owned());
    }
    assert_eq!(codes, ["ok", "ok", "ok", "rate_limited"]);
    let direct = publisher.request("direct", json!(1)).await;
    assert_eq!(direct["error"], "rate_limited", "direct emits count as publishes");
    let retry_after = direct["retry_after_ms"].as_u64().expect("a refusal says when to try again");
    tokio::time::sleep(Duration::from_millis(retry_after)).await;
    assert_eq!(
        publisher.request("publish", json!({"event": "tick"})).await["ok"],
        true,
        "the bucket refills"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_beyond_the_limit_are_refused_and_made_up_names_cost_nothing() {
    let hub = TestHub::start_with(|config| config.max_namespaces = 3).await;
    let a = TestClient::connect_with(&hub.url, "/a", json!({})).await.unwrap();
    for bad in ["/bad.name", "/sp ace", "/also.bad"] {
        assert!(TestClient::connect_error(&hub.url, bad, json!({})).await.starts_with("namespace must be"));
    }
    // Had the refused names stayed allocated, `/`, `/a` and one of them would fill the 3 places.
    let _b = TestClient::connect_with(&hub.url, "/b", json!({})).await.expect("invalid names left no trace");
    for _ in 0..2 {
        let message = TestClient::connect_error(&hub.url, "/c", json!({})).await;
        assert!(message.starts_with("too many namespaces in use (at most 3)"), "{message}");
    }
    assert!(
        TestClient::connect_with(&hub.url, "/a", json!({})).await.is_ok(),
        "existing namespaces still work"
    );
    assert_eq!(a.ack("echo", vec![json!(1)]).await, vec![json!(1)]);
    assert!(TestClient::connect_with(&hub.url, "/", json!({})).await.is_ok());
}

/// Sends `text`, then `attachments` binary frames of `size` bytes each, and says whether the hub closed
/// the session (rather than acking).
async fn binary_event_closes(port: u16, text: &str, attachments: usize, size: usize) -> bool {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let mut ws = raw::connect(port).await.unwrap();
    raw::send(&mut ws, text).await.unwrap();
    for n in 0..attachments {
        if ws.send(Message::binary(vec![n as u8; size])).await.is_err() {
            return true;
        }
    }
    let answer = tokio::time::timeout(e2e::WAIT, raw::next_text(&mut ws)).await.expect("an answer");
    // `1` is Engine.IO's close packet.
    answer.is_err() || answer.as_deref() == Ok("1")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_events_binary_attachments_together_are_capped_like_a_message() {
    // Each frame stays under the 2 x max-payload frame cap; together they pass it.
    let hub = TestHub::start_with(|config| config.max_payload = 1024).await;
    let three = r#"453-1["echo",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1},{"_placeholder":true,"num":2}]"#;
    assert!(
        binary_event_closes(hub.port, three, 3, 1500).await,
        "4,500 bytes of attachments close the connection"
    );
    assert!(!binary_event_closes(hub.port, three, 3, 500).await, "1,500 bytes are echoed");

    // More attachments than an event may announce.
    let many = r#"451001-1["echo",1]"#;
    assert!(
        binary_event_closes(hub.port, many, 1, 1).await,
        "1,001 announced attachments close the connection"
    );

    let reader = TestClient::connect(&hub.url).await;
    assert_eq!(reader.ack("echo", vec![json!("ok")]).await, vec![json!("ok")], "everyone else is served");
}
