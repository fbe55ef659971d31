//! Embeds the official socket.io browser client into the hub, so the demo page works with no CDN.
//!
//! The client comes from npm through `js-demo/package-lock.json`; the first build runs `npm ci` there.

use std::path::{Path, PathBuf};
use std::process::Command;

const CLIENT: &str = "node_modules/socket.io-client/dist/socket.io.min.js";

fn main() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../js-demo");
    let demo = demo.canonicalize().unwrap_or(demo);
    println!("cargo:rerun-if-changed={}", demo.join("package-lock.json").display());
    println!("cargo:rerun-if-changed={}", demo.join(CLIENT).display());

    let client = demo.join(CLIENT);
    if !client.exists() {
        install_client(&demo);
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::copy(&client, out.join("socket.io.min.js"))
        .unwrap_or_else(|e| panic!("cannot copy {} into the build: {e}", client.display()));
}

fn install_client(demo: &Path) {
    let status =
        Command::new("npm").args(["ci", "--no-audit", "--no-fund", "--omit=dev"]).current_dir(demo).status();
    match status {
        Ok(status) if status.success() => {}
        Ok(status) => panic!(
            "`npm ci` in {} failed ({status}); the hub embeds the socket.io client from npm",
            demo.display()
        ),
        Err(e) => panic!(
            "cannot run npm ({e}); install Node.js and npm, or run `npm ci` in {} yourself",
            demo.display()
        ),
    }
}
