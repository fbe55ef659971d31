//! The driver between socketioxide-redis's adapter and Redis: it refuses at once while Redis is
//! unreachable, and it knows about every message between the nodes that was lost on the way in.
//!
//! Messages from Redis reach the adapter through two bounded queues: fred's notification channel (one
//! per client, a `tokio::sync::broadcast`: when its reader falls behind, the oldest messages are
//! overwritten) and one queue per subscribed channel (full: the message is refused). A lost message is
//! a lost broadcast, or an answer that a count waits for until its timeout and then goes without. So
//! this driver reads fred's notifications itself (socketioxide-redis's own fred driver only logs such
//! losses), counts every loss in `hub_cluster_messages_lost_total`, logs it (at most once a second) and
//! lets [`delivery`](crate::delivery) mark the results of operations that ran meanwhile as possibly
//! incomplete. The queues are sized in [`cluster`](super::cluster) so that losses do not happen.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use fred::clients::SubscriberClient;
use fred::error::Error as RedisError;
use fred::prelude::{ClientLike, EventInterface, PubsubInterface};
use fred::types::Message;
use socketioxide_redis::drivers::{ChanItem, Driver, MessageStream};
use tokio::sync::{broadcast, mpsc};

use crate::telemetry::log_throttle::LogThrottle;
use crate::telemetry::metrics;

/// Messages between the nodes lost on their way into this process since it started, for every link.
static LOST: AtomicU64 = AtomicU64::new(0);

/// How many messages between the nodes were lost so far: an operation that saw this number change may
/// be missing a node's answer or a broadcast.
pub fn lost_messages() -> u64 {
    LOST.load(Ordering::Relaxed)
}

/// At most one warning about lost messages per second.
static LOSS_WARNING: LogThrottle = LogThrottle::new(Duration::from_secs(1));

/// Counts `n` lost messages, and says where.
fn lost(n: u64, queue: &str) {
    LOST.fetch_add(n, Ordering::Relaxed);
    metrics::cluster_messages_lost(n);
    if let Some(held_back) = LOSS_WARNING.due(Instant::now()) {
        tracing::warn!(
            lost = n,
            held_back,
            total = lost_messages(),
            "messages between the hubs lost in {queue}: broadcasts may be missing and counts low"
        );
    }
}

/// Where the messages of each subscribed channel go.
type Routes = Arc<RwLock<HashMap<String, mpsc::Sender<ChanItem>>>>;

/// A driver over one fred subscriber client.
#[derive(Clone)]
pub struct LinkDriver {
    client: SubscriberClient,
    routes: Routes,
}

impl LinkDriver {
    /// Starts routing `client`'s messages; call before the client connects, so none is missed.
    pub fn new(client: SubscriberClient) -> Self {
        let routes = Routes::default();
        tokio::spawn(route(client.message_rx(), routes.clone()));
        Self { client, routes }
    }

    fn ensure_up(&self) -> Result<(), LinkError> {
        if self.client.is_connected() { Ok(()) } else { Err(LinkError::Down) }
    }

    /// Subscribes to `chan` with plain (not sharded) pub/sub, which Lua scripts may publish to on any
    /// Redis, a Redis Cluster included; its messages arrive in the order Redis published them.
    pub async fn subscribe_plain(
        &self,
        chan: &str,
        size: usize,
    ) -> Result<MessageStream<ChanItem>, LinkError> {
        let (queue, stream) = mpsc::channel(size);
        self.routes.write().unwrap_or_else(PoisonError::into_inner).insert(chan.to_owned(), queue);
        if let Err(e) = self.client.subscribe(chan).await {
            self.routes.write().unwrap_or_else(PoisonError::into_inner).remove(chan);
            return Err(e.into());
        }
        Ok(MessageStream::new(stream))
    }
}

/// Moves each message from fred's notification channel to its channel's queue, counting losses.
async fn route(mut messages: broadcast::Receiver<Message>, routes: Routes) {
    loop {
        let message = match messages.recv().await {
            Ok(message) => message,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                lost(n, "the Redis client's notification channel (it was full)");
                continue;
            }
            // The client was closed for good.
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let channel = message.channel.to_string();
        let Some(data) = message.value.into_owned_bytes() else { continue };
        let route = routes.read().unwrap_or_else(PoisonError::into_inner).get(&channel).cloned();
        match route.map(|queue| queue.try_send((channel, data))) {
            Some(Ok(())) => {}
            Some(Err(mpsc::error::TrySendError::Full(_))) => {
                lost(1, "the adapter's channel queue (it was full)")
            }
            // Unsubscribed meanwhile (a namespace closed): nobody waits for it.
            Some(Err(mpsc::error::TrySendError::Closed(_))) | None => {}
        }
    }
}

/// A failed cross-node operation.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("Redis is unreachable")]
    Down,
    #[error("Redis: {0}")]
    Redis(#[from] RedisError),
}

impl Driver for LinkDriver {
    type Error = LinkError;

    async fn publish(&self, chan: String, val: Vec<u8>) -> Result<(), LinkError> {
        self.ensure_up()?;
        self.client.spublish::<u16, _, _>(chan, val).await?;
        Ok(())
    }

    async fn subscribe(&self, chan: String, size: usize) -> Result<MessageStream<ChanItem>, LinkError> {
        // Routed before subscribing: Redis may send the first message before it confirms.
        let (queue, stream) = mpsc::channel(size);
        self.routes.write().unwrap_or_else(PoisonError::into_inner).insert(chan.clone(), queue);
        if let Err(e) = self.client.ssubscribe(chan.as_str()).await {
            self.routes.write().unwrap_or_else(PoisonError::into_inner).remove(&chan);
            return Err(e.into());
        }
        Ok(MessageStream::new(stream))
    }

    async fn unsubscribe(&self, chan: String) -> Result<(), LinkError> {
        self.routes.write().unwrap_or_else(PoisonError::into_inner).remove(&chan);
        self.client.sunsubscribe(chan).await?;
        Ok(())
    }

    async fn num_serv(&self, chan: &str) -> Result<u16, LinkError> {
        self.ensure_up()?;
        let (_, nodes): (String, u16) = self.client.pubsub_shardnumsub(chan).await?;
        Ok(nodes)
    }
}

#[cfg(test)]
mod tests {
    use fred::prelude::Server;
    use fred::types::{MessageKind, Value};

    use super::*;

    fn message(channel: &str) -> Message {
        Message {
            channel: channel.into(),
            kind: MessageKind::SMessage,
            value: Value::from_static(b"data"),
            server: Server::new("127.0.0.1", 6379),
        }
    }

    #[tokio::test]
    async fn every_message_lost_on_the_way_in_is_counted() {
        let (queue, mut stream) = mpsc::channel(1);
        let routes = Routes::new(RwLock::new(HashMap::from([("a".to_owned(), queue)])));
        // Five messages into four slots before the router reads: the oldest is overwritten.
        let (notifications, messages) = broadcast::channel(4);
        for _ in 0..5 {
            notifications.send(message("a")).unwrap();
        }
        let before = lost_messages();
        let router = tokio::spawn(route(messages, routes));
        // Of the four left, the channel's queue takes one and refuses three.
        drop(notifications);
        router.await.unwrap();
        assert_eq!(lost_messages() - before, 4, "1 overwritten and 3 refused");
        assert_eq!(stream.recv().await.map(|(channel, _)| channel).as_deref(), Some("a"));
        assert!(stream.try_recv().is_err());
    }
}
