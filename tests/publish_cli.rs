//! The `publish` binary: every input form, every exit code, retries, `--stdin-lines` (also under a rate
//! limit), and where it finds the publish token.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use e2e::binaries::{HubProcess, publish, publish_in_bare_env, publish_with_bytes};
use e2e::hub::LateHub;
use e2e::{QUIET, TestClient, TestHub, fake};
use serde_json::json;

const TOKEN: &str = e2e::hub::TOKEN;

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs `publish` against `url` with the test token plus `args`.
async fn publish_to(url: &str, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    let mut all = vec!["--url", url];
    all.extend_from_slice(args);
    publish(&all, &[("HUB_PUBLISH_TOKEN", TOKEN)], stdin).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_shot_publish_prints_the_delivery_and_exits_zero() {
    let hub = TestHub::start().await;
    let mut subscriber = TestClient::connect(&hub.url).await;
    let output = publish_to(&hub.url, &["--event", "foo", "--data", "bar"], None).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "delivered to 1\n");
    assert_eq!(subscriber.expect_published("foo").await.data, json!("bar"));

    let quiet = publish_to(&hub.url, &["-q", "--event", "foo", "--data", "x"], None).await;
    assert_eq!(quiet.status.code(), Some(0));
    assert_eq!(stdout(&quiet), "", "-q prints nothing");
    subscriber.expect_published("foo").await;
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_comes_inline_as_json_from_files_and_from_stdin() {
    let hub = TestHub::start().await;
    let mut subscriber = TestClient::connect(&hub.url).await;
    let dir = std::env::temp_dir().join(format!("publish-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text_file = dir.join("text.txt");
    std::fs::write(&text_file, "from a file\n").unwrap();
    let json_file = dir.join("data.json");
    std::fs::write(&json_file, r#"{"from": "file", "n": [1, 2]}"#).unwrap();
    let text_arg = format!("@{}", text_file.display());
    let json_arg = format!("@{}", json_file.display());

    let cases: Vec<(Vec<&str>, Option<&str>, serde_json::Value)> = vec![
        (vec!["--json", r#"{"a":1}"#], None, json!({"a": 1})),
        (vec!["--json", "[1,\"two\"]"], None, json!([1, "two"])),
        (vec!["--json", "-5"], None, json!(-5)),
        (vec!["--data", "-5"], None, json!("-5")),
        (vec!["--data", &text_arg], None, json!("from a file")),
        (vec!["--json", &json_arg], None, json!({"from": "file", "n": [1, 2]})),
        (vec!["--data", "-"], Some("piped text\n"), json!("piped text")),
        (vec!["--json", "-"], Some("{\"piped\": true}\n"), json!({"piped": true})),
        (vec![], None, json!(null)),
    ];
    for (args, stdin, expected) in cases {
        let mut all = vec!["--event", "payload"];
        all.extend_from_slice(&args);
        let output = publish_to(&hub.url, &all, stdin).await;
        assert_eq!(output.status.code(), Some(0), "{args:?}: {}", stderr(&output));
        assert_eq!(subscriber.expect_published("payload").await.data, expected, "{args:?}");
    }
    std::fs::remove_dir_all(dir).unwrap();
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_and_namespaces_select_the_receivers() {
    let hub = TestHub::start().await;
    let (mut red, mut blue, mut none) = (
        TestClient::connect_meta(&hub.url).await,
        TestClient::connect_meta(&hub.url).await,
        TestClient::connect(&hub.url).await,
    );
    red.join("red").await;
    blue.join("blue").await;
    let output =
        publish_to(&hub.url, &["--event", "e", "--data", "d", "--room", "red", "--room", "blue"], None).await;
    assert_eq!(stdout(&output), "delivered to 2\n", "{}", stderr(&output));
    assert_eq!(red.expect_published("e").await.meta().room.as_deref(), Some("red"));
    assert_eq!(blue.expect_published("e").await.meta().room.as_deref(), Some("blue"));
    none.expect_silence().await;

    let mut orders = TestClient::connect_with(&hub.url, "/orders", json!({"meta": true})).await.unwrap();
    let output = publish_to(&hub.url, &["--namespace", "/orders", "--event", "o"], None).await;
    assert_eq!(stdout(&output), "delivered to 1\n", "{}", stderr(&output));
    let published = orders.expect_published("o").await;
    assert_eq!((published.meta().namespace.as_str(), published.meta().room.as_deref()), ("/orders", None));
    none.expect_silence().await;
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_code_1_when_the_hub_refuses() {
    let hub = TestHub::start().await;
    let mut subscriber = TestClient::connect(&hub.url).await;

    let wrong = publish(&["--url", &hub.url, "--event", "foo", "--token", "wrong"], &[], None).await;
    assert_eq!(wrong.status.code(), Some(1));
    assert!(stderr(&wrong).contains("invalid publish token"), "{}", stderr(&wrong));

    let empty_dir = std::env::temp_dir().join(format!("publish-no-token-{}", std::process::id()));
    let env = [("XDG_RUNTIME_DIR", empty_dir.to_str().unwrap()), ("HOME", empty_dir.to_str().unwrap())];
    let missing = publish(&["--url", &hub.url, "--event", "foo"], &env, None).await;
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("forbidden"), "{}", stderr(&missing));
    assert!(stderr(&missing).contains("no publish token"), "a hint explains why: {}", stderr(&missing));

    let lines = "{\"event\":\"a\"}\n{\"event\":\"b\"}\n";
    let missing = publish(&["--url", &hub.url, "--stdin-lines"], &env, Some(lines)).await;
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(stderr(&missing).matches("forbidden").count(), 2, "{}", stderr(&missing));
    assert_eq!(
        stderr(&missing).matches("no publish token").count(),
        1,
        "the hint once: {}",
        stderr(&missing)
    );

    let reserved = publish_to(&hub.url, &["--event", "connect", "--data", "x"], None).await;
    assert_eq!(reserved.status.code(), Some(1));
    assert!(stderr(&reserved).contains("bad_request") && stderr(&reserved).contains("reserved"));
    subscriber.expect_silence().await;
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_code_2_for_usage_and_input_errors() {
    let port = fake::free_port().await; // nothing is contacted: input is checked first
    let url = format!("http://127.0.0.1:{port}");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--event", "foo", "--json", "{not json"], "invalid --json"),
        (vec!["--event", "foo", "--data", "@/nonexistent/file"], "cannot read"),
        (vec!["--event", "foo", "--json", "@/nonexistent/file"], "cannot read"),
        (vec!["--data", "bar"], "--event"),
        (vec!["--event", "foo", "--data", "a", "--json", "1"], "cannot be used with"),
        (vec!["--event", "foo", "--timeout", "soon"], "--timeout"),
        (vec!["--event", "foo", "--stdin-lines"], "cannot be used with"),
        (vec!["--event", "foo", "--no-such-flag"], "unexpected argument"),
    ];
    for (args, message) in cases {
        let mut all = vec!["--url", url.as_str()];
        all.extend_from_slice(&args);
        let output = publish(&all, &[("HUB_PUBLISH_TOKEN", TOKEN)], None).await;
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).contains(message), "{args:?}: {}", stderr(&output));
    }
    let no_file =
        publish(&["--url", &url, "--event", "foo", "--token-file", "/nonexistent/token"], &[], None).await;
    assert_eq!(no_file.status.code(), Some(2), "{}", stderr(&no_file));
    assert!(stderr(&no_file).contains("cannot read the token file"), "{}", stderr(&no_file));

    let bad_url = publish(&["--url", "ftp://example", "--event", "foo", "--token", "t"], &[], None).await;
    assert_eq!(bad_url.status.code(), Some(2), "{}", stderr(&bad_url));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_too_large_for_a_flag_are_usage_errors_not_panics() {
    let port = fake::free_port().await; // nothing is contacted: flags are checked first
    let url = format!("http://127.0.0.1:{port}");
    let cases: [(&[&str], &str); 10] = [
        (&["--timeout", "1e19"], "--timeout"),
        (&["--timeout", "1e300"], "--timeout"),
        (&["--timeout", "inf"], "--timeout"),
        (&["--timeout", "NaN"], "--timeout"),
        (&["--timeout", "18446744073709551616"], "--timeout"),
        (&["--timeout", "99999999999999999999ms"], "--timeout"),
        (&["--timeout", "600000000000h"], "--timeout"),
        (&["--timeout", "2d"], "--timeout"),
        (&["--retries", "99999999999"], "--retries"),
        (&["--retries=-1"], "--retries"),
    ];
    for (flags, message) in cases {
        let mut args = vec!["--url", url.as_str(), "--event", "foo"];
        args.extend_from_slice(flags);
        let output = publish(&args, &[("HUB_PUBLISH_TOKEN", TOKEN)], None).await;
        assert_eq!(output.status.code(), Some(2), "{flags:?}: {}", stderr(&output));
        assert!(stderr(&output).contains(message), "{flags:?}: {}", stderr(&output));
        assert!(!stderr(&output).contains("panicked"), "{flags:?}: {}", stderr(&output));
    }
    // The longest timeout allowed works: nothing overflows when deadlines are computed from it.
    let output = publish(&["--url", &url, "--event", "foo", "--timeout", "1day"], &[], None).await;
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_code_3_when_the_hub_cannot_be_reached_in_time() {
    let port = fake::free_port().await;
    let down =
        publish(&["--url", &format!("http://127.0.0.1:{port}"), "--event", "foo", "--token", "t"], &[], None)
            .await;
    assert_eq!(down.status.code(), Some(3));
    assert!(stderr(&down).contains("cannot connect"), "{}", stderr(&down));

    let silent = fake::silent().await;
    let started = Instant::now();
    let hung =
        publish(&["--url", &silent.url, "--event", "foo", "--token", "t", "--timeout", "0.5"], &[], None)
            .await;
    assert_eq!(hung.status.code(), Some(3));
    assert!(stderr(&hung).contains("timed out"), "{}", stderr(&hung));
    assert!(started.elapsed() < Duration::from_secs(5), "--timeout is honoured: {:?}", started.elapsed());

    let no_ack = fake::never_acks().await;
    let started = Instant::now();
    let lost =
        publish(&["--url", &no_ack.url, "--event", "foo", "--token", "t", "--timeout", "500ms"], &[], None)
            .await;
    assert_eq!(lost.status.code(), Some(3));
    assert!(stderr(&lost).contains("confirmation"), "{}", stderr(&lost));
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_wait_for_a_hub_that_starts_late() {
    let late_hub = LateHub::start_after(Duration::from_millis(700)).await;
    let url = late_hub.url.clone();
    let without = publish_to(&url, &["--event", "foo"], None).await;
    assert_eq!(without.status.code(), Some(3), "no retries by default");
    let with = publish_to(&url, &["--event", "foo", "--retries", "5"], None).await;
    assert_eq!(with.status.code(), Some(0), "{}", stderr(&with));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_lines_publishes_in_order_and_reports_failed_lines() {
    // Default settings: publishers are trusted, so bulk publishing is not throttled.
    let hub = TestHub::start().await;
    let mut subscriber = TestClient::connect(&hub.url).await;
    subscriber.join("r").await;

    let good: String =
        (0..1000).map(|n| format!("{{\"event\":\"n\",\"data\":{n},\"rooms\":[\"r\"]}}\n")).collect();
    let output = publish_to(&hub.url, &["--stdin-lines"], Some(&good)).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "published 1000 events, delivered to 1000 in total\n");
    for n in 0..1000 {
        assert_eq!(subscriber.expect_published("n").await.data, json!(n));
    }

    let mixed =
        "{\"event\":\"a\",\"data\":1}\n\nnot json\n{\"event\":\"chat\",\"data\":2}\n{\"event\":\"b\"}\n";
    let output = publish_to(&hub.url, &["--stdin-lines", "-q"], Some(mixed)).await;
    assert_eq!(output.status.code(), Some(2), "the worst failure decides: an invalid line");
    let errors = stderr(&output);
    assert!(errors.contains("line 3: invalid message"), "{errors}");
    assert!(errors.contains("line 4: the hub refused the event: bad_request"), "{errors}");
    assert_eq!(stdout(&output), "published 2 events, delivered to 2 in total, 2 failed\n");
    assert_eq!(subscriber.expect_published("a").await.data, json!(1));
    assert_eq!(subscriber.expect_published("b").await.data, json!(null));

    let refused_only = publish_to(&hub.url, &["--stdin-lines", "-q"], Some("{\"event\":\"echo\"}\n")).await;
    assert_eq!(refused_only.status.code(), Some(1));
    subscriber.expect_silence().await;
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbose_prints_where_each_event_was_recorded_and_volatile_events_take_no_offset() {
    let hub = TestHub::start().await;
    let mut subscriber = TestClient::connect(&hub.url).await;
    let epoch = subscriber.join("lobby").await["epoch"].as_str().expect("an epoch").to_owned();
    let recorded = |room: &str, offset: u64| format!("recorded in room {room} at offset {offset} (epoch ");

    let output = publish_to(&hub.url, &["-v", "--event", "e", "--room", "lobby", "--room", "b"], None).await;
    assert_eq!((output.status.code(), stdout(&output)), (Some(0), "delivered to 1\n".to_owned()));
    let errors = stderr(&output);
    assert!(
        errors.contains(&format!("publish: recorded in room lobby at offset 1 (epoch {epoch})\n")),
        "{errors}"
    );
    assert!(errors.contains(&recorded("b", 1)), "one line per room: {errors}");
    subscriber.expect_published("e").await;

    let volatile =
        publish_to(&hub.url, &["-v", "--volatile", "--event", "typing", "--room", "lobby"], None).await;
    assert_eq!(volatile.status.code(), Some(0), "{}", stderr(&volatile));
    assert!(stderr(&volatile).contains("not recorded in history: it is volatile"), "{}", stderr(&volatile));
    subscriber.expect_published("typing").await;
    let next = publish_to(&hub.url, &["-v", "--event", "e", "--room", "lobby"], None).await;
    assert!(
        stderr(&next).contains(&recorded("lobby", 2)),
        "the volatile event took no offset: {}",
        stderr(&next)
    );
    subscriber.expect_published("e").await;
    let everyone = publish_to(&hub.url, &["-v", "--event", "all"], None).await;
    assert!(stderr(&everyone).contains("recorded in namespace / at offset 1"), "{}", stderr(&everyone));
    subscriber.expect_published("all").await;

    let lines = "{\"event\":\"a\",\"rooms\":[\"lobby\"]}\n\
                 {\"event\":\"b\",\"rooms\":[\"lobby\"],\"history\":false}\n\
                 {\"event\":\"c\",\"rooms\":[\"lobby\"]}\n";
    let output = publish_to(&hub.url, &["-v", "--stdin-lines"], Some(lines)).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let errors = stderr(&output);
    assert!(errors.contains(&format!("line 1: {}", recorded("lobby", 3))), "{errors}");
    assert!(errors.contains("line 2: not recorded in history: it is volatile"), "{errors}");
    assert!(errors.contains(&format!("line 3: {}", recorded("lobby", 4))), "{errors}");
    for name in ["a", "b", "c"] {
        subscriber.expect_published(name).await;
    }
    let all_volatile = publish_to(&hub.url, &["-v", "--volatile", "--stdin-lines"], Some(lines)).await;
    assert_eq!(stderr(&all_volatile).matches("it is volatile").count(), 3, "{}", stderr(&all_volatile));
    for name in ["a", "b", "c"] {
        subscriber.expect_published(name).await;
    }
    let quiet = publish_to(&hub.url, &["--event", "e", "--room", "lobby"], None).await;
    assert_eq!(stderr(&quiet), "", "without -v, nothing on stderr");
    subscriber.expect_published("e").await;

    // A latecomer gets what was recorded, and none of the volatile events.
    let mut latecomer = TestClient::connect(&hub.url).await;
    let ack = latecomer.ack("join", vec![json!("lobby"), json!({"history": 10})]).await;
    assert_eq!((&ack[0]["missed"], &ack[0]["offset"]), (&json!(5), &json!(5)), "{ack:?}");
    for name in ["e", "e", "a", "c", "e"] {
        latecomer.expect_published(name).await;
    }
    latecomer.expect_silence().await;
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_lines_reports_a_line_that_is_not_utf8_and_goes_on() {
    let hub = TestHub::start().await;
    let mut subscriber = TestClient::connect(&hub.url).await;
    let mut lines = b"{\"event\":\"a\",\"data\":1}\n".to_vec();
    lines.extend_from_slice(b"{\"event\":\"b\",\"data\":\"caf\xe9\"}\n");
    lines.extend_from_slice(b"{\"event\":\"c\",\"data\":3}\n");
    let args = ["--url", hub.url.as_str(), "--stdin-lines"];
    let output = publish_with_bytes(&args, &[("HUB_PUBLISH_TOKEN", TOKEN)], Some(&lines)).await;
    assert_eq!(output.status.code(), Some(2), "an invalid line is an input error: {}", stderr(&output));
    let errors = stderr(&output);
    assert!(errors.contains("line 2: not valid UTF-8"), "{errors}");
    assert_eq!(stdout(&output), "published 2 events, delivered to 2 in total, 1 failed\n", "{errors}");
    assert_eq!(subscriber.expect_published("a").await.data, json!(1));
    assert_eq!(subscriber.expect_published("c").await.data, json!(3), "the lines after it are sent");
    subscriber.expect_no_event("b", QUIET).await;
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_over_the_hubs_frame_limit_is_too_large_not_a_lost_connection() {
    // The default --max-payload, 1 MiB: the hub reads frames of up to 2 MiB and closes on larger ones.
    let hub = TestHub::start().await;
    let mut subscriber = TestClient::connect(&hub.url).await;
    let dir = private_temp_dir("too-large");
    let big = dir.join("big.txt");
    std::fs::write(&big, "x".repeat(3_000_000)).unwrap();
    let data = format!("@{}", big.display());

    let output = publish_to(&hub.url, &["--event", "big", "--data", &data], None).await;
    let errors = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "the hub's limit, as for its too_large ack: {errors}");
    assert!(errors.contains("too_large") && errors.contains("--max-payload"), "{errors}");
    assert!(!errors.contains("connection closed"), "{errors}");

    // Over one connection, a line too large is refused and the next lines still go.
    let mut lines = format!("{{\"event\":\"big\",\"data\":\"{}\"}}\n", "x".repeat(3_000_000));
    lines.push_str("{\"event\":\"small\",\"data\":1}\n");
    let output = publish_to(&hub.url, &["--stdin-lines"], Some(&lines)).await;
    let errors = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{errors}");
    assert!(errors.contains("line 1:") && errors.contains("too_large"), "{errors}");
    assert_eq!(stdout(&output), "published 1 events, delivered to 1 in total, 1 failed\n", "{errors}");
    assert_eq!(subscriber.expect_published("small").await.data, json!(1));
    subscriber.expect_no_event("big", QUIET).await;
    std::fs::remove_dir_all(dir).unwrap();
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finds_the_token_a_hub_generated_for_the_same_user() {
    let runtime_dir = std::env::temp_dir().join(format!("publish-token-file-{}", std::process::id()));
    let dir = runtime_dir.to_str().unwrap();
    let env = [("XDG_RUNTIME_DIR", dir), ("HOME", dir)];
    let hub = HubProcess::start(&["--bind", "127.0.0.1:0"], &env).await;
    let mut subscriber = TestClient::connect(&hub.url).await;

    let output = publish(&["--url", &hub.url, "--event", "foo", "--data", "bar"], &env, None).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(subscriber.expect_published("foo").await.data, json!("bar"));
    // Logged once the delivery is done, which may be just after the subscriber got the event.
    let log = hub.wait_for_log("published event", 1).await;
    let line = log.lines().find(|line| line.contains("published event")).expect("the publish is logged");
    assert!(line.contains("INFO") && line.contains("event=foo"), "{line}");
    assert!(line.contains("target=namespace /") && line.contains("delivered=1"), "{line}");

    let (code, _) = hub.terminate().await;
    assert_eq!(code, Some(0));
    std::fs::remove_dir_all(runtime_dir).ok();
}

/// A hub process whose publishers may send `rate` events per second in bursts of `burst`. The limit is
/// given explicitly: these tests are about a hub that has one, whatever the default.
async fn rate_limited_hub(rate: u32, burst: u32) -> HubProcess {
    let (rate, burst) = (rate.to_string(), burst.to_string());
    let args = [
        "--bind",
        "127.0.0.1:0",
        "--publish-token",
        TOKEN,
        "--publish-rate-limit",
        &rate,
        "--publish-rate-burst",
        &burst,
    ];
    HubProcess::start(&args, &[]).await
}

fn numbered_lines(count: usize) -> String {
    (0..count).map(|n| format!("{{\"event\":\"n\",\"data\":{n}}}\n")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_lines_waits_out_the_rate_limit_and_delivers_every_line_in_order() {
    let hub = rate_limited_hub(500, 50).await;
    let mut subscriber = TestClient::connect(&hub.url).await;

    let started = Instant::now();
    let output = publish_to(&hub.url, &["--stdin-lines"], Some(&numbered_lines(1_000))).await;
    let took = started.elapsed();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "published 1000 events, delivered to 1000 in total\n");
    for n in 0..1_000 {
        assert_eq!(subscriber.expect_published("n").await.data, json!(n), "every line, in order");
    }
    subscriber.expect_no_event("n", QUIET).await;
    // 950 events beyond the burst at 500 per second take 1.9 s: the hub's limit held, and the publisher
    // waited instead of dropping.
    assert!(took >= Duration::from_millis(1_700), "took {took:?}");

    // Enough lines to outrun the limit even though -v now also prints a line per event.
    let verbose = publish_to(&hub.url, &["--stdin-lines", "-v"], Some(&numbered_lines(400))).await;
    assert_eq!(verbose.status.code(), Some(0), "{}", stderr(&verbose));
    let report = stderr(&verbose);
    assert!(report.contains("rate limited by the hub, waited"), "-v tells each wait: {report}");
    assert!(report.contains("waited for the hub's rate limit"), "-v sums the waits up: {report}");
    for n in 0..400 {
        assert_eq!(subscriber.expect_published("n").await.data, json!(n));
    }
    hub.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_wait_never_runs_past_the_timeout() {
    let (peer, sent) = fake::always_rate_limited(60_000).await;
    let started = Instant::now();
    let args = ["--url", &peer.url, "--event", "foo", "--token", "t", "--timeout", "1s"];
    let output = publish(&args, &[], None).await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("rate_limited"), "{}", stderr(&output));
    assert!(stderr(&output).contains("--timeout"), "says why it did not wait: {}", stderr(&output));
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert_eq!(sent.load(std::sync::atomic::Ordering::SeqCst), 1, "a wait past the deadline is not begun");
}

/// A fresh directory under the system's temporary directory, private like a runtime directory.
fn private_temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("publish-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every file below `dir`.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .flatten()
        .flat_map(|entry| {
            let path = entry.path();
            if path.is_dir() { files_under(&path) } else { vec![path] }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_run_by_cron_finds_the_token_of_a_hub_started_with_xdg_runtime_dir() {
    let base = private_temp_dir("cron");
    let (runtime_dir, home) = (base.join("runtime"), base.join("home"));
    std::fs::create_dir_all(&runtime_dir).unwrap();
    std::fs::create_dir_all(&home).unwrap();
    let (runtime_dir, home) = (runtime_dir.to_str().unwrap(), home.to_str().unwrap());
    let hub =
        HubProcess::start(&["--bind", "127.0.0.1:0"], &[("XDG_RUNTIME_DIR", runtime_dir), ("HOME", home)])
            .await;
    let mut subscriber = TestClient::connect(&hub.url).await;
    let token_file = format!("{runtime_dir}/socketio-hub/publish-token-{}", hub.port);

    let args = ["--url", &hub.url, "--event", "cron", "--data", "nightly"];
    let output = publish_in_bare_env(&args, &[("HOME", home)]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "delivered to 1\n");
    assert_eq!(subscriber.expect_published("cron").await.data, json!("nightly"));

    let verbose = publish_in_bare_env(&[&args[..], &["-v"]].concat(), &[("HOME", home)]).await;
    assert_eq!(verbose.status.code(), Some(0), "{}", stderr(&verbose));
    assert!(stderr(&verbose).contains(&token_file), "-v names the file it read: {}", stderr(&verbose));
    subscriber.expect_published("cron").await;

    let (code, _) = hub.terminate().await;
    assert_eq!(code, Some(0));
    assert_eq!(files_under(&base), Vec::<PathBuf>::new(), "the hub removes what it wrote when it stops");
    std::fs::remove_dir_all(base).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_file_is_read_only_for_a_hub_on_a_loopback_address() {
    // The hub answers to `0.0.0.0` too, so that what it refuses below is the missing token.
    let hub = TestHub::start_with(|config| {
        config.allowed_hosts = Some(["127.0.0.1", "0.0.0.0"].map(String::from).to_vec());
    })
    .await;
    let mut subscriber = TestClient::connect(&hub.url).await;
    let base = private_temp_dir("loopback");
    let token_dir = base.join("socketio-hub");
    std::fs::create_dir(&token_dir).unwrap();
    let token_file = token_dir.join(format!("publish-token-{}", hub.port));
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&token_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let dir = base.to_str().unwrap();
    let env = [("XDG_RUNTIME_DIR", dir), ("HOME", dir)];

    let local = publish(&["--url", &hub.url, "--event", "local"], &env, None).await;
    assert_eq!(local.status.code(), Some(0), "the token file is valid: {}", stderr(&local));
    subscriber.expect_published("local").await;

    // 0.0.0.0 is no loopback address, so `publish` takes it for another host, yet Linux connects it to this
    // machine: the hub at the other end tells whether a token was sent.
    let elsewhere = format!("http://0.0.0.0:{}", hub.port);
    let remote = publish(&["--url", &elsewhere, "--event", "remote"], &env, None).await;
    assert_eq!(remote.status.code(), Some(1), "no token was sent: {}", stderr(&remote));
    let errors = stderr(&remote);
    assert!(errors.contains("forbidden"), "{errors}");
    assert!(errors.contains("not a loopback address") && errors.contains("--token"), "{errors}");

    let verbose = publish(&["--url", &elsewhere, "--event", "remote", "-v"], &env, None).await;
    let errors = stderr(&verbose);
    assert!(!errors.contains(token_file.to_str().unwrap()), "the file is not read: {errors}");
    assert!(errors.contains("not a loopback address"), "{errors}");

    let with_token = publish_to(&elsewhere, &["--event", "remote"], None).await;
    assert_eq!(with_token.status.code(), Some(0), "--token works for any host: {}", stderr(&with_token));
    subscriber.expect_published("remote").await;
    hub.stop().await;
    std::fs::remove_dir_all(base).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbose_names_the_url_and_the_transport_the_hub_saw_and_no_secret() {
    let hub = HubProcess::start(&["--bind", "127.0.0.1:0", "--publish-token", TOKEN], &[]).await;
    let output = publish_to(&hub.url, &["-v", "--event", "e"], None).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let errors = stderr(&output);
    let endpoint = format!("ws://127.0.0.1:{}/socket.io/?EIO=4&transport=websocket", hub.port);
    assert!(errors.contains(&format!("publish: connecting to {endpoint} over websocket only")), "{errors}");
    assert!(errors.contains("no polling, no upgrade"), "{errors}");
    assert!(errors.contains("publish token given by --token or HUB_PUBLISH_TOKEN"), "{errors}");
    assert!(!errors.contains(TOKEN), "the token itself is never printed: {errors}");
    // The hub's side of the same connection: the publisher's socket was a websocket from its CONNECT on.
    let log = hub.wait_for_log("socket connected", 1).await;
    let connected = log.lines().find(|line| line.contains("socket connected")).unwrap();
    assert!(connected.contains("publisher=true"), "{connected}");
    assert!(connected.contains("transport=Websocket"), "{connected}");
    assert!(!errors.contains("polling handshake"), "a small event needs no frame limit: {errors}");
    // An event over 2 KiB makes `publish` ask for the hub's frame limit, over polling: -v says so.
    let large = "x".repeat(5000);
    let output = publish_to(&hub.url, &["-v", "--event", "e", "--data", &large], None).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("asked the hub for its frame limit with one Engine.IO polling handshake"),
        "{}",
        stderr(&output)
    );

    let with_secrets = format!("http://alice:hunter2@127.0.0.1:{}/?key=hunter3", hub.port);
    let output = publish_to(&with_secrets, &["-v", "--event", "e"], None).await;
    let errors = stderr(&output);
    assert!(!errors.contains("hunter2") && !errors.contains("hunter3"), "{errors}");
    assert!(errors.contains("ws://alice:***@127.0.0.1:"), "{errors}");
    assert!(errors.contains("?key=***&EIO=4&transport=websocket"), "{errors}");
    hub.terminate().await;
}

#[tokio::test]
async fn help_documents_the_exit_codes() {
    let output = publish(&["--help"], &[], None).await;
    assert_eq!(output.status.code(), Some(0));
    let help = stdout(&output);
    for text in [
        "--event",
        "--data",
        "--json",
        "--room",
        "--namespace",
        "--url",
        "--token",
        "--timeout",
        "--retries",
        "--quiet",
        "--verbose",
        "--stdin-lines",
        "--volatile",
        "HUB_URL",
        "HUB_PUBLISH_TOKEN",
        "Exit codes",
        "0  delivered",
        "1  the hub refused",
        "2  usage",
        "3  could not connect",
    ] {
        assert!(help.contains(text), "--help mentions {text}:\n{help}");
    }
}
