//! `presence`: a room's members hear when a user's first socket comes in and its last one goes, once per
//! user however many tabs it has, coalesced per room, on one hub and across a cluster, and for the
//! application's joins and disconnects.

use std::time::Duration;

use e2e::TestClient;
use e2e::binaries::HubProcess;
use e2e::control::post;
use e2e::hub::TestHub;
use e2e::redis::RedisServer;
use hub_protocol::events::MEMBERS_INTERVAL_MS;
use serde_json::{Value, json};

/// Longer than one `presence` interval: what has not come by then is not coming.
const INTERVAL: Duration = Duration::from_millis(MEMBERS_INTERVAL_MS * 3);
/// Longest wait for an event that must come.
const WAIT: Duration = Duration::from_secs(5);

async fn user(url: &str, name: &str) -> TestClient {
    TestClient::connect_with(url, "/", json!({ "user": name })).await.expect("the hub accepts the user")
}

fn change(room: &str, user: &str, state: &str) -> Value {
    json!({"room": room, "user": user, "info": null, "state": state})
}

/// The next `presence` event's changes.
async fn presence(client: &mut TestClient) -> Vec<Value> {
    presence_within(client, Duration::from_secs(5)).await
}

/// The changes of the next `presence` event, which must come within `wait`.
async fn presence_within(client: &mut TestClient, wait: Duration) -> Vec<Value> {
    let arguments = client.expect_event_within("presence", wait).await;
    match <[Value; 1]>::try_from(arguments) {
        Ok([Value::Array(changes)]) => changes,
        other => panic!("`presence` carries one argument, an array of changes: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_with_several_tabs_comes_once_and_goes_with_its_last_tab() {
    let hub = TestHub::start().await;
    let mut bob = user(&hub.url, "bob").await;
    bob.join("lobby").await;
    assert_eq!(
        presence(&mut bob).await,
        [change("lobby", "bob", "joined")],
        "members hear of themselves too"
    );

    let mut tab1 = user(&hub.url, "alice").await;
    tab1.join("lobby").await;
    assert_eq!(presence(&mut bob).await, [change("lobby", "alice", "joined")]);
    assert_eq!(presence(&mut tab1).await, [change("lobby", "alice", "joined")]);
    let tab2 = user(&hub.url, "alice").await;
    tab2.join("lobby").await;
    tab1.request("leave", json!("lobby")).await;
    bob.expect_no_event("presence", INTERVAL).await;

    tab2.disconnect().await;
    assert_eq!(presence(&mut bob).await, [change("lobby", "alice", "left")], "with its last socket");
    // Other rooms hear nothing of it.
    let mut elsewhere = user(&hub.url, "carol").await;
    elsewhere.join("other").await;
    assert_eq!(presence(&mut elsewhere).await, [change("other", "carol", "joined")]);
    tab1.join("lobby").await;
    assert_eq!(presence(&mut bob).await, [change("lobby", "alice", "joined")]);
    elsewhere.expect_no_event("presence", INTERVAL).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_bigger_than_the_presence_limit_get_counts_only() {
    let hub = TestHub::start_with(|config| config.presence_max_members = 2).await;
    let mut alice = user(&hub.url, "alice").await;
    alice.join("big").await;
    assert_eq!(presence(&mut alice).await, [change("big", "alice", "joined")]);
    let mut bob = user(&hub.url, "bob").await;
    bob.join("big").await;
    assert_eq!(presence(&mut alice).await, [change("big", "bob", "joined")]);
    assert_eq!(presence(&mut bob).await, [change("big", "bob", "joined")]);

    // A third member makes the room bigger than the limit: counts, no presence.
    let carol = user(&hub.url, "carol").await;
    assert_eq!(carol.join("big").await["members"], 3);
    for member in [&mut alice, &mut bob] {
        while member.wait_for_event("members", WAIT).await[0]["members"] != 3 {}
        member.expect_no_event("presence", INTERVAL).await;
    }
    // Back within the limit, presence resumes.
    carol.disconnect().await;
    assert_eq!(presence(&mut alice).await, [change("big", "carol", "left")]);

    // 0 turns it off.
    let hub = TestHub::start_with(|config| config.presence_max_members = 0).await;
    let mut dave = user(&hub.url, "dave").await;
    dave.join("small").await;
    while dave.wait_for_event("members", WAIT).await[0]["members"] != 1 {}
    dave.expect_no_event("presence", INTERVAL).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_arrivals_within_an_interval_reach_the_members_as_few_events() {
    const USERS: usize = 200;
    let hub = TestHub::start_with(|config| config.presence_max_members = 1000).await;
    let mut watcher = user(&hub.url, "watcher").await;
    watcher.join("busy").await;
    presence(&mut watcher).await;

    let mut users = Vec::new();
    for n in 0..USERS {
        let client = user(&hub.url, &format!("user-{n}")).await;
        // Each user comes and half of them go again at once: those net out within an event.
        client.join("busy").await;
        if n % 2 == 1 {
            client.request("leave", json!("busy")).await;
        }
        users.push(client);
    }
    // A user who came and went within one interval is left out; one whose leave fell into the next
    // interval (a slow machine) comes and goes. Either way the members' view ends right.
    let expected: Vec<_> = (0..USERS).step_by(2).map(|n| format!("user-{n}")).collect();
    let (mut online, mut events) = (Vec::<String>::new(), 0);
    while online != expected {
        events += 1;
        for change in presence(&mut watcher).await {
            let user = change["user"].as_str().unwrap().to_owned();
            match change["state"].as_str() {
                Some("joined") => {
                    assert!(!online.contains(&user), "{user} joined twice");
                    online.push(user);
                }
                Some("left") => {
                    assert!(online.contains(&user), "{user} left without having joined");
                    online.retain(|u| *u != user);
                }
                _ => panic!("unexpected change {change}"),
            }
        }
    }
    // One event per interval at most: connecting 200 clients takes a few intervals on a busy machine.
    assert!(events <= 20, "{events} events for {USERS} changes");
    watcher.expect_no_event("presence", INTERVAL).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn across_a_cluster_each_change_is_announced_once_and_a_dead_hubs_users_leave() {
    let redis = RedisServer::start().await;
    let mut hubs = HubProcess::cluster(&redis.url(), 3).await;
    let mut bob = user(&hubs[2].url, "bob").await;
    bob.join("lobby").await;
    assert_eq!(presence(&mut bob).await, [change("lobby", "bob", "joined")]);

    // Alice's tabs on two hubs: she comes with the first and goes with the last, whichever hub it is on.
    let tab1 = user(&hubs[0].url, "alice").await;
    tab1.join("lobby").await;
    assert_eq!(presence(&mut bob).await, [change("lobby", "alice", "joined")]);
    let tab2 = user(&hubs[1].url, "alice").await;
    tab2.join("lobby").await;
    // Redis hears of the join before the disconnect (each hub's changes reach it in their own time).
    tokio::time::sleep(INTERVAL).await;
    tab1.disconnect().await;
    bob.expect_no_event("presence", INTERVAL).await;
    tab2.request("leave", json!("lobby")).await;
    assert_eq!(presence(&mut bob).await, [change("lobby", "alice", "left")]);
    bob.expect_no_event("presence", INTERVAL).await;

    // A hub that dies takes its users with it, once its heartbeat is missed (15 s).
    let carol = user(&hubs[1].url, "carol").await;
    carol.join("lobby").await;
    assert_eq!(presence(&mut bob).await, [change("lobby", "carol", "joined")]);
    let dead = hubs.remove(1);
    dead.kill().await;
    // Missed after 15 s, seen at the next heartbeat (5 s), announced after the interval.
    let left = presence_within(&mut bob, Duration::from_secs(30)).await;
    assert_eq!(left, [change("lobby", "carol", "left")], "announced once, by one of the others");
    bob.expect_no_event("presence", INTERVAL).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_applications_joins_and_disconnects_are_announced_like_the_users_own() {
    let hub = TestHub::start().await;
    let mut watcher = user(&hub.url, "watcher").await;
    watcher.join("lobby").await;
    presence(&mut watcher).await;
    let _carol = user(&hub.url, "carol").await;

    let (status, joined) = post(&hub.url, "/api/join", &json!({"user": "carol", "room": "lobby"})).await;
    assert_eq!((status.as_u16(), &joined["sockets"]), (200, &json!(1)), "{joined}");
    assert_eq!(presence(&mut watcher).await, [change("lobby", "carol", "joined")]);

    let (status, gone) = post(&hub.url, "/api/disconnect", &json!({"user": "carol"})).await;
    assert_eq!((status.as_u16(), &gone["disconnected"]), (200, &json!(1)), "{gone}");
    assert_eq!(presence(&mut watcher).await, [change("lobby", "carol", "left")]);
}
