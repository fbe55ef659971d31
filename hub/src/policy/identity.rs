//! Who a connecting socket is, from its auth payload: a publisher (the publish token), a user vouched
//! for by a JWT (JWT mode), a user the application signed in (`--auth-url`), or a user with a name of its
//! own choosing (open mode).

use std::sync::Arc;
use std::time::Duration;

use hub_protocol::auth::INVALID_TOKEN_MESSAGE;
use hub_protocol::sign_in::SignInRequest;
use hub_protocol::{ConnectAuth, UserName};
use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;
use socketioxide::{ParserError, ProtocolVersion};

use super::app_sign_in::AppSignInError;
use super::jwt::JwtError;
use super::limits::Full;
use super::sign_in::SignIn;
use super::token::PublishToken;

/// What the hub knows about a connected socket.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The name shown on its chat messages.
    pub user: UserName,
    /// Whether it connected with the publish token.
    pub publisher: bool,
    /// The only rooms it may join (from its token's `rooms` claim, or the application's answer); `None`:
    /// any room.
    pub rooms: Option<Arc<[String]>>,
    /// Public data about its user, shown to the other members of its rooms (`who`, `presence`): what
    /// the application's sign-in (`--auth-url`) said; `None` for every other kind of user.
    pub info: Option<Arc<serde_json::Value>>,
    /// Whether it asked for published events' metadata (`auth: {meta: true}`; see [`meta_rooms`]).
    pub meta: bool,
}

impl Identity {
    /// Whether this socket may join `room`.
    pub fn may_join(&self, room: &str) -> bool {
        self.rooms.as_ref().is_none_or(|rooms| rooms.iter().any(|r| r == room))
    }
}

/// Why a connection was refused; the text is the `connect_error` message the client sees.
#[derive(Debug, thiserror::Error)]
pub enum ConnectRefusal {
    #[error("{0}")]
    Namespace(String),
    /// The payload does not parse: its own message says which field, the rest what the fields are.
    #[error(
        "invalid auth payload: {0}; expected an object like {{\"user\":NAME,\"token\":TOKEN,\"meta\":true}}, \
         with {{\"since\":{{\"offset\":N,\"epoch\":E}}}} or {{\"history\":N}} to recover the namespace's events"
    )]
    MalformedAuth(#[source] ParserError),
    #[error("{INVALID_TOKEN_MESSAGE}")]
    InvalidToken,
    #[error("invalid user: {0}")]
    User(String),
    #[error(transparent)]
    Jwt(#[from] JwtError),
    #[error(transparent)]
    App(#[from] AppSignInError),
    #[error(transparent)]
    Full(#[from] Full),
    #[error("the namespace was closed as unused just now: connect again")]
    Reclaimed,
    #[error(
        "too many failed authentications from your address: retry in {} s with a valid token",
        .0.as_secs_f64().ceil()
    )]
    Throttled(Duration),
}

impl ConnectRefusal {
    /// Whether the refusal counts as a failed guess of a secret (see `auth_failures`): a wrong publish
    /// token, a JWT with a bad signature or that does not parse.
    pub fn is_guess(&self) -> bool {
        match self {
            ConnectRefusal::InvalidToken => true,
            ConnectRefusal::Jwt(e) => e.is_guess(),
            _ => false,
        }
    }

    /// Whether the application that signs users in refused the socket (`401`/`403`).
    pub fn is_refused_by_app(&self) -> bool {
        matches!(self, ConnectRefusal::App(AppSignInError::Refused(_)))
    }
}

/// Who the auth payload says the socket of `namespace` is: a publisher (the publish token), or a user
/// as `sign_in` has it: one vouched for by a JWT that admits `namespace`, one the application signed in
/// (`ask_app` makes the request it is sent), or one with a name of its own choosing (open mode).
pub async fn identify(
    publish_token: &PublishToken,
    sign_in: &SignIn,
    auth: ConnectAuth,
    namespace: &str,
    sid: &str,
    ask_app: impl FnOnce() -> SignInRequest,
) -> Result<Identity, ConnectRefusal> {
    let own_name = |user: Option<String>| match user {
        Some(name) => UserName::parse(name).map_err(|r| ConnectRefusal::User(r.message)),
        None => Ok(UserName::anonymous(sid)),
    };
    let meta = auth.meta;
    if auth.token.as_deref().is_some_and(|token| publish_token.matches(token)) {
        return Ok(Identity { user: own_name(auth.user)?, publisher: true, rooms: None, info: None, meta });
    }
    match (sign_in, auth.token) {
        (SignIn::Jwt(jwt), Some(token)) => {
            let claims = jwt.verify(&token)?;
            if !claims.admits(namespace) {
                return Err(JwtError::Namespace(namespace.to_owned()).into());
            }
            let user = UserName::parse(claims.sub)
                .map_err(|r| JwtError::Invalid(format!("`sub` is not a valid user name: {}", r.message)))?;
            Ok(Identity { user, publisher: false, rooms: claims.rooms.map(Arc::from), info: None, meta })
        }
        (SignIn::Jwt(_), None) => Err(JwtError::Missing.into()),
        (SignIn::App(app), _) => Ok(app.sign_in(ask_app(), meta).await?),
        (SignIn::Open, Some(_)) => Err(ConnectRefusal::InvalidToken),
        (SignIn::Open, None) => {
            Ok(Identity { user: own_name(auth.user)?, publisher: false, rooms: None, info: None, meta })
        }
    }
}

/// A socket.io v2 client (Engine.IO 3, accepted with `--allow-eio3`) sends no CONNECT payload: it gives
/// `user` and `token` in the query string of the request that opened its session, read here in their
/// place. Only those two fields are taken, so the rest of the query (`EIO`, `transport`, ...) never
/// passes for auth fields. `None` for every other client, whose query string is ignored.
pub fn query_auth<A: Adapter>(socket: &SocketRef<A>) -> Option<ConnectAuth> {
    if socket.protocol() != ProtocolVersion::V4 {
        return None;
    }
    let query = socket.req_parts().uri.query().unwrap_or_default();
    // A query string holds only text: `meta=true` stands for the auth payload's boolean.
    let fields: serde_json::Map<String, serde_json::Value> = url::form_urlencoded::parse(query.as_bytes())
        .filter_map(|(key, value)| match key.as_ref() {
            "user" | "token" => Some((key.into_owned(), value.into_owned().into())),
            "meta" => Some((key.into_owned(), (value == "true").into())),
            _ => None,
        })
        .collect();
    // Through serde rather than a struct literal, so fields added to the auth payload keep their defaults.
    serde_json::from_value(fields.into()).ok()
}
