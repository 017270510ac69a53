# Homebrew formula template: scripts/dist-manifests.sh fills in the version, the URLs (from
# `repository` in Cargo.toml) and the sha256 of each macOS archive (from SHA256SUMS) and writes
# the result to dist/packaging/homebrew/, ready for a tap (docs/install.md).
class GitCredentialGithubApp < Formula
  desc "Git credential helper that authenticates git as a GitHub App installation"
  homepage "@REPOSITORY@"
  version "@VERSION@"
  license any_of: ["MIT", "Apache-2.0"]

  on_macos do
    on_arm do
      url "@URL_aarch64-apple-darwin@"
      sha256 "@SHA256_aarch64-apple-darwin@"
    end
    on_intel do
      url "@URL_x86_64-apple-darwin@"
      sha256 "@SHA256_x86_64-apple-darwin@"
    end
  end

  def install
    bin.install "git-credential-github-app"
    doc.install "README.md", "docs"
    prefix.install "LICENSE-MIT", "LICENSE-APACHE"
  end

  def caveats
    <<~EOS
      Write ~/.config/git-credential-github-app/config.toml, then run
        git-credential-github-app configure
      to make git use it (docs: #{doc}).
    EOS
  end

  test do
    assert_match version.to_s, shell_output("#{bin}/git-credential-github-app --version")
    # No config: a get is "not mine", silent on stdout and stderr, exit 0.
    request = "protocol=https\nhost=github.com\npath=acme/web.git\n"
    assert_empty pipe_output("#{bin}/git-credential-github-app get 2>&1", request, 0)
  end
end
