//! `who` and the control API on one real hub: who is in a room, the rooms, a user's sockets, and
//! disconnects, joins and leaves on the application's request; then the refusals (token, input).

use std::time::{SystemTime, UNIX_EPOCH};

use e2e::binaries::HubProcess;
use e2e::control::{assert_error, get, post, send};
use e2e::hub::TOKEN;
use e2e::{QUIET, TestClient, raw};
use jsonwebtoken::{EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn hub(extra: &[&str]) -> HubProcess {
    let mut args = vec!["--bind", "127.0.0.1:0", "--publish-token", TOKEN];
    args.extend_from_slice(extra);
    HubProcess::start(&args, &[]).await
}

/// A socket of `user` on `/`.
async fn user(url: &str, user: &str) -> TestClient {
    TestClient::connect_with(url, "/", json!({"user": user})).await.expect("the hub accepts the user")
}

fn ok(body: Value) -> (StatusCode, Value) {
    (StatusCode::OK, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_lists_a_rooms_users_to_its_members_only() {
    let hub = hub(&[]).await;
    let alice = user(&hub.url, "alice").await;
    let alice_tab = user(&hub.url, "alice").await;
    let zoe = user(&hub.url, "zoe").await;
    let bob = user(&hub.url, "bob").await;
    for member in [&zoe, &alice, &alice_tab, &bob] {
        member.join("r").await;
    }
    let outsider = user(&hub.url, "carol").await;
    outsider.join("elsewhere").await;

    let users = json!([
        {"user": "alice", "info": null, "sockets": 2},
        {"user": "bob", "info": null, "sockets": 1},
        {"user": "zoe", "info": null, "sockets": 1},
    ]);
    let expected = json!({"ok": true, "room": "r", "members": 4, "users": users});
    assert_eq!(bob.request("who", json!("r")).await, expected, "two tabs are one user, sorted by name");

    let refused = outsider.request("who", json!("r")).await;
    assert_eq!((&refused["ok"], &refused["error"]), (&json!(false), &json!("not_in_room")), "{refused}");
    let malformed = bob.request("who", json!(42)).await;
    assert_eq!(malformed["error"], "bad_request", "{malformed}");

    // The application's view of the room is the same answer.
    assert_eq!(get(&hub.url, "/api/rooms/r").await, ok(expected));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_application_sees_rooms_and_users_and_moves_users_between_rooms() {
    let hub = hub(&[]).await;
    let alice = user(&hub.url, "alice").await;
    let alice_tab = user(&hub.url, "alice").await;
    let mut carol = user(&hub.url, "carol").await;
    alice.join("r").await;
    alice_tab.join("r").await;
    alice_tab.join("a").await;
    let _chat = TestClient::connect_with(&hub.url, "/chat", json!({"user": "alice"})).await.unwrap();

    let rooms = json!({"ok": true, "rooms": [{"room": "a", "members": 1}, {"room": "r", "members": 2}]});
    assert_eq!(get(&hub.url, "/api/rooms").await, ok(rooms.clone()));
    assert_eq!(get(&hub.url, "/api/rooms?namespace=%2F").await, ok(rooms));
    assert_eq!(get(&hub.url, "/api/rooms?namespace=/chat").await, ok(json!({"ok": true, "rooms": []})));
    let sockets = json!([
        {"namespace": "/", "rooms": ["a", "r"]},
        {"namespace": "/", "rooms": ["r"]},
        {"namespace": "/chat", "rooms": []},
    ]);
    let expected = json!({"ok": true, "user": "alice", "sockets": sockets});
    assert_eq!(get(&hub.url, "/api/users/alice").await, ok(expected), "sorted by namespace, then rooms");
    assert_error(&get(&hub.url, "/api/users/nobody").await, StatusCode::NOT_FOUND, "not_found");
    let empty = json!({"ok": true, "room": "empty", "members": 0, "users": []});
    assert_eq!(get(&hub.url, "/api/rooms/empty").await, ok(empty));

    // The application puts carol in `r`: she gets its traffic, and may ask who is there.
    let joined = post(&hub.url, "/api/join", &json!({"user": "carol", "room": "r"})).await;
    assert_eq!(joined, ok(json!({"ok": true, "sockets": 1})));
    publish(&hub.url, "r", 1).await;
    assert_eq!(carol.expect_published("news").await.data, json!(1));
    assert_eq!(carol.request("who", json!("r")).await["members"], 3);
    let again = post(&hub.url, "/api/join", &json!({"user": "carol", "room": "r", "namespace": "/"})).await;
    assert_eq!(again, ok(json!({"ok": true, "sockets": 1})), "a member stays in the room");

    // And takes her out: the traffic stops.
    let left = post(&hub.url, "/api/leave", &json!({"user": "carol", "room": "r"})).await;
    assert_eq!(left, ok(json!({"ok": true, "sockets": 1})));
    publish(&hub.url, "r", 2).await;
    carol.expect_no_event("news", QUIET).await;
    let again = post(&hub.url, "/api/leave", &json!({"user": "carol", "room": "r"})).await;
    assert_eq!(again, ok(json!({"ok": true, "sockets": 0})), "nothing left to leave");
    let nobody = post(&hub.url, "/api/join", &json!({"user": "nobody", "room": "r"})).await;
    assert_error(&nobody, StatusCode::NOT_FOUND, "not_found");
}

/// Publishes `news` with `data` into `room` through the HTTP API.
async fn publish(url: &str, room: &str, data: u64) {
    let answer = post(url, "/api/publish", &json!({"event": "news", "data": data, "rooms": [room]})).await;
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnected_socket_is_told_why_first() {
    let hub = hub(&[]).await;
    let mut bob = raw::connect_with(hub.port, r#"40{"user":"bob"}"#).await.unwrap();
    let mut bob_tab = raw::connect_with(hub.port, r#"40{"user":"bob"}"#).await.unwrap();
    let mut roomie = raw::connect_with(hub.port, r#"40{"user":"dan"}"#).await.unwrap();
    raw::send(&mut roomie, r#"421["join","r"]"#).await.unwrap();
    let ack = raw::next_text(&mut roomie).await.unwrap();
    assert!(ack.starts_with("431"), "{ack}");
    let mut other = user(&hub.url, "eve").await;

    let answer = post(&hub.url, "/api/disconnect", &json!({"user": "bob", "reason": "banned"})).await;
    assert_eq!(answer, ok(json!({"ok": true, "disconnected": 2})));
    for socket in [&mut bob, &mut bob_tab] {
        let frames = raw::frames_until_disconnect(socket).await;
        assert_eq!(frames, [r#"42["kicked",{"reason":"banned"}]"#, "41"], "the reason, then the DISCONNECT");
    }

    let answer = post(&hub.url, "/api/disconnect", &json!({"room": "r"})).await;
    assert_eq!(answer, ok(json!({"ok": true, "disconnected": 1})));
    let frames = raw::frames_until_disconnect(&mut roomie).await;
    assert_eq!(frames, [r#"42["kicked",{"reason":"disconnected by the application"}]"#, "41"]);
    assert_error(&get(&hub.url, "/api/users/bob").await, StatusCode::NOT_FOUND, "not_found");
    let none = post(&hub.url, "/api/disconnect", &json!({"user": "bob"})).await;
    assert_eq!(none, ok(json!({"ok": true, "disconnected": 0})));
    other.expect_silence().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_api_wants_the_publish_token() {
    let hub = hub(&[]).await;
    let http = reqwest::Client::new();
    for path in ["/api/rooms", "/api/rooms/r", "/api/users/alice"] {
        let url = format!("{}{path}", hub.url);
        assert_error(&send(http.get(&url)).await, StatusCode::UNAUTHORIZED, "unauthorized");
        assert_error(
            &send(http.get(&url).bearer_auth("wrong")).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        );
    }
    for path in ["/api/disconnect", "/api/join", "/api/leave"] {
        let url = format!("{}{path}", hub.url);
        let body = json!({"user": "alice", "room": "r"});
        assert_error(&send(http.post(&url).json(&body)).await, StatusCode::UNAUTHORIZED, "unauthorized");
        let wrong = http.post(&url).bearer_auth("wrong").json(&body);
        assert_error(&send(wrong).await, StatusCode::UNAUTHORIZED, "unauthorized");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_control_requests_are_refused_with_json() {
    let hub = hub(&["--max-payload", "2048"]).await;
    let _alice = user(&hub.url, "alice").await;
    let url = hub.url.as_str();
    let bad = StatusCode::BAD_REQUEST;
    assert_error(&get(url, "/api/rooms?namespace=/nobody").await, StatusCode::NOT_FOUND, "not_found");
    assert_error(&get(url, "/api/rooms/r?namespace=/nobody").await, StatusCode::NOT_FOUND, "not_found");
    assert_error(&get(url, "/api/rooms?namespace=no-slash").await, bad, "bad_request");
    assert_error(&get(url, "/api/rooms?room=r").await, bad, "bad_request");
    assert_error(&get(url, &format!("/api/rooms/{}", "r".repeat(300))).await, bad, "bad_request");
    let join = async |body: Value| post(url, "/api/join", &body).await;
    assert_error(&join(json!({"user": "alice"})).await, bad, "bad_request");
    assert_error(&join(json!({"room": "r"})).await, bad, "bad_request");
    assert_error(&join(json!({"user": "alice", "room": "r", "extra": 1})).await, bad, "bad_request");
    let elsewhere = json!({"user": "alice", "room": "r", "namespace": "/nobody"});
    assert_error(&join(elsewhere).await, StatusCode::NOT_FOUND, "not_found");
    let disconnect = async |body: Value| post(url, "/api/disconnect", &body).await;
    assert_error(&disconnect(json!({})).await, bad, "bad_request");
    assert_error(&disconnect(json!({"user": "alice", "room": "r"})).await, bad, "bad_request");
    let long = json!({"user": "alice", "reason": "x".repeat(201)});
    assert_error(&disconnect(long).await, StatusCode::PAYLOAD_TOO_LARGE, "too_large");
    let huge = json!({"user": "alice", "room": "x".repeat(3000)});
    assert_error(&join(huge).await, StatusCode::PAYLOAD_TOO_LARGE, "too_large");
    let text = reqwest::Client::new().post(format!("{url}/api/join")).bearer_auth(TOKEN).body("{}");
    assert_error(&send(text).await, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    // The hub keeps serving: alice is still there.
    assert_eq!(get(url, "/api/users/alice").await.0, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_application_overrides_a_tokens_rooms_but_not_the_rooms_limit() {
    const SECRET: &str = "control-test-secret-of-32-bytes!";
    let hub = hub(&["--jwt-secret", SECRET, "--max-rooms-per-socket", "2"]).await;
    let exp = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() + 3600;
    let claims = json!({"sub": "ann", "exp": exp, "rooms": ["lobby"]});
    let token =
        jsonwebtoken::encode(&Header::default(), &claims, &EncodingKey::from_secret(SECRET.as_bytes()));
    let ann = TestClient::connect_with(&hub.url, "/", json!({"token": token.unwrap()})).await.unwrap();
    let refused = ann.request("join", json!("staff")).await;
    assert_eq!(refused["error"], "forbidden", "her token does not allow `staff`: {refused}");

    let joined = post(&hub.url, "/api/join", &json!({"user": "ann", "room": "staff"})).await;
    assert_eq!(joined, ok(json!({"ok": true, "sockets": 1})), "the application is trusted");
    assert_eq!(ann.request("who", json!("staff")).await["users"][0]["user"], "ann");
    ann.join("lobby").await;
    let full = post(&hub.url, "/api/join", &json!({"user": "ann", "room": "third"})).await;
    assert_eq!(full, ok(json!({"ok": true, "sockets": 0, "refused": 1})), "at --max-rooms-per-socket");
}
