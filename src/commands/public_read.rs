//! git's side of `read_public_repos` and `--rewrite-ssh`: which git can ask
//! the helpers before the first request (`http.<url>.proactiveAuth`, git
//! 2.46+), and the checks `doctor` and `explain` print for a host: the
//! fallback without proactiveAuth (public clones stay anonymous and under
//! GitHub's limits), proactiveAuth without a fallback (every repository no
//! pattern serves fails), and the SSH rewrites.

use super::wiring::{Facts, Finding, Wiring};
use crate::process::Running;
use std::time::Instant;

/// The first git with `http.<url>.proactiveAuth`.
pub(crate) const PROACTIVE_AUTH_SINCE: (u32, u32) = (2, 46);

/// `git version`'s major and minor; `None` when git cannot tell.
pub(crate) fn git_version(deadline: Instant) -> Option<(u32, u32)> {
    let out =
        Running::start("git", &["version".to_string()], None, 4096).and_then(|r| r.finish(deadline)).ok()?;
    parse_git_version(&String::from_utf8_lossy(&out))
}

/// `git version 2.47.3` (or `2.39.5.windows.1`) -> `(2, 47)`.
fn parse_git_version(text: &str) -> Option<(u32, u32)> {
    let number = text.trim().strip_prefix("git version ")?;
    let mut parts = number.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

fn shown(version: Option<(u32, u32)>) -> String {
    version.map_or("of unknown version".to_string(), |(major, minor)| format!("{major}.{minor}"))
}

/// Why `configure` sets no proactiveAuth: one line.
pub(crate) fn too_old_for_proactive_auth(version: Option<(u32, u32)>, hosts: &[&str]) -> String {
    format!(
        "not setting http.https://HOST/.proactiveAuth for {}: git {} is older than 2.46, which added it; without it git never asks this helper about public repositories, so read_public_repos does not serve them and GitHub's anonymous limits still apply (upgrade git)",
        hosts.join(", "),
        shown(version)
    )
}

/// The SSH URL prefixes `--rewrite-ssh` sends to `https://HOST/`: the scp
/// form and the `ssh://` form. SSH names the host without the HTTPS port.
pub(crate) fn ssh_prefixes(host: &str) -> [String; 2] {
    let bare = match host.rsplit_once(':') {
        Some((name, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    [format!("git@{bare}:"), format!("ssh://git@{bare}/")]
}

/// The checks for a host's proactiveAuth and SSH rewrites; `public_read`
/// when an app for the host sets `read_public_repos`.
pub(crate) fn checks(wiring: &Wiring, public_read: bool, facts: &Facts<'_>) -> Vec<Finding> {
    let mut findings = Vec::new();
    let host_url = wiring.url.split('/').take(3).collect::<Vec<_>>().join("/");
    let basic = wiring.proactive_auth.as_ref().filter(|e| e.value.eq_ignore_ascii_case("basic"));
    match (public_read, basic) {
        (true, Some(entry)) => {
            let version = git_version(facts.deadline);
            if version.is_some_and(|v| v >= PROACTIVE_AUTH_SINCE) {
                findings.push(Finding::ok(format!(
                    "git: http.{host_url}/.proactiveAuth = basic (set in {}): git sends a token on its first request; repositories no pattern matches get read-only tokens (a push to them gets 403)",
                    entry.place()
                )));
            } else {
                findings.push(Finding::fail(
                    format!("git: git {} is older than 2.46 and ignores http.{host_url}/.proactiveAuth", shown(version)),
                    "git asks no helper about a public repository, so read_public_repos never serves it and GitHub's anonymous limits still apply",
                    "upgrade git to 2.46 or newer".to_string(),
                ));
            }
        }
        (true, None) => findings.push(Finding::fail(
            format!("git: http.{host_url}/.proactiveAuth is not basic, and an app for the host sets read_public_repos"),
            "git asks no helper about a public repository (GitHub answers it without a challenge), so its clones stay anonymous and under GitHub's limits",
            facts.configure.to_string(),
        )),
        (false, Some(entry)) => findings.push(Finding::fail(
            format!(
                "git: http.{host_url}/.proactiveAuth = basic (set in {}) but no app for the host sets read_public_repos",
                entry.place()
            ),
            "git asks the helpers before every request, and every repository no repos pattern matches fails (git cannot prompt)",
            entry.unset_command(None),
        )),
        (false, None) => {}
    }
    let host = host_url.trim_start_matches("https://");
    let prefixes = ssh_prefixes(host);
    for entry in wiring.to_here.iter().filter(|e| prefixes.contains(&e.value)) {
        findings.push(Finding::ok(format!(
            "git: {} = {} (set in {}): SSH URLs of the host go through HTTPS and this helper",
            entry.key,
            entry.value,
            entry.place()
        )));
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_prefixes_name_the_host_without_the_https_port() {
        assert_eq!(ssh_prefixes("github.com"), ["git@github.com:", "ssh://git@github.com/"]);
        assert_eq!(ssh_prefixes("127.0.0.1:8443"), ["git@127.0.0.1:", "ssh://git@127.0.0.1/"]);
    }

    #[test]
    fn git_versions_are_read_as_git_prints_them() {
        assert_eq!(parse_git_version("git version 2.47.3\n"), Some((2, 47)));
        assert_eq!(parse_git_version("git version 2.39.5.windows.1"), Some((2, 39)));
        assert_eq!(parse_git_version("hub version 2.14"), None);
        assert!(Some((2, 39)) < Some(PROACTIVE_AUTH_SINCE) && Some((3, 0)) > Some(PROACTIVE_AUTH_SINCE));
    }
}
