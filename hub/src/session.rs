//! Admission: who a socket is, and which events it can send.
//!
//! The admission middleware runs before socketioxide sends the CONNECT reply. It checks the namespace and
//! the auth payload, records the socket's [`Identity`] and registers every event handler right there. The
//! client can only emit once it has the CONNECT reply, so its first event always finds its handler;
//! handlers registered in the (spawned) connect handler could miss it.

use std::sync::Arc;

use hub_protocol::auth::INVALID_TOKEN_MESSAGE;
use hub_protocol::{ConnectAuth, NamespacePath, UserName};
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{Extension, SocketRef, State, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::socket::DisconnectReason;
use socketioxide_core::adapter::DefinedAdapter;

use crate::handlers;
use crate::presence::Presence;
use crate::token::PublishToken;

/// What the hub knows about a connected socket.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The name shown on its chat messages.
    pub user: UserName,
    /// Whether it connected with the publish token.
    pub publisher: bool,
}

/// State shared by every socket of one hub.
#[derive(Debug, Clone)]
pub struct HubState {
    pub publish_token: PublishToken,
    pub presence: Arc<Presence>,
}

impl HubState {
    pub fn new(publish_token: PublishToken) -> Self {
        Self { publish_token, presence: Arc::default() }
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
}

/// Serves `/` and every namespace matching `/[A-Za-z0-9_-]{1,64}` with the same events.
pub fn register<A: Adapter + DefinedAdapter>(io: &SocketIo<A>) -> A::InitRes {
    io.dyn_ns("/{namespace}", on_connect::<A>.with(admit::<A>))
        .expect("`/{namespace}` is a valid namespace pattern");
    io.ns("/", on_connect::<A>.with(admit::<A>))
}

async fn admit<A: Adapter>(
    socket: SocketRef<A>,
    TryData(auth): TryData<ConnectAuth>,
    State(hub): State<HubState>,
) -> Result<(), ConnectRefusal> {
    NamespacePath::parse(socket.ns()).map_err(|r| ConnectRefusal::Namespace(r.message))?;
    let auth = auth.map_err(|_| ConnectRefusal::MalformedAuth)?;
    let publisher = match auth.token {
        None => false,
        Some(token) if hub.publish_token.matches(&token) => true,
        Some(_) => {
            tracing::warn!(sid = %socket.id, ns = socket.ns(), "connection refused: invalid publish token");
            return Err(ConnectRefusal::InvalidToken);
        }
    };
    let user = match auth.user {
        Some(name) => UserName::parse(name).map_err(|r| ConnectRefusal::User(r.message))?,
        None => UserName::anonymous(&socket.id.to_string()),
    };
    socket.extensions.insert(Identity { user, publisher });
    handlers::register(&socket);
    Ok(())
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
    socket.on_disconnect(async move |socket: SocketRef<A>, reason: DisconnectReason| {
        tracing::info!(sid = %socket.id, ns = socket.ns(), ?reason, "socket disconnected");
        // The socket is still in its rooms here; socketioxide removes it once this handler returns.
        for room in socket.rooms() {
            hub.presence.changed(&socket, &room);
        }
    });
}
