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

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    targets_install
elif [ "${1:-}" != env ]; then
    targets_install
fi
