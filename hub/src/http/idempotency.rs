//! `Idempotency-Key` for the HTTP API: a request repeated with the same key within five minutes is not
//! carried out again; it gets the first one's answer. Cron jobs retry, and users must not see doubles.
//!
//! Only successful answers are kept: a refused or failed request may be retried with the same key.
//! Concurrent requests with one key wait for the first. Keys are kept per hub (not shared in a cluster).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

/// How long a key is remembered.
pub const KEY_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// Most keys remembered at once; beyond it, new keys are refused until old ones expire.
const MAX_KEYS: usize = 100_000;
/// Longest key accepted.
pub const MAX_KEY_LEN: usize = 255;

type Slot<T> = Arc<OnceCell<T>>;
/// An idempotency key: the endpoint and the client's key.
type Key = (&'static str, String);

/// Remembered answers by (endpoint, key).
#[derive(Debug)]
pub struct IdempotencyCache<T> {
    entries: Mutex<HashMap<Key, (Instant, Slot<T>)>>,
}

impl<T> Default for IdempotencyCache<T> {
    fn default() -> Self {
        Self { entries: Mutex::default() }
    }
}

/// The cache is full of live keys.
#[derive(Debug, thiserror::Error)]
#[error("too many idempotency keys in use; retry in a few minutes")]
pub struct CacheFull;

impl<T: Clone> IdempotencyCache<T> {
    /// Runs `run` unless `key` already has a successful answer for `endpoint`, which is returned instead
    /// (with `true`: a repeat). An `Err` from `run` is not remembered.
    pub async fn run<E, F, Fut>(
        &self,
        endpoint: &'static str,
        key: &str,
        run: F,
    ) -> Result<Result<(T, bool), E>, CacheFull>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let slot = self.slot(endpoint, key)?;
        let mut ran = false;
        let outcome = slot
            .get_or_try_init(|| {
                ran = true;
                run()
            })
            .await;
        Ok(outcome.map(|answer| (answer.clone(), !ran)))
    }

    fn slot(&self, endpoint: &'static str, key: &str) -> Result<Slot<T>, CacheFull> {
        let now = Instant::now();
        let mut entries = self.entries.lock().expect("idempotency lock poisoned");
        let id = (endpoint, key.to_owned());
        if let Some((created, slot)) = entries.get(&id)
            && now.duration_since(*created) < KEY_LIFETIME
        {
            return Ok(Arc::clone(slot));
        }
        if entries.len() >= MAX_KEYS {
            entries.retain(|_, (created, _)| now.duration_since(*created) < KEY_LIFETIME);
            if entries.len() >= MAX_KEYS {
                return Err(CacheFull);
            }
        }
        let slot = Slot::default();
        entries.insert(id, (now, Arc::clone(&slot)));
        Ok(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_key_runs_once_and_failures_are_not_kept() {
        let cache = IdempotencyCache::<u32>::default();
        let first = cache.run("publish", "k", || async { Ok::<_, ()>(1) }).await.unwrap();
        assert_eq!(first, Ok((1, false)));
        let again = cache.run("publish", "k", || async { Ok::<_, ()>(2) }).await.unwrap();
        assert_eq!(again, Ok((1, true)), "the first answer, not run again");
        let other_endpoint = cache.run("batch", "k", || async { Ok::<_, ()>(3) }).await.unwrap();
        assert_eq!(other_endpoint, Ok((3, false)));

        let failed = cache.run("publish", "f", || async { Err::<u32, _>("no") }).await.unwrap();
        assert_eq!(failed, Err("no"));
        let retried = cache.run("publish", "f", || async { Ok::<_, &str>(4) }).await.unwrap();
        assert_eq!(retried, Ok((4, false)), "a failure may be retried with the same key");
    }
}
