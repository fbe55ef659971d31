#!/usr/bin/env bash
# The cluster benchmark: three servers of each kind joined through one redis-server, on loopback, in one
# run, the kinds taking turns:
#   hub   three hubs with --redis-url (release build)
#   node  three official socket.io v4 processes with @socket.io/redis-adapter (bench/node/server.mjs
#         with a Redis URL); their acks count this node's sockets only, which favours Node (the hub
#         counts the whole cluster): see the file's header
#   node-fetch  the same, counting the whole cluster with fetchSockets() (opt-in with --servers)
# The load generator spreads the subscribers over the three in turn and publishes through the first, so
# two thirds of the deliveries cross Redis. Scenarios: `saturate` (publishes kept in flight as fast as
# the acks come back) and `fanout` (a fixed rate), each with fresh server processes and an emptied Redis
# (FLUSHALL: the hubs keep history there). The server CPU and RSS in the reports are the sums over the
# three processes; redis-server's are not counted. Reports (JSON lines) go to
# bench/results/cluster.jsonl, the table of medians with the hub / node ratios to
# bench/results/cluster.md (for --smoke: target/bench-smoke/, out of the repository). Needs
# redis-server (installed with apt when missing; if it cannot be, the run fails).
#
# Usage: bench/cluster.sh [--smoke] [--runs N] [--debug] [--servers "hub node ..."]
#   --smoke    small N and short runs, to keep the tools working (scripts/test.sh runs this with --debug)
#   --debug    use the debug builds that `cargo build --workspace --bins` made, instead of a release build
#   --servers  which kinds, in this order (default "hub node")
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/listening.sh

mode=full runs=3 profile=release servers="hub node"
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) mode=smoke; runs=1 ;;
        --runs) runs="$2"; shift ;;
        --debug) profile=debug ;;
        --servers) servers="$2"; shift ;;
        *) echo "bench/cluster.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
nodes=3

# Every connection is a file descriptor in the load generator and in a server.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "open files limit: $(ulimit -n)" >&2

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >/dev/null
fi
if [ "$profile" = release ]; then cargo build --release --locked -p hub -p loadgen; fi
(cd bench/node && npm ci --no-audit --no-fund --loglevel=error)
bin="target/$profile"

if [ "$mode" = smoke ]; then
    scenarios=("saturate --clients 90 --window 8 --seconds 2" "fanout --clients 90 --rate 5 --seconds 2")
else
    scenarios=("saturate --clients 3000 --window 16 --seconds 10 --payload 64"
        "fanout --clients 3000 --rate 10 --seconds 10")
fi

dir=$(mktemp -d)
redis_pid="" server_pids=()
# Stops what is still running and waits for it, so that nothing outlives the script, not even as a zombie.
cleanup() {
    local pids=("${server_pids[@]}")
    if [ -n "$redis_pid" ]; then pids+=("$redis_pid"); fi
    if [ "${#pids[@]}" -gt 0 ]; then
        kill "${pids[@]}" 2>/dev/null || true
        wait "${pids[@]}" 2>/dev/null || true
    fi
    rm -rf "$dir"
}
trap cleanup EXIT

redis_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" >"$dir/redis.log" 2>&1 &
redis_pid=$!
redis_url="redis://127.0.0.1:$redis_port"
for _ in $(seq 100); do
    if redis-cli -p "$redis_port" ping >/dev/null 2>&1; then break; fi
    sleep 0.1
done
redis-cli -p "$redis_port" ping >/dev/null || { echo "bench/cluster.sh: redis-server did not start:" >&2; cat "$dir/redis.log" >&2; exit 1; }

# Starts the $nodes servers of kind $1 and waits until each listens; sets server_pids and addresses.
start() {
    server_pids=() addresses=()
    local n log port
    for n in $(seq "$nodes"); do
        log="$dir/$1-$n.log"
        case "$1" in
            hub) "$bin/hub" --bind 127.0.0.1:0 --publish-token bench-publish-token --redis-url "$redis_url" 2>"$log" & ;;
            node) node bench/node/server.mjs 0 bench-publish-token adapter "$redis_url" >"$log" 2>&1 & ;;
            node-fetch) node bench/node/server.mjs 0 bench-publish-token fetch "$redis_url" >"$log" 2>&1 & ;;
            *) echo "bench/cluster.sh: unknown server $1" >&2; exit 2 ;;
        esac
        server_pids+=($!)
    done
    for n in $(seq "$nodes"); do
        port=$(listening_port "$dir/$1-$n.log" "bench/cluster.sh: $1 $n") || exit 1
        addresses+=("127.0.0.1:$port")
    done
}

# Stops the servers, then empties Redis for the next kind.
stop() {
    kill "${server_pids[@]}" 2>/dev/null || true
    wait "${server_pids[@]}" 2>/dev/null || true
    server_pids=()
    redis-cli -p "$redis_port" flushall >/dev/null
}

results=bench/results
if [ "$mode" = smoke ]; then results=target/bench-smoke; fi
mkdir -p "$results"
out="$results/cluster.jsonl"
: >"$out"
join() { local IFS=,; echo "$*"; }
# Kinds take turns within each scenario, so that a change in the machine's load (it is shared) falls on
# all of them alike.
for run in $(seq "$runs"); do
    for scenario in "${scenarios[@]}"; do
        for server in $servers; do
            start "$server"
            echo "run $run/$runs: $server x$nodes $scenario" >&2
            # shellcheck disable=SC2086 # the scenario is a list of flags
            "$bin/loadgen" run --scenario $scenario --server "$(join "${addresses[@]}")" --name "$server" \
                --pid "$(join "${server_pids[@]}")" | tee -a "$out"
            stop
        done
    done
done

{
    echo "# Cluster benchmark ($mode)"
    echo
    echo "Command: \`bench/cluster.sh$([ "$mode" = smoke ] && echo " --smoke") --runs $runs --servers \"$servers\"\`," \
        "$nodes servers of each kind and one $(redis-server --version | cut -d' ' -f1-3), $(nproc) cores," \
        "$(date -u +%Y-%m-%d), $profile build, node $(node --version). Medians of $runs runs." \
        "Subscribers spread over the $nodes servers, publisher on the first; server CPU and RSS summed over" \
        "the $nodes (redis-server not counted)."
    "$bin/loadgen" table "$out"
} >"$results/cluster.md"
echo "wrote $results/cluster.md" >&2
