#!/usr/bin/env bash
# The helper's benchmark: installs hyperfine (with --input) if missing, builds the static release binary
# (x86_64-unknown-linux-musl, what the release archives ship) and the glibc release binary,
# then runs `cargo bench --bench bench`, which starts the loopback fake GitHub (TLS, test CA)
# and prints a markdown report (machine, command, medians, targets) on stdout: the static
# build measured, the glibc build beside it in the same hyperfine runs. hyperfine's progress
# goes to stderr. The report is also saved to target/bench-report.md.
#
# Knobs (environment): BENCH_RUNS (300), BENCH_WARMUP (10), BENCH_MINT_RUNS (100),
# BENCH_ROUNDS (10), BENCH_RSS_RUNS (20). Run on a quiet machine: other work skews every row
# (the report prints the load average).
set -euo pipefail

cd "$(dirname "$0")/.."

# hyperfine with --input (1.16+) times each process without a shell around it; Debian 12's
# 1.15 lacks it, so 1.20 (the last release for Rust < 1.97) is built with cargo into target/tools.
export PATH="$PWD/target/tools/bin:$PATH"
if ! { command -v hyperfine >/dev/null 2>&1 && hyperfine --help | grep -e '--input' >/dev/null; }; then
    echo "bench.sh: installing hyperfine 1.20 with cargo into target/tools (about 1.5 min)" >&2
    cargo install --locked --quiet --root target/tools hyperfine@1.20.0 >&2
fi
if [ ! -x /usr/bin/time ]; then
    echo "bench.sh: installing GNU time (for peak RSS)" >&2
    if ! apt-get install -y time >&2; then
        apt-get update >&2
        apt-get install -y time >&2
    fi
fi

# The static build needs the musl target and musl-gcc (ring's C).
if ! command -v musl-gcc >/dev/null 2>&1; then
    echo "bench.sh: installing musl-tools (musl-gcc, for the static build)" >&2
    if ! apt-get install -y musl-tools >&2; then
        apt-get update >&2
        apt-get install -y musl-tools >&2
    fi
fi
rustup target list --installed | grep -x x86_64-unknown-linux-musl >/dev/null ||
    rustup target add x86_64-unknown-linux-musl >&2

echo "bench.sh: building the static and the glibc release binaries (about 1.5 min each on 2 cores)" >&2
cargo build --release --locked --target x86_64-unknown-linux-musl >&2
cargo build --release --locked >&2
helper="$PWD/target/x86_64-unknown-linux-musl/release/git-credential-github-app"

export BENCH_HELPER="$helper"
export BENCH_GLIBC_HELPER="$PWD/target/release/git-credential-github-app"
export BENCH_COMMAND="scripts/bench.sh"
# The bench profile inherits the release profile, so `cargo bench` reuses the release build
# of the helper; BENCH_HELPER makes sure the binary measured is the one just built.
mkdir -p target
cargo bench --locked --bench bench | tee target/bench-report.md
