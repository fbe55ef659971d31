//! `hub checkconfig`: the configuration checked exactly as the hub checks it at start (the same flags,
//! environment and file, [`Config::load`], then [`Server::check`]), without binding, connecting or
//! writing anything; what needs the network (the address being free, Redis answering) is left to the
//! start itself.

use crate::config::{Args, Config};
use crate::server::Server;

use super::ToolError;

/// The last line of a valid configuration's report: a TOML comment, so the report stays a config file.
pub const VALID: &str = "# hub checkconfig: the configuration is valid";

/// Check the configuration as the hub does at start, and exit without starting.
///
/// Takes the same flags, HUB_* environment variables and --config file as `hub` itself. Valid: prints the
/// effective configuration (secrets masked, as --print-config) and a line saying so, and exits 0.
/// Invalid: prints the one line the hub would stop with, and exits 2. Whether the address is free and
/// Redis answers is only known when the hub starts.
#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Examples:\n  hub checkconfig --config /etc/hub.toml\n  HUB_CONFIG=/etc/hub.toml hub checkconfig --bind 0.0.0.0:3000\n\nExit codes:\n  0  valid\n  2  invalid (the reason is printed on stderr)"
)]
pub struct CheckConfig {
    #[command(flatten)]
    pub server: Args,
}

impl CheckConfig {
    /// The report on a valid configuration, or why it is not.
    pub fn report(&self) -> Result<String, ToolError> {
        let config = Config::load(&self.server)?;
        Server::check(&config)?;
        Ok(format!("{}{VALID}\n", config.to_masked_toml()))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        check: CheckConfig,
    }

    fn report(flags: &[&str]) -> Result<String, ToolError> {
        let check = Command::try_parse_from(std::iter::once("checkconfig").chain(flags.iter().copied()));
        check.unwrap().check.report()
    }

    #[test]
    fn a_valid_configuration_is_printed_masked_and_said_valid() {
        let printed = report(&["--max-connections", "5", "--jwt-secret", "a-jwt-secret-of-16+"]).unwrap();
        assert!(printed.contains("max-connections = 5\n") && printed.contains("jwt-secret = \"***\""));
        assert!(printed.ends_with(&format!("{VALID}\n")), "{printed}");
    }

    #[test]
    fn an_invalid_one_is_the_error_the_hub_would_stop_with() {
        let error = report(&["--max-connections", "0"]).unwrap_err();
        assert_eq!(error.to_string(), "invalid setting max-connections: must be at least 1");
        assert_eq!(error.exit_code(), 2);
    }

    #[cfg(unix)]
    #[test]
    fn so_is_a_token_file_the_hub_could_not_write_safely() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("hub-checkconfig-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let token_file = dir.join("token");
        let error = report(&["--token-file", token_file.to_str().unwrap()]).unwrap_err();
        assert!(error.to_string().contains("chmod 700"), "{error}");
        assert_eq!(error.exit_code(), 2);
        let with_a_token =
            ["--token-file", token_file.to_str().unwrap(), "--publish-token", "a-publish-token-16+"];
        assert!(report(&with_a_token).is_ok(), "with a publish token, no file is written");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
