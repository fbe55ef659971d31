//! Which names the hub answers to: the `Host` check on every request, against DNS rebinding.
//!
//! A page of `http://evil.example:3000` whose name the attacker then points at `127.0.0.1` talks to a
//! local hub as its own origin: `Origin` and `Host` both say `evil.example:3000`. The browser sends the
//! name it resolved in `Host`, so the hub refuses names it does not know, on every path. Health
//! (`/healthz`, `/readyz`) is exempt: load balancers probe it by address or by names of their own, and
//! it tells nothing.
//!
//! Without `--allowed-hosts`, a hub bound to a loopback address knows only its loopback names. A hub
//! bound elsewhere answers to any name (other machines reach it by addresses and names it cannot know:
//! its LAN address, a proxy's `Host`, a load balancer's), and then trusts a page as its own origin only
//! when the page's host cannot be rebound: an IP address, or `localhost` (see `origins`).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Uri, header};
use axum::middleware::Next;
use axum::response::Response;

use super::health;
use crate::telemetry::log_throttle::{LogThrottle, clipped};

/// The host names a hub answers to.
#[derive(Debug, Clone)]
pub enum AllowedHosts {
    /// Any name; only addresses and `localhost` vouch for a page's origin.
    Any,
    /// Exactly these names (any port), lower case, IPv6 addresses in brackets.
    List(Vec<String>),
}

impl AllowedHosts {
    /// The operator's list (`*`: any), else the default for a hub bound to `bind`.
    pub fn from_config(list: Option<&[String]>, bind: SocketAddr) -> Self {
        match list {
            Some(list) if list.iter().any(|host| host == "*") => AllowedHosts::Any,
            Some(list) => AllowedHosts::List(list.iter().map(|host| normalize(host)).collect()),
            None if bind.ip().is_loopback() => {
                let mut names: Vec<String> = ["localhost", "127.0.0.1", "[::1]"].map(str::to_owned).into();
                let own = literal(bind.ip());
                if !names.contains(&own) {
                    names.push(own);
                }
                AllowedHosts::List(names)
            }
            None => AllowedHosts::Any,
        }
    }

    /// Whether the hub answers to `host` (a `Host` header's value, with or without its port).
    pub fn serves(&self, host: &str) -> bool {
        match self {
            AllowedHosts::Any => true,
            AllowedHosts::List(names) => names.contains(&normalize(host_name(host))),
        }
    }

    /// Whether a page whose origin's host is `host` may count as the hub's own origin: only a name
    /// the hub checks (or that cannot be rebound) vouches for it.
    pub fn vouches_for(&self, host: &str) -> bool {
        match self {
            AllowedHosts::List(_) => self.serves(host),
            AllowedHosts::Any => {
                let name = normalize(host_name(host));
                name == "localhost" || name.trim_matches(['[', ']']).parse::<IpAddr>().is_ok()
            }
        }
    }
}

/// The host a request is for: the URI's authority (HTTP/2), else the `Host` header.
pub fn request_host<'a>(uri: &'a Uri, headers: &'a HeaderMap) -> Option<&'a str> {
    uri.authority()
        .map(|authority| authority.as_str())
        .or_else(|| headers.get(header::HOST).and_then(|host| host.to_str().ok()))
}

/// Middleware: refuses a request for a name the hub does not answer to with 403 and a JSON body that
/// names the setting. Health passes.
pub async fn check(State(allowed): State<AllowedHosts>, request: Request, next: Next) -> Response {
    let host = request_host(request.uri(), request.headers());
    if host.is_some_and(|host| allowed.serves(host)) || health::is_health(request.uri().path()) {
        return next.run(request).await;
    }
    let host = clipped(host.unwrap_or("(none)")).to_owned();
    static REFUSED: LogThrottle = LogThrottle::new(Duration::from_secs(10));
    if let Some(held_back) = REFUSED.due(Instant::now()) {
        tracing::warn!(
            host,
            path = clipped(request.uri().path()),
            held_back,
            "request refused: host not allowed"
        );
    }
    super::forbidden(format!("this hub does not answer to the host {host}: add it to --allowed-hosts"))
}

/// `host` without its port: `example.com:80` -> `example.com`, `[::1]:3000` -> `[::1]`.
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    host.rsplit_once(':').map_or(host, |(name, _port)| name)
}

/// Lower case, without the trailing dot of a fully qualified name.
fn normalize(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// An address as a `Host` header spells it.
fn literal(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bound(addr: &str) -> AllowedHosts {
        AllowedHosts::from_config(None, addr.parse().unwrap())
    }

    #[test]
    fn on_loopback_only_loopback_names() {
        let hosts = bound("127.0.0.1:3000");
        for host in ["localhost:3000", "LOCALHOST", "127.0.0.1:8080", "[::1]:3000", "localhost.:3000"] {
            assert!(hosts.serves(host), "{host}");
            assert!(hosts.vouches_for(host), "{host}");
        }
        for host in ["evil.example:3000", "evil.example", "192.168.1.10:3000", "localhost.evil.example"] {
            assert!(!hosts.serves(host), "{host}");
        }
        assert!(bound("127.0.0.2:3000").serves("127.0.0.2:3000"), "its own address");
        assert!(bound("[::1]:3000").serves("[::1]:3000"));
    }

    #[test]
    fn elsewhere_any_name_but_only_addresses_vouch_for_an_origin() {
        let hosts = bound("0.0.0.0:3000");
        assert!(hosts.serves("hub.example.com") && hosts.serves("10.0.0.5:3000"));
        for host in ["192.168.1.10:3000", "[2001:db8::1]:3000", "localhost:3000"] {
            assert!(hosts.vouches_for(host), "{host}");
        }
        assert!(!hosts.vouches_for("rebound.example:3000"), "a name can be rebound");
    }

    #[test]
    fn a_list_serves_exactly_its_names() {
        let list = ["Hub.Example.com".to_owned(), "[2001:db8::1]".to_owned()];
        let hosts = AllowedHosts::from_config(Some(&list), "0.0.0.0:3000".parse().unwrap());
        assert!(hosts.serves("hub.example.com:443") && hosts.serves("[2001:db8::1]:3000"));
        assert!(!hosts.serves("localhost:3000") && !hosts.serves("other.example.com"));
        let any = AllowedHosts::from_config(Some(&["*".to_owned()]), "127.0.0.1:3000".parse().unwrap());
        assert!(any.serves("anything.example"));
    }
}
