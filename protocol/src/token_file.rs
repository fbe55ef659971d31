//! Where a hub that was given no publish token leaves the one it generated, so that `publish` run by the
//! same user on the same machine finds it without configuration, cron included.
//!
//! The file is `$XDG_RUNTIME_DIR/socketio-hub/publish-token-<port>` when `XDG_RUNTIME_DIR` is set (a
//! per-user directory that the system clears at logout), else
//! `$HOME/.local/state/socketio-hub/publish-token-<port>`. One file per port lets several hubs run side
//! by side. The hub creates the directory with mode 0700 and the file with mode 0600.
//!
//! cron and other bare environments set `HOME` but not `XDG_RUNTIME_DIR`, so they can only look under
//! `$HOME`. A hub whose token file is in the runtime directory therefore also leaves a pointer in
//! `$HOME/.local/state/socketio-hub/`: `publish-token-<port>.path`, holding the token file's absolute path
//! (mode 0600 in a 0700 directory too). A pointer rather than a copy keeps the secret off the disk, in
//! the runtime directory. The hub removes both when it stops.
//!
//! Both sides trust only what this user alone can have written: [`check_private_dir`] refuses a directory
//! that is a symlink, belongs to someone else or is writable by group or others, and token and pointer
//! files are opened without following symlinks and only used when this user owns them.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// The name of the directory, under the runtime or state directory, that holds the token files.
pub const DIR_NAME: &str = "socketio-hub";

/// Why a token file, a pointer or their directory cannot be trusted or read.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    #[error("{} is not a directory (a symlink is not accepted)", path.display())]
    NotADirectory { path: PathBuf },
    #[error("{} belongs to user id {owner}, not to this user ({me}); refusing to use it", path.display())]
    NotOwned { path: PathBuf, owner: u32, me: u32 },
    #[error(
        "{} is writable by other users (mode {mode:o}); refusing to use it: make it private with `chmod 700 {}`",
        path.display(),
        path.display()
    )]
    WritableByOthers { path: PathBuf, mode: u32 },
    #[error("{} is not a regular file (a symlink is not accepted)", path.display())]
    NotAFile { path: PathBuf },
    #[error("{} does not point to a token file: {reason}", pointer.display())]
    BadPointer { pointer: PathBuf, reason: &'static str },
    #[error("cannot read {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

/// The directory that holds the token files, or `None` when neither variable is set.
pub fn token_dir() -> Option<PathBuf> {
    env_path("XDG_RUNTIME_DIR").map(|runtime| runtime.join(DIR_NAME)).or_else(home_token_dir)
}

/// The directory a bare environment (cron: `HOME`, no `XDG_RUNTIME_DIR`) looks in, or `None` without `HOME`.
pub fn home_token_dir() -> Option<PathBuf> {
    env_path("HOME").map(|home| home.join(".local").join("state").join(DIR_NAME))
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// `publish-token-<port>`.
pub fn file_name(port: u16) -> String {
    format!("publish-token-{port}")
}

/// The token file of the hub listening on `port`.
pub fn default_token_file(port: u16) -> Option<PathBuf> {
    token_dir().map(|dir| dir.join(file_name(port)))
}

/// Where a hub that wrote `token_file` leaves a pointer to it: in [`home_token_dir`], when the file is in the
/// runtime directory. `None` when a bare environment finds the file itself, when it was put elsewhere on
/// purpose (`--token-file`: `publish` is then given the same path), or when its path is not UTF-8.
pub fn pointer_for(token_file: &Path) -> Option<PathBuf> {
    let (dir, home_dir) = (token_dir()?, home_token_dir()?);
    let name = token_file.file_name()?.to_str()?;
    let in_runtime_dir = token_file.parent() == Some(dir.as_path()) && dir != home_dir;
    (in_runtime_dir && token_file.is_absolute() && token_file.to_str().is_some())
        .then(|| home_dir.join(format!("{name}.path")))
}

/// What a pointer holds: the token file's absolute path, then a newline.
pub fn pointer_contents(token_file: &Path) -> String {
    format!("{}\n", token_file.display())
}

/// A publish token read from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundToken {
    pub token: String,
    /// The file the token was read from.
    pub file: PathBuf,
    /// The pointer that led there, when the file was found through one.
    pub pointer: Option<PathBuf>,
}

/// The token of the hub on `port`, looked for where that hub may have left it: the default token file,
/// the one under `$HOME` (a hub started without `XDG_RUNTIME_DIR`), then the pointer under `$HOME` (a hub
/// started with it). `Ok(None)` when there is nothing in any of these places.
pub fn find_token(port: u16) -> Result<Option<FoundToken>, TokenFileError> {
    let name = file_name(port);
    let mut files: Vec<PathBuf> = token_dir().into_iter().map(|dir| dir.join(&name)).collect();
    let home_dir = home_token_dir();
    if let Some(home_file) = home_dir.as_ref().map(|dir| dir.join(&name))
        && !files.contains(&home_file)
    {
        files.push(home_file);
    }
    for file in files {
        if let Some(token) = read_private(&file)? {
            return Ok(Some(FoundToken { token: token.trim().to_owned(), file, pointer: None }));
        }
    }
    let Some(pointer) = home_dir.map(|dir| dir.join(format!("{name}.path"))) else { return Ok(None) };
    let Some(target) = read_private(&pointer)? else { return Ok(None) };
    let file = PathBuf::from(target.trim_end_matches('\n'));
    let bad = |reason| TokenFileError::BadPointer { pointer: pointer.clone(), reason };
    if !file.is_absolute() {
        return Err(bad("the path is not absolute"));
    }
    // Only ever a token file of this port: a pointer can lead to nothing else.
    if file.file_name().and_then(|n| n.to_str()) != Some(name.as_str()) {
        return Err(bad("the file is not named after the port"));
    }
    // A pointer left by a hub that was killed may outlive its runtime directory: nothing to read then.
    Ok(read_private(&file)?.map(|token| FoundToken {
        token: token.trim().to_owned(),
        file,
        pointer: Some(pointer),
    }))
}

/// The files [`find_token`] reads for `port`, for messages.
pub fn searched(port: u16) -> Vec<PathBuf> {
    let name = file_name(port);
    let mut places: Vec<PathBuf> = token_dir().into_iter().map(|dir| dir.join(&name)).collect();
    if let Some(home_dir) = home_token_dir() {
        for place in [home_dir.join(&name), home_dir.join(format!("{name}.path"))] {
            if !places.contains(&place) {
                places.push(place);
            }
        }
    }
    places
}

/// Refuses `dir` unless it is a directory (not a symlink to one) that belongs to this user and that
/// group and others cannot write to: anyone who can write there can replace the files in it.
pub fn check_private_dir(dir: &Path) -> Result<(), TokenFileError> {
    let metadata =
        fs::symlink_metadata(dir).map_err(|source| TokenFileError::Io { path: dir.to_owned(), source })?;
    if !metadata.is_dir() {
        return Err(TokenFileError::NotADirectory { path: dir.to_owned() });
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        check_owner_and_mode(dir, metadata.uid(), metadata.mode(), effective_uid())?;
    }
    Ok(())
}

/// The ownership rule of [`check_private_dir`], apart from the file system so that it can be tested.
#[cfg_attr(not(unix), allow(dead_code))]
fn check_owner_and_mode(dir: &Path, owner: u32, mode: u32, me: u32) -> Result<(), TokenFileError> {
    if owner != me {
        return Err(TokenFileError::NotOwned { path: dir.to_owned(), owner, me });
    }
    if mode & 0o022 != 0 {
        return Err(TokenFileError::WritableByOthers { path: dir.to_owned(), mode: mode & 0o7777 });
    }
    Ok(())
}

/// The user this process runs as, who owns the token files it may read.
#[cfg(unix)]
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The longest token or pointer file read: both are one short line.
const MAX_FILE_LEN: u64 = 4096;

/// The text of `path`, a file in a private directory, or `None` when it does not exist. It is opened
/// without following a symlink (and without blocking on a FIFO), its directory must pass
/// [`check_private_dir`], and it must be a regular file of this user.
fn read_private(path: &Path) -> Result<Option<String>, TokenFileError> {
    let io_error = |source| TokenFileError::Io { path: path.to_owned(), source };
    let file = match open_no_follow(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if is_symlink_refusal(&e) => return Err(TokenFileError::NotAFile { path: path.to_owned() }),
        Err(e) => return Err(io_error(e)),
    };
    if let Some(dir) = path.parent() {
        check_private_dir(dir)?;
    }
    let metadata = file.metadata().map_err(io_error)?;
    if !metadata.is_file() {
        return Err(TokenFileError::NotAFile { path: path.to_owned() });
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let me = effective_uid();
        if metadata.uid() != me {
            return Err(TokenFileError::NotOwned { path: path.to_owned(), owner: metadata.uid(), me });
        }
    }
    let mut text = String::new();
    file.take(MAX_FILE_LEN).read_to_string(&mut text).map_err(io_error)?;
    Ok(Some(text))
}

#[cfg(unix)]
fn open_no_follow(path: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(path)
}

#[cfg(not(unix))]
fn open_no_follow(path: &Path) -> io::Result<fs::File> {
    fs::File::open(path)
}

/// `O_NOFOLLOW` on a symlink fails with `ELOOP`.
fn is_symlink_refusal(e: &io::Error) -> bool {
    #[cfg(unix)]
    {
        e.raw_os_error() == Some(libc::ELOOP)
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_directory_of_this_user_that_others_cannot_write_is_trusted() {
        let dir = Path::new("/x");
        assert!(check_owner_and_mode(dir, 1000, 0o40700, 1000).is_ok());
        assert!(check_owner_and_mode(dir, 1000, 0o40755, 1000).is_ok(), "readable is fine: files are 0600");
        assert!(matches!(
            check_owner_and_mode(dir, 0, 0o40700, 1000),
            Err(TokenFileError::NotOwned { owner: 0, me: 1000, .. })
        ));
        for mode in [0o40770, 0o40707, 0o41777] {
            let refused = check_owner_and_mode(dir, 1000, mode, 1000).unwrap_err();
            assert!(matches!(refused, TokenFileError::WritableByOthers { .. }), "{mode:o}");
            assert!(refused.to_string().contains("chmod 700 /x"), "{refused}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn files_are_read_only_from_private_directories_and_never_through_symlinks() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("token-file-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        let file = dir.join("publish-token-1");
        assert_eq!(read_private(&file).unwrap(), None);

        fs::write(&file, "secret\n").unwrap();
        assert_eq!(read_private(&file).unwrap().as_deref(), Some("secret\n"));

        let link = dir.join("publish-token-2");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(matches!(read_private(&link), Err(TokenFileError::NotAFile { .. })));

        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(read_private(&file), Err(TokenFileError::WritableByOthers { .. })));
        fs::remove_dir_all(&dir).unwrap();
    }
}
