//! The server: binds, serves the demo page and Socket.IO, and shuts down gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use socketioxide::{ParserConfig, SocketIo};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::api::{self, REQUEST_ID};
use crate::cluster::{self, ClusterAdapter, ClusterError};
use crate::health::{self, Readiness};
use crate::jwt::JwtVerifier;
use crate::limits::Limits;
use crate::listener::{Peer, TunedListener};
use crate::log_throttle::LogThrottle;
use crate::origins::{self, AllowedOrigins, query_param, reaches_engine_io};
use crate::session::{self, HubState};
use crate::token::{PublishToken, TokenFile};
use crate::{Config, HubError, connect_wait, demo, file_limit, request_head};

/// How long open connections get to close after the shutdown signal before the hub exits anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(4);

/// Bytes read from a websocket at a time (the library's default is 4 KiB). Every connection keeps this
/// buffer for its whole life, written through on its first read, while Socket.IO messages are mostly far
/// smaller: 1 KiB saves 3 KiB per idle connection and measured no change for small messages (echo,
/// saturate); 256 KiB messages come in about 15% slower (BENCHMARKS.md).
const WS_READ_BUFFER: usize = 1024;

/// Packets each socket's send queue holds (the library's default is 128). A polling client gets the
/// replies to a batch of requests only with its next GET, so all of them wait in the queue: the official
/// client sends a burst of 1,000 `join` + `chat` pairs as one batch, 2,000 acks. A websocket client's
/// queue drains as the hub writes. The queue grows with use only (an idle socket holds none of it); for a
/// client that stops reading, it is the bound on what waits for it (README, "Limits").
const SEND_QUEUE_PACKETS: usize = 2048;

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
    io: Io,
    token_file: Option<TokenFile>,
}

/// The Socket.IO server, alone in memory or joined to a cluster.
enum Io {
    Alone(SocketIo),
    Cluster(SocketIo<ClusterAdapter>),
}

impl Io {
    /// Disconnects every client.
    async fn close(self) {
        match self {
            Io::Alone(io) => io.close().await,
            Io::Cluster(io) => io.close().await,
        }
    }
}

impl Server {
    /// Binds the listener and sets everything up; nothing is served until [`run`](Server::run).
    pub async fn bind(config: Config) -> Result<Self, HubError> {
        file_limit::raise_for(config.max_connections);
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(|source| HubError::Bind { addr: config.bind, source })?;
        let addr = listener.local_addr()?;

        let (token, token_file) = match config.publish_token.clone() {
            Some(token) => (PublishToken::new(token)?, None),
            None => {
                let token = PublishToken::generate();
                let path = config
                    .token_file
                    .clone()
                    .or_else(|| hub_protocol::token_file::default_token_file(addr.port()))
                    .ok_or(HubError::NoTokenDir)?;
                let file = TokenFile::write(path, &token)?;
                (token, Some(file))
            }
        };

        let limits = Arc::new(Limits::new(&config));
        let jwt = config.jwt_secret.as_deref().map(JwtVerifier::new);
        let state = HubState::new(token, limits, jwt, config.redis_url.is_none());
        let connect_waits = state.connect_waits.clone();
        // Messages up to twice max-payload are read and refused with `too_large`; larger ones close the
        // connection, so no client can make the hub buffer more than that. An event's binary attachments
        // arrive as frames of their own: together they get the same cap (socketioxide's default is 10 MB,
        // whatever max-payload says).
        let hard_cap = config.max_payload.saturating_mul(2);
        let parser = ParserConfig::common()
            .max_incoming_binary_buf_size(hard_cap)
            .max_incoming_binaries(MAX_ATTACHMENTS)
            .packet_completion_timeout(ATTACHMENTS_TIMEOUT);
        let builder = SocketIo::builder()
            .with_state(state.clone())
            .with_parser(parser)
            .ping_interval(config.ping_interval)
            .ping_timeout(config.ping_timeout)
            .max_payload(hard_cap as u64)
            .max_buffer_size(SEND_QUEUE_PACKETS)
            .ws_max_message_size(hard_cap)
            .ws_max_frame_size(hard_cap)
            .ws_read_buffer_size(WS_READ_BUFFER);
        let (router, io) = match &config.redis_url {
            None => {
                let (layer, io) = builder.build_layer();
                session::register(&io);
                let api = api::routes(io.clone(), state);
                (app(&config, api, Readiness::Alone).layer(layer), Io::Alone(io))
            }
            Some(url) => {
                let (adapter, link) = cluster::connect(url).await?;
                let (layer, io) = builder.with_adapter::<ClusterAdapter>(adapter).build_layer();
                session::register(&io)
                    .await
                    .map_err(|e| HubError::Cluster(ClusterError::Init(e.to_string())))?;
                let api = api::routes(io.clone(), state);
                (app(&config, api, Readiness::Cluster(link)).layer(layer), Io::Cluster(io))
            }
        };
        let origins = AllowedOrigins::from_config(config.allowed_origins.as_deref());
        let router = if config.allow_eio3 { router } else { router.layer(middleware::from_fn(refuse_eio3)) };
        let router = router
            .layer(middleware::from_fn_with_state(connect_waits, connect_wait::hold))
            .layer(middleware::from_fn(request_head::detach))
            .layer(middleware::from_fn_with_state(origins.clone(), origins::check))
            .layer(cors(origins));
        Ok(Self { listener, addr, router, io, token_file })
    }

    /// The address the hub listens on (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then disconnects every client and returns within about 4 s.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), HubError> {
        let Self { listener, addr, router, io, token_file } = self;
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
            io.close().await;
        };
        let app = router.into_make_service_with_connect_info::<Peer>();
        let serve = axum::serve(TunedListener(listener), app).with_graceful_shutdown(graceful);
        let deadline = async move {
            let _ = stopping.wait_for(|stopping| *stopping).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        };
        tokio::select! {
            served = serve => served?,
            () = deadline => tracing::warn!("connections still open {SHUTDOWN_GRACE:?} after shutdown; exiting anyway"),
        }
        tracing::info!("hub stopped");
        drop(token_file);
        Ok(())
    }
}

/// Everything but Socket.IO: the page, the HTTP API (with request ids and request spans), health and
/// metrics.
fn app(config: &Config, api: Router, readiness: Readiness) -> Router {
    let request_id = HeaderName::from_static(REQUEST_ID);
    let api = api
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
            let id = request.headers().get(REQUEST_ID).and_then(|id| id.to_str().ok()).unwrap_or("-");
            tracing::info_span!("api", method = %request.method(), path = %request.uri().path(), request_id = id)
        }))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid));
    demo::routes(config.static_dir.as_deref()).merge(api).merge(health::routes(readiness))
}

/// Middleware: answers a socket.io v2 client's (Engine.IO 3) request as Node does without `allowEIO3`:
/// 400 and Engine.IO error code 5. socketioxide's `v4` feature accepts these clients whenever it is
/// compiled in, with no switch at run time, so `--allow-eio3` is this check. The query string (where v2
/// clients put their token) is never logged.
async fn refuse_eio3(request: Request, next: Next) -> Response {
    let eio3 = reaches_engine_io(request.uri().path()) && query_param(request.uri(), "EIO") == Some("3");
    if !eio3 {
        return next.run(request).await;
    }
    static REFUSED: LogThrottle = LogThrottle::new(Duration::from_secs(60));
    if let Some(held_back) = REFUSED.due(Instant::now()) {
        tracing::warn!(
            held_back,
            "socket.io v2 client refused: start the hub with --allow-eio3 to accept them"
        );
    }
    let body = r#"{"code":5,"message":"Unsupported protocol version: socket.io v2 clients (EIO=3) need a hub started with --allow-eio3"}"#;
    (StatusCode::BAD_REQUEST, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// CORS for the polling transport, mirroring the origin check.
fn cors(origins: AllowedOrigins) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |_, request| origins.allows(&request.headers)))
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::CONTENT_TYPE])
        .allow_credentials(true)
}
