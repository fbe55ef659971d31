//! Admission: who a socket is, and which events it can send.
//!
//! The admission middleware runs before socketioxide sends the CONNECT reply. It checks the namespace and
//! the auth payload, records the socket's [`Identity`], and registers every event handler and the
//! disconnect handler right there. The client can only emit once it has the CONNECT reply, so its first
//! event always finds its handler; handlers registered in the (spawned) connect handler could miss it,
//! and a socket that dropped before that handler ran would never be taken out of the room sizes.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use hub_protocol::{ConnectAuth, NamespacePath};
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{Extension, SocketRef, State, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::socket::DisconnectReason;
use socketioxide_core::adapter::DefinedAdapter;

use crate::delivery::meta_rooms;
use crate::events;
use crate::net::listener::Peer;
use crate::policy::identity::{ConnectRefusal, Identity, identify, query_auth};
use crate::policy::limits::ConnectionSlot;
use crate::state::HubState;
use crate::telemetry::log_throttle::LogThrottle;

/// Serves `/` and every namespace matching `/[A-Za-z0-9_-]{1,64}` with the same events.
pub fn register<A: Adapter + DefinedAdapter>(io: &SocketIo<A>) -> A::InitRes {
    io.dyn_ns("/{namespace}", on_connect::<A>.with(admit::<A>))
        .expect("`/{namespace}` is a valid namespace pattern");
    io.ns("/", on_connect::<A>.with(admit::<A>))
}

async fn admit<A: Adapter>(
    socket: SocketRef<A>,
    io: SocketIo<A>,
    TryData(auth): TryData<ConnectAuth>,
    State(hub): State<HubState>,
) -> Result<(), ConnectRefusal> {
    admit_namespace(&socket, &io, &hub)?;
    let auth = auth.map_err(|_| ConnectRefusal::MalformedAuth)?;
    let auth = query_auth(&socket).unwrap_or(auth);
    let identity = authenticate(&socket, &hub, auth)?;
    let slot = hub.limits.admit(socket.ns()).map_err(ConnectRefusal::Full).inspect_err(|refusal| {
        tracing::warn!(sid = %socket.id, ns = socket.ns(), "connection refused: {refusal}");
    })?;
    if identity.meta {
        socket.join(meta_rooms::ALL);
    }
    socket.extensions.insert(identity);
    socket.extensions.insert(slot);
    socket.extensions.insert(hub.limits.socket_rate());
    events::register(&socket);
    socket.on_disconnect(on_disconnect::<A>);
    Ok(())
}

/// Who the socket is, behind the gate on its address's failed authentications: an address that failed
/// too often is refused before its token is even looked at (`policy::auth_failures`).
fn authenticate<A: Adapter>(
    socket: &SocketRef<A>,
    hub: &HubState,
    auth: ConnectAuth,
) -> Result<Identity, ConnectRefusal> {
    let peer = peer_ip(socket);
    if auth.token.is_some()
        && let Some(ip) = peer
        && let Err(throttled) = hub.auth_failures.check(ip)
    {
        static THROTTLED: LogThrottle = LogThrottle::new(Duration::from_secs(60));
        if let Some(held_back) = THROTTLED.due(Instant::now()) {
            tracing::warn!(%ip, held_back, "connections refused: too many failed authentications from this address");
        }
        return Err(ConnectRefusal::Throttled(throttled.retry_after));
    }
    identify(&hub.publish_token, hub.jwt.as_ref(), auth, socket.ns(), &socket.id.to_string()).inspect_err(
        |refusal| {
            if refusal.is_guess()
                && let Some(ip) = peer
            {
                hub.auth_failures.failed(ip);
            }
            tracing::warn!(sid = %socket.id, ns = socket.ns(), ?peer, "connection refused: {refusal}");
        },
    )
}

/// The client's address, from the request that opened its session.
fn peer_ip<A: Adapter>(socket: &SocketRef<A>) -> Option<IpAddr> {
    socket.req_parts().extensions.get::<ConnectInfo<Peer>>().map(|ConnectInfo(Peer(addr))| addr.ip())
}

/// Refuses a namespace with an invalid name, or a new one beyond `max-namespaces`.
///
/// socketioxide creates a dynamic namespace before this check runs and would keep it forever, so a
/// refused namespace that nobody uses is deleted again: names that clients make up cost nothing.
fn admit_namespace<A: Adapter>(
    socket: &SocketRef<A>,
    io: &SocketIo<A>,
    hub: &HubState,
) -> Result<(), ConnectRefusal> {
    let path = socket.ns();
    if path == "/" {
        return Ok(());
    }
    let refusal = match NamespacePath::parse(path) {
        Err(r) => ConnectRefusal::Namespace(r.message),
        Ok(_) if io.nsps().len() > hub.limits.max_namespaces => ConnectRefusal::Namespace(format!(
            "too many namespaces in use (at most {}); connect to an existing one",
            hub.limits.max_namespaces
        )),
        Ok(_) => return Ok(()),
    };
    if io.of(path).is_some_and(|ns| ns.sockets().is_empty()) {
        io.delete_ns(path);
    }
    // socket.io v2 clients append their query string, token included, to any namespace but `/`: never log it.
    let ns = path.split_once('?').map_or(path, |(name, _query)| name);
    tracing::warn!(sid = %socket.id, ns, "connection refused: {refusal}");
    Err(refusal)
}

async fn on_connect<A: Adapter>(
    socket: SocketRef<A>,
    Extension(identity): Extension<Identity>,
    State(hub): State<HubState>,
) {
    tracing::info!(
        sid = %socket.id,
        ns = socket.ns(),
        user = %identity.user,
        publisher = identity.publisher,
        transport = ?socket.transport_type(),
        "socket connected"
    );
    // The CONNECT reply is queued by now: a polling POST that carried the CONNECT may be answered.
    hub.connect_waits.connected(&socket.id.to_string());
}

async fn on_disconnect<A: Adapter>(
    socket: SocketRef<A>,
    reason: DisconnectReason,
    State(hub): State<HubState>,
) {
    tracing::info!(sid = %socket.id, ns = socket.ns(), ?reason, "socket disconnected");
    // Frees its place under max-connections now, not whenever the last reference to it goes.
    socket.extensions.remove::<Arc<ConnectionSlot>>();
    // The socket is still in its rooms here; socketioxide removes it once this handler returns.
    let rooms: Vec<String> = socket
        .rooms()
        .into_iter()
        .filter(|room| !meta_rooms::is_hidden(room))
        .map(|room| room.to_string())
        .collect();
    hub.mode.forget(&socket, &rooms);
    for room in &rooms {
        hub.presence.changed(&socket, room, &hub.mode);
    }
}
