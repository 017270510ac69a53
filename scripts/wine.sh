#!/usr/bin/env bash
# Makes this Linux machine run the x86_64-pc-windows-gnu build under Wine, headless:
#   - installs what is missing: Debian's wine64 (8.0 on Debian 12; no newer Wine is in the
#     package registry CI can reach), mingw-w64 (gcc-mingw-w64-x86-64: links the Windows
#     build and the shim below) and the rustup target x86_64-pc-windows-gnu;
#   - builds target/wine/bcryptprimitives.dll from scripts/wine/processprng.c: Rust's std
#     (1.78+) imports ProcessPrng from bcryptprimitives.dll, which Wine 8 lacks; the shim
#     forwards to RtlGenRandom (SystemFunction036). Test prefix only, never shipped;
#   - creates the Wine prefix target/wine/prefix with the shim installed as a native DLL
#     (WINEDLLOVERRIDES=bcryptprimitives=n), no display, WINEDEBUG=-all;
#   - writes target/wine/run, a runner with all of that baked in (works from an emptied
#     environment, as the integration tests start every command), and prints its path.
#
#   scripts/wine.sh                 install what is missing, set up, print the runner's path
#   source scripts/wine.sh env      only export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER
#                                   (run scripts/wine.sh once first)
#   scripts/wine.sh stop            stop the prefix's wineserver (and its Windows processes)
#   then: cargo test --target x86_64-pc-windows-gnu --lib
#
# Wine starts a wineserver per prefix; target/wine/run keeps it alive 10 s after the last
# Windows process exits (one start for a whole test run); `scripts/wine.sh stop` stops it. Takes about 40 s the first time (the apt install and the prefix),
# under a second when everything is there.
set -euo pipefail

wine_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target/wine"
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$wine_root/run"

wine_setup() {
    local sudo=() missing=() src
    src="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/wine"
    [ "$(id -u)" = 0 ] || sudo=(sudo)
    [ -x /usr/lib/wine/wine64 ] || command -v wine64 >/dev/null || missing+=(wine64 wine)
    command -v x86_64-w64-mingw32-gcc >/dev/null || missing+=(gcc-mingw-w64-x86-64)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "wine.sh: installing ${missing[*]}" >&2
        "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 \
            install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    rustup target list --installed | grep -qx x86_64-pc-windows-gnu ||
        rustup target add x86_64-pc-windows-gnu >&2

    mkdir -p "$wine_root"
    local dll="$wine_root/bcryptprimitives.dll"
    if [ ! -f "$dll" ] || [ "$src/processprng.c" -nt "$dll" ] || [ "$src/processprng.def" -nt "$dll" ]; then
        x86_64-w64-mingw32-gcc -O2 -shared -s -o "$dll" "$src/processprng.c" "$src/processprng.def" -ladvapi32
    fi

    # Debian 12 and Ubuntu 24.04 put the 64-bit loader and the server under /usr/lib/wine.
    local loader server
    loader="$({ command -v /usr/lib/wine/wine64 wine64 || true; } | head -n 1)"
    server="$({ command -v /usr/lib/wine/wineserver wineserver || true; } | head -n 1)"
    [ -n "$loader" ] && [ -n "$server" ] || { echo "wine.sh: no wine64 loader or wineserver found" >&2; return 1; }

    # The runner: everything Wine needs comes from here, not from the caller's environment.
    # DISPLAY unset: no window, no X server needed. mscoree/mshtml disabled: no offer to
    # download Mono or Gecko while the prefix is created.
    cat >"$wine_root/run.new" <<RUNNER
#!/bin/sh
# Runs a Windows program under Wine in the prefix scripts/wine.sh made (generated file).
unset DISPLAY WAYLAND_DISPLAY
export WINEPREFIX='$wine_root/prefix'
export WINELOADER='$loader'
export WINEDEBUG=-all
export WINEDLLOVERRIDES='bcryptprimitives=n;mscoree,mshtml='
'$server' -p10 2>/dev/null
exec '$loader' "\$@"
RUNNER
    chmod 0755 "$wine_root/run.new"
    mv -f "$wine_root/run.new" "$wine_root/run"

    local sys32="$wine_root/prefix/drive_c/windows/system32"
    if [ ! -f "$sys32/kernel32.dll" ]; then
        echo "wine.sh: creating the Wine prefix $wine_root/prefix" >&2
        rm -rf "$wine_root/prefix"
        mkdir -p "$wine_root/prefix"
        "$wine_root/run" wineboot.exe --init >/dev/null 2>&1
        WINEPREFIX="$wine_root/prefix" "$server" -w
    fi
    cmp -s "$dll" "$sys32/bcryptprimitives.dll" || install -m 0644 "$dll" "$sys32/bcryptprimitives.dll"
}

if [ "${BASH_SOURCE[0]}" = "$0" ] && [ "${1:-}" = stop ]; then
    [ ! -d "$wine_root/prefix" ] || WINEPREFIX="$wine_root/prefix" \
        "$({ command -v /usr/lib/wine/wineserver wineserver || true; } | head -n 1)" -k 2>/dev/null || true
elif [ "${BASH_SOURCE[0]}" = "$0" ]; then
    wine_setup
    echo "$CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER"
elif [ "${1:-}" != env ]; then
    wine_setup
fi
