//! `deploy/hub.service`, the systemd unit: `systemd-analyze verify` accepts it, pointed at the hub just
//! built, without a single warning, and `systemd-analyze security` rates its sandbox. systemd only warns
//! about an unknown key or a bad value and still exits 0, so a warning counts as a failure here; copies
//! with such mistakes are refused, which shows that the check bites.
//!
//! A machine without systemd-analyze skips these tests, except under `CI=true`, where it is a failure
//! (scripts/test.sh installs Debian's `systemd` package).

use std::path::{Path, PathBuf};
use std::process::Command;

use e2e::binaries::path;

/// Where the unit expects the binary (`cargo install --path hub --root /usr/local`).
const EXEC_START: &str = "ExecStart=/usr/local/bin/hub\n";

/// The highest exposure `systemd-analyze security` may give the unit, in tenths (`2.0`; the scale goes
/// from 0, locked down, to 10, unprotected).
const MAX_EXPOSURE: &str = "20";

fn unit() -> String {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/hub.service");
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()))
}

/// The unit with its `ExecStart` pointed at the freshly built binary (verify checks that it exists), and
/// nothing else changed.
fn with_built_hub(unit: &str) -> String {
    assert_eq!(unit.matches(EXEC_START).count(), 1, "the unit starts {EXEC_START}");
    unit.replace(EXEC_START, &format!("ExecStart={}\n", path("hub").display()))
}

/// `systemd-analyze`, or `None` where it is missing and that is allowed (not under `CI=true`).
fn systemd_analyze() -> Option<&'static str> {
    let found = Command::new("systemd-analyze").arg("--version").output().is_ok_and(|o| o.status.success());
    if found {
        return Some("systemd-analyze");
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "systemd-analyze is missing: install Debian's systemd package (scripts/test.sh does)"
    );
    eprintln!("skipped: systemd-analyze is missing");
    None
}

/// Writes `text` as `hub.service` into a directory of its own (verify reads the unit's directory too).
fn write_unit(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hub-service-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("hub.service");
    std::fs::write(&file, text).unwrap();
    file
}

/// `systemd-analyze verify` on `text`: `Err` with what it said when it failed or warned.
fn verify(analyze: &str, name: &str, text: &str) -> Result<(), String> {
    let file = write_unit(name, text);
    let output = Command::new(analyze).args(["verify", "--man=no"]).arg(&file).output().expect("run verify");
    std::fs::remove_dir_all(file.parent().unwrap()).unwrap();
    let said = String::from_utf8_lossy(&output.stderr).into_owned();
    match output.status.success() && said.trim().is_empty() {
        true => Ok(()),
        false => Err(format!("{}: {said}", output.status)),
    }
}

/// `systemd-analyze security --offline` on `text`: whether the exposure is at most [`MAX_EXPOSURE`], and
/// the report.
fn sandboxed(analyze: &str, name: &str, text: &str) -> (bool, String) {
    let file = write_unit(name, text);
    let output = Command::new(analyze)
        .args(["security", "--offline=yes", &format!("--threshold={MAX_EXPOSURE}")])
        .arg(&file)
        .output()
        .expect("run systemd-analyze security");
    std::fs::remove_dir_all(file.parent().unwrap()).unwrap();
    let report =
        String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), report)
}

#[test]
fn the_unit_is_valid_without_a_warning() {
    let Some(analyze) = systemd_analyze() else { return };
    let unit = with_built_hub(&unit());
    verify(analyze, "valid", &unit).unwrap_or_else(|said| panic!("verify refused the unit: {said}"));
}

#[test]
fn mistakes_in_a_copy_are_refused() {
    let Some(analyze) = systemd_analyze() else { return };
    let unit = with_built_hub(&unit());
    let mistakes = [
        ("misspelled-key", unit.replace("ProtectSystem=strict", "ProtectSytem=strict"), "Unknown key"),
        ("bad-value", unit.replace("ProtectSystem=strict", "ProtectSystem=stricter"), "stricter"),
        ("bad-family", unit.replace("AF_UNIX", "AF_UNIKS"), "AF_UNIKS"),
        (
            "no-binary",
            unit.replace(&path("hub").display().to_string(), "/nonexistent/hub"),
            "/nonexistent/hub",
        ),
    ];
    for (name, broken, expected) in mistakes {
        assert_ne!(broken, unit, "{name}: the mistake was made");
        let said = verify(analyze, name, &broken).expect_err(name);
        assert!(said.contains(expected), "{name}: {said}");
    }
}

#[test]
fn the_sandbox_is_rated_and_a_copy_without_it_is_not() {
    let Some(analyze) = systemd_analyze() else { return };
    let unit = with_built_hub(&unit());
    for required in [
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=\n",
        "SystemCallFilter=@system-service",
        "Restart=on-failure",
        "Environment=HUB_BIND=127.0.0.1:",
        "LimitNOFILE=",
    ] {
        assert!(unit.contains(required), "the unit has {required:?}");
    }
    let (ok, report) = sandboxed(analyze, "sandboxed", &unit);
    assert!(ok, "exposure above {MAX_EXPOSURE} tenths:\n{report}");

    let unprotected: String = unit
        .lines()
        .filter(|line| !line.starts_with("DynamicUser=") && !line.starts_with("Protect"))
        .filter(|line| !line.starts_with("SystemCall") && !line.starts_with("CapabilityBoundingSet="))
        .map(|line| format!("{line}\n"))
        .collect();
    let (ok, report) = sandboxed(analyze, "unprotected", &unprotected);
    assert!(!ok, "without its sandbox the unit must rate worse than {MAX_EXPOSURE} tenths:\n{report}");
}
