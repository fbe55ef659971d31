//! The publish token: who may publish. Compared in constant time; generated and written to a
//! user-only file when the operator gave none.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use rand::Rng;
use rand::distr::Alphanumeric;
use subtle::ConstantTimeEq;

use crate::HubError;

/// The secret that makes a socket a publisher.
#[derive(Clone)]
pub struct PublishToken(String);

impl PublishToken {
    /// Wraps an operator-given token; empty tokens are refused.
    pub fn new(token: String) -> Result<Self, HubError> {
        if token.is_empty() { Err(HubError::EmptyToken) } else { Ok(Self(token)) }
    }

    /// A fresh random token: 43 alphanumeric characters, about 256 bits.
    pub fn generate() -> Self {
        Self(rand::rng().sample_iter(&Alphanumeric).take(43).map(char::from).collect())
    }

    /// Constant-time comparison, so response timing tells nothing about the token.
    pub fn matches(&self, candidate: &str) -> bool {
        self.0.as_bytes().ct_eq(candidate.as_bytes()).into()
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PublishToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PublishToken(***)")
    }
}

/// A token file the hub wrote; removed again when the hub stops, so no stale token lingers.
#[derive(Debug)]
pub struct TokenFile {
    path: PathBuf,
}

impl TokenFile {
    /// Writes `token` to `path`: the directory is created with mode 0700, the file with 0600.
    pub fn write(path: PathBuf, token: &PublishToken) -> Result<Self, HubError> {
        let fail = |source| HubError::TokenFile { path: path.clone(), source };
        if let Some(dir) = path.parent() {
            create_private_dir(dir).map_err(fail)?;
        }
        let mut file = open_private(&path).map_err(fail)?;
        file.write_all(token.expose().as_bytes()).map_err(fail)?;
        file.write_all(b"\n").map_err(fail)?;
        Ok(Self { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TokenFile {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_file(&self.path) {
            tracing::warn!(path = %self.path.display(), "cannot remove the publish token file: {e}");
        }
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    // `mode` applies only when the file is created; tighten a file that already existed too.
    file.set_permissions(fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<fs::File> {
    fs::OpenOptions::new().write(true).create(true).truncate(true).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_long_and_distinct() {
        let (a, b) = (PublishToken::generate(), PublishToken::generate());
        assert_eq!(a.expose().len(), 43);
        assert!(!a.matches(b.expose()));
        assert!(a.matches(a.expose()));
        assert!(!a.matches(""));
    }

    #[cfg(unix)]
    #[test]
    fn token_file_is_private_and_removed_on_drop() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("hub-token-test-{}", std::process::id()));
        let path = dir.join("nested").join("token");
        let token = PublishToken::generate();
        let file = TokenFile::write(path.clone(), &token).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap().trim(), token.expose());
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
        drop(file);
        assert!(!path.exists());
        fs::remove_dir_all(dir).unwrap();
    }
}
