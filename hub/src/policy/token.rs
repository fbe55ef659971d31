//! The publish token: who may publish. Compared in constant time; generated and written to a
//! user-only file when the operator gave none, with a pointer to that file where cron looks (the file's
//! locations and the pointer are defined in `hub_protocol::token_file`).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use hub_protocol::token_file;
use rand::Rng;
use rand::distr::Alphanumeric;
use subtle::ConstantTimeEq;

use crate::config::MIN_SECRET_LEN;

/// Why the publish token cannot be used or written.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(
        "the publish token must be at least {MIN_SECRET_LEN} characters (e.g. `openssl rand -hex 24`); \
         leave it unset and the hub generates one"
    )]
    TooShort,
    #[error("no directory for the publish token file: set HOME, XDG_RUNTIME_DIR or --token-file")]
    NoDir,
    #[error("cannot write the publish token file {path}: {source}")]
    File { path: PathBuf, source: io::Error },
    #[error("unsafe place for the publish token file: {0}")]
    Dir(#[from] token_file::TokenFileError),
}

/// The secret that makes a socket a publisher.
#[derive(Clone)]
pub struct PublishToken(String);

impl PublishToken {
    /// Wraps an operator-given token; one shorter than [`MIN_SECRET_LEN`] is refused.
    pub fn new(token: String) -> Result<Self, TokenError> {
        if token.chars().count() < MIN_SECRET_LEN { Err(TokenError::TooShort) } else { Ok(Self(token)) }
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

/// A token file the hub wrote, and the pointer to it that it left for environments without
/// `XDG_RUNTIME_DIR` (cron); both removed again when the hub stops, so no stale token lingers.
#[derive(Debug)]
pub struct TokenFile {
    path: PathBuf,
    pointer: Option<PathBuf>,
}

impl TokenFile {
    /// Where a hub listening on `port` writes its generated token: `configured` (`--token-file`), else
    /// the default file for the port.
    pub fn path_for(configured: Option<PathBuf>, port: u16) -> Result<PathBuf, TokenError> {
        configured.or_else(|| token_file::default_token_file(port)).ok_or(TokenError::NoDir)
    }

    /// Checks, without writing anything, what [`write`](Self::write) would refuse: a directory for `path`
    /// that exists but is not this user's alone. A missing directory is not checked: `write` creates it.
    pub fn check_place(path: &Path) -> Result<(), TokenError> {
        let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if path.file_name().is_none() {
            let source = io::Error::other("the path names no file");
            return Err(TokenError::File { path: path.to_owned(), source });
        }
        match fs::symlink_metadata(dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            _ => Ok(token_file::check_private_dir(dir)?),
        }
    }

    /// Writes `token` to `path` (the directory created with mode 0700, the file with 0600) and, when
    /// `path` is in the runtime directory, a pointer to it where cron looks
    /// ([`token_file::pointer_for`]). A directory that is not this user's alone is refused.
    pub fn write(path: PathBuf, token: &PublishToken) -> Result<Self, TokenError> {
        write_private(&path, &format!("{}\n", token.expose()))?;
        let mut file = Self { path, pointer: None };
        if let Some(pointer) = token_file::pointer_for(&file.path) {
            // Without the pointer the hub works all the same; only `publish` run from cron will not find
            // the token, so this is a warning rather than a reason not to start.
            match write_private(&pointer, &token_file::pointer_contents(&file.path)) {
                Ok(()) => {
                    tracing::info!(
                        "for environments without XDG_RUNTIME_DIR (cron), a pointer to the publish token file \
                         is in {}",
                        pointer.display()
                    );
                    file.pointer = Some(pointer);
                }
                Err(e) => tracing::warn!("`publish` run from cron will not find the publish token: {e}"),
            }
        }
        Ok(file)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TokenFile {
    fn drop(&mut self) {
        // The pointer first, so that it never leads to a file that is gone.
        for path in self.pointer.iter().chain([&self.path]) {
            if let Err(e) = fs::remove_file(path) {
                tracing::warn!(path = %path.display(), "cannot remove the publish token file: {e}");
            }
        }
    }
}

/// Writes `contents` to `path`, readable by this user only. The directory is created if needed and must
/// be this user's alone. The text goes to a new temporary file (`create_new`: never through a symlink,
/// never into an existing file) that then replaces `path`, so whatever was at `path` before, a symlink
/// planted there included, is replaced and never followed.
fn write_private(path: &Path, contents: &str) -> Result<(), TokenError> {
    let fail = |source| TokenError::File { path: path.to_owned(), source };
    let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| fail(io::Error::other("the path names no file")))?;
    create_private_dir(dir).map_err(fail)?;
    token_file::check_private_dir(dir)?;

    let temporary = dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
    // Left over by an earlier process with the same id that was killed; removing never follows a symlink.
    match fs::remove_file(&temporary) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(fail(e)),
        _ => {}
    }
    let written = create_new_private(&temporary)
        .and_then(|mut file| file.write_all(contents.as_bytes()))
        .and_then(|()| fs::rename(&temporary, path));
    if written.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    written.map_err(fail)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(unix)]
fn create_new_private(path: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)
}

#[cfg(not(unix))]
fn create_new_private(path: &Path) -> io::Result<fs::File> {
    fs::OpenOptions::new().write(true).create_new(true).open(path)
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

    #[cfg(unix)]
    #[test]
    fn a_planted_symlink_is_replaced_not_followed() {
        let dir = std::env::temp_dir().join(format!("hub-token-symlink-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let victim = dir.join("victim");
        let path = dir.join("private").join("token");
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&victim, "untouched").unwrap();
        std::os::unix::fs::symlink(&victim, &path).unwrap();

        let file = TokenFile::write(path.clone(), &PublishToken::generate()).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "untouched");
        assert!(fs::symlink_metadata(&path).unwrap().is_file(), "the symlink itself was replaced");
        drop(file);
        fs::remove_dir_all(dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn check_place_refuses_what_write_would_refuse_and_writes_nothing() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("hub-token-check-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        assert!(TokenFile::check_place(&dir.join("missing").join("token")).is_ok(), "created at start");
        assert!(!dir.exists(), "nothing is created");
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        assert!(TokenFile::check_place(&dir.join("token")).is_ok());
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        let refused = TokenFile::check_place(&dir.join("token")).unwrap_err();
        assert!(matches!(refused, TokenError::Dir(token_file::TokenFileError::WritableByOthers { .. })));
        assert!(TokenFile::write(dir.join("token"), &PublishToken::generate()).is_err(), "as write does");
        fs::remove_dir_all(dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_directory_others_can_write_to_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("hub-token-shared-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        let refused = TokenFile::write(dir.join("token"), &PublishToken::generate()).unwrap_err();
        assert!(
            matches!(refused, TokenError::Dir(token_file::TokenFileError::WritableByOthers { .. })),
            "{refused}"
        );
        assert!(!dir.join("token").exists());
        fs::remove_dir_all(dir).unwrap();
    }
}
