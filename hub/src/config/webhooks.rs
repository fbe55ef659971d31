//! The webhook settings (`--webhook-url`, `--webhook-secret`, `--webhook-events`, `--webhook-queue`),
//! merged and checked together into one [`WebhookConfig`]: webhooks are on exactly when a URL is set,
//! and then a secret is required, since a receiver cannot tell unsigned batches from forged ones.

use hub_protocol::WebhookEventName;

use super::{ConfigError, MIN_SECRET_LEN, Settings, pick};

/// Default most events waiting for delivery at once (those of the batch being sent included).
pub const DEFAULT_WEBHOOK_QUEUE: usize = 10_000;

/// Largest `--webhook-queue`: a chat event holds up to a few KiB, so this bounds the queue to a few GiB.
pub const MAX_WEBHOOK_QUEUE: usize = 1_000_000;

/// Where and what the hub POSTs.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// An `http` or `https` URL.
    pub url: url::Url,
    /// The HMAC-SHA256 key of the `X-Hub-Signature` header.
    pub secret: String,
    /// The kinds of events sent; the others are not even queued.
    pub events: Vec<WebhookEventName>,
    /// Most events waiting for delivery at once; beyond it new ones are dropped and counted.
    pub queue: usize,
}

impl WebhookConfig {
    /// A configuration for tests and embedding: every event, the default queue.
    pub fn new(url: url::Url, secret: impl Into<String>) -> Self {
        let events = WebhookEventName::ALL.to_vec();
        Self { url, secret: secret.into(), events, queue: DEFAULT_WEBHOOK_QUEUE }
    }

    /// Refuses settings the webhooks cannot run with, saying which and why.
    pub fn check(&self) -> Result<(), ConfigError> {
        let invalid =
            |setting, message: &str| Err(ConfigError::Invalid { setting, message: message.to_owned() });
        if !matches!(self.url.scheme(), "http" | "https") || self.url.host().is_none() {
            return invalid("webhook-url", "must be an http:// or https:// URL");
        }
        if self.secret.len() < MIN_SECRET_LEN {
            return invalid(
                "webhook-secret",
                "must be at least 16 bytes (e.g. `openssl rand -hex 24`): it keys the signature",
            );
        }
        if self.events.is_empty() {
            return invalid("webhook-events", "must name at least one event");
        }
        if !(1..=MAX_WEBHOOK_QUEUE).contains(&self.queue) {
            return invalid("webhook-queue", "must be between 1 and 1000000 events");
        }
        Ok(())
    }

    /// The event names as `--webhook-events` takes them.
    pub fn event_names(&self) -> Vec<&'static str> {
        self.events.iter().map(|name| name.as_str()).collect()
    }
}

/// The webhook settings of the flags and environment (`cli`) over those of the file; `None` when no
/// URL is set, and then no other webhook setting may be.
pub(super) fn load(cli: &Settings, file: &Settings) -> Result<Option<WebhookConfig>, ConfigError> {
    let invalid = |setting, message: String| Err(ConfigError::Invalid { setting, message });
    let url = pick(&cli.webhook_url, &file.webhook_url);
    let secret = pick(&cli.webhook_secret, &file.webhook_secret);
    let events = pick(&cli.webhook_events, &file.webhook_events);
    let queue = pick(&cli.webhook_queue, &file.webhook_queue);
    let Some(url) = url else {
        for (setting, set) in [
            ("webhook-secret", secret.is_some()),
            ("webhook-events", events.is_some()),
            ("webhook-queue", queue.is_some()),
        ] {
            if set {
                return invalid(setting, "needs --webhook-url (where to send the webhooks)".to_owned());
            }
        }
        return Ok(None);
    };
    let Ok(url) = url::Url::parse(&url) else {
        return invalid("webhook-url", "must be an http:// or https:// URL".to_owned());
    };
    let Some(secret) = secret else {
        return invalid(
            "webhook-secret",
            "is required with --webhook-url: the receiver checks each batch's signature with it".to_owned(),
        );
    };
    let mut names = Vec::new();
    for name in events.unwrap_or_else(|| WebhookEventName::ALL.map(|name| name.as_str().to_owned()).to_vec())
    {
        match name.trim().parse::<WebhookEventName>() {
            Ok(name) if !names.contains(&name) => names.push(name),
            Ok(_) => {}
            Err(e) => return invalid("webhook-events", e.to_string()),
        }
    }
    let config = WebhookConfig { url, secret, events: names, queue: queue.unwrap_or(DEFAULT_WEBHOOK_QUEUE) };
    config.check()?;
    Ok(Some(config))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::super::{Args, Config};
    use super::*;

    fn load(flags: &[&str]) -> Result<Option<WebhookConfig>, String> {
        let args = Args::try_parse_from(std::iter::once("hub").chain(flags.iter().copied())).unwrap();
        Config::load(&args).map(|config| config.webhooks).map_err(|e| e.to_string())
    }

    const URL: &str = "http://127.0.0.1:9/hooks";
    const SECRET: &str = "a-webhook-secret-of-16+";

    #[test]
    fn off_without_a_url_and_every_event_by_default() {
        assert!(load(&[]).unwrap().is_none());
        let config = load(&["--webhook-url", URL, "--webhook-secret", SECRET]).unwrap().unwrap();
        assert_eq!(config.events, WebhookEventName::ALL);
        assert_eq!((config.url.as_str(), config.queue), (URL, DEFAULT_WEBHOOK_QUEUE));
    }

    #[test]
    fn events_are_chosen_by_name() {
        let flags =
            ["--webhook-url", URL, "--webhook-secret", SECRET, "--webhook-events", "chat,room_vacated"];
        let config = load(&flags).unwrap().unwrap();
        assert_eq!(config.events, [WebhookEventName::Chat, WebhookEventName::RoomVacated]);
        let flags = ["--webhook-url", URL, "--webhook-secret", SECRET, "--webhook-events", "chat,messages"];
        let error = load(&flags).unwrap_err();
        assert!(
            error.starts_with("invalid setting webhook-events: unknown webhook event \"messages\""),
            "{error}"
        );
    }

    #[test]
    fn settings_that_cannot_work_name_themselves() {
        let error = load(&["--webhook-secret", SECRET]).unwrap_err();
        assert_eq!(error, "invalid setting webhook-secret: needs --webhook-url (where to send the webhooks)");
        let error = load(&["--webhook-url", URL]).unwrap_err();
        assert!(error.starts_with("invalid setting webhook-secret: is required"), "{error}");
        let error = load(&["--webhook-url", "ftp://example.com/", "--webhook-secret", SECRET]).unwrap_err();
        assert!(error.starts_with("invalid setting webhook-url:"), "{error}");
        let error = load(&["--webhook-url", URL, "--webhook-secret", "short"]).unwrap_err();
        assert!(error.starts_with("invalid setting webhook-secret:"), "{error}");
        let error =
            load(&["--webhook-url", URL, "--webhook-secret", SECRET, "--webhook-queue", "0"]).unwrap_err();
        assert!(error.starts_with("invalid setting webhook-queue:"), "{error}");
    }
}
