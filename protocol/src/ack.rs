//! Acks: every ack the hub sends is one JSON object, `{"ok":true,...}` on success or
//! `{"ok":false,"error":CODE,"message":TEXT}` on failure (`echo` alone answers with its own arguments).
//! A `rate_limited` failure also says when the socket may try again: `"retry_after_ms":N`.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a request was refused. Serialized in `snake_case`, e.g. `"not_in_room"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The payload does not have the documented shape, or a name or text breaks its rules.
    BadRequest,
    /// The socket may not do this (e.g. `publish` without the publish token).
    Forbidden,
    /// A `chat` to a room the sender has not joined.
    NotInRoom,
    /// A field is over its size limit.
    TooLarge,
    /// The socket sends faster than its rate limit allows.
    RateLimited,
    /// A `join` beyond the most rooms one socket may be in (`--max-rooms-per-socket`).
    TooManyRooms,
    /// The hub could not carry out a valid request (e.g. its cluster adapter failed); retry later.
    Unavailable,
    /// HTTP API only: the `Authorization: Bearer` publish token is missing or wrong.
    Unauthorized,
    /// HTTP API only: the body is not `application/json`.
    UnsupportedMediaType,
    /// HTTP API only: the hub has nothing of the kind asked for (`GET /api/history` on a hub that keeps
    /// no history).
    NotFound,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotInRoom => "not_in_room",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::TooManyRooms => "too_many_rooms",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::NotFound => "not_found",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused request: the code plus a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Rejection {
    pub code: ErrorCode,
    pub message: String,
    /// For `rate_limited`: milliseconds until the socket may send again. A refused request was not
    /// carried out, so sending it again after this wait cannot deliver it twice.
    pub retry_after_ms: Option<u64>,
}

impl Rejection {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), retry_after_ms: None }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    /// `rate_limited`, with the time until a retry can succeed. The wait is rounded up to whole
    /// milliseconds, so a client that waits exactly that long is never early.
    pub fn rate_limited(message: impl Into<String>, wait: Duration) -> Self {
        let millis = u64::try_from(wait.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX);
        Self { retry_after_ms: Some(millis), ..Self::new(ErrorCode::RateLimited, message) }
    }

    /// How long to wait before sending the refused request again, when the hub said so.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after_ms.map(Duration::from_millis)
    }
}

/// A JSON boolean that only ever holds `B`: it makes the `ok` field part of the type, so a
/// success body can never be parsed from a failure ack or the other way round.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Literal<const B: bool>;

impl<const B: bool> Serialize for Literal<B> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bool(B)
    }
}

impl<'de, const B: bool> Deserialize<'de> for Literal<B> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if bool::deserialize(deserializer)? == B {
            Ok(Literal)
        } else {
            Err(serde::de::Error::custom(format_args!("expected `ok` to be {B}")))
        }
    }
}

/// `{"ok":true, ...body}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Success<T> {
    ok: Literal<true>,
    #[serde(flatten)]
    pub body: T,
}

/// `{"ok":false,"error":CODE,"message":TEXT}`, plus `"retry_after_ms":N` (a whole number) for
/// `rate_limited`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    ok: Literal<false>,
    pub error: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl From<Rejection> for Failure {
    fn from(rejection: Rejection) -> Self {
        Self {
            ok: Literal,
            error: rejection.code,
            message: rejection.message,
            retry_after_ms: rejection.retry_after_ms,
        }
    }
}

impl From<Failure> for Rejection {
    fn from(failure: Failure) -> Self {
        Rejection { code: failure.error, message: failure.message, retry_after_ms: failure.retry_after_ms }
    }
}

/// One ack as it travels: success with a body `T`, or a failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Ack<T> {
    Ok(Success<T>),
    Err(Failure),
}

impl<T> From<Result<T, Rejection>> for Ack<T> {
    fn from(result: Result<T, Rejection>) -> Self {
        match result {
            Ok(body) => Ack::Ok(Success { ok: Literal, body }),
            Err(rejection) => Ack::Err(rejection.into()),
        }
    }
}

impl<T> From<Ack<T>> for Result<T, Rejection> {
    fn from(ack: Ack<T>) -> Self {
        match ack {
            Ack::Ok(success) => Ok(success.body),
            Ack::Err(failure) => Err(failure.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payloads::PublishAck;
    use serde_json::json;

    #[test]
    fn success_and_failure_have_the_documented_shape() {
        let ok: Ack<PublishAck> =
            Ok(PublishAck { delivered: 3, partial: false, recorded: Vec::new() }).into();
        assert_eq!(serde_json::to_value(ok).unwrap(), json!({"ok": true, "delivered": 3}));
        let partial: Ack<PublishAck> =
            Ok(PublishAck { delivered: 1, partial: true, recorded: Vec::new() }).into();
        assert_eq!(
            serde_json::to_value(partial).unwrap(),
            json!({"ok": true, "delivered": 1, "partial": true})
        );

        let err: Ack<PublishAck> = Err(Rejection::new(ErrorCode::NotInRoom, "join it first")).into();
        assert_eq!(
            serde_json::to_value(err).unwrap(),
            json!({"ok": false, "error": "not_in_room", "message": "join it first"})
        );
    }

    #[test]
    fn parsing_respects_the_ok_flag() {
        let failure = json!({"ok": false, "error": "forbidden", "message": "no"});
        let parsed: Ack<PublishAck> = serde_json::from_value(failure).unwrap();
        assert!(matches!(parsed, Ack::Err(Failure { error: ErrorCode::Forbidden, .. })));

        let lying = json!({"ok": false, "delivered": 1});
        assert!(serde_json::from_value::<Ack<PublishAck>>(lying).is_err());
    }

    #[test]
    fn rate_limited_failures_say_when_to_retry() {
        let wait = Duration::from_micros(12_300);
        let err: Ack<PublishAck> = Err(Rejection::rate_limited("slow down", wait)).into();
        let wire =
            json!({"ok": false, "error": "rate_limited", "message": "slow down", "retry_after_ms": 13});
        assert_eq!(serde_json::to_value(&err).unwrap(), wire, "rounded up, never early");

        let parsed: Ack<PublishAck> = serde_json::from_value(wire).unwrap();
        let rejection = Result::<PublishAck, Rejection>::from(parsed).unwrap_err();
        assert_eq!(rejection.retry_after(), Some(Duration::from_millis(13)));
        assert_eq!(Rejection::rate_limited("x", Duration::from_nanos(1)).retry_after_ms, Some(1));

        let without: Ack<PublishAck> =
            serde_json::from_value(json!({"ok": false, "error": "forbidden", "message": "no"})).unwrap();
        assert!(matches!(without, Ack::Err(Failure { retry_after_ms: None, .. })));
        for bad in [json!(-1), json!(1.5), json!("13")] {
            let lying = json!({"ok": false, "error": "rate_limited", "message": "m", "retry_after_ms": bad});
            assert!(serde_json::from_value::<Ack<PublishAck>>(lying).is_err(), "{bad} is not a whole number");
        }
    }
}
