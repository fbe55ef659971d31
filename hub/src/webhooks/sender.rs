//! Delivers one batch: POSTs it, signed, and tries again with backoff (1 s, doubling up to a minute)
//! until the receiver answers 2xx, for at most [`GIVE_UP_AFTER`]; then the batch is dropped, counted
//! and logged. Every attempt sends the same bytes with the same signature and delivery id.

use std::time::Duration;

use hub_protocol::WebhookBatch;
use hub_protocol::webhooks::{DELIVERY_HEADER, SIGNATURE_HEADER};
use reqwest::header::CONTENT_TYPE;
use tokio::time::Instant;

use super::signer::Signer;
use crate::telemetry::metrics;

/// How long one attempt may take, answer included.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// Wait before the first retry; each next one waits twice as long, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// No attempt starts later than this after the first.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(5 * 60);

/// Where and how batches go.
#[derive(Debug)]
pub struct Sender {
    client: reqwest::Client,
    url: url::Url,
    signer: Signer,
}

/// How the delivery of a batch ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    /// Every attempt failed for [`GIVE_UP_AFTER`].
    GaveUp,
}

/// The HTTP client could not be made (its TLS backend did not initialise).
#[derive(Debug, thiserror::Error)]
#[error("cannot make the webhooks' HTTP client: {0}")]
pub struct ClientError(#[from] reqwest::Error);

impl Sender {
    pub fn new(url: url::Url, signer: Signer) -> Result<Self, ClientError> {
        // A redirect would turn the POST into a GET elsewhere: the URL must be the receiver itself.
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(ATTEMPT_TIMEOUT)
            .build()?;
        Ok(Self { client, url, signer })
    }

    /// Delivers `batch`, named `id`, retrying as long as allowed.
    pub async fn deliver(&self, id: &str, batch: &WebhookBatch) -> Delivery {
        let body = serde_json::to_vec(batch).expect("a batch is plain JSON");
        let signature = self.signer.sign(&body);
        let first = Instant::now();
        let mut backoff = Backoff::default();
        for attempt in 1.. {
            let failure = match self.attempt(id, &signature, &body).await {
                Ok(()) => return Delivery::Sent,
                Err(failure) => failure,
            };
            metrics::webhook_attempt_failed();
            let Some(wait) = backoff.next(first.elapsed()) else {
                tracing::error!(
                    delivery = id,
                    events = batch.events.len(),
                    "webhook batch dropped: the receiver did not accept it in {attempt} attempts over \
                     {GIVE_UP_AFTER:?} (last: {failure})"
                );
                return Delivery::GaveUp;
            };
            tracing::warn!(
                delivery = id,
                "webhook attempt {attempt} failed: {failure}; retrying in {wait:?}"
            );
            tokio::time::sleep(wait).await;
        }
        unreachable!("the attempts end by returning")
    }

    /// One POST; `Err` says why it did not succeed.
    async fn attempt(&self, id: &str, signature: &str, body: &[u8]) -> Result<(), String> {
        let response = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature)
            .header(DELIVERY_HEADER, id)
            .body(body.to_vec())
            .send()
            .await
            .map_err(without_url)?;
        match response.status() {
            status if status.is_success() => Ok(()),
            status => Err(format!("the receiver answered {status}")),
        }
    }
}

/// The waits between attempts: 1 s, doubling up to [`MAX_BACKOFF`], as long as the next attempt starts
/// within [`GIVE_UP_AFTER`] of the first.
#[derive(Debug)]
struct Backoff {
    wait: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { wait: FIRST_BACKOFF }
    }
}

impl Backoff {
    /// How long to wait before the next attempt, `elapsed` after the first; `None`: give up.
    fn next(&mut self, elapsed: Duration) -> Option<Duration> {
        let wait = self.wait;
        if elapsed + wait > GIVE_UP_AFTER {
            return None;
        }
        self.wait = (wait * 2).min(MAX_BACKOFF);
        Some(wait)
    }
}

/// A request error without the URL, which may carry credentials.
fn without_url(error: reqwest::Error) -> String {
    use std::error::Error;
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// When each attempt starts, if each takes `took`, until the backoff gives up.
    fn attempts(took: Duration) -> Vec<u64> {
        let mut backoff = Backoff::default();
        let (mut starts, mut now) = (vec![0], Duration::ZERO);
        while let Some(wait) = backoff.next(now + took) {
            now += took + wait;
            starts.push(now.as_secs());
        }
        starts
    }

    #[test]
    fn retries_back_off_and_stop_within_five_minutes() {
        assert_eq!(attempts(Duration::ZERO), [0, 1, 3, 7, 15, 31, 63, 123, 183, 243]);
        // Receivers that time out every attempt get fewer of them, within the same 5 minutes.
        let timing_out = attempts(ATTEMPT_TIMEOUT);
        assert_eq!(timing_out, [0, 11, 23, 37, 55, 81, 123, 193, 263]);
        assert!(timing_out.iter().all(|&start| start <= GIVE_UP_AFTER.as_secs()));
    }
}
