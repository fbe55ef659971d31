#!/usr/bin/env bash
# The cluster scale check: 3 hubs (release build) sharing one redis-server hold N idle connections
# together, a third each, every one joined to one room and answering the hubs' pings for M minutes.
# Each hub gets its own load generator (`loadgen run --scenario hold`), so no process needs more
# than a third of the open files (a process here may open at most 20,000). While they hold, every hub's
# RSS, open files and connected sockets are read every 30 s; at the end, per hub and in total: RSS, RSS
# per connection, connections still open. Writes bench/results/cluster-scale.md and .jsonl (with
# --debug: target/bench-smoke/, as debug figures mean nothing). Needs redis-server and curl.
#
# Usage: bench/cluster_scale.sh [N] [--minutes M] [--debug]
#   N            connections in all (default 50000); each hub and each load generator needs N/3 + 1024
#                open files
#   --minutes M  how long the connections are held (default 10; decimals allowed)
#   --debug      use the debug builds that `cargo build --workspace --bins` made (a smoke run)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/listening.sh

clients=50000 minutes=10 profile=release
command="bench/cluster_scale.sh${*:+ $*}"
while [ $# -gt 0 ]; do
    case "$1" in
        --minutes) minutes="${2:-}"; shift ;;
        --debug) profile=debug ;;
        *[!0-9]* | "") echo "usage: bench/cluster_scale.sh [N] [--minutes M] [--debug]" >&2; exit 2 ;;
        *) clients="$1" ;;
    esac
    shift
done
hold=$(awk -v m="$minutes" 'BEGIN { printf "%.1f", m * 60 }')
command -v redis-server >/dev/null || { echo "bench/cluster_scale.sh: redis-server is needed" >&2; exit 1; }

# A third each, the first hubs taking what does not divide.
per_hub=()
for n in 0 1 2; do per_hub+=($(((clients + 2 - n) / 3))); done
need=$((per_hub[0] + 1024))
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
    echo "bench/cluster_scale.sh: ${per_hub[0]} connections per hub need $need open files per process, and" \
        "the limit is $hard here (raising it needs root with CAP_SYS_RESOURCE)" >&2
    exit 1
fi
# The soft limit only: the hubs raise theirs to the hard limit at start.
ulimit -Sn "$need"

if [ "$profile" = release ]; then cargo build --release --locked -p hub -p loadgen; fi
bin="target/$profile"
results=bench/results
if [ "$profile" = debug ]; then results=target/bench-smoke; fi
mkdir -p "$results"
out="$results/cluster-scale.jsonl"
: >"$out"

dir=$(mktemp -d)
pids=()
# Some may have ended already; errexit applies in the trap too.
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$dir"' EXIT
redis_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >"$dir/redis.log" 2>&1 &
redis=$!
pids+=("$redis")
until redis-cli -p "$redis_port" ping >/dev/null 2>&1; do sleep 0.1; done

hubs=() ports=()
for n in 0 1 2; do
    # --max-connections within the open-files limit: the default (100000) would make the hub warn.
    "$bin/hub" --bind 127.0.0.1:0 --publish-token bench-publish-token --max-connections $((per_hub[n] + 500)) \
        --redis-url "redis://127.0.0.1:$redis_port" 2>"$dir/hub$n.log" &
    hubs+=($!)
    pids+=($!)
    ports+=("$(listening_port "$dir/hub$n.log" "bench/cluster_scale.sh: hub $((n + 1))")")
done

# One JSON line per hub: its RSS, open files and connected sockets (its metrics) at $1 seconds.
sample() {
    local n rss files sockets
    for n in 0 1 2; do
        rss=$(awk '/^VmRSS:/ {print $2}' "/proc/${hubs[$n]}/status" 2>/dev/null || echo null)
        files=$(find "/proc/${hubs[$n]}/fd" -mindepth 1 2>/dev/null | wc -l)
        # A hub too busy to answer within 5 s is a missing reading, not the end of the readings.
        sockets=$({ curl -s --max-time 5 "http://127.0.0.1:${ports[$n]}/metrics" || true; } |
            awk '/^hub_connected_sockets/ {s += $2; seen = 1} END {print seen ? s : "null"}')
        echo "{\"kind\":\"sample\",\"t\":$1,\"hub\":$((n + 1)),\"rss_kib\":${rss:-null},\"open_files\":$files,\"sockets\":$sockets}"
    done
    echo "{\"kind\":\"sample\",\"t\":$1,\"redis_rss_kib\":$(awk '/^VmRSS:/ {print $2}' "/proc/$redis/status")}"
}
sample 0 | tee -a "$out"

loads=()
for n in 0 1 2; do
    "$bin/loadgen" run --scenario hold --clients "${per_hub[$n]}" --hold "$hold" \
        --server "127.0.0.1:${ports[$n]}" --name "hub$((n + 1))" --pid "${hubs[$n]}" >"$dir/load$n.json" &
    loads+=($!)
    pids+=($!)
done
echo "bench/cluster_scale.sh: $clients connections across 3 hubs (${per_hub[*]}), held ${hold} s," \
    "$profile build" >&2

# Readings every 30 s (every 5 s for a hold under 2 minutes) while the load generators hold.
every=$(awk -v h="$hold" 'BEGIN { print (h < 120 ? 5 : 30) }')
(
    start=$SECONDS
    while sleep "$every"; do sample $((SECONDS - start)) | tee -a "$out"; done
) &
sampler=$!
pids+=("$sampler")
status=0
for n in 0 1 2; do
    wait "${loads[$n]}" || { status=1; echo "bench/cluster_scale.sh: load generator $((n + 1)) failed" >&2; }
done
kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
[ "$status" -eq 0 ] || exit 1
cat "$dir"/load*.json >>"$out"
grep -hE '\b(WARN|ERROR)\b' "$dir"/hub*.log | sed 's/^/hub log: /' >"$dir/problems" || true

status=0
python3 - "$out" "$clients" "$hold" "$(ulimit -n)" "$(nproc)" "$profile" "$dir/problems" \
    "$command" "$hard" <<'PY' >"$results/cluster-scale.md" || status=$?
import json, sys, datetime
out, clients, hold, limit, cores, profile, problems, command, hard = sys.argv[1:10]
lines = [json.loads(l) for l in open(out) if l.strip()]
reports = [l for l in lines if "scenario" in l]
samples = [l for l in lines if l.get("kind") == "sample"]
problems = open(problems).read().splitlines()
print("# Cluster scale: idle connections held by 3 hubs through Redis\n")
print(f"Command: `{command}`, {cores} cores, open files: {limit} for each load generator, {hard} (the hard "
      f"limit) for each hub, {datetime.date.today()}, "
      f"{profile} build{' (a smoke run: numbers not meaningful)' if profile == 'debug' else ''}. "
      f"Each connection joined one room and answered the hubs' pings for {float(hold):,.0f} s.\n")
print(f"| hub | connections | still open after {float(hold):,.0f} s | connects/s | hub RSS | RSS per connection |")
print("|:---|---:|---:|---:|---:|---:|")
total = dict(clients=0, held=0, rss=0.0, grown=0.0)
for r in reports:
    grown = r["rss_kib_per_conn"] * r["clients"]
    total["clients"] += r["clients"]; total["held"] += r["held"]
    total["rss"] += r["server_rss_mib"]; total["grown"] += grown
    print(f"| {r['server']} | {r['clients']:,} | {r['held']:,} | {r['connect_per_s']:,.0f} | "
          f"{r['server_rss_mib']:,.0f} MiB | {r['rss_kib_per_conn']:.1f} KiB |")
rate = 3 * min(r["connect_per_s"] for r in reports)
print(f"| **all** | {total['clients']:,} | {total['held']:,} | {rate:,.0f} | {total['rss']:,.0f} MiB | "
      f"{total['grown'] / total['clients']:.1f} KiB |")
print("\nConnects/s of all: three times the slowest hub's. RSS per connection: what each hub grew by from "
      "before its connections to the end of the hold, divided by them.\n")
print("| time s | " + " | ".join(f"hub {n} sockets / RSS MiB / open files" for n in (1, 2, 3)) + " | redis RSS MiB |")
print("|---:|" + "---:|" * 4)
for t in sorted({s["t"] for s in samples}):
    at = {s.get("hub"): s for s in samples if s["t"] == t}
    cells = [f"{'-' if at[n]['sockets'] is None else format(at[n]['sockets'], ',')} / {(at[n]['rss_kib'] or 0) / 1024:,.0f} / {at[n]['open_files']:,}"
             if n in at else "-" for n in (1, 2, 3)]
    redis = at.get(None, {}).get("redis_rss_kib")
    print(f"| {t} | " + " | ".join(cells) + (f" | {redis / 1024:,.1f} |" if redis else " | - |"))
lost = total["clients"] - total["held"]
print(f"\nVerdict: {total['held']:,} of {int(clients):,} still open after the hold "
      f"({'none lost' if lost == 0 else f'**{lost:,} lost**'}); "
      f"{len(problems)} WARN or ERROR lines in the hubs' logs.")
if problems:
    print("\n```\n" + "\n".join(problems[:50]) + "\n```")
if lost or problems:
    sys.exit(1)
PY
cat "$results/cluster-scale.md"
echo "wrote $results/cluster-scale.md and $out" >&2
exit "$status"
