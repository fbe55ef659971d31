//! Client authentication with JWTs (`--jwt-secret`) and the Origin check on both transports.

use std::time::{SystemTime, UNIX_EPOCH};

use e2e::{TestClient, TestHub};
use jsonwebtoken::{EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const SECRET: &str = "jwt-test-secret-of-32-bytes-long";

fn jwt(claims: Value, secret: &str) -> String {
    jsonwebtoken::encode(&Header::default(), &claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

fn in_an_hour() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() + 3600
}

async fn jwt_hub() -> TestHub {
    TestHub::start_with(|config| config.jwt_secret = Some(SECRET.to_owned())).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_token_names_the_user_and_limits_the_rooms() {
    let hub = jwt_hub().await;
    let token = jwt(json!({"sub": "ann", "exp": in_an_hour(), "rooms": ["lobby"]}), SECRET);
    let ann = TestClient::connect_with(&hub.url, "/", json!({"token": token, "user": "someone-else"}))
        .await
        .unwrap();
    let free = jwt(json!({"sub": "bob", "exp": in_an_hour()}), SECRET);
    let mut bob = TestClient::connect_with(&hub.url, "/", json!({"token": free})).await.unwrap();

    assert_eq!(ann.request("join", json!("lobby")).await["ok"], true);
    let refused = ann.request("join", json!("staff")).await;
    assert_eq!((refused["ok"].clone(), refused["error"].clone()), (json!(false), json!("forbidden")));
    assert_eq!(bob.request("join", json!("staff")).await["ok"], true, "no rooms claim: any room");
    bob.join("lobby").await;

    ann.request("chat", json!({"room": "lobby", "text": "hi"})).await;
    assert_eq!(bob.expect_event("chat").await[0]["user"], "ann", "the `sub` claim, not the chosen name");

    // The publish token still makes a publisher.
    let publisher = TestClient::publisher(&hub.url).await;
    assert_eq!(publisher.request("publish", json!({"event": "e", "rooms": ["lobby"]})).await["delivered"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_expired_and_forged_tokens_are_refused_clearly() {
    let hub = jwt_hub().await;
    let an_hour_ago = in_an_hour() - 7200;
    let cases = [
        (json!({}), "this hub requires a token: connect with auth: {token: JWT}"),
        (json!({"user": "ann"}), "this hub requires a token: connect with auth: {token: JWT}"),
        (json!({"token": jwt(json!({"sub": "ann", "exp": an_hour_ago}), SECRET)}), "invalid token: expired"),
        (
            json!({"token": jwt(json!({"sub": "ann", "exp": in_an_hour()}), "another-secret-of-32-bytes-long!")}),
            "invalid token: bad signature",
        ),
        (json!({"token": jwt(json!({"sub": "ann"}), SECRET)}), "invalid token: no `exp` claim"),
        (json!({"token": "garbage"}), "invalid token: "),
    ];
    for (auth, expected) in cases {
        let message = TestClient::connect_error(&hub.url, "/", auth.clone()).await;
        assert!(message.starts_with(expected), "{auth}: {message}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_secret_the_hub_stays_open() {
    let hub = TestHub::start().await;
    let token = jwt(json!({"sub": "ann", "exp": in_an_hour()}), SECRET);
    let message = TestClient::connect_error(&hub.url, "/", json!({"token": token})).await;
    assert_eq!(message, "invalid publish token", "a token that is not the publish token");
    assert!(TestClient::connect_with(&hub.url, "/", json!({"user": "ann"})).await.is_ok());
}

/// A polling handshake from a page of `origin`: the status and the body.
async fn polling_handshake(hub: &TestHub, origin: &str) -> (StatusCode, String) {
    polling_handshake_at(hub, "/socket.io/", origin).await
}

/// A polling handshake at `path`, which engineioxide serves with or without the trailing slash.
async fn polling_handshake_at(hub: &TestHub, path: &str, origin: &str) -> (StatusCode, String) {
    let response = reqwest::Client::new()
        .get(format!("{}{path}?EIO=4&transport=polling", hub.url))
        .header("Origin", origin)
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

/// A websocket handshake from a page of `origin`: `Ok` or the HTTP status it was refused with.
async fn websocket_handshake(hub: &TestHub, origin: &str) -> Result<(), u16> {
    websocket_handshake_at(hub, "/socket.io/", origin).await
}

/// A websocket handshake at `path`.
async fn websocket_handshake_at(hub: &TestHub, path: &str, origin: &str) -> Result<(), u16> {
    let mut request =
        format!("ws://127.0.0.1:{}{path}?EIO=4&transport=websocket", hub.port).into_client_request().unwrap();
    request.headers_mut().insert("Origin", origin.parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Ok(_) => Ok(()),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
        Err(e) => panic!("unexpected handshake failure: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_of_other_origins_are_refused_on_both_transports() {
    let hub = TestHub::start().await;
    let (status, body) = polling_handshake(&hub, "https://evil.example").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let body: Value = serde_json::from_str(&body).expect("a JSON refusal");
    assert_eq!((body["ok"].clone(), body["error"].clone()), (json!(false), json!("forbidden")));
    assert_eq!(websocket_handshake(&hub, "https://evil.example").await, Err(403));
    // engineioxide also serves the path without its trailing slash: the check covers that spelling.
    assert_eq!(
        polling_handshake_at(&hub, "/socket.io", "https://evil.example").await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(websocket_handshake_at(&hub, "/socket.io", "https://evil.example").await, Err(403));

    for allowed in [hub.url.as_str(), "http://localhost:5173"] {
        let (status, body) = polling_handshake(&hub, allowed).await;
        assert_eq!(status, StatusCode::OK, "{allowed}");
        assert!(body.starts_with("0{"), "an Engine.IO open packet: {body}");
        assert_eq!(websocket_handshake(&hub, allowed).await, Ok(()), "{allowed}");
    }
    // Clients that are not browsers send no Origin and are not concerned.
    assert!(TestClient::connect_with(&hub.url, "/", json!({})).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_list_allows_exactly_its_origins() {
    let hub =
        TestHub::start_with(|config| config.allowed_origins = Some(vec!["https://app.example".into()])).await;
    assert_eq!(polling_handshake(&hub, "https://app.example").await.0, StatusCode::OK);
    assert_eq!(websocket_handshake(&hub, "https://app.example").await, Ok(()));
    let response = reqwest::Client::new()
        .get(format!("{}/socket.io/?EIO=4&transport=polling", hub.url))
        .header("Origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], "https://app.example", "CORS for polling");
    assert_eq!(polling_handshake(&hub, "http://localhost:3000").await.0, StatusCode::FORBIDDEN);
    assert_eq!(websocket_handshake(&hub, "http://localhost:3000").await, Err(403));
}
