//! `read_public_repos`: which installation mints the read-only tokens for
//! repositories no pattern serves, and the rule that one app per host may set
//! it. Checked here so routing and minting never meet an app without one.

use crate::repo::Pattern;

/// Where the fallback's read-only tokens come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PublicReads {
    /// The app's `installation_id`.
    Installation(u64),
    /// The installation on this owner (of the app's first fixed-owner pattern),
    /// discovered and remembered like any owner's.
    Owner(String),
}

/// The fallback installation of an app with `read_public_repos = true`; the
/// message (for the app's error) when it has neither an `installation_id` nor
/// a pattern with a fixed owner.
pub(super) fn fallback_installation(
    installation_id: Option<u64>,
    repos: &[Pattern],
    key: &dyn Fn(&str) -> String,
) -> Result<PublicReads, String> {
    if let Some(id) = installation_id {
        return Ok(PublicReads::Installation(id));
    }
    match repos.iter().find_map(Pattern::fixed_owner) {
        Some(owner) => Ok(PublicReads::Owner(owner.to_string())),
        None => Err(format!(
            "{} needs an installation to mint read-only tokens from: set {}, or give {} a pattern with a fixed owner (like \"acme/*\")",
            key("read_public_repos"),
            key("installation_id"),
            key("repos")
        )),
    }
}

/// The position of the second app that sets `read_public_repos` for a host
/// an earlier app already covers, with that earlier app's position.
pub(super) fn second_on_host<'a>(
    apps: impl Iterator<Item = (usize, &'a str, bool)>,
) -> Option<(usize, usize)> {
    let mut seen: Vec<(&str, usize)> = Vec::new();
    for (position, host, _) in apps.filter(|(_, _, on)| *on) {
        if let Some((_, first)) = seen.iter().find(|(h, _)| *h == host) {
            return Some((position, *first));
        }
        seen.push((host, position));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns(list: &[&str]) -> Vec<Pattern> {
        list.iter().filter_map(|p| Pattern::parse(p)).collect()
    }

    #[test]
    fn the_installation_id_wins_then_the_first_fixed_owner() {
        let key = |k: &str| k.to_string();
        assert_eq!(
            fallback_installation(Some(5), &patterns(&["*/*"]), &key),
            Ok(PublicReads::Installation(5))
        );
        assert_eq!(
            fallback_installation(None, &patterns(&["*/web", "Acme/*", "beta/x"]), &key),
            Ok(PublicReads::Owner("acme".into()))
        );
        let err = fallback_installation(None, &patterns(&["*/*"]), &key).unwrap_err();
        assert!(err.contains("set installation_id"), "{err}");
    }

    #[test]
    fn a_second_app_on_the_same_host_is_found() {
        let apps = [(1, "github.com", true), (2, "ghe.example", true), (3, "github.com", false)];
        assert_eq!(second_on_host(apps.into_iter()), None);
        let apps = [(1, "github.com", true), (2, "ghe.example", false), (3, "github.com", true)];
        assert_eq!(second_on_host(apps.into_iter()), Some((3, 1)));
    }
}
