//! A tiny application that signs the hub's users in (`--auth-url`), as a test's own HTTP server: it
//! answers by the `session` cookie, and records every request the hub sent it.
//!
//! | cookie | answer |
//! |---|---|
//! | `session=alice` | `200`: `alice`, rooms `lobby` and `staff-news`, `info` `{"role":"staff"}` |
//! | `session=bob` | `200`: `bob`, any room |
//! | `session=banned` | `403 {"message":"your account is suspended"}` |
//! | `session=bighead` | `200` with an `info` of 2 KiB |
//! | `session=broken` | `500` |
//! | `session=verbose` | `200` with 100 KiB of JSON |
//! | `session=slow` | nothing for a minute |
//! | `session=sleepy` | `200`: `carol`, after 300 ms |
//! | anything else, or none | `401 {"message":"please sign in"}` |

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hub_protocol::sign_in::SignInRequest;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The application's sign-in endpoint on a free loopback port; stops when dropped.
pub struct SignInApp {
    /// The URL to give the hub as `--auth-url`.
    pub url: String,
    requests: Arc<Mutex<Vec<SignInRequest>>>,
    task: JoinHandle<()>,
}

impl Drop for SignInApp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SignInApp {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a free port");
        let url = format!("http://{}/hub/sign-in", listener.local_addr().unwrap());
        let requests: Arc<Mutex<Vec<SignInRequest>>> = Arc::default();
        let recorded = requests.clone();
        let app = axum::Router::new().route(
            "/hub/sign-in",
            post(move |Json(request): Json<SignInRequest>| {
                let recorded = recorded.clone();
                async move {
                    let cookie = request.headers.cookie.clone().unwrap_or_default();
                    recorded.lock().unwrap().push(request);
                    answer(&cookie).await
                }
            }),
        );
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("the sign-in app serves");
        });
        Self { url, requests, task }
    }

    /// Every request the hub sent so far.
    pub fn requests(&self) -> Vec<SignInRequest> {
        self.requests.lock().unwrap().clone()
    }
}

async fn answer(cookie: &str) -> Response {
    let session = cookie.split(';').find_map(|pair| pair.trim().strip_prefix("session=")).unwrap_or_default();
    match session {
        "alice" => {
            Json(json!({"user": "alice", "rooms": ["lobby", "staff-news"], "info": {"role": "staff"}}))
                .into_response()
        }
        "bob" => Json(json!({"user": "bob"})).into_response(),
        "banned" => {
            (StatusCode::FORBIDDEN, Json(json!({"message": "your account is suspended"}))).into_response()
        }
        "bighead" => Json(json!({"user": "big", "info": {"bio": "x".repeat(2048)}})).into_response(),
        "broken" => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        "verbose" => Json(json!({"user": "verbose", "padding": "x".repeat(100 << 10)})).into_response(),
        "sleepy" => {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Json(json!({"user": "carol"})).into_response()
        }
        "slow" => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            StatusCode::NO_CONTENT.into_response()
        }
        _ => (StatusCode::UNAUTHORIZED, Json(json!({"message": "please sign in"}))).into_response(),
    }
}
