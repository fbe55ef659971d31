//! Admission: who a socket is, and which events it can send.
//!
//! The admission middleware runs before socketioxide sends the CONNECT reply. It checks the namespace and
//! the auth payload, records the socket's [`Identity`] and registers every event handler right there. The
//! client can only emit once it has the CONNECT reply, so its first event always finds its handler;
//! handlers registered in the (spawned) connect handler could miss it.

use std::sync::Arc;

use hub_protocol::auth::INVALID_TOKEN_MESSAGE;
use hub_protocol::{ConnectAuth, NamespacePath, UserName};
use socketioxide::adapter::Adapter;
use socketioxide::extract::{Extension, SocketRef, State, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::socket::DisconnectReason;
use socketioxide::{ProtocolVersion, SocketIo};
use socketioxide_core::adapter::DefinedAdapter;

use crate::connect_wait::ConnectWaits;
use crate::handlers;
use crate::jwt::{JwtError, JwtVerifier};
use crate::limits::{ConnectionSlot, Limits};
use crate::meta_rooms;
use crate::presence::Presence;
use crate::room_sizes::RoomSizes;
use crate::token::PublishToken;

/// What the hub knows about a connected socket.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The name shown on its chat messages.
    pub user: UserName,
    /// Whether it connected with the publish token.
    pub publisher: bool,
    /// The only rooms it may join (from its token's `rooms` claim); `None`: any room.
    pub rooms: Option<Arc<[String]>>,
    /// Whether it asked for published events' metadata (`auth: {meta: true}`; see [`meta_rooms`]).
    pub meta: bool,
}

impl Identity {
    /// Whether this socket may join `room`.
    pub fn may_join(&self, room: &str) -> bool {
        self.rooms.as_ref().is_none_or(|rooms| rooms.iter().any(|r| r == room))
    }
}

/// State shared by every socket of one hub.
#[derive(Debug, Clone)]
pub struct HubState {
    pub publish_token: PublishToken,
    pub presence: Arc<Presence>,
    pub limits: Arc<Limits>,
    /// Set in JWT mode (`--jwt-secret`).
    pub jwt: Option<JwtVerifier>,
    /// Room sizes kept by the hub; `None` in a cluster, where the adapter counts.
    pub room_sizes: Option<Arc<RoomSizes>>,
    /// Polling POSTs waiting for their CONNECT to be handled.
    pub connect_waits: Arc<ConnectWaits>,
}

impl HubState {
    /// The state of a lone hub (`alone`), or of one in a cluster.
    pub fn new(
        publish_token: PublishToken,
        limits: Arc<Limits>,
        jwt: Option<JwtVerifier>,
        alone: bool,
    ) -> Self {
        let room_sizes = alone.then(Arc::<RoomSizes>::default);
        let presence = Arc::new(Presence::new(room_sizes.clone()));
        Self { publish_token, presence, limits, jwt, room_sizes, connect_waits: Arc::default() }
    }
}

/// Why a connection was refused; the text is the `connect_error` message the client sees.
#[derive(Debug, thiserror::Error)]
pub enum ConnectRefusal {
    #[error("{0}")]
    Namespace(String),
    #[error("invalid auth payload: expected an object like {{\"user\":NAME,\"token\":TOKEN}}")]
    MalformedAuth,
    #[error("{INVALID_TOKEN_MESSAGE}")]
    InvalidToken,
    #[error("invalid user: {0}")]
    User(String),
    #[error(transparent)]
    Jwt(#[from] JwtError),
    #[error("{0}")]
    Full(String),
}

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
    let identity = identify(&hub, auth, &socket.id.to_string()).inspect_err(|refusal| {
        tracing::warn!(sid = %socket.id, ns = socket.ns(), "connection refused: {refusal}");
    })?;
    let slot = hub.limits.admit(socket.ns()).map_err(ConnectRefusal::Full).inspect_err(|refusal| {
        tracing::warn!(sid = %socket.id, ns = socket.ns(), "connection refused: {refusal}");
    })?;
    if identity.meta {
        socket.join(meta_rooms::ALL);
    }
    socket.extensions.insert(identity);
    socket.extensions.insert(slot);
    socket.extensions.insert(hub.limits.socket_rate());
    handlers::register(&socket);
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
    tracing::warn!(sid = %socket.id, ns, "connection refused: {refusal}");
    Err(refusal)
}

/// Who the auth payload says the socket is: a publisher (the publish token), a user vouched for by a
/// JWT (JWT mode), or a user with a name of its own choosing (open mode).
fn identify(hub: &HubState, auth: ConnectAuth, sid: &str) -> Result<Identity, ConnectRefusal> {
    let own_name = |user: Option<String>| match user {
        Some(name) => UserName::parse(name).map_err(|r| ConnectRefusal::User(r.message)),
        None => Ok(UserName::anonymous(sid)),
    };
    let meta = auth.meta;
    match (auth.token, &hub.jwt) {
        (Some(token), _) if hub.publish_token.matches(&token) => {
            Ok(Identity { user: own_name(auth.user)?, publisher: true, rooms: None, meta })
        }
        (Some(token), Some(jwt)) => {
            let claims = jwt.verify(&token)?;
            let user = UserName::parse(claims.sub)
                .map_err(|r| JwtError::Invalid(format!("`sub` is not a valid user name: {}", r.message)))?;
            Ok(Identity { user, publisher: false, rooms: claims.rooms.map(Arc::from), meta })
        }
        (None, Some(_)) => Err(JwtError::Missing.into()),
        (Some(_), None) => Err(ConnectRefusal::InvalidToken),
        (None, None) => Ok(Identity { user: own_name(auth.user)?, publisher: false, rooms: None, meta }),
    }
}

/// A socket.io v2 client (Engine.IO 3, accepted with `--allow-eio3`) sends no CONNECT payload: it gives
/// `user` and `token` in the query string of the request that opened its session, read here in their
/// place. Only those two fields are taken, so the rest of the query (`EIO`, `transport`, ...) never
/// passes for auth fields. `None` for every other client, whose query string is ignored.
fn query_auth<A: Adapter>(socket: &SocketRef<A>) -> Option<ConnectAuth> {
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
    socket.on_disconnect(async move |socket: SocketRef<A>, reason: DisconnectReason| {
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
        if let Some(sizes) = &hub.room_sizes {
            sizes.forget(&socket, &rooms);
        }
        for room in &rooms {
            hub.presence.changed(&socket, room);
        }
    });
}
