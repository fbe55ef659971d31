//! The `hub` and `publish` binaries of this workspace, as built by `cargo build --workspace --bins`.

use std::path::PathBuf;

/// Path of a workspace binary, next to this test's own build directory.
pub fn path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let dir = exe.parent().and_then(|deps| deps.parent()).expect("target directory");
    let binary = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.exists(),
        "{} is missing: build the binaries first (`cargo build --workspace --bins`, as scripts/test.sh does)",
        binary.display()
    );
    binary
}
