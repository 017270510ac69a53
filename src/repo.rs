//! Repository references and the names that point at them: host
//! normalisation, `OWNER/REPO` read out of git's path, and `repos` patterns
//! with their specificity. A leaf: the config validates patterns with it and
//! routing matches requests with it.

use std::fmt;

/// Lower-cases a host and drops the default https port, as git sends the
/// URL's host verbatim (`GitHub.COM`, `github.com:443`).
pub(crate) fn normalise_host(host: &str) -> String {
    let host = host.trim().to_ascii_lowercase();
    match host.strip_suffix(":443") {
        Some(bare) => bare.to_string(),
        None => host,
    }
}

/// An `OWNER/REPO` pair, lower-cased (GitHub names are case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct RepoRef {
    pub(crate) owner: String,
    pub(crate) repo: String,
}

impl fmt::Display for RepoRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.repo)
    }
}

/// Reads `owner/repo` out of git's `path` (`acme/web.git`, `/Acme/Web.GIT/`,
/// and git-lfs's `acme/web.git/info/lfs`). Anything else is not a repository,
/// including names GitHub would not allow (they end up in API paths).
pub(crate) fn parse_repo_path(path: &str) -> Option<RepoRef> {
    let mut segments = path.trim_matches('/').split('/');
    let (owner, repo) = (segments.next()?, segments.next()?);
    let rest: Vec<&str> = segments.collect();
    if !(rest.is_empty() || rest.starts_with(&["info", "lfs"])) {
        return None;
    }
    let repo = match repo.len().checked_sub(4) {
        Some(cut) if repo.is_char_boundary(cut) && repo[cut..].eq_ignore_ascii_case(".git") => &repo[..cut],
        _ => repo,
    };
    let valid = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    if !valid(owner) || !valid(repo) {
        return None;
    }
    Some(RepoRef { owner: owner.to_ascii_lowercase(), repo: repo.to_ascii_lowercase() })
}

/// One `repos` entry: `OWNER/REPO` where `*` matches any run of characters
/// within its segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    text: String,
    owner: String,
    repo: String,
}

/// How specific a matching pattern is; higher wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Specificity {
    WildcardOwner = 0,
    WildcardRepo = 1,
    Exact = 2,
}

impl Pattern {
    /// `None` when `text` is not `OWNER/REPO` with letters, digits, `-`, `_`,
    /// `.` and `*` in each part.
    pub(crate) fn parse(text: &str) -> Option<Pattern> {
        let (owner, repo) = text.split_once('/')?;
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '*'))
        };
        if !valid(owner) || !valid(repo) {
            return None;
        }
        Some(Pattern {
            text: text.to_string(),
            owner: owner.to_ascii_lowercase(),
            repo: repo.to_ascii_lowercase(),
        })
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    pub(crate) fn specificity(&self) -> Specificity {
        if self.owner.contains('*') {
            Specificity::WildcardOwner
        } else if self.repo.contains('*') {
            Specificity::WildcardRepo
        } else {
            Specificity::Exact
        }
    }

    pub(crate) fn matches(&self, repo: &RepoRef) -> bool {
        glob_match(&self.owner, &repo.owner) && glob_match(&self.repo, &repo.repo)
    }

    /// The owner, when the pattern names one (no `*` in it), lower-cased.
    pub(crate) fn fixed_owner(&self) -> Option<&str> {
        (!self.owner.contains('*')).then_some(self.owner.as_str())
    }

    /// Whether the owner part matches `login` (lower-case), for `doctor`.
    pub(crate) fn owner_matches(&self, login: &str) -> bool {
        glob_match(&self.owner, login)
    }
}

/// `*`-only glob over one segment (no `/` can occur on either side).
fn glob_match(pattern: &str, text: &str) -> bool {
    let Some((head, rest)) = pattern.split_once('*') else {
        return pattern == text;
    };
    let Some(mut text) = text.strip_prefix(head) else {
        return false;
    };
    let mut parts: Vec<&str> = rest.split('*').collect();
    let tail = parts.pop().unwrap_or("");
    for part in parts {
        match text.find(part) {
            Some(i) => text = &text[i + part.len()..],
            None => return false,
        }
    }
    text.len() >= tail.len() && text.ends_with(tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_lower_cased_and_lose_the_default_port() {
        assert_eq!(normalise_host("GitHub.COM:443"), "github.com");
        assert_eq!(normalise_host("ghe.example:8443"), "ghe.example:8443");
    }

    #[test]
    fn paths_lose_slashes_and_the_git_suffix_and_are_lower_cased() {
        let want = Some(RepoRef { owner: "acme".into(), repo: "web".into() });
        assert_eq!(parse_repo_path("acme/web.git"), want);
        assert_eq!(parse_repo_path("/Acme/Web/"), want);
        assert_eq!(parse_repo_path("acme/web"), want);
        assert_eq!(parse_repo_path("acme"), None);
        assert_eq!(parse_repo_path("acme/web/extra"), None);
        assert_eq!(parse_repo_path("Acme/Web.GIT"), want);
        assert_eq!(parse_repo_path("acme/web.git/info/lfs"), want);
        assert_eq!(parse_repo_path("acme/web/info/lfs/objects/batch"), want);
        assert_eq!(parse_repo_path("acme/x?a=1"), None);
        assert_eq!(parse_repo_path("acme/.."), None);
        assert_eq!(parse_repo_path("acme/.git"), None);
        assert_eq!(parse_repo_path("ac me/web"), None);
        assert_eq!(parse_repo_path("/web.git"), None);
    }

    #[test]
    fn a_star_matches_within_one_segment() {
        assert!(glob_match("*", "anything"));
        assert!(glob_match("web-*", "web-frontend"));
        assert!(glob_match("*-svc", "billing-svc"));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXbYY"));
        assert!(!glob_match("web-*", "api"));
        assert!(glob_match("ab*ab", "abab"));
        assert!(!glob_match("ab*ab", "aba"));
    }

    #[test]
    fn glob_matches_any_run() {
        assert!(glob_match("a*e", "acme"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("a*x", "acme"));
    }

    #[test]
    fn patterns_must_be_owner_slash_repo() {
        assert!(Pattern::parse("acme/*").is_some());
        assert!(Pattern::parse("acme").is_none());
        assert!(Pattern::parse("acme/web/x").is_none());
        assert!(Pattern::parse("/web").is_none());
        assert!(Pattern::parse("acme/we b").is_none());
    }
}
