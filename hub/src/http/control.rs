//! The control API, for the application behind the hub: who is where, and disconnects, joins and leaves
//! on its request, cluster-wide with `--redis-url` ([`control`](crate::control)).
//!
//! * `GET /api/rooms?namespace=/` -> `{"ok":true,"rooms":[{"room","members"}]}`
//! * `GET /api/rooms/{room}?namespace=/` -> `{"ok":true,"room","members","users":[{"user","info","sockets"}]}`
//! * `GET /api/users/{user}` -> `{"ok":true,"user","sockets":[{"namespace","rooms"}]}`, `404` for a user
//!   with no socket
//! * `POST /api/disconnect` `{"user"}` or `{"room"}` (+ `namespace`, `reason`) -> `{"ok":true,"disconnected":N}`
//! * `POST /api/join`, `POST /api/leave` `{"user","room"}` (+ `namespace`) -> `{"ok":true,"sockets":N}`
//!
//! Admitted like the publish API ([`api`](super::api): failed authentications, `Bearer` token, rate;
//! bodies are JSON up to `--max-payload`), with the same error bodies. A namespace no hub serves is
//! `404 not_found`. An answer that may miss a hub's sockets says `"partial":true`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use hub_protocol::control::{
    ApiDisconnect, ApiMembership, DEFAULT_REASON, MAX_REASON_CHARS, MembershipChanged, Target,
};
use hub_protocol::{Ack, ErrorCode, NamespacePath, Rejection, RoomName, UserName};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;

use super::api::{ApiError, admit, invalid_json, json, read_body, require_json, respond};
use crate::control::{self, Change};
use crate::net::listener::Peer;
use crate::state::HubState;

struct Control<A: Adapter> {
    io: SocketIo<A>,
    hub: HubState,
}

/// The control routes, over `io`'s sockets.
pub fn routes<A: Adapter>(io: SocketIo<A>, hub: HubState) -> Router {
    Router::new()
        .route("/api/rooms", get(rooms::<A>))
        .route("/api/rooms/{room}", get(room::<A>))
        .route("/api/users/{user}", get(user::<A>))
        .route("/api/disconnect", post(disconnect::<A>))
        .route("/api/join", post(join::<A>))
        .route("/api/leave", post(leave::<A>))
        .with_state(Arc::new(Control { io, hub }))
}

async fn rooms<A: Adapter>(
    State(control): State<Arc<Control<A>>>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let outcome = async {
        admit(&control.hub, peer, &headers)?;
        let namespace = namespace_of(query.as_deref())?;
        let rooms = control::rooms(&control.io, &control.hub, &namespace).await;
        Ok(success(&rooms.ok_or_else(|| unknown(&namespace))?))
    };
    respond(outcome.await)
}

async fn room<A: Adapter>(
    State(control): State<Arc<Control<A>>>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    headers: HeaderMap,
    room: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Response {
    let outcome = async {
        admit(&control.hub, peer, &headers)?;
        let room = RoomName::parse(path(room)?)?;
        let namespace = namespace_of(query.as_deref())?;
        let users = control::room(&control.io, &control.hub, namespace.as_str(), &room).await;
        Ok(success(&users.ok_or_else(|| unknown(&namespace))?))
    };
    respond(outcome.await)
}

async fn user<A: Adapter>(
    State(control): State<Arc<Control<A>>>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    headers: HeaderMap,
    user: Result<Path<String>, PathRejection>,
) -> Response {
    let outcome = async {
        admit(&control.hub, peer, &headers)?;
        let user = UserName::parse(path(user)?)?;
        let sockets = control::user(&control.io, &control.hub, &user).await.ok_or_else(|| {
            ApiError::new(ErrorCode::NotFound, format!("user {:?} has no socket connected", user.as_str()))
        })?;
        Ok(success(&sockets))
    };
    respond(outcome.await)
}

async fn disconnect<A: Adapter>(
    State(control): State<Arc<Control<A>>>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let outcome = async {
        let request: ApiDisconnect = body_of(&control.hub, peer, &headers, body).await?;
        let reason = request.reason.unwrap_or_else(|| DEFAULT_REASON.to_owned());
        if reason.chars().count() > MAX_REASON_CHARS {
            let message = format!("`reason` is over {MAX_REASON_CHARS} characters");
            return Err(ApiError::new(ErrorCode::TooLarge, message));
        }
        let namespace = request.namespace.map(NamespacePath::parse).transpose()?;
        let (target, namespace) = match (request.user, request.room) {
            // A user's sockets in every namespace, unless one is named.
            (Some(user), None) => (Target::User(UserName::parse(user)?.into_string()), namespace),
            (None, Some(room)) => {
                let namespace = namespace.unwrap_or(NamespacePath::parse("/")?);
                (Target::Room(RoomName::parse(room)?.into_string()), Some(namespace))
            }
            _ => return Err(ApiError::new(ErrorCode::BadRequest, "give exactly one of `user` and `room`")),
        };
        let disconnected =
            control::disconnect(&control.io, &control.hub, namespace.as_ref(), target, reason).await;
        let unknown = || unknown(namespace.as_ref().expect("only a named namespace is unknown"));
        Ok(success(&disconnected.ok_or_else(unknown)?))
    };
    respond(outcome.await)
}

async fn join<A: Adapter>(
    State(control): State<Arc<Control<A>>>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(membership(&control, Change::Join, peer, &headers, body).await)
}

async fn leave<A: Adapter>(
    State(control): State<Arc<Control<A>>>,
    ConnectInfo(Peer(peer)): ConnectInfo<Peer>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(membership(&control, Change::Leave, peer, &headers, body).await)
}

/// `POST /api/join` and `/api/leave`: a user's sockets join or leave a room, as if they had asked.
async fn membership<A: Adapter>(
    control: &Control<A>,
    change: Change,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Body,
) -> Result<Value, ApiError> {
    let request: ApiMembership = body_of(&control.hub, peer, headers, body).await?;
    let user = UserName::parse(request.user)?;
    let room = RoomName::parse(request.room)?;
    let namespace = NamespacePath::parse(request.namespace.unwrap_or_else(|| "/".to_owned()))?;
    let (counts, changed): (_, MembershipChanged) =
        control::change(&control.io, &control.hub, change, &namespace, &user, &room).await;
    if !counts.known {
        return Err(unknown(&namespace));
    }
    if counts.found == 0 {
        let message =
            format!("user {:?} has no socket connected to namespace {}", user.as_str(), namespace.as_str());
        return Err(ApiError::new(ErrorCode::NotFound, message));
    }
    Ok(success(&changed))
}

/// Admits the request, then reads its JSON body as a `T`.
async fn body_of<T: DeserializeOwned>(
    hub: &HubState,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: Body,
) -> Result<T, ApiError> {
    admit(hub, peer, headers)?;
    require_json(headers)?;
    let body = read_body(hub.limits.max_payload, headers, body).await?;
    serde_json::from_slice(&body).map_err(|e| invalid_json(&e))
}

/// The namespace a query string names (`?namespace=/chat`), `/` when it names none.
fn namespace_of(query: Option<&str>) -> Result<NamespacePath, ApiError> {
    let mut namespace = None;
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match key.as_ref() {
            "namespace" if namespace.is_none() => namespace = Some(value.into_owned()),
            _ => {
                let message = format!("unexpected query parameter {key:?}: only `namespace` is read, once");
                return Err(ApiError::new(ErrorCode::BadRequest, message));
            }
        }
    }
    Ok(NamespacePath::parse(namespace.unwrap_or_else(|| "/".to_owned()))?)
}

fn path(segment: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    let Path(segment) = segment
        .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("invalid path: {}", e.body_text())))?;
    Ok(segment)
}

fn unknown(namespace: &NamespacePath) -> ApiError {
    let message = format!("no hub serves namespace {}: no client is connected to it", namespace.as_str());
    ApiError::new(ErrorCode::NotFound, message)
}

fn success<T: Serialize>(body: &T) -> Value {
    json(&Ack::from(Ok::<_, Rejection>(body)))
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    #[test]
    fn the_query_string_names_at_most_one_namespace() {
        let namespace = |query| namespace_of(query).map(|ns| ns.as_str().to_owned()).map_err(|e| e.status());
        assert_eq!(namespace(None), Ok("/".to_owned()));
        assert_eq!(namespace(Some("namespace=%2Fchat")), Ok("/chat".to_owned()));
        assert_eq!(namespace(Some("namespace=/a&namespace=/b")), Err(StatusCode::BAD_REQUEST));
        assert_eq!(namespace(Some("room=r")), Err(StatusCode::BAD_REQUEST));
        assert_eq!(namespace(Some("namespace=chat")), Err(StatusCode::BAD_REQUEST), "no leading slash");
    }
}
