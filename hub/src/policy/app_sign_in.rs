//! Sign-in through the application (`--auth-url`): at each CONNECT that does not carry the publish
//! token, the hub POSTs a [`SignInRequest`] to the application, whose answer says who the user is, which
//! rooms it may join and what the other members see of it, or why it may not connect.
//!
//! The application is trusted but not relied upon: each request has a deadline (`--auth-timeout`), the
//! answer is read up to [`MAX_ANSWER_BYTES`], and every way it can fail (down, slow, an unexpected status,
//! an answer that does not parse, an `info` too large) refuses the socket with a message that says so,
//! is counted in `hub_app_sign_in_requests_total{outcome}` and logged, and leaves the hub serving
//! everyone else. Sockets with the same cookie that connect together share one request. Redirects are not followed and no proxy from the environment is used: the session
//! cookie goes to the configured URL and nowhere else. Answers are kept for a while
//! ([`SignInCache`](super::sign_in_cache)).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hub_protocol::UserName;
use hub_protocol::sign_in::{
    DEFAULT_REFUSAL_MESSAGE, MAX_INFO_BYTES, MAX_REFUSAL_MESSAGE_CHARS, SignInAnswer, SignInRefusal,
    SignInRequest,
};
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use tokio::sync::OnceCell;

use super::identity::Identity;
use super::sign_in_cache::{Answer, Key, SignInCache};
use crate::telemetry::log_throttle::LogThrottle;
use crate::telemetry::metrics;

/// Largest answer read from the application.
pub const MAX_ANSWER_BYTES: usize = 64 << 10;

/// Largest auth payload forwarded to the application, as JSON.
pub const MAX_FORWARDED_AUTH_BYTES: usize = 8 << 10;

/// Failures to reach the application are logged at most once per this interval.
const FAILURES_LOGGED_EVERY: Duration = Duration::from_secs(10);

/// The application that signs users in.
#[derive(Debug, Clone)]
pub struct AppSignIn {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    url: reqwest::Url,
    timeout: Duration,
    client: reqwest::Client,
    cache: SignInCache,
    /// The requests under way, by key, each with the answer its waiters share once it is in.
    in_flight: Mutex<HashMap<Key, Arc<Pending>>>,
}

/// One request under way to the application, whose answer several sockets may wait for.
type Pending = OnceCell<Result<Answer, AppSignInError>>;

/// Why the hub could not set up the application's client.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the HTTP client for --auth-url: {0}")]
pub struct SetupError(#[from] reqwest::Error);

/// Why a socket was not signed in; the text is the `connect_error` message.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AppSignInError {
    /// The application's own message (`401`/`403`).
    #[error("{0}")]
    Refused(String),
    #[error("sign-in is unavailable: the application cannot be reached; try again later")]
    Unreachable,
    #[error("sign-in is unavailable: the application did not answer within {}; try again later", humantime::format_duration(*.0))]
    Timeout(Duration),
    #[error("sign-in is unavailable: the application answered with status {0}; try again later")]
    Status(u16),
    #[error("sign-in failed: the application's answer is not usable: {0}")]
    BadAnswer(String),
    #[error("auth payload too large for sign-in: at most {MAX_FORWARDED_AUTH_BYTES} bytes as JSON")]
    AuthTooLarge,
}

impl AppSignInError {
    /// The `outcome` label of `hub_app_sign_in_requests_total`.
    fn outcome(&self) -> &'static str {
        match self {
            AppSignInError::Refused(_) => "refused",
            AppSignInError::Unreachable => "unreachable",
            AppSignInError::Timeout(_) => "timeout",
            AppSignInError::Status(_) => "bad_status",
            AppSignInError::BadAnswer(_) | AppSignInError::AuthTooLarge => "bad_answer",
        }
    }
}

impl AppSignIn {
    /// The application at `url`, asked with a deadline of `timeout`, its answers kept for `cache_ttl`.
    pub fn new(url: reqwest::Url, timeout: Duration, cache_ttl: Duration) -> Result<Self, SetupError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("socketio-hub/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let cache = SignInCache::new(cache_ttl);
        let in_flight = Mutex::default();
        Ok(Self { inner: Arc::new(Inner { url, timeout, client, cache, in_flight }) })
    }

    /// Who the application says the socket of `request` is (`meta`: what the socket asked of published
    /// events' metadata), from a fresh enough earlier answer or by asking.
    pub async fn sign_in(&self, request: SignInRequest, meta: bool) -> Result<Identity, AppSignInError> {
        let auth = serde_json::to_string(&request.auth).expect("a JSON map serializes");
        if auth.len() > MAX_FORWARDED_AUTH_BYTES {
            return Err(AppSignInError::AuthTooLarge);
        }
        let key = Key::new(&request, &auth);
        let answer = match self.inner.cache.get(&key, Instant::now()) {
            Some(answer) => {
                metrics::app_sign_in_cache_hit(matches!(answer, Answer::Admitted(_)));
                answer
            }
            None => self.ask_once(key, &request).await?,
        };
        match answer {
            Answer::Admitted(identity) => Ok(Identity { meta, ..identity }),
            Answer::Refused(message) => Err(AppSignInError::Refused(message)),
        }
    }

    /// The application's answer for `key`: sockets that connect with the same key while a request for it
    /// is under way (the tabs of a page reconnecting together) wait for that request's answer rather than
    /// send their own; the first one asks.
    async fn ask_once(&self, key: Key, request: &SignInRequest) -> Result<Answer, AppSignInError> {
        let in_flight = || self.inner.in_flight.lock().unwrap_or_else(PoisonError::into_inner);
        let pending = Arc::clone(in_flight().entry(key).or_default());
        let mut asked_here = false;
        let answer = pending
            .get_or_init(|| {
                asked_here = true;
                async {
                    let asked = self.ask(request).await;
                    let outcome = asked.as_ref().map_or_else(AppSignInError::outcome, |_| "admitted");
                    metrics::app_sign_in_request(outcome);
                    let answer = match asked {
                        Ok(identity) => Answer::Admitted(identity),
                        Err(AppSignInError::Refused(message)) => Answer::Refused(message),
                        Err(failure) => return Err(failure),
                    };
                    self.inner.cache.put(key, answer.clone(), Instant::now());
                    Ok(answer)
                }
            })
            .await
            .clone();
        {
            let mut in_flight = in_flight();
            if in_flight.get(&key).is_some_and(|current| Arc::ptr_eq(current, &pending)) {
                in_flight.remove(&key);
            }
        }
        if !asked_here && let Ok(answer) = &answer {
            metrics::app_sign_in_cache_hit(matches!(answer, Answer::Admitted(_)));
        }
        answer
    }

    /// One request to the application.
    async fn ask(&self, request: &SignInRequest) -> Result<Identity, AppSignInError> {
        let inner = &self.inner;
        let body = serde_json::to_vec(request).expect("a sign-in request serializes");
        let exchange = async {
            let mut response = inner
                .client
                .post(inner.url.clone())
                .header(CONTENT_TYPE, "application/json")
                .body(body)
                .send()
                .await?;
            let status = response.status();
            let mut answer = Vec::new();
            if response.content_length().is_some_and(|len| len > MAX_ANSWER_BYTES as u64) {
                return Ok((status, None));
            }
            while let Some(chunk) = response.chunk().await? {
                if answer.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Ok((status, None));
                }
                answer.extend_from_slice(&chunk);
            }
            Ok::<_, reqwest::Error>((status, Some(answer)))
        };
        // The client's own timeout covers each request; this one also bounds a slow trickle of a body.
        let (status, answer) = match tokio::time::timeout(inner.timeout, exchange).await {
            Ok(Ok(exchanged)) => exchanged,
            Ok(Err(e)) if !e.is_timeout() => {
                // Without the URL, which may hold credentials.
                let source = format!("{:?}", std::error::Error::source(&e));
                return Err(
                    self.failed(AppSignInError::Unreachable, &format!("{}: {source}", e.without_url()))
                );
            }
            Ok(Err(_)) | Err(_) => {
                return Err(self.failed(AppSignInError::Timeout(inner.timeout), "no answer in time"));
            }
        };
        let Some(answer) = answer else {
            let detail = format!("an answer larger than {MAX_ANSWER_BYTES} bytes");
            return Err(self.failed(AppSignInError::BadAnswer(detail.clone()), &detail));
        };
        match status {
            StatusCode::OK => self.admitted(&answer),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                Err(AppSignInError::Refused(refusal_message(&answer)))
            }
            other => Err(self.failed(AppSignInError::Status(other.as_u16()), &format!("status {other}"))),
        }
    }

    /// The identity in a `200` answer.
    fn admitted(&self, answer: &[u8]) -> Result<Identity, AppSignInError> {
        let bad = |detail: String| self.failed(AppSignInError::BadAnswer(detail.clone()), &detail);
        let answer: SignInAnswer = serde_json::from_slice(answer)
            .map_err(|e| bad(format!("expected {{\"user\":NAME,\"rooms\":[...],\"info\":{{...}}}}: {e}")))?;
        let user = UserName::parse(answer.user)
            .map_err(|r| bad(format!("`user` is not a valid user name: {}", r.message)))?;
        let info = match answer.info {
            Some(info) => {
                let size = serde_json::to_string(&info).expect("a JSON value serializes").len();
                if size > MAX_INFO_BYTES {
                    return Err(bad(format!("`info` is {size} bytes as JSON, at most {MAX_INFO_BYTES}")));
                }
                Some(Arc::new(info))
            }
            None => None,
        };
        Ok(Identity { user, publisher: false, rooms: answer.rooms.map(Arc::from), info, meta: false })
    }

    /// Logs a failure of the application (at most once per interval) and returns it.
    fn failed(&self, failure: AppSignInError, detail: &str) -> AppSignInError {
        static FAILURES: LogThrottle = LogThrottle::new(FAILURES_LOGGED_EVERY);
        if let Some(held_back) = FAILURES.due(Instant::now()) {
            tracing::warn!(
                url = %without_credentials(&self.inner.url),
                outcome = failure.outcome(),
                held_back,
                "sign-in through the application failed: {detail}"
            );
        }
        failure
    }
}

/// The `connect_error` message of a `401`/`403` answer: its `message`, on one line and cut short.
fn refusal_message(answer: &[u8]) -> String {
    let message = serde_json::from_slice::<SignInRefusal>(answer).map(|r| r.message).unwrap_or_default();
    let message: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_REFUSAL_MESSAGE_CHARS)
        .collect();
    match message.trim() {
        "" => DEFAULT_REFUSAL_MESSAGE.to_owned(),
        trimmed => trimmed.to_owned(),
    }
}

/// `url` as it may be logged: without a user name or password.
pub fn without_credentials(url: &reqwest::Url) -> reqwest::Url {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_message_is_one_short_line_or_the_default() {
        assert_eq!(refusal_message(br#"{"message":"banned"}"#), "banned");
        assert_eq!(refusal_message(br#"{"message":"two\nlines"}"#), "two lines");
        assert_eq!(refusal_message(b"<html>Forbidden</html>"), DEFAULT_REFUSAL_MESSAGE);
        assert_eq!(refusal_message(br#"{"message":"  "}"#), DEFAULT_REFUSAL_MESSAGE);
        let long = format!(r#"{{"message":"{}"}}"#, "x".repeat(1000));
        assert_eq!(refusal_message(long.as_bytes()).len(), MAX_REFUSAL_MESSAGE_CHARS);
    }

    fn app() -> AppSignIn {
        let url = "http://127.0.0.1:9/sign-in".parse().unwrap();
        AppSignIn::new(url, Duration::from_secs(1), Duration::ZERO).unwrap()
    }

    #[test]
    fn an_answer_gives_the_user_its_rooms_and_info_within_bounds() {
        let identity =
            app().admitted(br#"{"user":"alice","rooms":["lobby"],"info":{"role":"staff"}}"#).unwrap();
        assert_eq!(identity.user.as_ref(), "alice");
        assert!(identity.may_join("lobby") && !identity.may_join("staff"));
        assert_eq!(identity.info.as_deref(), Some(&serde_json::json!({"role": "staff"})));
        let big = format!(r#"{{"user":"alice","info":{{"bio":"{}"}}}}"#, "x".repeat(MAX_INFO_BYTES));
        assert!(
            matches!(app().admitted(big.as_bytes()), Err(AppSignInError::BadAnswer(m)) if m.contains("`info`"))
        );
        assert!(matches!(app().admitted(br#"{"user":""}"#), Err(AppSignInError::BadAnswer(_))));
        assert!(matches!(app().admitted(b"ok"), Err(AppSignInError::BadAnswer(_))));
    }

    #[test]
    fn credentials_in_the_url_are_not_logged() {
        let url = "https://hub:s3cret@app.example/sign-in".parse().unwrap();
        assert_eq!(without_credentials(&url).as_str(), "https://app.example/sign-in");
    }
}
