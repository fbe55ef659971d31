//! The HTTP API against the real hub: publishing (success, every error status, batches, idempotency,
//! the throttle on failed authentications) and pages of history (`GET /api/history`).

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use e2e::history::epoch_of;
use e2e::hub::TOKEN;
use e2e::{QUIET, TestClient, TestHub};
use hub_protocol::history::HISTORY_PAGE_MAX;
use hub_protocol::{EventMeta, HistoryPage};
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

/// `GET /api/history?{query}` with the publish token; returns the status and the JSON body.
async fn history(hub: &TestHub, query: &str) -> (StatusCode, Value) {
    send(reqwest::Client::new().get(format!("{}/api/history?{query}", hub.url)).bearer_auth(TOKEN)).await
}

/// A page of history, which must be a success.
async fn page(hub: &TestHub, query: &str) -> HistoryPage {
    let (status, body) = history(hub, query).await;
    assert_eq!((status, &body["ok"]), (StatusCode::OK, &json!(true)), "{query}: {body}");
    serde_json::from_value(body).expect("a history page")
}

fn offsets(page: &HistoryPage) -> Vec<u64> {
    page.events.iter().map(|event| event.offset).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_lists_a_rooms_recorded_events_oldest_first_as_receivers_got_them() {
    let hub = TestHub::start().await;
    let alice = TestClient::connect_with(&hub.url, "/", json!({"user": "alice"})).await.unwrap();
    let epoch = alice.join("lobby").await["epoch"].as_str().expect("the join ack has the epoch").to_owned();
    let mut bob = TestClient::connect(&hub.url).await;
    bob.join("lobby").await;

    for n in 1..=2 {
        let body = json!({"event": "tick", "data": {"n": n}, "rooms": ["lobby"]});
        assert_eq!(post(&hub, "/api/publish", &body).await.0, StatusCode::OK);
    }
    let volatile = json!({"event": "typing", "data": "alice", "rooms": ["lobby"], "history": false});
    assert_eq!(post(&hub, "/api/publish", &volatile).await.0, StatusCode::OK);
    let chat = alice.request("chat", json!({"room": "lobby", "text": "hi"})).await;
    assert_eq!(chat["offset"], 3, "{chat}");
    let mut received = Vec::new();
    for name in ["tick", "tick", "typing", "chat"] {
        received.push((name, bob.expect_event(name).await));
    }

    let lobby = page(&hub, "namespace=/&room=lobby").await;
    assert_eq!((lobby.namespace.as_str(), lobby.room.as_deref()), ("/", Some("lobby")));
    assert_eq!((lobby.offset, lobby.epoch.as_str(), lobby.recovered), (3, epoch.as_str(), None));
    assert_eq!(offsets(&lobby), [1, 2, 3], "the volatile event is not recorded");
    let listed: Vec<(&str, Value)> = lobby
        .events
        .iter()
        .map(|event| (event.event.as_str(), serde_json::to_value(&event.args).unwrap()))
        .collect();
    let live: Vec<(&str, Value)> = received
        .into_iter()
        .filter(|(name, _)| *name != "typing")
        .map(|(name, arguments)| (name, Value::Array(arguments)))
        .collect();
    assert_eq!(listed, live, "each event as a receiver without metadata got it");
    assert_eq!(lobby.events[2].ts, chat["ts"].as_u64().unwrap(), "a chat's time is the one it was sent with");

    let after_one = page(&hub, "room=lobby&since=1&limit=1").await;
    assert_eq!((offsets(&after_one), after_one.offset), (vec![2], 3));
    assert_eq!(offsets(&page(&hub, "room=lobby&since=3").await), [] as [u64; 0]);
    let position = page(&hub, "room=lobby&limit=0").await;
    assert_eq!((offsets(&position), position.offset, position.epoch), (vec![], 3, epoch));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_without_a_room_lists_the_namespaces_own_stream() {
    let hub = TestHub::start().await;
    let everyone = json!({"event": "news", "data": 1});
    let ack = post(&hub, "/api/publish", &everyone).await.1;
    let orders = json!({"event": "order", "data": 2, "namespace": "/orders"});
    assert_eq!(post(&hub, "/api/publish", &orders).await.0, StatusCode::OK);
    assert_eq!(
        post(&hub, "/api/publish", &json!({"event": "r", "rooms": ["lobby"]})).await.0,
        StatusCode::OK
    );

    let root = page(&hub, "").await;
    assert_eq!((root.namespace.as_str(), root.room.as_deref(), offsets(&root)), ("/", None, vec![1]));
    assert_eq!(
        (root.events[0].event.as_str(), root.epoch.as_str()),
        ("news", ack["recorded"][0]["epoch"].as_str().unwrap())
    );
    let orders = page(&hub, "namespace=/orders").await;
    assert_eq!((orders.namespace.as_str(), orders.events[0].event.as_str()), ("/orders", "order"));
    assert_eq!(serde_json::to_value(&orders.events[0].args).unwrap(), json!([2]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_with_an_epoch_says_whether_the_page_follows_it() {
    let hub = TestHub::start_with(|config| config.history_size = 3).await;
    for n in 1..=5 {
        let body = json!({"event": "tick", "data": n, "rooms": ["lobby"]});
        assert_eq!(post(&hub, "/api/publish", &body).await.0, StatusCode::OK);
    }
    let epoch = page(&hub, "room=lobby&limit=0").await.epoch;

    let follows = page(&hub, &format!("room=lobby&since=2&epoch={epoch}")).await;
    assert_eq!((follows.recovered, offsets(&follows)), (Some(true), vec![3, 4, 5]));
    for (since, epoch, why) in
        [(1, epoch.as_str(), "offset 2 is no longer kept"), (2, "0123456789abcdef", "another epoch")]
    {
        let gap = page(&hub, &format!("room=lobby&since={since}&epoch={epoch}")).await;
        assert_eq!(
            (gap.recovered, offsets(&gap)),
            (Some(false), vec![3, 4, 5]),
            "{why}: from the oldest kept"
        );
    }
    let without = page(&hub, "room=lobby&since=1").await;
    assert_eq!((without.recovered, offsets(&without)), (None, vec![3, 4, 5]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_of_a_room_nobody_used_yet_is_where_a_join_with_since_recovers_from() {
    let hub = TestHub::start().await;
    let fresh = page(&hub, "room=fresh").await;
    assert_eq!((fresh.offset, fresh.events.len()), (0, 0));
    // The server rendered an empty room; two events come before the browser joins.
    for n in 1..=2 {
        let body = json!({"event": "tick", "data": n, "rooms": ["fresh"]});
        assert_eq!(post(&hub, "/api/publish", &body).await.0, StatusCode::OK);
    }
    let mut browser = TestClient::connect(&hub.url).await;
    let since = json!({"since": {"offset": fresh.offset, "epoch": fresh.epoch}});
    let ack = browser.ack("join", vec![json!("fresh"), since]).await;
    assert_eq!((&ack[0]["recovered"], &ack[0]["missed"]), (&json!(true), &json!(2)), "{ack:?}");
    assert_eq!(browser.expect_published("tick").await.data, json!(1));
    assert_eq!(browser.expect_published("tick").await.data, json!(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_history_page_stops_once_its_data_reaches_max_payload() {
    let hub = TestHub::start_with(|config| config.max_payload = 2048).await;
    for n in 1..=5 {
        let body = json!({"event": "big", "data": format!("{n}{}", "x".repeat(898)), "rooms": ["lobby"]});
        assert_eq!(post(&hub, "/api/publish", &body).await.0, StatusCode::OK);
    }
    let first = page(&hub, "room=lobby").await;
    assert_eq!((offsets(&first), first.offset), (vec![1, 2], 5), "3 events of 900 bytes are over 2048");
    assert_eq!(offsets(&page(&hub, "room=lobby&since=2").await), [3, 4]);
    assert_eq!(offsets(&page(&hub, "room=lobby&since=4").await), [5]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_refuses_bad_queries_with_json_that_names_the_parameter() {
    let hub = TestHub::start_with(|config| config.publish_rate_limit = Some(1000)).await;
    for (query, says) in [
        ("since=abc", "since"),
        ("since=-1", "since"),
        ("since=", "since"),
        ("limit=ten", "limit"),
        (&format!("limit={}", HISTORY_PAGE_MAX + 1) as &str, "at most 1000"),
        ("epoch=0123456789abcdef", "epoch goes with since"),
        ("room=", "room name"),
        ("namespace=nope", "namespace"),
        ("offset=3", "unknown field `offset`"),
        ("since=1&since=2", "duplicate field `since`"),
    ] {
        let answer = history(&hub, query).await;
        assert_error(&answer, StatusCode::BAD_REQUEST, "bad_request");
        assert!(answer.1["message"].as_str().unwrap().contains(says), "{query}: {}", answer.1);
    }
    assert_eq!(page(&hub, &format!("limit={HISTORY_PAGE_MAX}")).await.offset, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_is_admitted_like_the_publish_api() {
    let hub = TestHub::start_with(|config| {
        config.publish_rate_limit = Some(1);
        config.publish_rate_burst = Some(2);
    })
    .await;
    let url = format!("{}/api/history?room=lobby", hub.url);
    let client = reqwest::Client::new();
    let missing = send(client.get(&url)).await;
    assert_error(&missing, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_error(
        &send(client.get(&url).bearer_auth("wrong")).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    // Checked before the query: a caller without the token learns nothing from it.
    assert_error(
        &send(client.get(format!("{}/api/history?since=x", hub.url))).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    for _ in 0..2 {
        assert_eq!(send(client.get(&url).bearer_auth(TOKEN)).await.0, StatusCode::OK);
    }
    let refused = client.get(&url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_on_a_hub_that_keeps_none_is_not_found_and_says_which_setting() {
    let hub = TestHub::start_with(|config| config.history_size = 0).await;
    let mut subscriber = TestClient::connect(&hub.url).await;
    let ack = post(&hub, "/api/publish", &json!({"event": "e", "data": 1})).await;
    assert_eq!(ack.1, json!({"ok": true, "delivered": 1}), "nothing recorded");
    subscriber.expect_published("e").await;
    let answer = history(&hub, "room=lobby").await;
    assert_error(&answer, StatusCode::NOT_FOUND, "not_found");
    assert!(answer.1["message"].as_str().unwrap().contains("--history-size"), "{}", answer.1);
    subscriber.expect_no_event("e", QUIET).await;
}
