//! The HTTP publish API against the real hub: success, every error status, batches, idempotency, the
//! throttle on failed authentications.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use e2e::history::epoch_of;
use e2e::hub::TOKEN;
use e2e::{TestClient, TestHub};
use hub_protocol::EventMeta;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// POSTs `body` as JSON to `path` with the publish token; returns the status and the JSON body.
async fn post(hub: &TestHub, path: &str, body: &Value) -> (StatusCode, Value) {
    send(reqwest::Client::new().post(format!("{}{path}", hub.url)).bearer_auth(TOKEN).json(body)).await
}

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.expect("the hub answers");
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: the body is JSON: {text:?}"));
    (status, body)
}

fn assert_error(answer: &(StatusCode, Value), status: StatusCode, code: &str) {
    let (actual, body) = answer;
    assert_eq!(*actual, status, "{body}");
    assert_eq!(body["ok"], false, "{body}");
    assert_eq!(body["error"], code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_reaches_rooms_and_namespaces() {
    let hub = TestHub::start().await;
    let mut lobby = TestClient::connect_meta(&hub.url).await;
    lobby.join("lobby").await;
    let mut orders = TestClient::connect_with(&hub.url, "/orders", json!({"meta": true})).await.unwrap();

    let answer =
        post(&hub, "/api/publish", &json!({"event": "foo", "data": {"n": 1}, "rooms": ["lobby"]})).await;
    let lobby_epoch = epoch_of(&answer.1["recorded"][0]);
    let recorded = json!([{"room": "lobby", "offset": 1, "epoch": lobby_epoch}]);
    assert_eq!(answer, (StatusCode::OK, json!({"ok": true, "delivered": 1, "recorded": recorded})));
    let published = lobby.expect_published("foo").await;
    assert_eq!(published.data, json!({"n": 1}));
    let meta = |namespace: &str, room: Option<&str>, epoch: &str| EventMeta {
        namespace: namespace.to_owned(),
        room: room.map(str::to_owned),
        offset: Some(1),
        epoch: Some(epoch.to_owned()),
    };
    assert_eq!(published.meta(), &meta("/", Some("lobby"), &lobby_epoch));

    let answer =
        post(&hub, "/api/publish", &json!({"event": "order", "data": 7, "namespace": "/orders"})).await;
    let orders_epoch = epoch_of(&answer.1["recorded"][0]);
    let recorded = json!([{"offset": 1, "epoch": orders_epoch}]);
    assert_eq!(answer.1, json!({"ok": true, "delivered": 1, "recorded": recorded}), "the namespace's stream");
    assert_eq!(orders.expect_published("order").await.meta(), &meta("/orders", None, &orders_epoch));
    lobby.expect_no_event("order", Duration::from_millis(200)).await;

    let answer = post(&hub, "/api/publish", &json!({"event": "x", "namespace": "/nobody-here"})).await;
    let recorded = json!([{"offset": 1, "epoch": epoch_of(&answer.1["recorded"][0])}]);
    assert_eq!(
        answer.1,
        json!({"ok": true, "delivered": 0, "recorded": recorded}),
        "a namespace nobody joined records the event for those who come later"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_is_json_with_its_status() {
    let hub = TestHub::start_with(|config| {
        config.max_payload = 2048;
        config.publish_rate_limit = Some(1);
        config.publish_rate_burst = Some(3);
    })
    .await;
    let url = format!("{}/api/publish", hub.url);
    let client = reqwest::Client::new();
    let good = json!({"event": "foo", "data": 1});

    let missing = send(client.post(&url).json(&good)).await;
    assert_error(&missing, StatusCode::UNAUTHORIZED, "unauthorized");
    let response = client.post(&url).json(&good).send().await.unwrap();
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_error(
        &send(client.post(&url).bearer_auth("wrong").json(&good)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );

    let text = client.post(&url).bearer_auth(TOKEN).header("content-type", "text/plain").body("{}");
    assert_error(&send(text).await, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");

    // Requests with the right token draw on the client's bucket (burst 3): the 4th one is refused.
    let broken =
        client.post(&url).bearer_auth(TOKEN).header("content-type", "application/json").body("{nope");
    assert_error(&send(broken).await, StatusCode::BAD_REQUEST, "bad_request");
    let too_large = json!({"event": "big", "data": "x".repeat(4096)});
    assert_error(&post(&hub, "/api/publish", &too_large).await, StatusCode::PAYLOAD_TOO_LARGE, "too_large");
    assert_error(&post(&hub, "/api/publish", &good).await, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_fields_are_refused_like_the_publish_event() {
    let hub = TestHub::start_with(|config| config.publish_rate_limit = Some(1000)).await;
    for body in [
        json!({"event": "", "data": 1}),
        json!({"event": "publish"}),
        json!({"event": "foo", "rooms": [""]}),
        json!({"event": "foo", "rooms": "lobby"}),
        json!({"event": "foo", "namespace": "/bad name"}),
        json!({"data": 1}),
        json!([1, 2]),
    ] {
        assert_error(&post(&hub, "/api/publish", &body).await, StatusCode::BAD_REQUEST, "bad_request");
    }
    let many: Vec<String> = (0..=100).map(|i| i.to_string()).collect();
    let answer = post(&hub, "/api/publish", &json!({"event": "foo", "rooms": many})).await;
    assert_error(&answer, StatusCode::PAYLOAD_TOO_LARGE, "too_large");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_publishes_each_message_and_answers_for_each() {
    let hub = TestHub::start().await;
    let mut lobby = TestClient::connect(&hub.url).await;
    lobby.join("lobby").await;
    let _other = TestClient::connect(&hub.url).await;

    let batch = json!({"messages": [
        {"event": "a", "data": 1, "rooms": ["lobby"]},
        {"event": "chat", "data": 2},
        {"event": "b", "data": 3},
        "not a message",
    ]});
    let (status, body) = post(&hub, "/api/batch", &batch).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let results = body["results"].as_array().expect("results");
    assert_eq!(body["ok"], true);
    let lobby_epoch = epoch_of(&results[0]["recorded"][0]);
    let recorded = json!([{"room": "lobby", "offset": 1, "epoch": lobby_epoch}]);
    assert_eq!(results[0], json!({"ok": true, "delivered": 1, "recorded": recorded}));
    assert_eq!((results[1]["ok"].clone(), results[1]["error"].clone()), (json!(false), json!("bad_request")));
    let recorded = json!([{"offset": 1, "epoch": epoch_of(&results[2]["recorded"][0])}]);
    assert_eq!(
        results[2],
        json!({"ok": true, "delivered": 2, "recorded": recorded}),
        "a refused message takes no offset"
    );
    assert_eq!(results[3]["error"], "bad_request");
    assert_eq!(lobby.expect_published("a").await.data, json!(1));
    assert_eq!(lobby.expect_published("b").await.data, json!(3));

    let too_many: Vec<Value> = (0..101).map(|n| json!({"event": "n", "data": n})).collect();
    let answer = post(&hub, "/api/batch", &json!({"messages": too_many})).await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "bad_request");
    lobby.expect_no_event("n", Duration::from_millis(200)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_idempotency_key_is_not_delivered_again() {
    let hub = TestHub::start().await;
    let mut subscriber = TestClient::connect(&hub.url).await;
    let url = format!("{}/api/publish", hub.url);
    let client = reqwest::Client::new();
    let request = |key: &str, data: u32| {
        client
            .post(&url)
            .bearer_auth(TOKEN)
            .header("Idempotency-Key", key)
            .json(&json!({"event": "job", "data": data}))
    };

    let first = send(request("run-1", 1)).await;
    let epoch = epoch_of(&first.1["recorded"][0]);
    let acked =
        |offset: u64| json!({"ok": true, "delivered": 1, "recorded": [{"offset": offset, "epoch": epoch}]});
    assert_eq!(first, (StatusCode::OK, acked(1)));
    assert_eq!(subscriber.expect_published("job").await.data, json!(1));
    // The cron job retries: same key, same answer, no second delivery nor record (even with another body).
    assert_eq!(send(request("run-1", 1)).await, (StatusCode::OK, acked(1)));
    assert_eq!(send(request("run-1", 2)).await.1, acked(1));
    subscriber.expect_no_event("job", Duration::from_millis(300)).await;

    assert_eq!(send(request("run-2", 3)).await, (StatusCode::OK, acked(2)), "the retries took no offset");
    assert_eq!(subscriber.expect_published("job").await.data, json!(3), "a new key is a new publish");

    let batch = |key: &str| {
        client
            .post(format!("{}/api/batch", hub.url))
            .bearer_auth(TOKEN)
            .header("Idempotency-Key", key)
            .json(&json!({"messages": [{"event": "batched"}]}))
    };
    let first = send(batch("run-1")).await;
    assert_eq!(first.1["results"][0]["delivered"], 1, "keys are per endpoint");
    assert_eq!(send(batch("run-1")).await, first);
    subscriber.expect_published("batched").await;
    subscriber.expect_no_event("batched", Duration::from_millis(300)).await;

    let refused =
        client.post(&url).bearer_auth(TOKEN).header("Idempotency-Key", "k").json(&json!({"event": "chat"}));
    assert_error(&send(refused).await, StatusCode::BAD_REQUEST, "bad_request");
    let retried =
        client.post(&url).bearer_auth(TOKEN).header("Idempotency-Key", "k").json(&json!({"event": "ok"}));
    assert_eq!(send(retried).await.0, StatusCode::OK, "a refused request does not burn its key");
}

/// Sends the head of a POST to `/api/publish` that announces `length` bytes of body, and no body; returns
/// the status line of the answer, or `None` if the hub did not answer within 2 seconds (it waits for the
/// body).
async fn answer_before_the_body(hub: &TestHub, authorization: &str, length: usize) -> Option<String> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", hub.port)).await.unwrap();
    let head = format!(
        "POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1\r\n{authorization}Content-Type: application/json\r\n\
         Content-Length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0; 1024];
    let read = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut answer)).await.ok()?.ok()?;
    let answer = String::from_utf8_lossy(&answer[..read]).into_owned();
    answer.lines().next().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_checked_before_the_body_is_read() {
    let hub = TestHub::start().await;
    let limit = 1 << 20;
    for authorization in ["", "Authorization: Bearer wrong\r\n", "Authorization: Basic eDp5\r\n"] {
        let status = answer_before_the_body(&hub, authorization, limit).await;
        assert_eq!(status.as_deref(), Some("HTTP/1.1 401 Unauthorized"), "{authorization:?}");
    }
    // With the token, a body announced over the limit is refused before it is read, too.
    let authorized = format!("Authorization: Bearer {TOKEN}\r\n");
    let status = answer_before_the_body(&hub, &authorized, limit + 1).await;
    assert_eq!(status.as_deref(), Some("HTTP/1.1 413 Payload Too Large"));
    // A body within the limit is waited for (and the hub still answers everyone else meanwhile).
    assert_eq!(answer_before_the_body(&hub, &authorized, 100).await, None);
    let answer = post(&hub, "/api/publish", &json!({"event": "foo"})).await;
    let recorded = json!([{"offset": 1, "epoch": epoch_of(&answer.1["recorded"][0])}]);
    assert_eq!(answer, (StatusCode::OK, json!({"ok": true, "delivered": 0, "recorded": recorded})));
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_body_over_the_limit_is_too_large() {
    let hub = TestHub::start_with(|config| config.max_payload = 2048).await;
    let body = format!("{{\"event\":\"big\",\"data\":\"{}\"}}", "x".repeat(4096));
    let stream = futures_util::stream::iter([Ok::<_, std::io::Error>(body.into_bytes())]);
    let request = reqwest::Client::new()
        .post(format!("{}/api/publish", hub.url))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream));
    assert_error(&send(request).await, StatusCode::PAYLOAD_TOO_LARGE, "too_large");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_scheme_is_case_insensitive() {
    let hub = TestHub::start().await;
    let request = reqwest::Client::new()
        .post(format!("{}/api/publish", hub.url))
        .header("Authorization", format!("bearer {TOKEN}"))
        .json(&json!({"event": "foo"}));
    let answer = send(request).await;
    let recorded = json!([{"offset": 1, "epoch": epoch_of(&answer.1["recorded"][0])}]);
    assert_eq!(answer, (StatusCode::OK, json!({"ok": true, "delivered": 0, "recorded": recorded})));
}

/// An HTTP client whose connections come from `ip` (any of 127.0.0.0/8 reaches a hub on 127.0.0.1).
fn client_from(ip: Ipv4Addr) -> reqwest::Client {
    reqwest::Client::builder().local_address(IpAddr::V4(ip)).build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_tokens_are_throttled_per_address() {
    let hub = TestHub::start().await;
    let url = format!("{}/api/publish", hub.url);
    let guesser = client_from(Ipv4Addr::new(127, 0, 0, 1));
    let guess =
        |n: u32| guesser.post(&url).bearer_auth(format!("guess-{n:016}")).json(&json!({"event": "e"}));

    for n in 0..10 {
        assert_error(&send(guess(n)).await, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let response = guess(10).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=6).contains(&retry_after), "Retry-After: {retry_after}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "rate_limited", "{body}");
    assert!(body["message"].as_str().unwrap().contains("failed authentications"), "{body}");
    // The gate closes before the token is compared: the right token is no way to tell a hit.
    let right = guesser.post(&url).bearer_auth(TOKEN).json(&json!({"event": "e"}));
    assert_error(&send(right).await, StatusCode::TOO_MANY_REQUESTS, "rate_limited");

    // Another address is not concerned, with the right token or a wrong one.
    let neighbour = client_from(Ipv4Addr::new(127, 0, 0, 2));
    let right = neighbour.post(&url).bearer_auth(TOKEN).json(&json!({"event": "e"}));
    assert_eq!(send(right).await.0, StatusCode::OK);
    let wrong = neighbour.post(&url).bearer_auth("another-wrong-guess").json(&json!({"event": "e"}));
    assert_error(&send(wrong).await, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_publishers_are_never_throttled() {
    let hub = TestHub::start().await;
    for _ in 0..200 {
        assert_eq!(post(&hub, "/api/publish", &json!({"event": "e"})).await.0, StatusCode::OK);
    }
    let missing =
        reqwest::Client::new().post(format!("{}/api/publish", hub.url)).json(&json!({"event": "e"}));
    for _ in 0..20 {
        assert_error(&send(missing.try_clone().unwrap()).await, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    assert_eq!(
        post(&hub, "/api/publish", &json!({"event": "e"})).await.0,
        StatusCode::OK,
        "no token at all is not a guess"
    );
}
