//! Acks: every ack the hub sends is one JSON object, `{"ok":true,...}` on success or
//! `{"ok":false,"error":CODE,"message":TEXT}` on failure (`echo` alone answers with its own arguments).

use std::fmt;

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
    /// The hub could not carry out a valid request (e.g. its cluster adapter failed); retry later.
    Unavailable,
    /// HTTP API only: the `Authorization: Bearer` publish token is missing or wrong.
    Unauthorized,
    /// HTTP API only: the body is not `application/json`.
    UnsupportedMediaType,
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
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
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
}

impl Rejection {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
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

/// `{"ok":false,"error":CODE,"message":TEXT}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    ok: Literal<false>,
    pub error: ErrorCode,
    pub message: String,
}

impl From<Rejection> for Failure {
    fn from(rejection: Rejection) -> Self {
        Self { ok: Literal, error: rejection.code, message: rejection.message }
    }
}

impl From<Failure> for Rejection {
    fn from(failure: Failure) -> Self {
        Rejection::new(failure.error, failure.message)
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
        let ok: Ack<PublishAck> = Ok(PublishAck { delivered: 3, partial: false }).into();
        assert_eq!(serde_json::to_value(ok).unwrap(), json!({"ok": true, "delivered": 3}));
        let partial: Ack<PublishAck> = Ok(PublishAck { delivered: 1, partial: true }).into();
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
}
