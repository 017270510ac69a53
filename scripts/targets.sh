#!/usr/bin/env bash
# Makes this machine able to build the release targets: the rustup targets
# x86_64-unknown-linux-musl and aarch64-unknown-linux-musl, musl-tools (ring's C
# for x86_64 musl goes through musl-gcc), Debian's aarch64 cross gcc (C compiler
# and linker for aarch64), qemu-user-static (runs the aarch64 binary for the smoke
# tests) and dpkg-dev (dpkg-deb). Installs only what is missing; apt-get needs root
# (sudo is used when not root).
#
#   scripts/targets.sh            install what is missing
#   source scripts/targets.sh env only export the cross-compilation variables
#   scripts/targets.sh cross      install what the macOS and Windows cross-checks need (below)
#
# The cross-checks (`cargo clippy` for aarch64-apple-darwin, x86_64-apple-darwin and
# x86_64-pc-windows-gnu; .ci/run) need the three rustup targets, a C compiler for ring's build
# script on each: zig through cargo-zigbuild for macOS (Debian's clang has no macOS libc
# headers), Debian's mingw-w64 gcc for Windows. zig and cargo-zigbuild come as Python wheels,
# installed into a venv under target/ (PEP 668 keeps them off the system Python); its bin
# directory ($CROSS_TOOLS_BIN) goes first on PATH, so cargo-zigbuild finds `python3 -m ziglang`.
set -euo pipefail

# ring's build script and cargo's linker for aarch64 musl: Debian's cross gcc.
# Rust's aarch64 musl target links its own self-contained musl CRT and libc, so a
# glibc-targeting cross gcc works as the linker driver.
export CC_aarch64_unknown_linux_musl=aarch64-linux-gnu-gcc
export AR_aarch64_unknown_linux_musl=aarch64-linux-gnu-ar
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=aarch64-linux-gnu-gcc

targets_install() {
    local sudo=() missing=()
    [ "$(id -u)" = 0 ] || sudo=(sudo)
    command -v musl-gcc >/dev/null || missing+=(musl-tools)
    command -v aarch64-linux-gnu-gcc >/dev/null || missing+=(gcc-aarch64-linux-gnu)
    command -v qemu-aarch64-static >/dev/null || missing+=(qemu-user-static)
    command -v dpkg-deb >/dev/null || missing+=(dpkg-dev)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "targets.sh: installing ${missing[*]}" >&2
        "${sudo[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    local installed
    installed="$(rustup target list --installed)"
    for t in x86_64-unknown-linux-musl aarch64-unknown-linux-musl; do
        grep -qx "$t" <<<"$installed" || rustup target add "$t"
    done
}

CROSS_TOOLS_BIN="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target/ci-tools/zig/bin"
export CROSS_TOOLS_BIN

cross_install() {
    local sudo=()
    [ "$(id -u)" = 0 ] || sudo=(sudo)
    if ! command -v x86_64-w64-mingw32-gcc >/dev/null; then
        echo "targets.sh: installing gcc-mingw-w64-x86-64" >&2
        "${sudo[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq gcc-mingw-w64-x86-64 >/dev/null
    fi
    local installed
    installed="$(rustup target list --installed)"
    for t in aarch64-apple-darwin x86_64-apple-darwin x86_64-pc-windows-gnu; do
        grep -qx "$t" <<<"$installed" || rustup target add "$t"
    done
    if [ ! -x "$CROSS_TOOLS_BIN/cargo-zigbuild" ] || ! "$CROSS_TOOLS_BIN/python3" -c 'import ziglang' 2>/dev/null; then
        echo "targets.sh: installing ziglang and cargo-zigbuild into ${CROSS_TOOLS_BIN%/bin}" >&2
        python3 -m venv "${CROSS_TOOLS_BIN%/bin}"
        "$CROSS_TOOLS_BIN/python" -m pip install --quiet --disable-pip-version-check \
            ziglang==0.17.1 cargo-zigbuild==0.24.1
    fi
}

if [ "${1:-}" = cross ]; then
    cross_install
elif [ "${BASH_SOURCE[0]}" = "$0" ]; then
    targets_install
elif [ "${1:-}" != env ]; then
    targets_install
fi
