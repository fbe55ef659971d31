//! Webhooks of the real `hub` binary, POSTed to a receiver the test runs: signed chat messages, batching,
//! retries, the queue's bound while the receiver is down, `--webhook-events`, rooms and members on one
//! hub and once per cluster, and settings refused at start. One hub per test, so that its metrics count
//! only what the test did.

use std::collections::HashSet;
use std::time::Duration;

use e2e::TestClient;
use e2e::binaries::{HubProcess, run_hub};
use e2e::hub::TOKEN;
use e2e::redis::RedisServer;
use e2e::webhook_receiver::WebhookReceiver;
use hub_protocol::WebhookEvent;
use serde_json::{Value, json};

const SECRET: &str = "the-webhook-secret-of-this-test";

/// Long enough for a batch's window (1 s) and a few retries (1 s, 2 s, 4 s) on a busy machine.
const DELIVERY: Duration = Duration::from_secs(30);

/// The room and member events, without `chat`.
const ROOM_EVENTS: &str = "room_occupied,room_vacated,member_added,member_removed";

/// Starts a hub that sends webhooks to `receiver`, with `extra` flags; only `chat` unless `extra` chooses
/// with `--webhook-events`, so that counts are of chat messages alone.
async fn hub(receiver: &WebhookReceiver, extra: &[&str]) -> HubProcess {
    let mut args = vec!["--bind", "127.0.0.1:0", "--publish-token", TOKEN, "--webhook-url", &receiver.url];
    args.extend(["--webhook-secret", SECRET]);
    if !extra.contains(&"--webhook-events") {
        args.extend(["--webhook-events", "chat"]);
    }
    args.extend(extra);
    HubProcess::start(&args, &[]).await
}

/// Flags that let one socket send hundreds of chat messages at once.
const NO_CHAT_LIMIT: [&str; 4] = ["--rate-limit", "100000", "--rate-burst", "100000"];

async fn scrape(hub: &HubProcess) -> String {
    reqwest::get(format!("{}/metrics", hub.url)).await.unwrap().text().await.unwrap()
}

/// The value of the sample `name` (with its labels, exactly as rendered) in Prometheus text.
fn sample(metrics: &str, name: &str) -> Option<f64> {
    metrics.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// A client named `user` in `room`.
async fn member(hub: &HubProcess, user: &str, room: &str) -> TestClient {
    let client = TestClient::connect_with(&hub.url, "/", json!({ "user": user })).await.unwrap();
    client.join(room).await;
    client
}

/// Sends `count` chat messages `m0`, `m1`, ... into `room`, each acked `ok`.
async fn chat_many(client: &TestClient, room: &str, count: usize) {
    for n in 0..count {
        let ack = client.request("chat", json!({"room": room, "text": format!("m{n}")})).await;
        assert_eq!(ack["ok"], true, "chat m{n}: {ack}");
    }
}

/// The texts of the chat events in `batches`, in order.
fn chat_texts(batches: &[e2e::webhook_receiver::Received]) -> Vec<String> {
    batches
        .iter()
        .flat_map(|received| received.batch().events)
        .map(|event| match event {
            WebhookEvent::Chat { text, .. } => text,
            other => panic!("only chat events here, got {other:?}"),
        })
        .collect()
}

fn numbered(count: usize) -> Vec<String> {
    (0..count).map(|n| format!("m{n}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_chat_message_is_posted_signed() {
    let receiver = WebhookReceiver::start().await;
    let hub = hub(&receiver, &[]).await;
    let alice = member(&hub, "alice", "lobby").await;
    let mut bob = member(&hub, "bob", "lobby").await;
    let ack = alice.request("chat", json!({"room": "lobby", "text": "hello, webhooks"})).await;
    assert_eq!(ack["ok"], true, "{ack}");
    bob.expect_event("chat").await;
    let refused = alice.request("chat", json!({"room": "elsewhere", "text": "not in that room"})).await;
    assert_eq!(refused["error"], "not_in_room", "{refused}");

    let received = receiver.wait_for_events(1, DELIVERY).await;
    assert_eq!(received.len(), 1, "{received:?}");
    let request = &received[0];
    assert!(request.signed_with(SECRET), "the signature is the HMAC of the body: {request:?}");
    assert!(!request.signed_with("another-secret-of-the-same-size"), "and only with the hub's secret");
    assert_eq!(request.content_type.as_deref(), Some("application/json"));
    assert!(request.delivery.as_deref().is_some_and(|id| id.ends_with("-1")), "{request:?}");
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    let ts = ack["ts"].as_u64().expect("the ack's ts");
    assert_eq!(
        body["events"],
        json!([{
            "name": "chat", "namespace": "/", "room": "lobby", "user": "alice",
            "text": "hello, webhooks", "ts": ts,
        }]),
        "only the accepted message, as the room received it"
    );
    assert!(body["time_ms"].as_u64().is_some_and(|t| t >= ts), "{body}");

    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.received().len(), 1, "sent once");
    let metrics = scrape(&hub).await;
    assert_eq!(sample(&metrics, "hub_webhook_events_sent_total"), Some(1.0), "{metrics}");
    assert_eq!(sample(&metrics, "hub_webhook_batches_sent_total"), Some(1.0), "{metrics}");
    assert_eq!(sample(&metrics, "hub_webhook_queue_depth"), Some(0.0), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_messages_arrive_in_few_batches_of_at_most_100_in_order() {
    let receiver = WebhookReceiver::start().await;
    let hub = hub(&receiver, &NO_CHAT_LIMIT).await;
    let alice = member(&hub, "alice", "lobby").await;
    chat_many(&alice, "lobby", 450).await;

    let received = receiver.wait_for_events(450, DELIVERY).await;
    assert_eq!(chat_texts(&received), numbered(450), "each message once, in order");
    let sizes: Vec<usize> = received.iter().map(|r| r.batch().events.len()).collect();
    assert!(sizes.iter().all(|&n| n <= 100), "batches of at most 100: {sizes:?}");
    assert!(sizes.len() <= 15, "few requests for 450 messages: {sizes:?}");
    assert!(sizes.contains(&100), "full batches go at once: {sizes:?}");
    assert!(received.iter().all(|r| r.signed_with(SECRET)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_the_receiver_refuses_twice_arrives_the_third_time_unchanged() {
    let receiver = WebhookReceiver::start().await;
    receiver.answer_next(&[500, 500]);
    let hub = hub(&receiver, &[]).await;
    let alice = member(&hub, "alice", "lobby").await;
    chat_many(&alice, "lobby", 3).await;

    receiver.wait_for_events(3, DELIVERY).await;
    // Nothing more comes: no retry after the success, no duplicate.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let received = receiver.received();
    let statuses: Vec<u16> = received.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [500, 500, 200], "retried until accepted, then done");
    for retry in &received[1..] {
        assert_eq!(retry.body, received[0].body, "the same batch, byte for byte");
        assert_eq!(retry.signature, received[0].signature);
        assert_eq!(retry.delivery, received[0].delivery, "with the same delivery id");
    }
    assert!(received[2].signed_with(SECRET));
    assert_eq!(chat_texts(&received[2..]), numbered(3));
    let metrics = scrape(&hub).await;
    let expect =
        |name: &str, value: f64| assert_eq!(sample(&metrics, name), Some(value), "{name}\n{metrics}");
    expect("hub_webhook_attempts_failed_total", 2.0);
    expect("hub_webhook_events_sent_total", 3.0);
    expect(r#"hub_webhook_events_dropped_total{reason="undeliverable"}"#, 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_receiver_is_down_the_queue_holds_its_bound_and_counts_every_drop() {
    let receiver = WebhookReceiver::start().await;
    receiver.answer_always(503);
    let hub = hub(&receiver, &[&["--webhook-queue", "40"][..], &NO_CHAT_LIMIT].concat()).await;
    let alice = member(&hub, "alice", "lobby").await;
    let mut bob = member(&hub, "bob", "lobby").await;
    // The receiver's first refusal comes a second after the first message: the rest queue behind it.
    chat_many(&alice, "lobby", 100).await;
    for n in 0..100 {
        let message = bob.expect_event("chat").await;
        assert_eq!(message[0]["text"], format!("m{n}"), "the hub kept serving the room");
    }
    assert_eq!(alice.ack("echo", vec![json!("still here")]).await, [json!("still here")]);

    let metrics = scrape(&hub).await;
    let expect =
        |name: &str, value: f64| assert_eq!(sample(&metrics, name), Some(value), "{name}\n{metrics}");
    expect(r#"hub_webhook_events_dropped_total{reason="queue_full"}"#, 60.0);
    expect("hub_webhook_queue_depth", 40.0);
    expect("hub_webhook_events_sent_total", 0.0);
    let log = hub.wait_for_log("webhook event dropped: the queue is full", 1).await;
    assert!(log.contains("--webhook-queue"), "{log}");

    // Refused at least once, then back up: the 40 it kept arrive, each once, oldest first; the 60 after
    // them were dropped.
    receiver.wait_until(DELIVERY, |received| !received.is_empty()).await;
    receiver.answer_always(200);
    let accepted = receiver.wait_for_events(40, DELIVERY).await;
    assert_eq!(chat_texts(&accepted), numbered(40));
    let deliveries: HashSet<_> = accepted.iter().map(|r| r.delivery.clone()).collect();
    assert_eq!(deliveries.len(), accepted.len(), "each batch accepted once");
    assert_eq!(receiver.received()[0].status, 503);
    let metrics = scrape(&hub).await;
    assert_eq!(sample(&metrics, "hub_webhook_events_sent_total"), Some(40.0), "{metrics}");
    assert_eq!(sample(&metrics, "hub_webhook_queue_depth"), Some(0.0), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_chosen_events_are_sent() {
    let without_chat = WebhookReceiver::start().await;
    let with_chat = WebhookReceiver::start().await;
    let hubs = [
        hub(&without_chat, &["--webhook-events", "member_added,room_vacated"]).await,
        hub(&with_chat, &["--webhook-events", "chat"]).await,
    ];
    for hub in &hubs {
        let alice = member(hub, "alice", "lobby").await;
        chat_many(&alice, "lobby", 2).await;
    }
    let received = with_chat.wait_for_events(2, DELIVERY).await;
    assert_eq!(chat_texts(&received), numbered(2));
    let received = without_chat.wait_for_events(1, DELIVERY).await;
    // Well past the batch window: nothing else was sent, and nothing is queued.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(without_chat.received().len(), received.len(), "{:?}", without_chat.received());
    let events: Vec<_> = received.iter().flat_map(|r| r.batch().events).collect();
    let added = WebhookEvent::MemberAdded {
        namespace: "/".into(),
        room: "lobby".into(),
        user: "alice".into(),
        info: None,
    };
    assert_eq!(events, [added], "no room_occupied, no chat");
    let metrics = scrape(&hubs[0]).await;
    assert_eq!(sample(&metrics, "hub_webhook_queue_depth"), Some(0.0), "{metrics}");
    assert_eq!(sample(&metrics, "hub_webhook_events_sent_total"), Some(1.0), "{metrics}");
}

/// A room's life as the application hears it when alice then bob come in, and alice then bob go.
const ROOM_LIFE: [&str; 6] = [
    "room_occupied lobby",
    "member_added lobby alice",
    "member_added lobby bob",
    "member_removed lobby alice",
    "member_removed lobby bob",
    "room_vacated lobby",
];

/// The room and member events in `received`, in order, as `name room user`.
fn room_events(received: &[e2e::webhook_receiver::Received]) -> Vec<String> {
    received
        .iter()
        .flat_map(|r| r.batch().events)
        .map(|event| match event {
            WebhookEvent::RoomOccupied { room, .. } => format!("room_occupied {room}"),
            WebhookEvent::RoomVacated { room, .. } => format!("room_vacated {room}"),
            WebhookEvent::MemberAdded { room, user, .. } => format!("member_added {room} {user}"),
            WebhookEvent::MemberRemoved { room, user, .. } => format!("member_removed {room} {user}"),
            other => panic!("only room and member events here, got {other:?}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_is_occupied_and_vacated_around_its_members_comings_and_goings() {
    let receiver = WebhookReceiver::start().await;
    let hub = hub(&receiver, &["--webhook-events", ROOM_EVENTS]).await;
    let tab1 = member(&hub, "alice", "lobby").await;
    let tab2 = member(&hub, "alice", "lobby").await;
    let bob = member(&hub, "bob", "lobby").await;
    tab1.disconnect().await;
    tab2.request("leave", json!("lobby")).await;
    // Alice's last tab is gone before bob goes: a disconnect is handled after the client sent it, so
    // under load bob's could otherwise overtake tab1's.
    receiver.wait_for_events(4, DELIVERY).await;
    bob.disconnect().await;
    let received = receiver.wait_for_events(6, DELIVERY).await;
    assert_eq!(
        room_events(&received),
        ROOM_LIFE,
        "a user with two tabs is added once and removed with its last tab"
    );
    drop(tab2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_whose_members_sit_on_two_hubs_is_occupied_once_for_the_cluster() {
    let redis = RedisServer::start().await;
    let receiver = WebhookReceiver::start().await;
    let url = redis.url();
    let flags = ["--redis-url", &url, "--webhook-events", ROOM_EVENTS];
    let (a, b) = (hub(&receiver, &flags).await, hub(&receiver, &flags).await);
    let alice = member(&a, "alice", "lobby").await;
    receiver.wait_for_events(2, DELIVERY).await;
    let bob = member(&b, "bob", "lobby").await;
    let alice_again = member(&b, "alice", "lobby").await;
    receiver.wait_for_events(3, DELIVERY).await;
    // Alice leaves with whichever of her tabs Redis hears of last, on either hub.
    alice.disconnect().await;
    alice_again.disconnect().await;
    receiver.wait_for_events(4, DELIVERY).await;
    bob.disconnect().await;
    let received = receiver.wait_for_events(6, DELIVERY).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.accepted().len(), received.len(), "nothing more came");
    assert_eq!(
        room_events(&received),
        ROOM_LIFE,
        "once per cluster, from the hub whose change made the difference"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_cluster_a_message_is_posted_once_by_the_hub_that_accepted_it() {
    let redis = RedisServer::start().await;
    let receiver = WebhookReceiver::start().await;
    let url = redis.url();
    let a = hub(&receiver, &["--redis-url", &url]).await;
    let b = hub(&receiver, &["--redis-url", &url]).await;
    let alice = member(&a, "alice", "lobby").await;
    let mut bob = member(&b, "bob", "lobby").await;
    let ack = alice.request("chat", json!({"room": "lobby", "text": "across hubs"})).await;
    assert_eq!(ack["ok"], true, "{ack}");
    bob.expect_event("chat").await;
    receiver.wait_for_events(1, DELIVERY).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(chat_texts(&receiver.received()), ["across hubs"], "once per cluster");
}

#[tokio::test]
async fn settings_that_cannot_work_stop_the_hub_with_exit_code_2() {
    let cases: [(&[&str], &str); 4] = [
        (&["--webhook-secret", SECRET], "hub: invalid setting webhook-secret: needs --webhook-url"),
        (&["--webhook-url", "http://127.0.0.1:9/hooks"], "hub: invalid setting webhook-secret: is required"),
        (
            &[
                "--webhook-url",
                "http://127.0.0.1:9/hooks",
                "--webhook-secret",
                SECRET,
                "--webhook-events",
                "chat,messages",
            ],
            "hub: invalid setting webhook-events: unknown webhook event \"messages\"",
        ),
        (
            &[
                "--webhook-url",
                "http://127.0.0.1:9/hooks",
                "--webhook-secret",
                SECRET,
                "--webhook-queue",
                "0",
            ],
            "hub: invalid setting webhook-queue:",
        ),
    ];
    for (args, expected) in cases {
        let output = run_hub(args, &[]).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with(expected), "{args:?}: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_hub_delivers_what_is_queued_without_waiting_for_the_batch_window() {
    let receiver = WebhookReceiver::start().await;
    let hub = hub(&receiver, &[]).await;
    let alice = member(&hub, "alice", "lobby").await;
    chat_many(&alice, "lobby", 3).await;
    let (code, took) = hub.terminate().await;
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(5), "stopped in {took:?}");
    assert_eq!(chat_texts(&receiver.accepted()), numbered(3), "delivered before the hub exited");
}
