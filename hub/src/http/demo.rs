//! The demo page, embedded in the binary: `js-demo/` plus the official socket.io browser client.
//!
//! Every asset is served with a strict Content-Security-Policy: the page runs only its own scripts and
//! talks only to its own origin, so even a rendering mistake could not run a script from a chat message.

use std::path::Path;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tower_http::services::ServeDir;

/// Path the page loads the socket.io client from (kept outside `/socket.io/`, which Socket.IO owns).
pub const CLIENT_SCRIPT_PATH: &str = "/vendor/socket.io.min.js";

/// No inline script or style, nothing from other origins; `connect-src 'self'` covers the same-origin
/// websocket.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const INDEX_HTML: &str = include_str!("../../../js-demo/index.html");
const APP_JS: &str = include_str!("../../../js-demo/app.js");
const STYLE_CSS: &str = include_str!("../../../js-demo/style.css");
const FAVICON_SVG: &str = include_str!("../../../js-demo/favicon.svg");
const SOCKET_IO_JS: &str = include_str!(concat!(env!("OUT_DIR"), "/socket.io.min.js"));

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    let headers: [(HeaderName, HeaderValue); 4] = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY)),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    ];
    (headers, body)
}

/// Routes for the page and its assets; with `static_dir`, the page comes from that directory instead
/// (the socket.io client stays available at [`CLIENT_SCRIPT_PATH`]).
pub fn routes(static_dir: Option<&Path>) -> Router {
    let client = get(|| async { asset("text/javascript; charset=utf-8", SOCKET_IO_JS) });
    if let Some(dir) = static_dir {
        return Router::new().route(CLIENT_SCRIPT_PATH, client).fallback_service(ServeDir::new(dir));
    }
    Router::new()
        .route("/", get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }))
        .route("/app.js", get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }))
        .route("/style.css", get(|| async { asset("text/css; charset=utf-8", STYLE_CSS) }))
        .route("/favicon.svg", get(|| async { asset("image/svg+xml", FAVICON_SVG) }))
        .route(CLIENT_SCRIPT_PATH, client)
}
