#!/usr/bin/env bash
# Release artifacts, written to dist/:
#   git-credential-github-app-VERSION-TARGET.tar.gz  for x86_64- and aarch64-unknown-linux-musl
#       (static binary, README.md, LICENSE-MIT, LICENSE-APACHE, docs/)
#   git-credential-github-app_VERSION_amd64.deb, ..._arm64.deb  (binary in /usr/bin)
#   SHA256SUMS  (of all of the above; check with `sha256sum -c SHA256SUMS`)
# Installs the cross tools it needs (scripts/targets.sh). Archives are reproducible for a
# given commit: file times are the commit's time, owners are root.
#
#   scripts/dist.sh            both targets (about 3 minutes on 2 cores)
#   DIST_TARGETS=x86_64-unknown-linux-musl scripts/dist.sh   one target
#   DEB_MAINTAINER='Name <email>' scripts/dist.sh  (default: the last commit's author)
set -euo pipefail
cd "$(dirname "$0")/.."

name=git-credential-github-app
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
[ -n "$version" ] || { echo "dist.sh: no version in Cargo.toml" >&2; exit 1; }
targets=(${DIST_TARGETS:-x86_64-unknown-linux-musl aarch64-unknown-linux-musl})

source scripts/targets.sh
epoch="$(git log -1 --format=%ct 2>/dev/null || date +%s)"
export SOURCE_DATE_EPOCH="$epoch"
# The .deb's Maintainer: DEB_MAINTAINER, else the author of the commit being packaged.
maintainer="${DEB_MAINTAINER:-$(git log -1 --format='%an <%ae>' 2>/dev/null || true)}"
[ -n "$maintainer" ] || { echo "dist.sh: set DEB_MAINTAINER='Name <email>' (no git history here)" >&2; exit 1; }

rm -rf dist
mkdir -p dist/.stage

for target in "${targets[@]}"; do
    case "$target" in
        x86_64-unknown-linux-musl) arch=amd64 ;;
        aarch64-unknown-linux-musl) arch=arm64 ;;
        *) echo "dist.sh: unsupported target $target" >&2; exit 2 ;;
    esac
    echo "dist.sh: building $name $version for $target (about 1.5 min on 2 cores)" >&2
    cargo build --release --locked --target "$target"
    bin="target/$target/release/$name"
    if readelf -lW "$bin" | grep -q 'program interpreter'; then
        echo "dist.sh: $bin is dynamically linked; a release binary must be static" >&2
        exit 1
    fi
    if [ "$arch" = arm64 ]; then
        got="$(qemu-aarch64-static "$bin" --version)"
    else
        got="$("$bin" --version)"
    fi
    echo "dist.sh: $target binary runs: $got" >&2

    # The archive.
    stem="$name-$version-$target"
    stage="dist/.stage/$stem"
    mkdir -p "$stage"
    install -m 0755 "$bin" "$stage/$name"
    install -m 0644 README.md LICENSE-MIT LICENSE-APACHE "$stage/"
    cp -R docs "$stage/docs"
    chmod -R u=rwX,go=rX "$stage"
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
        -C dist/.stage -cf - "$stem" | gzip -n -9 >"dist/$stem.tar.gz"

    # The .deb.
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
(cd dist && sha256sum -- *.tar.gz *.deb >SHA256SUMS)
echo "dist.sh: wrote dist/:" >&2
(cd dist && ls -l -- * >&2 && sha256sum -c --quiet SHA256SUMS)
