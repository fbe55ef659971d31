//! Limits that protect everyone else from one client: how many sockets may connect, how large a message
//! may be, how many rooms a socket may be in, and how fast a socket may send `chat`, `join`/`leave` and
//! `publish`.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use governor::clock::Clock;
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use hub_protocol::{ErrorCode, Rejection};

use crate::Config;
use crate::telemetry::metrics;

/// The limits of one hub, shared by all its sockets.
#[derive(Debug)]
pub struct Limits {
    max_connections: usize,
    connected: AtomicUsize,
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
            max_namespaces: config.max_namespaces,
            max_payload: config.max_payload,
            chat: quota(config.rate_limit, config.rate_burst),
            join: quota(config.join_rate_limit, config.join_rate_burst),
            max_rooms_per_socket: config.max_rooms_per_socket,
            publish,
            api: publish.map(RateLimiter::keyed),
        }
    }

    /// Counts a new connection, or refuses it when the hub is full.
    pub fn admit(self: &Arc<Self>, namespace: &str) -> Result<Arc<ConnectionSlot>, String> {
        let taken = self.connected.fetch_add(1, Ordering::Relaxed);
        if taken >= self.max_connections {
            self.connected.fetch_sub(1, Ordering::Relaxed);
            return Err(format!("the hub is full: it accepts at most {} connections", self.max_connections));
        }
        metrics::socket_connected(namespace);
        Ok(Arc::new(ConnectionSlot { limits: Arc::clone(self), namespace: namespace.to_owned() }))
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
