//! The demo page, embedded in the binary: `js-demo/` plus the official socket.io browser client.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

/// Path the page loads the socket.io client from (kept outside `/socket.io/`, which Socket.IO owns).
pub const CLIENT_SCRIPT_PATH: &str = "/vendor/socket.io.min.js";

const INDEX_HTML: &str = include_str!("../../js-demo/index.html");
const APP_JS: &str = include_str!("../../js-demo/app.js");
const STYLE_CSS: &str = include_str!("../../js-demo/style.css");
const SOCKET_IO_JS: &str = include_str!(concat!(env!("OUT_DIR"), "/socket.io.min.js"));

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body)
}

/// Routes for the page and its assets.
pub fn routes() -> Router {
    Router::new()
        .route("/", get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }))
        .route("/app.js", get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }))
        .route("/style.css", get(|| async { asset("text/css; charset=utf-8", STYLE_CSS) }))
        .route(CLIENT_SCRIPT_PATH, get(|| async { asset("text/javascript; charset=utf-8", SOCKET_IO_JS) }))
}
