# Release names, sourced by scripts/dist.sh and scripts/dist-manifests.sh (bash 3.2 too, as on
# macOS). One rule for every target; docs/install.md shows the resulting table:
#   git-credential-github-app-VERSION-TARGET.tar.gz   (.zip for Windows), holding the directory
#   git-credential-github-app-VERSION-TARGET/ with the binary (.exe on Windows), README.md,
#   LICENSE-MIT, LICENSE-APACHE and docs/.
# The repository URL and the version come from Cargo.toml, the one place they live.

release_name=git-credential-github-app
# Every target a release ships, in the order of the table in docs/install.md.
release_targets="x86_64-unknown-linux-musl aarch64-unknown-linux-musl x86_64-apple-darwin aarch64-apple-darwin x86_64-pc-windows-gnu"

# `[package]` field of Cargo.toml (run from the repository's root): cargo_field version
cargo_field() {
    sed -n "s/^$1 = \"\(.*\)\"\$/\1/p" Cargo.toml | head -n 1
}

# archive_stem VERSION TARGET: the archive's name without extension, also its top directory.
archive_stem() {
    echo "$release_name-$1-$2"
}

# archive_name VERSION TARGET
archive_name() {
    case "$2" in
        *-windows-*) echo "$(archive_stem "$1" "$2").zip" ;;
        *) echo "$(archive_stem "$1" "$2").tar.gz" ;;
    esac
}

# binary_name TARGET: the executable inside the archive.
binary_name() {
    case "$1" in
        *-windows-*) echo "$release_name.exe" ;;
        *) echo "$release_name" ;;
    esac
}

# download_url REPOSITORY VERSION TARGET: where a GitHub release serves the archive (tag vVERSION).
download_url() {
    echo "$1/releases/download/v$2/$(archive_name "$2" "$3")"
}
