//! History under load, against the real binary: 100 subscribers that drop and rejoin at random while
//! 10 publishers publish 1,000 events each into 3 rooms lose nothing and get nothing twice; and a replay
//! of a whole `--history-size` reaches its client, then the ack.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use e2e::WAIT;
use e2e::history::{Packet, Received, Subscriber, meta, position_of, since, start_hub};
use e2e::hub::TOKEN;
use hub_protocol::StreamPosition;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// What one subscriber of [`subscribers_that_drop_and_rejoin_at_random_lose_nothing_under_load`] got.
struct Subscription {
    room: String,
    /// The room's offset when it first joined: every event after it is expected.
    first: u64,
    /// The data of every event after `first`, in the order received (live or replayed).
    received: Vec<Value>,
    rejoins: usize,
    replayed: usize,
}

impl Subscription {
    /// Takes in an event that must be the one after `position` in the room's stream.
    fn next(&mut self, position: &mut StreamPosition, (name, arguments): Received) {
        let expected = meta(Some(&self.room), position.offset + 1, &position.epoch);
        assert_eq!((name.as_str(), arguments.get(1)), ("news", Some(&expected)), "{arguments:?}");
        position.offset += 1;
        self.received.push(arguments[0].clone());
    }
}

/// Joins `room` and stays for random whiles, cut off for random whiles in between, rejoining with
/// `since` each time, until the room's stream has reached the top `tops` announce.
async fn subscribe(
    port: u16,
    room: String,
    seed: u64,
    mut tops: tokio::sync::watch::Receiver<Option<u64>>,
) -> Subscription {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut subscription = Subscription { room, first: 0, received: Vec::new(), rejoins: 0, replayed: 0 };
    let mut position: Option<StreamPosition> = None;
    loop {
        let mut socket = Subscriber::connect(port, &json!({"meta": true})).await.expect("the hub accepts");
        let mut arguments = vec![json!(subscription.room)];
        arguments.extend(position.as_ref().map(since));
        let (replayed, ack) = socket.request("join", &arguments).await;
        let position = match &mut position {
            Some(position) => {
                let count = replayed.len();
                for event in replayed {
                    subscription.next(position, event);
                }
                let recovered = json!({"recovered": true, "missed": count, "offset": position.offset});
                assert_eq!(
                    json!({"recovered": ack["recovered"], "missed": ack["missed"], "offset": ack["offset"]}),
                    recovered
                );
                subscription.rejoins += 1;
                subscription.replayed += count;
                position
            }
            None => {
                assert!(replayed.is_empty());
                subscription.first = ack["offset"].as_u64().expect("an offset");
                position.insert(position_of(&ack))
            }
        };
        let stay = Duration::from_millis(rng.random_range(100..1_500));
        let until = tokio::time::Instant::now() + stay;
        loop {
            let top = *tops.borrow_and_update();
            if top.is_some_and(|top| position.offset >= top) {
                return subscription;
            }
            // Once publishing is over, no more cuts: the rest arrives live.
            let wait = if top.is_some() {
                WAIT
            } else {
                until.saturating_duration_since(tokio::time::Instant::now())
            };
            match socket.try_next(wait).await {
                Ok(Packet::Event(event)) => subscription.next(position, event),
                Ok(other) => panic!("unexpected {other:?}"),
                Err(_) if top.is_some() => {
                    panic!("{}: no event beyond {}", subscription.room, position.offset)
                }
                Err(_) => break,
            }
        }
        socket.cut();
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..300))).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_that_drop_and_rejoin_at_random_lose_nothing_under_load() {
    const PUBLISHERS: u64 = 10;
    const EVENTS_EACH: u64 = 1_000;
    const ROOMS: u64 = 3;
    const SUBSCRIBERS: u64 = 100;
    let hub = start_hub(&["--history-size", "10000"]).await;
    let started = Instant::now();
    let rooms: Vec<String> = (0..ROOMS).map(|n| format!("room-{n}")).collect();
    let mut tops = Vec::new();
    let subscribers: Vec<_> = (0..SUBSCRIBERS)
        .map(|i| {
            let (tx, rx) = tokio::sync::watch::channel(None);
            tops.push(tx);
            tokio::spawn(subscribe(hub.port, rooms[(i % ROOMS) as usize].clone(), i, rx))
        })
        .collect();

    // Each publisher round-robins its events over the rooms, 50 at a time without waiting for their
    // acks; the acks say where each was recorded.
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let (port, rooms) = (hub.port, rooms.clone());
            tokio::spawn(async move {
                let mut publisher = Subscriber::connect(port, &json!({"token": TOKEN})).await.unwrap();
                let mut recorded = Vec::new();
                let events: Vec<u64> = (0..EVENTS_EACH).collect();
                for window in events.chunks(50) {
                    let mut sent = Vec::new();
                    for &n in window {
                        let room = rooms[((p + n) % ROOMS) as usize].clone();
                        let data = json!({"p": p, "n": n});
                        let request = json!({"event": "news", "data": data, "rooms": [room]});
                        sent.push((publisher.emit("publish", &[request]).await, room, data));
                    }
                    for (id, room, data) in sent {
                        let Packet::Ack(acked, ack) = publisher.next().await else { panic!("an ack") };
                        assert_eq!(acked, id, "acks in order");
                        let offset =
                            ack[0]["recorded"][0]["offset"].as_u64().unwrap_or_else(|| panic!("{ack:?}"));
                        recorded.push((room, offset, data));
                    }
                }
                recorded
            })
        })
        .collect();
    let mut streams: HashMap<String, HashMap<u64, Value>> = HashMap::new();
    for publisher in publishers {
        for (room, offset, data) in publisher.await.expect("the publisher is done") {
            assert!(streams.entry(room).or_default().insert(offset, data).is_none(), "one event per offset");
        }
    }
    let published = started.elapsed();
    for (i, tx) in tops.iter().enumerate() {
        tx.send_replace(Some(streams[&rooms[i % ROOMS as usize]].len() as u64));
    }

    let (mut rejoins, mut replayed) = (0, 0);
    for subscriber in subscribers {
        let subscription = subscriber.await.expect("every event once, in order");
        let stream = &streams[&subscription.room];
        let expected: Vec<&Value> =
            (subscription.first + 1..=stream.len() as u64).map(|offset| &stream[&offset]).collect();
        assert_eq!(subscription.received.iter().collect::<Vec<_>>(), expected, "{}", subscription.room);
        rejoins += subscription.rejoins;
        replayed += subscription.replayed;
    }
    println!(
        "{} events published in {published:?}; {SUBSCRIBERS} subscribers rejoined {rejoins} times, \
         {replayed} events replayed; all received in {:?}",
        PUBLISHERS * EVENTS_EACH,
        started.elapsed()
    );
    assert!(rejoins >= SUBSCRIBERS as usize, "the subscribers dropped and rejoined: {rejoins}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_as_long_as_the_history_size_reaches_the_client_then_its_ack() {
    const EVENTS: u64 = 3_000;
    let hub = start_hub(&["--history-size", "3000"]).await;
    let mut publisher = Subscriber::connect(hub.port, &json!({"token": TOKEN})).await.unwrap();
    let events: Vec<u64> = (1..=EVENTS).collect();
    for window in events.chunks(100) {
        for &n in window {
            publisher.emit("publish", &[json!({"event": "news", "data": n, "rooms": ["big"]})]).await;
        }
        for _ in window {
            assert!(matches!(publisher.next().await, Packet::Ack(..)));
        }
    }
    let mut subscriber = Subscriber::connect(hub.port, &json!({})).await.unwrap();
    let (replayed, ack) = subscriber.request("join", &[json!("big"), json!({"history": EVENTS})]).await;
    let data: Vec<Value> = replayed.into_iter().map(|(_, arguments)| arguments[0].clone()).collect();
    assert_eq!(data, (1..=EVENTS).map(|n| json!(n)).collect::<Vec<_>>());
    assert_eq!((&ack["ok"], &ack["missed"], &ack["offset"]), (&json!(true), &json!(EVENTS), &json!(EVENTS)));
}
