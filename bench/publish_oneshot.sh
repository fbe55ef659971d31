#!/usr/bin/env bash
# Times a one-shot `publish` (start, connect, emit, wait for the ack, disconnect, exit) side by side with
# the same job done by Node and the official socket.io-client, against one release-built hub on loopback.
# Then measures `publish --stdin-lines` throughput. Writes bench/results/publish-oneshot.md.
#
# Usage: bench/publish_oneshot.sh [RUNS]   (default 50 runs of each one-shot)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/listening.sh
runs="${1:-50}"
lines=10000
out=bench/results/publish-oneshot.md
token="bench-publish-token"

command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null; }
(cd bench/node && npm ci --no-audit --no-fund --loglevel=error)
cargo build --release --workspace --bins --locked

log=$(mktemp)
# Default settings: publishers are not rate-limited.
./target/release/hub --bind 127.0.0.1:0 --publish-token "$token" 2>"$log" &
hub=$!
trap 'kill $hub 2>/dev/null; rm -f "$log" "$input"' EXIT
input=$(mktemp)
url="http://127.0.0.1:$(listening_port "$log" "the hub")" || exit 1

mkdir -p bench/results
hyperfine --shell=none --warmup 5 --runs "$runs" --export-json "$out.json" \
    -n "publish (Rust)" "./target/release/publish --url $url --token $token --event foo --data bar -q" \
    -n "node + socket.io-client" "node bench/node/publish.mjs $url $token foo bar"

for n in $(seq "$lines"); do printf '{"event":"tick","data":%d}\n' "$n"; done > "$input"
start=$(date +%s.%N)
./target/release/publish --url "$url" --token "$token" --stdin-lines -q < "$input"
end=$(date +%s.%N)
rate=$(python3 -c "print(f'{$lines / ($end - $start):,.0f}')")
elapsed=$(python3 -c "print(f'{$end - $start:.2f}')")

{
    echo "# publish one-shot timing"
    echo
    echo "Run: \`bench/publish_oneshot.sh $runs\` on $(nproc) cores, $(date -u +%Y-%m-%d)."
    echo
    python3 - "$out.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
fastest = min(r["median"] for r in results)
print("| command | median | mean ± σ | min | max | median vs fastest |")
print("|:---|---:|---:|---:|---:|---:|")
for r in results:
    ms = lambda s: f"{s * 1000:.1f} ms"
    print(f"| {r['command']} | {ms(r['median'])} | {ms(r['mean'])} ± {r['stddev'] * 1000:.1f} | {ms(r['min'])} "
          f"| {ms(r['max'])} | {r['median'] / fastest:.1f}x |")
PY
    echo
    echo "\`publish --stdin-lines\`: $lines events, each acked, in ${elapsed} s: **$rate events/s**."
} > "$out"
rm -f "$out.json"
cat "$out"
