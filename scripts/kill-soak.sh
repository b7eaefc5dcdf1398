#!/usr/bin/env bash
# Soak test (not run by CI): SIGKILL run-batch at random moments while it
# starts agents, many times, and count the agents left behind.
#
# Each cycle starts `run-batch t.md --agent "sleep 30" -j 8` on 40 tasks,
# kills it with SIGKILL after a random 0–300 ms, then waits up to 5 s for
# every process of the run (run-batch, its guard, its agents: found by a
# token in their environment) to be gone. A cycle with a survivor counts as
# an orphan; the survivors are killed before the next cycle.
#
#   scripts/kill-soak.sh [CYCLES]        (default 300)
#
# RUN_BATCH=path/to/run-batch picks the binary (default: target/debug,
# built first).
set -euo pipefail
cycles="${1:-300}"
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${RUN_BATCH:-}"
if [ -z "$bin" ]; then
  (cd "$root" && cargo build --quiet --locked)
  bin="$root/target/debug/run-batch"
fi
dir="$(mktemp -d -t run-batch-soak.XXXXXX)"
trap 'rm -rf "$dir"' EXIT
token="RUN_BATCH_SOAK_TOKEN=$$-$RANDOM$RANDOM"
{
  echo "# Plan"
  for n in $(seq 1 40); do echo "- [ ] task $n"; done
} > "$dir/t.md"

# Pids of live (not zombie) processes whose environment holds the token.
marked() {
  local f pid state
  for f in $(grep -lzxF "$token" /proc/[0-9]*/environ 2> /dev/null); do
    pid="${f#/proc/}"
    pid="${pid%/environ}"
    [ "$pid" = "$$" ] && continue
    state=$({ sed 's/.*) //' "/proc/$pid/stat" | cut -c1; } 2> /dev/null) || continue
    [ "$state" = Z ] || [ "$state" = X ] || [ -z "$state" ] || echo "$pid"
  done
}

orphans=0
started=$(date +%s)
for cycle in $(seq 1 "$cycles"); do
  rm -rf "$dir/.run-batch"
  (cd "$dir" && exec env "$token" "$bin" t.md --agent "sleep 30" -j 8 --grace 1s \
    > /dev/null 2>&1) &
  pid=$!
  sleep "0.$(printf '%03d' $((RANDOM % 300)))"
  kill -KILL "$pid" 2> /dev/null || true
  wait "$pid" 2> /dev/null || true
  left=""
  for _ in $(seq 1 250); do
    left="$(marked)"
    [ -z "$left" ] && break
    sleep 0.02
  done
  if [ -n "$left" ]; then
    orphans=$((orphans + 1))
    echo "cycle $cycle: left behind: $(for p in $left; do tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null; echo -n "($p) "; done)"
    # shellcheck disable=SC2086
    kill -KILL $left 2> /dev/null || true
  fi
done
echo "$cycles kill cycles, $orphans with processes left behind ($(( $(date +%s) - started ))s)"
[ "$orphans" -eq 0 ]
