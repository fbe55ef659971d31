//! Admission: who a socket is, and which events it can send.
//!
//! The admission middleware runs before socketioxide sends the CONNECT reply. It checks the namespace and
//! the auth payload, records the socket's [`Identity`], and registers every event handler and the
//! disconnect handler right there. The client can only emit once it has the CONNECT reply, so its first
//! event always finds its handler; handlers registered in the (spawned) connect handler could miss it,
//! and a socket that dropped before that handler ran would never be taken out of the room sizes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hub_protocol::{ConnectAuth, NamespacePath};
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{Extension, SocketRef, State, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::socket::DisconnectReason;
use socketioxide_core::adapter::DefinedAdapter;

use crate::delivery::joined_rooms::JoinedRooms;
use crate::delivery::meta_rooms;
use crate::events;
use crate::policy::identity::{ConnectRefusal, Identity, identify, query_auth};
use crate::policy::limits::ConnectionSlot;
use crate::state::HubState;
use crate::telemetry::log_throttle::LogThrottle;

/// Each kind of connection refusal is logged at most once per this interval.
const REFUSALS_LOGGED_EVERY: Duration = Duration::from_secs(10);

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
    static UNIDENTIFIED: LogThrottle = LogThrottle::new(REFUSALS_LOGGED_EVERY);
    static FULL: LogThrottle = LogThrottle::new(REFUSALS_LOGGED_EVERY);
    let identity = identify(&hub.publish_token, hub.jwt.as_ref(), auth, &socket.id.to_string())
        .inspect_err(|refusal| log_refusal(&UNIDENTIFIED, socket.ns(), refusal))?;
    let slot = hub
        .limits
        .admit(socket.ns())
        .map_err(ConnectRefusal::Full)
        .inspect_err(|refusal| log_refusal(&FULL, socket.ns(), refusal))?;
    if identity.meta {
        socket.join(meta_rooms::ALL);
    }
    socket.extensions.insert(Arc::new(JoinedRooms::new(identity.meta)));
    socket.extensions.insert(identity);
    socket.extensions.insert(slot);
    socket.extensions.insert(hub.limits.socket_rate());
    events::register(&socket);
    socket.on_disconnect(on_disconnect::<A>);
    Ok(())
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
    static NAMESPACE: LogThrottle = LogThrottle::new(REFUSALS_LOGGED_EVERY);
    log_refusal(&NAMESPACE, ns, &refusal);
    Err(refusal)
}

/// Logs a refused connection, one line per `throttle` interval (`held_back` counts the others): any
/// client can be refused as often as it likes, and must not fill the log doing so.
fn log_refusal(throttle: &LogThrottle, ns: &str, refusal: &ConnectRefusal) {
    if let Some(held_back) = throttle.due(Instant::now()) {
        tracing::warn!(ns, held_back, "connection refused: {refusal}");
    }
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
    // socketioxide takes the socket out of the adapter's rooms once this handler returns; from here on
    // it can join none, even with a `join` still queued.
    let Some(joined) = socket.extensions.get::<Arc<JoinedRooms>>() else { return };
    let rooms = hub.mode.forget(&socket, &joined);
    for room in &rooms {
        hub.presence.changed(&socket, room, &hub.mode);
    }
}
