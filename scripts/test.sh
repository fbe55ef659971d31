#!/usr/bin/env bash
# Runs the whole test suite: Rust unit and end-to-end tests, then the Node tests: the official
# socket.io-client (v4, and v2 for --allow-eio3) against the hub, and the demo page in headless Chromium
# (playwright-core); then the Python tests: python-socketio clients against the hub; then the benchmark
# smoke runs. First installs what the tests need and is missing: Debian packages (Node.js, npm, OpenSSL
# headers, Chromium, Redis for the cluster tests and the cluster benchmark, which start their own
# redis-server on a free port, systemd-analyze, Python's venv), the npm packages pinned by the committed
# lockfiles, and the PyPI packages pinned by tests/python/requirements.txt in a virtualenv
# (tests/python/.venv). A missing tool is an error, never a skip.
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
# systemd-analyze checks deploy/hub.service (tests/service_unit.rs); no running systemd is needed.
if ! have systemd-analyze; then apt_install systemd; fi
# Debian splits venv and its pip bootstrap out of python3.
if ! have python3 || ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then apt_install python3 python3-venv; fi

echo "==> npm packages (from the lockfiles)"
(cd js-demo && npm ci --no-audit --no-fund --loglevel=error)
(cd hub/admin-ui && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/node && npm ci --no-audit --no-fund --loglevel=error)

echo "==> Python packages (tests/python/requirements.txt, in tests/python/.venv)"
venv=tests/python/.venv
# A venv left half-made by an interrupted run, or made by a Python that has since gone, is made again.
if ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then python3 -m venv --clear "$venv"; fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt

echo "==> build"
cargo build --workspace --bins --locked

echo "==> Rust tests"
cargo test --workspace --locked

echo "==> Node tests (official socket.io-client, and the demo page in Chromium)"
(cd tests/node && npm test)

echo "==> Python tests (python-socketio)"
status=0
(cd tests/python && .venv/bin/python -m pytest -q) || status=$?
# pytest exits 5 when it collected no tests: a suite that silently went missing, not a pass.
if [ "$status" -eq 5 ]; then echo "test.sh: pytest found no tests in tests/python" >&2; exit 1; fi
if [ "$status" -ne 0 ]; then exit "$status"; fi

echo "==> Benchmark smoke run (small N, debug build: keeps the tools working; numbers not meaningful)"
bench/run.sh --smoke --debug
echo "==> Cluster benchmark smoke run (3 hubs and 3 Node processes through one redis-server; small N, debug build)"
bench/cluster.sh --smoke --debug

echo "==> Soak smoke run (20 s, debug build: keeps the tool working; numbers not meaningful)"
bench/soak.sh --smoke --debug
