#!/usr/bin/env bash
# Connect-and-join rate of a cluster: N sockets (default 3000) connect and join one room across 3 hubs
# (release build) sharing one redis-server, a third through each hub, the three load generators at once.
# Prints the cluster's connects/s, each hub's RSS before the load, and the messages between the hubs
# each hub lost (hub_cluster_messages_lost_total, and the library's "lagged" log lines). Needs
# redis-server.
#
# Usage: bench/cluster_joins.sh [N] [HUB_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/listening.sh

clients="${1:-3000}"
hub_bin="${2:-./target/release/hub}"
per_hub=$((clients / 3))
[ "$#" -ge 2 ] || cargo build --release --locked -p hub -p loadgen
command -v redis-server >/dev/null || { echo "bench/cluster_joins.sh: redis-server is needed" >&2; exit 1; }

dir=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$dir"' EXIT
redis_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >"$dir/redis.log" 2>&1 &
pids+=($!)
until redis-cli -p "$redis_port" ping >/dev/null 2>&1; do sleep 0.1; done

ports=()
for n in 1 2 3; do
    "$hub_bin" --bind 127.0.0.1:0 --publish-token bench-publish-token \
        --redis-url "redis://127.0.0.1:$redis_port" 2>"$dir/hub$n.log" &
    pids+=($!)
    ports+=("$(listening_port "$dir/hub$n.log" "bench/cluster_joins.sh: hub $n")")
    echo "hub $n: RSS at start $(($(ps -o rss= -p "${pids[-1]}") / 1024)) MiB"
done

loads=()
for n in 0 1 2; do
    ./target/release/loadgen run --scenario idle --clients "$per_hub" \
        --server "127.0.0.1:${ports[$n]}" --name "hub$((n + 1))" >"$dir/load$n.json" &
    loads+=($!)
done
wait "${loads[@]}"
python3 - "$dir" "$clients" <<'PY'
import json, sys
directory, clients = sys.argv[1], int(sys.argv[2])
rates = [json.loads(open(f"{directory}/load{n}.json").read().splitlines()[-1])["connect_per_s"] for n in range(3)]
# Each generator connected a third; the cluster's rate is set by the slowest.
print(f"{clients} sockets joined one room across 3 hubs: {3 * min(rates):,.0f} connects/s "
      f"(per hub: {', '.join(f'{r:,.0f}' for r in rates)})")
PY
for n in 0 1 2; do
    lost=$(curl -s "http://127.0.0.1:${ports[$n]}/metrics" | awk '/^hub_cluster_messages_lost_total/ {print $2}')
    lagged=$(grep -c 'lagged' "$dir/hub$((n + 1)).log" || true)
    echo "hub $((n + 1)): lost ${lost:-(no metric)}, 'lagged' log lines $lagged"
done
