#!/usr/bin/env bash
# The soak: one hub under moderate churn for a while, to find what leaks. Receivers stay connected in
# every room and check each room's offsets (no gap, no duplicate); churning clients connect, join (with
# `since` when they were there before, checking the replay), chat, leave and disconnect, over and over;
# one publisher publishes into the rooms at a steady rate (`loadgen run --scenario soak`). The hub's
# RSS, open files and sockets are read every 10 s; after the churn everyone disconnects, the hub
# settles, and it is read once more. Run by hand, not in CI (CI runs --smoke --debug, seconds long).
#
# Writes bench/results/soak.jsonl (the readings, then the summary and the report) and soak.md (the
# table and the verdicts: RSS back within 10% of its level after the warm-up, open files back to the
# baseline, nothing lost for connected receivers, replays complete, no WARN or ERROR in the hub's log).
# Exits 1 when a verdict fails (in --smoke, the RSS one is reported only: seconds say nothing of it).
#
# Usage: bench/soak.sh [MINUTES] [--debug] [--smoke]
#   MINUTES  how long the churn lasts (default 30; decimals allowed)
#   --debug  use the debug builds that `cargo build --workspace --bins` made, instead of a release build
#   --smoke  20 s with fewer clients, results in target/bench-smoke/ (keeps the tool working)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/listening.sh

minutes=30 profile=release mode=full
for arg in "$@"; do
    case "$arg" in
        --debug) profile=debug ;;
        --smoke) mode=smoke ;;
        *[!0-9.]* | "") echo "usage: bench/soak.sh [MINUTES] [--debug] [--smoke]" >&2; exit 2 ;;
        *) minutes="$arg" ;;
    esac
done

if [ "$mode" = smoke ]; then
    seconds=20 warmup=5 every=2 settle=10 receivers=30 churners=5 rate=10
    results=target/bench-smoke
else
    seconds=$(awk -v m="$minutes" 'BEGIN { printf "%d", m * 60 }')
    # The warm-up: a fifth of the run, at most a minute.
    warmup=$(awk -v s="$seconds" 'BEGIN { w = s / 5; printf "%d", (w > 60 ? 60 : w) }')
    every=10 settle=30 receivers=200 churners=20 rate=20
    results=bench/results
fi
[ "$seconds" -gt 0 ] || { echo "bench/soak.sh: MINUTES must be more than 0" >&2; exit 2; }

if [ "$profile" = release ]; then cargo build --release --locked -p hub -p loadgen; fi
bin="target/$profile"
log=$(mktemp)
# --max-connections within the open-files limit, so that the hub has no reason to warn at start.
"$bin/hub" --bind 127.0.0.1:0 --publish-token bench-publish-token --max-connections 10000 2>"$log" &
hub=$!
# The hub may have gone already; errexit applies in the trap too.
trap 'kill $hub 2>/dev/null || true; rm -f "$log"' EXIT
port=$(listening_port "$log" "bench/soak.sh: the hub") || exit 1

mkdir -p "$results"
out="$results/soak.jsonl"
command="bench/soak.sh${*:+ $*}"
echo "$command: $seconds s of churn against the hub (pid $hub, port $port), $profile build" >&2
"$bin/loadgen" run --scenario soak --server "127.0.0.1:$port" --name hub --pid "$hub" \
    --clients "$receivers" --churners "$churners" --rate "$rate" --seconds "$seconds" \
    --warmup "$warmup" --sample-every "$every" --settle "$settle" | tee "$out"
kill "$hub"
wait "$hub" 2>/dev/null || true

status=0
python3 - "$out" "$log" "$command" "$profile" "$mode" "$(nproc)" <<'PY' >"$results/soak.md" || status=$?
import json, re, sys, datetime
out, log, command, profile, mode, cores = sys.argv[1:7]
lines = [json.loads(l) for l in open(out) if l.strip()]
samples = [l for l in lines if l.get("kind") == "sample"]
summary = next(l for l in lines if l.get("kind") == "summary")
report = lines[-1]
tally = summary["tally"]
problems = [l.rstrip("\n") for l in open(log, errors="replace") if re.search(r"\b(WARN|ERROR)\b", l)]

mib = lambda s: f"{s['rss_kib'] / 1024:,.1f}" if s.get("rss_kib") is not None else "-"
num = lambda v: "-" if v is None else f"{v:,}"
print(f"# Soak{' (smoke: numbers not meaningful)' if mode == 'smoke' else ''}\n")
print(f"Command: `{command}`, {cores} cores, {datetime.date.today()}, {profile} build. "
      f"{summary['receivers']} receivers in {summary['rooms']} rooms, {summary['churners']} churners, "
      f"{summary['rate']} publishes/s; {report['seconds']:.0f} s of churn, then everyone disconnects. "
      f"Hub CPU {report.get('server_cpu_pct', 0):.0f}% of a core, loadgen {report.get('loadgen_cpu_pct', 0):.0f}%.\n")
print("| time s | phase | hub RSS MiB | open files | threads | hub sockets | soak clients |")
print("|---:|:---|---:|---:|---:|---:|---:|")
for s in samples:
    print(f"| {s['t']:.0f} | {s['phase']} | {mib(s)} | {num(s['open_files'])} | {num(s['threads'])} | "
          f"{num(s['server_sockets'] or 0)} | {s['clients']:,} |")

base, warm, end, fin = (summary[k] for k in ("baseline", "warmup_end", "churn_end", "final"))
verdicts = []
def verdict(name, ok, detail, enforced=True):
    verdicts.append((name, ok, detail, enforced))
if warm.get("rss_kib") and fin.get("rss_kib"):
    ratio = fin["rss_kib"] / warm["rss_kib"]
    verdict("RSS back within 10% of its level after the warm-up", ratio <= 1.10,
            f"after warm-up {mib(warm)} MiB, end of churn {mib(end)} MiB, final {mib(fin)} MiB "
            f"({(ratio - 1) * 100:+.1f}%)", enforced=mode != "smoke")
if base.get("open_files") is not None and fin.get("open_files") is not None:
    verdict("open files back to the baseline", fin["open_files"] <= base["open_files"],
            f"baseline {base['open_files']}, during churn up to {max(s['open_files'] or 0 for s in samples)}, "
            f"final {fin['open_files']}")
lost = summary["lost"]
verdict("zero loss for connected receivers",
        lost == 0 and tally["duplicates"] == 0 and tally["receivers_dropped"] == 0 and tally["epoch_changes"] == 0
        and tally["short_deliveries"] == 0,
        f"{summary['expected']:,} room events expected by the receivers, {lost:,} lost, {tally['duplicates']} "
        f"duplicates, {tally['receivers_dropped']} receivers dropped, "
        f"{tally['epoch_changes']} epoch changes; {tally['published']:,} publishes, "
        f"{tally['short_deliveries']} acked with fewer deliveries than receivers")
verdict("receivers got each room's events in offset order", tally["out_of_order"] == 0,
        f"{tally['out_of_order']} events before an earlier offset of their room "
        f"(churners, whose own messages' offsets come in acks: {tally['churn_out_of_order']})")
verdict("churners: nothing missed while in a room, every replay complete",
        tally["churn_missing"] == 0 and tally["replays_incomplete"] == 0,
        f"{tally['churn_cycles']:,} connections, {tally['chats']:,} chats, {tally['churn_missing']} events missed "
        f"in rooms; {tally['replays']:,} joins with since: {tally['replays_complete']:,} complete "
        f"({tally['replayed_events']:,} events replayed), {tally['replays_incomplete']} incomplete, "
        f"{tally['replays_beyond_history']} beyond the history kept")
verdict("no client errors", tally["errors"] == 0, f"{tally['errors']} (requests refused or failed, connections broken)")
verdict("no WARN or ERROR in the hub's log", not problems, f"{len(problems)} lines")

print("\n| verdict | | detail |")
print("|:---|:---|:---|")
for name, ok, detail, enforced in verdicts:
    mark = "met" if ok else ("**not met**" if enforced else "not met (not judged in a smoke run)")
    print(f"| {name} | {mark} | {detail} |")
if tally["error_messages"]:
    print("\nClient errors (first 20):\n\n```")
    print("\n".join(tally["error_messages"]))
    print("```")
if problems:
    print("\nThe hub's WARN and ERROR lines (first 50):\n\n```")
    print("\n".join(problems[:50]))
    print("```")
failed = [name for name, ok, _, enforced in verdicts if not ok and enforced]
if failed:
    print("bench/soak.sh: not met: " + "; ".join(failed), file=sys.stderr)
    sys.exit(1)
PY
cat "$results/soak.md"
echo "wrote $results/soak.md and $out" >&2
exit "$status"
