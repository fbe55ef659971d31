//! Which web pages may open a Socket.IO connection: the `Origin` check on every handshake request.
//!
//! Browsers send `Origin` with polling requests and with the websocket upgrade; CORS protects only the
//! former (a websocket upgrade is not subject to CORS), so the hub checks the header itself, for both,
//! before Socket.IO sees the request. Clients that are not browsers send no `Origin` and are not
//! concerned: they authenticate with tokens.

use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Uri, header};
use axum::middleware::Next;
use axum::response::Response;

use super::hosts::{AllowedHosts, request_host};
use crate::net::engine_io::reaches_engine_io;
use crate::telemetry::log_throttle::{LogThrottle, clipped};

/// The origins a hub accepts.
#[derive(Debug, Clone)]
pub enum AllowedOrigins {
    /// The hub's own origin when its host vouches for it (see [`AllowedHosts::vouches_for`]: `Origin`
    /// equal to `Host` proves nothing when the name was rebound), and `localhost`, `127.0.0.1` and
    /// `[::1]` on any port (the default).
    SameOriginAndLocalhost(AllowedHosts),
    /// Any origin (`*`).
    Any,
    /// Exactly these, as `scheme://host[:port]`, compared case-insensitively.
    List(Vec<String>),
}

impl AllowedOrigins {
    pub fn from_config(list: Option<&[String]>, hosts: AllowedHosts) -> Self {
        match list {
            None => AllowedOrigins::SameOriginAndLocalhost(hosts),
            Some(list) if list.iter().any(|o| o == "*") => AllowedOrigins::Any,
            Some(list) => AllowedOrigins::List(list.iter().map(|o| o.to_ascii_lowercase()).collect()),
        }
    }

    /// Whether a request for `uri` with these headers may go on.
    pub fn allows(&self, uri: &Uri, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(header::ORIGIN) else { return true };
        let Ok(origin) = origin.to_str() else { return false };
        let origin = origin.to_ascii_lowercase();
        match self {
            AllowedOrigins::Any => true,
            AllowedOrigins::List(list) => list.contains(&origin),
            AllowedOrigins::SameOriginAndLocalhost(hosts) => {
                let Ok(url) = url::Url::parse(&origin) else { return false };
                let host = url.host_str().unwrap_or_default();
                let local = matches!(host, "localhost" | "127.0.0.1" | "[::1]");
                let same = request_host(uri, headers).is_some_and(|h| {
                    let port = url.port_or_known_default().map(|p| format!(":{p}")).unwrap_or_default();
                    h.eq_ignore_ascii_case(host) || h.eq_ignore_ascii_case(&format!("{host}{port}"))
                });
                local || (same && hosts.vouches_for(host))
            }
        }
    }
}

/// Middleware: refuses a Socket.IO request (polling or websocket upgrade) from a page of another origin
/// with 403 and a JSON body. Other paths pass.
pub async fn check(State(allowed): State<AllowedOrigins>, request: Request, next: Next) -> Response {
    if !reaches_engine_io(request.uri().path()) || allowed.allows(request.uri(), request.headers()) {
        return next.run(request).await;
    }
    let origin = request.headers().get(header::ORIGIN).and_then(|o| o.to_str().ok()).unwrap_or("?");
    let origin = clipped(origin).to_owned();
    static REFUSED: LogThrottle = LogThrottle::new(Duration::from_secs(10));
    if let Some(held_back) = REFUSED.due(Instant::now()) {
        tracing::warn!(
            origin,
            path = clipped(request.uri().path()),
            held_back,
            "handshake refused: origin not allowed"
        );
    }
    super::forbidden(format!("origin {origin} is not allowed to connect (see --allowed-origins)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(allowed: &AllowedOrigins, headers: &HeaderMap) -> bool {
        allowed.allows(&Uri::from_static("/socket.io/"), headers)
    }

    fn default_for(bind: &str) -> AllowedOrigins {
        AllowedOrigins::from_config(None, AllowedHosts::from_config(None, bind.parse().unwrap()))
    }

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, host.parse().unwrap());
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, origin.parse().unwrap());
        }
        headers
    }

    #[test]
    fn default_allows_same_origin_and_localhost() {
        let hosts =
            AllowedHosts::from_config(Some(&["hub.example".to_owned()]), "0.0.0.0:3000".parse().unwrap());
        let allowed = AllowedOrigins::from_config(None, hosts);
        assert!(allows(&allowed, &headers(None, "hub.example:3000")), "no Origin: not a browser");
        assert!(allows(&allowed, &headers(Some("http://hub.example:3000"), "hub.example:3000")));
        assert!(allows(&allowed, &headers(Some("https://hub.example"), "hub.example")));
        assert!(allows(&allowed, &headers(Some("http://localhost:5173"), "hub.example:3000")));
        assert!(allows(&allowed, &headers(Some("http://127.0.0.1:8080"), "hub.example:3000")));
        assert!(!allows(&allowed, &headers(Some("https://evil.example"), "hub.example:3000")));
        assert!(!allows(&allowed, &headers(Some("http://hub.example:4000"), "hub.example:3000")));
        assert!(!allows(&allowed, &headers(Some("null"), "hub.example:3000")));
    }

    #[test]
    fn a_rebound_name_is_not_the_hubs_own_origin() {
        let rebound = headers(Some("http://rebound.example:3000"), "rebound.example:3000");
        assert!(!allows(&default_for("127.0.0.1:3000"), &rebound));
        assert!(!allows(&default_for("0.0.0.0:3000"), &rebound), "any host served, but names do not vouch");
        let by_address = headers(Some("http://192.168.1.10:3000"), "192.168.1.10:3000");
        assert!(allows(&default_for("0.0.0.0:3000"), &by_address), "the demo page over the LAN");
    }

    #[test]
    fn a_list_allows_exactly_its_origins() {
        let hosts = || AllowedHosts::Any;
        let allowed = AllowedOrigins::from_config(Some(&["https://App.example".to_owned()]), hosts());
        assert!(allows(&allowed, &headers(Some("https://app.example"), "hub.example")));
        assert!(!allows(&allowed, &headers(Some("http://localhost:3000"), "localhost:3000")));
        let any = AllowedOrigins::from_config(Some(&["*".to_owned()]), hosts());
        assert!(allows(&any, &headers(Some("https://anything.example"), "hub.example")));
    }
}
