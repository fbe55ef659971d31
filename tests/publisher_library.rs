//! The `publisher` library against the real hub, and against peers that misbehave.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use e2e::binaries::HubProcess;
use e2e::hub::LateHub;
use e2e::{TestClient, TestHub, fake};
use hub_protocol::{ErrorCode, RecordedAt};
use publisher::{ExitCode, PublishError, Publisher, PublisherOptions, Stage};
use serde_json::json;

fn options(token: Option<&str>) -> PublisherOptions {
    PublisherOptions { token: token.map(str::to_owned), ..PublisherOptions::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_many_events_over_one_connection_in_order() {
    let hub = TestHub::start().await;
    let mut lobby = TestClient::connect(&hub.url).await;
    let mut everyone = TestClient::connect(&hub.url).await;
    lobby.join("lobby").await;

    let mut publisher = Publisher::connect(&hub.url, options(Some(e2e::hub::TOKEN))).await.unwrap();
    for n in 0..20 {
        assert_eq!(publisher.publish("tick", json!(n), &["lobby".to_owned()]).await.unwrap().delivered, 1);
    }
    assert_eq!(publisher.publish("all", json!({"k": "v"}), &[]).await.unwrap().delivered, 2);
    publisher.close().await;

    for n in 0..20 {
        assert_eq!(lobby.expect_published("tick").await.data, json!(n), "in order");
    }
    assert_eq!(everyone.expect_published("all").await.data, json!({"k": "v"}));
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_say_where_events_were_recorded_and_volatile_events_are_recorded_nowhere() {
    let hub = TestHub::start().await;
    let mut lobby = TestClient::connect(&hub.url).await;
    let epoch = lobby.join("lobby").await["epoch"].as_str().expect("an epoch").to_owned();
    let rooms = ["lobby".to_owned(), "other".to_owned()];

    let mut publisher = Publisher::connect(&hub.url, options(Some(e2e::hub::TOKEN))).await.unwrap();
    let ack = publisher.publish("tick", json!(1), &rooms).await.unwrap();
    assert_eq!(ack.recorded.len(), 2, "one position per target room: {ack:?}");
    let at = RecordedAt { room: Some("lobby".to_owned()), offset: 1, epoch: epoch.clone() };
    assert_eq!(ack.recorded[0], at);
    assert_eq!((ack.recorded[1].room.as_deref(), ack.recorded[1].offset), (Some("other"), 1));

    let volatile = publisher.publish_volatile("typing", json!("alice"), &rooms).await.unwrap();
    assert_eq!((volatile.delivered, volatile.recorded.len()), (1, 0), "{volatile:?}");
    let next = publisher.publish("tick", json!(2), &rooms[..1]).await.unwrap();
    assert_eq!(next.recorded, [RecordedAt { offset: 2, ..at }], "the volatile event took no offset");
    let everyone = publisher.publish("all", json!(3), &[]).await.unwrap();
    assert_eq!((everyone.recorded[0].room.as_deref(), everyone.recorded[0].offset), (None, 1));
    publisher.close().await;

    for name in ["tick", "typing", "tick", "all"] {
        lobby.expect_published(name).await;
    }
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_into_a_namespace() {
    let hub = TestHub::start().await;
    let mut orders = TestClient::connect_with(&hub.url, "/orders", json!({})).await.unwrap();
    let mut root = TestClient::connect(&hub.url).await;
    let options = PublisherOptions { namespace: "/orders".into(), ..options(Some(e2e::hub::TOKEN)) };
    let mut publisher = Publisher::connect(&hub.url, options).await.unwrap();
    assert_eq!(publisher.publish("new", json!(1), &[]).await.unwrap().delivered, 1);
    orders.expect_published("new").await;
    root.expect_silence().await;
    publisher.close().await;
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_typed() {
    let hub = TestHub::start().await;

    let wrong = Publisher::connect(&hub.url, options(Some("wrong"))).await.err().expect("refused");
    assert!(matches!(&wrong, PublishError::ConnectRefused(m) if m == "invalid publish token"), "{wrong}");
    assert_eq!(wrong.exit_code(), ExitCode::Refused);
    assert!(!wrong.is_retryable());

    let mut anonymous = Publisher::connect(&hub.url, options(None)).await.unwrap();
    let forbidden = anonymous.publish("foo", json!(1), &[]).await.unwrap_err();
    assert!(matches!(&forbidden, PublishError::Refused(r) if r.code == ErrorCode::Forbidden), "{forbidden}");
    assert_eq!(forbidden.exit_code(), ExitCode::Refused);

    let mut publisher = Publisher::connect(&hub.url, options(Some(e2e::hub::TOKEN))).await.unwrap();
    let reserved = publisher.publish("disconnect", json!(1), &[]).await.unwrap_err();
    assert!(matches!(&reserved, PublishError::Refused(r) if r.code == ErrorCode::BadRequest), "{reserved}");
    // The connection survives a refusal; the event reaches the still-connected anonymous socket.
    assert_eq!(publisher.publish("fine", json!(1), &[]).await.unwrap().delivered, 1);
    publisher.close().await;
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_hubs_fail_fast_and_are_retryable() {
    let port = fake::free_port().await;
    let error = Publisher::connect(&format!("http://127.0.0.1:{port}"), options(None)).await.err().unwrap();
    assert!(matches!(error, PublishError::Connect { .. }), "{error}");
    assert!(error.is_retryable());
    assert_eq!(error.exit_code(), ExitCode::Unreachable);

    let error = Publisher::connect("not a url", options(None)).await.err().unwrap();
    assert_eq!(error.exit_code(), ExitCode::Usage, "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_times_out_while_connecting() {
    let silent = fake::silent().await;
    let options = PublisherOptions { timeout: Duration::from_millis(500), ..options(None) };
    let started = Instant::now();
    let error = Publisher::connect(&silent.url, options).await.err().unwrap();
    assert!(matches!(error, PublishError::Timeout { stage: Stage::Connect, .. }), "{error}");
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_ack_times_out() {
    let peer = fake::never_acks().await;
    let options = PublisherOptions { timeout: Duration::from_millis(500), ..options(None) };
    let mut publisher = Publisher::connect(&peer.url, options).await.unwrap();
    let started = Instant::now();
    let error = publisher.publish("foo", json!(1), &[]).await.unwrap_err();
    assert!(matches!(error, PublishError::Timeout { stage: Stage::Ack, .. }), "{error}");
    assert!(!error.is_retryable(), "the event may have arrived: never sent twice");
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_reach_a_hub_that_starts_late() {
    let late_hub = LateHub::start_after(Duration::from_millis(600)).await;
    let options = PublisherOptions { retries: 5, ..options(Some(e2e::hub::TOKEN)) };
    let mut publisher = Publisher::connect(&late_hub.url, options).await.expect("a retry reaches the hub");
    assert_eq!(publisher.publish("late", json!(1), &[]).await.unwrap().delivered, 0);
    publisher.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waits_out_the_rate_limit_and_sends_again() {
    // The limit is given explicitly: this test is about a hub that has one, whatever the default.
    let args = [
        "--bind",
        "127.0.0.1:0",
        "--publish-token",
        e2e::hub::TOKEN,
        "--publish-rate-limit",
        "20",
        "--publish-rate-burst",
        "5",
    ];
    let hub = HubProcess::start(&args, &[]).await;
    let mut subscriber = TestClient::connect(&hub.url).await;

    // The hub's refusal says how long to wait.
    let raw = TestClient::publisher(&hub.url).await;
    let mut refusal = None;
    for _ in 0..20 {
        let ack = raw.request("publish", json!({"event": "probe"})).await;
        if ack["ok"] == false {
            refusal = Some(ack);
            break;
        }
    }
    let refusal = refusal.expect("the burst of 5 runs out");
    for _ in 0..5 {
        subscriber.expect_published("probe").await;
    }
    assert_eq!(refusal["error"], "rate_limited", "{refusal}");
    let wait = refusal["retry_after_ms"].as_u64().unwrap_or_else(|| panic!("retry_after_ms in {refusal}"));
    assert!((1..=50).contains(&wait), "at 20 per second the next publish is at most 50 ms away: {refusal}");

    let mut publisher = Publisher::connect(&hub.url, options(Some(e2e::hub::TOKEN))).await.unwrap();
    let started = Instant::now();
    for n in 0..30 {
        let ack = publisher.publish("n", json!(n), &[]).await.unwrap_or_else(|e| panic!("event {n}: {e}"));
        assert_eq!(ack.delivered, 2, "the subscriber and the raw publisher");
    }
    let took = started.elapsed();
    let waited = publisher.waited();
    publisher.close().await;
    for n in 0..30 {
        assert_eq!(subscriber.expect_published("n").await.data, json!(n), "every event, in order");
    }
    // 25 events beyond the burst at 20 per second take 1.25 s.
    assert!(took >= Duration::from_millis(1_100), "took {took:?}");
    // Most of the 50 had to wait; each round trip also refills the bucket, so the waits add up to less
    // than the time taken.
    assert!(waited.times >= 15, "{waited:?}");
    assert!(!waited.total.is_zero() && waited.total <= took, "{waited:?}, took {took:?}");
    hub.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_waits_end_at_the_deadline() {
    let (peer, sent) = fake::always_rate_limited(100).await;
    let options = PublisherOptions { timeout: Duration::from_secs(1), ..options(None) };
    let mut publisher = Publisher::connect(&peer.url, options.clone()).await.unwrap();
    let started = Instant::now();
    let error = publisher.publish("foo", json!(1), &[]).await.unwrap_err();
    let took = started.elapsed();
    assert!(matches!(&error, PublishError::Refused(r) if r.code == ErrorCode::RateLimited), "{error}");
    assert_eq!(error.exit_code(), ExitCode::Refused);
    assert!(took < Duration::from_millis(1_500), "never past the deadline: {took:?}");
    let sent = sent.load(Ordering::SeqCst);
    assert!((5..=11).contains(&sent), "sent again after each 100 ms wait, within 1 s: {sent} times");
    assert_eq!(publisher.waited().times as usize, sent - 1);

    // A wait longer than the time left is not begun.
    let (peer, sent) = fake::always_rate_limited(60_000).await;
    let mut publisher = Publisher::connect(&peer.url, options).await.unwrap();
    let started = Instant::now();
    let error = publisher.publish("foo", json!(1), &[]).await.unwrap_err();
    assert!(matches!(&error, PublishError::Refused(r) if r.retry_after_ms == Some(60_000)), "{error}");
    assert!(started.elapsed() < Duration::from_millis(500), "took {:?}", started.elapsed());
    assert_eq!(sent.load(Ordering::SeqCst), 1);
}
