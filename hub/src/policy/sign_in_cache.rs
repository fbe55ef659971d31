//! The application's recent sign-in answers (`--auth-cache-ttl`), so that a page that reconnects, or
//! opens a few tabs, costs the application one request rather than one per socket.
//!
//! An answer is kept under a SHA-256 of what the application decides on: the namespace, the `cookie`
//! and `authorization` headers and the forwarded auth payload. So the table holds no session cookie in
//! clear, and a different cookie is a different entry. A user let in is kept for the TTL (a session the
//! application ends meanwhile can still connect until then); a refusal only for [`REFUSAL_TTL`] at most,
//! so that a flood of connections with the same bad cookie reaches the application once every few
//! seconds, and a user who has just signed in (with a new cookie anyway) is never held back long.
//! Failures to get an answer (the application down or slow) are not kept: the next socket asks again.
//!
//! The table holds at most [`CAPACITY`] answers; when it is full, expired ones are dropped, and if none
//! has expired the new answer is not kept (the next connection asks the application again).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use hub_protocol::sign_in::SignInRequest;
use sha2::{Digest, Sha256};

use super::identity::Identity;

/// Most answers kept at once (about 2 MB with small `info`s).
pub const CAPACITY: usize = 10_000;

/// Longest a refusal is kept.
pub const REFUSAL_TTL: Duration = Duration::from_secs(5);

/// What the application answered: the signed-in user, or its refusal message.
#[derive(Debug, Clone)]
pub enum Answer {
    Admitted(Identity),
    Refused(String),
}

/// The hash of what an answer depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key([u8; 32]);

impl Key {
    /// The key of a sign-in: everything the application is sent that may decide its answer.
    pub fn new(request: &SignInRequest, auth: &str) -> Self {
        let headers = &request.headers;
        let parts = [
            Some(request.namespace.as_str()),
            headers.cookie.as_deref(),
            headers.authorization.as_deref(),
            headers.origin.as_deref(),
            request.address.as_deref(),
            Some(auth),
        ];
        let mut hash = Sha256::new();
        // Each part with its presence and length, so that no two different inputs hash the same bytes.
        for part in parts {
            match part {
                Some(text) => {
                    hash.update([1]);
                    hash.update((text.len() as u64).to_le_bytes());
                    hash.update(text.as_bytes());
                }
                None => hash.update([0]),
            }
        }
        Self(hash.finalize().into())
    }
}

/// Recent answers, each until its deadline.
#[derive(Debug)]
pub struct SignInCache {
    ttl: Duration,
    entries: Mutex<HashMap<Key, (Instant, Answer)>>,
}

impl SignInCache {
    /// A cache keeping answers for `ttl` (refusals for at most [`REFUSAL_TTL`]); `ttl` 0 keeps nothing.
    pub fn new(ttl: Duration) -> Self {
        Self { ttl, entries: Mutex::default() }
    }

    /// The answer kept under `key`, if it is still fresh at `now`.
    pub fn get(&self, key: &Key, now: Instant) -> Option<Answer> {
        let mut entries = self.lock();
        match entries.get(key) {
            Some((deadline, answer)) if *deadline > now => Some(answer.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Keeps `answer` under `key` from `now`, unless the cache is off or full of fresh answers.
    pub fn put(&self, key: Key, answer: Answer, now: Instant) {
        let ttl = match answer {
            Answer::Admitted(_) => self.ttl,
            Answer::Refused(_) => self.ttl.min(REFUSAL_TTL),
        };
        if ttl.is_zero() {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= CAPACITY && !entries.contains_key(&key) {
            entries.retain(|_, (deadline, _)| *deadline > now);
            if entries.len() >= CAPACITY {
                return;
            }
        }
        entries.insert(key, (now + ttl, answer));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, (Instant, Answer)>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hub_protocol::UserName;
    use hub_protocol::sign_in::SignInHeaders;

    fn alice() -> Answer {
        let user = UserName::parse("alice".to_owned()).unwrap();
        Answer::Admitted(Identity { user, publisher: false, rooms: None, info: None, meta: false })
    }

    /// A request for `namespace` with `cookie` and `authorization`, from 127.0.0.1 on no origin.
    fn request(namespace: &str, cookie: Option<&str>, authorization: Option<&str>) -> SignInRequest {
        SignInRequest {
            namespace: namespace.to_owned(),
            auth: serde_json::Map::new(),
            headers: SignInHeaders {
                cookie: cookie.map(str::to_owned),
                authorization: authorization.map(str::to_owned),
                ..SignInHeaders::default()
            },
            address: Some("127.0.0.1".to_owned()),
        }
    }

    fn key(namespace: &str, cookie: Option<&str>, authorization: Option<&str>) -> Key {
        Key::new(&request(namespace, cookie, authorization), "{}")
    }

    #[test]
    fn keys_differ_with_any_part() {
        let base = key("/", Some("s=1"), None);
        assert_eq!(base, key("/", Some("s=1"), None));
        assert_ne!(base, key("/", Some("s=2"), None));
        assert_ne!(base, key("/orders", Some("s=1"), None));
        assert_ne!(base, key("/", None, Some("s=1")), "a header's place counts");
        assert_ne!(key("/", Some(""), None), key("/", None, None), "empty is not absent");
        let mut elsewhere = request("/", Some("s=1"), None);
        elsewhere.address = Some("192.0.2.7".to_owned());
        assert_ne!(base, Key::new(&elsewhere, "{}"), "an app may answer by address");
        let mut other_page = request("/", Some("s=1"), None);
        other_page.headers.origin = Some("https://other.example".to_owned());
        assert_ne!(base, Key::new(&other_page, "{}"), "or by origin");
        assert_ne!(base, Key::new(&request("/", Some("s=1"), None), r#"{"device":"phone"}"#));
    }

    #[test]
    fn answers_expire_refusals_sooner() {
        let cache = SignInCache::new(Duration::from_secs(30));
        let now = Instant::now();
        let (admitted, refused) = (key("/", Some("a"), None), key("/", Some("b"), None));
        cache.put(admitted, alice(), now);
        cache.put(refused, Answer::Refused("no".to_owned()), now);
        assert!(matches!(cache.get(&admitted, now + Duration::from_secs(29)), Some(Answer::Admitted(_))));
        assert!(matches!(cache.get(&refused, now + Duration::from_secs(4)), Some(Answer::Refused(_))));
        assert!(cache.get(&refused, now + REFUSAL_TTL).is_none());
        assert!(cache.get(&admitted, now + Duration::from_secs(30)).is_none());
    }

    #[test]
    fn a_zero_ttl_keeps_nothing_and_a_full_cache_keeps_no_more() {
        let off = SignInCache::new(Duration::ZERO);
        let now = Instant::now();
        let a = key("/", Some("a"), None);
        off.put(a, alice(), now);
        assert!(off.get(&a, now).is_none());

        let cache = SignInCache::new(Duration::from_secs(30));
        for n in 0..CAPACITY {
            cache.put(key("/", Some(&n.to_string()), None), alice(), now);
        }
        let late = key("/", Some("late"), None);
        cache.put(late, alice(), now);
        assert!(cache.get(&late, now).is_none(), "full of fresh answers");
        cache.put(late, alice(), now + Duration::from_secs(31));
        assert!(cache.get(&late, now + Duration::from_secs(31)).is_some(), "the expired ones made room");
    }
}
