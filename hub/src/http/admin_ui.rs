//! The official Socket.IO Admin UI (`@socket.io/admin-ui`) at `/admin/`, embedded in the binary with the
//! icon font it expects, so that it works offline and loads nothing from other origins.
//!
//! `hub/build.rs` takes the files from npm (pinned by `hub/admin-ui/package-lock.json`), rewrites the
//! UI's `index.html` (no Google Fonts, the embedded icon font instead of a CDN's, and our
//! `hub-defaults.js` first, which pre-fills the connection form with this hub's address) and lists them
//! here as [`ASSETS`]. The UI talks to the hub's `/admin` Socket.IO namespace; it is served only when
//! that namespace is on (`--admin-password`).

use axum::Router;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;

/// One file of the UI, at `/admin/{path}`.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    /// Its URL changes whenever its content does (a content hash or a version in the path).
    immutable: bool,
    body: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/admin_ui_assets.rs"));

/// As strict as the UI allows: its scripts are files of its own origin (no inline script, no `eval`),
/// but Vuetify sets inline `style` attributes and injects its theme in a `<style>` element, hence
/// `'unsafe-inline'` for styles only. `connect-src 'self'` lets the UI reach this hub's `/admin`
/// namespace (the same-origin websocket included) and no other server.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     font-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

const OFF: &str = "The admin UI is off: start the hub with --admin-password to turn it on.\n";

fn respond(asset: &'static Asset) -> impl IntoResponse {
    let cache = if asset.immutable { "public, max-age=31536000, immutable" } else { "no-cache" };
    let headers: [(HeaderName, HeaderValue); 4] = [
        (header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type)),
        (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY)),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    ];
    (headers, asset.body)
}

/// Routes for the UI when `enabled`; otherwise `/admin` and `/admin/` answer `404` saying how to turn it
/// on.
pub fn routes(enabled: bool) -> Router {
    if !enabled {
        let off = get(|| async { (StatusCode::NOT_FOUND, OFF) });
        return Router::new().route("/admin", off.clone()).route("/admin/", off);
    }
    // The page loads its files by relative URLs, which resolve under `/admin/` only with the slash.
    let router = Router::new().route("/admin", get(|| async { Redirect::permanent("/admin/") }));
    ASSETS.iter().fold(router, |router, asset| {
        router.route(&format!("/admin/{}", asset.path), get(move || async move { respond(asset) }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_the_icon_font_are_embedded() {
        let page = ASSETS.iter().find(|asset| asset.path.is_empty()).expect("index.html at /admin/");
        let html = std::str::from_utf8(page.body).unwrap();
        assert!(html.contains(r#"<script src="hub-defaults.js"></script><script src="js/"#), "{html}");
        assert!(!html.contains("//"), "nothing from other origins: {html}");
        assert!(!page.immutable, "the page's own URL never changes");
        let font = ASSETS.iter().find(|asset| asset.path.ends_with(".woff2")).expect("the icon font");
        assert_eq!(font.content_type, "font/woff2");
        assert!(font.immutable && font.body.len() > 100_000);
        assert!(ASSETS.iter().all(|asset| !asset.path.ends_with(".map")));
    }
}
