#!/usr/bin/env bash
# The benchmark suite: the same scenarios against three servers in turn, on loopback, in one run:
#   hub      this project (release build)
#   node     the official socket.io v4 package serving the same contract (bench/node/server.mjs), rooms
#            counted from the adapter as a tuned single process would
#   node-fetch  the same, counting with fetchSockets() (opt-in with --servers: a labelled extra row)
#   ceiling  a minimal hand-written Rust broadcaster (bench/loadgen/src/bin/ceiling.rs)
# Each scenario gets a fresh server process. Reports (JSON lines) go to bench/results/suite.jsonl and the
# table of medians, with the hub's ratios to node and to the ceiling, to bench/results/suite.md (for
# --smoke: target/bench-smoke/, out of the repository).
#
# Usage: bench/run.sh [--smoke] [--runs N] [--debug] [--servers "hub node ..."] [--out NAME]
#   --smoke    small N and short runs, to keep the tools working (CI runs this with --debug)
#   --debug    use the debug builds that `cargo build --workspace --bins` made, instead of a release build
#   --servers  which servers, in this order (default "hub node ceiling"); `hub-nohist` is the hub with
#              --history-size 0, to measure what recording history costs
#   --out      name of the result files in bench/results (default "suite")
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/listening.sh

mode=full runs=3 profile=release servers="hub node ceiling" name=suite
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) mode=smoke; runs=1 ;;
        --runs) runs="$2"; shift ;;
        --debug) profile=debug ;;
        --servers) servers="$2"; shift ;;
        --out) name="$2"; shift ;;
        *) echo "bench/run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

# Every connection is a file descriptor in the load generator and in the server.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "open files limit: $(ulimit -n)" >&2

if [ "$profile" = release ]; then cargo build --release --locked -p hub -p loadgen; fi
(cd bench/node && npm ci --no-audit --no-fund --loglevel=error)
bin="target/$profile"

if [ "$mode" = smoke ]; then
    scenarios=("idle --clients 200 --hold 1" "fanout --clients 200 --rate 5 --seconds 2"
        "saturate --clients 50 --window 16 --seconds 2" "echo --clients 10 --seconds 2")
else
    scenarios=("idle --clients 10000" "fanout --clients 10000 --rate 5 --seconds 10"
        "saturate --clients 1000 --window 8 --seconds 10 --payload 64"
        "saturate --clients 1000 --window 32 --seconds 10 --payload 64" "echo --clients 50 --seconds 10")
fi

log=$(mktemp)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -f "$log"; }
trap cleanup EXIT

# Starts server $1 on a free port; sets server_pid and port.
start() {
    : >"$log"
    case "$1" in
        hub) "$bin/hub" --bind 127.0.0.1:0 --publish-token bench-publish-token 2>"$log" & ;;
        hub-nohist) "$bin/hub" --bind 127.0.0.1:0 --publish-token bench-publish-token --history-size 0 2>"$log" & ;;
        node) node bench/node/server.mjs 0 bench-publish-token adapter >"$log" 2>&1 & ;;
        node-fetch) node bench/node/server.mjs 0 bench-publish-token fetch >"$log" 2>&1 & ;;
        ceiling) "$bin/ceiling" 0 >"$log" 2>&1 & ;;
        *) echo "bench/run.sh: unknown server $1" >&2; exit 2 ;;
    esac
    server_pid=$!
    port=$(listening_port "$log" "bench/run.sh: $1") || exit 1
}

stop() {
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

results=bench/results
if [ "$mode" = smoke ]; then results=target/bench-smoke; fi
mkdir -p "$results"
out="$results/$name.jsonl"
: >"$out"
# Servers take turns within each scenario, so that a change in the machine's load (it is shared) falls
# on all of them alike.
for run in $(seq "$runs"); do
    for scenario in "${scenarios[@]}"; do
        for server in $servers; do
            start "$server"
            echo "run $run/$runs: $server $scenario" >&2
            # shellcheck disable=SC2086 # the scenario is a list of flags
            "$bin/loadgen" run --scenario $scenario --server "127.0.0.1:$port" --name "$server" \
                --pid "$server_pid" | tee -a "$out"
            stop
        done
    done
done

{
    echo "# Benchmark suite ($mode)"
    echo
    echo "Command: \`bench/run.sh$([ "$mode" = smoke ] && echo " --smoke") --runs $runs --servers \"$servers\"$([ "$name" != suite ] && echo " --out $name")\`," \
        "$(nproc) cores," \
        "$(date -u +%Y-%m-%d), $profile build, node $(node --version). Medians of $runs runs."
    "$bin/loadgen" table "$out"
} >"$results/$name.md"
echo "wrote $results/$name.md" >&2
