//! The `/admin` namespace: who may connect, what a UI gets when it does, and its operations.
//!
//! Admission runs before the CONNECT reply, like the hub's other namespaces (`session`): the address's
//! failed logins are checked first (`policy::auth_failures`, shared with tokens), then the credentials;
//! a refusal is the error `invalid credentials`, the one message the UI translates. Once connected, the
//! UI gets a session id when it signed in with the password (`session`), what it may do (`config`), this hub's `server_stats`, and
//! every socket of the cluster (`all_sockets`).
//!
//! The operations have no ack in the UI's protocol; a client that asks for one gets the counts
//! (`{"ok":true,"sockets":N,"partial":...}`) or the reason it was refused. Each is logged, as an
//! operator's action on other people's connections should be.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hub_protocol::admin::{
    self, ALL_SOCKETS, AdminAuth, AdminOperation, CONFIG, INVALID_CREDENTIALS, SERVER_STATS, SESSION,
    SIGN_IN_REQUIRED, Selection,
};
use hub_protocol::{Ack, Argument, Arguments, ErrorCode, EventName, NamespacePath, Rejection, RoomName};
use serde::Serialize;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, SocketRef, State, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide_core::adapter::DefinedAdapter;

use super::credentials::{NotChecked, SignedIn};
use super::{Admin, MAX_WATCHERS};
use crate::control;
use crate::session::peer_ip;
use crate::state::HubState;
use crate::telemetry::log_throttle::LogThrottle;
use crate::telemetry::metrics;

/// Why a connection to `/admin` was refused; the text is what the UI shows.
#[derive(Debug, thiserror::Error)]
pub enum AdminRefusal {
    #[error("{INVALID_CREDENTIALS}")]
    InvalidCredentials,
    /// No user name, password or session id at all: what the UI sends on its first visit, before
    /// anything was typed. Not a failed guess, and not called invalid.
    #[error("{SIGN_IN_REQUIRED}")]
    NoCredentials,
    #[error("too many failed logins from your address: retry in {} s", .0.as_secs_f64().ceil())]
    Throttled(Duration),
    #[error("too many Admin UIs are open on this hub (at most {MAX_WATCHERS})")]
    TooMany,
    #[error("too many logins are being checked: retry in a few seconds")]
    Busy,
}

/// Opens the `/admin` namespace on `io`.
pub fn register<A: Adapter + DefinedAdapter>(io: &SocketIo<A>) -> A::InitRes {
    io.ns(admin::NAMESPACE, on_connect::<A>.with(admit::<A>))
}

async fn admit<A: Adapter>(
    socket: SocketRef<A>,
    io: SocketIo<A>,
    TryData(auth): TryData<AdminAuth>,
    State(hub): State<HubState>,
) -> Result<(), AdminRefusal> {
    let Some(admin) = hub.admin.clone() else { return Err(AdminRefusal::InvalidCredentials) };
    let peer = peer_ip(&socket);
    if let Some(ip) = peer
        && let Err(throttled) = hub.auth_failures.check(ip)
    {
        metrics::admin_sign_in("refused");
        return Err(AdminRefusal::Throttled(throttled.retry_after));
    }
    let auth = auth.unwrap_or_default();
    if auth.username.is_none() && auth.password.is_none() && auth.session_id.is_none() {
        return Err(AdminRefusal::NoCredentials);
    }
    let gate = || match peer {
        Some(ip) => hub.auth_failures.check(ip),
        None => Ok(()),
    };
    let signed_in = match admin.credentials.check_behind(&auth, gate).await {
        Ok(signed_in) => signed_in,
        Err(NotChecked::Throttled(throttled)) => {
            metrics::admin_sign_in("refused");
            return Err(AdminRefusal::Throttled(throttled.retry_after));
        }
        Err(NotChecked::Busy) => {
            metrics::admin_sign_in("busy");
            return Err(AdminRefusal::Busy);
        }
    };
    let Some(signed_in) = signed_in else {
        if let Some(ip) = peer {
            hub.auth_failures.failed(ip);
        }
        metrics::admin_sign_in("refused");
        static REFUSED: LogThrottle = LogThrottle::new(Duration::from_secs(10));
        if let Some(held_back) = REFUSED.due(Instant::now()) {
            tracing::warn!(ip = ?peer, held_back, "Admin UI login refused: invalid credentials");
        }
        return Err(AdminRefusal::InvalidCredentials);
    };
    if admin.feed.local_watchers() >= MAX_WATCHERS {
        return Err(AdminRefusal::TooMany);
    }
    metrics::admin_sign_in(match signed_in {
        SignedIn::Password => "password",
        SignedIn::Session => "session",
    });
    tracing::info!(sid = %socket.id, ip = ?peer, how = ?signed_in, "Admin UI connected");
    socket.extensions.insert(signed_in);
    admin.feed.watcher_connected();
    let watcher = admin.clone();
    socket.on_disconnect(move || async move { watcher.feed.watcher_disconnected() });
    register_operations(&socket, &admin, io);
    Ok(())
}

async fn on_connect<A: Adapter>(socket: SocketRef<A>, io: SocketIo<A>, State(hub): State<HubState>) {
    let Some(admin) = hub.admin.clone() else { return };
    // What a UI needs before anything else, in the order the official server sends it.
    // A session id only at a login with the password: a session ends a day after that login.
    if socket.extensions.get::<SignedIn>() == Some(SignedIn::Password) {
        let _ = socket.emit(SESSION, &admin.credentials.new_session());
    }
    let _ = socket.emit(CONFIG, &admin.ui_config());
    let _ = socket.emit(SERVER_STATS, &admin.server_stats(&hub.limits));
    admin.announce_watched().await;
    let (sockets, truncated, partial) = control::admin_sockets(&io, &hub).await;
    if truncated || partial {
        tracing::info!(
            sockets = sockets.len(),
            truncated,
            partial,
            "Admin UI given an incomplete list of sockets"
        );
    }
    let _ = socket.emit(ALL_SOCKETS, &sockets);
}

fn register_operations<A: Adapter>(socket: &SocketRef<A>, admin: &Arc<Admin>, io: SocketIo<A>) {
    for event in [admin::EMIT, admin::JOIN, admin::LEAVE, admin::DISCONNECT] {
        let (read_only, io) = (admin.read_only, io.clone());
        socket.on(
            event,
            move |TryData(arguments): TryData<Arguments>, State(hub): State<HubState>, ack: AckSender<A>| {
                let io = io.clone();
                async move {
                    let outcome = match (read_only, arguments) {
                        (true, _) => Err(Rejection::new(
                            ErrorCode::Forbidden,
                            "the Admin UI is read-only on this hub (--admin-read-only)",
                        )),
                        (false, Err(e)) => Err(Rejection::bad_request(format!("invalid arguments: {e}"))),
                        (false, Ok(arguments)) => match operation(event, arguments.0) {
                            Ok(operation) => Ok(carry_out(&io, &hub, operation).await),
                            Err(rejection) => Err(rejection),
                        },
                    };
                    if let Err(rejection) = &outcome {
                        tracing::info!(event, code = %rejection.code, "Admin UI operation refused: {}", rejection.message);
                    }
                    let _ = ack.send(&Ack::from(outcome));
                }
            },
        );
    }
}

/// The answer to an operation whose ack was asked for (after `"ok":true`).
#[derive(Debug, Serialize)]
struct Done {
    /// Sockets the operation reached (joined, left, disconnected, emitted to).
    sockets: usize,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    partial: bool,
}

async fn carry_out<A: Adapter>(io: &SocketIo<A>, hub: &HubState, operation: AdminOperation) -> Done {
    let described = describe(&operation);
    let (counts, partial) = control::admin(io, hub, operation).await;
    tracing::info!(sockets = counts.done, refused = counts.refused, partial, "Admin UI: {described}");
    Done { sockets: counts.done, partial }
}

/// What the UI asked, from the event's arguments: `(namespace, filter, event, ...arguments)` for `emit`,
/// `(namespace, room, filter)` for `join` and `leave`, `(namespace, close, filter)` for `_disconnect`.
fn operation(event: &str, arguments: Vec<Argument>) -> Result<AdminOperation, Rejection> {
    let mut arguments = arguments.into_iter();
    let namespace = match arguments.next() {
        Some(Argument::String(path)) => NamespacePath::parse(path)?.as_str().to_owned(),
        _ => return Err(Rejection::bad_request("the first argument must be the namespace")),
    };
    let filter = |argument: Option<Argument>| match argument {
        None | Some(Argument::Null) => Ok(None),
        Some(Argument::String(filter)) if filter.is_empty() => Ok(None),
        Some(Argument::String(filter)) => Ok(Some(RoomName::parse(filter)?.into_string())),
        Some(_) => Err(Rejection::bad_request("the filter must be a room, a socket id or null")),
    };
    match event {
        admin::EMIT => {
            let filter = filter(arguments.next())?;
            let event = match arguments.next() {
                Some(Argument::String(event)) => EventName::parse(event)?,
                _ => return Err(Rejection::bad_request("the third argument must be the event's name")),
            };
            let args = arguments.map(|argument| serde_json::to_value(&argument)).collect::<Result<_, _>>();
            let args = args.map_err(|e| Rejection::bad_request(format!("invalid arguments: {e}")))?;
            let sockets = Selection { namespace, filter };
            Ok(AdminOperation::Emit { sockets, event: event.as_str().to_owned(), args })
        }
        admin::JOIN | admin::LEAVE => {
            let room = match arguments.next() {
                Some(Argument::String(room)) => RoomName::parse(room)?.into_string(),
                _ => return Err(Rejection::bad_request("the second argument must be the room")),
            };
            let sockets = Selection { namespace, filter: filter(arguments.next())? };
            Ok(match event {
                admin::JOIN => AdminOperation::Join { sockets, room },
                _ => AdminOperation::Leave { sockets, room },
            })
        }
        _ => {
            let close = matches!(arguments.next(), Some(Argument::Bool(true)));
            let sockets = Selection { namespace, filter: filter(arguments.next())? };
            Ok(AdminOperation::Disconnect { sockets, close })
        }
    }
}

/// One line for the log.
fn describe(operation: &AdminOperation) -> String {
    let who = |sockets: &Selection| match &sockets.filter {
        Some(filter) => format!("the sockets of {} in {filter:?}", sockets.namespace),
        None => format!("every socket of {}", sockets.namespace),
    };
    match operation {
        AdminOperation::Emit { sockets, event, .. } => format!("emitted {event:?} to {}", who(sockets)),
        AdminOperation::Join { sockets, room } => format!("{} joined {room:?}", who(sockets)),
        AdminOperation::Leave { sockets, room } => format!("{} left {room:?}", who(sockets)),
        AdminOperation::Disconnect { sockets, close } => {
            format!("disconnected {}{}", who(sockets), if *close { " and their clients" } else { "" })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &str) -> Argument {
        Argument::String(value.to_owned())
    }

    #[test]
    fn the_ui_s_arguments_become_operations() {
        let join = operation(admin::JOIN, vec![text("/"), text("lobby"), text("abc")]).unwrap();
        let sockets = Selection { namespace: "/".into(), filter: Some("abc".into()) };
        assert_eq!(join, AdminOperation::Join { sockets, room: "lobby".into() });

        let all =
            operation(admin::DISCONNECT, vec![text("/"), Argument::Bool(false), Argument::Null]).unwrap();
        let sockets = Selection { namespace: "/".into(), filter: None };
        assert_eq!(all, AdminOperation::Disconnect { sockets, close: false });

        let emit = operation(admin::EMIT, vec![text("/"), Argument::Null, text("news"), text("hi")]).unwrap();
        let AdminOperation::Emit { event, args, .. } = emit else { panic!("{emit:?}") };
        assert_eq!((event.as_str(), args), ("news", vec![serde_json::json!("hi")]));
    }

    #[test]
    fn bad_arguments_are_refused_with_a_reason() {
        for (event, arguments) in [
            (admin::JOIN, vec![]),
            (admin::JOIN, vec![text("/")]),
            (admin::JOIN, vec![text("no-slash"), text("room")]),
            (admin::EMIT, vec![text("/"), Argument::Null, text("connect")]),
            (admin::LEAVE, vec![text("/"), text("room"), Argument::Bool(true)]),
        ] {
            let refused = operation(event, arguments.clone());
            assert!(refused.is_err(), "{event} {arguments:?} accepted");
        }
    }
}
