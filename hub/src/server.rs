//! The server: binds, serves the demo page and Socket.IO, and shuts down gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, Method, header};
use axum::middleware;
use socketioxide::adapter::Adapter;
use socketioxide::layer::SocketIoLayer;
use socketioxide::{ParserConfig, SocketIo, SocketIoBuilder};
use socketioxide_core::adapter::DefinedAdapter;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::admin::{self, Admin};
use crate::config::SEND_QUEUE_PACKETS;
use crate::delivery::cluster::{self, ClusterAdapter, ClusterError};
use crate::delivery::dispatch;
use crate::delivery::mode::Mode;
use crate::delivery::occupancy::announce::{self, Announcer};
use crate::delivery::occupancy::redis::RedisPresence;
use crate::delivery::room_sizes::RoomSizes;
use crate::history::{History, RedisHistory, memory, redis};
use crate::http::api::{self, REQUEST_ID};
use crate::http::hosts::{self, AllowedHosts};
use crate::http::origins::{self, AllowedOrigins};
use crate::http::{admin_ui, control, demo, health, history};
use crate::net::listener::TunedListener;
use crate::net::pending::PendingSessions;
use crate::net::{body_deadline, connect_wait, engine_io, file_limit, pending, request_head, serve};
use crate::policy::app_sign_in::AppSignIn;
use crate::policy::jwt::JwtVerifier;
use crate::policy::limits::Limits;
use crate::policy::sign_in::SignIn;
use crate::policy::token::{PublishToken, TokenFile};
use crate::session::{self, OpenOnDemand};
use crate::state::HubState;
use crate::webhooks::Webhooks;
use crate::{Config, HubError};

/// How long open connections get to close after the shutdown signal before the hub exits anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(4);

/// Bytes read from a websocket at a time (the library's default is 4 KiB). Every connection keeps this
/// buffer for its whole life, written through on its first read, while Socket.IO messages are mostly far
/// smaller: 1 KiB saves 3 KiB per idle connection and measured no change for small messages (echo,
/// saturate); 256 KiB messages come in about 15% slower (BENCHMARKS.md).
const WS_READ_BUFFER: usize = 1024;

/// Most binary attachments one event may announce (socketioxide's default is 10,000). The official
/// client sends one per `Buffer` or typed array in the event.
const MAX_ATTACHMENTS: usize = 1000;

/// How long an event's binary attachments may take to arrive after it (the default is a minute).
const ATTACHMENTS_TIMEOUT: Duration = Duration::from_secs(10);

/// A bound hub, ready to [`run`](Server::run).
pub struct Server {
    listener: TcpListener,
    addr: SocketAddr,
    router: Router,
    /// Disconnects every client (`SocketIo::close`, whichever the adapter).
    close: Pin<Box<dyn Future<Output = ()> + Send>>,
    token_file: Option<TokenFile>,
    serving: serve::Settings,
    webhooks: Webhooks,
}

impl Server {
    /// Refuses a configuration the hub cannot start with, as far as that can be known without binding
    /// or connecting: the settings ([`Config::check`]), and, without a publish token, the place the
    /// generated one would be written. `hub checkconfig` runs this; [`bind`](Server::bind) starts with it.
    pub fn check(config: &Config) -> Result<(), HubError> {
        config.check()?;
        if config.publish_token.is_none() {
            TokenFile::check_place(&TokenFile::path_for(config.token_file.clone(), config.bind.port())?)?;
        }
        Ok(())
    }

    /// Binds the listener and sets everything up; nothing is served until [`run`](Server::run).
    pub async fn bind(config: Config) -> Result<Self, HubError> {
        // A `Config` built in code rather than loaded gets the same checks.
        Self::check(&config)?;
        file_limit::raise_for(config.max_connections);
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(|source| HubError::Bind { addr: config.bind, source })?;
        let addr = listener.local_addr()?;

        let (token, token_file) = match config.publish_token.clone() {
            Some(token) => (PublishToken::new(token)?, None),
            None => {
                let token = PublishToken::generate();
                let path = TokenFile::path_for(config.token_file.clone(), addr.port())?;
                let file = TokenFile::write(path, &token)?;
                (token, Some(file))
            }
        };

        let limits = Arc::new(Limits::new(&config));
        let sign_in = sign_in(&config)?;
        let builder = socket_io(&config);
        let webhooks = match &config.webhooks {
            Some(webhooks) => Webhooks::start(webhooks)?,
            None => Webhooks::disabled(),
        };
        // The Admin UI's state; in a cluster, with a Redis connection of its own for telling the other
        // hubs when a UI is open.
        let mut admin = match &config.admin {
            Some(settings) => {
                let watchers = match &config.redis_url {
                    Some(url) => Some(cluster::command_client(url).await?),
                    None => None,
                };
                let (admin, events) = Admin::new(settings, watchers);
                Some((Arc::new(admin), events))
            }
            None => None,
        };
        let admin_state = admin.as_ref().map(|(admin, _)| admin.clone());
        let (router, close) = match &config.redis_url {
            None => {
                let history = match config.history_size {
                    0 => History::off(),
                    size => History::in_memory(memory::Settings {
                        size,
                        ttl: config.history_ttl,
                        memory: config.history_memory,
                    }),
                };
                let mode = Mode::Alone(Arc::<RoomSizes>::default());
                let state = HubState::new(token, limits.clone(), sign_in, mode, history)
                    .with_webhooks(webhooks.clone())
                    .with_admin(admin_state);
                let (layer, io) = builder.with_state(state.clone()).build_layer();
                session::register(&io);
                if let Some((admin, events)) = admin.take() {
                    admin::namespace::register(&io);
                    admin::ticker::start(io.clone(), admin, limits, events);
                }
                announce::start(Announcer {
                    io: io.clone(),
                    occupancy: state.occupancy.clone(),
                    cluster: None,
                    webhooks: webhooks.clone(),
                    max_members: config.presence_max_members,
                    mode: state.mode.clone(),
                });
                (serve_io(&config, &io, layer, state), close(io))
            }
            Some(url) => {
                let (adapter, link) = cluster::connect(url).await?;
                let history = match config.history_size {
                    0 => History::off(),
                    size => {
                        let settings = redis::Settings { size, ttl: config.history_ttl };
                        History::in_redis(RedisHistory::new(cluster::command_client(url).await?, settings))
                    }
                };
                let state = HubState::new(
                    token,
                    limits.clone(),
                    sign_in,
                    Mode::Cluster(link.clone(), Arc::<RoomSizes>::default()),
                    history.clone(),
                )
                .with_webhooks(webhooks.clone())
                .with_admin(admin_state);
                let (layer, io) =
                    builder.with_state(state.clone()).with_adapter::<ClusterAdapter>(adapter).build_layer();
                session::register(&io).await.map_err(ClusterError::Init)?;
                if let Some((admin, events)) = admin.take() {
                    admin::namespace::register(&io).await.map_err(ClusterError::Init)?;
                    admin::ticker::start(io.clone(), admin, limits, events);
                }
                link.serve_control(io.clone(), state.clone()).await.map_err(ClusterError::Control)?;
                // Before serving: no recorded event is missed by this hub's first sockets.
                if history.shared().is_some() {
                    let announcements = link.announcements().await.map_err(ClusterError::Subscribe)?;
                    dispatch::start(io.clone(), history, announcements);
                }
                let presence = RedisPresence::new(cluster::command_client(url).await?);
                announce::start(Announcer {
                    io: io.clone(),
                    occupancy: state.occupancy.clone(),
                    cluster: Some(presence),
                    webhooks: webhooks.clone(),
                    max_members: config.presence_max_members,
                    mode: state.mode.clone(),
                });
                (serve_io(&config, &io, layer, state), close(io))
            }
        };
        let serving =
            serve::Settings { head_timeout: config.idle_timeout, max_idle: config.max_idle_connections };
        Ok(Self { listener, addr, router, close, token_file, serving, webhooks })
    }

    /// The address the hub listens on (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then disconnects every client and returns within about 4 s (and
    /// up to one more while webhooks deliver what is queued).
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), HubError> {
        let Self { listener, addr, router, close, token_file, serving, webhooks } = self;
        if let Some(file) = &token_file {
            tracing::info!(
                "publish token written to {} (`publish` reads it from there)",
                file.path().display()
            );
        }
        tracing::info!("hub listening on http://{addr} (demo page at http://{addr}/)");

        let (stopping_tx, mut stopping) = watch::channel(false);
        let graceful = async move {
            shutdown.await;
            let _ = stopping_tx.send(true);
            close.await;
        };
        let serve = serve::serve(TunedListener(listener), router, serving, graceful);
        let deadline = async move {
            let _ = stopping.wait_for(|stopping| *stopping).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        };
        tokio::select! {
            () = serve => {}
            () = deadline => tracing::warn!("connections still open {SHUTDOWN_GRACE:?} after shutdown; exiting anyway"),
        }
        webhooks.stop().await;
        tracing::info!("hub stopped");
        drop(token_file);
        Ok(())
    }
}

/// Packets each socket's send queue holds: [`SEND_QUEUE_PACKETS`], and room for a whole replay of a
/// stream's history on top, which a `join` (or a CONNECT) queues at once before its ack. Without it, a
/// replay longer than the queue stopped halfway and its ack never reached the client.
fn send_queue_packets(config: &Config) -> usize {
    SEND_QUEUE_PACKETS.saturating_add(config.history_size)
}

/// Socket.IO's settings, from the hub's own limits.
fn socket_io(config: &Config) -> SocketIoBuilder {
    // Messages up to twice max-payload are read and refused with `too_large`; larger ones close the
    // connection, so no client can make the hub buffer more than that. An event's binary attachments
    // arrive as frames of their own: together they get the same cap (socketioxide's default is 10 MB,
    // whatever max-payload says).
    let hard_cap = config.max_payload.saturating_mul(2);
    let parser = ParserConfig::common()
        .max_incoming_binary_buf_size(hard_cap)
        .max_incoming_binaries(MAX_ATTACHMENTS)
        .packet_completion_timeout(ATTACHMENTS_TIMEOUT);
    SocketIo::builder()
        .with_parser(parser)
        .ping_interval(config.ping_interval)
        .ping_timeout(config.ping_timeout)
        .connect_timeout(config.connect_timeout)
        .max_payload(hard_cap as u64)
        .max_buffer_size(send_queue_packets(config))
        .ws_max_message_size(hard_cap)
        .ws_max_frame_size(hard_cap)
        .ws_read_buffer_size(WS_READ_BUFFER)
}

/// Socket.IO, the page, the HTTP API (with request ids and request spans), health and metrics, behind
/// the checks in front of Engine.IO.
fn serve_io<A: OpenOnDemand>(
    config: &Config,
    io: &SocketIo<A>,
    layer: SocketIoLayer<A>,
    state: HubState,
) -> Router {
    let request_id = HeaderName::from_static(REQUEST_ID);
    let connect_waits = state.connect_waits.clone();
    let mode = state.mode.clone();
    let api = api::routes(io.clone(), state.clone())
        .merge(control::routes(io.clone(), state.clone()))
        .merge(history::routes(state))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
            let id = request.headers().get(REQUEST_ID).and_then(|id| id.to_str().ok()).unwrap_or("-");
            tracing::info_span!("api", method = %request.method(), path = %request.uri().path(), request_id = id)
        }))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid));
    let router = demo::routes(config.static_dir.as_deref())
        .merge(admin_ui::routes(config.admin.is_some()))
        .merge(api)
        .merge(health::routes(mode))
        .layer(layer);
    let pending = PendingSessions::new(config.max_pending_sessions, config.connect_timeout);
    let router = router.layer(middleware::from_fn_with_state(pending, pending::admit));
    let router =
        if config.allow_eio3 { router } else { router.layer(middleware::from_fn(engine_io::refuse_eio3)) };
    let hosts = AllowedHosts::from_config(config.allowed_hosts.as_deref(), config.bind);
    let origins = AllowedOrigins::from_config(config.allowed_origins.as_deref(), hosts.clone());
    router
        .layer(middleware::from_fn_with_state(connect_waits, connect_wait::hold))
        .layer(middleware::from_fn(request_head::detach))
        .layer(middleware::from_fn_with_state(origins.clone(), origins::check))
        .layer(cors(origins))
        .layer(middleware::from_fn_with_state(hosts, hosts::check))
        .layer(middleware::from_fn_with_state(config.idle_timeout, body_deadline::limit))
}

/// A future that disconnects every client of `io`.
fn close<A: Adapter + DefinedAdapter>(io: SocketIo<A>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move { io.close().await })
}

/// CORS for the polling transport, mirroring the origin check.
/// How users sign in, as configured (`Config::check` refuses `--jwt-secret` with `--auth-url`).
fn sign_in(config: &Config) -> Result<SignIn, HubError> {
    Ok(match (&config.auth_url, &config.jwt_secret) {
        (Some(url), _) => {
            SignIn::App(AppSignIn::new(url.clone(), config.auth_timeout, config.auth_cache_ttl)?)
        }
        (None, Some(secret)) => SignIn::Jwt(Box::new(JwtVerifier::new(secret))),
        (None, None) => SignIn::Open,
    })
}

fn cors(origins: AllowedOrigins) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |_, request| {
            origins.allows(&request.uri, &request.headers)
        }))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE])
        .allow_credentials(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Settings that would make a limiter or the runtime panic are refused by `bind` itself, for a
    /// `Config` built in code as for one loaded from flags.
    #[tokio::test]
    async fn bind_refuses_an_invalid_config_instead_of_panicking() {
        type Spoil = fn(&mut Config);
        let invalid: [(&str, Spoil); 4] = [
            ("rate-limit", |config| config.rate_limit = 0),
            ("rate-burst", |config| config.rate_burst = 0),
            ("publish-rate-limit", |config| config.publish_rate_limit = Some(0)),
            ("ping-interval", |config| config.ping_interval = Duration::ZERO),
        ];
        for (setting, spoil) in invalid {
            let mut config = Config::with_token(([127, 0, 0, 1], 0).into(), "a-publish-token-of-16+");
            spoil(&mut config);
            match Server::bind(config).await {
                Err(HubError::Config(e)) => assert!(e.to_string().contains(setting), "{e}"),
                Err(e) => panic!("{setting}: another error: {e}"),
                Ok(_) => panic!("{setting}: accepted"),
            }
        }
    }
}
