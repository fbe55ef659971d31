//! `hub gentoken`: a JWT for a hub in JWT mode (`--jwt-secret`), signed with the secret that hub uses,
//! for tests and scripts. The secret comes from where the hub takes it (flag, `HUB_JWT_SECRET`, the
//! config file); the claims are the hub's own [`Claims`], each checked as the hub checks it at CONNECT,
//! so a token that would be refused is never printed.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hub_protocol::{NamespacePath, RoomName, UserName};

use crate::config::{Args, Config, ConfigError, Settings};
use crate::policy::jwt::{self, Claims};

/// Shortest `--ttl`.
const MIN_TTL: Duration = Duration::from_secs(1);
/// Longest `--ttl`: a JWT cannot be revoked, so a leaked one works until it expires.
const MAX_TTL: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// Print a JWT that a hub started with --jwt-secret accepts, for tests and scripts.
///
/// The token is signed (HS256) with the hub's secret: --jwt-secret, else HUB_JWT_SECRET, else the
/// `jwt-secret` of the config file (--config or HUB_CONFIG). Only the token is printed, on stdout.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Examples:\n  hub gentoken --sub alice --rooms lobby,staff --ttl 1h\n  HUB_JWT_SECRET=... hub gentoken --sub bot --ns /,/orders --ttl 15m\n  hub gentoken --config /etc/hub.toml --sub alice\n\nExit codes:\n  0  the token is printed\n  2  no secret, an invalid name, --ttl out of bounds, or an invalid config file"
)]
pub struct GenToken {
    /// The user's name, the token's `sub` claim: shown as the sender of the user's chat messages.
    #[arg(long, value_name = "USER")]
    pub sub: String,

    /// The only rooms the user may join, comma-separated (the `rooms` claim) [default: no claim: any
    /// room].
    #[arg(long, value_delimiter = ',', value_name = "ROOMS")]
    pub rooms: Option<Vec<String>>,

    /// The namespaces the token admits, comma-separated, e.g. `/,/orders` (the `ns` claim) [default: no
    /// claim: `/` only].
    #[arg(long, value_delimiter = ',', value_name = "NAMESPACES")]
    pub ns: Option<Vec<String>>,

    /// How long the token is valid, from 1s to 30days, e.g. 15m (the `exp` claim).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1h", value_name = "DURATION")]
    pub ttl: Duration,

    /// The secret to sign with: the hub's --jwt-secret (at least 16 bytes).
    #[arg(long, env = "HUB_JWT_SECRET", hide_env_values = true, value_name = "SECRET")]
    pub jwt_secret: Option<String>,

    /// The hub's config file, whose `jwt-secret` is used when neither --jwt-secret nor HUB_JWT_SECRET is
    /// given.
    #[arg(long, env = "HUB_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Why no token was made; each is a usage or configuration error (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum GenTokenError {
    #[error(
        "no JWT secret to sign with: pass --jwt-secret, set HUB_JWT_SECRET, or set jwt-secret in the config \
         file (--config or HUB_CONFIG), the same one the hub is started with"
    )]
    NoSecret,
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("invalid --sub: {0}")]
    Sub(String),
    #[error("invalid --rooms: {0}")]
    Room(String),
    #[error("invalid --ns: {0}")]
    Namespace(String),
    #[error("invalid --ttl: must be from 1s to 30days, got {}", days_or_less(*.0))]
    Ttl(Duration),
}

impl GenToken {
    /// The signed token, valid from now for `--ttl`.
    pub fn token(&self) -> Result<String, GenTokenError> {
        let claims = self.claims()?;
        if !(MIN_TTL..=MAX_TTL).contains(&self.ttl) {
            return Err(GenTokenError::Ttl(self.ttl));
        }
        let secret = self.secret()?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        Ok(jwt::sign(&secret, &claims, now, now + self.ttl.as_secs()))
    }

    /// The claims, each refused as the hub would refuse it: `sub` must be a user name, each room a room
    /// name, each namespace a namespace.
    fn claims(&self) -> Result<Claims, GenTokenError> {
        let sub = UserName::parse(self.sub.as_str()).map_err(|r| GenTokenError::Sub(r.message))?;
        let rooms = self
            .rooms
            .as_ref()
            .map(|rooms| {
                rooms
                    .iter()
                    .map(|room| RoomName::parse(room.as_str()).map(RoomName::into_string))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|r| GenTokenError::Room(r.message))
            })
            .transpose()?;
        let ns = self
            .ns
            .as_ref()
            .map(|namespaces| {
                namespaces
                    .iter()
                    .map(|ns| NamespacePath::parse(ns.trim()).map(NamespacePath::into_string))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|r| GenTokenError::Namespace(r.message))
            })
            .transpose()?;
        Ok(Claims { sub: sub.into_string(), ns, rooms })
    }

    /// The secret as the hub resolves it: the flag or environment over the file, which is read and
    /// checked as at start (an invalid file is an error here too).
    fn secret(&self) -> Result<String, GenTokenError> {
        let args = Args {
            config: self.config.clone(),
            settings: Settings { jwt_secret: self.jwt_secret.clone(), ..Settings::default() },
        };
        Config::load(&args)?.jwt_secret.ok_or(GenTokenError::NoSecret)
    }
}

/// `duration` in whole days when it is, rather than humantime's months (`40days`, not `1month 9days 13h`).
fn days_or_less(duration: Duration) -> String {
    const DAY: u64 = 24 * 60 * 60;
    match duration.as_secs() {
        secs if secs >= DAY && secs % DAY == 0 && duration.subsec_nanos() == 0 => {
            format!("{}days", secs / DAY)
        }
        _ => humantime::format_duration(duration).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::policy::jwt::JwtVerifier;

    const SECRET: &str = "a-gentoken-secret-of-32-bytes-ok";

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        gentoken: GenToken,
    }

    fn gentoken(flags: &[&str]) -> GenToken {
        let flags = ["gentoken", "--jwt-secret", SECRET].iter().chain(flags);
        Command::try_parse_from(flags).unwrap().gentoken
    }

    #[test]
    fn the_token_carries_the_claims_and_the_hub_verifies_it() {
        let token = gentoken(&["--sub", "alice", "--rooms", "lobby,staff", "--ns", "/, /orders"]).token();
        let claims = JwtVerifier::new(SECRET).verify(&token.unwrap()).unwrap();
        assert_eq!(claims.sub, "alice");
        assert_eq!(claims.rooms, Some(vec!["lobby".to_owned(), "staff".to_owned()]));
        assert!(claims.admits("/") && claims.admits("/orders") && !claims.admits("/billing"));
        let plain = JwtVerifier::new(SECRET).verify(&gentoken(&["--sub", "bob"]).token().unwrap()).unwrap();
        assert_eq!((plain.ns, plain.rooms), (None, None), "no claim: the hub's defaults");
    }

    #[test]
    fn names_and_ttls_the_hub_would_refuse_are_refused_here() {
        let refused = |flags: &[&str]| gentoken(flags).token().unwrap_err().to_string();
        assert!(refused(&["--sub", " alice"]).starts_with("invalid --sub: user name must not start"));
        assert!(
            refused(&["--sub", "a", "--rooms", "lobby,"]).starts_with("invalid --rooms: room name must be 1")
        );
        assert!(
            refused(&["--sub", "a", "--ns", "orders"]).starts_with("invalid --ns: namespace must be `/`")
        );
        assert_eq!(
            refused(&["--sub", "a", "--ttl", "0s"]),
            "invalid --ttl: must be from 1s to 30days, got 0s"
        );
        assert_eq!(
            refused(&["--sub", "a", "--ttl", "31days"]),
            "invalid --ttl: must be from 1s to 30days, got 31days"
        );
    }

    #[test]
    fn without_a_secret_it_says_where_to_set_one() {
        let args = Command::try_parse_from(["gentoken", "--sub", "alice"]).unwrap().gentoken;
        let args = GenToken { jwt_secret: None, config: None, ..args };
        let error = args.token().unwrap_err().to_string();
        assert!(error.contains("--jwt-secret") && error.contains("HUB_JWT_SECRET"), "{error}");
        let short = GenToken { jwt_secret: Some("short".into()), ..args };
        assert!(short.token().unwrap_err().to_string().starts_with("invalid setting jwt-secret"));
    }
}
