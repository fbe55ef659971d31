//! The hub's settings. Each one is a flag with an `HUB_*` environment variable and a key of the TOML file
//! given by `--config`; a flag beats the environment, which beats the file, which beats the default.
//!
//! [`Settings`] is that one list, parsed twice (by clap from flags and environment, by serde from the
//! file); [`Config::load`] merges the two and checks the result, so an invalid setting stops the hub at
//! start with one line that names it.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, ValueEnum};
use serde::{Deserialize, Deserializer, Serialize};

mod admin;
mod webhooks;

pub use admin::{AdminConfig, AdminPassword, DEFAULT_ADMIN_USERNAME};
pub use webhooks::{DEFAULT_WEBHOOK_QUEUE, WebhookConfig};

/// Default listening address: loopback only.
pub const DEFAULT_BIND: &str = "127.0.0.1:3000";
/// Default most connected sockets at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 100_000;
/// Default most namespaces (`/` included).
pub const DEFAULT_MAX_NAMESPACES: usize = 1000;
/// Default largest message: 1 MiB.
pub const DEFAULT_MAX_PAYLOAD: usize = 1 << 20;
/// Default deadline of a request to the application that signs users in (`--auth-url`).
pub const DEFAULT_AUTH_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest `--auth-timeout`: a client waits this long for its CONNECT's answer.
const MAX_AUTH_TIMEOUT: Duration = Duration::from_secs(60);
/// Default time the application's answer to a sign-in is reused for the same cookie.
pub const DEFAULT_AUTH_CACHE_TTL: Duration = Duration::from_secs(30);
/// Longest `--auth-cache-ttl`: a session the application ends can connect until its answer expires.
const MAX_AUTH_CACHE_TTL: Duration = Duration::from_secs(3600);
/// Longest duration setting: clients time pings with `setTimeout`, which misfires past about 24 days.
const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);
/// Fewest characters a publish token or bytes a JWT secret may have: guessing one must be hopeless.
pub const MIN_SECRET_LEN: usize = 16;
/// Default sustained rate of `chat` per socket. Publishers have no rate unless the operator sets one.
pub const DEFAULT_RATE_LIMIT: u32 = 20;
/// Default burst above the sustained rate.
pub const DEFAULT_RATE_BURST: u32 = 40;
/// Default most rooms one socket may be in at once (publishers are not capped).
pub const DEFAULT_MAX_ROOMS_PER_SOCKET: usize = 100;
/// Default sustained `join`s and `leave`s per socket (publishers are not limited).
pub const DEFAULT_JOIN_RATE_LIMIT: u32 = 20;
/// Default burst of `join`s and `leave`s: enough to join `DEFAULT_MAX_ROOMS_PER_SOCKET` rooms at once.
pub const DEFAULT_JOIN_RATE_BURST: u32 = 100;
/// Default Engine.IO ping interval.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(25);
/// Default Engine.IO ping timeout.
pub const DEFAULT_PING_TIMEOUT: Duration = Duration::from_secs(20);
/// Default time a new session has to connect its socket: ten times what a client across the world
/// needs, a quarter of Node's 45 s, which kept sessions that never connect alive four times as long.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default most sessions waiting for their CONNECT at once. A client waits one round trip, so this covers
/// bursts of thousands of handshakes a second, and bounds what sessions that never connect hold.
pub const DEFAULT_MAX_PENDING_SESSIONS: usize = 1000;
/// Default time a connection has to send a request head, after opening or between requests (Node closes
/// idle keep-alive connections after 5 s).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default events kept per stream (each room, and each namespace): enough for a page to show a chat's
/// recent past and for a client to recover a few seconds' worth of a busy room.
pub const DEFAULT_HISTORY_SIZE: usize = 100;
/// Default largest room whose members hear `presence`: every arrival is announced to every member, so a
/// room of N members costs N deliveries per arrival; the lists a page shows are shorter than this (a
/// hosted presence service caps its presence channels at the same 100). Bigger rooms get `members` counts.
pub const DEFAULT_PRESENCE_MAX_MEMBERS: usize = 100;
/// Default time an event is kept for recovery: a phone in a tunnel, a laptop waking up, a hub restart.
pub const DEFAULT_HISTORY_TTL: Duration = Duration::from_secs(600);
/// Default memory all history may use on a lone hub (the oldest events go first beyond it).
pub const DEFAULT_HISTORY_MEMORY: usize = 64 << 20;
/// Default most connections waiting for a request at once: real clients send theirs at once, so few
/// wait at any moment; 1,024 of them take about 10 MiB and 1,024 open files.
pub const DEFAULT_MAX_IDLE_CONNECTIONS: usize = 1024;

/// Packets each socket's send queue holds (socketioxide's `max_buffer_size`, 128 by default). An event
/// that finds the queue full is dropped, and the hub then disconnects that socket as a slow consumer
/// (`delivery/slow_consumers.rs`), so the queue must hold every burst a client that reads at a normal
/// pace receives at once:
///
/// * the replies to one polling batch, which the client collects only with its next GET: the official
///   client sends 1,000 `join` + `chat` pairs as one batch, 2,000 acks;
/// * a backlog of live events: one publisher keeping 128 publishes in flight to 1,000 subscribers
///   (`loadgen run --scenario saturate --window 128`, BENCHMARKS.md) kept events waiting up to 2.9 s on
///   2 busy cores, about 2,000 per socket: all of the former 2,048, which dropped 1% of the deliveries
///   in one such run;
/// * (a history replay, up to `--history-size` events that a `join` queues at once before its ack, gets
///   room of its own on top: the hub's queue is this plus `--history-size`.)
///
/// 4,096 holds twice the largest of these.
///
/// The queue is a tokio bounded channel: a linked list of blocks of 32 slots (168 bytes each), allocated
/// as it fills and freed (or kept for reuse, up to a few) as it drains, and a counter of free places. So
/// the bound costs nothing until used: an idle socket holds one block (5.3 KiB) whatever the bound, and a
/// full queue holds 128 blocks (676 KiB) plus the events it still holds, which it shares with every
/// other receiver of the same broadcast.
pub const SEND_QUEUE_PACKETS: usize = 4096;

/// The most events one stream may keep (`--history-size`). A replay of them all goes into one socket's
/// send queue at once, which grows by `--history-size` to hold it: 10,000 keeps a full queue within a
/// few MiB per socket.
pub const MAX_HISTORY_SIZE: usize = 10_000;

/// Where the hub's settings come from: the flags and environment of [`Settings`], over the file given by
/// `--config`. The `hub` command line (`hub::cli`) flattens it into the server's flags and those of
/// `hub checkconfig`.
#[derive(Debug, Clone, Default, Parser)]
#[command(name = "hub")]
pub struct Args {
    /// Read settings from this TOML file (keys as the long flags, e.g. `max-connections = 500`).
    #[arg(long, env = "HUB_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(flatten)]
    pub settings: Settings,
}

/// Every setting, each optional: unset ones come from the next source down.
#[derive(Debug, Clone, Default, clap::Args, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Settings {
    /// Address and port to listen on [default: 127.0.0.1:3000]. Use 0.0.0.0:PORT to accept other machines.
    #[arg(long, env = "HUB_BIND", value_name = "ADDR:PORT")]
    pub bind: Option<SocketAddr>,

    /// Token that makes a socket a publisher (`auth: {token}`) and authorizes the HTTP API (Bearer).
    /// Without it the hub generates one and writes it to the token file, where `publish` finds it.
    #[arg(long, env = "HUB_PUBLISH_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    pub publish_token: Option<String>,

    /// Where to write a generated publish token [default: $XDG_RUNTIME_DIR/socketio-hub/publish-token-PORT,
    /// else ~/.local/state/socketio-hub/publish-token-PORT].
    #[arg(long, env = "HUB_TOKEN_FILE", value_name = "PATH")]
    pub token_file: Option<PathBuf>,

    /// Join a cluster of hubs through this Redis (7 or newer), e.g. redis://127.0.0.1:6379. Events then
    /// reach sockets on every hub that uses the same Redis. Without it the hub runs alone, in memory.
    #[arg(long, env = "HUB_REDIS_URL", hide_env_values = true, value_name = "URL")]
    pub redis_url: Option<String>,

    /// Origins (scheme://host[:port]) whose pages may connect, comma-separated; `*` allows any
    /// [default: the hub's own origin and http(s)://localhost, 127.0.0.1 and [::1] on any port].
    #[arg(long, env = "HUB_ALLOWED_ORIGINS", value_delimiter = ',', value_name = "ORIGINS")]
    pub allowed_origins: Option<Vec<String>>,

    /// Host names (no port) the hub answers to, comma-separated; other `Host` headers get 403 (health
    /// excepted); `*` allows any [default: localhost, 127.0.0.1 and [::1] when bound to loopback; else
    /// any, but then only addresses and localhost vouch for a page's origin].
    #[arg(long, env = "HUB_ALLOWED_HOSTS", value_delimiter = ',', value_name = "HOSTS")]
    pub allowed_hosts: Option<Vec<String>>,

    /// Require browsers to connect with `auth: {token: JWT}` signed with this HS256 secret; the `sub`
    /// claim is the user name, an optional `ns` claim lists the namespaces it admits (default `/`),
    /// an optional `rooms` claim the rooms it may join. Unset: open mode.
    #[arg(long, env = "HUB_JWT_SECRET", hide_env_values = true, value_name = "SECRET")]
    pub jwt_secret: Option<String>,

    /// Sign browsers in through the application: at each CONNECT the hub POSTs the namespace, the auth
    /// payload, the cookie, authorization, origin and user-agent headers and the client's address to
    /// this URL, and the application answers who the user is (PROTOCOL.md). Cannot be used with
    /// --jwt-secret. Unset: open mode (or JWT mode).
    #[arg(long, env = "HUB_AUTH_URL", hide_env_values = true, value_name = "URL")]
    pub auth_url: Option<String>,

    /// Deadline of a request to --auth-url, shorter than --connect-timeout; then the connection is
    /// refused as unavailable, e.g. 3s [default: 3s].
    #[arg(long, env = "HUB_AUTH_TIMEOUT", value_parser = humantime::parse_duration, value_name = "DURATION")]
    #[serde(default, deserialize_with = "duration")]
    pub auth_timeout: Option<Duration>,

    /// How long the application's answer is reused for the same namespace, cookie, authorization and auth
    /// payload (refusals: 5s at most); 0s asks at every connection [default: 30s].
    #[arg(long, env = "HUB_AUTH_CACHE_TTL", value_parser = humantime::parse_duration, value_name = "DURATION")]
    #[serde(default, deserialize_with = "duration")]
    pub auth_cache_ttl: Option<Duration>,

    /// Most sockets connected at once; the next connection is refused [default: 100000].
    #[arg(long, env = "HUB_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,

    /// Most namespaces in use, `/` included; connecting to a new one beyond it is refused [default: 1000].
    #[arg(long, env = "HUB_MAX_NAMESPACES", value_name = "N")]
    pub max_namespaces: Option<usize>,

    /// Largest message in bytes, from a socket or to the HTTP API [default: 1048576].
    #[arg(long, env = "HUB_MAX_PAYLOAD", value_name = "BYTES")]
    pub max_payload: Option<usize>,

    /// Sustained `chat` messages per second per socket [default: 20].
    #[arg(long, env = "HUB_RATE_LIMIT", value_name = "PER_SECOND")]
    pub rate_limit: Option<u32>,

    /// How many `chat` messages above the sustained rate a quiet socket may send at once [default: 40].
    #[arg(long, env = "HUB_RATE_BURST", value_name = "N")]
    pub rate_burst: Option<u32>,

    /// Most rooms one socket may be in at once; a `join` beyond it is refused with `too_many_rooms`
    /// [default: 100]. Publishers are not capped.
    #[arg(long, env = "HUB_MAX_ROOMS_PER_SOCKET", value_name = "N")]
    pub max_rooms_per_socket: Option<usize>,

    /// Sustained `join`s and `leave`s per second per socket, counting those that change its rooms
    /// [default: 20]. Publishers are not limited.
    #[arg(long, env = "HUB_JOIN_RATE_LIMIT", value_name = "PER_SECOND")]
    pub join_rate_limit: Option<u32>,

    /// How many `join`s and `leave`s above the sustained rate a quiet socket may send at once
    /// [default: 100].
    #[arg(long, env = "HUB_JOIN_RATE_BURST", value_name = "N")]
    pub join_rate_burst: Option<u32>,

    /// Sustained publishes per second per publisher socket (`publish` and direct emits), and HTTP API
    /// requests per second per client address [default: none: publishers hold the publish token and
    /// are trusted].
    #[arg(long, env = "HUB_PUBLISH_RATE_LIMIT", value_name = "PER_SECOND")]
    pub publish_rate_limit: Option<u32>,

    /// How many publishes above the sustained rate a quiet publisher may send at once, with
    /// --publish-rate-limit [default: the rate, one second's worth].
    #[arg(long, env = "HUB_PUBLISH_RATE_BURST", value_name = "N")]
    pub publish_rate_burst: Option<u32>,

    /// Engine.IO ping interval, e.g. 25s [default: 25s].
    #[arg(long, env = "HUB_PING_INTERVAL", value_parser = humantime::parse_duration, value_name = "DURATION")]
    #[serde(default, deserialize_with = "duration")]
    pub ping_interval: Option<Duration>,

    /// How long a client may take to answer a ping before it is dropped, e.g. 20s [default: 20s].
    #[arg(long, env = "HUB_PING_TIMEOUT", value_parser = humantime::parse_duration, value_name = "DURATION")]
    #[serde(default, deserialize_with = "duration")]
    pub ping_timeout: Option<Duration>,

    /// How long a new Engine.IO session may take to connect its socket (Socket.IO CONNECT) before it is
    /// closed, e.g. 10s [default: 10s].
    #[arg(long, env = "HUB_CONNECT_TIMEOUT", value_parser = humantime::parse_duration, value_name = "DURATION")]
    #[serde(default, deserialize_with = "duration")]
    pub connect_timeout: Option<Duration>,

    /// Most Engine.IO sessions waiting for their CONNECT at once; a handshake beyond it is answered 503
    /// [default: 1000].
    #[arg(long, env = "HUB_MAX_PENDING_SESSIONS", value_name = "N")]
    pub max_pending_sessions: Option<usize>,

    /// How long a connection may take to send a complete request head, counted from its opening or from
    /// the end of its previous response; then it is closed, e.g. 10s [default: 10s].
    #[arg(long, env = "HUB_IDLE_TIMEOUT", value_parser = humantime::parse_duration, value_name = "DURATION")]
    #[serde(default, deserialize_with = "duration")]
    pub idle_timeout: Option<Duration>,

    /// Most connections waiting for a request at once (just opened, or kept alive between requests);
    /// beyond it the one that has waited longest is closed [default: 1024].
    #[arg(long, env = "HUB_MAX_IDLE_CONNECTIONS", value_name = "N")]
    pub max_idle_connections: Option<usize>,

    /// Events kept per stream (each room, and each namespace) for clients that reconnect or join late;
    /// 0 turns history off [default: 100].
    #[arg(long, env = "HUB_HISTORY_SIZE", value_name = "N")]
    pub history_size: Option<usize>,

    /// Largest room whose members are sent `presence` events (users who came and went); bigger rooms
    /// get only `members` counts, and `who` lists their users. 0 turns presence off [default: 100].
    #[arg(long, env = "HUB_PRESENCE_MAX_MEMBERS", value_name = "N")]
    pub presence_max_members: Option<usize>,

    /// How long an event is kept in history, e.g. 10m [default: 10m].
    #[arg(long, env = "HUB_HISTORY_TTL", value_parser = humantime::parse_duration, value_name = "DURATION")]
    #[serde(default, deserialize_with = "duration")]
    pub history_ttl: Option<Duration>,

    /// Memory all history may use on a lone hub, in bytes or with a unit (64MiB, 1GiB); beyond it the
    /// oldest events go first. In a cluster, Redis holds history: size Redis instead [default: 64MiB].
    #[arg(long, env = "HUB_HISTORY_MEMORY", value_parser = parse_bytes, value_name = "BYTES")]
    #[serde(default, deserialize_with = "bytes")]
    pub history_memory: Option<usize>,

    /// Serve the page at `/` from this directory instead of the built-in demo.
    #[arg(long, env = "HUB_STATIC_DIR", value_name = "DIR")]
    pub static_dir: Option<PathBuf>,

    /// Log lines for people (`pretty`) or one JSON object per line (`json`) [default: pretty].
    #[arg(long, env = "HUB_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,

    /// Also accept socket.io v2 clients (Engine.IO 3), which send `user` and `token` in the handshake's
    /// query string [default: false]. `--allow-eio3=false` turns it off again over the file.
    // An optional value, so that the flag alone means true and an unset flag leaves the file's choice.
    #[arg(
        long,
        env = "HUB_ALLOW_EIO3",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
        value_name = "BOOL"
    )]
    pub allow_eio3: Option<bool>,

    /// POST batches of events (chat messages, rooms occupied and vacated, members added and removed) to
    /// this http(s) URL, signed with --webhook-secret [default: no webhooks].
    #[arg(long, env = "HUB_WEBHOOK_URL", hide_env_values = true, value_name = "URL")]
    pub webhook_url: Option<String>,

    /// Key of each batch's signature, `X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body>`; required
    /// with --webhook-url, at least 16 bytes.
    #[arg(long, env = "HUB_WEBHOOK_SECRET", hide_env_values = true, value_name = "SECRET")]
    pub webhook_secret: Option<String>,

    /// Events to send, comma-separated: room_occupied, room_vacated, member_added, member_removed, chat
    /// [default: all].
    #[arg(long, env = "HUB_WEBHOOK_EVENTS", value_delimiter = ',', value_name = "EVENTS")]
    pub webhook_events: Option<Vec<String>>,

    /// Most events waiting for delivery at once; while the receiver is down or slow, newer ones are
    /// dropped beyond it, counted in /metrics and logged [default: 10000].
    #[arg(long, env = "HUB_WEBHOOK_QUEUE", value_name = "N")]
    pub webhook_queue: Option<usize>,

    /// Turn on the official Socket.IO Admin UI at `/admin/` (and its `/admin` namespace): the password
    /// it signs in with, in clear (at least 16 characters) or as a bcrypt hash [default: off].
    #[arg(long, env = "HUB_ADMIN_PASSWORD", hide_env_values = true, value_name = "PASSWORD")]
    pub admin_password: Option<String>,

    /// The user name the Admin UI signs in with, with --admin-password [default: admin].
    #[arg(long, env = "HUB_ADMIN_USERNAME", value_name = "NAME")]
    pub admin_username: Option<String>,

    /// The Admin UI only looks: it cannot emit, make sockets join or leave rooms, or disconnect them
    /// [default: false].
    #[arg(
        long,
        env = "HUB_ADMIN_READ_ONLY",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
        value_name = "BOOL"
    )]
    pub admin_read_only: Option<bool>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogFormat::Pretty => "pretty",
            LogFormat::Json => "json",
        })
    }
}

fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
    let text = String::deserialize(deserializer)?;
    humantime::parse_duration(&text).map(Some).map_err(serde::de::Error::custom)
}

/// The effective configuration of one hub.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub publish_token: Option<String>,
    pub token_file: Option<PathBuf>,
    pub redis_url: Option<String>,
    /// `None`: the default (same origin and localhost); `Some(["*"])`: any origin.
    pub allowed_origins: Option<Vec<String>>,
    /// `None`: the default (loopback names when bound to loopback, else any); `Some(["*"])`: any host.
    pub allowed_hosts: Option<Vec<String>>,
    pub jwt_secret: Option<String>,
    /// The application that signs users in; `None`: open or JWT mode.
    pub auth_url: Option<url::Url>,
    /// Deadline of a request to `auth_url`.
    pub auth_timeout: Duration,
    /// How long an answer of `auth_url` is reused; 0: never.
    pub auth_cache_ttl: Duration,
    pub max_connections: usize,
    pub max_namespaces: usize,
    pub max_payload: usize,
    pub rate_limit: u32,
    pub rate_burst: u32,
    /// Most rooms one non-publisher socket may be in.
    pub max_rooms_per_socket: usize,
    pub join_rate_limit: u32,
    pub join_rate_burst: u32,
    /// `None`: publishers are not rate-limited.
    pub publish_rate_limit: Option<u32>,
    /// Only used with `publish_rate_limit`.
    pub publish_rate_burst: Option<u32>,
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    /// How long a session may wait for its socket's CONNECT.
    pub connect_timeout: Duration,
    /// Most sessions waiting for their CONNECT.
    pub max_pending_sessions: usize,
    /// How long a connection may take to send a request head.
    pub idle_timeout: Duration,
    /// Most connections waiting for a request.
    pub max_idle_connections: usize,
    /// Events kept per stream; 0: no history.
    pub history_size: usize,
    /// How long an event is kept.
    pub history_ttl: Duration,
    /// Largest room whose members hear `presence`; 0: none.
    pub presence_max_members: usize,
    /// Bytes a lone hub's history may use.
    pub history_memory: usize,
    pub static_dir: Option<PathBuf>,
    pub log_format: LogFormat,
    /// Whether socket.io v2 clients (Engine.IO 3) may connect.
    pub allow_eio3: bool,
    /// `None`: no webhooks.
    pub webhooks: Option<WebhookConfig>,
    /// `None`: no Admin UI, and no `/admin` namespace.
    pub admin: Option<AdminConfig>,
}

/// A configuration that cannot be used; the text is the one line the hub prints before exiting.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid config file {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("invalid setting {setting}: {message}")]
    Invalid { setting: &'static str, message: String },
    #[error("--{0} and --{1} cannot be used together: {2}")]
    Exclusive(&'static str, &'static str, &'static str),
}

impl Config {
    /// Merges flags and environment (`args`) over the config file over the defaults, and checks the result.
    pub fn load(args: &Args) -> Result<Self, ConfigError> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => Settings::default(),
        };
        let cli = &args.settings;
        let config = Self {
            bind: pick(&cli.bind, &file.bind).unwrap_or_else(|| DEFAULT_BIND.parse().expect("valid default")),
            publish_token: pick(&cli.publish_token, &file.publish_token),
            token_file: pick(&cli.token_file, &file.token_file),
            redis_url: pick(&cli.redis_url, &file.redis_url),
            allowed_origins: pick(&cli.allowed_origins, &file.allowed_origins),
            allowed_hosts: pick(&cli.allowed_hosts, &file.allowed_hosts),
            jwt_secret: pick(&cli.jwt_secret, &file.jwt_secret),
            auth_url: pick(&cli.auth_url, &file.auth_url).map(|url| parse_auth_url(&url)).transpose()?,
            auth_timeout: pick(&cli.auth_timeout, &file.auth_timeout).unwrap_or(DEFAULT_AUTH_TIMEOUT),
            auth_cache_ttl: pick(&cli.auth_cache_ttl, &file.auth_cache_ttl).unwrap_or(DEFAULT_AUTH_CACHE_TTL),
            max_connections: pick(&cli.max_connections, &file.max_connections)
                .unwrap_or(DEFAULT_MAX_CONNECTIONS),
            max_namespaces: pick(&cli.max_namespaces, &file.max_namespaces).unwrap_or(DEFAULT_MAX_NAMESPACES),
            max_payload: pick(&cli.max_payload, &file.max_payload).unwrap_or(DEFAULT_MAX_PAYLOAD),
            rate_limit: pick(&cli.rate_limit, &file.rate_limit).unwrap_or(DEFAULT_RATE_LIMIT),
            rate_burst: pick(&cli.rate_burst, &file.rate_burst).unwrap_or(DEFAULT_RATE_BURST),
            max_rooms_per_socket: pick(&cli.max_rooms_per_socket, &file.max_rooms_per_socket)
                .unwrap_or(DEFAULT_MAX_ROOMS_PER_SOCKET),
            join_rate_limit: pick(&cli.join_rate_limit, &file.join_rate_limit)
                .unwrap_or(DEFAULT_JOIN_RATE_LIMIT),
            join_rate_burst: pick(&cli.join_rate_burst, &file.join_rate_burst)
                .unwrap_or(DEFAULT_JOIN_RATE_BURST),
            publish_rate_limit: pick(&cli.publish_rate_limit, &file.publish_rate_limit),
            publish_rate_burst: pick(&cli.publish_rate_burst, &file.publish_rate_burst),
            ping_interval: pick(&cli.ping_interval, &file.ping_interval).unwrap_or(DEFAULT_PING_INTERVAL),
            ping_timeout: pick(&cli.ping_timeout, &file.ping_timeout).unwrap_or(DEFAULT_PING_TIMEOUT),
            connect_timeout: pick(&cli.connect_timeout, &file.connect_timeout)
                .unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            max_pending_sessions: pick(&cli.max_pending_sessions, &file.max_pending_sessions)
                .unwrap_or(DEFAULT_MAX_PENDING_SESSIONS),
            idle_timeout: pick(&cli.idle_timeout, &file.idle_timeout).unwrap_or(DEFAULT_IDLE_TIMEOUT),
            max_idle_connections: pick(&cli.max_idle_connections, &file.max_idle_connections)
                .unwrap_or(DEFAULT_MAX_IDLE_CONNECTIONS),
            history_size: pick(&cli.history_size, &file.history_size).unwrap_or(DEFAULT_HISTORY_SIZE),
            history_ttl: pick(&cli.history_ttl, &file.history_ttl).unwrap_or(DEFAULT_HISTORY_TTL),
            presence_max_members: pick(&cli.presence_max_members, &file.presence_max_members)
                .unwrap_or(DEFAULT_PRESENCE_MAX_MEMBERS),
            history_memory: pick(&cli.history_memory, &file.history_memory).unwrap_or(DEFAULT_HISTORY_MEMORY),
            static_dir: pick(&cli.static_dir, &file.static_dir),
            log_format: pick(&cli.log_format, &file.log_format).unwrap_or_default(),
            allow_eio3: pick(&cli.allow_eio3, &file.allow_eio3).unwrap_or_default(),
            webhooks: webhooks::load(cli, &file)?,
            admin: admin::load(cli, &file)?,
        };
        config.check()?;
        Ok(config)
    }

    /// A configuration for tests and embedding: the defaults, listening on `bind`, with a fixed token.
    pub fn with_token(bind: SocketAddr, token: impl Into<String>) -> Self {
        Self {
            bind,
            publish_token: Some(token.into()),
            token_file: None,
            redis_url: None,
            allowed_origins: None,
            allowed_hosts: None,
            jwt_secret: None,
            auth_url: None,
            auth_timeout: DEFAULT_AUTH_TIMEOUT,
            auth_cache_ttl: DEFAULT_AUTH_CACHE_TTL,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_namespaces: DEFAULT_MAX_NAMESPACES,
            max_payload: DEFAULT_MAX_PAYLOAD,
            rate_limit: DEFAULT_RATE_LIMIT,
            rate_burst: DEFAULT_RATE_BURST,
            max_rooms_per_socket: DEFAULT_MAX_ROOMS_PER_SOCKET,
            join_rate_limit: DEFAULT_JOIN_RATE_LIMIT,
            join_rate_burst: DEFAULT_JOIN_RATE_BURST,
            publish_rate_limit: None,
            publish_rate_burst: None,
            ping_interval: DEFAULT_PING_INTERVAL,
            ping_timeout: DEFAULT_PING_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_pending_sessions: DEFAULT_MAX_PENDING_SESSIONS,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_idle_connections: DEFAULT_MAX_IDLE_CONNECTIONS,
            history_size: DEFAULT_HISTORY_SIZE,
            history_ttl: DEFAULT_HISTORY_TTL,
            presence_max_members: DEFAULT_PRESENCE_MAX_MEMBERS,
            history_memory: DEFAULT_HISTORY_MEMORY,
            static_dir: None,
            log_format: LogFormat::Pretty,
            allow_eio3: false,
            webhooks: None,
            admin: None,
        }
    }

    /// Refuses settings the hub cannot run with, saying which and why.
    pub fn check(&self) -> Result<(), ConfigError> {
        let invalid =
            |setting, message: &str| Err(ConfigError::Invalid { setting, message: message.to_owned() });
        if self.publish_token.as_deref().is_some_and(|t| t.chars().count() < MIN_SECRET_LEN) {
            return invalid(
                "publish-token",
                "must be at least 16 characters (e.g. `openssl rand -hex 24`); leave it unset and the hub generates one",
            );
        }
        if self.jwt_secret.as_deref().is_some_and(|s| s.len() < MIN_SECRET_LEN) {
            return invalid("jwt-secret", "must be at least 16 bytes (HS256 needs a strong secret)");
        }
        if self.auth_url.is_some() && self.jwt_secret.is_some() {
            return Err(ConfigError::Exclusive(
                "auth-url",
                "jwt-secret",
                "users sign in either through the application or with JWTs; keep one",
            ));
        }
        if let Some(url) = &self.auth_url
            && !matches!(url.scheme(), "http" | "https")
        {
            return invalid("auth-url", "must be an http:// or https:// URL");
        }
        if self.auth_timeout.is_zero() || self.auth_timeout > MAX_AUTH_TIMEOUT {
            return invalid("auth-timeout", "must be longer than 0s and at most 1m");
        }
        // A session that waits for its CONNECT longer than --connect-timeout is closed: the answer would
        // come too late.
        if self.auth_url.is_some() && self.auth_timeout >= self.connect_timeout {
            return invalid("auth-timeout", "must be shorter than connect-timeout");
        }
        if self.auth_cache_ttl > MAX_AUTH_CACHE_TTL {
            return invalid("auth-cache-ttl", "must be at most 1h");
        }
        if self.max_connections == 0 {
            return invalid("max-connections", "must be at least 1");
        }
        if self.max_namespaces == 0 {
            return invalid("max-namespaces", "must be at least 1 (`/`)");
        }
        if self.max_rooms_per_socket == 0 {
            return invalid("max-rooms-per-socket", "must be at least 1");
        }
        if self.history_size > MAX_HISTORY_SIZE {
            let message = format!(
                "must be at most {MAX_HISTORY_SIZE} events per stream (a replay goes into one socket's send \
                 queue at once)"
            );
            return invalid("history-size", &message);
        }
        if self.history_size > 0 && self.history_memory < 1 << 20 {
            return invalid(
                "history-memory",
                "must be at least 1MiB (or turn history off with --history-size 0)",
            );
        }
        if self.max_payload < 1024 {
            return invalid("max-payload", "must be at least 1024 bytes");
        }
        for (setting, value) in [
            ("rate-limit", self.rate_limit),
            ("rate-burst", self.rate_burst),
            ("join-rate-limit", self.join_rate_limit),
            ("join-rate-burst", self.join_rate_burst),
            ("publish-rate-limit", self.publish_rate_limit.unwrap_or(1)),
            ("publish-rate-burst", self.publish_rate_burst.unwrap_or(1)),
        ] {
            if value == 0 {
                return invalid(setting, "must be at least 1");
            }
        }
        for (setting, value) in [
            ("ping-interval", self.ping_interval),
            ("ping-timeout", self.ping_timeout),
            ("connect-timeout", self.connect_timeout),
            ("idle-timeout", self.idle_timeout),
            ("history-ttl", self.history_ttl),
        ] {
            if value.is_zero() {
                return invalid(setting, "must be longer than 0s");
            }
            // Clients time pings with JavaScript's `setTimeout`, which fires at once past 2^31 ms.
            if value > MAX_DURATION {
                return invalid(setting, "must be at most 1day");
            }
        }
        for (setting, value) in [
            ("max-pending-sessions", self.max_pending_sessions),
            ("max-idle-connections", self.max_idle_connections),
        ] {
            if value == 0 {
                return invalid(setting, "must be at least 1");
            }
        }
        for origin in self.allowed_origins.iter().flatten() {
            if origin != "*" && !is_origin(origin) {
                return invalid(
                    "allowed-origins",
                    &format!("{origin:?} is not an origin like https://example.com"),
                );
            }
        }
        for host in self.allowed_hosts.iter().flatten() {
            if host != "*" && !is_host_name(host) {
                return invalid(
                    "allowed-hosts",
                    &format!("{host:?} is not a host name like hub.example.com (no scheme, no port)"),
                );
            }
        }
        if let Some(dir) = &self.static_dir
            && !dir.is_dir()
        {
            return invalid("static-dir", &format!("{} is not a directory", dir.display()));
        }
        if let Some(webhooks) = &self.webhooks {
            webhooks.check()?;
        }
        if let Some(admin) = &self.admin {
            admin.check()?;
        }
        Ok(())
    }

    /// The configuration as TOML, as `--print-config` shows it: secrets masked, unset settings commented.
    pub fn to_masked_toml(&self) -> String {
        let masked = |secret: &Option<String>| secret.as_ref().map(|_| "***".to_owned());
        let duration = |d: Duration| humantime::format_duration(d).to_string();
        let redis_url = self.redis_url.as_deref().map(without_password);
        let webhooks = self.webhooks.as_ref();
        let lines: Vec<(&str, Option<String>)> = vec![
            ("bind", Some(quote(&self.bind.to_string()))),
            ("publish-token", masked(&self.publish_token).map(|s| quote(&s))),
            ("token-file", self.token_file.as_ref().map(|p| quote(&p.display().to_string()))),
            ("redis-url", redis_url.map(|s| quote(&s))),
            (
                "allowed-origins",
                self.allowed_origins.as_ref().map(|list| {
                    format!("[{}]", list.iter().map(|o| quote(o)).collect::<Vec<_>>().join(", "))
                }),
            ),
            (
                "allowed-hosts",
                self.allowed_hosts.as_ref().map(|list| {
                    format!("[{}]", list.iter().map(|h| quote(h)).collect::<Vec<_>>().join(", "))
                }),
            ),
            ("jwt-secret", masked(&self.jwt_secret).map(|s| quote(&s))),
            ("auth-url", self.auth_url.as_ref().map(|url| quote(masked_url(url).as_str()))),
            ("auth-timeout", Some(quote(&duration(self.auth_timeout)))),
            ("auth-cache-ttl", Some(quote(&duration(self.auth_cache_ttl)))),
            ("max-connections", Some(self.max_connections.to_string())),
            ("max-namespaces", Some(self.max_namespaces.to_string())),
            ("max-payload", Some(self.max_payload.to_string())),
            ("rate-limit", Some(self.rate_limit.to_string())),
            ("rate-burst", Some(self.rate_burst.to_string())),
            ("max-rooms-per-socket", Some(self.max_rooms_per_socket.to_string())),
            ("join-rate-limit", Some(self.join_rate_limit.to_string())),
            ("join-rate-burst", Some(self.join_rate_burst.to_string())),
            ("publish-rate-limit", self.publish_rate_limit.map(|n| n.to_string())),
            ("publish-rate-burst", self.publish_rate_burst.map(|n| n.to_string())),
            ("ping-interval", Some(quote(&duration(self.ping_interval)))),
            ("ping-timeout", Some(quote(&duration(self.ping_timeout)))),
            ("connect-timeout", Some(quote(&duration(self.connect_timeout)))),
            ("max-pending-sessions", Some(self.max_pending_sessions.to_string())),
            ("idle-timeout", Some(quote(&duration(self.idle_timeout)))),
            ("max-idle-connections", Some(self.max_idle_connections.to_string())),
            ("history-size", Some(self.history_size.to_string())),
            ("history-ttl", Some(quote(&duration(self.history_ttl)))),
            ("presence-max-members", Some(self.presence_max_members.to_string())),
            ("history-memory", Some(self.history_memory.to_string())),
            ("static-dir", self.static_dir.as_ref().map(|p| quote(&p.display().to_string()))),
            ("log-format", Some(quote(&self.log_format.to_string()))),
            ("allow-eio3", Some(self.allow_eio3.to_string())),
            ("webhook-url", webhooks.map(|w| quote(&without_password(w.url.as_str())))),
            ("webhook-secret", webhooks.map(|_| quote("***"))),
            (
                "webhook-events",
                webhooks.map(|w| {
                    format!("[{}]", w.event_names().iter().map(|n| quote(n)).collect::<Vec<_>>().join(", "))
                }),
            ),
            ("webhook-queue", webhooks.map(|w| w.queue.to_string())),
            ("admin-password", self.admin.as_ref().map(|_| quote("***"))),
            ("admin-username", self.admin.as_ref().map(|a| quote(&a.username))),
            ("admin-read-only", self.admin.as_ref().map(|a| a.read_only.to_string())),
        ];
        lines
            .into_iter()
            .map(|(key, value)| match value {
                Some(value) => format!("{key} = {value}\n"),
                None => format!("# {key} is not set\n"),
            })
            .collect()
    }
}

/// `url` with its password, if any, masked.
fn without_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// A size in bytes: a number, optionally followed by KiB, MiB or GiB (or KB, MB, GB, also powers of 2).
fn parse_bytes(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize = number.parse().map_err(|_| format!("{text:?} is not a size such as 64MiB"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(format!("unknown unit in {text:?}: use B, KiB, MiB or GiB")),
    };
    number.checked_mul(1 << shift).ok_or_else(|| format!("{text:?} is too large"))
}

/// Deserializes a size from a number of bytes or a string such as "64MiB".
fn bytes<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<usize>, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Size {
        Bytes(usize),
        Text(String),
    }
    match Option::<Size>::deserialize(deserializer)? {
        None => Ok(None),
        Some(Size::Bytes(n)) => Ok(Some(n)),
        Some(Size::Text(text)) => parse_bytes(&text).map(Some).map_err(serde::de::Error::custom),
    }
}

/// The `--auth-url` setting as a URL.
fn parse_auth_url(text: &str) -> Result<url::Url, ConfigError> {
    url::Url::parse(text).map_err(|e| ConfigError::Invalid {
        setting: "auth-url",
        message: format!("not a URL like https://app.example.com/hub/sign-in: {e}"),
    })
}

/// `url` as `--print-config` shows it: a password masked.
fn masked_url(url: &url::Url) -> url::Url {
    let mut url = url.clone();
    if url.password().is_some() {
        let _ = url.set_password(Some("***"));
    }
    url
}

/// The flag's (or environment's) value, else the file's.
fn pick<T: Clone>(cli: &Option<T>, file: &Option<T>) -> Option<T> {
    cli.clone().or_else(|| file.clone())
}

fn quote(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// Whether `text` is a bare origin: scheme, host and maybe a port, nothing else.
fn is_origin(text: &str) -> bool {
    url::Url::parse(text).is_ok_and(|url| {
        matches!(url.scheme(), "http" | "https")
            && url.host().is_some()
            && url.path() == "/"
            && !text.ends_with('/')
            && url.query().is_none()
            && url.username().is_empty()
    })
}

/// Whether `text` is a bare host name or address as `Host` carries it, without a port: `example.com`,
/// `10.0.0.5`, `[2001:db8::1]`.
fn is_host_name(text: &str) -> bool {
    let bare =
        !text.is_empty() && !text.contains(['/', '@', '?', '#']) && !text.trim_matches(['[', ']']).is_empty();
    let without_port = text.starts_with('[') || !text.contains(':');
    bare && without_port && url::Host::parse(text).is_ok()
}

fn read_file(path: &Path) -> Result<Settings, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
    toml::from_str(&text).map_err(|e| {
        let line = e.span().map(|span| text[..span.start].matches('\n').count() + 1);
        let at = line.map(|n| format!("line {n}: ")).unwrap_or_default();
        ConfigError::File { path: path.to_owned(), message: format!("{at}{}", e.message().trim_end()) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(flags: &[&str]) -> Args {
        Args::try_parse_from(std::iter::once("hub").chain(flags.iter().copied())).unwrap()
    }

    #[test]
    fn defaults() {
        let config = Config::load(&args(&[])).unwrap();
        assert_eq!(config.bind.to_string(), DEFAULT_BIND);
        assert_eq!((config.max_connections, config.max_payload), (100_000, 1 << 20));
        assert_eq!((config.rate_limit, config.rate_burst), (20, 40));
        assert_eq!(
            (config.max_rooms_per_socket, config.join_rate_limit, config.join_rate_burst),
            (100, 20, 100)
        );
    }

    #[test]
    fn allow_eio3_is_a_switch_that_is_off_by_default() {
        let allowed = |flags: &[&str]| Config::load(&args(flags)).unwrap().allow_eio3;
        assert!(!allowed(&[]));
        assert!(allowed(&["--allow-eio3"]));
        assert!(allowed(&["--allow-eio3=yes"]));
        assert!(!allowed(&["--allow-eio3=false"]));
        let file: Settings = toml::from_str("allow-eio3 = true").unwrap();
        assert_eq!(file.allow_eio3, Some(true));
    }

    #[test]
    fn origins_must_be_bare_origins() {
        for good in ["http://example.com", "https://app.example.com:8443", "http://127.0.0.1:3000"] {
            assert!(is_origin(good), "{good}");
        }
        for bad in ["example.com", "https://example.com/", "https://example.com/app", "ftp://x.org"] {
            assert!(!is_origin(bad), "{bad}");
        }
    }

    #[test]
    fn hosts_must_be_bare_host_names() {
        for good in ["hub.example.com", "localhost", "10.0.0.5", "[2001:db8::1]"] {
            assert!(is_host_name(good), "{good}");
        }
        for bad in ["https://hub.example.com", "hub.example.com:443", "hub.example.com/x", "", "::1", "[]"] {
            assert!(!is_host_name(bad), "{bad}");
        }
        let error = Config::load(&args(&["--allowed-hosts", "hub.example.com:443"])).unwrap_err();
        assert!(error.to_string().starts_with("invalid setting allowed-hosts:"), "{error}");
        let config = Config::load(&args(&["--allowed-hosts", "a.example,b.example"])).unwrap();
        assert_eq!(config.allowed_hosts, Some(vec!["a.example".to_owned(), "b.example".to_owned()]));
    }

    #[test]
    fn invalid_settings_name_themselves() {
        let error = Config::load(&args(&["--max-connections", "0"])).unwrap_err();
        assert_eq!(error.to_string(), "invalid setting max-connections: must be at least 1");
        let error = Config::load(&args(&["--jwt-secret", "short"])).unwrap_err();
        assert!(error.to_string().starts_with("invalid setting jwt-secret:"), "{error}");
        let error = Config::load(&args(&["--ping-interval", "30days"])).unwrap_err();
        assert_eq!(error.to_string(), "invalid setting ping-interval: must be at most 1day");
    }

    #[test]
    fn the_application_sign_in_is_checked_and_exclusive_with_jwts() {
        let config = Config::load(&args(&["--auth-url", "http://127.0.0.1:8000/sign-in"])).unwrap();
        assert_eq!(config.auth_url.unwrap().as_str(), "http://127.0.0.1:8000/sign-in");
        assert_eq!(
            (config.auth_timeout, config.auth_cache_ttl),
            (DEFAULT_AUTH_TIMEOUT, DEFAULT_AUTH_CACHE_TTL)
        );
        let both = ["--auth-url", "http://127.0.0.1/s", "--jwt-secret", "a-secret-of-enough-bytes"];
        let error = Config::load(&args(&both)).unwrap_err().to_string();
        assert!(error.starts_with("--auth-url and --jwt-secret cannot be used together"), "{error}");
        let error = Config::load(&args(&["--auth-url", "ftp://app/s"])).unwrap_err().to_string();
        assert_eq!(error, "invalid setting auth-url: must be an http:// or https:// URL");
        let error = Config::load(&args(&["--auth-url", "not a url"])).unwrap_err().to_string();
        assert!(error.starts_with("invalid setting auth-url: not a URL"), "{error}");
        let error = Config::load(&args(&["--auth-timeout", "0s"])).unwrap_err().to_string();
        assert!(error.starts_with("invalid setting auth-timeout:"), "{error}");
        let late = ["--auth-url", "http://127.0.0.1/s", "--auth-timeout", "10s", "--connect-timeout", "10s"];
        let error = Config::load(&args(&late)).unwrap_err().to_string();
        assert_eq!(error, "invalid setting auth-timeout: must be shorter than connect-timeout");
        let printed =
            Config::load(&args(&["--auth-url", "https://hub:pw@app.example/s"])).unwrap().to_masked_toml();
        assert!(printed.contains("auth-url = \"https://hub:***@app.example/s\""), "{printed}");
    }

    #[test]
    fn the_bounds_before_a_session_are_set_and_checked() {
        let config = Config::load(&args(&[])).unwrap();
        assert_eq!(
            (config.connect_timeout, config.idle_timeout),
            (Duration::from_secs(10), Duration::from_secs(10))
        );
        assert_eq!((config.max_pending_sessions, config.max_idle_connections), (1000, 1024));
        let error = Config::load(&args(&["--connect-timeout", "0s"])).unwrap_err();
        assert_eq!(error.to_string(), "invalid setting connect-timeout: must be longer than 0s");
        let error = Config::load(&args(&["--max-idle-connections", "0"])).unwrap_err();
        assert_eq!(error.to_string(), "invalid setting max-idle-connections: must be at least 1");
        let file: Settings = toml::from_str("idle-timeout = \"3s\"\nmax-pending-sessions = 5").unwrap();
        assert_eq!((file.idle_timeout, file.max_pending_sessions), (Some(Duration::from_secs(3)), Some(5)));
    }

    #[test]
    fn secrets_are_masked_when_printed() {
        let config = Config::load(&args(&[
            "--publish-token",
            "s3cret-token-long-enough",
            "--redis-url",
            "redis://u:pw@h:1",
            "--webhook-url",
            "https://u:hookpw@app.example/hooks",
            "--webhook-secret",
            "s3cret-webhook-secret",
        ]))
        .unwrap();
        let printed = config.to_masked_toml();
        assert!(!printed.contains("s3cret") && !printed.contains(":pw@"), "{printed}");
        assert!(!printed.contains("hookpw") && printed.contains("webhook-secret = \"***\""), "{printed}");
        assert!(printed.contains("publish-token = \"***\""), "{printed}");
        assert!(printed.contains("# jwt-secret is not set"), "{printed}");
        let parsed: Settings = toml::from_str(&printed).expect("the printed configuration is a valid file");
        assert_eq!(parsed.max_connections, Some(100_000));
        assert_eq!(parsed.webhook_events.map(|events| events.len()), Some(5));
    }
}
