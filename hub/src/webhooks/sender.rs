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
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1.. {
            let failure = match self.attempt(id, &signature, &body).await {
                Ok(()) => return Delivery::Sent,
                Err(failure) => failure,
            };
            metrics::webhook_attempt_failed();
            if first.elapsed() + backoff > GIVE_UP_AFTER {
                tracing::error!(
                    delivery = id,
                    events = batch.events.len(),
                    "webhook batch dropped: the receiver did not accept it in {attempt} attempts over \
                     {GIVE_UP_AFTER:?} (last: {failure})"
                );
                return Delivery::GaveUp;
            }
            tracing::warn!(
                delivery = id,
                "webhook attempt {attempt} failed: {failure}; retrying in {backoff:?}"
            );
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
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
