//! Client authentication with JWTs (`--jwt-secret`), the Origin check on both transports, and secrets
//! kept out of the log.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use e2e::binaries::HubProcess;
use e2e::polling::Polling;
use e2e::{TestClient, TestHub, raw};
use futures_util::StreamExt;
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
        (
            json!({"token": jwt(json!({"sub": "ann", "exp": in_an_hour(), "nbf": in_an_hour()}), SECRET)}),
            "invalid token: not valid yet",
        ),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_log_even_at_trace() {
    let publish_token = "log-test-publish-token-0123456789";
    let args =
        ["--bind", "127.0.0.1:0", "--publish-token", publish_token, "--jwt-secret", SECRET, "--allow-eio3"];
    let hub = HubProcess::start(&args, &[("RUST_LOG", "trace")]).await;
    let user_jwt = jwt(json!({"sub": "ann", "exp": in_an_hour()}), SECRET);
    let forged = jwt(json!({"sub": "eve", "exp": in_an_hour()}), "another-secret-of-32-bytes-long!");

    // CONNECT over websocket: a publisher, a user with a JWT, a forged JWT.
    let publisher = TestClient::connect_with(&hub.url, "/", json!({"token": publish_token})).await.unwrap();
    assert_eq!(publisher.request("publish", json!({"event": "e"})).await["ok"], true);
    let ann = TestClient::connect_with(&hub.url, "/", json!({"token": user_jwt})).await.unwrap();
    assert_eq!(ann.request("join", json!("lobby")).await["ok"], true);
    TestClient::connect_error(&hub.url, "/", json!({"token": forged})).await;
    // CONNECT over polling.
    let polling = Polling::open(hub.port).await.unwrap();
    polling.post(&format!("40{}", json!({"token": publish_token}))).await;
    polling.poll_until(|packet| packet.starts_with("40")).await.unwrap();
    // A socket.io v2 client's token in the query string.
    let http = reqwest::Client::new();
    let v2 = format!("{}/socket.io/?EIO=3&transport=polling&token={publish_token}", hub.url);
    assert_eq!(http.get(v2).send().await.unwrap().status(), StatusCode::OK);
    // The HTTP API's Authorization header, right and wrong.
    let api = format!("{}/api/publish", hub.url);
    let right = http.post(&api).bearer_auth(publish_token).json(&json!({"event": "e"})).send().await.unwrap();
    assert_eq!(right.status(), StatusCode::OK);
    let wrong = http.post(&api).bearer_auth("a-wrong-guess-of-the-token").json(&json!({"event": "e"}));
    assert_eq!(wrong.send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    let deadline = tokio::time::Instant::now() + e2e::WAIT;
    while !hub.log().contains("wrong publish token") {
        assert!(tokio::time::Instant::now() < deadline, "the refusal is logged:\n{}", hub.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let log = hub.log();
    assert!(log.contains(" DEBUG "), "RUST_LOG=trace is in effect:\n{log}");
    let signature = |jwt: &str| jwt.rsplit('.').next().unwrap().to_owned();
    for secret in
        [publish_token, "a-wrong-guess-of-the-token", SECRET, &signature(&user_jwt), &signature(&forged)]
    {
        assert!(!log.contains(secret), "{secret} is in the log:\n{log}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_admits_only_its_namespaces() {
    let hub = jwt_hub().await;
    let lobby_only = jwt(json!({"sub": "ann", "exp": in_an_hour(), "rooms": ["lobby"]}), SECRET);
    let message = TestClient::connect_error(&hub.url, "/orders", json!({"token": lobby_only})).await;
    assert!(message.starts_with("invalid token: not valid for namespace /orders"), "{message}");

    let orders = jwt(json!({"sub": "ann", "exp": in_an_hour(), "ns": ["/orders"], "rooms": ["o-1"]}), SECRET);
    let ann = TestClient::connect_with(&hub.url, "/orders", json!({"token": orders})).await.unwrap();
    assert_eq!(ann.request("join", json!("o-1")).await["ok"], true);
    assert_eq!(ann.request("join", json!("lobby")).await["error"], "forbidden");
    let message = TestClient::connect_error(&hub.url, "/", json!({"token": orders})).await;
    assert!(message.starts_with("invalid token: not valid for namespace /"), "{message}");
    let message = TestClient::connect_error(&hub.url, "/billing", json!({"token": orders})).await;
    assert!(message.starts_with("invalid token: not valid for namespace /billing"), "{message}");
}

/// Opens a websocket session from `ip` and sends a CONNECT to `/` with `auth`; returns the hub's answer:
/// `Ok(())` for a CONNECT reply, `Err(message)` for a `connect_error`.
async fn connect_from(ip: [u8; 4], port: u16, auth: Value) -> Result<(), String> {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind((ip, 0).into()).unwrap();
    let stream = socket.connect(([127, 0, 0, 1], port).into()).await.unwrap();
    let url = format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket");
    let (ws, _) =
        tokio_tungstenite::client_async(url, tokio_tungstenite::MaybeTlsStream::Plain(stream)).await.unwrap();
    let mut ws: raw::Socket = ws;
    assert!(raw::next_text(&mut ws).await.unwrap().starts_with('0'), "the open packet");
    raw::send(&mut ws, &format!("40{auth}")).await.unwrap();
    let answer = raw::next_text(&mut ws).await.unwrap();
    let _ = ws.close(None).await;
    let _ = ws.next().await;
    match answer.strip_prefix("44") {
        Some(error) => {
            Err(serde_json::from_str::<Value>(error).unwrap()["message"].as_str().unwrap().to_owned())
        }
        None => {
            assert!(answer.starts_with("40"), "{answer}");
            Ok(())
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_connects_are_throttled_per_address() {
    let hub = jwt_hub().await;
    let guesser = [127, 0, 0, 1];
    for n in 0..5 {
        let refused = connect_from(guesser, hub.port, json!({"token": format!("guess-{n:016}")})).await;
        assert!(refused.unwrap_err().starts_with("invalid token: "), "not a JWT");
    }
    let forged = jwt(json!({"sub": "eve", "exp": in_an_hour()}), "another-secret-of-32-bytes-long!");
    for _ in 0..5 {
        let refused = connect_from(guesser, hub.port, json!({"token": forged})).await;
        assert_eq!(refused, Err("invalid token: bad signature".to_owned()));
    }
    let refused = connect_from(guesser, hub.port, json!({"token": forged})).await.unwrap_err();
    assert!(refused.starts_with("too many failed authentications from your address: retry in "), "{refused}");
    let valid = jwt(json!({"sub": "ann", "exp": in_an_hour()}), SECRET);
    let refused = connect_from(guesser, hub.port, json!({"token": valid})).await.unwrap_err();
    assert!(refused.starts_with("too many failed authentications"), "a valid token too: {refused}");
    assert!(
        connect_from(guesser, hub.port, json!({"token": crate_token()})).await.is_err(),
        "and the publish token"
    );

    // Another address is not concerned.
    assert_eq!(connect_from([127, 0, 0, 2], hub.port, json!({"token": valid})).await, Ok(()));
    assert_eq!(connect_from([127, 0, 0, 2], hub.port, json!({"token": crate_token()})).await, Ok(()));

    // Tokens that only the secret's holders could sign are not guesses: an expired one, again and again.
    let expired = jwt(json!({"sub": "bob", "exp": in_an_hour() - 7200}), SECRET);
    for _ in 0..20 {
        let refused = connect_from([127, 0, 0, 3], hub.port, json!({"token": expired})).await;
        assert_eq!(refused, Err("invalid token: expired".to_owned()));
    }
    assert_eq!(connect_from([127, 0, 0, 3], hub.port, json!({"token": valid})).await, Ok(()));
}

fn crate_token() -> &'static str {
    e2e::hub::TOKEN
}

/// A request for `path` with `Host: host`: the status and the body.
async fn with_host(hub: &TestHub, method: reqwest::Method, path: &str, host: &str) -> (StatusCode, String) {
    let response = reqwest::Client::new()
        .request(method, format!("{}{path}", hub.url))
        .header("Host", host)
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_hosts_are_refused_on_every_path() {
    use reqwest::Method;
    let hub = TestHub::start().await;
    let rebound = format!("rebound.example:{}", hub.port);
    for (method, path) in [
        (Method::GET, "/"),
        (Method::POST, "/api/publish"),
        (Method::GET, "/socket.io/?EIO=4&transport=polling"),
        (Method::GET, "/metrics"),
    ] {
        let (status, body) = with_host(&hub, method, path, &rebound).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        let body: Value = serde_json::from_str(&body).expect("a JSON refusal");
        assert_eq!(body["error"], "forbidden");
        assert!(body["message"].as_str().unwrap().contains("--allowed-hosts"), "{body}");
    }
    assert_eq!(
        with_host(&hub, Method::GET, "/healthz", &rebound).await.0,
        StatusCode::OK,
        "health is exempt"
    );
    for host in
        [format!("localhost:{}", hub.port), format!("127.0.0.1:{}", hub.port), format!("[::1]:{}", hub.port)]
    {
        assert_eq!(with_host(&hub, Method::GET, "/", &host).await.0, StatusCode::OK, "{host}");
    }

    // DNS rebinding: a page of rebound.example, whose name now points at the hub, is its own origin.
    let response = reqwest::Client::new()
        .get(format!("{}/socket.io/?EIO=4&transport=polling", hub.url))
        .header("Host", &rebound)
        .header("Origin", format!("http://{rebound}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let mut request = format!("ws://127.0.0.1:{}/socket.io/?EIO=4&transport=websocket", hub.port)
        .into_client_request()
        .unwrap();
    request.headers_mut().insert("Host", rebound.parse().unwrap());
    request.headers_mut().insert("Origin", format!("http://{rebound}").parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("the websocket handshake is refused, got {:?}", other.map(|_| ())),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listed_host_is_served_and_vouches_for_its_pages() {
    let hub = TestHub::start_with(|config| config.allowed_hosts = Some(vec!["hub.example".into()])).await;
    let host = format!("hub.example:{}", hub.port);
    let response = reqwest::Client::new()
        .get(format!("{}/socket.io/?EIO=4&transport=polling", hub.url))
        .header("Host", &host)
        .header("Origin", format!("http://{host}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "the page the hub serves at its own name");
    let (status, body) = with_host(&hub, reqwest::Method::GET, "/", &format!("localhost:{}", hub.port)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only the list: {body}");
}
