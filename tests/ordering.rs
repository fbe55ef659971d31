//! One socket's events are handled in the order they arrive, on both transports, and a client that
//! reads gets every reply: raw Engine.IO clients send whole bursts before reading anything.

use e2e::{TestHub, raw};
use serde_json::Value;

/// The ack id and arguments of an ack packet `43<id>[...]`.
fn parse_ack(packet: &str) -> Option<(u64, Value)> {
    let rest = packet.strip_prefix("43")?;
    let split = rest.find('[')?;
    Some((rest[..split].parse().ok()?, serde_json::from_str(&rest[split..]).ok()?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_then_chat_sent_back_to_back_is_never_not_in_room() {
    let pairs: u64 = 300;
    let hub = TestHub::start_with(|config| {
        config.rate_limit = 100_000;
        config.join_rate_burst = pairs as u32;
        config.max_rooms_per_socket = pairs as usize;
    })
    .await;
    let mut ws = raw::connect(hub.port).await.unwrap();
    // Every frame written before any answer is read.
    for n in 0..pairs {
        raw::send(&mut ws, &format!(r#"42{}["join","room-{n}"]"#, 2 * n)).await.unwrap();
        raw::send(&mut ws, &format!(r#"42{}["chat",{{"room":"room-{n}","text":"hi"}}]"#, 2 * n + 1))
            .await
            .unwrap();
    }
    let mut next_id = 0;
    while next_id < 2 * pairs {
        let packet = raw::next_text(&mut ws).await.unwrap();
        let Some((id, arguments)) = parse_ack(&packet) else { continue }; // `members` events
        assert_eq!(id, next_id, "acks in the order the requests were sent");
        assert_eq!(arguments[0]["ok"], true, "request {id}: {arguments}");
        next_id += 1;
    }
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_requests_in_one_polling_payload_get_a_thousand_acks_in_order() {
    let hub = TestHub::start().await;
    let base = format!("{}/socket.io/?EIO=4&transport=polling", hub.url);
    let http = reqwest::Client::new();
    let open = http.get(&base).send().await.unwrap().text().await.unwrap();
    let handshake: Value = serde_json::from_str(open.strip_prefix('0').expect("open packet")).unwrap();
    let url = format!("{base}&sid={}", handshake["sid"].as_str().unwrap());
    http.post(&url).body("40").send().await.unwrap().error_for_status().unwrap();
    // The CONNECT reply, perhaps after the hub's first ping.
    let connected = http.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(connected.split('\u{1e}').any(|packet| packet.starts_with("40")), "{connected}");

    let requests = 1000;
    let payload: Vec<String> = (0..requests).map(|n| format!(r#"42{n}["echo",{n}]"#)).collect();
    http.post(&url).body(payload.join("\u{1e}")).send().await.unwrap().error_for_status().unwrap();
    let mut acks = Vec::new();
    let collect = async {
        while acks.len() < requests {
            let body = http.get(&url).send().await.unwrap().text().await.unwrap();
            acks.extend(body.split('\u{1e}').filter_map(parse_ack));
        }
    };
    let finished = tokio::time::timeout(e2e::WAIT, collect).await;
    assert!(finished.is_ok(), "{} of {requests} acks within {:?}", acks.len(), e2e::WAIT);
    for (n, (id, arguments)) in acks.into_iter().enumerate() {
        assert_eq!((id, arguments), (n as u64, Value::from(vec![n])), "ack {n}");
    }
    hub.stop().await;
}

/// One polling session: handshake, CONNECT, then one GET, as Elephant.io reads it; the packets of that GET.
async fn connect_and_poll_once(http: &reqwest::Client, base: &str) -> String {
    let open = http.get(base).send().await.unwrap().text().await.unwrap();
    let handshake: Value = serde_json::from_str(open.strip_prefix('0').expect("open packet")).unwrap();
    let url = format!("{base}&sid={}", handshake["sid"].as_str().unwrap());
    http.post(&url).body("40").send().await.unwrap().error_for_status().unwrap();
    http.get(&url).send().await.unwrap().text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_poll_after_a_connect_holds_its_reply() {
    let hub = TestHub::start().await;
    let base = format!("{}/socket.io/?EIO=4&transport=polling", hub.url);
    let http = reqwest::Client::new();
    let polls = futures_util::future::join_all((0..300).map(|_| connect_and_poll_once(&http, &base))).await;
    let without: Vec<&String> =
        polls.iter().filter(|poll| !poll.split('\u{1e}').any(|packet| packet.starts_with("40"))).collect();
    assert!(
        without.is_empty(),
        "{} of 300 first polls lacked the CONNECT reply: {:?}",
        without.len(),
        without.first()
    );
    hub.stop().await;
}
