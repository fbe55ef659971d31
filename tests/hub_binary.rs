//! The `hub` binary: flags, the demo page, the generated token file, and graceful shutdown.

use std::time::Duration;

use e2e::binaries::{HubProcess, path};
use e2e::raw;
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

/// A plain HTTP/1.1 GET; returns the status code, the headers (lower-cased) and the body.
async fn get(port: u16, target: &str) -> (u16, String, String) {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let request = format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response)).await.unwrap().unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head.to_lowercase(), body.to_owned())
}

fn private_runtime_dir(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("hub-binary-{name}-{}", std::process::id()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_the_demo_page_and_the_socket_io_client() {
    let hub =
        HubProcess::start(&["--bind", "127.0.0.1:0", "--publish-token", "test-publish-token"], &[]).await;
    assert!(hub.log().contains(&format!("demo page at http://127.0.0.1:{}/", hub.port)), "{}", hub.log());

    let (status, head, page) = get(hub.port, "/").await;
    assert_eq!(status, 200);
    assert!(head.contains("content-type: text/html"));
    assert!(
        page.contains(r#"<script src="/vendor/socket.io.min.js">"#),
        "the page loads the embedded client"
    );
    for (asset, content_type) in [
        ("/vendor/socket.io.min.js", "text/javascript"),
        ("/app.js", "text/javascript"),
        ("/style.css", "text/css"),
    ] {
        let (status, head, body) = get(hub.port, asset).await;
        assert_eq!(status, 200, "{asset}");
        assert!(head.contains(&format!("content-type: {content_type}")), "{asset}: {head}");
        assert!(!body.is_empty(), "{asset}");
    }
    let (_, _, client) = get(hub.port, "/vendor/socket.io.min.js").await;
    assert!(client.contains("Socket.IO") && client.len() > 20_000, "the official client bundle");
    assert_eq!(get(hub.port, "/nothing-here").await.0, 404);
    assert_eq!(hub.terminate().await.0, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bind_address_comes_from_the_environment_too() {
    let hub =
        HubProcess::start(&["--publish-token", "test-publish-token"], &[("HUB_BIND", "127.0.0.1:0")]).await;
    assert_eq!(get(hub.port, "/").await.0, 200);
    assert_eq!(hub.terminate().await.0, Some(0));
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_token_is_written_privately_and_removed_at_exit() {
    use std::os::unix::fs::PermissionsExt;
    let runtime_dir = private_runtime_dir("token");
    let hub =
        HubProcess::start(&["--bind", "127.0.0.1:0"], &[("XDG_RUNTIME_DIR", runtime_dir.to_str().unwrap())])
            .await;
    let file = runtime_dir.join("socketio-hub").join(format!("publish-token-{}", hub.port));
    assert!(hub.log().contains(&file.display().to_string()), "the log names the file:\n{}", hub.log());
    let token = std::fs::read_to_string(&file).unwrap();
    assert!(token.trim().len() >= 32, "a long random token");
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(file.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);

    assert_eq!(hub.terminate().await.0, Some(0));
    assert!(!file.exists(), "the token file is removed when the hub stops");
    std::fs::remove_dir_all(runtime_dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_failures_are_one_clear_line_and_a_non_zero_exit() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = tokio::process::Command::new(path("hub"))
        .args(["--bind", &addr, "--publish-token", "test-publish-token"])
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains(&format!("cannot listen on {addr}")));

    let output = tokio::process::Command::new(path("hub"))
        .args(["--bind", "127.0.0.1:0", "--publish-token", ""])
        .output()
        .await
        .unwrap();
    assert_ne!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stderr).contains("at least 16 characters"));

    // A token anyone could guess (`a`, a space) is refused, with what to do instead.
    for guessable in ["a", " ", "fifteen-chars.."] {
        let output = tokio::process::Command::new(path("hub"))
            .args(["--bind", "127.0.0.1:0", "--publish-token", guessable])
            .output()
            .await
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{guessable:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("publish-token") && stderr.contains("leave it unset"), "{stderr}");
    }

    let output =
        tokio::process::Command::new(path("hub")).args(["--bind", "nowhere"]).output().await.unwrap();
    assert_eq!(output.status.code(), Some(2), "clap's usage error");
}

#[tokio::test]
async fn help_documents_every_flag() {
    let output = tokio::process::Command::new(path("hub")).arg("--help").output().await.unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for text in [
        "--bind",
        "HUB_BIND",
        "127.0.0.1:3000",
        "--publish-token",
        "HUB_PUBLISH_TOKEN",
        "--token-file",
        "HUB_TOKEN_FILE",
    ] {
        assert!(help.contains(text), "--help mentions {text}:\n{help}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_disconnects_clients_and_exits_zero_within_five_seconds() {
    let hub =
        HubProcess::start(&["--bind", "127.0.0.1:0", "--publish-token", "test-publish-token"], &[]).await;

    // A websocket client connected to `/`.
    let mut ws = raw::connect(hub.port).await.expect("connected");

    // A polling client with a long-poll request in flight.
    let (status, _, handshake) = get(hub.port, "/socket.io/?EIO=4&transport=polling").await;
    assert_eq!(status, 200);
    let sid = handshake.split(r#""sid":""#).nth(1).unwrap().split('"').next().unwrap().to_owned();
    let port = hub.port;
    let long_poll =
        tokio::spawn(
            async move { get(port, &format!("/socket.io/?EIO=4&transport=polling&sid={sid}")).await },
        );
    tokio::time::sleep(Duration::from_millis(200)).await;

    let (code, took) = hub.terminate().await;
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(5), "exited after {took:?}");

    // The websocket client was told: a Socket.IO DISCONNECT or a close frame, never a silent drop.
    let mut told = false;
    while let Ok(Some(frame)) = tokio::time::timeout(Duration::from_secs(1), ws.next()).await {
        match frame {
            Ok(Message::Text(text)) if text.as_str() == "41" => told = true,
            Ok(Message::Close(_)) => {
                told = true;
                break;
            }
            Ok(_) => continue,
            Err(_) => break,
        }
    }
    assert!(told, "the websocket client got a disconnect or close frame");
    let (status, _, _) = long_poll.await.unwrap();
    assert_eq!(status, 200, "the long poll was answered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_low_soft_open_files_limit_is_raised_at_start() {
    // Started as many shells start programs: a soft limit far below the hard one. Left at 128, the hub
    // stops accepting after about 120 clients ("too many open files") until some disconnect.
    let hub = HubProcess::start_with_open_files(
        128,
        &["--bind", "127.0.0.1:0", "--publish-token", "test-publish-token"],
        &[],
    )
    .await;
    assert!(hub.log().contains("open files limit raised from 128 to"), "log:\n{}", hub.log());

    // More clients than 128 descriptors could hold, all connected at once, each answering an echo.
    let port = hub.port;
    let clients = futures_util::stream::iter(0..300)
        .map(|n| async move {
            let mut ws = raw::connect(port).await?;
            raw::send(&mut ws, &format!(r#"421["echo",{n}]"#)).await?;
            let ack = raw::next_text(&mut ws).await?;
            if ack != format!("431[{n}]") {
                return Err(format!("client {n}: expected its echo, got {ack}"));
            }
            Ok(ws)
        })
        .buffer_unordered(50)
        .collect::<Vec<_>>();
    let clients =
        tokio::time::timeout(Duration::from_secs(10), clients).await.expect("300 clients within 10 s");
    let failure = clients.iter().find_map(|c| c.as_ref().err());
    assert!(failure.is_none(), "{failure:?}");
    drop(clients);
    hub.kill().await;
}
