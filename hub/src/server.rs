//! The server: binds, serves the demo page and Socket.IO, and shuts down gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use socketioxide::SocketIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::cluster::{self, ClusterAdapter, ClusterError};
use crate::listener::TunedListener;
use crate::session::{self, HubState};
use crate::token::{PublishToken, TokenFile};
use crate::{Config, HubError, demo};

/// How long open connections get to close after the shutdown signal before the hub exits anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(4);

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
        let listener = TcpListener::bind(config.bind)
            .await
            .map_err(|source| HubError::Bind { addr: config.bind, source })?;
        let addr = listener.local_addr()?;

        let (token, token_file) = match config.publish_token {
            Some(token) => (PublishToken::new(token)?, None),
            None => {
                let token = PublishToken::generate();
                let path = config
                    .token_file
                    .or_else(|| hub_protocol::token_file::default_token_file(addr.port()))
                    .ok_or(HubError::NoTokenDir)?;
                let file = TokenFile::write(path, &token)?;
                (token, Some(file))
            }
        };

        let state = HubState::new(token);
        let (router, io) = match &config.redis_url {
            None => {
                let (layer, io) = SocketIo::builder().with_state(state).build_layer();
                session::register(&io);
                (demo::routes().layer(layer), Io::Alone(io))
            }
            Some(url) => {
                let adapter = cluster::connect(url).await?;
                let (layer, io) = SocketIo::builder()
                    .with_state(state)
                    .with_adapter::<ClusterAdapter>(adapter)
                    .build_layer();
                session::register(&io)
                    .await
                    .map_err(|e| HubError::Cluster(ClusterError::Init(e.to_string())))?;
                (demo::routes().layer(layer), Io::Cluster(io))
            }
        };
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
        let serve = axum::serve(TunedListener(listener), router).with_graceful_shutdown(graceful);
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
