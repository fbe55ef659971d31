//! The wire contract, event by event, against the real hub with rust_socketio clients.

use e2e::history::epoch_of;
use e2e::{TestClient, TestHub};
use hub_protocol::{ChatMessage, ErrorCode};
use serde_json::{Value, json};

fn assert_error(ack: &Value, code: ErrorCode) {
    assert_eq!(ack["ok"], false, "{ack}");
    assert_eq!(ack["error"], code.as_str(), "{ack}");
    assert!(ack["message"].as_str().is_some_and(|m| !m.is_empty()), "{ack} explains itself");
    assert_eq!(ack.as_object().unwrap().len(), 3, "{ack} has exactly ok, error and message");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_and_leave_report_room_sizes() {
    let hub = TestHub::start().await;
    let (a, b) = (TestClient::connect(&hub.url).await, TestClient::connect(&hub.url).await);

    // A join also says where the room's stream stands: offset 0 while it has no event.
    let ack = a.request("join", json!("lobby")).await;
    let epoch = epoch_of(&ack);
    let joined = |members: usize| json!({"ok": true, "room": "lobby", "members": members, "offset": 0, "epoch": epoch});
    assert_eq!(ack, joined(1));
    assert_eq!(b.request("join", json!("lobby")).await, joined(2), "one stream per room");
    assert_eq!(a.request("join", json!("lobby")).await["members"], 2, "joining twice counts once");
    assert_eq!(a.request("leave", json!("lobby")).await, json!({"ok": true, "room": "lobby", "members": 1}));
    assert_eq!(b.request("leave", json!("lobby")).await, json!({"ok": true, "room": "lobby", "members": 0}));
    assert_eq!(b.request("leave", json!("never-joined")).await["members"], 0);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_hear_of_joins_leaves_and_disconnects_coalesced() {
    let hub = TestHub::start().await;
    let mut watcher = TestClient::connect(&hub.url).await;
    let mut outsider = TestClient::connect(&hub.url).await;
    watcher.join("lobby").await;
    outsider.join("elsewhere").await;
    assert_eq!(watcher.expect_event("members").await, vec![json!({"room": "lobby", "members": 1})]);

    // Three joins at once arrive as one count. Connected first and joined together, so that they fall
    // into one 500 ms window even on a loaded machine; should one straggle into the next window, it
    // arrives as a second, higher count, never as one event per join.
    let mut others = Vec::new();
    for _ in 0..3 {
        others.push(TestClient::connect(&hub.url).await);
    }
    futures_util::future::join_all(others.iter().map(|other| other.join("lobby"))).await;
    let mut counts = Vec::new();
    while counts.last() != Some(&4) {
        counts.push(watcher.expect_event("members").await[0]["members"].as_u64().unwrap());
    }
    assert!(counts.len() <= 2 && counts.is_sorted(), "coalesced counts: {counts:?}");
    watcher.expect_no_event("members", std::time::Duration::from_millis(800)).await;

    others.pop().unwrap().request("leave", json!("lobby")).await;
    assert_eq!(watcher.expect_event("members").await, vec![json!({"room": "lobby", "members": 3})]);
    others.pop().unwrap().disconnect().await;
    assert_eq!(watcher.expect_event("members").await, vec![json!({"room": "lobby", "members": 2})]);

    // Nothing about `lobby` reaches a socket outside it.
    assert_eq!(outsider.expect_event("members").await, vec![json!({"room": "elsewhere", "members": 1})]);
    outsider.expect_no_event("members", std::time::Duration::from_millis(800)).await;
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_room_names_are_bad_requests_and_keep_the_connection() {
    let hub = TestHub::start().await;
    let client = TestClient::connect(&hub.url).await;
    let too_long = "r".repeat(129);
    for bad in [
        json!(""),
        json!(too_long),
        json!("tab\there"),
        json!("bell\u{7}"),
        json!(42),
        json!(null),
        json!({"room": "x"}),
    ] {
        assert_error(&client.request("join", bad.clone()).await, ErrorCode::BadRequest);
        assert_error(&client.request("leave", bad).await, ErrorCode::BadRequest);
    }
    assert_error(&client.ack("join", vec![]).await[0], ErrorCode::BadRequest);
    let longest = "é".repeat(128);
    assert_eq!(client.request("join", json!(longest)).await["room"], longest, "128 characters is allowed");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_reaches_the_other_members_only() {
    let hub = TestHub::start().await;
    let alice = TestClient::connect_with(&hub.url, "/", json!({"user": "alice"})).await.unwrap();
    let mut bob = TestClient::connect_with(&hub.url, "/", json!({"user": "bob"})).await.unwrap();
    let mut carol = TestClient::connect(&hub.url).await;
    alice.join("lobby").await;
    bob.join("lobby").await;
    carol.join("elsewhere").await;

    let ack = alice.request("chat", json!({"room": "lobby", "text": "hello <b>bob</b>"})).await;
    assert_eq!(ack["ok"], true);
    let ts = ack["ts"].as_u64().expect("ts in milliseconds");
    let received = bob.expect_event("chat").await;
    let message: ChatMessage = serde_json::from_value(received[0].clone()).unwrap();
    assert_eq!(
        message,
        ChatMessage {
            room: "lobby".into(),
            text: "hello <b>bob</b>".into(),
            user: "alice".into(),
            ts,
            offset: Some(1),
            epoch: ack["epoch"].as_str().map(str::to_owned),
        }
    );
    assert_eq!(ack["offset"], 1, "the room's first recorded event");
    assert_eq!(received.len(), 1, "chat carries one argument");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    assert!(now.abs_diff(ts) < 60_000, "ts is the current time in ms");
    carol.expect_silence().await;

    // The sender does not get its own message back.
    let mut alice = alice;
    alice.expect_silence().await;
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_errors() {
    let hub = TestHub::start().await;
    let client = TestClient::connect(&hub.url).await;
    let mut other = TestClient::connect(&hub.url).await;
    other.join("lobby").await;

    assert_error(&client.request("chat", json!({"room": "lobby", "text": "hi"})).await, ErrorCode::NotInRoom);
    client.join("lobby").await;
    assert_error(&client.request("chat", json!({"room": "lobby", "text": ""})).await, ErrorCode::BadRequest);
    let long = "x".repeat(4097);
    assert_error(&client.request("chat", json!({"room": "lobby", "text": long})).await, ErrorCode::TooLarge);
    assert_error(&client.request("chat", json!({"room": "", "text": "hi"})).await, ErrorCode::BadRequest);
    assert_error(&client.request("chat", json!({"room": "lobby"})).await, ErrorCode::BadRequest);
    assert_error(&client.request("chat", json!("just text")).await, ErrorCode::BadRequest);
    other.expect_silence().await;

    let longest = "x".repeat(4096);
    assert_eq!(client.request("chat", json!({"room": "lobby", "text": longest})).await["ok"], true);
    assert_eq!(other.expect_event("chat").await[0]["text"].as_str().unwrap().len(), 4096);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_names_come_from_auth_or_are_anonymous() {
    let hub = TestHub::start().await;
    let anon = TestClient::connect(&hub.url).await;
    let mut named = TestClient::connect_with(&hub.url, "/", json!({"user": "Zoë"})).await.unwrap();
    anon.join("r").await;
    named.join("r").await;
    anon.request("chat", json!({"room": "r", "text": "hi"})).await;
    let user = named.expect_event("chat").await[0]["user"].as_str().unwrap().to_owned();
    assert!(user.starts_with("anon-") && user.len() > 5, "anonymous name: {user}");

    for bad in [json!({"user": ""}), json!({"user": "x".repeat(65)}), json!({"user": "a\nb"})] {
        let message = TestClient::connect_error(&hub.url, "/", bad).await;
        assert!(message.contains("user"), "{message}");
    }
    hub.stop().await;
}

/// Names that look like another name, or hide what they are: invisible, format, private-use and
/// unassigned characters, separators other than the space, and spaces at either end.
const DECEPTIVE_NAMES: [&str; 12] = [
    "al\u{202e}ice", // right-to-left override
    "alice\u{200b}", // zero width space
    "ali\u{200d}ce", // zero width joiner
    "\u{feff}alice", // byte order mark
    "alice\u{2066}", // left-to-right isolate
    "al\u{ad}ice",   // soft hyphen
    "alice\u{e000}", // private use
    "alice\u{378}",  // unassigned
    "ali\u{2028}ce", // line separator
    "\u{a0}",        // no-break space
    "alice\u{3000}", // ideographic space
    " alice",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invisible_and_format_characters_are_refused_in_user_and_room_names() {
    let hub = TestHub::start().await;
    for name in DECEPTIVE_NAMES.iter().copied().chain(["alice ", "\u{301}alice"]) {
        let message = TestClient::connect_error(&hub.url, "/", json!({"user": name})).await;
        assert!(message.starts_with("invalid user: user name"), "{name:?}: {message}");
    }
    let message = TestClient::connect_error(&hub.url, "/", json!({"user": "al\u{202e}ice"})).await;
    assert!(message.contains("U+202E") && message.contains("character 3"), "{message}");

    let client = TestClient::connect(&hub.url).await;
    for name in DECEPTIVE_NAMES.iter().copied().chain(["lobby ", "\u{301}lobby"]) {
        let ack = client.request("join", json!(name)).await;
        assert_error(&ack, ErrorCode::BadRequest);
        assert!(ack["message"].as_str().unwrap().starts_with("room name"), "{ack}");
    }
    // Names in any script stay welcome, with their combining marks, and inner spaces.
    for name in ["Zoë", "Zoe\u{308}", "नमस्ते", "مرحبا", "東京 タワー", "Ana María"] {
        let user = TestClient::connect_with(&hub.url, "/", json!({"user": name})).await;
        assert!(user.is_ok(), "{name:?}");
        assert_eq!(client.request("join", json!(name)).await["room"], name);
    }
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_text_refuses_bidi_overrides_and_isolates_but_keeps_marks() {
    let hub = TestHub::start().await;
    let alice = TestClient::connect_with(&hub.url, "/", json!({"user": "alice"})).await.unwrap();
    let mut bob = TestClient::connect(&hub.url).await;
    alice.join("lobby").await;
    bob.join("lobby").await;
    for control in ['\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}', '\u{2069}'] {
        let ack = alice.request("chat", json!({"room": "lobby", "text": format!("hi {control}there")})).await;
        assert_error(&ack, ErrorCode::BadRequest);
        assert!(ack["message"].as_str().unwrap().contains("character 4"), "{ack}");
    }
    bob.expect_silence().await;
    let text = "\u{5e9}\u{5dc}\u{5d5}\u{5dd}\u{200f} (shalom) \u{200e}ok\u{200b}";
    assert_eq!(alice.request("chat", json!({"room": "lobby", "text": text})).await["ok"], true);
    assert_eq!(bob.expect_event("chat").await[0]["text"], text, "marks and other format characters pass");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_acks_with_the_same_arguments() {
    let hub = TestHub::start().await;
    let client = TestClient::connect(&hub.url).await;
    let arguments = vec![json!(1), json!("two"), json!({"three": [3]}), json!(null), json!([4, 5])];
    assert_eq!(client.ack("echo", arguments.clone()).await, arguments);
    assert_eq!(client.ack("echo", vec![json!("only")]).await, vec![json!("only")]);
    assert_eq!(
        client.ack("echo", vec![json!([1, 2])]).await,
        vec![json!([1, 2])],
        "an array stays one argument"
    );
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_into_rooms_reaches_exactly_their_members() {
    let hub = TestHub::start().await;
    let publisher = TestClient::publisher(&hub.url).await;
    // `a` takes published events as they were published; `b` and `c` asked for their metadata too.
    let (mut a, mut b, mut c, mut outsider) = (
        TestClient::connect(&hub.url).await,
        TestClient::connect_meta(&hub.url).await,
        TestClient::connect_meta(&hub.url).await,
        TestClient::connect(&hub.url).await,
    );
    a.join("red").await;
    b.join("red").await;
    b.join("blue").await;
    c.join("blue").await;
    outsider.join("green").await;
    publisher.join("red").await; // the publisher itself never receives what it publishes

    // Each room's stream records the event: the ack lists where, the metadata names the receiver's room.
    let ack = publisher.request("publish", json!({"event": "foo", "data": {"n": 1}, "rooms": ["red"]})).await;
    let red_epoch = epoch_of(&ack["recorded"][0]);
    let at = |room: &str, offset: u64, epoch: &str| json!({"room": room, "offset": offset, "epoch": epoch});
    let meta = |room: &str, offset: u64, epoch: &str| json!({"namespace": "/", "room": room, "offset": offset, "epoch": epoch});
    assert_eq!(ack, json!({"ok": true, "delivered": 2, "recorded": [at("red", 1, &red_epoch)]}));
    assert_eq!(a.expect_event("foo").await, vec![json!({"n": 1})], "exactly the data");
    let red = meta("red", 1, &red_epoch);
    assert_eq!(b.expect_event("foo").await, vec![json!({"n": 1}), red], "data, then its metadata");

    // Several rooms: a socket in two of them receives the event once, routed by the first it is in, with
    // that room's offset; each room's stream records it.
    let ack =
        publisher.request("publish", json!({"event": "bar", "data": "x", "rooms": ["red", "blue"]})).await;
    let blue_epoch = epoch_of(&ack["recorded"][1]);
    assert_ne!(blue_epoch, red_epoch, "each stream has its own epoch");
    let recorded = json!([at("red", 2, &red_epoch), at("blue", 1, &blue_epoch)]);
    assert_eq!(ack, json!({"ok": true, "delivered": 3, "recorded": recorded}));
    assert_eq!(a.expect_event("bar").await, vec![json!("x")]);
    a.expect_silence().await;
    for (client, meta) in [(&mut b, meta("red", 2, &red_epoch)), (&mut c, meta("blue", 1, &blue_epoch))] {
        assert_eq!(client.expect_event("bar").await, vec![json!("x"), meta]);
        client.expect_silence().await;
    }
    outsider.expect_silence().await;

    // The same room twice is one room, recorded once.
    let ack =
        publisher.request("publish", json!({"event": "dup", "data": 2, "rooms": ["blue", "blue"]})).await;
    assert_eq!(ack, json!({"ok": true, "delivered": 2, "recorded": [at("blue", 2, &blue_epoch)]}));
    assert_eq!(c.expect_event("dup").await, vec![json!(2), meta("blue", 2, &blue_epoch)]);
    c.expect_silence().await;

    // A room without members records the event for those who join later.
    let ack = publisher.request("publish", json!({"event": "baz", "data": 1, "rooms": ["empty-room"]})).await;
    let empty_epoch = epoch_of(&ack["recorded"][0]);
    assert_eq!(ack, json!({"ok": true, "delivered": 0, "recorded": [at("empty-room", 1, &empty_epoch)]}));
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_without_rooms_reaches_the_whole_namespace() {
    let hub = TestHub::start().await;
    let mut publisher = TestClient::publisher(&hub.url).await;
    let mut in_room = TestClient::connect(&hub.url).await;
    let mut lonely = TestClient::connect_meta(&hub.url).await;
    let mut elsewhere = TestClient::connect_with(&hub.url, "/other", json!({})).await.unwrap();
    in_room.join("r").await;

    // The namespace's stream records them: positions without a room.
    let mut epoch = None;
    for (offset, request) in [
        (1, json!({"event": "news", "data": [1, 2]})),
        (2, json!({"event": "news", "data": [1, 2], "rooms": []})),
    ] {
        let ack = publisher.request("publish", request).await;
        let epoch = epoch.get_or_insert_with(|| epoch_of(&ack["recorded"][0]));
        let recorded = json!([{"offset": offset, "epoch": epoch}]);
        assert_eq!(ack, json!({"ok": true, "delivered": 2, "recorded": recorded}));
        assert_eq!(in_room.expect_event("news").await, vec![json!([1, 2])], "data is one argument");
        let with_meta = vec![json!([1, 2]), json!({"namespace": "/", "offset": offset, "epoch": epoch})];
        assert_eq!(lonely.expect_event("news").await, with_meta, "then the metadata, when asked for");
    }
    let epoch = epoch.expect("two publishes");
    // Absent data is null.
    let ack = publisher.request("publish", json!({"event": "ping"})).await;
    assert_eq!(ack, json!({"ok": true, "delivered": 2, "recorded": [{"offset": 3, "epoch": epoch}]}));
    assert_eq!(in_room.expect_event("ping").await, vec![json!(null)]);
    let meta = json!({"namespace": "/", "offset": 3, "epoch": epoch});
    assert_eq!(lonely.expect_event("ping").await, vec![json!(null), meta]);
    publisher.expect_silence().await;
    elsewhere.expect_silence().await;
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_publishers_may_publish() {
    let hub = TestHub::start().await;
    let mut subscriber = TestClient::connect(&hub.url).await;
    subscriber.join("r").await;
    let browser = TestClient::connect(&hub.url).await;

    let ack = browser.request("publish", json!({"event": "foo", "data": 1, "rooms": ["r"]})).await;
    assert_error(&ack, ErrorCode::Forbidden);
    let ack = browser.request("publish", json!("not even a request")).await;
    assert_error(&ack, ErrorCode::Forbidden);
    subscriber.expect_silence().await;
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_validates_event_names_rooms_and_shape() {
    let hub = TestHub::start().await;
    let publisher = TestClient::publisher(&hub.url).await;
    let mut subscriber = TestClient::connect(&hub.url).await;
    let reserved = hub_protocol::events::RESERVED;
    assert_eq!(reserved.len(), 17);
    for event in reserved {
        let ack = publisher.request("publish", json!({"event": event, "data": 1})).await;
        assert_error(&ack, ErrorCode::BadRequest);
    }
    let too_long = "e".repeat(65);
    for request in [
        json!({"event": "", "data": 1}),
        json!({"event": too_long, "data": 1}),
        json!({"event": "foo", "rooms": [""]}),
        json!({"event": "foo", "rooms": "lobby"}),
        json!({"event": "foo", "rooms": [17]}),
        json!({"data": 1}),
        json!("foo"),
        json!(17),
    ] {
        assert_error(&publisher.request("publish", request).await, ErrorCode::BadRequest);
    }
    let too_many: Vec<String> = (0..=hub_protocol::names::PUBLISH_MAX_ROOMS).map(|i| i.to_string()).collect();
    let ack = publisher.request("publish", json!({"event": "foo", "rooms": too_many})).await;
    assert_error(&ack, ErrorCode::TooLarge);
    subscriber.expect_silence().await;
    let longest = "e".repeat(64);
    assert_eq!(publisher.request("publish", json!({"event": longest, "data": 1})).await["delivered"], 1);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishers_emitting_other_events_broadcast_them_like_elephant_io() {
    let hub = TestHub::start().await;
    let mut publisher = TestClient::publisher(&hub.url).await;
    let (mut a, mut b) = (TestClient::connect(&hub.url).await, TestClient::connect(&hub.url).await);
    let mut other_ns = TestClient::connect_with(&hub.url, "/elsewhere", json!({})).await.unwrap();
    a.join("some-room").await;

    // With an ack: the same ack as `publish`, recorded in the namespace's stream.
    let ack = publisher.request("foo", json!("bar")).await;
    let recorded = json!([{"offset": 1, "epoch": epoch_of(&ack["recorded"][0])}]);
    assert_eq!(ack, json!({"ok": true, "delivered": 2, "recorded": recorded}));
    assert_eq!(a.expect_event("foo").await, vec![json!("bar")]);
    assert_eq!(b.expect_event("foo").await, vec![json!("bar")]);

    // Without an ack, as Elephant.io emits, and with several arguments kept as they are.
    publisher.emit("bar", vec![json!({"x": 1}), json!(2)]).await;
    assert_eq!(a.expect_event("bar").await, vec![json!({"x": 1}), json!(2)]);
    assert_eq!(b.expect_event("bar").await, vec![json!({"x": 1}), json!(2)]);

    publisher.expect_silence().await;
    other_ns.expect_silence().await;
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_events_from_non_publishers_are_forbidden_and_not_sent() {
    let hub = TestHub::start().await;
    let browser = TestClient::connect(&hub.url).await;
    let mut listener = TestClient::connect(&hub.url).await;
    assert_error(&browser.request("foo", json!("bar")).await, ErrorCode::Forbidden);
    browser.emit("foo", vec![json!("bar")]).await;
    listener.expect_silence().await;
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_request_never_closes_the_connection() {
    let hub = TestHub::start().await;
    let client = TestClient::connect(&hub.url).await;
    let publisher = TestClient::publisher(&hub.url).await;
    for (event, argument) in [
        ("join", json!({"nested": [1, 2, {"deep": true}]})),
        ("chat", json!([1, 2, 3])),
        ("publish", json!(null)),
        ("leave", json!(false)),
    ] {
        assert_eq!(client.request(event, argument.clone()).await["ok"], false);
        assert_eq!(publisher.request(event, argument).await["ok"], false);
    }
    assert_eq!(publisher.request("connect", json!(1)).await["error"], "bad_request", "reserved direct emit");
    assert_eq!(client.ack("echo", vec![json!("still here")]).await, vec![json!("still here")]);
    assert_eq!(publisher.ack("echo", vec![json!("me too")]).await, vec![json!("me too")]);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_token_decides_who_is_a_publisher() {
    let hub = TestHub::start().await;
    let mut subscriber = TestClient::connect(&hub.url).await;

    // Good token: a publisher.
    let good = TestClient::publisher(&hub.url).await;
    assert_eq!(good.request("publish", json!({"event": "e", "data": 1})).await["ok"], true);
    subscriber.expect_event("e").await;

    // Wrong token: refused at connect, with a message that says so.
    for wrong in
        [json!({"token": "nope"}), json!({"token": ""}), json!({"token": format!("{}x", e2e::hub::TOKEN)})]
    {
        assert_eq!(TestClient::connect_error(&hub.url, "/", wrong).await, "invalid publish token");
    }

    // Missing token: connected, but not a publisher.
    let missing = TestClient::connect_with(&hub.url, "/", json!({"user": "x"})).await.unwrap();
    assert_error(&missing.request("publish", json!({"event": "e", "data": 1})).await, ErrorCode::Forbidden);
    subscriber.expect_silence().await;

    // An auth payload that is not an object is refused clearly.
    let message = TestClient::connect_error(&hub.url, "/", json!("token")).await;
    assert!(message.contains("auth"), "{message}");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_namespaces_have_the_same_events_and_are_isolated() {
    let hub = TestHub::start().await;
    let orders = TestClient::connect_with(&hub.url, "/orders_2-b", json!({"user": "o"})).await.unwrap();
    let mut orders_peer =
        TestClient::connect_with(&hub.url, "/orders_2-b", json!({"meta": true})).await.unwrap();
    let mut root = TestClient::connect(&hub.url).await;
    let publisher =
        TestClient::connect_with(&hub.url, "/orders_2-b", json!({"token": e2e::hub::TOKEN})).await.unwrap();
    root.join("lobby").await;
    orders.join("lobby").await;
    assert_eq!(orders_peer.request("join", json!("lobby")).await["members"], 2, "rooms are per namespace");

    orders.request("chat", json!({"room": "lobby", "text": "hi"})).await;
    assert_eq!(orders_peer.expect_event("chat").await[0]["user"], "o");
    let ack = publisher.request("publish", json!({"event": "tick", "data": 1})).await;
    assert_eq!(ack["delivered"], 2);
    let meta = json!({"namespace": "/orders_2-b", "offset": 1, "epoch": epoch_of(&ack["recorded"][0])});
    assert_eq!(orders_peer.expect_event("tick").await, vec![json!(1), meta], "the namespace's own stream");
    assert_eq!(orders.ack("echo", vec![json!(1)]).await, vec![json!(1)]);
    root.expect_silence().await;

    let long = format!("/{}", "n".repeat(65));
    for bad in ["/bad.name", "/sp ace", long.as_str()] {
        let message = TestClient::connect_error(&hub.url, bad, json!({})).await;
        assert!(message.contains("namespace"), "{bad}: {message}");
    }
    hub.stop().await;
}
