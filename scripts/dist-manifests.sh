#!/usr/bin/env bash
# Fills the package manager templates under packaging/ (Homebrew formula, Scoop manifest,
# winget manifests) for the version and `repository` in Cargo.toml and the archives listed in
# DIST/SHA256SUMS, writing DIST/packaging/{homebrew,scoop,winget}/.
#
#   scripts/dist-manifests.sh [DIST]          fill the templates whose archives are all in
#                                             SHA256SUMS; say which were left out (dist.sh on
#                                             one machine builds no macOS archive)
#   scripts/dist-manifests.sh --all [DIST]    every template, or fail (the release's last job)
#
# Placeholders: @VERSION@, @REPOSITORY@, and for each TARGET of scripts/names.sh
# @URL_TARGET@ (the release download), @SHA256_TARGET@, @STEM_TARGET@ (the archive's top
# directory). A template with a placeholder left over is an error.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/names.sh

all=no
if [ "${1:-}" = --all ]; then
    all=yes
    shift
fi
dist="${1:-dist}"
sums="$dist/SHA256SUMS"
[ -f "$sums" ] || { echo "dist-manifests.sh: no $sums" >&2; exit 1; }
version="$(cargo_field version)"
repository="$(cargo_field repository)"
[ -n "$version" ] && [ -n "$repository" ] || {
    echo "dist-manifests.sh: Cargo.toml needs version and repository" >&2
    exit 1
}

# sed commands replacing every placeholder whose value is known.
script="s|@VERSION@|$version|g; s|@REPOSITORY@|$repository|g"
for target in $release_targets; do
    archive="$(archive_name "$version" "$target")"
    sum="$(awk -v f="$archive" '$2 == f || $2 == "*" f { print $1 }' "$sums")"
    script="$script; s|@URL_$target@|$(download_url "$repository" "$version" "$target")|g"
    script="$script; s|@STEM_$target@|$(archive_stem "$version" "$target")|g"
    [ -z "$sum" ] || script="$script; s|@SHA256_$target@|$sum|g"
done

rm -rf "$dist/packaging"
status=0
for kind in homebrew scoop winget; do
    out="$dist/packaging/$kind"
    filled=()
    missing=""
    for template in packaging/"$kind"/*; do
        text="$(sed "$script" "$template")"
        left="$(grep -o '@[A-Za-z0-9_.-]*@' <<<"$text" | sort -u | tr '\n' ' ' || true)"
        if [ -n "$left" ]; then
            missing="$missing $left"
            continue
        fi
        filled+=("$template")
    done
    if [ -n "$missing" ]; then
        echo "dist-manifests.sh: $kind not filled: no value for$missing(its archives are not in $sums)" >&2
        [ "$all" = no ] || status=1
        continue
    fi
    mkdir -p "$out"
    for template in "${filled[@]}"; do
        sed "$script" "$template" >"$out/$(basename "$template")"
    done
    echo "dist-manifests.sh: wrote $out/" >&2
done
exit "$status"
