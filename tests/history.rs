//! History and recovery on one hub, against the real binary: a subscriber whose connection is cut gets
//! every event it missed, once, in order, exactly as it would have received it live; what the hub no
//! longer keeps (beyond `--history-size`, past `--history-ttl`, before a restart) is never replayed in
//! part; volatile events are not recorded; the namespace's stream recovers at CONNECT; malformed
//! options are refused. (Under load: `history_load.rs`.)

use std::time::{Duration, Instant};

use e2e::binaries::HubProcess;
use e2e::history::{Received, Subscriber, epoch_of, meta, position_of, since, start_hub};
use e2e::hub::TOKEN;
use e2e::{TestClient, WAIT};
use hub_protocol::StreamPosition;
use serde_json::{Value, json};

/// `POST /api/publish` with the token; returns the JSON answer.
async fn api_publish(hub: &HubProcess, body: &Value) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{}/api/publish", hub.url))
        .bearer_auth(TOKEN)
        .json(body)
        .send()
        .await
        .expect("the hub answers");
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.expect("a JSON body")
}

/// Waits until the hub counts `members` sockets in `room` (asked by `member`, who is in it): a cut
/// connection has been noticed.
async fn wait_for_members(member: &TestClient, room: &str, members: u64) {
    let deadline = Instant::now() + WAIT;
    while member.join(room).await["members"] != members {
        assert!(Instant::now() < deadline, "{members} members in {room} within {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The stream an event was received through, and its offset there: a chat message's room, or the
/// room (or none, for the namespace) in a published event's metadata.
fn stream_of((name, arguments): &Received) -> (Option<String>, u64) {
    let position = match name.as_str() {
        "chat" => &arguments[0],
        _ => arguments.last().expect("metadata"),
    };
    let offset = position["offset"].as_u64().unwrap_or_else(|| panic!("an offset in `{name}` {arguments:?}"));
    (position["room"].as_str().map(str::to_owned), offset)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_subscriber_recovers_every_missed_event_once_in_order_as_sent_live() {
    let hub = start_hub(&["--history-size", "300", "--rate-limit", "1000", "--rate-burst", "1000"]).await;
    // The witness stays connected: what it receives live, the subscriber must receive again.
    let mut witness = Subscriber::connect(hub.port, &json!({"meta": true})).await.unwrap();
    let mut subscriber = Subscriber::connect(hub.port, &json!({"meta": true, "history": 0})).await.unwrap();
    let (replayed, recovery) = subscriber.events_until("recovery").await;
    let namespace_epoch = epoch_of(&recovery[0]);
    assert_eq!(
        (replayed, recovery),
        (vec![], vec![json!({"offset": 0, "epoch": namespace_epoch, "missed": 0})])
    );

    let (_, joined) = witness.request("join", &[json!("lobby")]).await;
    let epoch = epoch_of(&joined);
    let (_, joined) = subscriber.request("join", &[json!("lobby")]).await;
    assert_eq!(joined, json!({"ok": true, "room": "lobby", "members": 2, "offset": 0, "epoch": epoch}));
    let room_seen = position_of(&joined);
    let chatter = TestClient::connect_with(&hub.url, "/", json!({"user": "chatter"})).await.unwrap();
    chatter.join("lobby").await;
    let publisher = TestClient::publisher(&hub.url).await;

    // Three namespace events reach both live.
    for n in 0..3 {
        publisher.emit("tick", vec![json!(n)]).await;
    }
    let live = subscriber.events(3).await;
    assert_eq!(live, witness.events(3).await);
    assert_eq!(live[2], ("tick".to_owned(), vec![json!(2), meta(None, 3, &namespace_epoch)]));
    let namespace_seen = position_of(&live[2].1[1]);

    subscriber.cut();
    wait_for_members(&chatter, "lobby", 2).await;

    // 100 chat messages and 100 publishes into the room (by socket and by the HTTP API), and 29 events
    // to the whole namespace (direct emits, socket and API publishes) among them.
    let mut namespace_events = 0;
    for n in 0..200 {
        match n % 4 {
            0 | 2 => {
                let ack =
                    chatter.request("chat", json!({"room": "lobby", "text": format!("chat {n}")})).await;
                assert_eq!(ack["ok"], true, "{ack}");
            }
            1 => {
                let request = json!({"event": "news", "data": {"n": n}, "rooms": ["lobby"]});
                assert_eq!(publisher.request("publish", request).await["ok"], true);
            }
            _ => {
                let answer =
                    api_publish(&hub, &json!({"event": "news", "data": {"n": n}, "rooms": ["lobby"]})).await;
                assert_eq!(answer["recorded"][0]["offset"], n + 1);
            }
        }
        if n % 7 == 0 {
            match namespace_events % 3 {
                0 => publisher.emit("tick", vec![json!(n), json!("two arguments")]).await,
                1 => assert_eq!(
                    publisher.request("publish", json!({"event": "all", "data": n})).await["ok"],
                    true
                ),
                _ => assert_eq!(api_publish(&hub, &json!({"event": "all", "data": [n]})).await["ok"], true),
            }
            namespace_events += 1;
        }
    }
    assert_eq!(namespace_events, 29);
    let (live_in_room, live_in_namespace): (Vec<Received>, Vec<Received>) =
        witness.events(229).await.into_iter().partition(|event| stream_of(event).0.is_some());
    let offsets = |events: &[Received]| events.iter().map(|event| stream_of(event).1).collect::<Vec<_>>();
    assert_eq!(offsets(&live_in_room), (1..=200).collect::<Vec<_>>());
    assert_eq!(offsets(&live_in_namespace), (4..=32).collect::<Vec<_>>());

    // Back: the namespace's events at CONNECT, then `recovery`; the room's at `join`, then its ack.
    let auth = json!({"meta": true, "since": namespace_seen});
    let mut subscriber = Subscriber::connect(hub.port, &auth).await.unwrap();
    let (replayed, recovery) = subscriber.events_until("recovery").await;
    assert_eq!(replayed, live_in_namespace, "every namespace event, as it was sent live");
    let recovered = json!({"offset": 32, "epoch": namespace_epoch, "recovered": true, "missed": 29});
    assert_eq!(recovery, [recovered]);
    let (replayed, ack) = subscriber.request("join", &[json!("lobby"), since(&room_seen)]).await;
    assert_eq!(replayed.len(), 200);
    assert_eq!(replayed, live_in_room, "every room event, as it was sent live");
    let recovered = json!({"ok": true, "room": "lobby", "members": 3, "offset": 200, "epoch": epoch,
                           "recovered": true, "missed": 200});
    assert_eq!(ack, recovered);

    // Live again, where the replay ended.
    let request = json!({"event": "news", "data": "live", "rooms": ["lobby"]});
    assert_eq!(publisher.request("publish", request).await["recorded"][0]["offset"], 201);
    let news = ("news".to_owned(), vec![json!("live"), meta(Some("lobby"), 201, &epoch)]);
    assert_eq!(subscriber.events(1).await, [news]);
    let ack = chatter.request("chat", json!({"room": "lobby", "text": "welcome back"})).await;
    let (name, message) = subscriber.events(1).await.remove(0);
    assert_eq!((name.as_str(), &message[0]["offset"], &message[0]["ts"]), ("chat", &json!(202), &ack["ts"]));
    publisher.emit("tick", vec![json!("after")]).await;
    let tick = ("tick".to_owned(), vec![json!("after"), meta(None, 33, &namespace_epoch)]);
    assert_eq!(subscriber.events(1).await, [tick]);
    subscriber.expect_silence().await;
}

/// Publishes `count` events numbered from `first` into `room`; returns the last ack.
async fn publish_into(publisher: &TestClient, room: &str, first: u64, count: u64) -> Value {
    let mut ack = Value::Null;
    for n in first..first + count {
        let request = json!({"event": "news", "data": n, "rooms": [room]});
        ack = publisher.request("publish", request).await;
        assert_eq!(ack["ok"], true, "{ack}");
    }
    ack
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_history_size_nothing_is_replayed_and_history_gives_the_last_kept() {
    let hub = start_hub(&["--history-size", "5"]).await;
    let publisher = TestClient::publisher(&hub.url).await;
    let mut subscriber = Subscriber::connect(hub.port, &json!({"meta": true})).await.unwrap();
    let (_, joined) = subscriber.request("join", &[json!("lobby")]).await;
    let epoch = epoch_of(&joined);
    let at = |offset: u64| StreamPosition { offset, epoch: epoch.clone() };
    publish_into(&publisher, "lobby", 1, 8).await;
    assert_eq!(subscriber.events(8).await.len(), 8);
    let replayed = |n: u64| ("news".to_owned(), vec![json!(n), meta(Some("lobby"), n, &epoch)]);

    let ack = |extra: Value| {
        let mut ack = json!({"ok": true, "room": "lobby", "members": 1, "offset": 8, "epoch": epoch});
        ack.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        ack
    };
    // Events 4 to 8 are kept: a client that has 3 misses nothing that is gone.
    let (events, answer) = subscriber.request("join", &[json!("lobby"), since(&at(3))]).await;
    assert_eq!(
        (events, answer),
        ((4..=8).map(replayed).collect(), ack(json!({"recovered": true, "missed": 5})))
    );
    // Event 3 is gone: nothing at all, not the part that is kept.
    for gone in [0, 2] {
        let (events, answer) = subscriber.request("join", &[json!("lobby"), since(&at(gone))]).await;
        assert_eq!((events, answer), (vec![], ack(json!({"recovered": false, "missed": 0}))), "since {gone}");
    }
    // `history: K`: the last min(K, kept).
    for (k, first) in [(0u64, 9), (3, 6), (5, 4), (50, 4), (1_000_000_000_000, 4)] {
        let (events, answer) = subscriber.request("join", &[json!("lobby"), json!({"history": k})]).await;
        let missed = 9 - first;
        assert_eq!(
            (events, answer),
            ((first..=8).map(replayed).collect(), ack(json!({"missed": missed}))),
            "{k}"
        );
    }
    // Both: `since` if it can be recovered, else the last `history` events, and `recovered: false`.
    let options = json!({"since": at(0), "history": 2});
    let (events, answer) = subscriber.request("join", &[json!("lobby"), options]).await;
    assert_eq!(
        (events, answer),
        ((7..=8).map(replayed).collect(), ack(json!({"recovered": false, "missed": 2})))
    );
    let options = json!({"since": at(6), "history": 1});
    let (events, answer) = subscriber.request("join", &[json!("lobby"), options]).await;
    assert_eq!(
        (events, answer),
        ((7..=8).map(replayed).collect(), ack(json!({"recovered": true, "missed": 2})))
    );
    subscriber.expect_silence().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_ttl_nothing_is_replayed_and_an_expired_stream_gets_a_new_epoch() {
    let ttl = Duration::from_secs(1);
    let hub = start_hub(&["--history-ttl", "1s"]).await;
    let publisher = TestClient::publisher(&hub.url).await;
    let mut subscriber = Subscriber::connect(hub.port, &json!({"meta": true})).await.unwrap();
    let (_, joined) = subscriber.request("join", &[json!("lobby")]).await;
    let epoch = epoch_of(&joined);
    let published = Instant::now();
    publish_into(&publisher, "lobby", 1, 2).await;
    assert_eq!(subscriber.events(2).await.len(), 2);

    // Once the events are older than the TTL, a client that missed them recovers nothing; one that
    // has them all is up to date.
    let deadline = Instant::now() + 4 * ttl;
    let answer = loop {
        let options = since(&StreamPosition { offset: 0, epoch: epoch.clone() });
        let (events, ack) = subscriber.request("join", &[json!("lobby"), options]).await;
        if events.is_empty() {
            break ack;
        }
        assert!(Instant::now() < deadline, "the events expire within {:?}", 4 * ttl);
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(published.elapsed() >= ttl, "expired after {:?}", published.elapsed());
    let gone = json!({"ok": true, "room": "lobby", "members": 1, "offset": 2, "epoch": epoch,
                      "recovered": false, "missed": 0});
    assert_eq!(answer, gone);
    let up_to_date = since(&StreamPosition { offset: 2, epoch: epoch.clone() });
    let (events, answer) = subscriber.request("join", &[json!("lobby"), up_to_date]).await;
    assert_eq!((events.len(), &answer["recovered"], &answer["missed"]), (0, &json!(true), &json!(0)));

    // Idle for the TTL, the stream itself goes: its next event starts a new epoch at offset 1.
    let deadline = Instant::now() + 4 * ttl;
    let current = loop {
        let (_, ack) = subscriber.request("join", &[json!("lobby"), json!({"history": 1})]).await;
        if ack["epoch"] != json!(epoch) {
            break ack;
        }
        assert!(Instant::now() < deadline, "the idle stream expires within {:?}", 4 * ttl);
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(current["offset"], 0);
    let ack = publish_into(&publisher, "lobby", 3, 1).await;
    assert_eq!(ack["recorded"], json!([{"room": "lobby", "offset": 1, "epoch": current["epoch"]}]));
    let (_, live) = subscriber.events(1).await.remove(0);
    assert_eq!(live[1], meta(Some("lobby"), 1, current["epoch"].as_str().unwrap()));
    let old = since(&StreamPosition { offset: 2, epoch: epoch.clone() });
    let (events, answer) = subscriber.request("join", &[json!("lobby"), old]).await;
    assert_eq!((events.len(), &answer["recovered"], &answer["offset"]), (0, &json!(false), &json!(1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_hub_has_new_epochs_and_recovers_nothing() {
    let hub = start_hub(&[]).await;
    let port = hub.port.to_string();
    let publisher = TestClient::publisher(&hub.url).await;
    let subscriber = Subscriber::connect(hub.port, &json!({"meta": true, "history": 0})).await.unwrap();
    let mut subscriber = subscriber;
    let (_, recovery) = subscriber.events_until("recovery").await;
    let namespace_epoch = epoch_of(&recovery[0]);
    let (_, joined) = subscriber.request("join", &[json!("lobby")]).await;
    let epoch = epoch_of(&joined);
    publish_into(&publisher, "lobby", 1, 3).await;
    assert_eq!(publisher.request("publish", json!({"event": "all", "data": 1})).await["ok"], true);
    assert_eq!(subscriber.events(4).await.len(), 4);
    subscriber.cut();
    publisher.disconnect().await;
    hub.kill().await;

    let hub =
        HubProcess::start(&["--bind", &format!("127.0.0.1:{port}"), "--publish-token", TOKEN], &[]).await;
    let auth = json!({"meta": true, "since": {"offset": 1, "epoch": namespace_epoch}});
    let mut subscriber = Subscriber::connect(hub.port, &auth).await.unwrap();
    let (replayed, recovery) = subscriber.events_until("recovery").await;
    assert!(replayed.is_empty(), "{replayed:?}");
    assert_ne!(epoch_of(&recovery[0]), namespace_epoch);
    assert_eq!((&recovery[0]["offset"], &recovery[0]["recovered"]), (&json!(0), &json!(false)));
    let options = since(&StreamPosition { offset: 3, epoch: epoch.clone() });
    let (replayed, ack) = subscriber.request("join", &[json!("lobby"), options]).await;
    assert!(replayed.is_empty(), "{replayed:?}");
    assert_ne!(epoch_of(&ack), epoch, "a restart loses the in-memory history: a new epoch");
    assert_eq!((&ack["offset"], &ack["recovered"], &ack["missed"]), (&json!(0), &json!(false), &json!(0)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volatile_events_are_delivered_and_not_recorded() {
    let hub = start_hub(&[]).await;
    let publisher = TestClient::publisher(&hub.url).await;
    let mut subscriber = Subscriber::connect(hub.port, &json!({"meta": true})).await.unwrap();
    let (_, joined) = subscriber.request("join", &[json!("lobby")]).await;
    let epoch = epoch_of(&joined);

    let volatile = json!({"event": "typing", "data": 1, "rooms": ["lobby"], "history": false});
    assert_eq!(publisher.request("publish", volatile).await, json!({"ok": true, "delivered": 1}));
    let volatile = json!({"event": "typing", "data": 2, "rooms": ["lobby"], "history": false});
    assert_eq!(api_publish(&hub, &volatile).await, json!({"ok": true, "delivered": 1}));
    let volatile = json!({"event": "status", "data": 3, "history": false});
    assert_eq!(api_publish(&hub, &volatile).await, json!({"ok": true, "delivered": 2}), "and the publisher");
    let no_position = |n: u64, room: Option<&str>| {
        let mut meta = json!({"namespace": "/", "room": room});
        meta.as_object_mut().unwrap().retain(|_, value| !value.is_null());
        vec![json!(n), meta]
    };
    let expected = vec![
        ("typing".to_owned(), no_position(1, Some("lobby"))),
        ("typing".to_owned(), no_position(2, Some("lobby"))),
        ("status".to_owned(), no_position(3, None)),
    ];
    assert_eq!(subscriber.events(3).await, expected, "delivered, without a position");

    let ack = publish_into(&publisher, "lobby", 4, 1).await;
    assert_eq!(
        ack["recorded"],
        json!([{"room": "lobby", "offset": 1, "epoch": epoch}]),
        "volatile took no offset"
    );
    subscriber.events(1).await;
    let from_start = since(&StreamPosition { offset: 0, epoch: epoch.clone() });
    let (replayed, ack) = subscriber.request("join", &[json!("lobby"), from_start]).await;
    let recorded = ("news".to_owned(), vec![json!(4), meta(Some("lobby"), 1, &epoch)]);
    assert_eq!(replayed, [recorded], "only the recorded event");
    assert_eq!((&ack["recovered"], &ack["missed"]), (&json!(true), &json!(1)));
    let (replayed, recovery) = Subscriber::connect(hub.port, &json!({"meta": true, "history": 10}))
        .await
        .unwrap()
        .events_until("recovery")
        .await;
    assert_eq!((replayed, &recovery[0]["offset"]), (vec![], &json!(0)), "the namespace recorded nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_live_namespace_event_overtakes_the_replay_at_connect() {
    const EVENTS: u64 = 1_000;
    const SUBSCRIBERS: u64 = 8;
    let hub = start_hub(&["--history-size", "2000"]).await;
    let mut probe = Subscriber::connect(hub.port, &json!({"history": 0})).await.unwrap();
    let epoch = epoch_of(&probe.events_until("recovery").await.1[0]);
    probe.cut();
    let publisher = TestClient::publisher(&hub.url).await;
    let (published_tx, published) = tokio::sync::watch::channel(0u64);
    let publishing = tokio::spawn(async move {
        for n in 1..=EVENTS {
            let ack = publisher.request("publish", json!({"event": "seq", "data": n})).await;
            assert_eq!(ack["recorded"][0]["offset"], n, "{ack}");
            published_tx.send_replace(n);
        }
    });

    // Subscribers connect while events keep coming, each from a point behind the publisher; half of
    // them take events as published (their data is the offset), half with their metadata.
    let subscribers = (1..=SUBSCRIBERS).map(|i| {
        let (mut published, epoch, port) = (published.clone(), epoch.clone(), hub.port);
        tokio::spawn(async move {
            let with_meta = i % 2 == 0;
            let start = i * EVENTS / (SUBSCRIBERS + 2);
            published.wait_for(|&n| n >= start).await.expect("the publisher runs");
            let seen = start / 2;
            let auth = json!({"meta": with_meta, "since": {"offset": seen, "epoch": epoch}});
            let mut subscriber = Subscriber::connect(port, &auth).await.unwrap();
            let (replayed, recovery) = subscriber.events_until("recovery").await;
            let last = recovery[0]["offset"].as_u64().expect("an offset");
            assert_eq!(
                (&recovery[0]["recovered"], recovery[0]["missed"].as_u64()),
                (&json!(true), Some(last - seen))
            );
            let live = subscriber.events((EVENTS - last) as usize).await;
            for (n, (name, arguments)) in (seen + 1..=EVENTS).zip(replayed.iter().chain(&live)) {
                assert_eq!((name.as_str(), &arguments[0]), ("seq", &json!(n)), "subscriber {i}");
                if with_meta {
                    assert_eq!(arguments[1], meta(None, n, &epoch));
                }
            }
            subscriber.expect_silence().await;
        })
    });
    let subscribers: Vec<_> = subscribers.collect();
    publishing.await.expect("the publisher is done");
    for subscriber in subscribers {
        subscriber.await.expect("the subscriber got every event once, in order");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_join_options_are_bad_requests_and_the_hub_keeps_serving() {
    let hub = start_hub(&[]).await;
    let client = TestClient::connect_meta(&hub.url).await;
    let epoch = epoch_of(&client.join("lobby").await);
    let position = |offset: Value| json!({"since": {"offset": offset, "epoch": epoch}});
    for options in [
        position(json!(-1)),
        position(json!(1.5)),
        position(json!("3")),
        position(json!(null)),
        position(json!(1e20)),
        json!({"since": {"offset": 1}}),
        json!({"since": {"epoch": epoch}}),
        json!({"since": {"offset": 1, "epoch": 7}}),
        json!({"since": {"offset": 1, "epoch": epoch, "limit": 10}}),
        json!({"since": "1"}),
        json!({"since": 1}),
        json!({"history": -1}),
        json!({"history": 1.5}),
        json!({"history": "10"}),
        json!({"history": 1e30}),
        json!({"history": true}),
        json!({"sinse": {"offset": 1, "epoch": epoch}}),
        json!({"history": 1, "limit": 10}),
        json!("since"),
        json!(5),
    ] {
        let ack = client.ack("join", vec![json!("room"), options.clone()]).await;
        assert_eq!(
            (&ack[0]["ok"], &ack[0]["error"]),
            (&json!(false), &json!("bad_request")),
            "{options}: {ack:?}"
        );
        let message = ack[0]["message"].as_str().unwrap_or_default();
        assert!(message.contains(r#"{"since": {"offset": N, "epoch": E}}"#), "says what to send: {message}");
    }
    let ack = client.ack("join", vec![json!("room"), json!({}), json!("third")]).await;
    assert_eq!(ack[0]["error"], "bad_request", "{ack:?}");
    // An offset the hub never gave out is no error: it is not recovered.
    let (_, ack) = Subscriber::connect(hub.port, &json!({}))
        .await
        .unwrap()
        .request("join", &[json!("lobby"), position(json!(u64::MAX))])
        .await;
    assert_eq!((&ack["ok"], &ack["recovered"], &ack["missed"]), (&json!(true), &json!(false), &json!(0)));

    // The hub keeps serving this client and everyone else.
    assert_eq!(client.request("join", json!("room")).await["ok"], true, "the bad requests joined nothing");
    let mut other = TestClient::connect_meta(&hub.url).await;
    other.join("lobby").await;
    let publisher = TestClient::publisher(&hub.url).await;
    publish_into(&publisher, "lobby", 1, 1).await;
    assert_eq!(other.expect_published("news").await.meta().offset, Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_recovery_in_the_connect_auth_is_refused_with_what_to_send() {
    let hub = start_hub(&[]).await;
    for auth in [
        json!({"since": {"offset": -1, "epoch": "e"}}),
        json!({"since": {"offset": 1}}),
        json!({"since": {"offset": 1, "epoch": "e", "limit": 10}}),
        json!({"since": "1"}),
        json!({"history": "10"}),
        json!({"history": -1}),
    ] {
        let message = TestClient::connect_error(&hub.url, "/", auth.clone()).await;
        assert!(message.contains("since"), "{auth}: {message}");
    }
    let mut client =
        Subscriber::connect(hub.port, &json!({"since": {"offset": 0, "epoch": "unknown"}})).await.unwrap();
    let (_, recovery) = client.events_until("recovery").await;
    assert_eq!((&recovery[0]["recovered"], &recovery[0]["missed"]), (&json!(false), &json!(0)));
}
