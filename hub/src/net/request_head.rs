//! Copies a Socket.IO request's head out of the connection's read buffer.
//!
//! hyper parses a request head in place: the URI and every header value are slices of the buffer the
//! connection read into (8 to 16 KiB). Engine.IO keeps the head of the request that opened a session for
//! the session's whole life (`req_parts`, the router's `OriginalUri` among its extensions), so each
//! websocket client would otherwise pin that whole buffer for a head of a few hundred bytes: 7.8 KiB of
//! RSS per idle connection (BENCHMARKS.md).

use axum::body::Bytes;
use axum::extract::{OriginalUri, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Uri};
use axum::middleware::Next;
use axum::response::Response;

use super::engine_io::reaches_engine_io;

/// Middleware: gives Socket.IO requests a head of their own before Engine.IO stores it.
pub async fn detach(request: Request, next: Next) -> Response {
    if !reaches_engine_io(request.uri().path()) || !kept(request.uri()) {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    parts.uri = owned_uri(&parts.uri);
    // The router keeps a clone of the URI as it arrived.
    if let Some(OriginalUri(original)) = parts.extensions.get_mut::<OriginalUri>() {
        *original = owned_uri(original);
    }
    parts.headers = owned_headers(&parts.headers);
    next.run(Request::from_parts(parts, body)).await
}

/// Whether Engine.IO keeps this request's head for as long as a connection lasts: a request that
/// opens a session (no `sid`) or a websocket upgrade. Polling requests of an open session are answered
/// and dropped.
fn kept(uri: &Uri) -> bool {
    let mut params = uri.query().unwrap_or_default().split('&');
    params.clone().all(|p| !p.starts_with("sid=")) || params.any(|p| p == "transport=websocket")
}

fn owned_uri(uri: &Uri) -> Uri {
    Uri::from_maybe_shared(Bytes::from(uri.to_string())).unwrap_or_else(|_| uri.clone())
}

fn owned_headers(headers: &HeaderMap) -> HeaderMap {
    headers.iter().map(|(name, value)| (owned_name(name), owned_value(value))).collect()
}

fn owned_name(name: &HeaderName) -> HeaderName {
    // Standard names are static; other names are copied by `from_bytes`.
    HeaderName::from_bytes(name.as_str().as_bytes()).unwrap_or_else(|_| name.clone())
}

fn owned_value(value: &HeaderValue) -> HeaderValue {
    let mut owned = HeaderValue::from_maybe_shared(Bytes::copy_from_slice(value.as_bytes()))
        .unwrap_or_else(|_| value.clone());
    owned.set_sensitive(value.is_sensitive());
    owned
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_keep_every_header_and_the_uri() {
        let mut headers = HeaderMap::new();
        headers.append("x-custom", HeaderValue::from_static("one"));
        headers.append("x-custom", HeaderValue::from_static("two"));
        headers.insert("sec-websocket-key", HeaderValue::from_static("dGhlIHNhbXBsZSBub25jZQ=="));
        let owned = owned_headers(&headers);
        assert_eq!(owned, headers);
        assert_eq!(owned.get_all("x-custom").iter().count(), 2);

        let uri: Uri = "/socket.io/?EIO=4&transport=websocket".parse().unwrap();
        assert_eq!(owned_uri(&uri), uri);
    }

    #[test]
    fn only_heads_engine_io_keeps_are_copied() {
        let kept_for = |uri: &str| kept(&uri.parse().unwrap());
        assert!(kept_for("/socket.io/?EIO=4&transport=polling"), "opens a session");
        assert!(kept_for("/socket.io/?EIO=4&transport=websocket"), "opens a session");
        assert!(kept_for("/socket.io/?EIO=4&transport=websocket&sid=abc"), "an upgrade");
        assert!(!kept_for("/socket.io/?EIO=4&transport=polling&sid=abc"), "a poll");
    }
}
