//! The control API as the application calls it: JSON requests with the publish token, answers read as
//! status and JSON body.

use reqwest::StatusCode;
use serde_json::Value;

use crate::hub::TOKEN;

/// `GET path` with the publish token.
pub async fn get(url: &str, path: &str) -> (StatusCode, Value) {
    send(reqwest::Client::new().get(format!("{url}{path}")).bearer_auth(TOKEN)).await
}

/// `POST path` with `body` as JSON and the publish token.
pub async fn post(url: &str, path: &str, body: &Value) -> (StatusCode, Value) {
    send(reqwest::Client::new().post(format!("{url}{path}")).bearer_auth(TOKEN).json(body)).await
}

/// Sends `request`; the status and the JSON body (the test fails on a body that is not JSON).
pub async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.expect("the hub answers");
    let status = response.status();
    let text = response.text().await.expect("a body");
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: the body is JSON: {text:?}"));
    (status, body)
}

/// Asserts a refusal: `status`, `"ok":false`, the error code and a message.
pub fn assert_error(answer: &(StatusCode, Value), status: StatusCode, code: &str) {
    let (actual, body) = answer;
    assert_eq!(*actual, status, "{body}");
    assert_eq!((&body["ok"], &body["error"]), (&Value::Bool(false), &Value::from(code)), "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
}
