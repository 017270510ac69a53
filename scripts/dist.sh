#!/usr/bin/env bash
# Release artifacts, written to dist/ (names: scripts/names.sh, table in docs/install.md):
#   git-credential-github-app-VERSION-TARGET.tar.gz  for the Linux (static musl) and macOS targets,
#   git-credential-github-app-VERSION-TARGET.zip     for x86_64-pc-windows-gnu,
#       each holding git-credential-github-app-VERSION-TARGET/ with the binary (.exe on
#       Windows), README.md, LICENSE-MIT, LICENSE-APACHE, docs/;
#   git-credential-github-app_VERSION_amd64.deb, ..._arm64.deb  (Linux targets; binary in /usr/bin);
#   SHA256SUMS  (of the archives and .debs built here; check with `sha256sum -c SHA256SUMS`);
#   packaging/  the Homebrew formula, Scoop and winget manifests filled in for the archives
#       built here (scripts/dist-manifests.sh; the release fills them from every job's archives).
# Every binary is run once before it is packed: natively, the aarch64 one under qemu, the
# Windows one under Wine (scripts/wine.sh): the binary we ship is the one we test.
# Installs the cross tools it needs (scripts/targets.sh, scripts/wine.sh). Archives are
# reproducible for a given commit: file times are the commit's time, owners are root.
#
#   scripts/dist.sh        on Linux: both Linux targets and Windows (about 5 minutes on 2 cores);
#                          on macOS: the Mac's own target (Apple's SDK links macOS binaries)
#   DIST_TARGETS=x86_64-unknown-linux-musl scripts/dist.sh   chosen targets only
#   DEB_MAINTAINER='Name <email>' scripts/dist.sh  (default: the last commit's author)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/names.sh

name="$release_name"
version="$(cargo_field version)"
[ -n "$version" ] || { echo "dist.sh: no version in Cargo.toml" >&2; exit 1; }
case "$(uname -s)-$(uname -m)" in
    Darwin-arm64) host_targets="aarch64-apple-darwin" ;;
    Darwin-x86_64) host_targets="x86_64-apple-darwin" ;;
    *) host_targets="x86_64-unknown-linux-musl aarch64-unknown-linux-musl x86_64-pc-windows-gnu" ;;
esac
targets="${DIST_TARGETS:-$host_targets}"

epoch="$(git log -1 --format=%ct 2>/dev/null || date +%s)"
export SOURCE_DATE_EPOCH="$epoch"
debs=no
for target in $targets; do
    case " $release_targets " in
        *" $target "*) ;;
        *) echo "dist.sh: unsupported target $target (release targets: $release_targets)" >&2; exit 2 ;;
    esac
    case "$target" in *-linux-*) debs=yes ;; esac
done
if [ "$debs" = yes ]; then
    source scripts/targets.sh
    # The .deb's Maintainer: DEB_MAINTAINER, else the author of the commit being packaged.
    maintainer="${DEB_MAINTAINER:-$(git log -1 --format='%an <%ae>' 2>/dev/null || true)}"
    [ -n "$maintainer" ] || { echo "dist.sh: set DEB_MAINTAINER='Name <email>' (no git history here)" >&2; exit 1; }
fi
case " $targets " in *-windows-*) source scripts/wine.sh ;; esac

sha256() {
    if command -v sha256sum >/dev/null; then sha256sum "$@"; else shasum -a 256 "$@"; fi
}

rm -rf dist
mkdir -p dist/.stage

for target in $targets; do
    echo "dist.sh: building $name $version for $target (about 1.5 min on 2 cores)" >&2
    cargo build --release --locked --target "$target"
    exe="$(binary_name "$target")"
    bin="${CARGO_TARGET_DIR:-target}/$target/release/$exe"
    case "$target" in
        *-linux-musl)
            if readelf -lW "$bin" | grep -q 'program interpreter'; then
                echo "dist.sh: $bin is dynamically linked; a release binary must be static" >&2
                exit 1
            fi
            ;;
    esac
    case "$target" in
        aarch64-unknown-linux-musl) got="$(qemu-aarch64-static "$bin" --version)" ;;
        x86_64-pc-windows-gnu) got="$("$CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER" "$bin" --version | tr -d '\r')" ;;
        *) got="$("$bin" --version)" ;;
    esac
    case "$got" in
        *" $version") echo "dist.sh: $target binary runs: $got" >&2 ;;
        *) echo "dist.sh: $bin --version printed '$got', not version $version" >&2; exit 1 ;;
    esac

    # The archive.
    stem="$(archive_stem "$version" "$target")"
    stage="dist/.stage/$stem"
    mkdir -p "$stage"
    cp "$bin" "$stage/$exe"
    chmod 0755 "$stage/$exe"
    cp README.md LICENSE-MIT LICENSE-APACHE "$stage/"
    cp -R docs "$stage/docs"
    chmod -R u=rwX,go=rX "$stage"
    python3 scripts/archive.py dist/.stage "$stem" "dist/$(archive_name "$version" "$target")" "$epoch"

    # The .deb.
    case "$target" in
        x86_64-unknown-linux-musl) arch=amd64 ;;
        aarch64-unknown-linux-musl) arch=arm64 ;;
        *) continue ;;
    esac
    deb="dist/.stage/deb-$arch"
    mkdir -p "$deb/DEBIAN" "$deb/usr/bin" "$deb/usr/share/doc/$name"
    install -m 0755 "$bin" "$deb/usr/bin/$name"
    install -m 0644 README.md "$deb/usr/share/doc/$name/README.md"
    cp -R docs "$deb/usr/share/doc/$name/docs"
    { printf 'Files: *\nLicense: MIT OR Apache-2.0\n\n'; cat LICENSE-MIT; printf '\n'; cat LICENSE-APACHE; } \
        >"$deb/usr/share/doc/$name/copyright"
    size_kib="$(du -sk --apparent-size "$deb/usr" | cut -f1)"
    cat >"$deb/DEBIAN/control" <<CONTROL
Package: $name
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size_kib
Depends: git
Section: vcs
Priority: optional
Homepage: $(cargo_field repository)
Description: git credential helper that authenticates as a GitHub App
 git-credential-github-app lets git clone, fetch, push and ls-remote over HTTPS
 authenticate as a GitHub App installation: it signs an RS256 app JWT, mints an
 installation access token, caches it, and answers git's credential protocol.
 Statically linked (musl). Run "git-credential-github-app configure" once the
 config is written (see /usr/share/doc/git-credential-github-app).
CONTROL
    chmod -R u=rwX,go=rX "$deb"
    find "$deb" -exec touch -h -d "@$epoch" {} +
    dpkg-deb --root-owner-group -Zxz --build "$deb" "dist/${name}_${version}_$arch.deb" >/dev/null
done

rm -rf dist/.stage
(cd dist && sha256 -- $(ls | grep -E '\.(tar\.gz|zip|deb)$') >SHA256SUMS)
scripts/dist-manifests.sh dist
echo "dist.sh: wrote dist/:" >&2
(cd dist && ls -lR >&2 && sha256 -c --quiet SHA256SUMS)
