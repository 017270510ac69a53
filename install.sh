#!/usr/bin/env bash
# Installs git-credential-github-app with `cargo install --locked` and points git
# at it for every host in your config. Safe to run again: it changes only what
# is missing and says what it changed. On Linux it builds the static (musl)
# binary when rustup and musl-gcc (Debian: musl-tools) are there, else the host's.
#
#   ./install.sh [--no-configure] [--root DIR] [--config PATH] [--system | --file PATH]
set -euo pipefail

usage() {
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
}

# Paths given relative to where install.sh was run from, before it moves to the checkout.
absolute() {
    case "$1" in
        /*) printf '%s\n' "$1" ;;
        *) printf '%s\n' "$PWD/$1" ;;
    esac
}

configure=1
root=""
config_args=()
scope_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --no-configure) configure=0 ;;
        --root) root="$(absolute "${2:?--root needs a directory}")"; shift ;;
        --config) config_args=(--config "$(absolute "${2:?--config needs a path}")"); shift ;;
        --system) scope_args=(--system) ;;
        --file) scope_args=(--file "$(absolute "${2:?--file needs a path}")"); shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

cd "$(dirname "$0")"
command -v cargo >/dev/null || { echo "install.sh: cargo is needed (https://rustup.rs)" >&2; exit 1; }
command -v git >/dev/null || { echo "install.sh: git is needed" >&2; exit 1; }

root="${root:-${CARGO_INSTALL_ROOT:-${CARGO_HOME:-$HOME/.cargo}}}"

# The static build: no dynamic loader at start-up (a cached `get` starts about twice as fast)
# and one binary for any Linux. Falls back to the host target, saying why.
target_args=()
musl="$(uname -m)-unknown-linux-musl"
if [ "$(uname -s)" != Linux ]; then
    why="not Linux"
elif [ "$(uname -m)" != x86_64 ] && [ "$(uname -m)" != aarch64 ]; then
    why="no musl release target for $(uname -m)"
elif ! command -v rustup >/dev/null; then
    why="rustup is not installed, so the $musl target cannot be added"
elif ! command -v musl-gcc >/dev/null; then
    why="musl-gcc is missing (Debian/Ubuntu: apt-get install musl-tools)"
elif ! rustup target list --installed | grep -x "$musl" >/dev/null && ! rustup target add "$musl" >/dev/null 2>&1; then
    why="\`rustup target add $musl\` failed"
else
    why=""
    target_args=(--target "$musl")
fi
if [ -n "$why" ]; then
    echo "install.sh: building for the host target instead of the static $musl binary: $why"
else
    echo "install.sh: building the static binary ($musl)"
fi
# `cargo install --path .` builds in this checkout's target/: only a first build takes long.
built="${CARGO_TARGET_DIR:-target}/release/git-credential-github-app"
[ "${#target_args[@]}" = 0 ] || built="${CARGO_TARGET_DIR:-target}/${target_args[1]}/release/git-credential-github-app"
if [ -e "$built" ]; then
    echo "install.sh: rebuilding what changed since the last build (cargo's progress follows); installing into $root/bin"
else
    echo "install.sh: a first build takes about 1.5 minutes on 2 cores (cargo's progress follows); installing into $root/bin"
fi
started=$SECONDS
cargo install --locked --path . --root "$root" --force "${target_args[@]}"
bin="$root/bin/git-credential-github-app"
echo "install.sh: installed $("$bin" --version) at $bin (build and install took $((SECONDS - started)) s)"

case ":$PATH:" in
    *":$root/bin:"*) ;;
    *) echo "install.sh: $root/bin is not on PATH; add it, e.g.: export PATH=\"$root/bin:\$PATH\"" ;;
esac

# The git config lines for set-up by hand (github.com shown; one set per host).
print_lines() {
    echo "To set git up, run: $(printf '%q ' "$bin" "${config_args[@]}")configure"
    echo "or add these lines by hand, for each host in your config (github.com here):"
    echo "  git config --global --add credential.https://github.com.helper ''"
    echo "  git config --global --add credential.https://github.com.helper $(printf '%q' "$(printf '%q ' "$bin" "${config_args[@]}" | sed 's/ $//')")"
    echo "  git config --global credential.https://github.com.useHttpPath true"
}

if [ "$configure" = 0 ]; then
    echo "install.sh: --no-configure: git config left as it is."
    print_lines
    exit 0
fi

if "$bin" "${config_args[@]}" configure "${scope_args[@]}" --dry-run >/dev/null 2>&1; then
    "$bin" "${config_args[@]}" configure "${scope_args[@]}"
else
    echo "install.sh: git is not configured yet:"
    "$bin" "${config_args[@]}" configure "${scope_args[@]}" --dry-run 2>&1 | sed 's/^/  /' || true
    echo "Write the config first (see docs/configuration.md)."
    print_lines
fi
