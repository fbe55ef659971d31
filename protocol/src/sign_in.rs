//! Sign-in through the application (`--auth-url`): what the hub asks the application when a browser
//! connects, and what the application answers.
//!
//! At each CONNECT that does not carry the publish token, the hub POSTs a [`SignInRequest`] as JSON to
//! the application's URL. The application answers `200` with a [`SignInAnswer`] to let the user in, or
//! `401`/`403` with a [`SignInRefusal`], whose message becomes the client's `connect_error` message.

use serde::{Deserialize, Serialize};

/// Largest `info` the application may give a user, as JSON: other members see it (`who`, `presence`).
pub const MAX_INFO_BYTES: usize = 1024;

/// Largest `message` of a refusal passed on to the client, in characters; a longer one is cut.
pub const MAX_REFUSAL_MESSAGE_CHARS: usize = 200;

/// The `connect_error` message of a refusal whose body says nothing usable.
pub const DEFAULT_REFUSAL_MESSAGE: &str = "sign-in refused";

/// What the hub sends the application about a connecting socket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignInRequest {
    /// The namespace the socket connects to, e.g. `/` or `/orders`.
    pub namespace: String,
    /// The client's CONNECT auth payload, without the hub's own fields (`meta`, `since`, `history`):
    /// `{}` when it sent none.
    pub auth: serde_json::Map<String, serde_json::Value>,
    /// Headers of the request that opened the client's session.
    pub headers: SignInHeaders,
    /// The client's IP address, as the hub sees it (no proxy header is trusted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// The headers of the client's opening request that the application may need; absent ones are omitted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInHeaders {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    #[serde(default, rename = "user-agent", skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

/// The application's `200` answer: who the user is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignInAnswer {
    /// The user's name, shown on its chat messages (the rules of [`UserName`](crate::UserName)).
    pub user: String,
    /// The only rooms this socket may join; absent: any room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rooms: Option<Vec<String>>,
    /// Public data about the user, shown to the other members of its rooms; at most
    /// [`MAX_INFO_BYTES`] as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<serde_json::Value>,
}

/// The application's `401` or `403` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInRefusal {
    /// Shown to the client as the `connect_error` message (cut at [`MAX_REFUSAL_MESSAGE_CHARS`]).
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_request_has_the_documented_shape() {
        let request = SignInRequest {
            namespace: "/".to_owned(),
            auth: serde_json::Map::new(),
            headers: SignInHeaders {
                cookie: Some("session=abc".to_owned()),
                user_agent: Some("test".to_owned()),
                ..SignInHeaders::default()
            },
            address: Some("127.0.0.1".to_owned()),
        };
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({"namespace": "/", "auth": {}, "headers": {"cookie": "session=abc", "user-agent": "test"},
                   "address": "127.0.0.1"})
        );
    }

    #[test]
    fn an_answer_needs_a_user_and_may_omit_rooms_and_info() {
        let answer: SignInAnswer = serde_json::from_value(json!({"user": "alice"})).unwrap();
        assert_eq!((answer.rooms, answer.info), (None, None));
        let answer: SignInAnswer =
            serde_json::from_value(json!({"user": "alice", "rooms": ["lobby"], "info": {"avatar": "a.png"}}))
                .unwrap();
        assert_eq!(answer.rooms, Some(vec!["lobby".to_owned()]));
        assert!(serde_json::from_value::<SignInAnswer>(json!({"rooms": []})).is_err());
    }
}
