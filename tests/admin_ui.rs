//! The official Socket.IO Admin UI that the real `hub` binary serves at `/admin/` with `--admin-password`:
//! every file it loads is embedded and same-origin, under a strict Content-Security-Policy. (Its browser
//! test, the UI working against the hub, is `tests/node/admin_ui.test.mjs`.)

use e2e::binaries::HubProcess;
use e2e::hub::TOKEN;
use reqwest::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION, X_CONTENT_TYPE_OPTIONS,
};
use reqwest::{Client, Response, redirect};

async fn get(client: &Client, url: &str) -> Response {
    client.get(url).send().await.expect("the hub answers")
}

fn header(response: &Response, name: reqwest::header::HeaderName) -> &str {
    response.headers().get(&name).map_or("", |value| value.to_str().unwrap())
}

/// The values of `attribute="..."` in `html`, in order.
fn attribute_values<'a>(html: &'a str, attribute: &str) -> Vec<&'a str> {
    let marker = format!(r#" {attribute}=""#);
    html.split(marker.as_str()).skip(1).map(|rest| rest.split('"').next().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_ui_loads_only_embedded_files_under_a_strict_policy() {
    let hub = HubProcess::start(
        &["--bind", "127.0.0.1:0", "--publish-token", TOKEN, "--admin-password", "admin-ui-password"],
        &[],
    )
    .await;
    let client = Client::builder().redirect(redirect::Policy::none()).build().unwrap();
    let admin = format!("{}/admin/", hub.url);

    let page = get(&client, &admin).await;
    assert_eq!(page.status(), 200);
    assert_eq!(header(&page, CONTENT_TYPE), "text/html; charset=utf-8");
    assert_eq!(header(&page, X_CONTENT_TYPE_OPTIONS), "nosniff");
    assert_eq!(header(&page, CACHE_CONTROL), "no-cache");
    let policy = header(&page, CONTENT_SECURITY_POLICY).to_owned();
    for directive in
        ["default-src 'none'", "script-src 'self';", "connect-src 'self'", "frame-ancestors 'none'"]
    {
        assert!(policy.contains(directive), "{directive} in {policy}");
    }
    assert!(!policy.contains("unsafe-eval"), "{policy}");
    let html = page.text().await.unwrap();
    assert!(!html.contains("//"), "no absolute or protocol-relative URL: {html}");
    assert!(html.contains("Socket.IO Admin UI"), "the official UI: {html}");
    assert!(html.contains(r#"<script src="hub-defaults.js"></script><script src="js/"#), "{html}");

    let mut icons_css = None;
    let files: Vec<&str> =
        attribute_values(&html, "href").into_iter().chain(attribute_values(&html, "src")).collect();
    assert!(files.len() >= 6, "the page's stylesheets, scripts and icon: {files:?}");
    for file in files {
        let response = get(&client, &format!("{admin}{file}")).await;
        assert_eq!(response.status(), 200, "{file}");
        assert!(header(&response, CONTENT_SECURITY_POLICY).contains("default-src 'none'"), "{file}");
        let expected = match file.rsplit_once('.').unwrap().1 {
            "css" => "text/css; charset=utf-8",
            "js" => "text/javascript; charset=utf-8",
            "png" => "image/png",
            other => panic!("unexpected .{other} file: {file}"),
        };
        assert_eq!(header(&response, CONTENT_TYPE), expected, "{file}");
        if file.ends_with("materialdesignicons.min.css") {
            icons_css = Some((file.to_owned(), response.text().await.unwrap()));
        }
    }

    // The icon font's CSS names the embedded woff2 and nothing else.
    let (css_path, css) = icons_css.expect("the page loads the icon font's CSS");
    assert!(!css.contains("://"), "no URL to elsewhere");
    let font = css.split("url(\"").nth(1).expect("a font URL").split('"').next().unwrap();
    assert_eq!(css.matches("url(").count(), 1, "one font file: {font}");
    let css_dir = css_path.rsplit_once('/').unwrap().0;
    let font_url = format!("{admin}{css_dir}/{font}");
    let response = get(&client, &font_url).await;
    assert_eq!(response.status(), 200, "{font_url}");
    assert_eq!(header(&response, CONTENT_TYPE), "font/woff2");
    assert!(header(&response, CACHE_CONTROL).contains("immutable"), "the font's path holds its version");

    let redirect = get(&client, &format!("{}/admin", hub.url)).await;
    assert_eq!(redirect.status(), 308);
    assert_eq!(header(&redirect, LOCATION), "/admin/");
    assert_eq!(get(&client, &format!("{admin}js/missing.js")).await.status(), 404);
    assert_eq!(hub.terminate().await.0, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_admin_password_the_admin_ui_is_not_served() {
    let hub = HubProcess::start(&["--bind", "127.0.0.1:0", "--publish-token", TOKEN], &[]).await;
    let client = Client::builder().redirect(redirect::Policy::none()).build().unwrap();
    for path in ["/admin", "/admin/"] {
        let response = get(&client, &format!("{}{path}", hub.url)).await;
        assert_eq!(response.status(), 404, "{path}");
        assert!(response.text().await.unwrap().contains("--admin-password"), "{path} says how to turn it on");
    }
    assert_eq!(get(&client, &format!("{}/admin/hub-defaults.js", hub.url)).await.status(), 404);
    assert_eq!(hub.terminate().await.0, Some(0));
}
