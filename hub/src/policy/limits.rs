//! Limits that protect everyone else from one client: how many sockets may connect (and how many more
//! publishers), how many namespaces exist, how large a message may be, how many rooms a socket may be
//! in, and how fast a socket may send `chat`, `join`/`leave` and `publish`.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::Clock;
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use hub_protocol::{ErrorCode, Rejection};

use crate::Config;
use crate::telemetry::metrics;

/// Connections kept for publishers beyond `max-connections`: anonymous clients that fill the hub never
/// lock out the backends and cron jobs that publish into it.
pub const PUBLISHER_RESERVE: usize = 100;

/// Why a socket was not admitted: the hub is full.
#[derive(Debug, thiserror::Error)]
pub enum Full {
    #[error(
        "the hub is full: it accepts at most {max} connections (its operator can raise --max-connections)"
    )]
    Connections { max: usize },
    #[error(
        "the hub is full, even for publishers: {max} connections and the {PUBLISHER_RESERVE} kept for \
         publishers are taken (its operator can raise --max-connections)"
    )]
    Publishers { max: usize },
}

/// The limits of one hub, shared by all its sockets.
#[derive(Debug)]
pub struct Limits {
    max_connections: usize,
    connected: AtomicUsize,
    /// Admitted sockets by namespace; a namespace that was used and is empty now stays at 0 until it is
    /// reclaimed (see [`Limits::reclaim_unused`]).
    namespaces: Mutex<HashMap<String, usize>>,
    /// Most namespaces in use, `/` included.
    pub max_namespaces: usize,
    /// Largest message, in bytes.
    pub max_payload: usize,
    chat: Quota,
    /// `join` and `leave` together.
    join: Quota,
    max_rooms_per_socket: usize,
    /// `None`: publishers are trusted and not limited (the default).
    publish: Option<Quota>,
    /// The HTTP API's limiter, per client address, when publishers are limited.
    pub api: Option<DefaultKeyedRateLimiter<std::net::IpAddr>>,
}

/// A connection counted against `max-connections`, released when dropped (with its socket).
#[derive(Debug)]
pub struct ConnectionSlot {
    limits: Arc<Limits>,
    namespace: String,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.limits.connected.fetch_sub(1, Ordering::Relaxed);
        if let Some(sockets) = self.limits.namespaces().get_mut(&self.namespace) {
            *sockets = sockets.saturating_sub(1);
        }
        metrics::socket_disconnected(&self.namespace);
    }
}

/// A socket's own token buckets.
#[derive(Debug)]
pub struct SocketRates {
    chat: DefaultDirectRateLimiter,
    join: DefaultDirectRateLimiter,
    publish: Option<DefaultDirectRateLimiter>,
}

/// What a socket's rate applies to.
#[derive(Debug, Clone, Copy)]
pub enum Action {
    Chat,
    /// A `join` or `leave` that changes the socket's rooms.
    Join,
    Publish,
}

/// The buckets of one socket, kept in its extensions.
pub type SocketRate = Arc<SocketRates>;

impl Limits {
    pub fn new(config: &Config) -> Self {
        let quota = |rate, burst| {
            let rate = NonZeroU32::new(rate).expect("checked by Config::load");
            let burst = NonZeroU32::new(burst).expect("checked by Config::load");
            Quota::per_second(rate).allow_burst(burst)
        };
        let publish =
            config.publish_rate_limit.map(|rate| quota(rate, config.publish_rate_burst.unwrap_or(rate)));
        Self {
            max_connections: config.max_connections,
            connected: AtomicUsize::new(0),
            namespaces: Mutex::default(),
            max_namespaces: config.max_namespaces,
            max_payload: config.max_payload,
            chat: quota(config.rate_limit, config.rate_burst),
            join: quota(config.join_rate_limit, config.join_rate_burst),
            max_rooms_per_socket: config.max_rooms_per_socket,
            publish,
            api: publish.map(RateLimiter::keyed),
        }
    }

    /// Counts a new connection, or refuses it when the hub is full. Publishers may use
    /// [`PUBLISHER_RESERVE`] more connections than anyone else.
    pub fn admit(self: &Arc<Self>, namespace: &str, publisher: bool) -> Result<Arc<ConnectionSlot>, Full> {
        let max = self.max_connections;
        let taken = self.connected.fetch_add(1, Ordering::Relaxed);
        let refused = match publisher {
            false if taken >= max => Some(Full::Connections { max }),
            true if taken >= max.saturating_add(PUBLISHER_RESERVE) => Some(Full::Publishers { max }),
            _ => None,
        };
        if let Some(full) = refused {
            self.connected.fetch_sub(1, Ordering::Relaxed);
            return Err(full);
        }
        *self.namespaces().entry(namespace.to_owned()).or_default() += 1;
        metrics::socket_connected(namespace);
        Ok(Arc::new(ConnectionSlot { limits: Arc::clone(self), namespace: namespace.to_owned() }))
    }

    /// Calls `delete` for every namespace but `/` and `keep` that was used and has no socket now, and
    /// forgets it. Returns how many there were. Under the same lock as [`Limits::admit`], so no socket is
    /// admitted to a namespace while it is deleted; a socket that passed the namespace check just before
    /// finds its namespace gone once admitted (see `session.rs`).
    pub fn reclaim_unused(&self, keep: &str, mut delete: impl FnMut(&str)) -> usize {
        let mut namespaces = self.namespaces();
        let before = namespaces.len();
        namespaces.retain(|name, sockets| {
            let unused = *sockets == 0 && name != "/" && name != keep;
            if unused {
                delete(name);
            }
            !unused
        });
        before - namespaces.len()
    }

    /// Records `namespace`, opened with no socket in it, so that it is reclaimed like any namespace
    /// whose sockets have all gone.
    pub fn opened(&self, namespace: &str) {
        self.namespaces().entry(namespace.to_owned()).or_default();
    }

    /// Sockets admitted now, in every namespace.
    pub fn connected(&self) -> usize {
        self.connected.load(Ordering::Relaxed)
    }

    /// Sockets admitted now, by namespace, sorted by name (namespaces not yet reclaimed show 0).
    pub fn namespace_sizes(&self) -> Vec<(String, usize)> {
        let mut sizes: Vec<(String, usize)> =
            self.namespaces().iter().map(|(name, sockets)| (name.clone(), *sockets)).collect();
        sizes.sort_unstable();
        sizes
    }

    /// Calls `delete` for `namespace` if no socket is admitted to it, and forgets it; for a namespace
    /// that socketioxide created for a socket that was then refused.
    pub fn release_if_unused(&self, namespace: &str, delete: impl FnOnce(&str)) {
        let mut namespaces = self.namespaces();
        if namespaces.get(namespace).copied().unwrap_or(0) == 0 {
            namespaces.remove(namespace);
            delete(namespace);
        }
    }

    fn namespaces(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.namespaces.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Fresh token buckets for one socket.
    pub fn socket_rate(&self) -> SocketRate {
        Arc::new(SocketRates {
            chat: RateLimiter::direct(self.chat),
            join: RateLimiter::direct(self.join),
            publish: self.publish.map(RateLimiter::direct),
        })
    }

    /// Takes one `action` from `rate`, or refuses with `rate_limited` and the time until it may try again.
    pub fn check_rate(&self, rate: &SocketRate, action: Action) -> Result<(), Rejection> {
        match action {
            Action::Chat => check(&rate.chat, self.chat, "messages"),
            Action::Join => check(&rate.join, self.join, "joins and leaves"),
            Action::Publish => match (&rate.publish, self.publish) {
                (Some(limiter), Some(quota)) => check(limiter, quota, "publishes"),
                _ => Ok(()),
            },
        }
    }

    /// Most rooms a socket may be in: `None` (no cap) for a publisher, which is trusted.
    pub fn max_rooms(&self, publisher: bool) -> Option<usize> {
        (!publisher).then_some(self.max_rooms_per_socket)
    }

    /// The refusal for an HTTP API client over its rate, which may try again after `wait`.
    pub fn api_rate_limited(&self, wait: Duration) -> Rejection {
        match self.publish {
            Some(quota) => rate_limited("requests", quota, wait),
            None => Rejection::rate_limited("slow down", wait),
        }
    }

    /// Refuses `what`, `len` bytes on the wire, with `too_large` when it is over `max-payload`.
    pub fn check_size(&self, what: &str, len: usize) -> Result<(), Rejection> {
        if len > self.max_payload {
            return Err(Rejection::new(
                ErrorCode::TooLarge,
                format!("{what} is {len} bytes; the limit is {} bytes", self.max_payload),
            ));
        }
        Ok(())
    }
}

/// Takes one from `limiter`, or refuses with the time until it may try again.
fn check(limiter: &DefaultDirectRateLimiter, quota: Quota, what: &str) -> Result<(), Rejection> {
    limiter
        .check()
        .map_err(|refused| rate_limited(what, quota, refused.wait_time_from(limiter.clock().now())))
}

fn rate_limited(what: &str, quota: Quota, wait: Duration) -> Rejection {
    let per_second = quota.replenish_interval().as_secs_f64().recip().round();
    Rejection::rate_limited(
        format!("slow down: at most {per_second} {what} per second (bursts of {})", quota.burst_size()),
        wait,
    )
}
