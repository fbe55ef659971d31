#!/usr/bin/env bash
# Runs the whole test suite: Rust unit and end-to-end tests, then the Node tests: the official
# socket.io-client against the hub, and the demo page in headless Chromium (playwright-core). First installs
# what the tests need and is missing: Debian packages (Node.js, npm, OpenSSL headers, Chromium, Redis for the
# cluster tests, which start their own redis-server on a free port) and the npm
# packages pinned by the committed lockfiles. A missing tool is an error, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

have() { command -v "$1" >/dev/null 2>&1; }

apt_install() {
    if ! have apt-get; then
        echo "test.sh: missing $*; install it with your package manager" >&2
        exit 1
    fi
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    echo "test.sh: installing $* with apt-get" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

have cargo || { echo "test.sh: cargo is required (https://rustup.rs)" >&2; exit 1; }
if ! have node || ! have npm; then apt_install nodejs npm; fi
if ! have pkg-config || ! pkg-config --exists openssl; then apt_install pkg-config libssl-dev; fi
if [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then apt_install chromium fonts-liberation; fi
if ! have redis-server; then apt_install redis-server; fi

echo "==> npm packages (from the lockfiles)"
(cd js-demo && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/node && npm ci --no-audit --no-fund --loglevel=error)

echo "==> build"
cargo build --workspace --bins --locked

echo "==> Rust tests"
cargo test --workspace --locked

echo "==> Node tests (official socket.io-client, and the demo page in Chromium)"
(cd tests/node && npm test)

echo "==> Benchmark smoke run (small N, debug build: keeps the tools working; numbers not meaningful)"
bench/run.sh --smoke --debug
