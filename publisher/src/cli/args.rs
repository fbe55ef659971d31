//! The command-line flags of `publish`; their `///` comments are the `--help` text.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Parser};
use hub_protocol::PublishRequest;

use super::generate::Generate;
use super::input::{self, Source};

/// Publish an event into a hub: connect, emit, wait for the hub's confirmation, disconnect.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "publish",
    version,
    group(ArgGroup::new("payload").args(["data", "json"])),
    after_help = "Examples:\n  publish --event foo --data bar\n  publish --event order --json '{\"id\":42}' --room shop --room admin\n  publish --event typing --data alice --room lobby --volatile\n  echo '{\"event\":\"foo\",\"data\":1}' | publish --stdin-lines\n  publish --generate complete-bash > /usr/share/bash-completion/completions/publish\n\nExit codes:\n  0  delivered: the hub confirmed every event (\"delivered to N\" is printed); or --generate printed\n  1  the hub refused: forbidden, bad_request, invalid token, too_large, rate_limited for longer than\n     --timeout, ... (its message is printed)\n  2  usage or input error: bad flags, invalid --json, unreadable file or line, unsafe token file\n  3  could not connect, the connection broke, or --timeout ran out"
)]
pub struct Args {
    /// Event name the subscribers receive (1 to 64 characters; not a reserved name such as `connect`).
    #[arg(long, required_unless_present_any = ["stdin_lines", "generate"], conflicts_with = "stdin_lines")]
    pub event: Option<String>,

    /// Data as a string; `@FILE` reads a file, `-` reads stdin (one trailing newline is dropped).
    #[arg(long, value_name = "STRING|@FILE|-", conflicts_with = "stdin_lines", allow_hyphen_values = true)]
    pub data: Option<String>,

    /// Data as JSON; `@FILE` reads a file, `-` reads stdin.
    #[arg(long, value_name = "JSON|@FILE|-", conflicts_with = "stdin_lines", allow_hyphen_values = true)]
    pub json: Option<String>,

    /// Deliver to this room only (repeat for several). Without it, the whole namespace receives the event.
    #[arg(long = "room", value_name = "ROOM", conflicts_with = "stdin_lines")]
    pub rooms: Vec<String>,

    /// Namespace to publish into.
    #[arg(long, default_value = "/", value_name = "/NAME")]
    pub namespace: String,

    /// The hub's URL.
    #[arg(long, env = "HUB_URL", default_value = "http://127.0.0.1:3000")]
    pub url: String,

    /// Publish token. Default, for a hub on this machine (a loopback URL): the token file that hub wrote
    /// for this port (see --token-file). A hub elsewhere needs --token.
    #[arg(long, env = "HUB_PUBLISH_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// File holding the publish token. Default, for a loopback URL: the file a hub on the URL's port
    /// writes when it generates its token ($XDG_RUNTIME_DIR or ~/.local/state, then
    /// socketio-hub/publish-token-PORT; from cron, through the pointer the hub leaves in ~/.local/state).
    #[arg(long, env = "HUB_TOKEN_FILE", value_name = "PATH")]
    pub token_file: Option<PathBuf>,

    /// Limit for connecting and for the hub's confirmation of each event, waits for the hub's rate limit
    /// included: seconds (`5`, `0.5`) or a duration (`300ms`, `2s`), at most a day.
    #[arg(long, default_value = "5s", value_parser = super::parse_timeout)]
    pub timeout: Duration,

    /// Retry a connection that could not reach the hub this many times, with backoff (500 ms doubling up
    /// to 4 s). An event the hub may have received is never sent twice.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub retries: u32,

    /// Print nothing on success.
    #[arg(short, long)]
    pub quiet: bool,

    /// Say on stderr which URL and transport the connection uses (passwords and query values masked),
    /// where the token came from (which file was read), when the hub's rate limit made
    /// `publish` wait before sending an event again, and where the hub recorded each event (`recorded in
    /// room lobby at offset 12 (epoch ...)`).
    #[arg(short, long)]
    pub verbose: bool,

    /// Do not record the event in the hub's history: only the sockets connected now receive it, and no
    /// client that reconnects or joins later gets it (typing indicators, progress, presence). With
    /// --stdin-lines, every line is volatile.
    #[arg(long)]
    pub volatile: bool,

    /// Read one JSON message per line from stdin, `{"event":..,"data":..,"rooms":[..]}` (plus
    /// `"history":false` for a volatile event), and publish them in order over one connection, each
    /// confirmed by the hub. A line the hub refuses as `rate_limited` is sent again after the wait the
    /// hub names. Failed lines are reported and make the exit code non-zero.
    #[arg(long)]
    pub stdin_lines: bool,

    /// Print the man page (`man`) or a shell's completion script (`complete-bash`, `complete-zsh`,
    /// `complete-fish`, `complete-powershell`, `complete-elvish`) and exit, e.g.
    /// `publish --generate man > /usr/local/share/man/man1/publish.1`.
    #[arg(long, value_name = "KIND")]
    pub generate: Option<Generate>,
}

impl Args {
    /// The one event to publish, from `--event`, `--data`/`--json` and `--room`.
    pub fn request(&self) -> Result<PublishRequest, String> {
        let event = self.event.clone().ok_or("--event is required")?;
        let data = match (&self.data, &self.json) {
            (Some(data), _) => serde_json::Value::String(input::read_text(&Source::parse(data))?),
            (None, Some(json)) => input::read_json(&Source::parse(json))?,
            (None, None) => serde_json::Value::Null,
        };
        Ok(PublishRequest { event, data, rooms: self.rooms.clone(), history: !self.volatile })
    }
}
