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
use axum::http::header;
use hub_protocol::sign_in::{SignInHeaders, SignInRequest};
use hub_protocol::{ConnectAuth, NamespacePath, admin};
use socketioxide::adapter::{Adapter, LocalAdapter};
use socketioxide::extract::{Extension, SocketRef, State, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::operators::BroadcastOperators;
use socketioxide::socket::DisconnectReason;
use socketioxide::{ParserError, SocketIo};
use socketioxide_core::adapter::DefinedAdapter;

use crate::delivery::cluster::{ClusterAdapter, ClusterError};
use crate::delivery::joined_rooms::JoinedRooms;
use crate::delivery::meta_rooms;
use crate::delivery::occupancy::Occupant;
use crate::events;
use crate::net::listener::Peer;
use crate::net::pending::PendingSlot;
use crate::policy::identity::{ConnectRefusal, Identity, identify, query_auth};
use crate::policy::limits::{ConnectionSlot, Limits};
use crate::state::HubState;
use crate::telemetry::log_throttle::{LogThrottle, clipped};

/// The fields of the auth payload that are the hub's business, not the application's: they also change
/// from one connection of a client to the next, which would defeat the sign-in cache.
const HUB_AUTH_FIELDS: [&str; 3] = ["meta", "since", "history"];

/// Each kind of connection refusal is logged at most once per this interval.
const REFUSALS_LOGGED_EVERY: Duration = Duration::from_secs(10);

/// Serves `/` and every namespace matching `/[A-Za-z0-9_-]{1,64}` with the same events.
pub fn register<A: Adapter + DefinedAdapter>(io: &SocketIo<A>) -> A::InitRes {
    io.dyn_ns("/{namespace}", on_connect::<A>.with(admit::<A>))
        .expect("`/{namespace}` is a valid namespace pattern");
    io.ns("/", on_connect::<A>.with(admit::<A>))
}

/// A namespace opened on this hub before any of its clients used it, for a publish from the HTTP API.
///
/// Alone, a namespace nobody connected to has nobody to deliver to. In a cluster, other hubs may have
/// clients in it, and this hub reaches them only through the namespace's adapter, which subscribes to the
/// namespace's channels in Redis once the namespace exists. (The other hubs need nothing: a hub whose
/// clients never used the namespace is not subscribed to its channels, so Redis sends it nothing, and it
/// has nobody to deliver to either.)
pub trait OpenOnDemand: Adapter + DefinedAdapter {
    /// Opens `path` on `io` as if a client had connected to it, unless `io` already serves
    /// `--max-namespaces` once the unused ones are reclaimed; `None` when opening it would reach nobody.
    /// The namespace is then reclaimable like one whose clients have all gone.
    fn open(
        io: &SocketIo<Self>,
        path: &str,
        limits: &Limits,
    ) -> impl Future<Output = Result<Option<BroadcastOperators<Self>>, OpenError>> + Send;
}

/// Why a namespace could not be opened for a publish.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(
        "this hub already serves {0} namespaces (--max-namespaces) and none of its clients uses this one: \
         publish through a hub whose clients use it, or raise --max-namespaces"
    )]
    Full(usize),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

impl OpenOnDemand for LocalAdapter {
    async fn open(
        _: &SocketIo<Self>,
        _: &str,
        _: &Limits,
    ) -> Result<Option<BroadcastOperators<Self>>, OpenError> {
        Ok(None)
    }
}

impl OpenOnDemand for ClusterAdapter {
    async fn open(
        io: &SocketIo<Self>,
        path: &str,
        limits: &Limits,
    ) -> Result<Option<BroadcastOperators<Self>>, OpenError> {
        let full = || namespaces_in_use(io) >= limits.max_namespaces;
        if full() && (limits.reclaim_unused(path, |unused| io.delete_ns(unused)) == 0 || full()) {
            return Err(OpenError::Full(limits.max_namespaces));
        }
        // The namespace exists once its adapter has subscribed: nothing the other hubs answer is missed.
        io.ns(path.to_owned(), on_connect::<Self>.with(admit::<Self>)).await.map_err(ClusterError::Init)?;
        limits.opened(path);
        tracing::info!(ns = path, "namespace opened for a publish from the HTTP API");
        Ok(io.of(path))
    }
}

/// The namespaces `io` serves for clients: all but the Admin UI's, which is not counted against
/// `--max-namespaces`.
fn namespaces_in_use<A: Adapter>(io: &SocketIo<A>) -> usize {
    io.nsps().len() - usize::from(io.of(admin::NAMESPACE).is_some())
}

async fn admit<A: Adapter>(
    socket: SocketRef<A>,
    io: SocketIo<A>,
    TryData(auth): TryData<ConnectAuth>,
    TryData(raw_auth): TryData<serde_json::Value>,
    State(hub): State<HubState>,
) -> Result<(), ConnectRefusal> {
    let admitted = admit_socket(&socket, &io, auth, raw_auth.ok(), &hub).await;
    // socketioxide created the namespace before asking; a refused socket must not leave behind one that
    // nobody uses, or refusals alone would use up `max-namespaces`.
    if admitted.is_err() && socket.ns() != "/" {
        hub.limits.release_if_unused(socket.ns(), |unused| io.delete_ns(unused));
    }
    admitted
}

async fn admit_socket<A: Adapter>(
    socket: &SocketRef<A>,
    io: &SocketIo<A>,
    auth: Result<ConnectAuth, ParserError>,
    raw_auth: Option<serde_json::Value>,
    hub: &HubState,
) -> Result<(), ConnectRefusal> {
    admit_namespace(socket, io, hub)?;
    let auth = auth.map_err(ConnectRefusal::MalformedAuth)?;
    let (auth, raw_auth) = match query_auth(socket) {
        Some(from_query) => {
            let raw = serde_json::to_value(&from_query).ok();
            (from_query, raw)
        }
        None => (auth, raw_auth),
    };
    let recovery = auth.recovery();
    static FULL: LogThrottle = LogThrottle::new(REFUSALS_LOGGED_EVERY);
    let identity = authenticate(socket, hub, auth, raw_auth).await?;
    let slot = hub
        .limits
        .admit(socket.ns(), identity.publisher)
        .map_err(ConnectRefusal::from)
        .inspect_err(|refusal| log_refusal(&FULL, socket.ns(), refusal))?;
    // Reclaimed as unused between the namespace check and the slot (see `admit_namespace`).
    if io.of(socket.ns()).is_none() {
        return Err(ConnectRefusal::Reclaimed);
    }
    if identity.meta {
        socket.join(meta_rooms::ALL);
    }
    if !recovery.is_empty() {
        events::begin_catch_up(socket, recovery);
    }
    let occupant =
        Occupant::new(hub.occupancy.clone(), socket.ns(), identity.user.clone(), identity.info.clone());
    socket.extensions.insert(Arc::new(JoinedRooms::new(identity.meta, Some(occupant))));
    socket.extensions.insert(identity);
    socket.extensions.insert(slot);
    socket.extensions.insert(hub.limits.socket_rate());
    if let Some(feed) = hub.admin_feed() {
        feed.admitted(socket);
    }
    events::register(socket);
    socket.on_disconnect(on_disconnect::<A>);
    Ok(())
}

/// Who the socket is, behind the gate on its address's failed authentications: an address that failed
/// too often is refused before its token is even looked at (`policy::auth_failures`).
///
/// Through the application (`--auth-url`), this waits for its answer: the CONNECT reply, and so the
/// client's first event, comes after it, and the handlers are registered before that reply all the same.
async fn authenticate<A: Adapter>(
    socket: &SocketRef<A>,
    hub: &HubState,
    auth: ConnectAuth,
    raw_auth: Option<serde_json::Value>,
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
    static UNIDENTIFIED: LogThrottle = LogThrottle::new(REFUSALS_LOGGED_EVERY);
    let ask_app = || sign_in_request(socket, raw_auth, peer);
    // Through the application a token that is not the publish token goes to the app: its refusal
    // counts as a failed guess, or the publish token could be guessed there without limit.
    let with_token = auth.token.is_some();
    identify(&hub.publish_token, &hub.sign_in, auth, socket.ns(), &socket.id.to_string(), ask_app)
        .await
        .inspect_err(|refusal| {
            if (refusal.is_guess() || (with_token && refusal.is_refused_by_app()))
                && let Some(ip) = peer
            {
                hub.auth_failures.failed(ip);
            }
            log_refusal(&UNIDENTIFIED, socket.ns(), refusal);
        })
}

/// What the application is asked about `socket`: its namespace, its auth payload without the hub's own
/// fields, the headers of the request that opened its session that tell who is behind it, and its address.
fn sign_in_request<A: Adapter>(
    socket: &SocketRef<A>,
    raw_auth: Option<serde_json::Value>,
    peer: Option<IpAddr>,
) -> SignInRequest {
    let mut auth = match raw_auth {
        Some(serde_json::Value::Object(fields)) => fields,
        _ => serde_json::Map::new(),
    };
    for own in HUB_AUTH_FIELDS {
        auth.remove(own);
    }
    let request = socket.req_parts();
    // A header given more than once counts as one, its values joined as a `Cookie` header joins its
    // pairs (HTTP/2 clients may send each cookie in a header of its own); one that is not text is left out.
    let header = |name: header::HeaderName| {
        let values: Option<Vec<&str>> =
            request.headers.get_all(name).iter().map(|v| v.to_str().ok()).collect();
        values.filter(|values| !values.is_empty()).map(|values| values.join("; "))
    };
    SignInRequest {
        namespace: socket.ns().to_owned(),
        auth,
        headers: SignInHeaders {
            cookie: header(header::COOKIE),
            authorization: header(header::AUTHORIZATION),
            origin: header(header::ORIGIN),
            user_agent: header(header::USER_AGENT),
        },
        address: peer.map(|ip| ip.to_string()),
    }
}

/// The client's address, from the request that opened its session.
pub fn peer_ip<A: Adapter>(socket: &SocketRef<A>) -> Option<IpAddr> {
    socket.req_parts().extensions.get::<ConnectInfo<Peer>>().map(|ConnectInfo(Peer(addr))| addr.ip())
}

/// Refuses a namespace with an invalid name, or a new one beyond `max-namespaces` once the namespaces
/// nobody uses any more are reclaimed.
///
/// socketioxide creates a dynamic namespace before this check runs and would keep it forever, so a
/// refused namespace that nobody uses is deleted again: names that clients make up cost nothing. A
/// namespace whose sockets have all gone is deleted when a new one needs its place, so clients that
/// come and go cannot use up `max-namespaces` until a restart.
fn admit_namespace<A: Adapter>(
    socket: &SocketRef<A>,
    io: &SocketIo<A>,
    hub: &HubState,
) -> Result<(), ConnectRefusal> {
    let path = socket.ns();
    if path == "/" {
        return Ok(());
    }
    // `/admin` is the Admin UI's when it is on (and then never reaches here); off, nobody may use it:
    // a client must not find another namespace where an operator expects the Admin UI.
    if path == admin::NAMESPACE {
        return Err(ConnectRefusal::Namespace(
            "the Admin UI is off on this hub (its operator can turn it on with --admin-password)".to_owned(),
        ));
    }
    let too_many = || namespaces_in_use(io) > hub.limits.max_namespaces;
    let refusal = match NamespacePath::parse(path) {
        Err(r) => ConnectRefusal::Namespace(r.message),
        Ok(_)
            if too_many()
                && (hub.limits.reclaim_unused(path, |unused| io.delete_ns(unused)) == 0 || too_many()) =>
        {
            ConnectRefusal::Namespace(format!(
                "too many namespaces in use (at most {}); connect to an existing one (its operator can raise --max-namespaces)",
                hub.limits.max_namespaces
            ))
        }
        Ok(_) => return Ok(()),
    };
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
    // The public info the application gave its user (`--auth-url`), clipped: other members see it all.
    let info = identity.info.as_ref().map(|info| info.to_string());
    tracing::info!(
        sid = %socket.id,
        ns = socket.ns(),
        user = %identity.user,
        publisher = identity.publisher,
        info = info.as_deref().map(clipped),
        transport = ?socket.transport_type(),
        "socket connected"
    );
    // The CONNECT reply is queued by now: a polling POST that carried the CONNECT may be answered.
    hub.connect_waits.connected(&socket.id.to_string());
    // The session no longer waits for a CONNECT: its place among the pending sessions is free.
    if let Some(slot) = socket.req_parts().extensions.get::<Arc<PendingSlot>>() {
        slot.connected();
    }
    if let Some(feed) = hub.admin_feed() {
        feed.connected(&socket);
    }
    events::catch_up(&socket, &hub, identity);
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
    if let Some(feed) = hub.admin_feed() {
        feed.disconnected(&socket, reason, &rooms);
    }
}
