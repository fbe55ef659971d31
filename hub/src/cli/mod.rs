//! The `hub` command line: the server's flags ([`config::Args`](crate::config::Args)), and beside them
//! the operator tools, one file each:
//!
//! * `hub gentoken`: a JWT signed with the hub's `--jwt-secret`, for tests and scripts;
//! * `hub checkconfig`: the configuration checked as the hub checks it at start, without starting;
//! * `hub genconfig`: a config file with every setting, its help and its default, made from the flags;
//! * `hub --generate KIND`: the man page or a shell's completion script (as `publish --generate KIND`).
//!
//! `hub` without a subcommand runs the server, as it always did; the flags of the server go before no
//! subcommand (`hub --bind X checkconfig` is a usage error: `hub checkconfig --bind X`).

mod checkconfig;
mod genconfig;
mod generate;
mod gentoken;

use std::io::{self, Write};

use clap::{CommandFactory, Parser, Subcommand};

pub use checkconfig::CheckConfig;
pub use genconfig::config_file;
pub use generate::Generate;
pub use gentoken::{GenToken, GenTokenError};

use crate::config::{Args, ConfigError};
use crate::error::HubError;

/// `hub --help`'s last words: the exit codes, which scripts and service managers rely on.
const EXIT_CODES: &str = "\
Exit codes:
  0  stopped by SIGINT or SIGTERM after a clean shutdown; a tool or --print-config succeeded
  1  the hub could not start (its address is taken, Redis is unreachable, ...) or failed while serving;
     a tool could not write its output
  2  usage or configuration error: a bad flag, an invalid setting, a token that cannot be made";

/// A Socket.IO v5 hub: browsers join rooms and chat, backends publish events into rooms.
///
/// The demo page is served at `/`, Socket.IO at `/socket.io/`, the HTTP API at `/api/`, health at
/// `/healthz` and `/readyz`, metrics at `/metrics`. Every setting can also come from HUB_* environment
/// variables and from the TOML file given by --config (flag > environment > file > default).
#[derive(Debug, Clone, Parser)]
#[command(name = "hub", version, args_conflicts_with_subcommands = true, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(flatten)]
    pub server: Args,

    /// Print the effective configuration (secrets masked) and exit.
    #[arg(long)]
    pub print_config: bool,

    /// Print the man page (`man`) or a shell's completion script (`complete-bash`, `complete-zsh`,
    /// `complete-fish`, `complete-powershell`, `complete-elvish`) and exit, e.g.
    /// `hub --generate man > /usr/local/share/man/man1/hub.1`.
    #[arg(long, value_name = "KIND")]
    pub generate: Option<Generate>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The operator tools.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    #[command(name = "gentoken")]
    GenToken(GenToken),
    #[command(name = "checkconfig")]
    CheckConfig(Box<CheckConfig>),
    /// Print a config file with every setting and its default, commented out.
    ///
    /// Each setting comes with its help, its flag and its environment variable: `hub genconfig >
    /// hub.toml`, then uncomment and edit what you change, and check it with `hub checkconfig --config
    /// hub.toml`.
    #[command(name = "genconfig")]
    GenConfig,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Task {
    /// Run the hub, or with `print_config` print its effective configuration.
    Serve { args: Box<Args>, print_config: bool },
    /// Run a tool and exit.
    Tool(Tool),
}

/// One of the operator tools, with its arguments.
#[derive(Debug)]
pub enum Tool {
    GenToken(GenToken),
    CheckConfig(Box<CheckConfig>),
    GenConfig,
    Generate(Generate),
}

/// Why a tool failed; [`exit_code`](ToolError::exit_code) is what `hub` exits with.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A check the hub makes at start beyond its settings (where the publish token would be written).
    #[error(transparent)]
    Start(#[from] HubError),
    #[error(transparent)]
    GenToken(#[from] GenTokenError),
    #[error("cannot write the output: {0}")]
    Output(#[from] io::Error),
}

impl ToolError {
    /// 2 for anything the operator can fix in the command line or configuration, 1 for an output
    /// that could not be written.
    pub fn exit_code(&self) -> u8 {
        match self {
            ToolError::Output(_) => 1,
            ToolError::Config(_) | ToolError::Start(_) | ToolError::GenToken(_) => 2,
        }
    }
}

impl Cli {
    /// What to do: serve, or run one tool.
    pub fn into_task(self) -> Task {
        match (self.command, self.generate) {
            (Some(Command::GenToken(args)), _) => Task::Tool(Tool::GenToken(args)),
            (Some(Command::CheckConfig(args)), _) => Task::Tool(Tool::CheckConfig(args)),
            (Some(Command::GenConfig), _) => Task::Tool(Tool::GenConfig),
            (None, Some(kind)) => Task::Tool(Tool::Generate(kind)),
            (None, None) => Task::Serve { args: Box::new(self.server), print_config: self.print_config },
        }
    }
}

impl Tool {
    /// Runs the tool, writing its result to `out`. A reader that stops reading (`| head`) is no error.
    pub fn run(self, out: &mut dyn Write) -> Result<(), ToolError> {
        match self.write(out) {
            Err(ToolError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
            result => result,
        }
    }

    fn write(self, out: &mut dyn Write) -> Result<(), ToolError> {
        match self {
            Tool::GenToken(args) => writeln!(out, "{}", args.token()?)?,
            Tool::CheckConfig(args) => out.write_all(args.report()?.as_bytes())?,
            Tool::GenConfig => out.write_all(config_file().as_bytes())?,
            Tool::Generate(kind) => kind.write(Cli::command(), out)?,
        }
        Ok(out.flush()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(flags: &[&str]) -> Result<Task, clap::Error> {
        Cli::try_parse_from(std::iter::once("hub").chain(flags.iter().copied())).map(Cli::into_task)
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn without_a_subcommand_the_flags_run_the_server() {
        match task(&["--max-connections", "5", "--print-config"]).unwrap() {
            Task::Serve { args, print_config } => {
                assert_eq!((args.settings.max_connections, print_config), (Some(5), true));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(task(&["--generate", "man"]).unwrap(), Task::Tool(Tool::Generate(Generate::Man))));
    }

    #[test]
    fn the_server_flags_go_after_checkconfig_not_before_it() {
        match task(&["checkconfig", "--max-connections", "5"]).unwrap() {
            Task::Tool(Tool::CheckConfig(check)) => {
                assert_eq!(check.server.settings.max_connections, Some(5))
            }
            other => panic!("{other:?}"),
        }
        let error = task(&["--max-connections", "5", "checkconfig"]).unwrap_err();
        assert_eq!(error.exit_code(), 2, "{error}");
    }
}
