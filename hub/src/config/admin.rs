//! The Admin UI settings (`--admin-password`, `--admin-username`, `--admin-read-only`), merged and
//! checked together into one [`AdminConfig`]: the `/admin` namespace exists exactly when a password is
//! set, since anyone who reaches it can see every socket and act on them.

use super::{ConfigError, MIN_SECRET_LEN, Settings, pick};

/// Default user name the Admin UI signs in with.
pub const DEFAULT_ADMIN_USERNAME: &str = "admin";

/// Highest bcrypt cost accepted: each step doubles the time of a login (about 1 s at 14 here).
const MAX_BCRYPT_COST: u32 = 14;

/// Longest `--admin-username`.
const MAX_USERNAME_CHARS: usize = 64;

/// Who may open the Admin UI and what it may do.
#[derive(Debug, Clone)]
pub struct AdminConfig {
    pub username: String,
    pub password: AdminPassword,
    /// The UI only looks: emit, join, leave and disconnect are neither offered nor accepted.
    pub read_only: bool,
}

/// The password, as given: in clear, or as a bcrypt hash (`$2b$12$...`, from `htpasswd -nbBC 12 ''
/// secret` or any bcrypt tool), which keeps it out of the config file.
#[derive(Clone, PartialEq, Eq)]
pub enum AdminPassword {
    Plain(String),
    Bcrypt(String),
}

impl std::fmt::Debug for AdminPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AdminPassword::Plain(_) => "Plain(***)",
            AdminPassword::Bcrypt(_) => "Bcrypt(***)",
        })
    }
}

impl AdminPassword {
    /// A bcrypt hash when `text` starts like one (`$2a$`, `$2b$`, `$2x$` or `$2y$`; [`AdminConfig::check`]
    /// then refuses it unless it is a whole, valid hash); else a password in clear.
    pub fn parse(text: &str) -> Self {
        let is_hash = ["$2a$", "$2b$", "$2x$", "$2y$"].iter().any(|prefix| text.starts_with(prefix));
        if is_hash { AdminPassword::Bcrypt(text.to_owned()) } else { AdminPassword::Plain(text.to_owned()) }
    }

    /// The text as configured (the hash, for a hash).
    pub fn as_configured(&self) -> &str {
        match self {
            AdminPassword::Plain(text) | AdminPassword::Bcrypt(text) => text,
        }
    }
}

impl AdminConfig {
    /// A configuration for tests and embedding: user `admin`, operations allowed.
    pub fn new(password: &str) -> Self {
        Self {
            username: DEFAULT_ADMIN_USERNAME.to_owned(),
            password: AdminPassword::parse(password),
            read_only: false,
        }
    }

    /// Refuses settings the Admin UI cannot be used with, saying which and why.
    pub fn check(&self) -> Result<(), ConfigError> {
        let invalid =
            |setting, message: &str| Err(ConfigError::Invalid { setting, message: message.to_owned() });
        if let AdminPassword::Plain(password) = &self.password
            && password.chars().count() < MIN_SECRET_LEN
        {
            return invalid(
                "admin-password",
                "must be at least 16 characters (e.g. `openssl rand -hex 12`), or a bcrypt hash",
            );
        }
        if let AdminPassword::Bcrypt(hash) = &self.password {
            // `$2b$`, a cost of two digits, `$`, then 53 characters of bcrypt's base64.
            let well_formed = hash.len() == 60
                && hash.as_bytes()[6] == b'$'
                && hash[4..6].bytes().all(|b| b.is_ascii_digit())
                && hash[7..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/');
            match hash.parse::<bcrypt::HashParts>() {
                Ok(parts) if well_formed && parts.get_cost() > MAX_BCRYPT_COST => {
                    return invalid(
                        "admin-password",
                        "is a bcrypt hash of cost above 14, which takes seconds per login: hash it again with a lower cost",
                    );
                }
                Ok(_) if well_formed => {}
                _ => return invalid("admin-password", "starts like a bcrypt hash but is not a valid one"),
            }
        }
        let chars = self.username.chars().count();
        if chars == 0 || chars > MAX_USERNAME_CHARS || self.username.chars().any(char::is_control) {
            return invalid("admin-username", "must be 1 to 64 characters, none of them a control character");
        }
        Ok(())
    }
}

/// The Admin UI settings of the flags and environment (`cli`) over those of the file; `None` when no
/// password is set, and then no other admin setting may be.
pub(super) fn load(cli: &Settings, file: &Settings) -> Result<Option<AdminConfig>, ConfigError> {
    let password = pick(&cli.admin_password, &file.admin_password);
    let username = pick(&cli.admin_username, &file.admin_username);
    let read_only = pick(&cli.admin_read_only, &file.admin_read_only);
    let Some(password) = password else {
        for (setting, set) in
            [("admin-username", username.is_some()), ("admin-read-only", read_only.is_some())]
        {
            if set {
                return Err(ConfigError::Invalid {
                    setting,
                    message: "needs --admin-password (the Admin UI is off without one)".to_owned(),
                });
            }
        }
        return Ok(None);
    };
    let admin = AdminConfig {
        username: username.unwrap_or_else(|| DEFAULT_ADMIN_USERNAME.to_owned()),
        password: AdminPassword::parse(&password),
        read_only: read_only.unwrap_or(false),
    };
    admin.check()?;
    Ok(Some(admin))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bcrypt_hash_is_told_from_a_password() {
        let hash = "$2b$04$hpYtbq0OXTWydOpJ3Gf7yeYV6GjM/ByPRVeTFXzmzILpYvBI.9Ny.";
        assert!(matches!(AdminPassword::parse(hash), AdminPassword::Bcrypt(_)));
        assert!(matches!(AdminPassword::parse("$2b$ but not a hash"), AdminPassword::Bcrypt(_)));
        assert!(matches!(AdminPassword::parse("correct horse battery"), AdminPassword::Plain(_)));
    }

    #[test]
    fn short_passwords_and_broken_hashes_are_refused() {
        assert!(AdminConfig::new("short").check().is_err());
        assert!(AdminConfig::new("a password long enough").check().is_ok());
        for broken in [format!("$2b$04${}", "!".repeat(53)), "$2b$ but not a hash".to_owned()] {
            let error = AdminConfig::new(&broken).check().unwrap_err().to_string();
            assert!(error.contains("admin-password"), "{error}");
        }
        let costly = "$2b$15$hpYtbq0OXTWydOpJ3Gf7yeYV6GjM/ByPRVeTFXzmzILpYvBI.9Ny.";
        assert!(AdminConfig::new(costly).check().unwrap_err().to_string().contains("cost"));
        let fine = "$2b$04$hpYtbq0OXTWydOpJ3Gf7yeYV6GjM/ByPRVeTFXzmzILpYvBI.9Ny.";
        assert!(AdminConfig::new(fine).check().is_ok());
    }
}
