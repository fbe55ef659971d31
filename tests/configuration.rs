//! Configuration of the real `hub` binary: flag > environment > file > default, `--print-config`, and
//! invalid settings refused at start with one line that names them.

use std::path::PathBuf;
use std::process::Output;

use e2e::binaries::{self, HubProcess};
use e2e::raw;

/// Environment variables for one run.
type Environment<'a> = Vec<(&'a str, &'a str)>;

/// Runs `hub` with `args` and `env` (no other HUB_* variables) and waits for it to exit.
async fn hub(args: &[&str], env: &[(&str, &str)]) -> Output {
    binaries::run_hub(args, env).await
}

/// The value of `key` in `--print-config` output.
fn setting(output: &Output, key: &str) -> String {
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find(|line| line.starts_with(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("{key} in {text}"));
    line.split_once(" = ").unwrap().1.trim_matches('"').to_owned()
}

fn config_file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hub-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn a_flag_beats_the_environment_which_beats_the_file_which_beats_the_default() {
    let file =
        config_file("precedence.toml", "max-connections = 7\nrate-limit = 3\nping-interval = \"10s\"\n");
    let file = file.to_str().unwrap();
    let env = [("HUB_MAX_CONNECTIONS", "8")];

    let flag = hub(&["--config", file, "--max-connections", "9", "--print-config"], &env).await;
    assert_eq!(setting(&flag, "max-connections"), "9", "flag");
    let from_env = hub(&["--config", file, "--print-config"], &env).await;
    assert_eq!(setting(&from_env, "max-connections"), "8", "environment");
    let from_file = hub(&["--config", file, "--print-config"], &[]).await;
    assert_eq!(setting(&from_file, "max-connections"), "7", "file");
    assert_eq!(setting(&from_file, "rate-limit"), "3");
    assert_eq!(setting(&from_file, "ping-interval"), "10s");
    let default = hub(&["--print-config"], &[]).await;
    assert_eq!(setting(&default, "max-connections"), "100000", "default");
    assert_eq!(setting(&default, "bind"), "127.0.0.1:3000");
    // The file may also come from the environment.
    let env_file = hub(&["--print-config"], &[("HUB_CONFIG", file)]).await;
    assert_eq!(setting(&env_file, "rate-limit"), "3");
}

#[tokio::test]
async fn print_config_masks_secrets_and_is_a_valid_file() {
    let output = hub(
        &[
            "--print-config",
            "--publish-token",
            "tok-secret-of-16-chars",
            "--redis-url",
            "redis://user:pw-secret@127.0.0.1:6379",
        ],
        &[("HUB_JWT_SECRET", "jwt-secret-of-at-least-16-bytes")],
    )
    .await;
    assert_eq!(output.status.code(), Some(0));
    let printed = String::from_utf8_lossy(&output.stdout).into_owned();
    for secret in ["tok-secret-of-16-chars", "pw-secret", "jwt-secret-of"] {
        assert!(!printed.contains(secret), "{secret} leaked:\n{printed}");
    }
    assert_eq!(setting(&output, "publish-token"), "***");
    assert_eq!(setting(&output, "jwt-secret"), "***");
    assert!(printed.contains("# static-dir is not set"), "{printed}");

    // What it prints can be used as the config file (secrets aside).
    let reused = config_file("printed.toml", &printed.replace("\"***\"", "\"a-secret-of-sixteen-bytes\""));
    let again = hub(&["--config", reused.to_str().unwrap(), "--print-config"], &[]).await;
    assert_eq!(again.status.code(), Some(0), "{}", String::from_utf8_lossy(&again.stderr));
}

#[tokio::test]
async fn invalid_configuration_stops_the_hub_with_one_line_naming_the_setting() {
    let unknown = config_file("unknown.toml", "bind = \"127.0.0.1:0\"\nmax-conections = 5\n");
    let cases: Vec<(Vec<&str>, Environment, &str)> = vec![
        (vec!["--config", unknown.to_str().unwrap()], vec![], "line 2: unknown field `max-conections`"),
        (vec![], vec![("HUB_MAX_CONNECTIONS", "0")], "invalid setting max-connections: must be at least 1"),
        (vec!["--max-payload", "10"], vec![], "invalid setting max-payload"),
        (vec!["--allowed-origins", "example.com"], vec![], "invalid setting allowed-origins"),
        (vec!["--jwt-secret", "short"], vec![], "invalid setting jwt-secret"),
        (
            vec!["--config", "/nonexistent/hub.toml"],
            vec![],
            "cannot read the config file /nonexistent/hub.toml",
        ),
    ];
    for (args, env, expected) in cases {
        let output = hub(&args, &env).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?} {env:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(stderr.starts_with("hub: ") && stderr.contains(expected), "{args:?}: {stderr}");
    }
    let bad_value = hub(&[], &[("HUB_MAX_CONNECTIONS", "many")]).await;
    let stderr = String::from_utf8_lossy(&bad_value.stderr);
    assert_eq!(bad_value.status.code(), Some(2));
    assert!(stderr.contains("--max-connections"), "clap names the setting: {stderr}");
}

#[tokio::test]
async fn settings_from_the_file_are_applied() {
    let file = config_file(
        "applied.toml",
        "ping-interval = \"7s\"\nping-timeout = \"3s\"\nbind = \"127.0.0.1:0\"\n",
    );
    let hub = HubProcess::start(
        &["--config", file.to_str().unwrap(), "--publish-token", "test-publish-token"],
        &[],
    )
    .await;
    let (mut fresh, _) = tokio_tungstenite::connect_async(format!(
        "ws://127.0.0.1:{}/socket.io/?EIO=4&transport=websocket",
        hub.port
    ))
    .await
    .unwrap();
    let open = raw::next_text(&mut fresh).await.unwrap();
    let open: serde_json::Value = serde_json::from_str(&open[1..]).unwrap();
    assert_eq!((open["pingInterval"].as_u64(), open["pingTimeout"].as_u64()), (Some(7000), Some(3000)));
}

#[tokio::test]
async fn static_dir_replaces_the_demo_page() {
    let dir = std::env::temp_dir().join(format!("hub-static-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), "<h1>my app</h1>").unwrap();
    let args = [
        "--bind",
        "127.0.0.1:0",
        "--publish-token",
        "test-publish-token",
        "--static-dir",
        dir.to_str().unwrap(),
    ];
    let hub = HubProcess::start(&args, &[]).await;
    let page = reqwest::get(format!("{}/", hub.url)).await.unwrap().text().await.unwrap();
    assert_eq!(page, "<h1>my app</h1>");
    let client = reqwest::get(format!("{}/vendor/socket.io.min.js", hub.url)).await.unwrap();
    assert_eq!(client.status(), 200, "the socket.io client stays available");
    assert_eq!(reqwest::get(format!("{}/missing.html", hub.url)).await.unwrap().status(), 404);

    let not_a_dir = hub_exit(&["--static-dir", "/nonexistent-dir"]).await;
    assert!(not_a_dir.contains("invalid setting static-dir"), "{not_a_dir}");
}

/// Runs `hub` with `args`, expecting it to refuse to start; returns its stderr.
async fn hub_exit(args: &[&str]) -> String {
    let output = hub(args, &[]).await;
    assert_eq!(output.status.code(), Some(2));
    String::from_utf8_lossy(&output.stderr).into_owned()
}
