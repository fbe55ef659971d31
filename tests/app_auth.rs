//! Sign-in through the application (`--auth-url`): the real `hub` binary asks a tiny application started
//! by the test ([`SignInApp`]) who a browser with a session cookie is; the app's refusals, outages and
//! slowness reach the client as clear `connect_error`s and are counted; answers are reused for a while,
//! and shared by sockets that connect together; publishers never go through the app, and tokens the app
//! refuses are throttled like wrong tokens.

use std::time::{Duration, Instant};

use e2e::TestClient;
use e2e::binaries::{self, HubProcess};
use e2e::client::Refused;
use e2e::control::post;
use e2e::fake::free_port;
use e2e::hub::TOKEN;
use e2e::sign_in_app::SignInApp;
use serde_json::json;

/// A hub that signs its users in through `auth_url`, with `more` settings.
async fn hub_with_app(auth_url: &str, more: &[&str]) -> HubProcess {
    let mut args = vec!["--bind", "127.0.0.1:0", "--publish-token", TOKEN, "--auth-url", auth_url];
    args.extend_from_slice(more);
    HubProcess::start(&args, &[]).await
}

/// Connects to `namespace` of `hub` with the cookie `session=SESSION`.
async fn connect_as(hub: &HubProcess, namespace: &str, session: &str) -> Result<TestClient, Refused> {
    let cookie = format!("session={session}");
    TestClient::connect_with_headers(&hub.url, namespace, json!({}), &[("Cookie", &cookie)]).await
}

/// The `connect_error` message a socket with the cookie `session=SESSION` gets.
async fn refusal_for(hub: &HubProcess, session: &str) -> String {
    match connect_as(hub, "/", session).await {
        Err(Refused::ConnectError(message)) => message,
        Err(other) => panic!("{session}: expected connect_error, got {other:?}"),
        Ok(_) => panic!("{session}: expected connect_error, but the hub accepted the connection"),
    }
}

/// The value of the sample `name` (labels included, as rendered) on the hub's `/metrics`.
async fn metric(hub: &HubProcess, name: &str) -> Option<f64> {
    let metrics = reqwest::get(format!("{}/metrics", hub.url)).await.unwrap().text().await.unwrap();
    metrics.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_cookie_signs_the_user_in_with_its_rooms_and_info() {
    let app = SignInApp::start().await;
    let hub = hub_with_app(&app.url, &[]).await;
    let cookie = "theme=dark; session=alice";
    let alice = TestClient::connect_with_headers(
        &hub.url,
        "/",
        json!({"user": "someone-else", "meta": true, "history": 5, "device": "phone"}),
        &[("Cookie", cookie), ("User-Agent", "app-auth-test"), ("Origin", &hub.url)],
    )
    .await
    .expect("the app lets alice in");
    let mut bob = connect_as(&hub, "/", "bob").await.expect("the app lets bob in");

    let asked = app.requests();
    assert_eq!(asked.len(), 2, "{asked:?}");
    let request = &asked[0];
    assert_eq!(request.namespace, "/");
    assert_eq!(request.headers.cookie.as_deref(), Some(cookie));
    assert_eq!(request.headers.user_agent.as_deref(), Some("app-auth-test"));
    assert_eq!(request.headers.origin.as_deref(), Some(hub.url.as_str()));
    assert_eq!(request.address.as_deref(), Some("127.0.0.1"));
    assert_eq!(
        serde_json::Value::Object(request.auth.clone()),
        json!({"user": "someone-else", "device": "phone"}),
        "the auth payload without the hub's own fields"
    );

    // The rooms the app listed, and no other; bob was given no list: any room.
    assert_eq!(alice.request("join", json!("lobby")).await["ok"], true);
    let refused = alice.request("join", json!("staff")).await;
    assert_eq!((refused["ok"].clone(), refused["error"].clone()), (json!(false), json!("forbidden")));
    assert_eq!(bob.request("join", json!("staff")).await["ok"], true);
    bob.join("lobby").await;
    alice.request("chat", json!({"room": "lobby", "text": "hi"})).await;
    assert_eq!(bob.expect_event("chat").await[0]["user"], "alice", "the app's name, not the chosen one");

    // The hub holds the info the app gave (shown in the connection's log line).
    let log = hub.wait_for_log("user=alice", 1).await;
    let connected = log.lines().find(|line| line.contains("user=alice")).unwrap();
    assert!(
        connected.contains("info=") && connected.contains("role") && connected.contains("staff"),
        "{connected}"
    );

    // Members see the app's info: in `who`, and in `presence` when alice goes (once her coming and
    // bob's were announced: a user who comes and goes within one interval is not announced at all).
    let who = bob.request("who", json!("lobby")).await;
    assert_eq!(
        who["users"],
        json!([{"user": "alice", "info": {"role": "staff"}, "sockets": 1}, {"user": "bob", "info": null, "sockets": 1}]),
        "{who}"
    );
    let bob_in_lobby = json!({"room": "lobby", "user": "bob", "info": null, "state": "joined"});
    while !bob.expect_event("presence").await[0].as_array().unwrap().contains(&bob_in_lobby) {}
    alice.request("leave", json!("lobby")).await;
    let left = loop {
        let changes = bob.expect_event("presence").await.remove(0);
        if changes[0]["room"] == "lobby" {
            break changes; // bob's own coming into staff may arrive meanwhile
        }
    };
    assert_eq!(left, json!([{"room": "lobby", "user": "alice", "info": {"role": "staff"}, "state": "left"}]));

    // Another namespace is another question to the app.
    connect_as(&hub, "/orders", "alice").await.expect("alice in /orders");
    assert_eq!(app.requests().last().unwrap().namespace, "/orders");
    assert_eq!(metric(&hub, r#"hub_app_sign_in_requests_total{outcome="admitted"}"#).await, Some(3.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_apps_refusals_and_unusable_answers_reach_connect_error() {
    let app = SignInApp::start().await;
    let hub = hub_with_app(&app.url, &[]).await;
    assert_eq!(refusal_for(&hub, "nobody").await, "please sign in", "401");
    assert_eq!(refusal_for(&hub, "banned").await, "your account is suspended", "403");
    assert_eq!(
        refusal_for(&hub, "broken").await,
        "sign-in is unavailable: the application answered with status 500; try again later"
    );
    let message = refusal_for(&hub, "bighead").await;
    assert!(
        message.starts_with("sign-in failed: the application's answer is not usable: `info` is"),
        "{message}"
    );
    assert!(message.contains("at most 1024"), "{message}");
    assert_eq!(
        refusal_for(&hub, "verbose").await,
        "sign-in failed: the application's answer is not usable: an answer larger than 65536 bytes"
    );
    hub.wait_for_log("sign-in through the application failed", 1).await;

    let count = |outcome: &str| format!(r#"hub_app_sign_in_requests_total{{outcome="{outcome}"}}"#);
    assert_eq!(metric(&hub, &count("refused")).await, Some(2.0));
    assert_eq!(metric(&hub, &count("bad_status")).await, Some(1.0));
    assert_eq!(metric(&hub, &count("bad_answer")).await, Some(2.0));
    // Refused users take nothing: a signed-in one still connects.
    connect_as(&hub, "/", "bob").await.expect("bob signs in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_that_is_down_or_slow_is_a_clear_refusal_and_is_counted() {
    let down = format!("http://127.0.0.1:{}/hub/sign-in", free_port().await);
    let hub = hub_with_app(&down, &[]).await;
    assert_eq!(
        refusal_for(&hub, "alice").await,
        "sign-in is unavailable: the application cannot be reached; try again later"
    );
    assert_eq!(metric(&hub, r#"hub_app_sign_in_requests_total{outcome="unreachable"}"#).await, Some(1.0));
    // Failures are not kept: the next socket asks again.
    refusal_for(&hub, "alice").await;
    assert_eq!(metric(&hub, r#"hub_app_sign_in_requests_total{outcome="unreachable"}"#).await, Some(2.0));
    hub.wait_for_log("sign-in through the application failed", 1).await;

    let app = SignInApp::start().await;
    let hub = hub_with_app(&app.url, &["--auth-timeout", "500ms"]).await;
    let started = Instant::now();
    assert_eq!(
        refusal_for(&hub, "slow").await,
        "sign-in is unavailable: the application did not answer within 500ms; try again later"
    );
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(500) && took < Duration::from_secs(3), "{took:?}");
    assert_eq!(metric(&hub, r#"hub_app_sign_in_requests_total{outcome="timeout"}"#).await, Some(1.0));
    connect_as(&hub, "/", "alice").await.expect("others still sign in meanwhile");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_reused_for_the_same_cookie_within_the_ttl() {
    let app = SignInApp::start().await;
    let hub = hub_with_app(&app.url, &[]).await;
    connect_as(&hub, "/", "alice").await.unwrap();
    // A reconnection asks for other things of the hub (recovery, metadata): the same sign-in.
    let again = TestClient::connect_with_headers(
        &hub.url,
        "/",
        json!({"meta": true, "since": {"offset": 0, "epoch": "e"}}),
        &[("Cookie", "session=alice")],
    )
    .await;
    let again = again.expect("alice again");
    assert_eq!(again.request("join", json!("staff")).await["error"], "forbidden", "the same rooms");
    assert_eq!(app.requests().len(), 1, "the second connection did not ask the app");
    connect_as(&hub, "/", "bob").await.unwrap();
    assert_eq!(app.requests().len(), 2, "another cookie is another question");
    // Refusals are kept too (for a few seconds).
    refusal_for(&hub, "banned").await;
    assert_eq!(refusal_for(&hub, "banned").await, "your account is suspended");
    assert_eq!(app.requests().len(), 3);
    assert_eq!(metric(&hub, r#"hub_app_sign_in_cache_hits_total{answer="admitted"}"#).await, Some(1.0));
    assert_eq!(metric(&hub, r#"hub_app_sign_in_cache_hits_total{answer="refused"}"#).await, Some(1.0));

    let uncached = hub_with_app(&app.url, &["--auth-cache-ttl", "0s"]).await;
    connect_as(&uncached, "/", "alice").await.unwrap();
    connect_as(&uncached, "/", "alice").await.unwrap();
    assert_eq!(app.requests().len(), 5, "--auth-cache-ttl 0s asks every time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_with_the_same_cookie_connecting_together_share_one_request() {
    let app = SignInApp::start().await;
    let hub = hub_with_app(&app.url, &[]).await;
    let tabs = futures_util::future::join_all((0..3).map(|_| connect_as(&hub, "/", "sleepy"))).await;
    for tab in tabs {
        tab.expect("carol signs in");
    }
    assert_eq!(app.requests().len(), 1, "one request for the three tabs");
    assert_eq!(metric(&hub, r#"hub_app_sign_in_requests_total{outcome="admitted"}"#).await, Some(1.0));
    assert_eq!(metric(&hub, r#"hub_app_sign_in_cache_hits_total{answer="admitted"}"#).await, Some(2.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishers_never_go_through_the_app() {
    let down = format!("http://127.0.0.1:{}/hub/sign-in", free_port().await);
    let hub = hub_with_app(&down, &[]).await;
    let publisher = TestClient::publisher(&hub.url).await;
    assert_eq!(publisher.request("publish", json!({"event": "e", "rooms": ["lobby"]})).await["ok"], true);
    assert_eq!(metric(&hub, r#"hub_app_sign_in_requests_total{outcome="unreachable"}"#).await, None);
    let (status, _) = post(&hub.url, "/api/publish", &json!({"event": "api", "rooms": ["lobby"]})).await;
    assert_eq!(status, 200, "the HTTP API takes the publish token as before");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_the_app_refuses_are_throttled_like_wrong_tokens() {
    let app = SignInApp::start().await;
    let hub = hub_with_app(&app.url, &[]).await;
    let refusal =
        async |token: &str| match TestClient::connect_with(&hub.url, "/", json!({"token": token})).await {
            Err(Refused::ConnectError(message)) => message,
            other => panic!("expected connect_error, got {:?}", other.map(|_| "a connection")),
        };
    // Not the publish token: it goes to the app, which refuses; ten such guesses from one address...
    for n in 0..10 {
        assert_eq!(refusal(&format!("guess-{n}")).await, "please sign in");
    }
    // ...and the address is throttled, the right token included, without asking the app again.
    let asked = app.requests().len();
    let throttled = refusal("guess-10").await;
    assert!(throttled.starts_with("too many failed authentications from your address"), "{throttled}");
    assert!(refusal(TOKEN).await.starts_with("too many failed authentications"), "the publish token too");
    assert_eq!(app.requests().len(), asked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_url_with_jwt_secret_refuses_to_start_naming_both() {
    let output = binaries::run_hub(
        &[
            "--bind",
            "127.0.0.1:0",
            "--auth-url",
            "http://127.0.0.1:1/s",
            "--jwt-secret",
            "a-secret-of-enough-bytes",
        ],
        &[],
    )
    .await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--auth-url") && stderr.contains("--jwt-secret"), "{stderr}");
}
