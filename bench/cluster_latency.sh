#!/usr/bin/env bash
# Cross-node publish latency through Redis, next to the same run on one hub: p50/p90/p99/max from a
# publish on one hub to its receipt on another. Runs the measurement RUNS times (default 3) and writes
# bench/results/cluster-latency.md. Needs redis-server (installed with apt when missing).
#
# Usage: bench/cluster_latency.sh [RUNS] [SUBSCRIBERS] [MESSAGES] [RATE_PER_S]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
shift || true
out=bench/results/cluster-latency.md

command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server >/dev/null; }
cargo build --release --workspace --bins --locked

mkdir -p bench/results
{
    echo "# Cross-node publish latency"
    echo
    echo "Command: \`bench/cluster_latency.sh $runs $*\` on $(nproc) cores, $(redis-server --version | cut -d' ' -f1-3)."
    echo "Each run starts its own hubs (release build) and redis-server on loopback."
    for run in $(seq "$runs"); do
        echo
        echo "## Run $run"
        echo
        ./target/release/cluster-latency "$@"
    done
} | tee "$out"
