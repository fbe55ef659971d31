#!/usr/bin/env bash
# Memory per kept event of the in-memory history: one publisher records events into rooms nobody else
# is in, against the hub with history (`hub`, with room for every event) and without (`hub-nohist`,
# --history-size 0); the difference of the RSS growth per event is what history keeps. Two shapes:
# 1,000 rooms x 100 events (the events' cost) and 100,000 rooms x 1 event (a stream's cost on top), for
# published events (`{"id":N,"text":64 x}`, 82 to 86 bytes of JSON), and 1,000 x 100 100-character chat
# messages.
# Results: bench/results/history-memory.md (raw JSON lines in history-memory.jsonl).
#
# Usage: bench/history_memory.sh [--runs N]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/listening.sh

runs=1
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs="$2"; shift ;;
        *) echo "bench/history_memory.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

cargo build --release --locked -p hub -p loadgen
bin=target/release
log=$(mktemp)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -f "$log"; }
trap cleanup EXIT

# Chat has a rate per socket: the one publisher here sends as fast as the hub acks.
common=(--bind 127.0.0.1:0 --publish-token bench-publish-token --rate-limit 1000000 --rate-burst 1000000)
start() {
    : >"$log"
    case "$1" in
        hub) "$bin/hub" "${common[@]}" --history-size 1000 --history-memory 4GiB --history-ttl 1h 2>"$log" & ;;
        hub-nohist) "$bin/hub" "${common[@]}" --history-size 0 2>"$log" & ;;
    esac
    server_pid=$!
    port=$(listening_port "$log" "bench/history_memory.sh: $1") || exit 1
}
stop() {
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

out=bench/results/history-memory.jsonl
: >"$out"
# Chat needs the publisher in each room, and 100,000 joined rooms cost the hub more than the events, so
# chat is measured with 1,000 rooms only.
for run in $(seq "$runs"); do
    for shape in "publish --payload 64 --rooms 1000 --events 100" "chat --payload 100 --rooms 1000 --events 100" \
        "publish --payload 64 --rooms 100000 --events 1"; do
        for server in hub hub-nohist; do
            start "$server"
            echo "run $run/$runs: $server $shape" >&2
            # shellcheck disable=SC2086 # a list of flags
            "$bin/loadgen" run --scenario history --kind $shape --server "127.0.0.1:$port" \
                --name "$server" --pid "$server_pid" | tee -a "$out"
            stop
        done
    done
done

{
    echo "# History: memory per kept event"
    echo
    echo "Command: \`bench/history_memory.sh --runs $runs\`, $(nproc) cores, $(date -u +%Y-%m-%d), release build." \
        "Medians of $runs runs. \`clients\` is the number of rooms; *hub - hub-nohist* is what history keeps."
    "$bin/loadgen" table "$out"
} >bench/results/history-memory.md
echo "wrote bench/results/history-memory.md" >&2
