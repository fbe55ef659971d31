//! The HTTP publish API, for backends that would rather `curl` than hold a Socket.IO connection.
//!
//! * `POST /api/publish` `{"event":E,"data":D,"rooms":[...],"namespace":"/"}` -> `200 {"ok":true,"delivered":N}`
//! * `POST /api/batch` `{"messages":[...]}` (at most 100) -> `200 {"ok":true,"results":[ack, ...]}`
//!
//! Both need `Authorization: Bearer <publish token>` and `Content-Type: application/json`, take an
//! optional `Idempotency-Key`, and validate messages exactly like the `publish` event. Every error is
//! JSON `{"ok":false,"error":CODE,"message":TEXT}` with its HTTP status. The history and control APIs
//! ([`history`](super::history), [`control`](super::control)) share the admission and the errors.
//!
//! The body is read only once the request is admitted (token, rate, content type, announced size): so a
//! client without the token cannot make the hub read, or hold, a byte of body.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use governor::clock::Clock;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hub_protocol::payloads::API_BATCH_MAX_MESSAGES;
use hub_protocol::{
    Ack, ApiBatch, ApiBatchAck, ApiPublish, Argument, ErrorCode, NamespacePath, PublishAck, PublishRequest,
    Rejection,
};
use serde::Serialize;
use serde_json::Value;
use socketioxide::SocketIo;
use socketioxide::operators::BroadcastOperators;
use tokio::sync::Mutex;

use super::idempotency::{self, IdempotencyCache};
use crate::delivery::publishing::{Delivered, Publication, Via, published};
use crate::delivery::{Reached, Scope};
use crate::net::listener::Peer;
use crate::session::{OpenError, OpenOnDemand};
use crate::state::HubState;
use crate::telemetry::log_throttle::LogThrottle;
use crate::telemetry::metrics;

/// Header that makes a request idempotent.
const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Header that carries the request id (set by the hub when the client sent none).
pub const REQUEST_ID: &str = "x-request-id";

struct Api<A: OpenOnDemand> {
    io: SocketIo<A>,
    hub: HubState,
    /// Successful answers (status 200 bodies) by idempotency key.
    answers: IdempotencyCache<Value>,
    /// Held while a namespace is opened, so that two requests do not open the same one twice.
    opening: Mutex<()>,
}

impl<A: OpenOnDemand> Api<A> {
    /// The namespace at `path`; in a cluster, opened on this hub if none of its clients used it yet.
    async fn namespace(&self, path: &str) -> Result<Option<BroadcastOperators<A>>, OpenError> {
        if let Some(namespace) = self.io.of(path) {
            return Ok(Some(namespace));
        }
        let _opening = self.opening.lock().await;
        match self.io.of(path) {
            Some(namespace) => Ok(Some(namespace)),
            None => A::open(&self.io, path, &self.hub.limits).await,
        }
    }
}

impl From<OpenError> for ApiError {
    fn from(e: OpenError) -> Self {
        ApiError::new(ErrorCode::Unavailable, e.to_string())
    }
}

/// The API routes, publishing through `io`.
pub fn routes<A: OpenOnDemand>(io: SocketIo<A>, hub: HubState) -> Router {
    let api = Arc::new(Api { io, hub, answers: IdempotencyCache::default(), opening: Mutex::default() });
    Router::new()
        .route("/api/publish", post(publish::<A>))
        .route("/api/batch", post(batch::<A>))
        .with_state(api)
}

/// A refused API request: its status and the JSON error body.
#[derive(Debug)]
pub(super) struct ApiError(StatusCode, Rejection);

impl ApiError {
    pub(super) fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::from(Rejection::new(code, message))
    }

    #[cfg(test)]
    pub(super) fn status(&self) -> StatusCode {
        self.0
    }
}

impl From<Rejection> for ApiError {
    fn from(rejection: Rejection) -> Self {
        let status = match rejection.code {
            ErrorCode::BadRequest | ErrorCode::NotInRoom | ErrorCode::TooManyRooms => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::Forbidden => StatusCode::FORBIDDEN,
            ErrorCode::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        };
        Self(status, rejection)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let Self(status, rejection) = self;
        metrics::rejected(rejection.code);
        // HTTP clients and proxies understand `Retry-After`, in whole seconds; rounded up, never early.
        let retry_after = rejection.retry_after_ms.map(|millis| HeaderValue::from(millis.div_ceil(1_000)));
        let mut response = (status, Json(Ack::<PublishAck>::from(Err(rejection)))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, seconds);
        }
        response
    }
}

async fn publish<A: OpenOnDemand>(
    State(api): State<Arc<Api<A>>>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let outcome = async {
        admit(&api.hub, peer, &headers)?;
        require_json(&headers)?;
        let body = read_body(api.hub.limits.max_payload, &headers, body).await?;
        let message: ApiPublish = serde_json::from_slice(&body).map_err(|e| invalid_json(&e))?;
        let request_id = request_id(&headers);
        answer(&api, "publish", &headers, || async {
            let ack = publish_one(&api, message, &request_id, started).await?;
            Ok(json(&Ack::from(Ok::<_, Rejection>(ack))))
        })
        .await
    };
    respond(outcome.await)
}

async fn batch<A: OpenOnDemand>(
    State(api): State<Arc<Api<A>>>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let outcome = async {
        admit(&api.hub, peer, &headers)?;
        require_json(&headers)?;
        let body = read_body(api.hub.limits.max_payload, &headers, body).await?;
        let batch: ApiBatch = serde_json::from_slice(&body).map_err(|e| invalid_json(&e))?;
        if batch.messages.len() > API_BATCH_MAX_MESSAGES {
            let message = format!(
                "a batch holds at most {API_BATCH_MAX_MESSAGES} messages, got {}",
                batch.messages.len()
            );
            return Err(ApiError::new(ErrorCode::BadRequest, message));
        }
        let request_id = request_id(&headers);
        answer(&api, "batch", &headers, || async {
            let mut results = Vec::with_capacity(batch.messages.len());
            for message in batch.messages {
                let started = Instant::now();
                let outcome = match serde_json::from_value::<ApiPublish>(message) {
                    Ok(message) => publish_one(&api, message, &request_id, started).await.map_err(|e| e.1),
                    Err(e) => Err(Rejection::bad_request(format!("invalid message: {e}"))),
                };
                if let Err(rejection) = &outcome {
                    metrics::rejected(rejection.code);
                }
                results.push(Ack::from(outcome));
            }
            Ok(json(&Ack::from(Ok::<_, Rejection>(ApiBatchAck { results }))))
        })
        .await
    };
    respond(outcome.await)
}

/// The checks every API request passes before anything else, its body included: its address's failed
/// authentications, its token, its rate.
pub(super) fn admit(hub: &HubState, peer: SocketAddr, headers: &HeaderMap) -> Result<(), ApiError> {
    let failures = &hub.auth_failures;
    if let Err(throttled) = failures.check(peer.ip()) {
        static THROTTLED: LogThrottle = LogThrottle::new(Duration::from_secs(60));
        if let Some(held_back) = THROTTLED.due(Instant::now()) {
            tracing::warn!(%peer, held_back, "API requests refused: too many failed authentications from this address");
        }
        let message =
            "too many failed authentications from your address: retry later with the right publish token";
        return Err(Rejection::rate_limited(message, throttled.retry_after).into());
    }
    let token = bearer_token(headers).ok_or_else(|| {
        ApiError::new(ErrorCode::Unauthorized, "send the publish token as `Authorization: Bearer TOKEN`")
    })?;
    if !hub.publish_token.matches(token) {
        failures.failed(peer.ip());
        tracing::warn!(%peer, "API request refused: wrong publish token");
        return Err(ApiError::new(ErrorCode::Unauthorized, "wrong publish token"));
    }
    if let Some(limiter) = &hub.limits.api {
        if let Err(refused) = limiter.check_key(&peer.ip()) {
            let wait = refused.wait_time_from(limiter.clock().now());
            return Err(hub.limits.api_rate_limited(wait).into());
        }
        if limiter.len() > 10_000 {
            limiter.retain_recent();
        }
    }
    Ok(())
}

/// A body must be `Content-Type: application/json`.
pub(super) fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the body as `Content-Type: application/json`",
        ));
    }
    Ok(())
}

/// Reads the body of an admitted request, up to `--max-payload` bytes. A body announced as larger
/// (`Content-Length`) is refused before any of it is read; one that turns out larger while it arrives
/// (chunked), as soon as it passes the limit.
pub(super) async fn read_body(limit: usize, headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            ErrorCode::TooLarge,
            format!("the body is over the limit of {limit} bytes (the hub's --max-payload)"),
        )
    };
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if announced.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(too_large()),
        Err(e) => Err(ApiError::new(ErrorCode::BadRequest, format!("cannot read the body: {e}"))),
    }
}

/// The credentials of `Authorization: Bearer TOKEN`; the scheme's name is case-insensitive (RFC 7235).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Validates and delivers one message, exactly as the `publish` event would.
async fn publish_one<A: OpenOnDemand>(
    api: &Api<A>,
    message: ApiPublish,
    request_id: &str,
    started: Instant,
) -> Result<PublishAck, ApiError> {
    let (namespace, request) = message.into_parts();
    let namespace = NamespacePath::parse(namespace)?;
    let request = PublishRequest {
        event: request.event,
        data: Argument::from(request.data),
        rooms: request.rooms,
        history: request.history,
    };
    let publication = Publication::parse(request, namespace.as_str(), &api.hub.limits)?;
    let delivered = match api.namespace(namespace.as_str()).await? {
        Some(operators) => {
            publication
                .deliver(|| operators.clone(), None, namespace.as_str(), &api.hub.history, &api.hub.mode)
                .await?
        }
        // Alone, and nobody ever connected to this namespace: nobody to deliver to, but a client that
        // connects later may ask for the history.
        None => Delivered {
            reached: Reached { value: 0, scope: Scope::Cluster },
            recorded: publication.record(namespace.as_str(), &api.hub.history).await?,
        },
    };
    Ok(published(Via::Api(request_id), &publication.event, &publication.target, delivered, started))
}

/// Runs `run`, or returns the remembered answer when the request carries an idempotency key seen before.
async fn answer<F, Fut, A: OpenOnDemand>(
    api: &Api<A>,
    endpoint: &'static str,
    headers: &HeaderMap,
    run: F,
) -> Result<Value, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Value, ApiError>>,
{
    let Some(key) = headers.get(IDEMPOTENCY_KEY) else { return run().await };
    let key =
        key.to_str().ok().filter(|key| !key.is_empty() && key.len() <= idempotency::MAX_KEY_LEN).ok_or_else(
            || {
                let limit = idempotency::MAX_KEY_LEN;
                ApiError::new(
                    ErrorCode::BadRequest,
                    format!("Idempotency-Key must be 1 to {limit} visible ASCII characters"),
                )
            },
        )?;
    match api.answers.run(endpoint, key, run).await {
        Ok(Ok((answer, repeat))) => {
            if repeat {
                tracing::info!(
                    endpoint,
                    key,
                    "repeated request answered from the idempotency cache, not delivered again"
                );
            }
            Ok(answer)
        }
        Ok(Err(e)) => Err(e),
        Err(full) => Err(ApiError::new(ErrorCode::Unavailable, full.to_string())),
    }
}

pub(super) fn respond(outcome: Result<Value, ApiError>) -> Response {
    match outcome {
        Ok(body) => (StatusCode::OK, Json(body)).into_response(),
        Err(e) => e.into_response(),
    }
}

pub(super) fn json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("acks serialize")
}

pub(super) fn invalid_json(e: &serde_json::Error) -> ApiError {
    ApiError::new(ErrorCode::BadRequest, format!("invalid JSON body: {e}"))
}

fn request_id(headers: &HeaderMap) -> String {
    headers.get(REQUEST_ID).and_then(|id| id.to_str().ok()).unwrap_or("-").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        let token = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            bearer_token(&headers).map(str::to_owned)
        };
        for value in ["Bearer tok", "bearer tok", "BEARER  tok "] {
            assert_eq!(token(value).as_deref(), Some("tok"), "{value}");
        }
        assert_eq!(token("Basic dG9rOg=="), None);
        assert_eq!(token("Bearertok"), None);
    }

    #[tokio::test]
    async fn a_429_says_when_to_retry_in_the_body_and_in_retry_after() {
        let refused = Rejection::rate_limited("slow down", std::time::Duration::from_millis(1_200));
        let response = ApiError::from(refused).into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2", "whole seconds, rounded up");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"], "rate_limited");
        assert_eq!(body["retry_after_ms"], 1_200);
    }
}
