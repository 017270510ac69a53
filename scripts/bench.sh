#!/usr/bin/env bash
# The helper's benchmark: installs hyperfine if missing, builds the release binary, then runs
# `cargo bench --bench bench`, which starts the loopback fake GitHub (TLS, test CA) and prints
# a markdown report (machine, command, medians, targets) on stdout. hyperfine's progress goes
# to stderr. The report is also saved to target/bench-report.md.
#
# Knobs (environment): BENCH_RUNS (300), BENCH_WARMUP (10), BENCH_MINT_RUNS (100),
# BENCH_ROUNDS (10), BENCH_RSS_RUNS (20). Run on a quiet machine: other work skews every row
# (the report prints the load average).
set -euo pipefail

cd "$(dirname "$0")/.."

if ! command -v hyperfine >/dev/null 2>&1; then
    echo "bench.sh: installing hyperfine" >&2
    if ! apt-get install -y hyperfine >&2; then
        apt-get update >&2
        apt-get install -y hyperfine >&2
    fi
fi
if [ ! -x /usr/bin/time ]; then
    echo "bench.sh: installing GNU time (for peak RSS)" >&2
    if ! apt-get install -y time >&2; then
        apt-get update >&2
        apt-get install -y time >&2
    fi
fi

cargo build --release --locked >&2
helper="$PWD/target/release/git-credential-github-app"

export BENCH_HELPER="$helper"
export BENCH_COMMAND="scripts/bench.sh"
# The bench profile inherits the release profile, so `cargo bench` reuses the release build
# of the helper; BENCH_HELPER makes sure the binary measured is the one just built.
mkdir -p target
cargo bench --locked --bench bench | tee target/bench-report.md
