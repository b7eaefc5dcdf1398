#!/usr/bin/env bash
# The long fault-injection soak (not run in CI): thousands of editor saves in
# every style over several runs of hundreds of tasks, a file left empty
# mid-run, and 60 SIGKILLs of run-batch in series of 15 (each series ends with
# a rerun). Prints a table of figures: edits made / lost, runs / false exit
# statuses, boxes ticked without a success, kill cycles / orphans / escapes.
#
# It runs the `soak` test of tests/faults.rs, against the release binary
# (`cargo test --release` makes it target/release/run-batch) or the binary
# given, e.g. an older build to compare with.
#
#   benches/soak.sh                       # defaults: 30 runs of 500 tasks, 60 kills
#   benches/soak.sh /tmp/old/run-batch    # measure another build
#   SOAK_RUNS=4 SOAK_KILLS=15 benches/soak.sh
#   FAULTS_SEED=123 benches/soak.sh       # replay a seed's choices
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -gt 0 ]; then
  RUN_BATCH_TEST_BINARY="$(realpath "$1")"
  export RUN_BATCH_TEST_BINARY
fi
export RUN_BATCH_SOAK=1
exec cargo test --release --locked --test faults soak -- --exact --nocapture
