//! The official Socket.IO Admin UI's protocol on one real hub (`--admin-password`): who may connect to
//! `/admin`, what the UI is told (its config, every socket, each socket's life), and its operations
//! reaching real clients. The UI itself, in Chromium, is tested in tests/node/admin_ui.test.mjs.

use std::time::Duration;

use e2e::binaries::HubProcess;
use e2e::control::get;
use e2e::{TestClient, WAIT};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PASSWORD: &str = "an admin password for tests";

async fn hub_with_admin(extra: &[&str]) -> HubProcess {
    let mut args =
        vec!["--bind", "127.0.0.1:0", "--publish-token", e2e::hub::TOKEN, "--admin-password", PASSWORD];
    args.extend_from_slice(extra);
    HubProcess::start(&args, &[]).await
}

fn login() -> Value {
    json!({"username": "admin", "password": PASSWORD})
}

/// An Admin UI connection, past what the hub sends every UI first; returns it with its `config` and
/// `all_sockets`.
pub async fn open_ui(url: &str, auth: Value) -> (TestClient, Value, Vec<Value>) {
    let mut ui = TestClient::connect_with(url, "/admin", auth).await.expect("the hub admits the UI");
    let config = ui.wait_for_event("config", WAIT).await.remove(0);
    let sockets = ui.wait_for_event("all_sockets", WAIT).await.remove(0);
    let sockets = sockets.as_array().expect("all_sockets is a list").clone();
    (ui, config, sockets)
}

/// The UI's listing of the socket `id`, from `all_sockets`.
fn listed<'a>(sockets: &'a [Value], id: &str) -> &'a Value {
    sockets.iter().find(|socket| socket["id"] == id).unwrap_or_else(|| panic!("{id} not in {sockets:?}"))
}

/// The id of the next socket the UI is told connected.
async fn next_connected(ui: &mut TestClient) -> String {
    let connected = ui.wait_for_event("socket_connected", WAIT).await;
    connected[0]["id"].as_str().expect("an id").to_owned()
}

#[tokio::test]
async fn without_a_password_there_is_no_admin_namespace() {
    let hub = HubProcess::start(&["--bind", "127.0.0.1:0", "--publish-token", e2e::hub::TOKEN], &[]).await;
    let refused = TestClient::connect_error(&hub.url, "/admin", login()).await;
    assert!(refused.contains("--admin-password"), "{refused}");
    // Nor can the HTTP API name it: the name is the Admin UI's alone.
    let (status, _) = get(&hub.url, "/api/rooms?namespace=/admin").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn only_the_password_or_a_session_id_it_gave_opens_the_ui() {
    let hub = hub_with_admin(&[]).await;
    for auth in [
        json!({"username": "admin", "password": "not the password"}),
        json!({"username": "root", "password": PASSWORD}),
        json!({"password": PASSWORD}),
        json!({"sessionId": "0000000000000000ffffffffffffffffffffffffffffffff"}),
    ] {
        let refused = TestClient::connect_error(&hub.url, "/admin", auth.clone()).await;
        assert_eq!(refused, "invalid credentials", "{auth}");
    }
    // What the UI sends on a first visit, before anything is typed: a hint, not a failed login.
    for auth in [json!({}), json!({"sessionId": null}), json!("a string")] {
        let refused = TestClient::connect_error(&hub.url, "/admin", auth.clone()).await;
        assert_eq!(refused, "sign in with the Admin UI's user name and password", "{auth}");
    }

    let mut ui = TestClient::connect_with(&hub.url, "/admin", login()).await.expect("the password opens it");
    let session = ui.wait_for_event("session", WAIT).await.remove(0);
    let session = session.as_str().expect("a session id");
    // A reload sends the session id instead of the password.
    let (_, config, _) = open_ui(&hub.url, json!({ "sessionId": session })).await;
    let features = config["supportedFeatures"].as_array().expect("features");
    for feature in ["ALL_EVENTS", "AGGREGATED_EVENTS", "JOIN", "LEAVE", "DISCONNECT", "EMIT", "MJOIN"] {
        assert!(features.contains(&json!(feature)), "{feature} missing from {config}");
    }
}

#[tokio::test]
async fn a_bcrypt_hash_can_stand_for_the_password() {
    let hash = bcrypt::hash(PASSWORD, 4).expect("bcrypt hashes");
    let args = ["--bind", "127.0.0.1:0", "--publish-token", e2e::hub::TOKEN, "--admin-password", &hash];
    let hub = HubProcess::start(&args, &[]).await;
    open_ui(&hub.url, login()).await;
    let refused =
        TestClient::connect_error(&hub.url, "/admin", json!({"username": "admin", "password": hash})).await;
    assert_eq!(refused, "invalid credentials", "the hash is not the password");
}

#[tokio::test]
async fn guessing_the_password_is_throttled_per_address() {
    let hub = hub_with_admin(&[]).await;
    let wrong = json!({"username": "admin", "password": "guess"});
    let mut refusals = Vec::new();
    for _ in 0..15 {
        refusals.push(TestClient::connect_error(&hub.url, "/admin", wrong.clone()).await);
    }
    assert_eq!(refusals[0], "invalid credentials");
    let throttled = refusals.last().expect("refusals");
    assert!(throttled.starts_with("too many failed logins"), "{refusals:?}");
    // Even the right password waits out the throttle: a guesser cannot tell.
    let refused = TestClient::connect_error(&hub.url, "/admin", login()).await;
    assert!(refused.starts_with("too many failed logins"), "{refused}");
}

#[tokio::test]
async fn the_ui_sees_every_socket_and_its_life() {
    let hub = hub_with_admin(&[]).await;
    let alice = TestClient::connect_with_headers(
        &hub.url,
        "/",
        json!({"user": "alice"}),
        &[("cookie", "session=secret"), ("x-app", "demo"), ("x-pad", &"p".repeat(64 * 1024))],
    )
    .await
    .expect("alice connects");
    alice.join("lobby").await;

    let (mut ui, _, sockets) = open_ui(&hub.url, login()).await;
    assert_eq!(sockets.len(), 1, "{sockets:?}");
    let listed = &sockets[0];
    let id = listed["id"].as_str().expect("an id").to_owned();
    assert_eq!(listed["nsp"], "/");
    assert_eq!(listed["rooms"], json!([id, "lobby"]), "its own id first, as Socket.IO lists rooms");
    assert_eq!(listed["data"]["user"], "alice");
    assert_eq!(listed["transport"], "websocket");
    assert_eq!(listed["clientId"].as_str().map(str::len), Some(12));
    let headers = &listed["handshake"]["headers"];
    assert_eq!(headers["cookie"], "(hidden)", "a user's cookie is not shown: {headers}");
    assert_eq!(headers["x-app"], "demo");
    // A head of any size is shown cut: each socket is copied to every UI, in every list.
    let pad = headers["x-pad"].as_str().expect("shown");
    assert!(pad.len() < 1024 && pad.ends_with('…'), "{} bytes shown", pad.len());
    assert_eq!(listed["handshake"]["address"], "127.0.0.1");

    let bob = TestClient::connect_with(&hub.url, "/", json!({"user": "bob"})).await.expect("bob connects");
    let connected = ui.wait_for_event("socket_connected", WAIT).await;
    let bob_id = connected[0]["id"].as_str().expect("an id").to_owned();
    assert_eq!((&connected[0]["data"]["user"], connected.len()), (&json!("bob"), 2), "{connected:?}");

    bob.join("lobby").await;
    let joined = ui.wait_for_event("room_joined", WAIT).await;
    assert_eq!(&joined[..3], &[json!("/"), json!("lobby"), json!(bob_id)]);
    bob.ack("leave", vec![json!("lobby")]).await;
    let left = ui.wait_for_event("room_left", WAIT).await;
    assert_eq!(&left[..3], &[json!("/"), json!("lobby"), json!(bob_id)]);

    bob.disconnect().await;
    let gone = ui.wait_for_event("socket_disconnected", WAIT).await;
    assert_eq!(&gone[..3], &[json!("/"), json!(bob_id), json!("client namespace disconnect")]);
    // Out of its own room too, so that the UI forgets it everywhere.
    let left = ui.wait_for_event("room_left", WAIT).await;
    assert_eq!(&left[..3], &[json!("/"), json!(bob_id), json!(bob_id)]);

    let stats = ui.wait_for_event("server_stats", Duration::from_secs(3)).await.remove(0);
    assert_eq!(stats["clientsCount"], 1, "{stats}");
    assert!(stats["serverId"].as_str().is_some_and(|id| id.contains('#')), "{stats}");
    let _ = alice;
}

#[tokio::test]
async fn operations_reach_the_clients() {
    let hub = hub_with_admin(&[]).await;
    let (mut ui, _, _) = open_ui(&hub.url, login()).await;
    let mut alice = TestClient::connect_with(&hub.url, "/", json!({"user": "alice"})).await.expect("alice");
    let alice_id = next_connected(&mut ui).await;
    let mut bob = TestClient::connect_with(&hub.url, "/", json!({"user": "bob"})).await.expect("bob");
    let bob_id = next_connected(&mut ui).await;
    bob.join("lobby").await;
    ui.wait_for_event("room_joined", WAIT).await;

    // One socket, named by its id as the UI does.
    let done = ui.ack("join", vec![json!("/"), json!("staff"), json!(alice_id)]).await;
    assert_eq!(done, [json!({"ok": true, "sockets": 1})]);
    let joined = ui.wait_for_event("room_joined", WAIT).await;
    assert_eq!(&joined[..3], &[json!("/"), json!("staff"), json!(alice_id)]);
    let (_, users) = get(&hub.url, "/api/users/alice").await;
    assert_eq!(users["sockets"], json!([{"namespace": "/", "rooms": ["staff"]}]));

    // Everyone in a room.
    let done =
        ui.ack("emit", vec![json!("/"), json!("lobby"), json!("news"), json!({"a": 1}), json!(2)]).await;
    assert_eq!(done, [json!({"ok": true, "sockets": 1})]);
    assert_eq!(bob.expect_event("news").await, [json!({"a": 1}), json!(2)], "exactly the arguments sent");
    alice.expect_silence().await;

    // Everyone in the namespace.
    let done = ui.ack("join", vec![json!("/"), json!("all-hands"), Value::Null]).await;
    assert_eq!(done, [json!({"ok": true, "sockets": 2})]);
    let done = ui.ack("leave", vec![json!("/"), json!("all-hands"), json!(bob_id)]).await;
    assert_eq!(done, [json!({"ok": true, "sockets": 1})]);

    let done = ui.ack("_disconnect", vec![json!("/"), json!(false), json!(bob_id)]).await;
    assert_eq!(done, [json!({"ok": true, "sockets": 1})]);
    assert_eq!(bob.expect_event("kicked").await, [json!({"reason": "disconnected by an operator"})]);
    let gone = ui.wait_for_event("socket_disconnected", WAIT).await;
    assert_eq!(&gone[..3], &[json!("/"), json!(bob_id), json!("server namespace disconnect")]);

    // Bad input is refused with a reason, and nothing happens.
    for (event, arguments) in [
        ("join", vec![json!("/"), json!("")]),
        ("join", vec![json!("not a namespace"), json!("r")]),
        ("emit", vec![json!("/"), Value::Null, json!("disconnect")]),
        ("leave", vec![json!(1)]),
    ] {
        let refused = ui.ack(event, arguments.clone()).await;
        assert_eq!(refused[0]["error"], "bad_request", "{event} {arguments:?}: {refused:?}");
    }
    alice.expect_silence().await;
}

#[tokio::test]
async fn a_read_only_ui_looks_but_cannot_act() {
    let hub = hub_with_admin(&["--admin-read-only"]).await;
    let mut alice = TestClient::connect_with(&hub.url, "/", json!({"user": "alice"})).await.expect("alice");
    let (mut ui, config, sockets) = open_ui(&hub.url, login()).await;
    assert_eq!(config, json!({"supportedFeatures": ["AGGREGATED_EVENTS", "ALL_EVENTS"]}));
    let id = sockets[0]["id"].clone();
    let _ = listed(&sockets, id.as_str().expect("an id"));
    for (event, arguments) in [
        ("join", vec![json!("/"), json!("r"), id.clone()]),
        ("emit", vec![json!("/"), id.clone(), json!("news")]),
        ("_disconnect", vec![json!("/"), json!(true), id.clone()]),
    ] {
        let refused = ui.ack(event, arguments).await;
        assert_eq!(refused[0]["error"], "forbidden", "{event}: {refused:?}");
    }
    alice.expect_silence().await;
    let (_, users) = get(&hub.url, "/api/users/alice").await;
    assert_eq!(users["sockets"], json!([{"namespace": "/", "rooms": []}]));
    ui.wait_for_event("server_stats", Duration::from_secs(3)).await;
}

#[tokio::test]
async fn the_admin_namespace_is_not_counted_as_a_clients_namespace() {
    let hub = hub_with_admin(&["--max-namespaces", "2"]).await;
    open_ui(&hub.url, login()).await;
    let _root = TestClient::connect(&hub.url).await;
    TestClient::connect_with(&hub.url, "/chat", json!({})).await.expect("a second namespace fits");
    let refused = TestClient::connect_error(&hub.url, "/third", json!({})).await;
    assert!(refused.contains("too many namespaces"), "{refused}");
}

#[tokio::test]
async fn admin_settings_are_checked_at_start() {
    use e2e::binaries::run_hub;
    for (args, says) in [
        (vec!["--admin-username", "ops"], "needs --admin-password"),
        (vec!["--admin-read-only"], "needs --admin-password"),
        (vec!["--admin-password", "short"], "admin-password"),
        (vec!["--admin-password", "$2b$10$not-a-hash"], "bcrypt"),
    ] {
        let output = run_hub(&args, &[]).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    let output = run_hub(&["--print-config", "--admin-password", PASSWORD], &[]).await;
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(printed.contains("admin-password = \"***\"") && !printed.contains(PASSWORD), "{printed}");
    assert!(printed.contains("admin-username = \"admin\""), "{printed}");
}

#[tokio::test]
async fn guesses_sent_at_once_against_a_bcrypt_hash_are_throttled_too() {
    // Logins sent together all pass the address's gate before any has failed; each must look at it
    // again once its turn at bcrypt comes, or every one of them is a guess.
    let hash = bcrypt::hash(PASSWORD, 4).expect("bcrypt hashes");
    let args = ["--bind", "127.0.0.1:0", "--publish-token", e2e::hub::TOKEN, "--admin-password", &hash];
    let hub = HubProcess::start(&args, &[]).await;
    let guesses = (0..40).map(|i| {
        let auth = json!({"username": "admin", "password": format!("guess {i}")});
        let url = hub.url.clone();
        async move { TestClient::connect_error(&url, "/admin", auth).await }
    });
    let refusals = futures_util::future::join_all(guesses).await;
    let checked = refusals.iter().filter(|refused| *refused == "invalid credentials").count();
    // The others wait out the address's throttle, or find the line to bcrypt full (16 wait at most).
    let held = refusals
        .iter()
        .filter(|refused| {
            refused.starts_with("too many failed logins") || refused.starts_with("too many logins")
        })
        .count();
    assert_eq!(checked + held, refusals.len(), "{refusals:?}");
    assert!(checked <= 12, "{checked} of {} guesses were checked: {refusals:?}", refusals.len());
}

#[tokio::test]
async fn a_socket_id_names_that_socket_alone() {
    let hub = hub_with_admin(&[]).await;
    let (mut ui, _, _) = open_ui(&hub.url, login()).await;
    let mut alice = TestClient::connect_with(&hub.url, "/", json!({"user": "alice"})).await.expect("alice");
    let alice_id = next_connected(&mut ui).await;
    // Mallory joins a room named by Alice's socket id, as any client may.
    let mut mallory =
        TestClient::connect_with(&hub.url, "/", json!({"user": "mallory"})).await.expect("mallory");
    next_connected(&mut ui).await;
    mallory.join(&alice_id).await;

    let done =
        ui.ack("emit", vec![json!("/"), json!(alice_id), json!("note"), json!("for alice only")]).await;
    assert_eq!(done, [json!({"ok": true, "sockets": 1})]);
    assert_eq!(alice.expect_event("note").await, [json!("for alice only")]);
    mallory.expect_no_event("note", Duration::from_millis(300)).await;
    let done = ui.ack("_disconnect", vec![json!("/"), json!(false), json!(alice_id)]).await;
    assert_eq!(done, [json!({"ok": true, "sockets": 1})]);
    alice.expect_event("kicked").await;
    mallory.expect_no_event("kicked", Duration::from_millis(300)).await;
}

#[tokio::test]
async fn the_publish_token_does_not_reach_the_admin_namespace() {
    use e2e::control::post;
    let hub = hub_with_admin(&[]).await;
    let (mut ui, _, _) = open_ui(&hub.url, login()).await;
    let forged = json!({"namespace": "/admin", "event": "session", "data": "a session id of my choosing"});
    let (status, body) = post(&hub.url, "/api/publish", &forged).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    for path in ["/api/history?namespace=/admin", "/api/rooms?namespace=/admin"] {
        let (status, body) = get(&hub.url, path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
    }
    let (status, body) =
        post(&hub.url, "/api/disconnect", &json!({"namespace": "/admin", "room": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    ui.expect_no_event("session", Duration::from_millis(300)).await;
}
