//! Which publish token `publish` sends: `--token`/`HUB_PUBLISH_TOKEN`, else the file named by
//! `--token-file`/`HUB_TOKEN_FILE`, else the token file that a hub on this machine wrote for the URL's port
//! (found as `hub_protocol::token_file` describes, from cron too).
//!
//! That last file is looked for only when the URL is a loopback address (127.0.0.0/8, ::1, `localhost`):
//! the token of a hub on this machine must never be sent to another host, whatever listens there; nor to
//! a socket of another user of this machine ([`listener_owner`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use hub_protocol::token_file::{self, TokenFileError};

use super::listener_owner;
use url::{Host, Url};

/// The token to send, and where it came from.
#[derive(Debug, PartialEq, Eq)]
pub struct ResolvedToken {
    pub value: Option<String>,
    pub source: TokenSource,
}

#[derive(Debug, PartialEq, Eq)]
pub enum TokenSource {
    /// `--token` or `HUB_PUBLISH_TOKEN`.
    Given,
    /// The file named by `--token-file` or `HUB_TOKEN_FILE`.
    File(PathBuf),
    /// The file a hub on this machine wrote, perhaps found through the pointer it left for cron.
    Found { file: PathBuf, pointer: Option<PathBuf> },
    /// No token: `hint` says what to do if the hub refuses for that reason; `searched` lists the files
    /// looked for.
    Missing { hint: String, searched: Vec<PathBuf> },
}

/// Why the token could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot read the token file {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot use the token file of the hub on this machine: {0}")]
    Unsafe(#[from] TokenFileError),
    #[error(
        "not sending this user's hub token to {addr}:{port}: the socket listening there belongs to user \
         {owner}, not to you; pass --token if that is really your hub"
    )]
    ForeignListener { addr: IpAddr, port: u16, owner: u32 },
}

impl ResolvedToken {
    /// What `-v` says about the token.
    pub fn describe(&self) -> String {
        match &self.source {
            TokenSource::Given => "using the publish token given by --token or HUB_PUBLISH_TOKEN".to_owned(),
            TokenSource::File(path) => {
                format!("read the publish token from {} (--token-file)", path.display())
            }
            TokenSource::Found { file, pointer: None } => {
                format!("read the publish token from {}", file.display())
            }
            TokenSource::Found { file, pointer: Some(pointer) } => {
                format!("read the publish token from {}, found through {}", file.display(), pointer.display())
            }
            TokenSource::Missing { hint, searched } if searched.is_empty() => hint.clone(),
            TokenSource::Missing { hint, searched } => {
                let searched: Vec<String> = searched.iter().map(|p| p.display().to_string()).collect();
                format!("{hint} (looked for {})", searched.join(", "))
            }
        }
    }

    /// What to say when the hub refuses a publish because no token was sent.
    pub fn missing_hint(&self) -> Option<&str> {
        match &self.source {
            TokenSource::Missing { hint, .. } => Some(hint),
            _ => None,
        }
    }
}

/// The token from `token`, else from `token_file`, else from the token file of a hub on this machine
/// when `url` is a loopback URL. No token at all is not an error here: the hub decides, and the hint
/// explains its refusal.
pub fn resolve(
    token: Option<&str>,
    token_file: Option<&Path>,
    url: &str,
) -> Result<ResolvedToken, TokenError> {
    if let Some(token) = token {
        return Ok(ResolvedToken { value: Some(token.to_owned()), source: TokenSource::Given });
    }
    if let Some(path) = token_file {
        let text = std::fs::read_to_string(path)
            .map_err(|source| TokenError::Read { path: path.to_owned(), source })?;
        return Ok(ResolvedToken {
            value: Some(text.trim().to_owned()),
            source: TokenSource::File(path.into()),
        });
    }
    let missing = |hint: String, searched| {
        Ok(ResolvedToken { value: None, source: TokenSource::Missing { hint, searched } })
    };
    // An unusable URL is reported when connecting; there is no file to look for anyway.
    let Ok(url) = Url::parse(url) else {
        return missing("no publish token: pass --token or set HUB_PUBLISH_TOKEN".to_owned(), Vec::new());
    };
    if !is_loopback(&url) {
        let host = url.host_str().unwrap_or_default();
        return missing(
            format!(
                "no publish token: {host} is not a loopback address, so `publish` does not read the token \
                 file of a hub on this machine; pass --token or set HUB_PUBLISH_TOKEN"
            ),
            Vec::new(),
        );
    }
    let Some(port) = url.port_or_known_default() else {
        return missing("no publish token: pass --token or set HUB_PUBLISH_TOKEN".to_owned(), Vec::new());
    };
    match token_file::find_token(port)? {
        Some(found) => {
            #[cfg(unix)]
            if let Some((addr, owner)) =
                listener_owner::foreign_listener(&loopback_ips(&url), port, token_file::effective_uid())
            {
                return Err(TokenError::ForeignListener { addr, port, owner });
            }
            Ok(ResolvedToken {
                value: Some(found.token),
                source: TokenSource::Found { file: found.file, pointer: found.pointer },
            })
        }
        None => {
            let searched = token_file::searched(port);
            let hint = match searched.first() {
                Some(file) => format!(
                    "no publish token: pass --token, set HUB_PUBLISH_TOKEN, or run the hub as this user without \
                     a token so that it writes {}",
                    file.display()
                ),
                None => "no publish token: pass --token or set HUB_PUBLISH_TOKEN".to_owned(),
            };
            missing(hint, searched)
        }
    }
}

/// The addresses a loopback `url` may reach: `localhost` resolves to either loopback address.
fn loopback_ips(url: &Url) -> Vec<IpAddr> {
    match url.host() {
        Some(Host::Ipv4(ip)) => vec![IpAddr::V4(ip)],
        Some(Host::Ipv6(ip)) => vec![IpAddr::V6(ip)],
        _ => vec![IpAddr::V4(Ipv4Addr::LOCALHOST), IpAddr::V6(Ipv6Addr::LOCALHOST)],
    }
}

/// Whether `url` names this machine through loopback: 127.0.0.0/8, ::1 (also as ::ffff:127.x.y.z) or
/// `localhost`. Other names of this machine (its own addresses, 0.0.0.0) count as other hosts: only what
/// cannot leave the machine is safe.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => {
            ip == Ipv6Addr::LOCALHOST || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls() {
        for url in [
            "http://127.0.0.1:3000",
            "ws://127.1.2.3",
            "http://localhost:3000",
            "http://LOCALHOST",
            "http://[::1]:3000",
            "http://[::ffff:127.0.0.1]:3000",
        ] {
            assert!(is_loopback(&Url::parse(url).unwrap()), "{url}");
        }
        for url in [
            "http://0.0.0.0:3000",
            "http://192.0.2.2:3000",
            "https://hub.example.com",
            "http://localhost.example.com",
            "http://[::]:3000",
            "http://[fe80::1]:3000",
        ] {
            assert!(!is_loopback(&Url::parse(url).unwrap()), "{url}");
        }
    }

    #[test]
    fn another_host_gets_no_token_file_and_a_clear_hint() {
        let resolved = resolve(None, None, "https://hub.example.com").unwrap();
        assert_eq!(resolved.value, None);
        let hint = resolved.missing_hint().unwrap();
        assert!(
            hint.contains("hub.example.com is not a loopback address") && hint.contains("--token"),
            "{hint}"
        );
    }

    #[test]
    fn a_given_token_or_file_wins() {
        let given = resolve(Some("t"), Some(Path::new("/nonexistent")), "http://127.0.0.1:1").unwrap();
        assert_eq!((given.value.as_deref(), given.source), (Some("t"), TokenSource::Given));
        let unreadable = resolve(None, Some(Path::new("/nonexistent/token")), "https://hub.example.com");
        assert!(matches!(unreadable, Err(TokenError::Read { .. })));
    }
}
