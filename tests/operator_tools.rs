//! The operator tools of the real `hub` binary (`gentoken`, `checkconfig`, `genconfig`, `--generate`)
//! and `publish --generate`: what they print is accepted by the real hub, by the shells and by `man`.

use std::path::PathBuf;
use std::process::Output;

use clap::{CommandFactory, ValueEnum};
use e2e::binaries::{self, HubProcess};
use e2e::{TestClient, hub::TOKEN};
use serde_json::json;

const SECRET: &str = "operator-tools-secret-32-bytes!!";

/// A refused run: its arguments, its environment, and what its error says.
type Refusal<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);

/// The last line of `hub checkconfig` for a valid configuration.
const VALID: &str = "# hub checkconfig: the configuration is valid";

async fn hub(args: &[&str], env: &[(&str, &str)]) -> Output {
    binaries::run_hub(args, env).await
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hub-operator-tools-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A token from `hub gentoken` with `args` and `env`, which must succeed.
async fn gentoken(args: &[&str], env: &[(&str, &str)]) -> String {
    let output = hub(&[&["gentoken"], args].concat(), env).await;
    assert_eq!(output.status.code(), Some(0), "{args:?}: {}", stderr(&output));
    assert!(output.stderr.is_empty(), "only the token is printed: {}", stderr(&output));
    let token = stdout(&output);
    assert_eq!(token.lines().count(), 1, "{token}");
    token.trim_end().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_token_is_accepted_by_a_hub_with_the_same_secret_and_limits_its_rooms() {
    let config = file("jwt.toml", &format!("jwt-secret = \"{SECRET}\"\n"));
    let config = config.to_str().unwrap();
    let hub =
        HubProcess::start(&["--bind", "127.0.0.1:0", "--publish-token", TOKEN, "--config", config], &[])
            .await;

    // The secret as the hub takes it: from the flag, the environment or the config file.
    let from_flag = gentoken(&["--sub", "alice", "--rooms", "lobby", "--jwt-secret", SECRET], &[]).await;
    let from_env = gentoken(&["--sub", "alice", "--rooms", "lobby"], &[("HUB_JWT_SECRET", SECRET)]).await;
    let from_file = gentoken(&["--sub", "alice", "--rooms", "lobby", "--config", config], &[]).await;
    for token in [from_flag, from_env, from_file] {
        let alice = TestClient::connect_with(&hub.url, "/", json!({"token": token})).await.expect("admitted");
        assert_eq!(alice.request("join", json!("lobby")).await["ok"], true);
        let refused = alice.request("join", json!("staff")).await;
        assert_eq!((&refused["ok"], &refused["error"]), (&json!(false), &json!("forbidden")), "{refused}");
        alice.disconnect().await;
    }

    // `--ns` admits exactly the namespaces it lists.
    let orders = gentoken(&["--sub", "bot", "--ns", "/orders", "--ttl", "5m", "--config", config], &[]).await;
    TestClient::connect_with(&hub.url, "/orders", json!({"token": orders.clone()})).await.expect("admitted");
    let message = TestClient::connect_error(&hub.url, "/", json!({"token": orders})).await;
    assert!(message.starts_with("invalid token: not valid for namespace /"), "{message}");

    // Another secret's token is refused.
    let other = gentoken(&["--sub", "alice", "--jwt-secret", "another-secret-of-32-bytes-long!"], &[]).await;
    let message = TestClient::connect_error(&hub.url, "/", json!({"token": other})).await;
    assert_eq!(message, "invalid token: bad signature");
}

#[tokio::test]
async fn gentoken_refuses_with_exit_2_what_would_not_work() {
    let cases: [Refusal; 6] = [
        (&["--sub", "alice"], &[], "no JWT secret to sign with: pass --jwt-secret, set HUB_JWT_SECRET"),
        (&["--sub", "alice", "--jwt-secret", "short"], &[], "invalid setting jwt-secret"),
        (
            &["--sub", "alice", "--rooms", "lobby,\u{202e}x"],
            &[("HUB_JWT_SECRET", SECRET)],
            "invalid --rooms: room name",
        ),
        (
            &["--sub", "alice", "--ns", "orders"],
            &[("HUB_JWT_SECRET", SECRET)],
            "invalid --ns: namespace must be",
        ),
        (&["--sub", "", "--jwt-secret", SECRET], &[], "invalid --sub: user name must be 1 to 64"),
        (&["--sub", "alice", "--ttl", "90days"], &[("HUB_JWT_SECRET", SECRET)], "invalid --ttl"),
    ];
    for (args, env, expected) in cases {
        let output = hub(&[&["gentoken"], args].concat(), env).await;
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
        assert!(output.stdout.is_empty(), "no token: {}", stdout(&output));
        assert!(stderr(&output).starts_with(&format!("hub: {expected}")), "{args:?}: {}", stderr(&output));
    }
}

#[tokio::test]
async fn checkconfig_exits_0_on_what_the_hub_accepts_and_2_on_what_it_refuses() {
    let good = file("good.toml", "max-connections = 7\njwt-secret = \"a-file-secret-of-16+\"\n");
    let good = good.to_str().unwrap();
    let bad = file("bad.toml", "max-conections = 7\n");
    let bad = bad.to_str().unwrap();
    let setting = |output: &Output, key: &str| {
        let text = stdout(output);
        text.lines().find_map(|line| line.strip_prefix(&format!("{key} = ")).map(str::to_owned)).unwrap()
    };

    let valid =
        hub(&["checkconfig", "--config", good, "--rate-limit", "3"], &[("HUB_PING_INTERVAL", "9s")]).await;
    assert_eq!(valid.status.code(), Some(0), "{}", stderr(&valid));
    assert!(stdout(&valid).ends_with(&format!("{VALID}\n")), "{}", stdout(&valid));
    assert_eq!(setting(&valid, "max-connections"), "7", "from the file");
    assert_eq!(setting(&valid, "rate-limit"), "3", "from the flag");
    assert_eq!(setting(&valid, "ping-interval"), "\"9s\"", "from the environment");
    assert_eq!(setting(&valid, "jwt-secret"), "\"***\"", "masked");
    let from_env = hub(&["checkconfig"], &[("HUB_CONFIG", good)]).await;
    assert_eq!((from_env.status.code(), setting(&from_env, "max-connections")), (Some(0), "7".to_owned()));

    let cases: [Refusal; 5] = [
        (&["--max-connections", "0"], &[], "hub: invalid setting max-connections: must be at least 1"),
        (&[], &[("HUB_MAX_PAYLOAD", "10")], "hub: invalid setting max-payload"),
        (&["--config", bad], &[], "line 1: unknown field `max-conections`"),
        (
            &[],
            &[("HUB_CONFIG", "/nonexistent/hub.toml")],
            "hub: cannot read the config file /nonexistent/hub.toml",
        ),
        (
            &["--config", good, "--auth-url", "http://127.0.0.1/s"],
            &[],
            "hub: --auth-url and --jwt-secret cannot",
        ),
    ];
    for (args, env, expected) in cases {
        let output = hub(&[&["checkconfig"], args].concat(), env).await;
        assert_eq!(output.status.code(), Some(2), "{args:?} {env:?}: {}", stderr(&output));
        assert_eq!(stderr(&output).lines().count(), 1, "one line: {}", stderr(&output));
        assert!(stderr(&output).contains(expected), "{args:?} {env:?}: {}", stderr(&output));
        assert!(output.stdout.is_empty());
    }

    // The hub's flags go after the subcommand; before it, they are a usage error rather than ignored.
    let misplaced = hub(&["--max-connections", "0", "checkconfig"], &[]).await;
    assert_eq!(misplaced.status.code(), Some(2));
    assert!(stderr(&misplaced).contains("cannot be used with"), "{}", stderr(&misplaced));
}

#[tokio::test]
async fn genconfig_writes_every_setting_in_a_file_checkconfig_accepts() {
    let output = hub(&["genconfig"], &[]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let generated = stdout(&output);
    let settings = <hub::config::Settings as clap::Args>::augment_args(clap::Command::new("hub"));
    for arg in settings.get_arguments() {
        let key = arg.get_long().unwrap();
        let listed = generated.lines().any(|line| line.starts_with(&format!("#{key} = ")))
            || generated.lines().any(|line| line.starts_with(&format!("# {key} = ")));
        assert!(listed, "{key} is in the file:\n{generated}");
    }

    let defaults = hub(&["checkconfig"], &[]).await;
    assert_eq!(defaults.status.code(), Some(0), "{}", stderr(&defaults));
    let as_is = file("generated.toml", &generated);
    let uncommented: String = generated
        .lines()
        .map(|line| match line.strip_prefix('#') {
            Some(assignment) if assignment.starts_with(|c: char| c.is_ascii_lowercase()) => assignment,
            _ => line,
        })
        .map(|line| format!("{line}\n"))
        .collect();
    assert!(uncommented.contains("\nmax-connections = 100000\n"), "{uncommented}");
    let uncommented = file("uncommented.toml", &uncommented);
    for path in [as_is, uncommented] {
        let checked = hub(&["checkconfig", "--config", path.to_str().unwrap()], &[]).await;
        assert_eq!(checked.status.code(), Some(0), "{}: {}", path.display(), stderr(&checked));
        assert_eq!(stdout(&checked), stdout(&defaults), "{}: the defaults, as the file says", path.display());
    }
}

#[tokio::test]
async fn generate_writes_man_pages_and_completions_that_know_the_subcommands() {
    let kinds =
        ["man", "complete-bash", "complete-zsh", "complete-fish", "complete-powershell", "complete-elvish"];
    for kind in kinds {
        let output = hub(&["--generate", kind], &[]).await;
        assert_eq!(output.status.code(), Some(0), "{kind}: {}", stderr(&output));
        // roff writes a hyphen as `\-`.
        let text = stdout(&output).replace("\\-", "-");
        // (fish names a flag without its dashes)
        for name in ["gentoken", "checkconfig", "genconfig", "max-connections", "generate"] {
            assert!(text.contains(name), "hub {kind} mentions {name}");
        }
        let output = binaries::publish(&["--generate", kind], &[], None).await;
        assert_eq!(output.status.code(), Some(0), "publish {kind}: {}", stderr(&output));
        for name in ["event", "stdin-lines", "generate"] {
            assert!(stdout(&output).replace("\\-", "-").contains(name), "publish {kind} mentions {name}");
        }
    }
    let man = stdout(&hub(&["--generate", "man"], &[]).await);
    assert!(man.contains(".TH hub 1") && man.contains(".SH \"HUB GENTOKEN\""), "{man}");
    assert!(man.contains("\\-\\-sub"), "the subcommands' options are in the page");
    let man = stdout(&binaries::publish(&["--generate", "man"], &[], None).await);
    assert!(man.contains(".TH publish 1"), "{man}");

    // The same kinds for both binaries, and the bash script is valid bash.
    let names = |values: Vec<Option<clap::builder::PossibleValue>>| -> Vec<String> {
        values.into_iter().map(|value| value.unwrap().get_name().to_owned()).collect()
    };
    let hub_kinds =
        names(hub::cli::Generate::value_variants().iter().map(|v| v.to_possible_value()).collect());
    let publish_kinds =
        names(publisher::cli::Generate::value_variants().iter().map(|v| v.to_possible_value()).collect());
    assert_eq!((hub_kinds.clone(), publish_kinds), (kinds.map(str::to_owned).to_vec(), hub_kinds));
    let bash = file("hub.bash", &stdout(&hub(&["--generate", "complete-bash"], &[]).await));
    let checked = std::process::Command::new("bash").arg("-n").arg(&bash).status().unwrap();
    assert!(checked.success(), "bash -n {}", bash.display());
    assert_eq!(hub::cli::Cli::command().get_name(), "hub");
}
