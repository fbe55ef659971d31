#!/usr/bin/env bash
# The scale check: one hub (release build) holding N idle connections, each joined to one room and
# answering the hub's pings for 60 s (two ping intervals), then its RSS and how many stayed open.
# Writes bench/results/scale.md and scale.jsonl.
#
# Usage: bench/scale.sh [N] [--fit]
#   N      connections (default 50000); the hub and the load generator each need N + 1024 open files
#   --fit  if the open-files limit cannot be raised that far, run the largest N it allows instead of
#          failing
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/listening.sh

clients=50000
fit=no
hold=60
for arg in "$@"; do
    case "$arg" in
        --fit) fit=yes ;;
        *[!0-9]* | "") echo "usage: bench/scale.sh [N] [--fit]" >&2; exit 2 ;;
        *) clients="$arg" ;;
    esac
done

need=$((clients + 1024))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
    # Raising the hard limit needs root with CAP_SYS_RESOURCE (or LimitNOFILE= in a service unit).
    ulimit -Hn "$need" 2>/dev/null || true
    hard=$(ulimit -Hn)
fi
if [ "$hard" = unlimited ] || [ "$hard" -ge "$need" ]; then
    ulimit -n "$need"
elif [ "$fit" = yes ]; then
    ulimit -n "$hard"
    clients=$((hard - 1024))
    echo "bench/scale.sh: open files capped at $hard here; running $clients connections instead" >&2
else
    echo "bench/scale.sh: $clients connections need $need open files per process, and the limit is" \
        "$hard here and cannot be raised (needs root with CAP_SYS_RESOURCE); --fit runs the largest" \
        "count it allows" >&2
    exit 1
fi

cargo build --release --locked -p hub -p loadgen
log=$(mktemp)
./target/release/hub --bind 127.0.0.1:0 --publish-token bench-publish-token 2>"$log" &
hub=$!
trap 'kill $hub 2>/dev/null; rm -f "$log"' EXIT
port=$(listening_port "$log" "bench/scale.sh: the hub") || exit 1

mkdir -p bench/results
out=bench/results/scale.jsonl
./target/release/loadgen run --scenario idle --clients "$clients" --hold "$hold" \
    --server "127.0.0.1:$port" --name hub --pid "$hub" | tee "$out"

python3 - "$out" "$clients" "$hold" "$(ulimit -n)" "$(nproc)" "bench/scale.sh${*:+ $*}" <<'PY' >bench/results/scale.md
import json, sys, datetime
report = json.loads(open(sys.argv[1]).read().splitlines()[-1])
clients, hold, limit, cores, command = sys.argv[2:7]
print("# Scale: idle connections held by one hub\n")
print(f"Command: `{command}`, {cores} cores, open files {limit}, {datetime.date.today()}, release build.\n")
print("| connections | still open after " + hold + " s | connects/s | hub RSS | RSS per connection |")
print("|---:|---:|---:|---:|---:|")
print(f"| {int(clients):,} | {report['held']:,} | {report['connect_per_s']:,.0f} | "
      f"{report['server_rss_mib']:,.0f} MiB | {report['rss_kib_per_conn']:.1f} KiB |")
PY
cat bench/results/scale.md
