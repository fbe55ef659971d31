//! History in a cluster: real `hub` processes sharing their streams through one real `redis-server`.

use std::time::{Duration, Instant};

use e2e::binaries::HubProcess;
use e2e::hub::TOKEN;
use e2e::redis::RedisServer;
use e2e::{TestClient, WAIT};
use futures_util::future::join_all;
use hub_protocol::ChatMessage;
use serde_json::{Value, json};

use crate::cluster::{api_publish, readiness};

/// Starts `n` hubs on free ports, joined through `redis`, with `extra` settings.
async fn cluster(redis: &RedisServer, n: usize, extra: &[&str]) -> Vec<HubProcess> {
    let url = redis.url();
    let mut hubs = Vec::new();
    for _ in 0..n {
        let mut args = vec!["--bind", "127.0.0.1:0", "--publish-token", TOKEN, "--redis-url", &url];
        args.extend(extra);
        hubs.push(HubProcess::start(&args, &[]).await);
    }
    hubs
}

/// `join` `[room, options]`: the ack.
async fn join_with(client: &TestClient, room: &str, options: Value) -> Value {
    let mut ack = client.ack("join", vec![json!(room), options]).await;
    assert_eq!(ack.len(), 1, "one ack object: {ack:?}");
    ack.remove(0)
}

fn since(offset: u64, epoch: &str) -> Value {
    json!({"since": {"offset": offset, "epoch": epoch}})
}

fn epoch_of(position: &Value) -> String {
    position["epoch"].as_str().unwrap_or_else(|| panic!("an epoch in {position}")).to_owned()
}

/// What a test sent into a stream, in offset order.
#[derive(Debug, Clone)]
enum Sent {
    /// A published event with its data.
    Published(&'static str, Value),
    /// A chat message's text.
    Chat(String),
}

/// Waits for `sent`, in order, each recorded at the next offset from `first` in `epoch`, as a client
/// that asked for metadata receives them.
async fn expect_in_order(client: &mut TestClient, sent: &[Sent], first: u64, epoch: &str) {
    for (offset, sent) in (first..).zip(sent) {
        match sent {
            Sent::Published(event, data) => {
                let published = client.expect_published(event).await;
                assert_eq!(&published.data, data, "offset {offset}");
                let meta = published.meta();
                assert_eq!((meta.offset, meta.epoch.as_deref()), (Some(offset), Some(epoch)), "{sent:?}");
            }
            Sent::Chat(text) => {
                let message = client.expect_event("chat").await;
                let message: ChatMessage = serde_json::from_value(message[0].clone()).unwrap();
                assert_eq!(&message.text, text, "offset {offset}");
                assert_eq!((message.offset, message.epoch.as_deref()), (Some(offset), Some(epoch)));
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_left_one_hub_recovers_on_another_every_event_once_and_in_order() {
    let redis = RedisServer::start().await;
    let hubs = cluster(&redis, 3, &[]).await;
    let (a, b, c) = (&hubs[0], &hubs[1], &hubs[2]);
    let mut subscriber = TestClient::connect_meta(&a.url).await;
    let ack = subscriber.join("lobby").await;
    let epoch = epoch_of(&ack);
    assert_eq!(ack["offset"], 0, "a stream nothing was recorded in: {ack}");
    let publisher = TestClient::publisher(&b.url).await;
    let mut chatter = TestClient::connect_with(&b.url, "/", json!({"user": "bob"})).await.unwrap();
    assert_eq!(epoch_of(&chatter.join("lobby").await), epoch, "every hub names the stream's epoch");

    let ack = publisher.request("publish", json!({"event": "news", "data": 0, "rooms": ["lobby"]})).await;
    assert_eq!(ack["recorded"], json!([{"room": "lobby", "offset": 1, "epoch": epoch}]));
    expect_in_order(&mut subscriber, &[Sent::Published("news", json!(0))], 1, &epoch).await;
    subscriber.disconnect().await;

    // While it is away: the socket publisher on B, the HTTP API of C, and chats on B.
    let mut missed = Vec::new();
    for n in 1..=5 {
        let ack = publisher.request("publish", json!({"event": "news", "data": n, "rooms": ["lobby"]})).await;
        assert_eq!(ack["recorded"][0]["offset"], missed.len() + 2);
        missed.push(Sent::Published("news", json!(n)));
        let ack = api_publish(c, json!({"event": "api", "data": {"n": n}, "rooms": ["lobby"]})).await;
        assert_eq!(ack["recorded"][0]["offset"], missed.len() + 2);
        missed.push(Sent::Published("api", json!({"n": n})));
        let ack = chatter.request("chat", json!({"room": "lobby", "text": format!("m{n}")})).await;
        assert_eq!(
            (ack["offset"].as_u64(), ack["epoch"].as_str()),
            (Some(missed.len() as u64 + 2), Some(&*epoch))
        );
        missed.push(Sent::Chat(format!("m{n}")));
    }

    let mut back = TestClient::connect_meta(&c.url).await;
    let ack = join_with(&back, "lobby", since(1, &epoch)).await;
    let last = missed.len() + 1;
    assert_eq!(
        ack,
        json!({"ok": true, "room": "lobby", "members": 2, "recovered": true, "missed": missed.len(),
               "offset": last, "epoch": epoch})
    );
    expect_in_order(&mut back, &missed, 2, &epoch).await;

    // Live again: the next event, once.
    publisher.request("publish", json!({"event": "news", "data": "live", "rooms": ["lobby"]})).await;
    expect_in_order(&mut back, &[Sent::Published("news", json!("live"))], last as u64 + 1, &epoch).await;
    back.expect_silence().await;

    // The member who stayed got every event live, but its own messages.
    let first = Sent::Published("news", json!(0));
    let live = Sent::Published("news", json!("live"));
    for sent in [&first].into_iter().chain(&missed).chain([&live]) {
        if let Sent::Published(event, data) = sent {
            assert_eq!(&chatter.expect_published(event).await.data, data);
        }
    }
    chatter.expect_silence().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_wide_events_are_recovered_at_connect_on_another_hub() {
    let redis = RedisServer::start().await;
    let hubs = cluster(&redis, 3, &[]).await;
    let (a, b, c) = (&hubs[0], &hubs[1], &hubs[2]);
    let mut subscriber = TestClient::connect_meta(&a.url).await;
    let publisher = TestClient::publisher(&b.url).await;
    let ack = publisher.request("publish", json!({"event": "all", "data": 0})).await;
    let epoch = epoch_of(&ack["recorded"][0]);
    expect_in_order(&mut subscriber, &[Sent::Published("all", json!(0))], 1, &epoch).await;
    subscriber.disconnect().await;

    publisher.request("publish", json!({"event": "all", "data": 1})).await;
    api_publish(c, json!({"event": "api", "data": 2})).await;
    publisher.request("direct", json!(3)).await;
    let missed = [
        Sent::Published("all", json!(1)),
        Sent::Published("api", json!(2)),
        Sent::Published("direct", json!(3)),
    ];

    let auth = json!({"meta": true, "since": {"offset": 1, "epoch": epoch}});
    let mut back = TestClient::connect_with(&c.url, "/", auth).await.unwrap();
    expect_in_order(&mut back, &missed, 2, &epoch).await;
    let recovery = back.expect_event("recovery").await;
    assert_eq!(recovery, [json!({"offset": 4, "epoch": epoch, "recovered": true, "missed": 3})]);
    publisher.request("publish", json!({"event": "all", "data": "live"})).await;
    expect_in_order(&mut back, &[Sent::Published("all", json!("live"))], 5, &epoch).await;
    back.expect_silence().await;
}

/// Events each of the two publishers sends.
const RACE_EVENTS: u64 = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hubs_publishing_into_one_room_at_once_reach_every_subscriber_in_offset_order() {
    let redis = RedisServer::start().await;
    let hubs = cluster(&redis, 3, &["--history-size", "1000"]).await;
    let mut subscribers = Vec::new();
    for hub in &hubs {
        subscribers.push(TestClient::connect_meta(&hub.url).await);
    }
    let acks = join_all(subscribers.iter().map(|s| s.join("race"))).await;
    let epoch = epoch_of(&acks[0]);
    let mut publishers =
        [TestClient::publisher(&hubs[0].url).await, TestClient::publisher(&hubs[1].url).await];
    for publisher in &publishers {
        publisher.join("race").await;
    }

    // Meanwhile sockets join on every hub, asking for everything from the start: each gets what was
    // recorded before its join from the replay, and the rest live, whatever was on its way.
    let late_joiners = async {
        let mut late = Vec::new();
        for n in 0..9 {
            tokio::time::sleep(Duration::from_millis(15)).await;
            let client = TestClient::connect_meta(&hubs[n % hubs.len()].url).await;
            let ack = join_with(&client, "race", since(0, &epoch)).await;
            assert_eq!((ack["recovered"].as_bool(), epoch_of(&ack)), (Some(true), epoch.clone()), "{ack}");
            late.push(client);
        }
        late
    };
    let publish = |p: usize| {
        let publisher = &publishers[p];
        async move {
            let mut offsets = Vec::new();
            for n in 0..RACE_EVENTS {
                let request = json!({"event": "tick", "data": [p, n], "rooms": ["race"]});
                let ack = publisher.request("publish", request).await;
                offsets.push(ack["recorded"][0]["offset"].as_u64().expect("an offset"));
            }
            offsets
        }
    };
    let (first, second, mut late) = tokio::join!(publish(0), publish(1), late_joiners);
    let mut recorded: Vec<u64> = first.into_iter().chain(second).collect();
    recorded.sort_unstable();
    let all: Vec<u64> = (1..=2 * RACE_EVENTS).collect();
    assert_eq!(recorded, all, "every event has an offset of its own");

    for (n, client) in subscribers.iter_mut().chain(late.iter_mut()).enumerate() {
        let mut offsets = Vec::new();
        let mut next = [0; 2];
        for _ in 0..2 * RACE_EVENTS {
            let published = client.expect_published("tick").await;
            let meta = published.meta();
            assert_eq!(meta.epoch.as_deref(), Some(&*epoch));
            offsets.push(meta.offset.expect("an offset"));
            // Each publisher's events in the order it sent them.
            let p = published.data[0].as_u64().unwrap() as usize;
            assert_eq!(published.data[1], next[p], "subscriber {n}");
            next[p] += 1;
        }
        assert_eq!(offsets, all, "subscriber {n}: every offset once, in order");
        client.expect_silence().await;
    }
    // A publisher in the room gets the other one's events, in order, and none of its own.
    for (p, publisher) in publishers.iter_mut().enumerate() {
        for n in 0..RACE_EVENTS {
            assert_eq!(publisher.expect_published("tick").await.data, json!([1 - p, n]));
        }
        publisher.expect_silence().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_for_several_rooms_reaches_each_member_once_and_volatile_events_are_not_kept() {
    let redis = RedisServer::start().await;
    let hubs = cluster(&redis, 2, &[]).await;
    // On the hub the publisher is not on: a member of both rooms, and one of the second only.
    let mut both = TestClient::connect_meta(&hubs[1].url).await;
    let a = both.join("a").await;
    let b = both.join("b").await;
    let mut second = TestClient::connect_meta(&hubs[1].url).await;
    second.join("b").await;
    let publisher = TestClient::publisher(&hubs[0].url).await;
    let ack = publisher.request("publish", json!({"event": "news", "data": 1, "rooms": ["a", "b"]})).await;
    let (epoch_a, epoch_b) = (epoch_of(&a), epoch_of(&b));
    let recorded =
        json!([{"room": "a", "offset": 1, "epoch": epoch_a}, {"room": "b", "offset": 1, "epoch": epoch_b}]);
    assert_eq!(ack, json!({"ok": true, "delivered": 2, "recorded": recorded}));
    let published = both.expect_published("news").await;
    assert_eq!(published.meta().room.as_deref(), Some("a"), "once, as a member of the first room");
    both.expect_silence().await;
    assert_eq!(second.expect_published("news").await.meta().room.as_deref(), Some("b"));

    let volatile = json!({"event": "tick", "data": 2, "rooms": ["b"], "history": false});
    let ack = publisher.request("publish", volatile).await;
    assert_eq!(ack, json!({"ok": true, "delivered": 2}), "nothing recorded");
    for client in [&mut both, &mut second] {
        let published = client.expect_published("tick").await;
        assert_eq!((published.meta().offset, published.meta().epoch.as_deref()), (None, None));
    }
    let ack = join_with(&second, "b", since(0, &epoch_b)).await;
    assert_eq!((ack["missed"].as_u64(), ack["offset"].as_u64()), (Some(1), Some(1)), "{ack}");
    expect_in_order(&mut second, &[Sent::Published("news", json!(1))], 1, &epoch_b).await;
    second.expect_silence().await;
}

/// Joins `room` through a new socket on `hub` with `since` until the ack carries a position: a hub
/// whose connections to Redis are coming back replays nothing meanwhile.
async fn rejoin_when_redis_answers(hub: &HubProcess, room: &str, from: u64, epoch: &str) -> Value {
    let started = Instant::now();
    loop {
        let client = TestClient::connect(&hub.url).await;
        let ack = join_with(&client, room, since(from, epoch)).await;
        client.disconnect().await;
        if ack.get("epoch").is_some() {
            return ack;
        }
        assert!(started.elapsed() < 4 * WAIT, "no position from Redis within {:?}: {ack}", 4 * WAIT);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_without_its_data_starts_every_stream_in_a_new_epoch() {
    let mut redis = RedisServer::start().await;
    let hubs = cluster(&redis, 2, &[]).await;
    let publisher = TestClient::publisher(&hubs[0].url).await;
    let mut ack = Value::Null;
    for n in 0..3 {
        ack = publisher.request("publish", json!({"event": "news", "data": n, "rooms": ["lobby"]})).await;
    }
    let epoch = epoch_of(&ack["recorded"][0]);

    redis.stop().await;
    redis.restart().await;
    let ack = rejoin_when_redis_answers(&hubs[1], "lobby", 3, &epoch).await;
    assert_eq!(ack["recovered"], false, "{ack}");
    assert_eq!(ack["offset"], 0, "{ack}");
    let new_epoch = epoch_of(&ack);
    assert_ne!(new_epoch, epoch, "history lost: a new epoch");
    let ack = publisher.request("publish", json!({"event": "news", "data": 3, "rooms": ["lobby"]})).await;
    assert_eq!(ack["recorded"], json!([{"room": "lobby", "offset": 1, "epoch": new_epoch}]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_delivered_while_redis_is_down_start_their_streams_over_once_it_is_back() {
    let mut redis = RedisServer::start().await;
    let hubs = cluster(&redis, 2, &[]).await;
    let mut local = TestClient::connect_meta(&hubs[0].url).await;
    let mut remote = TestClient::connect_meta(&hubs[1].url).await;
    let epoch = epoch_of(&local.join("lobby").await);
    remote.join("lobby").await;
    let publisher = TestClient::publisher(&hubs[0].url).await;
    let chatter = TestClient::connect(&hubs[0].url).await;
    chatter.join("lobby").await;
    let request = |n: u32| json!({"event": "news", "data": n, "rooms": ["lobby"]});
    publisher.request("publish", request(0)).await;
    for client in [&mut local, &mut remote] {
        expect_in_order(client, &[Sent::Published("news", json!(0))], 1, &epoch).await;
    }

    // Redis goes away with its data, and comes back with it.
    redis.stop_keeping_data().await;
    let ack = publisher.request("publish", request(1)).await;
    assert_eq!(ack, json!({"ok": true, "delivered": 2, "partial": true}), "this hub's sockets, unrecorded");
    let published = local.expect_published("news").await;
    assert_eq!((&published.data, published.meta().offset), (&json!(1), None), "delivered without an offset");
    let ack = chatter.request("chat", json!({"room": "lobby", "text": "still here"})).await;
    assert_eq!((ack["partial"].as_bool(), ack.get("offset")), (Some(true), None), "{ack}");
    let message = local.expect_event("chat").await;
    assert_eq!((message[0]["text"].as_str(), message[0].get("offset")), (Some("still here"), None));
    remote.expect_no_event("news", Duration::from_millis(300)).await;

    redis.restart().await;
    hubs[0].wait_for_log("history starts over in a new epoch", 1).await;
    // On the other hub too, the stream has a new epoch: a client there learns of the hole.
    let ack = rejoin_when_redis_answers(&hubs[1], "lobby", 1, &epoch).await;
    assert_eq!((ack["recovered"].as_bool(), ack["offset"].as_u64()), (Some(false), Some(0)), "{ack}");
    let new_epoch = epoch_of(&ack);
    assert_ne!(new_epoch, epoch);
    let started = Instant::now();
    while readiness(&hubs[0]).await.0 != 200 {
        assert!(started.elapsed() < WAIT, "hub 0 ready again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ack = publisher.request("publish", request(2)).await;
    assert_eq!(ack["recorded"], json!([{"room": "lobby", "offset": 1, "epoch": new_epoch}]), "{ack}");
    for client in [&mut local, &mut remote] {
        expect_in_order(client, &[Sent::Published("news", json!(2))], 1, &new_epoch).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_beyond_the_size_or_older_than_the_ttl_are_gone_on_every_hub() {
    let redis = RedisServer::start().await;
    let hubs = cluster(&redis, 2, &["--history-size", "3", "--history-ttl", "2s"]).await;
    let publisher = TestClient::publisher(&hubs[0].url).await;
    let mut ack = Value::Null;
    for n in 1..=5 {
        ack = publisher.request("publish", json!({"event": "news", "data": n, "rooms": ["lobby"]})).await;
    }
    let epoch = epoch_of(&ack["recorded"][0]);
    let mut reader = TestClient::connect_meta(&hubs[1].url).await;
    let ack = join_with(&reader, "lobby", since(1, &epoch)).await;
    assert_eq!(
        (ack["recovered"].as_bool(), ack["offset"].as_u64()),
        (Some(false), Some(5)),
        "2 is gone: {ack}"
    );
    reader.expect_silence().await;
    let ack = join_with(&reader, "lobby", since(2, &epoch)).await;
    assert_eq!((ack["recovered"].as_bool(), ack["missed"].as_u64()), (Some(true), Some(3)), "{ack}");
    let kept = [3, 4, 5].map(|n| Sent::Published("news", json!(n)));
    expect_in_order(&mut reader, &kept, 3, &epoch).await;

    // Past the TTL, by Redis's clock: the events are gone, the position stays for one more TTL.
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let late = TestClient::connect_meta(&hubs[1].url).await;
    let ack = join_with(&late, "lobby", since(4, &epoch)).await;
    assert_eq!(
        (ack["recovered"].as_bool(), ack["offset"].as_u64(), epoch_of(&ack)),
        (Some(false), Some(5), epoch.clone()),
        "{ack}"
    );
    let ack = join_with(&late, "lobby", since(5, &epoch)).await;
    assert_eq!((ack["recovered"].as_bool(), ack["missed"].as_u64()), (Some(true), Some(0)), "{ack}");
}
