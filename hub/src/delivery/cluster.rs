//! Several hubs as one, joined through Redis: socketioxide-redis's adapter over a fred client that
//! reconnects by itself.
//!
//! The protocol between nodes is socketioxide-redis's own (sharded pub/sub, RESP3, Redis 7 or newer).
//! What this module adds is behaviour when Redis goes away: the [`LinkDriver`] refuses at once instead of
//! queueing commands until Redis returns, so every cross-node operation fails fast and
//! [`delivery`](crate::delivery) falls back to this node's own sockets. fred retries the connection every
//! [`RECONNECT_DELAY`] and, once connected, re-subscribes the adapter's channels.

use std::fmt;
use std::time::Duration;

use socketioxide::adapter::Emitter;
use socketioxide_redis::drivers::fred::fred_client::error::Error as RedisError;
use socketioxide_redis::drivers::fred::fred_client::prelude::{
    Builder, ClientLike, Config, EventInterface, PubsubInterface, ReconnectPolicy,
};
use socketioxide_redis::drivers::fred::fred_client::types::RespVersion;
use socketioxide_redis::drivers::fred::{FredDriver, FredError, fred_client::clients::SubscriberClient};
use socketioxide_redis::drivers::{ChanItem, Driver, MessageStream};
use socketioxide_redis::{CustomRedisAdapter, RedisAdapterConfig, RedisAdapterCtr};

/// The adapter of a hub in a cluster.
pub type ClusterAdapter = CustomRedisAdapter<Emitter, LinkDriver>;

/// How long to wait between two attempts to reach a lost Redis.
pub const RECONNECT_DELAY: Duration = Duration::from_millis(500);
/// How long the first connection may take before the hub gives up starting.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a node waits for the others' answers (member counts, deliveries).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// Backstop for a command sent just before the connection dropped.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

/// Why the hub could not join its cluster at start.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("invalid --redis-url: {0}")]
    Url(#[source] RedisError),
    #[error("cannot connect to Redis at {url}: no answer within {CONNECT_TIMEOUT:?}")]
    Timeout { url: String },
    #[error("cannot connect to Redis at {url}: {source}")]
    Connect { url: String, source: RedisError },
    #[error("cannot subscribe to the cluster's channels in Redis: {0}")]
    Init(#[source] socketioxide_redis::InitError<LinkDriver>),
}

/// The hub's connection to Redis, for readiness checks.
#[derive(Clone)]
pub struct ClusterLink(SubscriberClient);

impl ClusterLink {
    /// Whether Redis is reachable now.
    pub fn is_up(&self) -> bool {
        self.0.is_connected()
    }
}

impl fmt::Debug for ClusterLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClusterLink(up: {})", self.is_up())
    }
}

/// Connects to Redis and returns the adapter's constructor, for `SocketIo::builder().with_adapter`, and
/// the link's health.
pub async fn connect(url: &str) -> Result<(RedisAdapterCtr<LinkDriver>, ClusterLink), ClusterError> {
    let mut config = Config::from_url(url).map_err(ClusterError::Url)?;
    // socketioxide-redis needs RESP3 push messages; fred does not read `?protocol=` from the URL.
    config.version = RespVersion::RESP3;
    let client = Builder::from_config(config)
        .set_policy(ReconnectPolicy::new_constant(0, RECONNECT_DELAY.as_millis() as u32))
        .with_connection_config(|c| c.connection_timeout = CONNECT_TIMEOUT)
        .with_performance_config(|p| p.default_command_timeout = COMMAND_TIMEOUT)
        .build_subscriber_client()
        .map_err(ClusterError::Url)?;

    let driver = tokio::time::timeout(CONNECT_TIMEOUT, FredDriver::new(client.clone()))
        .await
        .map_err(|_| ClusterError::Timeout { url: redact(url) })?
        .map_err(|source| ClusterError::Connect { url: redact(url), source })?;
    watch_connection(&client);
    tracing::info!(url = redact(url), "joined the cluster through Redis");

    let config = RedisAdapterConfig::default().with_request_timeout(REQUEST_TIMEOUT);
    let link = ClusterLink(client.clone());
    Ok((RedisAdapterCtr::new_with_driver(LinkDriver { inner: driver, client }, config), link))
}

/// Logs when the link to Redis drops, and when it is back subscribes the adapter's channels again.
///
/// (With fred's own `manage_subscriptions` instead, cross-node delivery never resumed in the tests; this
/// subscribes the tracked sharded channels one by one.)
fn watch_connection(client: &SubscriberClient) {
    client.on_error(|(error, _)| async move {
        tracing::error!("Redis connection lost ({error}); serving this node's clients only until it is back");
        Ok(())
    });
    let resubscriber = client.clone();
    client.on_reconnect(move |server| {
        let client = resubscriber.clone();
        async move {
            let channels = client.tracked_shard_channels();
            for channel in &channels {
                if let Err(e) = client.ssubscribe(channel.to_string()).await {
                    tracing::error!(channel = %channel, "cannot subscribe again after reconnecting to Redis: {e}");
                }
            }
            tracing::info!(%server, channels = channels.len(), "Redis connection restored; cross-node delivery resumes");
            Ok(())
        }
    });
}

/// The URL without its password, for logs and errors.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// socketioxide-redis's fred driver, made to refuse at once while Redis is unreachable.
#[derive(Clone)]
pub struct LinkDriver {
    inner: FredDriver,
    client: SubscriberClient,
}

impl LinkDriver {
    fn ensure_up(&self) -> Result<(), LinkError> {
        if self.client.is_connected() { Ok(()) } else { Err(LinkError::Down) }
    }
}

/// A failed cross-node operation.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("Redis is unreachable")]
    Down,
    #[error("Redis: {0}")]
    Redis(#[from] FredError),
}

impl Driver for LinkDriver {
    type Error = LinkError;

    async fn publish(&self, chan: String, val: Vec<u8>) -> Result<(), LinkError> {
        self.ensure_up()?;
        self.inner.publish(chan, val).await.map_err(LinkError::from)
    }

    async fn subscribe(&self, chan: String, size: usize) -> Result<MessageStream<ChanItem>, LinkError> {
        self.inner.subscribe(chan, size).await.map_err(LinkError::from)
    }

    async fn unsubscribe(&self, chan: String) -> Result<(), LinkError> {
        self.inner.unsubscribe(chan).await.map_err(LinkError::from)
    }

    async fn num_serv(&self, chan: &str) -> Result<u16, LinkError> {
        self.ensure_up()?;
        self.inner.num_serv(chan).await.map_err(LinkError::from)
    }
}
