//! Engine.IO's requests as engineioxide sees them: which paths reach it, its query parameters, and the
//! refusal of socket.io v2 clients unless `--allow-eio3` is set. Every check in front of Engine.IO
//! recognises its requests here, so that no spelling of the path skips one.

use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::{StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::telemetry::log_throttle::LogThrottle;

/// Where Socket.IO is served.
pub const SOCKET_IO_PATH: &str = "/socket.io/";

/// The value of the query parameter `name` in `uri` (the first, undecoded: Engine.IO's own parameters
/// are plain).
pub fn query_param<'a>(uri: &'a Uri, name: &str) -> Option<&'a str> {
    uri.query()?.split('&').find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

/// The Engine.IO protocol version a request asks for, read exactly as engineioxide reads it: the first
/// parameter that starts with `EIO=`, up to a second `=` (`EIO=3=x` is version 3 to it), so that no
/// spelling reads one way here and another there.
pub fn protocol_version(uri: &Uri) -> Option<&str> {
    uri.query()?.split('&').find(|pair| pair.starts_with("EIO="))?.split('=').nth(1)
}

/// Whether a request for `path` reaches Engine.IO, by engineioxide's own rule: `/socket.io` itself or
/// anything below `/socket.io/`.
pub fn reaches_engine_io(path: &str) -> bool {
    let base = SOCKET_IO_PATH.trim_end_matches('/');
    path.strip_prefix(base).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Middleware: answers a socket.io v2 client's (Engine.IO 3) request as Node does without `allowEIO3`:
/// 400 and Engine.IO error code 5. socketioxide's `v4` feature accepts these clients whenever it is
/// compiled in, with no switch at run time, so `--allow-eio3` is this check. The query string (where v2
/// clients put their token) is never logged.
pub async fn refuse_eio3(request: Request, next: Next) -> Response {
    let eio3 = reaches_engine_io(request.uri().path()) && protocol_version(request.uri()) == Some("3");
    if !eio3 {
        return next.run(request).await;
    }
    static REFUSED: LogThrottle = LogThrottle::new(Duration::from_secs(60));
    if let Some(held_back) = REFUSED.due(Instant::now()) {
        tracing::warn!(
            held_back,
            "socket.io v2 client refused: start the hub with --allow-eio3 to accept them"
        );
    }
    let body = r#"{"code":5,"message":"Unsupported protocol version: socket.io v2 clients (EIO=3) need a hub started with --allow-eio3"}"#;
    (StatusCode::BAD_REQUEST, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_by_name() {
        let uri: Uri = "/socket.io/?EIO=4&transport=polling&sid=abc&transport=x".parse().unwrap();
        assert_eq!(query_param(&uri, "EIO"), Some("4"));
        assert_eq!(query_param(&uri, "transport"), Some("polling"), "the first one");
        assert_eq!(query_param(&uri, "sid"), Some("abc"));
        assert_eq!(query_param(&uri, "si"), None, "whole names only");
        assert_eq!(query_param(&"/socket.io/".parse().unwrap(), "sid"), None);
    }

    #[test]
    fn the_protocol_version_is_read_as_engineioxide_reads_it() {
        for (query, version) in
            [("EIO=4", Some("4")), ("EIO=3=x", Some("3")), ("EIO=3=", Some("3")), ("x=1", None)]
        {
            let uri: Uri = format!("/socket.io/?{query}&transport=polling").parse().unwrap();
            assert_eq!(protocol_version(&uri), version, "{query}");
        }
    }

    #[test]
    fn both_spellings_of_the_path_reach_engine_io() {
        for path in ["/socket.io", "/socket.io/", "/socket.io/x"] {
            assert!(reaches_engine_io(path), "{path}");
        }
        for path in ["/", "/socket.iox", "/socket", "/api/publish"] {
            assert!(!reaches_engine_io(path), "{path}");
        }
    }
}
