//! Several hubs as one, joined through Redis: socketioxide-redis's adapter over a fred client that
//! reconnects by itself.
//!
//! The protocol between nodes is socketioxide-redis's own (sharded pub/sub, RESP3, Redis 7 or newer).
//! What this module adds is behaviour when Redis goes away: the [`LinkDriver`] refuses at once instead of
//! queueing commands until Redis returns, so every cross-node operation fails fast and
//! [`delivery`](crate::delivery) falls back to this node's own sockets. fred retries the connection every
//! [`RECONNECT_DELAY`] and, once connected, re-subscribes the adapter's channels. And it sizes the queues
//! that messages between the nodes pass through ([`NOTIFICATION_SLOTS`], [`CHANNEL_QUEUE`]); the
//! [`link`](super::link) counts what they still lose.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use fred::clients::{Client, SubscriberClient};
use fred::error::Error as RedisError;
use fred::prelude::{Builder, ClientLike, Config, EventInterface, PubsubInterface, ReconnectPolicy};
use fred::types::RespVersion;
use hub_protocol::control::{CONTROL_CHANNEL, ControlAnswer, ControlQuery, reply_channel};
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::adapter::Emitter;
use socketioxide_redis::drivers::{ChanItem, MessageStream};
use socketioxide_redis::{CustomRedisAdapter, RedisAdapterConfig, RedisAdapterCtr};

use super::Reached;
use super::link::{LinkDriver, LinkError};
use crate::control::{self, link::ControlLink};
use crate::history::announcement::{Audience, CHANNEL};
use crate::state::HubState;

/// The adapter of a hub in a cluster.
pub type ClusterAdapter = CustomRedisAdapter<Emitter, LinkDriver>;

/// How long to wait between two attempts to reach a lost Redis.
pub const RECONNECT_DELAY: Duration = Duration::from_millis(500);
/// How long the first connection may take before the hub gives up starting.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a node waits for the others' answers (member counts, deliveries).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// Backstop for a command sent just before the connection dropped.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

/// Messages from Redis that may wait for the [`link`](super::link) to route them (fred's
/// `broadcast_channel_capacity`; its default of 32 lost messages about 60 times while 3,000 sockets
/// joined across 3 hubs on 2 cores, each join being a request to every node and an answer from each).
/// A join anywhere sends every node a request, and the joining socket's node an answer from each of the
/// others; a busy machine may not run the router for tens of milliseconds. 8,192 holds more than a
/// second of messages at 2,000 joins a second, Node's pace on this workload.
/// fred allocates its 9 notification channels with this many slots each at start: 4 MiB more resident
/// memory per hub than with 32 (10 to 14 MiB at start, release build).
pub const NOTIFICATION_SLOTS: usize = 8_192;
/// Messages of one subscribed channel waiting for the namespace's adapter (socketioxide-redis's
/// `stream_buffer`, 1,024 by default). The adapter handles a broadcast to many local sockets while
/// messages queue behind it; the queue allocates as it fills, so an idle one costs nothing.
pub const CHANNEL_QUEUE: usize = 65_536;

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
    #[error("cannot subscribe to the history's channel in Redis: {0}")]
    Subscribe(#[source] LinkError),
    #[error("cannot subscribe to the control channels in Redis: {0}")]
    Control(#[source] LinkError),
}

/// The hub's connection to Redis, for readiness checks and the history's announcements.
#[derive(Clone)]
pub struct ClusterLink {
    client: SubscriberClient,
    driver: LinkDriver,
    /// The application's control requests between the hubs.
    control: Arc<ControlLink>,
}

impl ClusterLink {
    /// Whether Redis is reachable now.
    pub fn is_up(&self) -> bool {
        self.client.is_connected()
    }

    /// Subscribes to the recorded events every hub announces
    /// ([`history::announcement`](crate::history::announcement)).
    pub async fn announcements(&self) -> Result<MessageStream<ChanItem>, LinkError> {
        self.driver.subscribe_plain(CHANNEL, CHANNEL_QUEUE).await
    }

    /// How many of the other hubs' sockets an event of `audience`'s stream reaches: one number from each
    /// hub over the control channel, where socketioxide-redis's `fetch_sockets` has every hub list each
    /// socket (docs/socketioxide-upstream.md, section 5). A hub that does not answer within
    /// [`REQUEST_TIMEOUT`] makes the count incomplete; without Redis it is 0, for this hub only.
    pub async fn receivers_elsewhere(&self, audience: &Audience) -> Reached<usize> {
        let Audience { key, earlier, .. } = audience;
        self.count_elsewhere(&key.namespace, key.room.as_deref(), earlier).await
    }

    /// How many of the other hubs' sockets are in `room` of `namespace`, counted as
    /// [`receivers_elsewhere`](Self::receivers_elsewhere) counts: a room's events reach all its members.
    pub async fn members_elsewhere(&self, namespace: &str, room: &str) -> Reached<usize> {
        self.count_elsewhere(namespace, Some(room), &[]).await
    }

    async fn count_elsewhere(
        &self,
        namespace: &str,
        room: Option<&str>,
        earlier: &[String],
    ) -> Reached<usize> {
        let query = ControlQuery::Receivers {
            namespace: namespace.to_owned(),
            room: room.map(str::to_owned),
            earlier: earlier.to_vec(),
        };
        let gathered = self.control.ask(&query, REQUEST_TIMEOUT).await;
        let value = gathered
            .answers
            .iter()
            .map(|answer| match answer {
                ControlAnswer::Receivers { count, .. } => *count,
                _ => 0,
            })
            .sum();
        Reached { value, scope: gathered.scope }
    }

    /// This hub's end of the control requests between the hubs.
    pub fn control(&self) -> &Arc<ControlLink> {
        &self.control
    }

    /// Subscribes to the control requests of every hub and to the answers to this hub's own, and
    /// answers from `io`'s sockets from now on.
    pub async fn serve_control<A: Adapter>(&self, io: SocketIo<A>, hub: HubState) -> Result<(), LinkError> {
        let requests = self.driver.subscribe_plain(CONTROL_CHANNEL, control::link::QUEUE).await?;
        let replies =
            self.driver.subscribe_plain(&reply_channel(self.control.hub()), control::link::QUEUE).await?;
        self.control.start(requests, replies, io, hub);
        Ok(())
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
    let client = builder(url)?.build_subscriber_client().map_err(ClusterError::Url)?;

    // Routing first, so that no message arrives before its reader.
    let driver = LinkDriver::new(client.clone());
    init(&client, url).await?;
    watch_connection(&client);
    tracing::info!(url = redact(url), "joined the cluster through Redis");

    let config =
        RedisAdapterConfig::default().with_request_timeout(REQUEST_TIMEOUT).with_stream_buffer(CHANNEL_QUEUE);
    let control = Arc::new(ControlLink::new(client.clone()));
    let link = ClusterLink { client, driver: driver.clone(), control };
    Ok((RedisAdapterCtr::new_with_driver(driver, config), link))
}

/// A second connection to Redis, for the history's commands (scripts that may return many events
/// should not hold up the messages between the nodes). It reconnects like the link, and the history
/// refuses at once while it is down.
pub async fn command_client(url: &str) -> Result<Client, ClusterError> {
    let client = builder(url)?.build().map_err(ClusterError::Url)?;
    init(&client, url).await?;
    client.on_error(|(error, _)| async move {
        tracing::debug!("Redis connection for history lost ({error})");
        Ok(())
    });
    Ok(client)
}

/// A client of the Redis at `url` that retries every [`RECONNECT_DELAY`] once connected.
fn builder(url: &str) -> Result<Builder, ClusterError> {
    let mut config = Config::from_url(url).map_err(ClusterError::Url)?;
    // socketioxide-redis needs RESP3 push messages; fred does not read `?protocol=` from the URL.
    config.version = RespVersion::RESP3;
    let mut builder = Builder::from_config(config);
    builder
        .set_policy(ReconnectPolicy::new_constant(0, RECONNECT_DELAY.as_millis() as u32))
        .with_connection_config(|c| c.connection_timeout = CONNECT_TIMEOUT)
        .with_performance_config(|p| {
            p.default_command_timeout = COMMAND_TIMEOUT;
            p.broadcast_channel_capacity = NOTIFICATION_SLOTS;
        });
    Ok(builder)
}

/// Connects `client` for the first time, within [`CONNECT_TIMEOUT`].
async fn init(client: &impl ClientLike, url: &str) -> Result<(), ClusterError> {
    tokio::time::timeout(CONNECT_TIMEOUT, client.init())
        .await
        .map_err(|_| ClusterError::Timeout { url: redact(url) })?
        .map_err(|source| ClusterError::Connect { url: redact(url), source })?;
    Ok(())
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
            for channel in client.tracked_channels() {
                if let Err(e) = client.subscribe(channel.to_string()).await {
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
