//! Who may open the Admin UI: the configured user name and password, or a session id the hub gave
//! earlier.
//!
//! A session id is not stored anywhere: it is its expiry and an HMAC of it, keyed by a hash of the user
//! name and the configured password. So every hub of a cluster with the same settings accepts the ids the
//! others gave (the UI reconnects to whichever hub the load balancer picks), nothing grows with the
//! number of logins, and changing the password ends every session. A session id is given at a login
//! with the password only, so it ends [`SESSION_TTL`] after that login, however often it is used. For a
//! password in clear, the key is derived through bcrypt ([`SESSION_KEY_COST`]), so that a session id
//! seen by someone cannot be used to try passwords offline at the speed of SHA-256.
//!
//! bcrypt is slow on purpose (tens of milliseconds at cost 10): checks run on the blocking pool, at most
//! [`CHECKS_AT_ONCE`] at a time and [`MAX_WAITING_CHECKS`] waiting (more are refused as busy at once),
//! so a flood of logins from many addresses can neither take the hub's cores nor pile up; the caller
//! also counts failures per address (`policy::auth_failures`).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use hub_protocol::admin::AdminAuth;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use crate::config::{AdminConfig, AdminPassword};
use crate::policy::auth_failures::Throttled;

/// How long a session id is accepted after the login with the password that gave it.
pub const SESSION_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Password checks running at once (each may take a core for a bcrypt hash).
const CHECKS_AT_ONCE: usize = 1;

/// Logins waiting for their turn at a bcrypt check; beyond it a login is refused as busy at once.
const MAX_WAITING_CHECKS: usize = 16;

/// bcrypt's cost when the session key is derived from a password in clear (once, at start).
const SESSION_KEY_COST: u32 = 10;

/// Longest user name or password looked at: bcrypt reads 72 bytes, and nobody types more.
const MAX_FIELD_BYTES: usize = 1024;

/// Bytes of the HMAC kept in a session id.
const TAG_BYTES: usize = 16;

/// Checks logins and session ids against the configured credentials.
#[derive(Debug)]
pub struct Credentials {
    username: String,
    password: AdminPassword,
    /// The HMAC key of session ids.
    session_key: [u8; 32],
    checks: Arc<Semaphore>,
    /// Places in the line for `checks`.
    waiting: Arc<Semaphore>,
}

/// Why a login was not checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotChecked {
    /// The address failed too often: told by the gate, looked at again when the check's turn came.
    Throttled(Throttled),
    /// [`MAX_WAITING_CHECKS`] logins wait for a bcrypt check already.
    Busy,
}

/// How a connection signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedIn {
    Password,
    Session,
}

impl Credentials {
    /// The credentials of `config`; with a password in clear this runs bcrypt once (tens of ms).
    pub fn new(config: &AdminConfig) -> Self {
        let salt: [u8; 16] =
            Sha256::digest(format!("hub admin session salt\0{}", config.username).as_bytes())[..16]
                .try_into()
                .expect("16 bytes of a digest");
        let secret = match &config.password {
            // A hash is not a password anyone types: guessing it is hopeless.
            AdminPassword::Bcrypt(hash) => hash.clone(),
            AdminPassword::Plain(password) => bcrypt::hash_with_salt(password, SESSION_KEY_COST, salt)
                .map(|parts| parts.to_string())
                .unwrap_or_else(|_| password.clone()),
        };
        let mut key = Sha256::new();
        key.update(b"hub admin session\0");
        key.update(config.username.as_bytes());
        key.update(b"\0");
        key.update(secret.as_bytes());
        Self {
            username: config.username.clone(),
            password: config.password.clone(),
            session_key: key.finalize().into(),
            checks: Arc::new(Semaphore::new(CHECKS_AT_ONCE)),
            waiting: Arc::new(Semaphore::new(MAX_WAITING_CHECKS)),
        }
    }

    /// How `auth` signs in, or `None` when it does not.
    #[cfg(test)]
    pub async fn check(&self, auth: &AdminAuth) -> Option<SignedIn> {
        self.check_behind(auth, || Ok(())).await.ok().flatten()
    }

    /// How `auth` signs in, or `None` when it does not; `Err` when `gate` (the address's failed logins)
    /// closed while the check waited for its turn at bcrypt. The gate is looked at again then: logins
    /// sent all at once pass it together before any has failed, and would otherwise each get a guess.
    pub async fn check_behind(
        &self,
        auth: &AdminAuth,
        gate: impl FnOnce() -> Result<(), Throttled>,
    ) -> Result<Option<SignedIn>, NotChecked> {
        if let Some(session) = &auth.session_id
            && self.session_is_valid(session, SystemTime::now())
        {
            return Ok(Some(SignedIn::Session));
        }
        let (Some(username), Some(password)) = (&auth.username, &auth.password) else { return Ok(None) };
        if username.len() > MAX_FIELD_BYTES || password.len() > MAX_FIELD_BYTES {
            return Ok(None);
        }
        let name_matches: bool = username.as_bytes().ct_eq(self.username.as_bytes()).into();
        let password_matches = match &self.password {
            AdminPassword::Plain(expected) => {
                // Compared as hashes, so the time taken does not depend on the lengths either.
                Sha256::digest(password.as_bytes()).ct_eq(&Sha256::digest(expected.as_bytes())).into()
            }
            AdminPassword::Bcrypt(hash) => {
                let Ok(_place) = self.waiting.clone().try_acquire_owned() else {
                    return Err(NotChecked::Busy);
                };
                let Ok(_turn) = self.checks.clone().acquire_owned().await else { return Ok(None) };
                gate().map_err(NotChecked::Throttled)?;
                let (password, hash) = (password.clone(), hash.clone());
                tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
                    .await
                    .unwrap_or(false)
            }
        };
        Ok((name_matches && password_matches).then_some(SignedIn::Password))
    }

    /// A new session id, valid for [`SESSION_TTL`].
    pub fn new_session(&self) -> String {
        self.session_at(SystemTime::now() + SESSION_TTL)
    }

    fn session_at(&self, expiry: SystemTime) -> String {
        let expiry = expiry.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        format!("{expiry:016x}{}", hex(&self.tag(expiry)))
    }

    fn session_is_valid(&self, session: &str, now: SystemTime) -> bool {
        if session.len() != 16 + 2 * TAG_BYTES || !session.is_ascii() {
            return false;
        }
        let (expiry, tag) = session.split_at(16);
        let Ok(expiry) = u64::from_str_radix(expiry, 16) else { return false };
        let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let fresh = expiry > now && expiry <= now + SESSION_TTL.as_secs();
        let tag_matches: bool = hex(&self.tag(expiry)).as_bytes().ct_eq(tag.as_bytes()).into();
        fresh && tag_matches
    }

    fn tag(&self, expiry: u64) -> [u8; TAG_BYTES] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.session_key).expect("HMAC takes any key length");
        mac.update(&expiry.to_be_bytes());
        let full = mac.finalize().into_bytes();
        let mut tag = [0; TAG_BYTES];
        tag.copy_from_slice(&full[..TAG_BYTES]);
        tag
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(username: &str, password: &str) -> AdminAuth {
        AdminAuth { username: Some(username.into()), password: Some(password.into()), session_id: None }
    }

    fn session(id: &str) -> AdminAuth {
        AdminAuth { session_id: Some(id.into()), ..AdminAuth::default() }
    }

    #[tokio::test]
    async fn a_plain_password_and_its_user_name_sign_in() {
        let credentials = Credentials::new(&AdminConfig::new("a password long enough"));
        assert_eq!(
            credentials.check(&auth("admin", "a password long enough")).await,
            Some(SignedIn::Password)
        );
        assert_eq!(credentials.check(&auth("admin", "a password long enougH")).await, None);
        assert_eq!(credentials.check(&auth("root", "a password long enough")).await, None);
        assert_eq!(credentials.check(&AdminAuth::default()).await, None);
    }

    #[tokio::test]
    async fn a_bcrypt_hash_checks_the_password() {
        let hash = bcrypt::hash("a password long enough", 4).unwrap();
        let credentials = Credentials::new(&AdminConfig::new(&hash));
        assert_eq!(
            credentials.check(&auth("admin", "a password long enough")).await,
            Some(SignedIn::Password)
        );
        assert_eq!(credentials.check(&auth("admin", &hash)).await, None);
    }

    #[tokio::test]
    async fn sessions_sign_in_until_they_expire_or_the_password_changes() {
        let credentials = Credentials::new(&AdminConfig::new("a password long enough"));
        let id = credentials.new_session();
        assert_eq!(credentials.check(&session(&id)).await, Some(SignedIn::Session));
        // Another hub of the cluster, with the same settings, accepts it.
        let other = Credentials::new(&AdminConfig::new("a password long enough"));
        assert_eq!(other.check(&session(&id)).await, Some(SignedIn::Session));
        let changed = Credentials::new(&AdminConfig::new("another password, as long"));
        assert_eq!(changed.check(&session(&id)).await, None);

        let expired = credentials.session_at(SystemTime::now() - Duration::from_secs(1));
        assert_eq!(credentials.check(&session(&expired)).await, None);
        let too_far = credentials.session_at(SystemTime::now() + SESSION_TTL * 2);
        assert_eq!(credentials.check(&session(&too_far)).await, None);
        let mut forged = id.clone();
        forged.replace_range(0..1, if id.starts_with('0') { "1" } else { "0" });
        assert_eq!(credentials.check(&session(&forged)).await, None);
        assert_eq!(credentials.check(&session("")).await, None);
        assert_eq!(credentials.check(&session("é".repeat(24).as_str())).await, None);
    }

    #[tokio::test]
    async fn a_flood_of_logins_waits_in_a_bounded_line() {
        let hash = bcrypt::hash("a password long enough", 4).unwrap();
        let credentials = Credentials::new(&AdminConfig::new(&hash));
        let guess = auth("admin", "a guess");
        let outcomes =
            futures_util::future::join_all((0..40).map(|_| credentials.check_behind(&guess, || Ok(()))))
                .await;
        let busy = outcomes.iter().filter(|outcome| **outcome == Err(NotChecked::Busy)).count();
        assert_eq!(busy, 40 - MAX_WAITING_CHECKS, "{outcomes:?}");
        assert!(outcomes.iter().all(|outcome| matches!(outcome, Ok(None) | Err(NotChecked::Busy))));
    }
}
